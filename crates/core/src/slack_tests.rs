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
        NotificationEvent::Recovered {
            what: "Prometheus".into(),
            message: "Prometheus answers again after 14m30s; metric-driven scaling resumed".into(),
        },
        NotificationEvent::SignalsMissing {
            signals: vec!["cpu".into(), "memory".into()],
            detail: "cpu (PROMQL_CPU, from node-exporter) and memory (PROMQL_MEMORY, from node-exporter) returned no series for 11m; scaling on them is off until they do".into(),
        },
        NotificationEvent::UnhostablePods { pods: 2, new_node_cpu_millis: 1800, new_node_memory_mib: 1472 },
        NotificationEvent::NoRemovableNode {
            reasons: vec![
                "ip-10-0-1-5: Pdb (shop/api allows 0 disruptions)".into(),
                "ip-10-0-2-7: SingleReplica".into(),
            ],
            look_again_at: "2026-11-24T03:00:00Z".parse().unwrap(),
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

fn failure(message: &str) -> Notification {
    Notification::new(
        "prod",
        at(),
        NotificationEvent::ScalingFailure {
            decision_id: None,
            error_type: FailureType::Ec2QuotaExceeded,
            message: message.into(),
            recommendation: None,
        },
    )
}

fn texts(message: &Value) -> Vec<String> {
    let mut out = vec![message["text"].as_str().unwrap().to_string()];
    for block in message["blocks"].as_array().unwrap() {
        for text in [&block["text"]["text"], &block["elements"][0]["text"]] {
            if let Some(t) = text.as_str() {
                out.push(t.to_string());
            }
        }
        for field in block["fields"].as_array().into_iter().flatten() {
            out.push(field["text"].as_str().unwrap().to_string());
        }
    }
    out
}

#[test]
fn text_from_the_world_is_escaped_for_mrkdwn() {
    let message = notification_message(&failure("<!channel> a < b && c > d"), &links());
    let reason = &message["blocks"][1]["text"]["text"];
    assert_eq!(reason, "*Reason*\n&lt;!channel&gt; a &lt; b &amp;&amp; c &gt; d", "our *bold* stays markup");
    assert!(!serde_json::to_string(&message).unwrap().contains("<!channel>"), "no mention reaches Slack");
    assert_eq!(escape("plain text, `code` and *bold*"), "plain text, `code` and *bold*", "only & < > change");

    let alarm = AlarmMessage {
        alarm_name: "cpu>90 & rising".into(),
        alarm_description: Some("pages <@U123>".into()),
        new_state_value: "ALARM".into(),
        old_state_value: Some("OK".into()),
        new_state_reason: Some("3 > 2".into()),
        state_change_time: None,
        region: Some("a<b".into()),
    };
    let links =
        Links { dashboard_url: Some("https://grafana.example.com/d/k3s?from=now-1h&to=now".into()), logs_url: None };
    let message = alarm_message(&alarm, &links);
    assert_eq!(message["text"], "🔴 CloudWatch alarm ALARM: cpu&gt;90 &amp; rising");
    assert_eq!(message["blocks"][0]["text"]["text"], "🔴 CloudWatch alarm ALARM: cpu>90 & rising", "plain_text as is");
    assert_eq!(message["blocks"][1]["text"]["text"], "*Reason*\n3 &gt; 2");
    let all = serde_json::to_string(&message).unwrap();
    assert!(all.contains("pages &lt;@U123&gt;") && all.contains("*Region*\\na&lt;b"), "{all}");
    // A link we build (a button's URL) is not mrkdwn: its `&` stays as the URL needs it.
    let actions = message["blocks"].as_array().unwrap().last().unwrap();
    assert_eq!(actions["elements"][0]["url"], "https://grafana.example.com/d/k3s?from=now-1h&to=now");
}

#[test]
fn every_text_stays_within_block_kit_limits() {
    // Multi-byte, wide and escaped characters at every limit.
    let long = "é<🟢&".repeat(2000);
    let message = notification_message(&failure(&long), &links());
    let reason = message["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(reason.encode_utf16().count() <= SECTION_TEXT_MAX, "{}", reason.len());
    assert!(reason.encode_utf16().count() >= SECTION_TEXT_MAX - 6, "cut near the limit, not far below it");
    assert!(reason.ends_with('…'), "the cut is marked");
    let body = reason.strip_suffix('…').unwrap();
    let last_amp = body.rfind('&').unwrap();
    assert!(body[last_amp..].contains(';'), "no entity cut in two: {}", &body[last_amp..]);

    let alarm = AlarmMessage {
        alarm_name: "x".repeat(400),
        alarm_description: Some("d".repeat(5000)),
        new_state_value: "ALARM".into(),
        old_state_value: None,
        new_state_reason: Some("r".repeat(5000)),
        state_change_time: Some("t".repeat(3000)),
        region: None,
    };
    let message = alarm_message(&alarm, &links());
    let header = message["blocks"][0]["text"]["text"].as_str().unwrap();
    assert_eq!(header.encode_utf16().count(), HEADER_MAX);
    assert!(header.ends_with("x…"));
    for text in texts(&message) {
        assert!(text.encode_utf16().count() <= SECTION_TEXT_MAX, "{}", text.len());
    }
    let time = message["blocks"][2]["fields"][0]["text"].as_str().unwrap();
    assert_eq!(time.encode_utf16().count(), FIELD_TEXT_MAX, "a field's limit is 2000");
}

#[test]
fn truncation_cuts_on_a_char_boundary() {
    assert_eq!(truncate("short", 10), "short");
    assert_eq!(truncate("abcdef", 4), "abc…");
    // 🟢 is two UTF-16 units: it does not fit in the last unit before the ellipsis.
    assert_eq!(truncate("ab🟢cd", 4), "ab…");
    assert_eq!(truncate("ééééé", 3), "éé…");
    assert_eq!(truncate_mrkdwn("a &amp; b", 5), "a …", "the entity goes whole or not at all");
    assert_eq!(truncate_mrkdwn("a &amp; b", 8), "a &amp;…");
}

#[test]
fn snapshot_texts_are_within_limits_and_escaped() {
    for event in every_kind() {
        let message = notification_message(&Notification::new("prod", at(), event), &links());
        for text in texts(&message) {
            assert!(text.encode_utf16().count() <= SECTION_TEXT_MAX);
        }
        for text in texts(&message).iter().skip(2) {
            assert!(!text.contains('<') && !text.contains('>'), "escaped: {text}");
        }
    }
}
