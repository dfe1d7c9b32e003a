//! `smartscale invoke`: every recorded event in events/ through its real handler, in-process.

use std::process::Command;

use serde_json::Value;

fn invoke(handler: &str, event: &str) -> Value {
    let path = format!("{}/../../events/{event}.json", env!("CARGO_MANIFEST_DIR"));
    let out =
        Command::new(env!("CARGO_BIN_EXE_smartscale")).args(["invoke", handler, "--event", &path]).output().unwrap();
    assert!(out.status.success(), "{handler} {event}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn kinds(list: &Value, path: &str) -> Vec<String> {
    list.as_array().unwrap().iter().map(|v| v.pointer(path).and_then(Value::as_str).unwrap_or("").to_string()).collect()
}

#[test]
fn the_decider_scales_up_for_the_unschedulable_pods() {
    let done = invoke("decider", "eventbridge-scheduled");
    assert_eq!(done["response"]["taken"], "scale_up_requested", "{done}");
    assert_eq!(done["response"]["decision"]["target_nodes"], 5);
    assert_eq!(kinds(&done["messages_sent"], "/body/kind"), ["scale_up_request"]);
    assert_eq!(kinds(&done["notifications"], "/kind"), ["scale_up_started"]);
    assert_eq!(done["state"]["lock_owner"], done["response"]["decision_id"], "the lock is held until the work is done");
}

#[test]
fn the_scale_up_worker_launches_and_schedules_its_join_check() {
    let done = invoke("scale-up", "sqs-scale-up-request");
    assert_eq!(done["response"]["batchItemFailures"], Value::Array(vec![]));
    let launches: Vec<&Value> =
        done["ec2_calls"].as_array().unwrap().iter().filter(|c| c.as_str().unwrap().starts_with("Launch")).collect();
    assert_eq!(launches.len(), 2, "{done}");
    assert_eq!(kinds(&done["messages_sent"], "/body/kind"), ["join_check"]);
    assert_eq!(done["messages_sent"][0]["delay_s"], 15, "the wait is a delayed message, not a sleep");

    let done = invoke("scale-up", "sqs-join-check");
    assert_eq!(kinds(&done["notifications"], "/kind"), ["scale_up_completed"]);
    assert_eq!(done["state"]["lock_owner"], Value::Null, "released");
}

#[test]
fn the_drain_worker_refuses_a_busy_cluster_with_reasons() {
    // Every node is full and pods are pending: no node's pods fit elsewhere.
    let done = invoke("drain", "sqs-drain-request");
    assert_eq!(done["response"]["batchItemFailures"], Value::Array(vec![]));
    assert_eq!(kinds(&done["notifications"], "/kind"), ["no_removable_node"]);
    assert!(!done["kubernetes_calls"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().starts_with("Evict")));
}

#[test]
fn the_spot_handler_takes_every_recorded_ec2_event() {
    for event in [
        "eventbridge-spot-interruption-warning",
        "sqs-wrapped-spot-interruption-warning",
        "eventbridge-health-scheduled-change",
    ] {
        let done = invoke("spot", event);
        assert!(done["kubernetes_calls"].to_string().contains("Cordon"), "{event}: {done}");
        assert_eq!(kinds(&done["messages_sent"], "/body/kind"), ["drain_request", "scale_up_request"], "{event}");
        assert_eq!(kinds(&done["notifications"], "/kind"), ["spot_interruption"], "{event}");
    }
    let done = invoke("spot", "eventbridge-rebalance-recommendation");
    assert!(done["messages_sent"].as_array().unwrap().is_empty(), "a rebalance only cordons: {done}");
    let done = invoke("spot", "eventbridge-instance-terminated");
    assert_eq!(done["response"]["handled"], "acted");
}

#[test]
fn the_slack_forwarder_formats_a_notification() {
    let done = invoke("slack", "sns-scale-up-started");
    let messages = done["slack_messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert!(messages[0]["blocks"][0]["text"]["text"].as_str().unwrap().contains("3 → 5 nodes"), "{done}");
}

#[test]
fn a_wrong_handler_or_event_is_named() {
    let scheduled = format!("{}/../../events/eventbridge-scheduled.json", env!("CARGO_MANIFEST_DIR"));
    for (handler, expected) in [("fly", "unknown handler \"fly\""), ("drain", "missing field `Records`")] {
        let out = Command::new(env!("CARGO_BIN_EXE_smartscale"))
            .args(["invoke", handler, "--event", &scheduled])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains(expected), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
