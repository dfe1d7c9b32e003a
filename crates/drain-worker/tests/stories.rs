//! Drain stories on the core fakes with a fake clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Context, LambdaEvent};
use smartscale_core::config::MapConfig;
use smartscale_core::emf::Metric;
use smartscale_core::fakes::{ClusterCall, FakeClock, FleetCall};
use smartscale_core::messages::{DrainRequest, QueueName, WorkMessage};
use smartscale_core::notification::{FailureType, NotificationEvent};
use smartscale_core::ports::{InstanceState, Lifecycle, Node, OwnerRef, Pdb, Pod, PodPhase, Resources, StateStore};
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
        let response = handle(sqs_event(bodies), &self.deps).await.unwrap();
        assert!(response.batch_item_failures.is_empty());
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
    let NotificationEvent::ScalingFailure { error_type, message, .. } = &published[0].event else { panic!() };
    assert_eq!(*error_type, FailureType::DrainFailed);
    assert!(message.contains("Pdb"), "{message}");
    assert!(
        world.deps.cluster.calls.calls().iter().all(|c| !matches!(c, ClusterCall::SetUnschedulable { .. })),
        "nothing cordoned"
    );
}

#[tokio::test]
async fn an_unmanaged_node_is_refused() {
    let world = World::new().await;
    world.deps.cluster.add_node(Node { name: "byo-node".into(), ready: true, ..Default::default() });
    world.deliver(vec![world.request(Some("byo-node"), None)]).await;
    assert!(!world.deps.cluster.node("byo-node").unwrap().unschedulable);
    assert_eq!(world.deps.notifier.kinds(), vec!["scaling_failure"]);
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
