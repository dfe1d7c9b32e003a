//! The spot handler on every supported event type, from the recorded files in `events/`,
//! against the core fakes.

use chrono::{DateTime, Utc};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use smartscale_core::config::MapConfig;
use smartscale_core::emf::Metric;
use smartscale_core::fakes::FakeClock;
use smartscale_core::messages::{Offering, QueueName, WorkMessage};
use smartscale_core::notification::NotificationEvent;
use smartscale_core::ports::{Cluster, InstanceState, Lifecycle, Node};
use smartscale_lambda::FakeWorkerDeps;
use smartscale_spot_handler::{handle, handle_event, Handled, SpotConfig};

type TestDeps = FakeWorkerDeps<SpotConfig>;

fn t0() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

fn recorded(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// i-00000000000000001: Spot t3.small in us-east-1a; i-00000000000000002: On-Demand in
/// us-east-1b; both Ready nodes. An unmanaged i-00000000000000099 with a node too.
async fn world(extra: &[(&str, &str)]) -> TestDeps {
    let clock = FakeClock::new(t0());
    let mut config = MapConfig::new().with("CLUSTER_ID", "prod");
    for (k, v) in extra {
        config = config.with(k, v);
    }
    let deps = FakeWorkerDeps::fakes(SpotConfig::from_config(&config).unwrap(), "prod", clock);
    for (i, (az, lifecycle)) in
        [("us-east-1a", Lifecycle::Spot), ("us-east-1b", Lifecycle::OnDemand)].into_iter().enumerate()
    {
        let instance = deps.fleet.add_running("t3.small", az, lifecycle);
        deps.cluster.add_node(Node {
            name: format!("node-{}", i + 1),
            provider_id: Some(format!("aws:///{az}/{}", instance.instance_id)),
            ready: true,
            ..Default::default()
        });
    }
    deps.cluster.add_node(Node {
        name: "byo".into(),
        provider_id: Some("aws:///us-east-1a/i-00000000000000099".into()),
        ready: true,
        ..Default::default()
    });
    deps
}

async fn direct(deps: &TestDeps, event: Value) -> Result<Value, smartscale_spot_handler::Error> {
    handle(LambdaEvent::new(event, Context::default()), deps).await
}

fn sent(deps: &TestDeps) -> Vec<WorkMessage> {
    deps.queue.queued().iter().map(|q| q.message()).collect()
}

#[tokio::test]
async fn spot_warning_cordons_drains_within_90s_and_requests_a_replacement_elsewhere() {
    let deps = world(&[]).await;
    let out = direct(&deps, recorded("eventbridge-spot-interruption-warning.json")).await.unwrap();
    assert_eq!(out["handled"], "acted");
    assert!(deps.cluster.node("node-1").unwrap().unschedulable, "cordoned at once");
    let messages = sent(&deps);
    let WorkMessage::DrainRequest(drain) = &messages[0] else { panic!("{messages:?}") };
    assert_eq!(drain.node.as_deref(), Some("node-1"));
    assert_eq!(drain.deadline, Some(t0() + chrono::Duration::seconds(90)));
    assert_eq!(drain.lock_token, None, "a spot drain does not wait for the scaling lock");
    let WorkMessage::ScaleUpRequest(replacement) = &messages[1] else { panic!() };
    assert_eq!(replacement.count, 1);
    let interrupted = Offering {
        instance_type: "t3.small".into(),
        availability_zone: "us-east-1a".into(),
        lifecycle: Lifecycle::Spot,
    };
    assert_eq!(replacement.avoid, vec![interrupted.clone()]);
    assert_eq!(deps.queue.queued()[1].queue, QueueName::ScaleUp);
    let remembered = deps.state.item("prod").unwrap();
    assert_eq!(remembered.avoided_offerings(t0() + chrono::Duration::minutes(29)), vec![interrupted.clone()]);
    assert!(remembered.avoided_offerings(t0() + chrono::Duration::minutes(31)).is_empty(), "remembered for 30 min");
    let published = deps.notifier.published();
    let NotificationEvent::SpotInterruption { instance_id, node, action, .. } = &published[0].event else { panic!() };
    assert_eq!((instance_id.as_str(), node.as_deref()), ("i-00000000000000001", Some("node-1")));
    assert!(action.contains("replacement requested"), "{action}");
    assert_eq!(deps.sink.total(Metric::SpotInterruptions), 1.0);
}

#[tokio::test]
async fn the_same_event_wrapped_in_sqs_is_handled_the_same_way() {
    let deps = world(&[]).await;
    let out = direct(&deps, recorded("sqs-wrapped-spot-interruption-warning.json")).await.unwrap();
    assert_eq!(out["batchItemFailures"], json!([]));
    assert!(deps.cluster.node("node-1").unwrap().unschedulable);
    assert_eq!(sent(&deps).len(), 2);
}

#[tokio::test]
async fn a_duplicate_event_does_nothing_twice() {
    let deps = world(&[]).await;
    direct(&deps, recorded("eventbridge-spot-interruption-warning.json")).await.unwrap();
    let again = direct(&deps, recorded("eventbridge-spot-interruption-warning.json")).await.unwrap();
    assert_eq!(again["handled"], "duplicate");
    assert_eq!(sent(&deps).len(), 2);
    assert_eq!(deps.notifier.published().len(), 1);
}

#[tokio::test]
async fn rebalance_cordons_only_by_default_and_follows_the_setting() {
    let deps = world(&[]).await;
    direct(&deps, recorded("eventbridge-rebalance-recommendation.json")).await.unwrap();
    assert!(deps.cluster.node("node-1").unwrap().unschedulable);
    assert!(sent(&deps).is_empty(), "cordon only");

    let deps = world(&[("REBALANCE_ACTION", "ignore")]).await;
    let out = direct(&deps, recorded("eventbridge-rebalance-recommendation.json")).await.unwrap();
    assert_eq!(out["handled"], "ignored");
    assert!(!deps.cluster.node("node-1").unwrap().unschedulable);

    let deps = world(&[("REBALANCE_ACTION", "drain")]).await;
    direct(&deps, recorded("eventbridge-rebalance-recommendation.json")).await.unwrap();
    assert_eq!(sent(&deps).len(), 2, "drain and replacement");
}

#[tokio::test]
async fn health_scheduled_change_is_treated_like_an_interruption() {
    let deps = world(&[]).await;
    direct(&deps, recorded("eventbridge-health-scheduled-change.json")).await.unwrap();
    assert!(deps.cluster.node("node-2").unwrap().unschedulable);
    let messages = sent(&deps);
    assert!(matches!(&messages[0], WorkMessage::DrainRequest(d) if d.node.as_deref() == Some("node-2")));
    let WorkMessage::ScaleUpRequest(replacement) = &messages[1] else { panic!() };
    assert_eq!(replacement.avoid[0].lifecycle, Lifecycle::OnDemand);
    assert!(
        deps.state.item("prod").is_none_or(|i| i.unavailable_offerings.is_empty()),
        "an On-Demand pool is not remembered as short"
    );
}

#[tokio::test]
async fn a_termination_we_did_not_drain_is_reported_and_one_we_did_is_not() {
    let deps = world(&[]).await;
    deps.fleet.set_state("i-00000000000000002", InstanceState::Terminated);
    direct(&deps, recorded("eventbridge-instance-terminated.json")).await.unwrap();
    let published = deps.notifier.published();
    let NotificationEvent::SpotInterruption { action, .. } = &published[0].event else { panic!() };
    assert!(action.contains("not drained by SmartScale"), "{action}");
    assert!(sent(&deps).is_empty(), "the decider reconciles the count");
    assert_eq!(deps.sink.total(Metric::SpotInterruptions), 0.0);

    let deps = world(&[]).await;
    deps.cluster.delete_node("node-2").await.unwrap();
    direct(&deps, recorded("eventbridge-instance-terminated.json")).await.unwrap();
    assert!(deps.notifier.published().is_empty());
}

#[tokio::test]
async fn an_unmanaged_instance_is_ignored() {
    let deps = world(&[]).await;
    let mut event = recorded("eventbridge-spot-interruption-warning.json");
    event["detail"]["instance-id"] = "i-00000000000000099".into();
    let out = direct(&deps, event).await.unwrap();
    assert_eq!(out["instances"], json!([]));
    assert!(!deps.cluster.node("byo").unwrap().unschedulable);
    assert!(sent(&deps).is_empty());
}

#[tokio::test]
async fn unknown_detail_types_and_quiet_states_are_acknowledged() {
    let deps = world(&[]).await;
    let mut unknown = recorded("eventbridge-spot-interruption-warning.json");
    unknown["detail-type"] = "EC2 Fast Launch State-change Notification".into();
    assert_eq!(direct(&deps, unknown).await.unwrap()["handled"], "ignored");
    let mut running = recorded("eventbridge-instance-terminated.json");
    running["detail"]["state"] = "running".into();
    assert_eq!(direct(&deps, running).await.unwrap()["handled"], "ignored");
    assert!(sent(&deps).is_empty() && deps.notifier.published().is_empty());
}

#[tokio::test]
async fn tolerant_of_what_real_events_vary_in() {
    let deps = world(&[]).await;
    // No version, a placeholder account, a numeric id, an RFC 1123 time.
    let event = json!({
        "id": 12345, "detail-type": "EC2 Spot Instance Interruption Warning", "source": "aws.ec2",
        "account": "{{account-id}}", "time": "Mon, 23 Nov 2026 12:00:00 GMT",
        "detail": {"instance-id": "i-00000000000000001", "instance-action": "terminate"}
    });
    let handled = handle_event(&event, &deps).await.unwrap();
    assert!(matches!(handled, Handled::Acted { ref event_id, .. } if event_id == "12345"), "{handled:?}");
}

#[tokio::test]
async fn malformed_payloads_fail_clearly() {
    let deps = world(&[]).await;
    let err = direct(&deps, json!({"source": "aws.ec2", "detail-type": "EC2 Spot Instance Interruption Warning"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("detail"), "{err}");
    let err = direct(
        &deps,
        json!({"detail-type": "EC2 Spot Instance Interruption Warning", "source": "aws.ec2", "detail": {}}),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("detail.instance-id"), "{err}");
    // Wrapped in SQS: the bad record fails alone (and so reaches the DLQ); the good one is handled.
    let good = recorded("eventbridge-spot-interruption-warning.json").to_string();
    let batch = json!({"Records": [
        {"messageId": "bad", "body": "{not json"},
        {"messageId": "good", "body": good}
    ]});
    let out = direct(&deps, batch).await.unwrap();
    assert_eq!(out["batchItemFailures"], json!([{"itemIdentifier": "bad"}]));
    assert!(deps.cluster.node("node-1").unwrap().unschedulable);
}

#[tokio::test]
async fn a_k3s_api_refusing_our_credentials_reaches_a_person_once() {
    let deps = world(&[]).await;
    deps.cluster.faults.fail_always(
        smartscale_core::fakes::ClusterOp::ListNodes,
        smartscale_core::Error::rejected("kubernetes", "list nodes: HTTP 401: Unauthorized"),
    );
    let event = recorded("eventbridge-spot-interruption-warning.json");
    for _ in 0..3 {
        assert!(direct(&deps, event.clone()).await.is_err(), "retried by Lambda, then its DLQ");
    }
    let published = deps.notifier.published();
    assert_eq!(published.len(), 1, "{published:?}");
    assert!(matches!(
        &published[0].event,
        NotificationEvent::ScalingFailure { error_type: smartscale_core::notification::FailureType::Misconfigured, message, .. }
            if message.contains("401")
    ));
}

#[tokio::test]
async fn a_spot_warning_drain_is_marked_as_a_reclaim_and_its_replacement_names_the_instance() {
    let deps = world(&[]).await;
    direct(&deps, recorded("eventbridge-spot-interruption-warning.json")).await.unwrap();
    let sent = sent(&deps);
    let drain = sent.iter().find_map(|m| if let WorkMessage::DrainRequest(d) = m { Some(d) } else { None }).unwrap();
    assert!(drain.spot_reclaim);
    assert_eq!(deps.cluster.node("node-1").unwrap().cordoned_by(), Some(drain.decision_id.as_str()));
    let up = sent.iter().find_map(|m| if let WorkMessage::ScaleUpRequest(r) = m { Some(r) } else { None }).unwrap();
    assert_eq!(up.replaces.as_deref(), Some("i-00000000000000001"));
}
