//! Snapshot tests: the Block Kit JSON for each kind is pinned in `snapshots/slack/`. After an
//! intended change, regenerate with `UPDATE_SNAPSHOTS=1 cargo test -p smartscale-core` and
//! review the diff.

use super::*;
use crate::notification::Severity;

fn at() -> DateTime<Utc> {
    "2026-11-27T20:04:00Z".parse().unwrap()
}

fn links() -> Links {
    Links {
        dashboard_url: Some("https://grafana.example.com/d/k3s".into()),
        logs_url: Some("https://console.aws.amazon.com/cloudwatch/home#logsV2".into()),
    }
}

fn instance(id: &str, az: &str, lifecycle: Lifecycle) -> InstanceSummary {
    InstanceSummary {
        instance_id: id.into(),
        availability_zone: az.into(),
        instance_type: "t3.small".into(),
        lifecycle,
    }
}

fn every_kind() -> Vec<NotificationEvent> {
    vec![
        NotificationEvent::ScaleUpStarted {
            decision_id: "dec-1".into(),
            from_nodes: 4,
            to_nodes: 6,
            reasons: vec![
                "7 pending pods for 3m30s (> 3m00s)".into(),
                "cpu 86.4% > 70% for 4m00s".into(),
                "urgent: +2".into(),
            ],
        },
        NotificationEvent::ScaleUpCompleted {
            decision_id: "dec-1".into(),
            instances: vec![
                instance("i-0a1b2c3d4e5f60718", "us-east-1a", Lifecycle::Spot),
                instance("i-0f1e2d3c4b5a69788", "us-east-1b", Lifecycle::OnDemand),
            ],
            new_total: 6,
        },
        NotificationEvent::ScaleDownStarted {
            decision_id: "dec-2".into(),
            from_nodes: 6,
            to_nodes: 5,
            reasons: vec!["cpu 12.0% < 30% for 10m30s".into()],
        },
        NotificationEvent::ScaleDownCompleted {
            decision_id: "dec-2".into(),
            node: "ip-10-0-11-9".into(),
            instance_id: "i-0a1b2c3d4e5f60718".into(),
            reason: "cpu 12.0% < 30% for 10m30s".into(),
            new_total: 5,
        },
        NotificationEvent::CapacityFallback {
            decision_id: "dec-3".into(),
            wanted: "spot in any configured pool".into(),
            launched: "on-demand t3.small in us-east-1a".into(),
            reason: "InsufficientInstanceCapacity for spot t3.small in us-east-1a".into(),
        },
        NotificationEvent::ScalingFailure {
            decision_id: Some("dec-4".into()),
            error_type: FailureType::Ec2QuotaExceeded,
            message:
                "VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU limit of 32 allows"
                    .into(),
            recommendation: None,
        },
        NotificationEvent::AtMaxCapacity {
            node_count: 10,
            max_nodes: 10,
            reasons: vec!["cpu 92.0% > 70% for 6m00s".into()],
        },
        NotificationEvent::SpotInterruption {
            instance_id: "i-0a1b2c3d4e5f60718".into(),
            node: Some("ip-10-0-11-9".into()),
            event: "EC2 Spot Instance Interruption Warning".into(),
            action: "cordoned; draining within 90 s; replacement requested".into(),
        },
    ]
}

fn check_snapshot(name: &str, actual: &Value) {
    let path = format!("{}/snapshots/slack/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let rendered = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing snapshot {path}; run with UPDATE_SNAPSHOTS=1"));
    assert_eq!(rendered, expected, "snapshot {name} changed; review and regenerate with UPDATE_SNAPSHOTS=1");
}

#[test]
fn every_notification_kind_matches_its_snapshot() {
    let kinds = every_kind();
    assert_eq!(kinds.len(), NotificationEvent::KINDS.len(), "a snapshot for every kind");
    for event in kinds {
        let kind = event.kind();
        let message = notification_message(&Notification::new("prod", at(), event), &links());
        check_snapshot(kind, &message);
    }
}

#[test]
fn an_alarm_matches_its_snapshot() {
    let alarm: AlarmMessage = serde_json::from_value(serde_json::json!({
        "AlarmName": "smartscale-dlq-not-empty",
        "AlarmDescription": "Work messages are failing into the dead-letter queue",
        "AWSAccountId": "123456789012",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint [3.0 (27/11/26 20:03:00)] was greater than the threshold (0.0).",
        "StateChangeTime": "2026-11-27T20:04:00.123+0000",
        "Region": "US East (N. Virginia)",
        "OldStateValue": "OK",
        "Trigger": {"MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS"}
    }))
    .unwrap();
    check_snapshot("alarm", &alarm_message(&alarm, &links()));
}

#[test]
fn emoji_cost_and_recommendations() {
    let messages: Vec<(NotificationEvent, Value)> = every_kind()
        .into_iter()
        .map(|e| (e.clone(), notification_message(&Notification::new("prod", at(), e), &Links::default())))
        .collect();
    let text = |v: &Value| v["text"].as_str().unwrap().to_string();
    assert!(text(&messages[0].1).starts_with("🟢"));
    assert!(text(&messages[3].1).starts_with("🔵"));
    assert!(text(&messages[5].1).starts_with("🔴"));
    assert!(text(&messages[6].1).starts_with("⚠️"));
    assert!(text(&messages[7].1).starts_with("🟠"));
    let all = serde_json::to_string(&messages[1].1).unwrap();
    assert!(all.contains("+$0.67/day"), "one Spot and one On-Demand t3.small: {all}");
    assert!(serde_json::to_string(&messages[6].1).unwrap().contains("Raise MAX_NODES or optimise the workload"));
    assert!(serde_json::to_string(&messages[5].1).unwrap().contains("Request an EC2 quota increase or enable Spot"));
    assert!(!all.contains("\"actions\""), "no buttons without links");
    assert_eq!(messages[5].0.severity(), Severity::Critical);
}
