//! Drain stories on the core fakes with a fake clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Context, LambdaEvent};
use smartscale_core::config::MapConfig;
use smartscale_core::emf::Metric;
use smartscale_core::fakes::{ClusterCall, FakeClock, FleetCall};
use smartscale_core::messages::{DrainCheck, DrainRequest, QueueName, WorkMessage};
use smartscale_core::notification::{FailureType, NotificationEvent};
use smartscale_core::ports::{
    Clock, InstanceState, Lifecycle, Node, OwnerRef, Pdb, Pod, PodPhase, Resources, StateStore,
};
use smartscale_core::state::LockOutcome;
use smartscale_drain_worker::{handle, DrainConfig};
use smartscale_lambda::{sqs_event, FakeWorkerDeps};

type TestDeps = FakeWorkerDeps<DrainConfig>;

const TOKEN: &str = "dec-9";

fn t0() -> DateTime<Utc> {
    "2026-11-23T03:00:00Z".parse().unwrap()
}

struct World {
    deps: TestDeps,
    /// node name → instance id
    nodes: BTreeMap<String, String>,
}

impl World {
    /// Three managed nodes (two in us-east-1a, one in us-east-1b), one replica of "api" on
    /// each with a 25 s termination grace period, and the lock held by TOKEN.
    async fn new() -> World {
        let clock = FakeClock::new(t0() - Duration::hours(2));
        let config = DrainConfig::from_config(&MapConfig::new().with("CLUSTER_ID", "prod")).unwrap();
        let deps = FakeWorkerDeps::fakes(config, "prod", clock);
        let mut nodes = BTreeMap::new();
        for (i, az) in ["us-east-1a", "us-east-1a", "us-east-1b"].iter().enumerate() {
            let instance = deps.fleet.add_running("t3.small", az, Lifecycle::OnDemand);
            let name = format!("ip-10-0-{i}-1");
            deps.cluster.add_node(Node {
                name: name.clone(),
                zone: Some(az.to_string()),
                provider_id: Some(format!("aws:///{az}/{}", instance.instance_id)),
                ready: true,
                allocatable: Resources { cpu_millis: 1900, memory_bytes: 1600 << 20 },
                created_at: Some(t0() - Duration::hours(10 - i as i64)),
                ..Default::default()
            });
            deps.cluster.add_pod(Pod {
                namespace: "shop".into(),
                name: format!("api-{i}"),
                node: Some(name.clone()),
                labels: BTreeMap::from([("app".to_string(), "api".to_string())]),
                owner: Some(OwnerRef { kind: "ReplicaSet".into(), name: "api-7f".into() }),
                requests: Resources { cpu_millis: 200, memory_bytes: 256 << 20 },
                phase: PodPhase::Running,
                ready: true,
                termination_grace_s: Some(25),
                ..Default::default()
            });
            nodes.insert(name, instance.instance_id);
        }
        deps.clock.set(t0());
        assert!(matches!(
            deps.state.try_acquire_lock("prod", TOKEN, t0(), 300).await.unwrap(),
            LockOutcome::Acquired { .. }
        ));
        World { deps, nodes }
    }

    fn request(&self, node: Option<&str>, deadline: Option<DateTime<Utc>>) -> String {
        WorkMessage::DrainRequest(DrainRequest {
            decision_id: TOKEN.into(),
            cluster_id: "prod".into(),
            lock_token: Some(TOKEN.into()),
            node: node.map(str::to_string),
            reason: "cpu 12.0% < 30% for 10m30s".into(),
            requested_at: t0(),
            deadline,
            spot_reclaim: false,
        })
        .encode()
    }

    /// A PDB on the app with no disruption left: every eviction answers 429.
    fn block_evictions(&self) {
        self.deps.cluster.add_pdb(Pdb {
            namespace: "shop".into(),
            name: "api".into(),
            match_labels: BTreeMap::from([("app".to_string(), "api".to_string())]),
            disruptions_allowed: 0,
        });
    }

    async fn deliver(&self, bodies: Vec<String>) {
        assert_eq!(self.deliver_failing(bodies).await, 0);
    }

    /// Delivers and returns how many messages failed (SQS retries, then dead-letters them).
    async fn deliver_failing(&self, bodies: Vec<String>) -> usize {
        handle(sqs_event(bodies), &self.deps).await.unwrap().batch_item_failures.len()
    }

    /// Asserts the worker refused a message and touched nothing in the cluster or the fleet.
    fn assert_refused_untouched(&self) {
        let fleet = self.deps.fleet.calls.calls();
        assert!(!fleet.iter().any(|c| matches!(c, FleetCall::Terminate(_))), "{fleet:?}");
        let cluster = self.deps.cluster.calls.calls();
        assert!(
            !cluster.iter().any(|c| matches!(
                c,
                ClusterCall::Cordon { .. }
                    | ClusterCall::Uncordon { .. }
                    | ClusterCall::Evict { .. }
                    | ClusterCall::DeleteNode { .. }
            )),
            "{cluster:?}"
        );
        let rejected = self.deps.sink.count_with(Metric::ScalingFailures, "ErrorType", "RejectedMessage");
        assert!(rejected >= 1, "a ScalingFailures{{ErrorType=RejectedMessage}} metric");
    }

    fn check(&self, node: &str, instance_id: Option<&str>, attempt: u32) -> String {
        WorkMessage::DrainCheck(DrainCheck {
            decision_id: TOKEN.into(),
            cluster_id: "prod".into(),
            lock_token: Some(TOKEN.into()),
            node: node.into(),
            instance_id: instance_id.map(str::to_string),
            reason: "forged".into(),
            started_at: t0(),
            deadline: t0() + Duration::minutes(5),
            attempt,
            spot_reclaim: false,
        })
        .encode()
    }

    /// The control-plane node K3s registers for the server, with no instance SmartScale manages.
    fn add_master(&self) {
        self.deps.cluster.add_node(Node {
            name: "k3s-master".into(),
            provider_id: Some("aws:///us-east-1a/i-0master0000000000".into()),
            ready: true,
            labels: BTreeMap::from([
                ("node-role.kubernetes.io/control-plane".to_string(), "true".to_string()),
                ("node-role.kubernetes.io/master".to_string(), "true".to_string()),
            ]),
            ..Default::default()
        });
    }

    /// Advances the clock and delivers the drain checks that became visible; returns how many.
    async fn tick(&self, seconds: i64) -> usize {
        self.deps.clock.advance(seconds);
        let due: Vec<String> = self.deps.queue.take_visible(QueueName::Drain).into_iter().map(|m| m.body).collect();
        let n = due.len();
        if n > 0 {
            self.deliver(due).await;
        }
        n
    }

    fn terminated(&self) -> Vec<String> {
        self.deps
            .fleet
            .calls
            .calls()
            .into_iter()
            .filter_map(|c| if let FleetCall::Terminate(ids) = c { Some(ids) } else { None })
            .flatten()
            .collect()
    }
}

#[tokio::test]
async fn drain_succeeds_after_two_rechecks() {
    let world = World::new().await;
    world.deliver(vec![world.request(None, None)]).await;

    // The oldest node in the fuller AZ, with the fewest pods, is chosen and cordoned.
    let chosen = "ip-10-0-0-1";
    assert!(world.deps.cluster.node(chosen).unwrap().unschedulable);
    let calls = world.deps.cluster.calls.calls();
    assert!(calls.contains(&ClusterCall::Evict { namespace: "shop".into(), pod: "api-0".into() }));
    assert!(!calls.iter().any(|c| matches!(c, ClusterCall::Evict { pod, .. } if pod != "api-0")));

    assert_eq!(world.tick(10).await, 1, "check 1: the pod is still terminating");
    assert!(world.terminated().is_empty(), "no instance is terminated with pods still evicting");
    assert_eq!(world.tick(10).await, 1, "check 2: still terminating");
    assert!(world.terminated().is_empty());
    assert_eq!(world.tick(10).await, 1, "check 3: empty");

    assert_eq!(world.terminated(), vec![world.nodes[chosen].clone()]);
    assert!(world.deps.cluster.node(chosen).is_none(), "the Node object is deleted");
    let item = world.deps.state.item("prod").unwrap();
    assert!(!item.scaling_in_progress, "the lock is released");
    assert_eq!(item.node_count, 2);
    assert_eq!(item.last_scale_time, Some(t0() + Duration::seconds(30)));
    let published = world.deps.notifier.published();
    let NotificationEvent::ScaleDownCompleted { node, instance_id, reason, new_total, .. } = &published[0].event else {
        panic!("{published:?}")
    };
    assert_eq!((node.as_str(), instance_id.as_str(), *new_total), (chosen, world.nodes[chosen].as_str(), 2));
    assert!(reason.contains("cpu 12.0%"));
    assert_eq!(world.deps.sink.total(Metric::ScaleDownEvents), 1.0);
    assert!(world.deps.queue.queued().is_empty());
    // The savings ledger records the removal, at minus its price.
    let ledger = world.deps.state.cost_ledger("prod", t0(), t0() + Duration::hours(1)).await.unwrap();
    assert_eq!(ledger.changes.len(), 1, "{:?}", ledger.changes);
    assert_eq!(ledger.changes[0].kind, smartscale_core::cost_ledger::CostChangeKind::Termination);
    assert_eq!(ledger.changes[0].instance_id, world.nodes[chosen]);
    assert!(ledger.changes[0].usd_per_hour.is_some_and(|p| p < 0.0));
}

#[tokio::test]
async fn a_pdb_blocks_until_the_deadline_then_the_node_is_uncordoned_and_the_failure_notified() {
    let world = World::new().await;
    world.block_evictions();
    let node = "ip-10-0-1-1";
    world.deliver(vec![world.request(Some(node), None)]).await;
    assert!(world.deps.cluster.node(node).unwrap().unschedulable);
    let mut checks = 0;
    while world.tick(10).await > 0 {
        checks += 1;
        assert!(checks < 100, "the drain never ended");
    }
    assert_eq!(checks, 30, "a check every 10 s for the 5-minute deadline");
    assert!(!world.deps.cluster.node(node).unwrap().unschedulable, "uncordoned");
    assert!(world.terminated().is_empty(), "nothing terminated");
    assert!(world.deps.cluster.pods().iter().any(|p| p.name == "api-1" && !p.terminating), "the pod stayed");
    assert!(!world.deps.state.item("prod").unwrap().scaling_in_progress);
    let published = world.deps.notifier.published();
    let NotificationEvent::ScalingFailure { error_type, message, .. } = &published[0].event else { panic!() };
    assert_eq!(*error_type, FailureType::DrainTimeout);
    assert!(message.contains("shop/api-1"), "{message}");
    let evictions = world.deps.cluster.calls.calls().iter().filter(|c| matches!(c, ClusterCall::Evict { .. })).count();
    assert_eq!(evictions, 30, "a blocked eviction is retried on each check");
}

#[tokio::test]
async fn a_spot_deadline_of_90_seconds_is_honoured() {
    let world = World::new().await;
    world.block_evictions();
    world.deliver(vec![world.request(Some("ip-10-0-2-1"), Some(t0() + Duration::seconds(90)))]).await;
    let mut elapsed = 0;
    while world.tick(10).await > 0 {
        elapsed += 10;
    }
    assert_eq!(elapsed, 90);
    assert_eq!(world.deps.notifier.kinds(), vec!["scaling_failure"]);
}

#[tokio::test]
async fn when_no_node_can_go_the_lock_is_released_and_the_reason_given() {
    let world = World::new().await;
    world.block_evictions();
    world.deliver(vec![world.request(None, None)]).await;
    assert!(!world.deps.state.item("prod").unwrap().scaling_in_progress);
    assert!(world.deps.queue.queued().is_empty());
    let published = world.deps.notifier.published();
    let NotificationEvent::NoRemovableNode { reasons, look_again_at } = &published[0].event else { panic!() };
    assert!(reasons.iter().any(|r| r.contains("Pdb")), "{reasons:?}");
    assert_eq!(*look_again_at, t0() + Duration::hours(1));
    assert!(
        world.deps.cluster.calls.calls().iter().all(|c| !matches!(c, ClusterCall::Cordon { .. })),
        "nothing cordoned"
    );
    // Remembered for the decider, and told once a day: a second request says nothing new.
    let item = world.deps.state.item("prod").unwrap();
    let episode = item.episode(smartscale_core::state::EpisodeKind::NoRemovableNode).unwrap();
    assert_eq!((episode.look_again_at, episode.node_count), (Some(t0() + Duration::hours(1)), Some(3)));
    world.deps.state.try_acquire_lock("prod", "dec-11", t0(), 300).await.unwrap();
    world.deliver(vec![world.request(None, None).replace(TOKEN, "dec-11")]).await;
    assert!(!world.deps.state.item("prod").unwrap().scaling_in_progress);
    assert_eq!(world.deps.notifier.published().len(), 1, "one message per episode");
}

#[tokio::test]
async fn an_unmanaged_node_is_refused() {
    let world = World::new().await;
    world.deps.cluster.add_node(Node { name: "byo-node".into(), ready: true, ..Default::default() });
    assert_eq!(world.deliver_failing(vec![world.request(Some("byo-node"), None)]).await, 1);
    assert!(!world.deps.cluster.node("byo-node").unwrap().unschedulable);
    world.assert_refused_untouched();
}

#[tokio::test]
async fn a_forged_check_naming_the_master_and_another_nodes_instance_touches_nothing() {
    let world = World::new().await;
    world.add_master();
    let victim = world.nodes["ip-10-0-1-1"].clone();
    assert_eq!(world.deliver_failing(vec![world.check("k3s-master", Some(&victim), 1)]).await, 1);
    world.assert_refused_untouched();
    assert!(world.deps.cluster.node("k3s-master").is_some());
    assert_eq!(world.deps.fleet.instance(&victim).unwrap().state, InstanceState::Running);
    assert!(world.deps.notifier.kinds().is_empty(), "no 'scale-down completed'");
    // Nor may a request name it.
    assert_eq!(world.deliver_failing(vec![world.request(Some("k3s-master"), None)]).await, 1);
    world.assert_refused_untouched();
}

#[tokio::test]
async fn a_check_for_a_node_that_does_not_exist_terminates_nothing() {
    let world = World::new().await;
    let victim = world.nodes["ip-10-0-1-1"].clone();
    assert_eq!(world.deliver_failing(vec![world.check("no-such-node", Some(&victim), 1)]).await, 1);
    world.assert_refused_untouched();
    assert_eq!(world.deps.fleet.instance(&victim).unwrap().state, InstanceState::Running);
}

#[tokio::test]
async fn a_check_for_a_node_this_drain_did_not_cordon_or_with_another_instance_is_refused() {
    let world = World::new().await;
    // Not cordoned at all: a node in service.
    let node = "ip-10-0-1-1";
    assert_eq!(world.deliver_failing(vec![world.check(node, None, 1)]).await, 1);
    world.assert_refused_untouched();
    // Cordoned by this drain, but the message names another node's instance.
    world.deliver(vec![world.request(Some(node), None)]).await;
    let other = world.nodes["ip-10-0-2-1"].clone();
    let before = world.deps.fleet.calls.calls().len();
    assert_eq!(world.deliver_failing(vec![world.check(node, Some(&other), 2)]).await, 1);
    assert!(!world.deps.fleet.calls.calls()[before..].iter().any(|c| matches!(c, FleetCall::Terminate(_))));
    assert_eq!(world.deps.fleet.instance(&other).unwrap().state, InstanceState::Running);
}

#[tokio::test]
async fn a_message_for_another_cluster_is_refused() {
    let world = World::new().await;
    let body = world.request(Some("ip-10-0-1-1"), None).replace(r#""cluster_id":"prod""#, r#""cluster_id":"staging""#);
    assert_eq!(world.deliver_failing(vec![body]).await, 1);
    world.assert_refused_untouched();
}

#[tokio::test]
async fn a_request_past_its_deadline_is_dropped_not_started() {
    let world = World::new().await;
    world.deliver(vec![world.request(Some("ip-10-0-1-1"), Some(t0() - Duration::seconds(1)))]).await;
    assert!(!world.deps.cluster.calls.calls().iter().any(|c| matches!(c, ClusterCall::Cordon { .. })));
    assert!(world.deps.queue.queued().is_empty());
    assert!(!world.deps.state.item("prod").unwrap().scaling_in_progress, "its lock is released");
}

#[tokio::test]
async fn an_attempt_at_u32_max_is_a_clear_error_not_a_panic() {
    let world = World::new().await;
    world.deliver(vec![world.request(Some("ip-10-0-1-1"), None)]).await;
    let instance = world.nodes["ip-10-0-1-1"].clone();
    assert_eq!(world.deliver_failing(vec![world.check("ip-10-0-1-1", Some(&instance), u32::MAX)]).await, 1);
}

#[tokio::test]
async fn a_spot_drain_at_its_deadline_leaves_the_node_cordoned_for_the_reclaim() {
    let world = World::new().await;
    world.block_evictions();
    let node = "ip-10-0-2-1";
    let body = world
        .request(Some(node), Some(t0() + Duration::seconds(90)))
        .replace(r#""spot_reclaim":false"#, r#""spot_reclaim":true"#);
    world.deliver(vec![body]).await;
    while world.tick(10).await > 0 {}
    assert!(world.deps.cluster.node(node).unwrap().unschedulable, "still cordoned");
    assert!(!world.deps.cluster.calls.calls().iter().any(|c| matches!(c, ClusterCall::Uncordon { .. })));
    assert_eq!(world.deps.notifier.kinds(), vec!["scaling_failure"]);
}

#[tokio::test]
async fn the_on_demand_floor_holds_while_spot_nodes_run() {
    let world = World::new().await;
    // Three On-Demand nodes (the floor is MIN_NODES = 2) plus one Spot node with more pods.
    let spot = world.deps.fleet.add_running("t3.small", "us-east-1b", Lifecycle::Spot);
    let name = "ip-10-0-3-1".to_string();
    world.deps.cluster.add_node(Node {
        name: name.clone(),
        zone: Some("us-east-1b".into()),
        provider_id: Some(format!("aws:///us-east-1b/{}", spot.instance_id)),
        ready: true,
        allocatable: Resources { cpu_millis: 1900, memory_bytes: 1600 << 20 },
        created_at: Some(t0() - Duration::hours(20)),
        ..Default::default()
    });
    // Two replicas of "web" on the Spot node, a third on an On-Demand one.
    for (i, on) in [(0, name.as_str()), (1, name.as_str()), (2, "ip-10-0-2-1")] {
        world.deps.cluster.add_pod(Pod {
            namespace: "shop".into(),
            name: format!("web-{i}"),
            node: Some(on.to_string()),
            labels: BTreeMap::from([("app".to_string(), "web".to_string())]),
            owner: Some(OwnerRef { kind: "ReplicaSet".into(), name: "web-5c".into() }),
            requests: Resources { cpu_millis: 100, memory_bytes: 64 << 20 },
            phase: PodPhase::Running,
            ready: true,
            termination_grace_s: Some(5),
            ..Default::default()
        });
    }
    // With four nodes, the first drain may take an On-Demand one (3 → 2 keeps the floor) ...
    world.deliver(vec![world.request(None, None)]).await;
    while world.tick(10).await > 0 {}
    let gone = world.terminated();
    assert_eq!(gone.len(), 1);
    assert_ne!(gone[0], spot.instance_id);
    // ... but the next must take the Spot node, not a floor node.
    world.deps.state.try_acquire_lock("prod", "dec-10", world.deps.clock.now(), 300).await.unwrap();
    let second = world.request(None, None).replace(TOKEN, "dec-10");
    world.deliver(vec![second]).await;
    while world.tick(10).await > 0 {}
    assert_eq!(world.terminated().get(1), Some(&spot.instance_id), "{:?}", world.deps.notifier.published());
    let on_demand = world
        .deps
        .fleet
        .instances()
        .iter()
        .filter(|i| i.state.is_active() && i.lifecycle == Lifecycle::OnDemand)
        .count();
    assert_eq!(on_demand, 2);
}

#[tokio::test]
async fn redelivered_requests_and_checks_are_harmless() {
    let world = World::new().await;
    let request = world.request(None, None);
    world.deliver(vec![request.clone()]).await;
    world.deliver(vec![request]).await;
    // Two chains of checks now run for the same node; both finish cleanly.
    for _ in 0..5 {
        world.tick(10).await;
    }
    assert_eq!(world.deps.fleet.instance(&world.nodes["ip-10-0-0-1"]).unwrap().state, InstanceState::Terminated);
    let active = world.deps.fleet.instances().iter().filter(|i| i.state.is_active()).count();
    assert_eq!(active, 2, "exactly one node removed");
    assert_eq!(world.deps.state.item("prod").unwrap().node_count, 2);
    assert!(!world.deps.state.item("prod").unwrap().scaling_in_progress);
    assert_eq!(world.deps.notifier.kinds(), vec!["scale_down_completed"], "announced once");
    assert_eq!(world.deps.sink.total(Metric::ScaleDownEvents), 1.0, "counted once");

    // The request redelivered after the drain finished: its lock is gone, so nothing happens.
    world.deliver(vec![world.request(None, None)]).await;
    assert!(world.deps.queue.queued().is_empty());
    assert_eq!(world.deps.fleet.instances().iter().filter(|i| i.state.is_active()).count(), 2);
}

#[tokio::test]
async fn the_recorded_event_parses_and_runs() {
    let world = World::new().await;
    // The recorded request carries its own decision's lock token.
    world.deps.state.release_lock("prod", TOKEN, &Default::default()).await.unwrap();
    let recorded = "dec-5f1e2a90-1b2c-4d3e-8f40-7a6b5c4d3e2f";
    assert!(matches!(
        world.deps.state.try_acquire_lock("prod", recorded, t0(), 300).await.unwrap(),
        LockOutcome::Acquired { .. }
    ));
    let text =
        std::fs::read_to_string(format!("{}/../../events/sqs-drain-request.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let response =
        handle(LambdaEvent::new(serde_json::from_str(&text).unwrap(), Context::default()), &world.deps).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(world.deps.queue.queued().len(), 1);
}

#[tokio::test]
async fn a_drain_gives_way_to_a_scale_up_the_decider_asked_for() {
    let world = World::new().await;
    world.block_evictions();
    let node = "ip-10-0-1-1";
    world.deliver(vec![world.request(Some(node), None)]).await;
    world.tick(10).await;
    assert!(world.deps.cluster.node(node).unwrap().unschedulable, "draining");
    // The decider wants capacity while this drain holds the lock.
    let item = world.deps.state.item("prod").unwrap();
    let waiting = smartscale_core::state::Episode {
        kind: smartscale_core::state::EpisodeKind::ScaleUpWaiting,
        since: world.deps.clock.now(),
        notified: false,
        look_again_at: None,
        node_count: Some(3),
        detail: Some("dec-up".into()),
    };
    world
        .deps
        .state
        .update(
            "prod",
            &smartscale_core::state::StateUpdate {
                episodes: Some(item.episodes_with(waiting.kind, Some(waiting))),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    world.tick(10).await;
    assert!(!world.deps.cluster.node(node).unwrap().unschedulable, "uncordoned at the next check");
    let item = world.deps.state.item("prod").unwrap();
    assert!(!item.scaling_in_progress, "the lock is free for the scale-up");
    assert!(item.episodes.is_empty());
    assert!(world.terminated().is_empty());
    assert_eq!(world.tick(10).await, 0, "the drain has ended");
}

#[tokio::test]
async fn the_node_of_an_instance_that_is_gone_is_deleted_by_the_next_run() {
    let world = World::new().await;
    let gone = world.nodes["ip-10-0-2-1"].clone();
    world.deps.fleet.set_state(&gone, InstanceState::Terminated);
    world.deliver(vec![world.request(Some("ip-10-0-1-1"), None)]).await;
    assert!(world.deps.cluster.node("ip-10-0-2-1").is_none(), "deleted");
    assert!(world.deps.cluster.node("ip-10-0-1-1").is_some());
}

#[tokio::test]
async fn an_adopted_stock_k3s_node_is_drained_through_its_instance_label() {
    let world = World::new().await;
    // Stock K3s: providerID k3s://<hostname>; scripts/adopt labels the node with its instance.
    let instance = world.deps.fleet.add_running("t3.small", "us-east-1b", Lifecycle::OnDemand);
    world.deps.cluster.add_node(Node {
        name: "adopted-1".into(),
        zone: Some("us-east-1b".into()),
        provider_id: Some("k3s://adopted-1".into()),
        labels: BTreeMap::from([("smartscale.io/instance-id".to_string(), instance.instance_id.clone())]),
        ready: true,
        allocatable: Resources { cpu_millis: 1900, memory_bytes: 1600 << 20 },
        ..Default::default()
    });
    world.deliver(vec![world.request(Some("adopted-1"), None)]).await;
    while world.tick(10).await > 0 {}
    assert_eq!(world.terminated(), vec![instance.instance_id.clone()]);
    assert!(world.deps.cluster.node("adopted-1").is_none());
    // Without the label it is refused, as any node whose instance cannot be verified.
    world.deps.cluster.add_node(Node {
        name: "unlabelled".into(),
        provider_id: Some("k3s://unlabelled".into()),
        ready: true,
        ..Default::default()
    });
    world.deps.state.try_acquire_lock("prod", "dec-12", world.deps.clock.now(), 300).await.unwrap();
    let request = world.request(Some("unlabelled"), None).replace(TOKEN, "dec-12");
    assert_eq!(world.deliver_failing(vec![request]).await, 1);
}

#[tokio::test]
async fn a_spot_drain_taking_over_the_node_ends_the_ordinary_drain_quietly() {
    let world = World::new().await;
    world.block_evictions();
    let node = "ip-10-0-1-1";
    world.deliver(vec![world.request(Some(node), None)]).await;
    // The Spot warning comes: the spot handler cordons the node for its own drain.
    use smartscale_core::ports::Cluster;
    world.deps.cluster.cordon(node, "spot-ev-7").await.unwrap();
    let before = world.deps.sink.count_with(Metric::ScalingFailures, "ErrorType", "RejectedMessage");
    assert_eq!(world.tick(10).await, 1);
    assert!(world.deps.queue.queued().is_empty(), "the ordinary drain's chain ends");
    assert!(!world.deps.state.item("prod").unwrap().scaling_in_progress, "its lock is released");
    assert!(world.deps.cluster.node(node).unwrap().unschedulable, "still cordoned, for the Spot drain");
    let after = world.deps.sink.count_with(Metric::ScalingFailures, "ErrorType", "RejectedMessage");
    assert_eq!(after, before, "not a refusal");
}

#[tokio::test]
async fn a_drain_check_delivered_twice_after_a_timeout_is_dropped_not_refused() {
    let world = World::new().await;
    world.block_evictions();
    world.deliver(vec![world.request(Some("ip-10-0-1-1"), None)]).await;
    let mut last = Vec::new();
    loop {
        world.deps.clock.advance(10);
        let due: Vec<String> = world.deps.queue.take_visible(QueueName::Drain).into_iter().map(|m| m.body).collect();
        if due.is_empty() {
            break;
        }
        world.deliver(due.clone()).await;
        last = due;
    }
    // The check that abandoned the drain (and uncordoned) comes again: dropped, not refused.
    assert_eq!(world.deliver_failing(last).await, 0);
}
