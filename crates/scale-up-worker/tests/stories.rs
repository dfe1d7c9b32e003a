//! Scale-up stories on the core fakes with a fake clock: launch, join checks, completion,
//! timeouts, capacity fallbacks, quotas and redelivery.

use chrono::{DateTime, Utc};
use lambda_runtime::{Context, LambdaEvent};
use smartscale_core::config::MapConfig;
use smartscale_core::emf::Metric;
use smartscale_core::fakes::{FakeClock, FleetCall, QueuedMessage};
use smartscale_core::messages::{QueueName, ScaleUpRequest, WorkMessage};
use smartscale_core::notification::{FailureType, NotificationEvent};
use smartscale_core::ports::{Clock, InstanceState, Lifecycle, Node, StateStore};
use smartscale_core::state::LockOutcome;
use smartscale_lambda::{sqs_event, FakeWorkerDeps};
use smartscale_scale_up_worker::{handle, ScaleUpConfig};

type TestDeps = FakeWorkerDeps<ScaleUpConfig>;

const TOKEN: &str = "dec-1";

fn t0() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

struct World {
    deps: TestDeps,
}

impl World {
    /// Two On-Demand nodes (the floor), Ready, in us-east-1a and us-east-1b; the lock held by TOKEN.
    async fn new(extra_config: &[(&str, &str)]) -> World {
        let clock = FakeClock::new(t0() - chrono::Duration::hours(1));
        let mut config = MapConfig::new()
            .with("CLUSTER_ID", "prod")
            .with("SUBNETS", "subnet-a:us-east-1a,subnet-b:us-east-1b,subnet-c:us-east-1c");
        for (k, v) in extra_config {
            config = config.with(k, v);
        }
        let world = World { deps: FakeWorkerDeps::fakes(ScaleUpConfig::from_config(&config).unwrap(), "prod", clock) };
        for az in ["us-east-1a", "us-east-1b"] {
            let instance = world.deps.fleet.add_running("t3.small", az, Lifecycle::OnDemand);
            world.join(&instance.instance_id, true);
        }
        world.deps.clock.set(t0());
        let taken = world.deps.state.try_acquire_lock("prod", TOKEN, t0(), 300).await.unwrap();
        assert!(matches!(taken, LockOutcome::Acquired { .. }));
        world
    }

    /// The instance registers as a node (Ready or not), as K3s would.
    fn join(&self, instance_id: &str, ready: bool) {
        let instance = self.deps.fleet.instance(instance_id).unwrap();
        let name = instance.private_dns_name.clone().unwrap();
        match self.deps.cluster.node(&name) {
            Some(_) => self.deps.cluster.set_node_ready(&name, ready),
            None => self.deps.cluster.add_node(Node {
                name,
                zone: Some(instance.availability_zone.clone()),
                provider_id: Some(format!("aws:///{}/{}", instance.availability_zone, instance.instance_id)),
                ready,
                ..Default::default()
            }),
        }
    }

    fn request(&self, decision_id: &str, count: u32) -> WorkMessage {
        WorkMessage::ScaleUpRequest(ScaleUpRequest {
            decision_id: decision_id.into(),
            cluster_id: "prod".into(),
            // The decider's token is its decision id.
            lock_token: Some(decision_id.into()),
            count,
            reason: "cpu 85.0% > 70% for 4m00s".into(),
            requested_at: t0(),
            avoid: vec![],
            replaces: None,
        })
    }

    /// Frees whatever lock is held and takes it for `decision_id`, as the decider would.
    async fn lock_for(&self, decision_id: &str) {
        if let Some(owner) = self.deps.state.item("prod").and_then(|i| i.lock_owner) {
            self.deps.state.release_lock("prod", &owner, &Default::default()).await.unwrap();
        }
        let taken = self.deps.state.try_acquire_lock("prod", decision_id, self.deps.clock.now(), 300).await.unwrap();
        assert!(matches!(taken, LockOutcome::Acquired { .. }));
    }

    async fn deliver(&self, bodies: Vec<String>) -> Vec<String> {
        let response = handle(sqs_event(bodies), &self.deps).await.unwrap();
        response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
    }

    async fn send(&self, message: WorkMessage) {
        let failures = self.deliver(vec![message.encode()]).await;
        assert!(failures.is_empty(), "handler failed the message");
    }

    /// Advances the clock by `seconds`, then delivers whatever became visible on the scale-up queue.
    async fn tick(&self, seconds: i64) -> Vec<QueuedMessage> {
        self.deps.clock.advance(seconds);
        let due = self.deps.queue.take_visible(QueueName::ScaleUp);
        if !due.is_empty() {
            let failures = self.deliver(due.iter().map(|m| m.body.clone()).collect()).await;
            assert!(failures.is_empty());
        }
        due
    }

    fn launched(&self, decision_id: &str) -> Vec<smartscale_core::ports::Instance> {
        self.deps
            .fleet
            .instances()
            .into_iter()
            .filter(|i| i.tags.get("DecisionId").map(String::as_str) == Some(decision_id))
            .collect()
    }
}

#[tokio::test]
async fn full_story_launch_three_checks_ready_then_state_lock_and_notification() {
    let world = World::new(&[]).await;
    world.send(world.request(TOKEN, 2)).await;

    let launched = world.launched(TOKEN);
    assert_eq!(launched.len(), 2);
    let azs: Vec<&str> = launched.iter().map(|i| i.availability_zone.as_str()).collect();
    // The floor's On-Demand nodes are in 1a and 1b. The Spot node goes to the empty 1c; then every
    // AZ has one node, and the On-Demand one goes where no On-Demand node is, 1c again, so that
    // the floor is spread and the Spot node is never the last of its AZ.
    assert_eq!(azs, vec!["us-east-1c", "us-east-1c"], "fewest-first, then fewest On-Demand for an On-Demand node");
    assert_eq!(launched[0].lifecycle, Lifecycle::Spot, "above the On-Demand floor the first node is Spot");
    assert_eq!(launched[1].lifecycle, Lifecycle::OnDemand, "then the On-Demand share");
    assert_eq!(launched[0].tags["Lifecycle"], "spot");
    assert_eq!(launched[0].tags["ManagedBy"], "Lambda");
    let queued = world.deps.queue.queued();
    assert_eq!((queued.len(), queued[0].delay_s), (1, 15));

    // Check 1: nothing registered yet. Check 2: registered, not Ready. Check 3: Ready.
    assert_eq!(world.tick(15).await.len(), 1);
    for instance in &launched {
        world.join(&instance.instance_id, false);
    }
    assert_eq!(world.tick(15).await.len(), 1);
    assert!(world.deps.state.item("prod").unwrap().scaling_in_progress, "still working: the lock is held");
    for instance in &launched {
        world.join(&instance.instance_id, true);
    }
    let last = world.tick(15).await;
    let WorkMessage::JoinCheck(check) = last[0].message() else { panic!() };
    assert_eq!(check.attempt, 3);

    let item = world.deps.state.item("prod").unwrap();
    assert!(!item.scaling_in_progress, "the lock is released with its token");
    assert_eq!(item.node_count, 4);
    assert_eq!(item.last_scale_time, Some(world.deps.clock.now()));
    assert!(world.deps.queue.queued().is_empty(), "no more checks");
    let published = world.deps.notifier.published();
    let NotificationEvent::ScaleUpCompleted { instances, new_total, .. } = &published[0].event else {
        panic!("{published:?}")
    };
    assert_eq!((*new_total, instances.len()), (4, 2));
    assert_eq!(instances[0].availability_zone, "us-east-1c");
    let latency = world.deps.sink.batches().last().unwrap().value(Metric::NodeJoinLatency).unwrap();
    assert_eq!(latency, 45.0);
}

#[tokio::test]
async fn timeout_story_terminates_deletes_the_node_releases_and_alerts() {
    let world = World::new(&[]).await;
    world.send(world.request(TOKEN, 1)).await;
    let instance = world.launched(TOKEN).remove(0);
    world.tick(15).await;
    world.join(&instance.instance_id, false); // registers, never Ready
    for _ in 0..25 {
        world.tick(15).await;
    }
    assert_eq!(world.deps.fleet.instance(&instance.instance_id).unwrap().state, InstanceState::Terminated);
    assert!(
        world.deps.cluster.node(instance.private_dns_name.as_deref().unwrap()).is_none(),
        "the Node object is deleted"
    );
    let item = world.deps.state.item("prod").unwrap();
    assert!(!item.scaling_in_progress);
    assert_eq!(item.node_count, 2);
    let published = world.deps.notifier.published();
    assert!(
        matches!(&published[0].event, NotificationEvent::ScalingFailure { error_type: FailureType::NodeJoinTimeout, message, .. } if message.contains(&instance.instance_id)),
        "{published:?}"
    );
    assert!(world.deps.queue.queued().is_empty());
    assert!(world.deps.clock.now() >= t0() + chrono::Duration::seconds(300));
}

#[tokio::test]
async fn partly_successful_join_reports_both_outcomes() {
    let world = World::new(&[]).await;
    world.send(world.request(TOKEN, 2)).await;
    let launched = world.launched(TOKEN);
    world.join(&launched[0].instance_id, true);
    for _ in 0..21 {
        world.tick(15).await;
    }
    let kinds = world.deps.notifier.kinds();
    assert_eq!(kinds, vec!["scale_up_completed", "scaling_failure"]);
    assert_eq!(world.deps.state.item("prod").unwrap().node_count, 3);
}

#[tokio::test]
async fn a_redelivered_request_launches_nothing_twice() {
    let world = World::new(&[]).await;
    let request = world.request(TOKEN, 2).encode();
    world.deliver(vec![request.clone()]).await;
    world.deliver(vec![request]).await;
    assert_eq!(world.launched(TOKEN).len(), 2);
    let launches = world.deps.fleet.calls.calls().iter().filter(|c| matches!(c, FleetCall::Launch(_))).count();
    assert_eq!(launches, 2, "the redelivery skipped both slots: no launch call at all");
    // The savings ledger has each launch once, at its price, under its decision.
    let ledger = world.deps.state.cost_ledger("prod", t0(), t0() + chrono::Duration::hours(1)).await.unwrap();
    let mut ids: Vec<String> = ledger.changes.iter().map(|c| c.instance_id.clone()).collect();
    ids.sort();
    let mut launched: Vec<String> = world.launched(TOKEN).iter().map(|i| i.instance_id.clone()).collect();
    launched.sort();
    assert_eq!(ids, launched);
    assert!(ledger.changes.iter().all(|c| c.kind == smartscale_core::cost_ledger::CostChangeKind::Launch
        && c.usd_per_hour.is_some_and(|p| p > 0.0)
        && c.decision_id.as_deref() == Some(TOKEN)));
}

#[tokio::test]
async fn spot_shortage_tries_every_pool_then_falls_back_to_on_demand_and_says_so() {
    let world = World::new(&[]).await;
    for az in ["us-east-1a", "us-east-1b", "us-east-1c"] {
        for t in ["t3.small", "t3a.small"] {
            world.deps.fleet.make_unavailable(t, az, Lifecycle::Spot);
        }
    }
    world.send(world.request(TOKEN, 1)).await;
    let launched = world.launched(TOKEN);
    assert_eq!(launched.len(), 1);
    assert_eq!(launched[0].lifecycle, Lifecycle::OnDemand);
    let ledger = world.deps.state.cost_ledger("prod", t0(), t0() + chrono::Duration::hours(1)).await.unwrap();
    assert!(ledger.changes[0].spot_fallback, "the ledger remembers the fallback: {:?}", ledger.changes);
    let tries = world
        .deps
        .fleet
        .calls
        .calls()
        .iter()
        .filter(|c| matches!(c, FleetCall::Launch(r) if r.tags.get("DecisionId").map(String::as_str) == Some(TOKEN)))
        .count();
    assert_eq!(tries, 7, "six Spot pools, then On-Demand");
    let published = world.deps.notifier.published();
    let NotificationEvent::CapacityFallback { launched: what, reason, .. } = &published[0].event else {
        panic!("{published:?}")
    };
    assert!(what.starts_with("on-demand t3.small in us-east-1c"), "{what}");
    assert!(reason.contains("InsufficientInstanceCapacity"), "{reason}");
}

#[tokio::test]
async fn a_type_shortage_moves_to_the_next_type() {
    let world = World::new(&[]).await;
    world.deps.fleet.make_unavailable("t3.small", "us-east-1c", Lifecycle::Spot);
    world.send(world.request(TOKEN, 1)).await;
    let launched = world.launched(TOKEN);
    assert_eq!((launched[0].instance_type.as_str(), launched[0].lifecycle), ("t3a.small", Lifecycle::Spot));
    assert!(world.deps.notifier.published().is_empty(), "no fallback to announce");
}

#[tokio::test]
async fn quota_stops_releases_the_lock_and_recommends() {
    let world = World::new(&[]).await;
    world.deps.fleet.set_instance_limit(Some(2));
    let failures = world.deliver(vec![world.request(TOKEN, 2).encode()]).await;
    assert!(failures.is_empty(), "a quota error is final: retrying would not help");
    assert!(world.launched(TOKEN).is_empty());
    assert!(!world.deps.state.item("prod").unwrap().scaling_in_progress);
    let published = world.deps.notifier.published();
    let NotificationEvent::ScalingFailure { error_type, recommendation, .. } = &published[0].event else { panic!() };
    assert_eq!(*error_type, FailureType::Ec2QuotaExceeded);
    assert!(recommendation.as_deref().unwrap().contains("quota increase"));
    assert_eq!(
        world.deps.sink.batches()[0].dimension(Metric::ScalingFailures),
        Some(("ErrorType", "EC2QuotaExceeded"))
    );
    assert!(world.deps.queue.queued().is_empty());
}

#[tokio::test]
async fn quota_after_one_launch_tracks_the_one_and_reports_the_other() {
    let world = World::new(&[]).await;
    world.deps.fleet.set_instance_limit(Some(3));
    world.send(world.request(TOKEN, 2)).await;
    assert_eq!(world.launched(TOKEN).len(), 1);
    assert!(world.deps.state.item("prod").unwrap().scaling_in_progress, "the join check still owns the lock");
    assert_eq!(world.deps.queue.queued().len(), 1);
    assert_eq!(world.deps.notifier.kinds(), vec!["scaling_failure"]);
}

#[tokio::test]
async fn spot_and_on_demand_mix_and_az_balance_over_several_scale_ups() {
    let world = World::new(&[("MAX_NODES", "12")]).await;
    for n in 0..5 {
        let id = format!("dec-{n}");
        world.lock_for(&id).await;
        world.send(world.request(&id, 2)).await;
        for instance in world.launched(&id) {
            world.join(&instance.instance_id, true);
        }
        world.tick(15).await;
    }
    let active: Vec<_> = world.deps.fleet.instances().into_iter().filter(|i| i.state.is_active()).collect();
    assert_eq!(active.len(), 12);
    let spot = active.iter().filter(|i| i.tags["Lifecycle"] == "spot").count();
    assert_eq!(spot, 7, "70 % of the 10 beyond the On-Demand floor");
    for az in ["us-east-1a", "us-east-1b", "us-east-1c"] {
        assert_eq!(active.iter().filter(|i| i.availability_zone == az).count(), 4, "{az}");
    }
}

#[tokio::test]
async fn unparseable_and_misrouted_messages_fail_alone() {
    let world = World::new(&[]).await;
    let drain = WorkMessage::DrainRequest(smartscale_core::messages::DrainRequest {
        decision_id: "d".into(),
        cluster_id: "prod".into(),
        lock_token: None,
        node: None,
        reason: "r".into(),
        requested_at: t0(),
        deadline: None,
        spot_reclaim: false,
    });
    let failures = world
        .deliver(vec![
            "{\"version\":1,\"kind\":\"scale_up_request\"}".into(),
            drain.encode(),
            world.request(TOKEN, 1).encode(),
        ])
        .await;
    assert_eq!(failures, vec!["m-0", "m-1"]);
    assert_eq!(world.launched(TOKEN).len(), 1);
}

#[tokio::test]
async fn the_recorded_events_parse_and_run() {
    let world = World::new(&[]).await;
    for file in ["sqs-scale-up-request.json", "sqs-join-check.json"] {
        let text = std::fs::read_to_string(format!("{}/../../events/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let event = serde_json::from_str(&text).unwrap();
        let response = handle(LambdaEvent::new(event, Context::default()), &world.deps).await.unwrap();
        assert!(response.batch_item_failures.is_empty(), "{file}");
    }
}

#[tokio::test]
async fn pools_remembered_as_interrupted_are_avoided() {
    let world = World::new(&[]).await;
    let interrupted = smartscale_core::messages::Offering {
        instance_type: "t3.small".into(),
        availability_zone: "us-east-1c".into(),
        lifecycle: Lifecycle::Spot,
    };
    let until = t0() + chrono::Duration::minutes(30);
    let remembered = smartscale_core::state::UnavailableOffering { offering: interrupted, until };
    let update =
        smartscale_core::state::StateUpdate { unavailable_offerings: Some(vec![remembered]), ..Default::default() };
    world.deps.state.update("prod", &update).await.unwrap();
    world.send(world.request(TOKEN, 1)).await;
    let launched = world.launched(TOKEN);
    assert_eq!(launched[0].lifecycle, Lifecycle::Spot);
    assert_eq!(
        (launched[0].instance_type.as_str(), launched[0].availability_zone.as_str()),
        ("t3a.small", "us-east-1c"),
        "the best AZ, but not the interrupted pool"
    );
}

#[tokio::test]
async fn a_count_of_1000_launches_no_more_than_max_nodes_allows() {
    let world = World::new(&[("MAX_NODES", "5")]).await;
    world.send(world.request(TOKEN, 1000)).await;
    assert_eq!(world.launched(TOKEN).len(), 3, "2 running + 3 = MAX_NODES 5");
    let active = world.deps.fleet.instances().iter().filter(|i| i.state.is_active()).count();
    assert_eq!(active, 5);
    // At MAX_NODES a further request launches nothing and frees its lock; no error, no crash.
    world.deps.state.release_lock("prod", TOKEN, &Default::default()).await.unwrap();
    world.deps.state.try_acquire_lock("prod", "dec-2", t0(), 300).await.unwrap();
    let more = WorkMessage::ScaleUpRequest(ScaleUpRequest {
        decision_id: "dec-2".into(),
        lock_token: Some("dec-2".into()),
        ..match world.request("dec-2", 4) {
            WorkMessage::ScaleUpRequest(r) => r,
            _ => unreachable!(),
        }
    });
    world.send(more).await;
    assert!(world.launched("dec-2").is_empty());
    assert!(!world.deps.state.item("prod").unwrap().scaling_in_progress);
}

#[tokio::test]
async fn the_runaway_guard_caps_launches_per_10_minutes() {
    let world = World::new(&[("MAX_NODES", "20"), ("MAX_LAUNCHES_PER_10M", "4")]).await;
    world.send(world.request(TOKEN, 3)).await;
    world.lock_for("dec-2").await;
    world.send(world.request("dec-2", 3)).await;
    assert_eq!(world.launched(TOKEN).len() + world.launched("dec-2").len(), 4, "the seed nodes launched an hour ago");
    world.deps.clock.advance(601);
    world.lock_for("dec-3").await;
    world.send(world.request("dec-3", 3)).await;
    assert_eq!(world.launched("dec-3").len(), 3, "a new window");
}

#[tokio::test]
async fn a_join_check_naming_an_instance_it_did_not_launch_is_refused() {
    let world = World::new(&[]).await;
    // i-…1 is a seed node (another decision's); a forged check past its deadline would terminate it.
    let seed = world.deps.fleet.instances()[0].instance_id.clone();
    world.deps.cluster.set_node_ready(&world.deps.fleet.instances()[0].private_dns_name.clone().unwrap(), false);
    let forged = WorkMessage::JoinCheck(smartscale_core::messages::JoinCheck {
        decision_id: TOKEN.into(),
        cluster_id: "prod".into(),
        lock_token: Some(TOKEN.into()),
        instance_ids: vec![seed.clone()],
        launched_at: t0() - chrono::Duration::minutes(10),
        deadline: t0() - chrono::Duration::minutes(5),
        attempt: 1,
    });
    assert_eq!(world.deliver(vec![forged.encode()]).await.len(), 1);
    assert!(world.deps.fleet.instance(&seed).unwrap().state.is_active(), "not terminated");
    assert!(world.deps.sink.count_with(Metric::ScalingFailures, "ErrorType", "RejectedMessage") >= 1);
}

#[tokio::test]
async fn a_join_check_at_attempt_u32_max_is_an_error_not_a_panic() {
    let world = World::new(&[]).await;
    world.send(world.request(TOKEN, 1)).await;
    let mut check = match WorkMessage::decode(&world.deps.queue.queued()[0].body).unwrap() {
        WorkMessage::JoinCheck(c) => c,
        other => panic!("{other:?}"),
    };
    check.attempt = u32::MAX;
    assert_eq!(world.deliver(vec![WorkMessage::JoinCheck(check).encode()]).await.len(), 1);
}

#[tokio::test]
async fn a_launch_error_no_retry_fixes_reaches_a_person_once() {
    let world = World::new(&[]).await;
    world.deps.fleet.faults.fail_always(
        smartscale_core::fakes::FleetOp::Launch,
        smartscale_core::Error::rejected("ec2", "InvalidLaunchTemplateId.NotFound: lt-0bad"),
    );
    for _ in 0..3 {
        assert_eq!(world.deliver(vec![world.request(TOKEN, 1).encode()]).await.len(), 1, "retried, then dead-lettered");
    }
    let published = world.deps.notifier.published();
    assert_eq!(published.len(), 1, "one message per episode: {published:?}");
    let NotificationEvent::ScalingFailure { error_type, message, .. } = &published[0].event else { panic!() };
    assert_eq!(*error_type, FailureType::Misconfigured);
    assert!(message.contains("lt-0bad"));
    let counted = world.deps.sink.count_with(Metric::ScalingFailures, "ErrorType", "Misconfigured");
    assert_eq!(counted, 3, "the metric counts every attempt");
}

#[tokio::test]
async fn a_message_for_another_cluster_is_refused() {
    let world = World::new(&[]).await;
    let body = world.request(TOKEN, 1).encode().replace(r#""cluster_id":"prod""#, r#""cluster_id":"staging""#);
    assert_eq!(world.deliver(vec![body]).await.len(), 1);
    assert!(world.launched(TOKEN).is_empty());
}

#[tokio::test]
async fn a_replacement_for_an_on_demand_floor_node_is_on_demand() {
    // The world's two seed nodes are the On-Demand floor (MIN_NODES 2); one of them is leaving.
    let world = World::new(&[]).await;
    let leaving = world.deps.fleet.instances()[0].instance_id.clone();
    let replacement = WorkMessage::ScaleUpRequest(ScaleUpRequest {
        decision_id: "spot-ev-1".into(),
        lock_token: None,
        replaces: Some(leaving),
        ..match world.request("spot-ev-1", 1) {
            WorkMessage::ScaleUpRequest(r) => r,
            _ => unreachable!(),
        }
    });
    world.send(replacement).await;
    let launched = world.launched("spot-ev-1");
    assert_eq!(launched.len(), 1);
    assert_eq!(launched[0].lifecycle, Lifecycle::OnDemand, "not Spot: the floor stays On-Demand");
}

#[tokio::test]
async fn a_join_check_delivered_twice_starts_one_chain_and_alerts_once() {
    let world = World::new(&[]).await;
    world.send(world.request(TOKEN, 1)).await;
    // SQS delivers the first check twice.
    world.deps.clock.advance(15);
    let first = world.deps.queue.take_visible(QueueName::ScaleUp);
    assert_eq!(first.len(), 1);
    let body = first[0].body.clone();
    assert!(world.deliver(vec![body.clone()]).await.is_empty());
    assert!(world.deliver(vec![body]).await.is_empty());
    assert_eq!(world.deps.queue.queued().len(), 1, "one next check, not two");
    // No node ever joins: one chain reaches the deadline, one alert.
    for _ in 0..40 {
        world.tick(15).await;
    }
    let kinds = world.deps.notifier.kinds();
    assert_eq!(kinds.iter().filter(|k| **k == "scaling_failure").count(), 1, "{kinds:?}");
}

#[tokio::test]
async fn a_scale_up_request_whose_lock_is_gone_launches_nothing() {
    let world = World::new(&[]).await;
    world.deps.state.release_lock("prod", TOKEN, &Default::default()).await.unwrap();
    world.send(world.request(TOKEN, 2)).await;
    assert!(world.launched(TOKEN).is_empty(), "a late copy of a finished decision");
}

/// Each node's launch → Ready time is recorded at the first check that sees it Ready, in the
/// state item, for the decider's lead time; a node already recorded keeps its first time.
#[tokio::test]
async fn join_latencies_are_recorded_per_node_when_each_becomes_ready() {
    let world = World::new(&[]).await;
    world.send(world.request(TOKEN, 2)).await;
    let launched = world.launched(TOKEN);
    world.tick(15).await; // check 1: nothing registered
    world.join(&launched[0].instance_id, true);
    world.join(&launched[1].instance_id, false);
    world.tick(15).await; // check 2: the first Ready at 30 s, the second still joining
    let item = world.deps.state.item("prod").unwrap();
    let recorded: Vec<(&str, f64)> = item.join_latencies.iter().map(|j| (j.instance_id.as_str(), j.seconds)).collect();
    assert_eq!(recorded, vec![(launched[0].instance_id.as_str(), 30.0)]);
    assert!(item.scaling_in_progress, "the work goes on while the second joins");

    world.join(&launched[1].instance_id, true);
    world.tick(15).await; // check 3: the second Ready at 45 s; the first is not recorded again
    let item = world.deps.state.item("prod").unwrap();
    let recorded: Vec<(&str, f64)> = item.join_latencies.iter().map(|j| (j.instance_id.as_str(), j.seconds)).collect();
    assert_eq!(recorded, vec![(launched[0].instance_id.as_str(), 30.0), (launched[1].instance_id.as_str(), 45.0)]);
    assert_eq!(item.join_latencies[1].ready_at, world.deps.clock.now());
    assert!(!item.scaling_in_progress);
}

#[tokio::test]
async fn the_join_latencies_keep_the_newest_fifty_and_a_timed_out_node_adds_none() {
    use smartscale_core::state::{JoinLatency, JOIN_LATENCIES_KEPT};
    let world = World::new(&[]).await;
    let old: Vec<JoinLatency> = (0..JOIN_LATENCIES_KEPT)
        .map(|i| JoinLatency { instance_id: format!("i-old{i:02}"), ready_at: t0(), seconds: 100.0 + i as f64 })
        .collect();
    world.deps.state.record_join_latencies("prod", &old).await.unwrap();

    world.send(world.request(TOKEN, 2)).await;
    let launched = world.launched(TOKEN);
    world.join(&launched[0].instance_id, true); // the other never registers
    for _ in 0..25 {
        world.tick(15).await;
    }
    let item = world.deps.state.item("prod").unwrap();
    assert_eq!(item.join_latencies.len(), JOIN_LATENCIES_KEPT, "bounded");
    assert_eq!(item.join_latencies[0].instance_id, "i-old01", "the oldest went");
    let newest = item.join_latencies.last().unwrap();
    assert_eq!((newest.instance_id.as_str(), newest.seconds), (launched[0].instance_id.as_str(), 15.0));
    assert!(
        !item.join_latencies.iter().any(|j| j.instance_id == launched[1].instance_id),
        "a node that never became Ready has no join time"
    );
}

#[tokio::test]
async fn a_failed_join_latency_write_fails_the_check_for_a_retry() {
    use smartscale_core::fakes::StateOp;
    let world = World::new(&[]).await;
    world.send(world.request(TOKEN, 1)).await;
    let instance = world.launched(TOKEN).remove(0);
    world.join(&instance.instance_id, true);
    world
        .deps
        .state
        .faults
        .fail_always(StateOp::JoinLatencies, smartscale_core::Error::unavailable("dynamodb", "throttled"));
    world.deps.clock.advance(15);
    let due = world.deps.queue.take_visible(QueueName::ScaleUp);
    let failures = world.deliver(due.iter().map(|m| m.body.clone()).collect()).await;
    assert_eq!(failures.len(), 1, "SQS redelivers the check");
    assert!(world.deps.state.item("prod").unwrap().scaling_in_progress, "not finished without its record");

    world.deps.state.faults.clear(StateOp::JoinLatencies);
    let failures = world.deliver(due.iter().map(|m| m.body.clone()).collect()).await;
    assert!(failures.is_empty());
    let item = world.deps.state.item("prod").unwrap();
    assert_eq!(item.join_latencies.len(), 1);
    assert!(!item.scaling_in_progress);
}
