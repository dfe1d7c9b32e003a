use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Context, LambdaEvent};
use smartscale_core::config::MapConfig;
use smartscale_core::decide::{Action, BlockedBy};
use smartscale_core::emf::Metric;
use smartscale_core::fakes::{
    FakeClock, FakeFleet, FakeMetrics, FakeMetricsSink, FakeNotifier, FakeQueue, FakeStateStore, FetchOp, FleetOp,
    SendOp,
};
use smartscale_core::messages::{QueueName, WorkMessage};
use smartscale_core::metrics::Sample;
use smartscale_core::ports::Lifecycle;
use smartscale_core::state::{EpisodeKind, MetricsSnapshot, ScaleAction, StateItem};
use smartscale_core::Error;

use super::*;
use crate::DeciderConfig;

type TestDeps = Deps<FakeStateStore, FakeMetrics, FakeFleet, FakeQueue, FakeNotifier, FakeClock, FakeMetricsSink>;

const EVENT: &str = include_str!("../../../events/eventbridge-scheduled.json");

fn t0() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

fn event() -> LambdaEvent<ScheduledEvent> {
    LambdaEvent::new(serde_json::from_str(EVENT).unwrap(), Context::default())
}

struct World {
    deps: TestDeps,
}

impl World {
    async fn new(nodes: usize) -> Self {
        let clock = FakeClock::new(t0());
        let fleet = FakeFleet::new("prod", clock.clone());
        for _ in 0..nodes {
            fleet.add_running("t3.small", "us-east-1a", Lifecycle::OnDemand);
        }
        let config = DeciderConfig::from_config(&MapConfig::new().with("CLUSTER_ID", "prod")).unwrap();
        World {
            deps: Deps {
                config,
                state: FakeStateStore::new(),
                metrics: FakeMetrics::default(),
                fleet,
                queue: FakeQueue::new(clock.clone()),
                notifier: FakeNotifier::new(),
                clock,
                sink: FakeMetricsSink::new(),
            },
        }
    }

    /// Samples every 30 s for the last 11 minutes, built by `f`.
    fn metrics(&self, f: impl Fn(i64) -> Sample) {
        let now = self.deps.clock.now();
        self.deps
            .metrics
            .replace((0..=22).map(|i| Sample { at: now - Duration::seconds(660 - i * 30), ..f(i) }).collect());
    }

    /// Hot metrics cached in the state item `age_s` ago, and Prometheus unreachable since.
    fn prometheus_down_with_snapshot_aged(&self, age_s: i64) {
        self.metrics(hot);
        let samples = self.deps.metrics.fetch_all();
        self.deps.state.put(StateItem {
            cluster_id: "prod".into(),
            node_count: 4,
            metrics_snapshot: Some(MetricsSnapshot {
                taken_at: t0() - Duration::seconds(age_s),
                samples: samples.into(),
            }),
            ..Default::default()
        });
        self.deps.metrics.faults.fail_always(FetchOp, Error::unavailable("prometheus", "connection refused"));
    }

    async fn run(&self) -> Outcome {
        handle(event(), &self.deps).await.expect("decider run")
    }

    fn sent(&self) -> Vec<WorkMessage> {
        self.deps.queue.queued().iter().map(|q| q.message()).collect()
    }
}

fn hot(_: i64) -> Sample {
    Sample { cpu_pct: Some(85.0), mem_pct: Some(60.0), pending_pods: Some(0), ..Default::default() }
}

fn quiet(_: i64) -> Sample {
    Sample {
        cpu_pct: Some(10.0),
        mem_pct: Some(30.0),
        pending_pods: Some(0),
        queue_depth: Some(3.0),
        // Four replicas' requests: they fit on one node fewer, so the fit check passes.
        pending_cpu_millis: Some(0.0),
        pending_memory_bytes: Some(0.0),
        requested_cpu_millis: Some(800.0),
        requested_memory_bytes: Some(1024.0 * 1024.0 * 1024.0),
        ..Default::default()
    }
}

#[tokio::test]
async fn cpu_high_takes_the_lock_and_requests_one_node() {
    let world = World::new(4).await;
    world.metrics(hot);
    let outcome = world.run().await;

    assert_eq!(outcome.taken, Taken::ScaleUpRequested { count: 1 });
    assert_eq!(outcome.metrics, MetricsOrigin::Live);
    assert_eq!(outcome.decision_id, "dec-cdc73f9d-aea9-11e3-9d5a-835b769c0d9c");
    let sent = world.sent();
    let [WorkMessage::ScaleUpRequest(request)] = sent.as_slice() else {
        panic!("expected one scale-up request: {sent:?}")
    };
    assert_eq!(request.count, 1);
    assert_eq!(request.lock_token.as_deref(), Some(outcome.decision_id.as_str()));
    assert!(request.reason.contains("cpu 85.0% > 70%"), "{}", request.reason);
    assert_eq!(world.deps.queue.queued()[0].queue, QueueName::ScaleUp);

    let item = world.deps.state.item("prod").unwrap();
    assert!(item.lock_held_at(t0()));
    assert_eq!(item.lock_owner.as_deref(), Some(outcome.decision_id.as_str()));
    assert_eq!(item.lock_expiry, Some(t0() + Duration::seconds(300)));
    assert_eq!(item.last_scale_action, Some(ScaleAction::ScaleUp));
    assert_eq!(item.last_scale_time, Some(t0()));
    assert_eq!(item.node_count, 4);
    assert!(item.metrics_snapshot.is_some());

    assert_eq!(world.deps.notifier.kinds(), vec!["scale_up_started"]);
    let batch = &world.deps.sink.batches()[0];
    assert_eq!(batch.value(Metric::ScaleUpEvents), Some(1.0));
    assert_eq!(batch.dimension(Metric::ScaleUpEvents), Some(("Reason", "cpu")));
    assert_eq!(batch.value(Metric::ClusterCpuUtilization), Some(85.0));
    assert_eq!(batch.value(Metric::CurrentNodeCount), Some(4.0));
    assert_eq!(batch.value(Metric::AutoscalerInvocations), Some(1.0));
    assert!(batch.value(Metric::LambdaExecutionTime).is_some());
}

#[tokio::test]
async fn quiet_cluster_requests_a_drain() {
    let world = World::new(5).await;
    world.metrics(quiet);
    let outcome = world.run().await;
    assert_eq!(outcome.taken, Taken::DrainRequested);
    let sent = world.sent();
    let [WorkMessage::DrainRequest(request)] = sent.as_slice() else { panic!("{sent:?}") };
    assert_eq!(request.node, None);
    assert_eq!(world.deps.notifier.kinds(), vec!["scale_down_started"]);
    assert_eq!(world.deps.sink.total(Metric::ScaleDownEvents), 1.0);
}

#[tokio::test]
async fn at_max_alerts_once_per_interval_and_sends_nothing() {
    let world = World::new(10).await;
    world.metrics(hot);
    let outcome = world.run().await;
    assert_eq!(outcome.taken, Taken::NoAction);
    assert_eq!(outcome.decision.as_ref().unwrap().blocked_by, Some(BlockedBy::MaxNodes));
    assert!(world.sent().is_empty());
    assert_eq!(world.deps.notifier.kinds(), vec!["at_max_capacity"]);

    world.deps.clock.advance(120);
    world.metrics(hot);
    world.run().await;
    assert_eq!(world.deps.notifier.kinds().len(), 1, "a second alert within 30 min is noise");

    world.deps.clock.advance(1800);
    world.metrics(hot);
    world.run().await;
    assert_eq!(world.deps.notifier.kinds(), vec!["at_max_capacity", "at_max_capacity"]);
}

#[tokio::test]
async fn held_lock_exits_gracefully() {
    let world = World::new(4).await;
    world.metrics(hot);
    world.deps.state.put(StateItem {
        cluster_id: "prod".into(),
        node_count: 4,
        scaling_in_progress: true,
        lock_expiry: Some(t0() + Duration::seconds(100)),
        lock_owner: Some("someone-else".into()),
        ..Default::default()
    });
    let outcome = world.run().await;
    assert_eq!(outcome.taken, Taken::NoAction);
    assert_eq!(outcome.decision.unwrap().blocked_by, Some(BlockedBy::LockHeld));
    assert!(world.sent().is_empty());
    assert_eq!(world.deps.state.item("prod").unwrap().lock_owner.as_deref(), Some("someone-else"));
}

#[tokio::test]
async fn losing_the_lock_race_is_an_outcome() {
    let world = World::new(4).await;
    world.metrics(hot);
    // A lock record with no expiry: the engine cannot see it, the conditional write can.
    world.deps.state.put(StateItem {
        cluster_id: "prod".into(),
        node_count: 4,
        scaling_in_progress: true,
        ..Default::default()
    });
    let outcome = world.run().await;
    assert_eq!(outcome.taken, Taken::LockLost);
    assert!(world.sent().is_empty());
    assert!(world.deps.notifier.published().is_empty());
}

#[tokio::test]
async fn a_redelivered_event_does_not_send_twice() {
    let world = World::new(4).await;
    world.metrics(hot);
    world.run().await;
    world.deps.clock.advance(5);
    let again = handle(event(), &world.deps).await.unwrap();
    assert_eq!(again.decision.unwrap().blocked_by, Some(BlockedBy::LockHeld));
    assert_eq!(world.sent().len(), 1);
}

#[tokio::test]
async fn drift_is_corrected_to_ec2() {
    let world = World::new(4).await;
    world.metrics(|_| Sample { cpu_pct: Some(50.0), mem_pct: Some(60.0), pending_pods: Some(0), ..Default::default() });
    world.deps.state.put(StateItem { cluster_id: "prod".into(), node_count: 7, ..Default::default() });
    let outcome = world.run().await;
    assert_eq!(outcome.node_count, 4);
    assert_eq!(world.deps.state.item("prod").unwrap().node_count, 4);
}

#[tokio::test]
async fn ec2_down_with_no_stored_count_is_an_error_not_zero() {
    let world = World::new(4).await;
    world.metrics(hot);
    world.deps.fleet.faults.fail_next(FleetOp::Describe, Error::unavailable("ec2", "connection refused"));
    let err = handle(event(), &world.deps).await.unwrap_err();
    assert!(err.to_string().contains("ec2 unavailable"), "{err}");
    assert!(world.sent().is_empty());
    assert_eq!(world.deps.sink.total(Metric::AutoscalerInvocations), 1.0, "metrics still go out");

    // With a stored count, the run goes on with it.
    world.deps.state.put(StateItem { cluster_id: "prod".into(), node_count: 4, ..Default::default() });
    world.deps.fleet.faults.fail_next(FleetOp::Describe, Error::unavailable("ec2", "connection refused"));
    assert_eq!(world.run().await.taken, Taken::ScaleUpRequested { count: 1 });
}

#[tokio::test]
async fn prometheus_down_uses_a_fresh_snapshot() {
    let world = World::new(4).await;
    world.prometheus_down_with_snapshot_aged(120);
    let outcome = world.run().await;
    assert_eq!(outcome.metrics, MetricsOrigin::CachedSnapshot { age_s: 120 });
    assert_eq!(outcome.taken, Taken::ScaleUpRequested { count: 1 });
}

#[tokio::test]
async fn prometheus_down_without_a_fresh_snapshot_takes_no_action_and_says_so() {
    let world = World::new(4).await;
    world.prometheus_down_with_snapshot_aged(301);
    let outcome = world.run().await;
    assert!(matches!(outcome.metrics, MetricsOrigin::Unavailable { .. }), "{outcome:?}");
    assert_eq!(outcome.taken, Taken::NoAction);
    assert_eq!(outcome.decision.as_ref().unwrap().blocked_by, Some(BlockedBy::NoData));
    assert!(world.sent().is_empty());
    let published = world.deps.notifier.published();
    assert!(matches!(
        &published[0].event,
        NotificationEvent::ScalingFailure { error_type: FailureType::PrometheusUnavailable, .. }
    ));
    let batch = &world.deps.sink.batches()[0];
    assert_eq!(batch.dimension(Metric::ScalingFailures), Some(("ErrorType", "PrometheusUnavailable")));
}

#[tokio::test]
async fn a_failed_send_releases_the_lock_and_fails_the_run() {
    let world = World::new(4).await;
    world.metrics(hot);
    world.deps.queue.faults.fail_next(SendOp, Error::unavailable("sqs", "throttled"));
    let err = handle(event(), &world.deps).await.unwrap_err();
    assert!(err.to_string().contains("sqs unavailable"), "{err}");
    let item = world.deps.state.item("prod").unwrap();
    assert!(!item.scaling_in_progress, "the lock must not outlive a failed send");
    assert_eq!(item.last_scale_action, None);
}

#[tokio::test]
async fn below_min_is_restored_even_while_prometheus_is_down() {
    let world = World::new(0).await;
    world.deps.metrics.faults.fail_always(FetchOp, Error::unavailable("prometheus", "down"));
    let outcome = world.run().await;
    assert!(matches!(outcome.metrics, MetricsOrigin::Unavailable { .. }));
    assert_eq!(outcome.taken, Taken::ScaleUpRequested { count: 2 });
    assert_eq!(outcome.decision.unwrap().action, Action::ScaleUp);
    assert_eq!(world.deps.notifier.kinds(), vec!["scaling_failure", "scale_up_started"]);
}

#[tokio::test]
async fn only_its_schedule_runs_the_decider() {
    let world = World::new(3).await;
    let deps = &world.deps;
    for (detail_type, source) in [
        ("EC2 Spot Instance Interruption Warning", "aws.ec2"),
        ("Scheduled Event", "my.app"),
        ("Object Created", "aws.s3"),
    ] {
        let mut forged = event();
        forged.payload.detail_type = detail_type.into();
        forged.payload.source = source.into();
        let err = handle(forged, deps).await.unwrap_err();
        assert!(err.to_string().contains("Scheduled Event"), "{err}");
        assert!(deps.queue.queued().is_empty());
        assert!(deps.state.item("prod").is_none(), "nothing read or written");
    }
    let mut scheduler = event();
    scheduler.payload.source = "aws.scheduler".into();
    assert!(handle(scheduler, deps).await.is_ok());
}

#[tokio::test]
async fn a_scale_up_due_while_a_drain_holds_the_lock_asks_the_drain_to_give_way() {
    let world = World::new(4).await;
    world.metrics(hot);
    world.deps.state.put(StateItem {
        cluster_id: "prod".into(),
        node_count: 4,
        scaling_in_progress: true,
        lock_expiry: Some(t0() + Duration::seconds(200)),
        lock_owner: Some("dec-drain".into()),
        last_scale_action: Some(ScaleAction::ScaleDown),
        last_scale_time: Some(t0() - Duration::seconds(100)),
        ..Default::default()
    });
    assert_eq!(world.run().await.taken, Taken::NoAction);
    let item = world.deps.state.item("prod").unwrap();
    let waiting = item.episode(EpisodeKind::ScaleUpWaiting).expect("the drain is asked to give way");
    assert_eq!(waiting.since, t0());
    assert_eq!(item.lock_owner.as_deref(), Some("dec-drain"), "the lock stays the drain's to release");
    // A scale-up holding the lock is left alone.
    let world = World::new(4).await;
    world.metrics(hot);
    world.deps.state.put(StateItem {
        scaling_in_progress: true,
        lock_expiry: Some(t0() + Duration::seconds(200)),
        lock_owner: Some("dec-up".into()),
        last_scale_action: Some(ScaleAction::ScaleUp),
        ..world.deps.state.item("prod").unwrap_or_else(|| StateItem::new("prod"))
    });
    world.run().await;
    assert!(world.deps.state.item("prod").unwrap().episode(EpisodeKind::ScaleUpWaiting).is_none());
}

#[tokio::test]
async fn prometheus_down_is_told_once_per_outage_and_its_end_once() {
    let world = World::new(4).await;
    world.prometheus_down_with_snapshot_aged(301);
    for minute in 0..5 {
        world.deps.clock.set(t0() + Duration::minutes(2 * minute));
        world.run().await;
    }
    assert_eq!(world.deps.notifier.kinds(), vec!["scaling_failure"], "one message for the outage");
    let failures = world
        .deps
        .sink
        .batches()
        .iter()
        .filter(|b| b.dimension(Metric::ScalingFailures) == Some(("ErrorType", "PrometheusUnavailable")))
        .count();
    assert_eq!(failures, 5, "the alarm's metric on every run");
    world.deps.metrics.faults.clear(FetchOp);
    world.metrics(hot);
    world.deps.clock.set(t0() + Duration::minutes(12));
    world.metrics(hot);
    world.run().await;
    world.run().await;
    let kinds = world.deps.notifier.kinds();
    assert_eq!(kinds.iter().filter(|k| **k == "recovered").count(), 1, "{kinds:?}");
    let published = world.deps.notifier.published();
    let NotificationEvent::Recovered { message, .. } =
        &published.iter().find(|n| n.event.kind() == "recovered").unwrap().event
    else {
        panic!()
    };
    assert!(message.contains("12m00s"), "{message}");
    assert!(world.deps.state.item("prod").unwrap().episodes.is_empty());
}

#[tokio::test]
async fn a_scale_down_that_found_no_removable_node_is_not_asked_again_until_its_time() {
    let world = World::new(4).await;
    world.metrics(quiet);
    world.deps.state.put(StateItem {
        cluster_id: "prod".into(),
        node_count: 4,
        episodes: vec![smartscale_core::state::Episode {
            kind: EpisodeKind::NoRemovableNode,
            since: t0() - Duration::minutes(10),
            notified: true,
            look_again_at: Some(t0() + Duration::minutes(50)),
            node_count: Some(4),
            detail: Some("ip-10-0-1-5: Pdb".into()),
        }],
        ..Default::default()
    });
    assert_eq!(world.run().await.taken, Taken::NoAction);
    assert!(world.sent().is_empty());
    assert!(world.deps.notifier.kinds().is_empty(), "no 'scaling down' every run");
    // Its time has come: it asks again.
    world.deps.clock.set(t0() + Duration::minutes(51));
    world.metrics(quiet);
    assert_eq!(world.run().await.taken, Taken::DrainRequested);
}

#[tokio::test]
async fn missing_cpu_and_memory_are_told_once_an_hour_and_counted_every_run() {
    let world = World::new(4).await;
    let no_node_exporter = |_| Sample { pending_pods: Some(0), ..Default::default() };
    for minute in 0..35 {
        world.deps.clock.set(t0() + Duration::minutes(2 * minute));
        world.metrics(no_node_exporter);
        world.run().await;
    }
    let warnings: Vec<_> =
        world.deps.notifier.published().into_iter().filter(|n| n.event.kind() == "signals_missing").collect();
    assert_eq!(warnings.len(), 2, "at 0 and at 60 minutes over 68 minutes");
    let NotificationEvent::SignalsMissing { signals, detail } = &warnings[0].event else { panic!() };
    assert_eq!(signals, &vec!["cpu".to_string(), "memory".to_string()]);
    assert!(detail.contains("PROMQL_CPU") && detail.contains("node-exporter"), "{detail}");
    let counted = world.deps.sink.count_with(Metric::MissingSignals, "Signal", "cpu");
    assert_eq!(counted, 35, "MissingSignals{{Signal=cpu}} on every run");
    // Back: the episode closes.
    world.metrics(hot);
    world.run().await;
    assert!(world.deps.state.item("prod").unwrap().episode(EpisodeKind::SignalsMissing).is_none());
}

#[tokio::test]
async fn pods_no_new_node_could_host_are_told_once_and_trigger_nothing() {
    let world = World::new(4).await;
    let huge = |i| Sample { pending_pods: Some(1), unhostable_pods: Some(1), ..quiet(i) };
    for minute in 0..3 {
        world.deps.clock.set(t0() + Duration::minutes(2 * minute));
        world.metrics(huge);
        let outcome = world.run().await;
        assert_ne!(outcome.taken, Taken::ScaleUpRequested { count: 1 });
    }
    assert!(world.sent().iter().all(|m| !matches!(m, WorkMessage::ScaleUpRequest(_))));
    assert_eq!(world.deps.notifier.kinds(), vec!["unhostable_pods"]);
}

// ---------------------------------------------------------------- the fast path (SNS)

const FAST_PATH_FIRING: &str = include_str!("../../../events/sns-fast-path-firing.json");
const FAST_PATH_RESOLVED: &str = include_str!("../../../events/sns-fast-path-resolved.json");
const FAST_PATH_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:smartscale-fast-path";

fn sns(json: &str) -> LambdaEvent<SnsEvent> {
    LambdaEvent::new(serde_json::from_str(json).unwrap(), Context::default())
}

/// The firing fixture with its SNS `Message` document edited by `f`.
fn sns_with_message(f: impl FnOnce(&mut serde_json::Value)) -> LambdaEvent<SnsEvent> {
    let mut event: serde_json::Value = serde_json::from_str(FAST_PATH_FIRING).unwrap();
    let mut message: serde_json::Value =
        serde_json::from_str(event["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    f(&mut message);
    event["Records"][0]["Sns"]["Message"] = message.to_string().into();
    LambdaEvent::new(serde_json::from_value(event).unwrap(), Context::default())
}

fn pending(_: i64) -> Sample {
    Sample {
        cpu_pct: Some(55.0),
        mem_pct: Some(60.0),
        pending_pods: Some(3),
        pending_cpu_millis: Some(600.0),
        pending_memory_bytes: Some(3.0 * 256.0 * 1024.0 * 1024.0),
        ..Default::default()
    }
}

impl World {
    async fn with_fast_path(nodes: usize) -> Self {
        let mut world = World::new(nodes).await;
        world.deps.config.fast_path_topic_arn = Some(FAST_PATH_TOPIC.into());
        world
    }

    async fn fast_path(&self, event: LambdaEvent<SnsEvent>) -> crate::Result<FastPathOutcome> {
        handle_fast_path(event, &self.deps).await
    }

    /// Nothing was read, written, sent or emitted.
    fn untouched(&self) {
        assert!(self.deps.state.item("prod").is_none(), "state untouched");
        assert!(self.deps.queue.queued().is_empty(), "nothing sent");
        assert!(self.deps.sink.batches().is_empty(), "no invocation counted");
    }
}

fn refused_field(err: &crate::Error) -> String {
    match err {
        crate::Error::Core(Error::RejectedMessage { field, .. }) => field.clone(),
        other => panic!("expected a refused message naming a field, got {other:?}"),
    }
}

#[tokio::test]
async fn a_firing_fast_path_alert_runs_the_scheduled_decision_and_says_why() {
    let world = World::with_fast_path(4).await;
    world.metrics(pending);
    let FastPathOutcome::Decided(outcome) = world.fast_path(sns(FAST_PATH_FIRING)).await.unwrap() else {
        panic!("a firing alert must decide")
    };
    assert_eq!(outcome.trigger, Trigger::FastPath { firing_since: "2026-11-23T11:59:15Z".parse().unwrap() });
    assert_eq!(outcome.decision_id, "dec-fp-6c1f2e9a-3b4d-5e6f-8a9b-0c1d2e3f4a5b", "redelivery maps to the same id");
    let decision = outcome.decision.clone().unwrap();
    assert_eq!(decision.reasons[0], "fast path: Alertmanager UnschedulablePods firing since 11:59:15 UTC");
    assert!(decision.reasons.len() > 1, "the engine's own reasons follow: {:?}", decision.reasons);
    assert_eq!(decision.action, Action::ScaleUp);

    // Exactly the decision a scheduled run at the same moment makes, but for the first reason.
    let scheduled = World::new(4).await;
    scheduled.metrics(pending);
    let by_schedule = scheduled.run().await;
    assert_eq!(by_schedule.trigger, Trigger::Schedule);
    let by_schedule = by_schedule.decision.unwrap();
    assert_eq!(decision.action, by_schedule.action);
    assert_eq!(decision.delta, by_schedule.delta);
    assert_eq!(decision.reasons[1..], by_schedule.reasons[..]);

    // The request carries the reason, takes the same lock, and the run is counted per trigger.
    let sent = world.sent();
    let [WorkMessage::ScaleUpRequest(request)] = sent.as_slice() else {
        panic!("expected one scale-up request: {sent:?}")
    };
    assert!(request.reason.starts_with("fast path: Alertmanager UnschedulablePods"), "{}", request.reason);
    assert_eq!(world.deps.state.item("prod").unwrap().lock_owner.as_deref(), Some(outcome.decision_id.as_str()));
    assert_eq!(world.deps.sink.count_with(Metric::AutoscalerInvocations, "Trigger", "fast_path"), 1);
    assert_eq!(world.deps.sink.total(Metric::AutoscalerInvocations), 1.0, "one run, counted once");
    assert_eq!(scheduled.deps.sink.count_with(Metric::AutoscalerInvocations, "Trigger", "schedule"), 1);
    let line: serde_json::Value = serde_json::from_str(&world.deps.sink.batches()[0].lines()[0]).unwrap();
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["ClusterId", "Trigger"], ["ClusterId"]]),
        "the DeciderNotRunning alarm's AutoscalerInvocations{{ClusterId}} still counts it"
    );
}

#[tokio::test]
async fn a_resolved_fast_path_alert_does_nothing() {
    let world = World::with_fast_path(4).await;
    world.metrics(pending);
    let outcome = world.fast_path(sns(FAST_PATH_RESOLVED)).await.unwrap();
    assert_eq!(outcome, FastPathOutcome::Resolved { message_id: "7d2a3f0b-4c5e-6f70-9bac-1d2e3f4a5b6c".into() });
    world.untouched();
}

#[tokio::test]
async fn a_fast_path_alert_while_the_lock_is_held_does_nothing() {
    let world = World::with_fast_path(4).await;
    world.metrics(pending);
    world.deps.state.put(StateItem {
        cluster_id: "prod".into(),
        node_count: 4,
        scaling_in_progress: true,
        lock_expiry: Some(t0() + Duration::seconds(100)),
        lock_owner: Some("dec-scale-up-in-flight".into()),
        last_scale_action: Some(ScaleAction::ScaleUp),
        last_scale_time: Some(t0() - Duration::seconds(200)),
        ..Default::default()
    });
    let FastPathOutcome::Decided(outcome) = world.fast_path(sns(FAST_PATH_FIRING)).await.unwrap() else {
        panic!("a firing alert must decide")
    };
    assert_eq!(outcome.taken, Taken::NoAction);
    let decision = outcome.decision.unwrap();
    assert_eq!(decision.blocked_by, Some(BlockedBy::LockHeld));
    assert!(decision.reasons[0].starts_with("fast path:"), "{:?}", decision.reasons);
    assert!(world.sent().is_empty());
    assert_eq!(world.deps.state.item("prod").unwrap().lock_owner.as_deref(), Some("dec-scale-up-in-flight"));
}

#[tokio::test]
async fn fast_path_events_not_ours_are_refused_naming_the_field() {
    let world = World::with_fast_path(4).await;
    world.metrics(pending);
    let wrong_topic = {
        let mut event: serde_json::Value = serde_json::from_str(FAST_PATH_FIRING).unwrap();
        event["Records"][0]["Sns"]["TopicArn"] = "arn:aws:sns:us-east-1:123456789012:someone-elses".into();
        LambdaEvent::new(serde_json::from_value(event).unwrap(), Context::default())
    };
    let two_records = {
        let mut event: serde_json::Value = serde_json::from_str(FAST_PATH_FIRING).unwrap();
        let record = event["Records"][0].clone();
        event["Records"].as_array_mut().unwrap().push(record);
        LambdaEvent::new(serde_json::from_value(event).unwrap(), Context::default())
    };
    let garbage = {
        let mut event: serde_json::Value = serde_json::from_str(FAST_PATH_FIRING).unwrap();
        event["Records"][0]["Sns"]["Message"] = "[FIRING:1] UnschedulablePods (prod)".into();
        LambdaEvent::new(serde_json::from_value(event).unwrap(), Context::default())
    };
    let cases = [
        (wrong_topic, "TopicArn"),
        (two_records, "Records"),
        (garbage, "Message"),
        (sns_with_message(|m| m["cluster"] = "staging".into()), "cluster"),
        (sns_with_message(|m| m["alertname"] = "NodeNotReady".into()), "alertname"),
        (sns_with_message(|m| m["version"] = 2.into()), "version"),
        (sns_with_message(|m| m["status"] = "pending".into()), "Message.status"),
        (sns_with_message(|m| m["alerts"][0]["startsAt"] = "yesterday".into()), "Message.alerts[0].startsAt"),
        (sns_with_message(|m| drop(m.as_object_mut().unwrap().remove("cluster"))), "Message"),
        (sns_with_message(|m| m["alerts"] = serde_json::json!([])), "alerts"),
    ];
    for (event, field) in cases {
        let err = world.fast_path(event).await.unwrap_err();
        assert_eq!(refused_field(&err), field, "{err}");
        world.untouched();
    }
}

#[tokio::test]
async fn with_the_fast_path_off_sns_events_are_refused() {
    let world = World::new(4).await;
    world.metrics(pending);
    let err = world.fast_path(sns(FAST_PATH_FIRING)).await.unwrap_err();
    assert_eq!(refused_field(&err), "TopicArn");
    assert!(err.to_string().contains("FAST_PATH_TOPIC_ARN is unset"), "{err}");
    world.untouched();
}

#[tokio::test]
async fn the_entry_point_dispatches_on_the_event_shape() {
    let world = World::with_fast_path(4).await;
    world.metrics(pending);
    let raw =
        |json: &str| LambdaEvent::new(serde_json::from_str::<serde_json::Value>(json).unwrap(), Context::default());

    let scheduled = handle_event(raw(EVENT), &world.deps).await.unwrap();
    assert_eq!(scheduled["trigger"]["kind"], "schedule");
    let resolved = handle_event(raw(FAST_PATH_RESOLVED), &world.deps).await.unwrap();
    assert_eq!(resolved["fast_path"], "resolved");

    for other in [r#"{"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}"#, r#"{"hello": "world"}"#, r#"[1, 2]"#] {
        let err = handle_event(raw(other), &world.deps).await.unwrap_err();
        assert_eq!(refused_field(&err), "event", "{err}");
        let text = err.to_string();
        assert!(text.contains("Scheduled Event") && text.contains("aws:sns"), "names both shapes: {text}");
    }
}

/// The day's observations the runs left in the ledger's day item.
async fn observed_hours(world: &World) -> Vec<(DateTime<Utc>, smartscale_core::cost_ledger::HourObservations)> {
    let day = world.deps.clock.now() - Duration::hours(12);
    let ledger = world.deps.state.cost_ledger("prod", day, day + Duration::days(1)).await.unwrap();
    ledger.observed_hours(day, day + Duration::days(1)).map(|(at, h)| (at, h.clone())).collect()
}

#[tokio::test]
async fn every_run_records_its_unschedulable_time_and_a_failed_query_counts_as_unknown() {
    let world = World::new(4).await;
    // 12:00, the day's first run: 15 minutes accounted (the cap), the 23 samples cover 11.5
    // of them; 2 pods unschedulable at the last four samples: 2 min, 4 pod-min.
    world.metrics(|i| Sample { pending_pods: Some(if i >= 19 { 2 } else { 0 }), ..hot(i) });
    world.run().await;
    // 12:02: Prometheus is down, the run decides on the cached snapshot: 2 min unknown.
    world.deps.clock.advance(120);
    world.deps.metrics.faults.fail_always(FetchOp, Error::unavailable("prometheus", "connection refused"));
    let outcome = world.run().await;
    assert!(matches!(outcome.metrics, MetricsOrigin::CachedSnapshot { .. }), "{:?}", outcome.metrics);
    // 12:04: back, nothing pending: 2 more known minutes.
    world.deps.clock.advance(120);
    world.deps.metrics.faults.clear(FetchOp);
    world.metrics(hot);
    world.run().await;
    let hours = observed_hours(&world).await;
    let [(at, h)] = hours.as_slice() else { panic!("one hour slot: {hours:?}") };
    assert_eq!(*at, t0());
    assert!((h.known_min - 13.5).abs() < 1e-9 && (h.unknown_min - 5.5).abs() < 1e-9, "{h:?}");
    assert!((h.unschedulable_min - 2.0).abs() < 1e-9 && (h.unschedulable_pod_min - 4.0).abs() < 1e-9, "{h:?}");
    // The default PREDICTIVE_MODE is forecast-only; with no demand history its error is unknown.
    assert_eq!(h.forecast_modes, ["forecast-only"]);
    assert!((h.forecast_unknown_min - 19.0).abs() < 1e-9 && h.forecast_min == 0.0, "{h:?}");
    // A failed ledger write is logged, and the run still decides.
    world.deps.clock.advance(120);
    world
        .deps
        .state
        .faults
        .fail_next(smartscale_core::fakes::StateOp::Ledger, Error::unavailable("dynamodb", "throttled"));
    world.run().await;
    assert_eq!(observed_hours(&world).await[0].1, *h, "nothing counted; the next run's span covers it");
}

#[tokio::test]
async fn every_run_records_the_forecast_s_error_and_its_pre_scales() {
    let mut world = World::new(3).await;
    let config = MapConfig::new().with("CLUSTER_ID", "prod").with("PREDICTIVE_MODE", "active");
    world.deps.config = DeciderConfig::from_config(&config).unwrap();
    // A daily 09:00–11:00 rush to 4.5 nodes over 1.2 for 15 days; 08:50, ten minutes before it.
    let before_rush: DateTime<Utc> = "2026-11-23T08:50:00Z".parse().unwrap();
    let start = before_rush - Duration::days(15) - Duration::minutes(8 * 60 + 50);
    world.deps.metrics.set_demand(
        (0..15 * 288 + 144)
            .map(|i| smartscale_core::forecast::DemandSample {
                at: start + Duration::minutes(5 * i),
                nodes: if (108..132).contains(&(i % 288)) { 4.5 } else { 1.2 },
            })
            .collect(),
    );
    world.deps.clock.set(before_rush);
    let steady = |_| Sample { cpu_pct: Some(50.0), mem_pct: Some(60.0), pending_pods: Some(0), ..Default::default() };
    world.metrics(steady);
    let first = world.run().await;
    assert_eq!(first.taken, Taken::ScaleUpRequested { count: 2 }, "the pre-scale");
    let f = first.forecast.clone().unwrap();
    let (actual, forecast) = (f.actual_demand.unwrap(), f.forecast_demand.unwrap());
    // 09:00: the window comes, demand 4.5 is above the 3 nodes the reactive rules kept: used.
    world.deps.clock.advance(600);
    world.deps.fleet.add_running("t3.small", "us-east-1a", Lifecycle::OnDemand);
    world.deps.fleet.add_running("t3.small", "us-east-1a", Lifecycle::OnDemand);
    world.metrics(steady);
    let second = world.run().await;
    let f2 = second.forecast.clone().unwrap();
    let (actual2, forecast2) = (f2.actual_demand.unwrap(), f2.forecast_demand.unwrap());

    let hours = observed_hours(&world).await;
    let [(_, h8), (_, h9)] = hours.as_slice() else { panic!("the 08:00 and 09:00 slots: {hours:?}") };
    assert_eq!(h8.forecast_modes, ["active"]);
    assert_eq!((h8.pre_scales, h8.pre_scales_judged, h8.pre_scales_used), (1, 0, 0));
    assert_eq!((h9.pre_scales, h9.pre_scales_judged, h9.pre_scales_used), (0, 1, 1));
    // 08:50 accounts for 15 minutes, 09:00 for the 10 since; each at its own error.
    assert!((h8.forecast_min - 15.0).abs() < 1e-9 && (h9.forecast_min - 10.0).abs() < 1e-9);
    let under = |a: f64, f: f64, m: f64| (a - f).max(0.0) * m;
    let over = |a: f64, f: f64, m: f64| (f - a).max(0.0) * m;
    assert!((h8.under_node_min - under(actual, forecast, 15.0)).abs() < 1e-9, "{h8:?}");
    assert!((h8.over_node_min - over(actual, forecast, 15.0)).abs() < 1e-9, "{h8:?}");
    assert!((h9.under_node_min - under(actual2, forecast2, 10.0)).abs() < 1e-9, "{h9:?}");
    assert!((h9.over_node_min - over(actual2, forecast2, 10.0)).abs() < 1e-9, "{h9:?}");
    assert!(h8.over_node_min + h8.under_node_min + h9.over_node_min + h9.under_node_min > 0.0, "some error to see");
}

#[path = "handler_predictive_tests.rs"]
mod predictive;

#[test]
fn the_newest_matching_sample_is_the_same_in_any_order() {
    let at = |s: i64| t0() + Duration::seconds(s);
    let sample = |s: i64, pending: Option<u32>| Sample { pending_pods: pending, ..Sample::at(at(s)) };
    // Two samples at the same instant: the later one fed is the newest, as `max_by_key` has it.
    let ordered =
        vec![sample(0, Some(1)), sample(15, Some(2)), sample(30, Some(3)), sample(30, Some(4)), sample(45, None)];
    let mut shuffled = ordered.clone();
    shuffled.swap(0, 4);
    for samples in [&ordered, &shuffled] {
        let found = super::newest(samples, |s| s.at, |s| s.pending_pods.is_some());
        assert_eq!(found.and_then(|s| s.pending_pods), Some(4), "{samples:?}");
        assert!(super::newest(samples, |s| s.at, |s| s.at > at(60)).is_none());
    }
}
