//! The decider end to end on its real adapters: moto_server for DynamoDB, EC2, SQS and SNS, and
//! a real Prometheus holding the synthetic backfill. Each test builds its own table, queues
//! and topic, launches tagged instances, and runs the handler with the recorded event.

use std::time::{Duration as StdDuration, Instant};

use aws_config::SdkConfig;
use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Context, LambdaEvent};
use smartscale_core::config::MapConfig;
use smartscale_core::decide::BlockedBy;
use smartscale_core::emf::Metric;
use smartscale_core::fakes::{FakeClock, FakeMetricsSink};
use smartscale_core::messages::WorkMessage;
use smartscale_core::notification::{FailureType, Notification, NotificationEvent};
use smartscale_core::ports::StateStore;
use smartscale_core::state::ScaleAction;
use smartscale_core::Error as CoreError;
use smartscale_decider::wiring::{aws_deps, AwsDeps};
use smartscale_decider::{handle, Error, MetricsOrigin, Outcome, ScheduledEvent, Taken};
use smartscale_testbed::backfill::{Window, HIGH_CPU, PENDING_PODS, QUIET};
use smartscale_testbed::moto::{self, Queues};

const EVENT: &str = include_str!("../../../events/eventbridge-scheduled.json");

fn event() -> LambdaEvent<ScheduledEvent> {
    LambdaEvent::new(serde_json::from_str(EVENT).unwrap(), Context::default())
}

struct Stage {
    sdk: SdkConfig,
    cluster: String,
    table: String,
    queues: Queues,
    topic_arn: String,
    notifications_url: String,
}

impl Stage {
    async fn new(nodes: usize) -> Stage {
        let sdk = moto::sdk().await;
        let cluster = smartscale_testbed::unique("k3s");
        let table = moto::state_table(&sdk).await;
        let queues = moto::queues(&sdk, 3).await;
        let (topic_arn, notifications_url) = moto::topic_with_subscriber(&sdk).await;
        moto::managed_instances(&sdk, &cluster, nodes).await;
        Stage { sdk, cluster, table, queues, topic_arn, notifications_url }
    }

    fn config(&self, prometheus_url: &str) -> MapConfig {
        MapConfig::new()
            .with("CLUSTER_ID", &self.cluster)
            .with("DYNAMODB_TABLE", &self.table)
            .with("SCALE_UP_QUEUE_URL", &self.queues.scale_up_url)
            .with("DRAIN_QUEUE_URL", &self.queues.drain_url)
            .with("SNS_TOPIC_ARN", &self.topic_arn)
            .with("PROMETHEUS_URL", prometheus_url)
    }

    async fn deps(&self, config: MapConfig, at: DateTime<Utc>) -> AwsDeps<FakeClock, FakeMetricsSink> {
        aws_deps(&self.sdk, &config, FakeClock::new(at), FakeMetricsSink::new()).await.expect("wire the decider")
    }

    async fn run_at(&self, at: DateTime<Utc>) -> (Outcome, FakeMetricsSink) {
        let deps = self.deps(self.config(&smartscale_testbed::prometheus_url()), at).await;
        let outcome = handle(event(), &deps).await.expect("decider run");
        (outcome, deps.sink.clone())
    }

    async fn sent(&self, queue_url: &str) -> Vec<WorkMessage> {
        moto::receive_all(&self.sdk, queue_url).await.iter().map(|m| WorkMessage::decode(&m.body).unwrap()).collect()
    }

    async fn notifications(&self) -> Vec<Notification> {
        moto::receive_all(&self.sdk, &self.notifications_url)
            .await
            .iter()
            .map(|m| Notification::decode(&m.body).unwrap())
            .collect()
    }

    async fn state(&self) -> smartscale_core::state::StateItem {
        smartscale_aws::DynamoStateStore::new(&self.sdk, &self.table)
            .get(&self.cluster)
            .await
            .unwrap()
            .expect("state item")
    }
}

async fn scale_up_story(window: Window, nodes: usize, expected_count: u32, reason: &str) {
    let stage = Stage::new(nodes).await;
    let (outcome, sink) = stage.run_at(window.eval_at()).await;
    assert_eq!(outcome.taken, Taken::ScaleUpRequested { count: expected_count }, "{}: {outcome:?}", window.name);
    assert_eq!(outcome.metrics, MetricsOrigin::Live);
    assert_eq!(outcome.node_count, nodes as u32);

    let sent = stage.sent(&stage.queues.scale_up_url).await;
    let [WorkMessage::ScaleUpRequest(request)] = sent.as_slice() else { panic!("{}: {sent:?}", window.name) };
    assert_eq!(request.count, expected_count);
    assert_eq!(request.cluster_id, stage.cluster);
    assert!(request.reason.contains(reason), "{}: {}", window.name, request.reason);
    assert!(stage.sent(&stage.queues.drain_url).await.is_empty());

    let state = stage.state().await;
    assert!(state.lock_held_at(window.eval_at()));
    assert_eq!(state.lock_owner, request.lock_token);
    assert_eq!(state.last_scale_action, Some(ScaleAction::ScaleUp));
    assert_eq!(state.node_count, nodes as u32);
    assert!(state.metrics_snapshot.is_some());

    let kinds: Vec<&str> = stage.notifications().await.iter().map(|n| n.event.kind()).collect();
    assert_eq!(kinds, vec!["scale_up_started"]);
    assert_eq!(sink.total(Metric::ScaleUpEvents), 1.0);
}

#[tokio::test]
async fn high_cpu_window_requests_one_node() {
    scale_up_story(HIGH_CPU, 3, 1, "cpu 80.0% > 70%").await;
}

#[tokio::test]
async fn pending_pods_window_requests_two_nodes() {
    scale_up_story(PENDING_PODS, 3, 2, "3 pending pods for").await;
}

#[tokio::test]
async fn quiet_window_requests_a_drain() {
    let stage = Stage::new(4).await;
    let (outcome, sink) = stage.run_at(QUIET.eval_at()).await;
    assert_eq!(outcome.taken, Taken::DrainRequested, "{outcome:?}");
    let sent = stage.sent(&stage.queues.drain_url).await;
    let [WorkMessage::DrainRequest(request)] = sent.as_slice() else { panic!("{sent:?}") };
    assert!(request.reason.contains("cpu 10.0% < 30%"), "{}", request.reason);
    assert_eq!(stage.state().await.last_scale_action, Some(ScaleAction::ScaleDown));
    assert_eq!(sink.total(Metric::ScaleDownEvents), 1.0);
    let memory = sink.batches()[0].value(Metric::ClusterMemoryUtilization).unwrap();
    assert!((memory - 30.0).abs() < 0.01, "{memory}");
}

#[tokio::test]
async fn prometheus_stopped_retries_then_uses_the_snapshot_then_gives_up_loudly() {
    // At max capacity nothing is sent, so the lock stays free across the three runs.
    let stage = Stage::new(3).await;
    let at = HIGH_CPU.eval_at();
    let live = stage.deps(stage.config(&smartscale_testbed::prometheus_url()).with("MAX_NODES", "3"), at).await;
    let first = handle(event(), &live).await.unwrap();
    assert_eq!(first.metrics, MetricsOrigin::Live);
    assert_eq!(first.decision.unwrap().blocked_by, Some(BlockedBy::MaxNodes));

    let stopped = smartscale_testbed::closed_port_url();
    let down = stage.deps(stage.config(&stopped).with("MAX_NODES", "3"), at + Duration::seconds(120)).await;
    let started = Instant::now();
    let second = handle(event(), &down).await.unwrap();
    assert!(started.elapsed() >= StdDuration::from_millis(750), "Prometheus was not retried");
    assert_eq!(second.metrics, MetricsOrigin::CachedSnapshot { age_s: 120 });
    assert_eq!(second.decision.unwrap().blocked_by, Some(BlockedBy::MaxNodes), "the cached CPU still reads high");

    let later = stage.deps(stage.config(&stopped).with("MAX_NODES", "3"), at + Duration::seconds(421)).await;
    let third = handle(event(), &later).await.unwrap();
    assert!(matches!(third.metrics, MetricsOrigin::Unavailable { .. }), "{third:?}");
    assert_eq!(third.taken, Taken::NoAction);
    assert_eq!(third.decision.unwrap().blocked_by, Some(BlockedBy::NoData));
    let failures: Vec<Notification> = stage
        .notifications()
        .await
        .into_iter()
        .filter(|n| {
            matches!(n.event, NotificationEvent::ScalingFailure { error_type: FailureType::PrometheusUnavailable, .. })
        })
        .collect();
    assert_eq!(failures.len(), 1, "exactly the third run reports Prometheus unavailable");
    assert!(stage.sent(&stage.queues.scale_up_url).await.is_empty());
    let batch = &later.sink.batches()[0];
    assert_eq!(batch.dimension(Metric::ScalingFailures), Some(("ErrorType", "PrometheusUnavailable")));
}

#[tokio::test]
async fn malformed_config_is_a_clear_error_naming_the_variable() {
    let stage = Stage::new(0).await;
    let prom = smartscale_testbed::prometheus_url();
    let cases = [
        (MapConfig::new().with("CLUSTER_ID", "c"), "DYNAMODB_TABLE"),
        (stage.config(&prom).with("SCALE_UP_QUEUE_URL", "scale-up"), "SCALE_UP_QUEUE_URL"),
        (stage.config(&prom).with("SNS_TOPIC_ARN", "topic"), "SNS_TOPIC_ARN"),
        (stage.config("localhost:9090"), "PROMETHEUS_URL"),
        (stage.config(&prom).with("MAX_NODES", "1"), "MIN_NODES"),
    ];
    for (config, var) in cases {
        match aws_deps(&stage.sdk, &config, FakeClock::new(QUIET.eval_at()), FakeMetricsSink::new()).await {
            Err(Error::Core(CoreError::Config { var: got, message })) => {
                assert_eq!(got, var, "{message}")
            }
            Err(other) => panic!("{var}: unexpected error {other}"),
            Ok(_) => panic!("{var}: accepted a bad configuration"),
        }
    }
}

#[tokio::test]
async fn an_unreachable_moto_is_a_clear_error_not_a_panic() {
    let stage = Stage::new(0).await;
    let sdk = smartscale_aws::local_sdk_config(&smartscale_testbed::closed_port_url()).await;
    let config = stage.config(&smartscale_testbed::prometheus_url());
    let deps = aws_deps(&sdk, &config, FakeClock::new(QUIET.eval_at()), FakeMetricsSink::new()).await.unwrap();
    let err = handle(event(), &deps).await.unwrap_err();
    assert!(err.to_string().contains("dynamodb unavailable"), "{err}");
    let diagnostic: lambda_runtime::Diagnostic = err.into();
    assert_eq!(diagnostic.error_type, "DependencyUnavailable");
}
