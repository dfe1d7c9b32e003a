//! Bad input gets a clear error (issue 11, section 4), through the binary: trailing data and
//! arrays for objects, snapshot checks that name the field, owner kinds as Kubernetes spells
//! them, `simulate --set` keys nobody reads, and `invoke`'s logs and exit status.

mod common;

use common::smartscale;

use serde_json::{json, Value};

/// Runs `args` on `stdin`, expects the usage exit status (2), and returns standard error.
fn refused(args: &[&str], stdin: &str) -> String {
    let out = smartscale(args, Some(stdin));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{args:?} accepted {stdin}: {}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty(), "no plan or decision on bad input");
    stderr
}

fn docs(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../docs/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn node(name: &str) -> Value {
    json!({"name": name, "zone": "us-east-1a", "ready": true,
           "allocatable": {"cpu_millis": 2000, "memory_bytes": 4_000_000_000u64}})
}

fn pod(name: &str, node: &str, owner_kind: &str) -> Value {
    json!({"namespace": "shop", "name": name, "node": node, "phase": "Running", "ready": true,
           "owner": {"kind": owner_kind, "name": "web-5d8"},
           "requests": {"cpu_millis": 100, "memory_bytes": 100_000_000}})
}

fn explain(snapshot: &Value) -> Value {
    let out = smartscale(&["explain-drain", "--input", "-"], Some(&snapshot.to_string()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn decide_refuses_trailing_data_and_arrays_for_objects() {
    let scenario = docs("examples/decide-cpu-high.json");
    let args = ["decide", "--input", "-"];
    let stderr = refused(&args, &format!("{scenario}\n{scenario}"));
    assert!(stderr.contains("<root>") && stderr.contains("trailing data after the JSON value"), "{stderr}");
    let stderr = refused(&args, &format!("{}garbage", scenario.trim_end()));
    assert!(stderr.contains("trailing data"), "{stderr}");
    let stderr = refused(&args, &format!("[{scenario}]"));
    assert!(stderr.contains("invalid type: sequence, expected struct Scenario"), "{stderr}");
    // A nested object given as an array of its fields, which serde alone would take in order.
    let mut value: Value = serde_json::from_str(&scenario).unwrap();
    value["state"] = json!([4]);
    let stderr = refused(&args, &value.to_string());
    assert!(stderr.contains("`state`") && stderr.contains("expected struct"), "{stderr}");
    // The documented file itself still decides, trailing newline and all.
    assert!(smartscale(&args, Some(&format!("{scenario}\n\n"))).status.success());
}

#[test]
fn explain_drain_refuses_trailing_data_and_arrays_for_objects() {
    let snapshot = docs("examples/explain-drain-snapshot.json");
    let args = ["explain-drain", "--input", "-"];
    let stderr = refused(&args, &format!("{snapshot} {{}}"));
    assert!(stderr.contains("trailing data after the JSON value"), "{stderr}");
    let stderr = refused(&args, &format!("[{snapshot}]"));
    assert!(stderr.contains("<root>") && stderr.contains("expected struct Snapshot"), "{stderr}");
    let mut value: Value = serde_json::from_str(&snapshot).unwrap();
    value["nodes"][1] = json!(["ip-10-0-11-6", "us-east-1a"]);
    let stderr = refused(&args, &value.to_string());
    assert!(stderr.contains("`nodes[1]`") && stderr.contains("expected struct Node"), "{stderr}");
}

#[test]
fn explain_drain_names_the_field_of_an_inconsistent_snapshot() {
    let args = ["explain-drain", "--input", "-"];
    let base = json!({"min_nodes": 1, "nodes": [node("n1"), node("n2")], "pods": [pod("web-a", "n1", "ReplicaSet")]});
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut snapshot = base.clone();
        edit(&mut snapshot);
        snapshot.to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        (with(&|s| s["nodes"][1]["name"] = json!("n1")), "`nodes[1].name`: duplicate node name \"n1\" (also nodes[0])"),
        (
            with(&|s| s["pods"][0]["node"] = json!("n9")),
            "`pods[0].node`: pod shop/web-a is on node \"n9\", which is not",
        ),
        (with(&|s| drop(s["nodes"][0].as_object_mut().unwrap().remove("zone"))), "`nodes[0].zone`: missing"),
        (with(&|s| s["nodes"][0]["zone"] = Value::Null), "`nodes[0].zone`: missing"),
        (with(&|s| drop(s["nodes"][1].as_object_mut().unwrap().remove("ready"))), "`nodes[1].ready`: missing"),
        (
            with(&|s| drop(s["nodes"][1].as_object_mut().unwrap().remove("allocatable"))),
            "`nodes[1].allocatable`: missing",
        ),
        (
            with(&|s| drop(s["nodes"][1]["allocatable"].as_object_mut().unwrap().remove("cpu_millis"))),
            "`nodes[1].allocatable.cpu_millis`: missing",
        ),
        (
            with(&|s| s["pods"][0]["requests"]["cpu_millis"] = json!(-100)),
            "`pods[0].requests.cpu_millis`: invalid value: integer `-100`",
        ),
        (with(&|s| s["pods"][0]["requests"]["memory_bytes"] = json!(-1)), "`pods[0].requests.memory_bytes`"),
        (
            with(&|s| {
                s["pods"][0]["requests"]["cpu_millis"] = json!(u64::MAX);
                s["pods"].as_array_mut().unwrap().push(pod("web-b", "n1", "ReplicaSet"));
            }),
            "`pods[1].requests.cpu_millis`: the cpu_millis requests of the pods on node \"n1\" add up past",
        ),
        (
            with(&|s| s["pods"].as_array_mut().unwrap().push(pod("web-a", "n2", "ReplicaSet"))),
            "`pods[1].name`: duplicate pod shop/web-a",
        ),
    ];
    for (snapshot, expected) in cases {
        let stderr = refused(&args, &snapshot);
        assert!(stderr.contains(expected), "expected {expected:?} in: {stderr}");
    }
    // A pod not yet scheduled (no node) is fine.
    let pending = with(&|s| drop(s["pods"][0].as_object_mut().unwrap().remove("node")));
    assert!(smartscale(&args, Some(&pending)).status.success());
}

#[test]
fn owner_kinds_match_as_kubernetes_spells_them_and_an_unknown_kind_is_no_controller() {
    // web-a on n1 has a Ready twin on n2: removable when the owner is a ReplicaSet.
    let snapshot = |kind: &str| {
        json!({"min_nodes": 1, "nodes": [node("n1"), node("n2"), node("n3")],
               "pods": [pod("web-a", "n1", kind), pod("web-b", "n2", kind), pod("web-c", "n3", kind)]})
    };
    let verdict = |plan: &Value, node: &str| {
        plan["verdicts"].as_array().unwrap().iter().find(|v| v["node"] == node).unwrap().clone()
    };
    let plan = explain(&snapshot("ReplicaSet"));
    assert_eq!(verdict(&plan, "n1")["removable"], true, "{plan}");
    for kind in ["replicaset", "Replicaset", "REPLICASET", "Rollout"] {
        let plan = explain(&snapshot(kind));
        assert_eq!(plan["chosen"], Value::Null, "{kind}: {plan}");
        let reasons = &verdict(&plan, "n1")["reasons"];
        assert_eq!(
            reasons[0],
            json!({"rule": "bare_pod", "pod": "shop/web-a", "detail": format!("owner kind {kind:?} is not a known controller")}),
            "{kind}: {plan}"
        );
    }
    // A lowercase "statefulset" is no StatefulSet either: it pins its node as a bare pod.
    let plan = explain(&snapshot("statefulset"));
    assert_eq!(verdict(&plan, "n1")["reasons"][0]["rule"], "bare_pod");
}

#[test]
fn simulate_set_refuses_a_key_nobody_reads_naming_the_nearest() {
    let out = smartscale(&["simulate", "--days", "1", "--set", "MIN_NODE=3"], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`--set`: no handler reads MIN_NODE") && stderr.contains("did you mean MIN_NODES?"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    let out = smartscale(&["compare", "--days", "1", "--set", "SCALE_DOWN_FIT_CHEK=false"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("did you mean SCALE_DOWN_FIT_CHECK?"), "{stderr}");
    // A key a handler reads is taken.
    let out = smartscale(&["simulate", "--days", "1", "--json", "--set", "MIN_NODES=3"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn event(name: &str) -> String {
    format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn invoke_verbose_prints_the_handlers_log_lines_on_stderr() {
    let quiet = smartscale(&["invoke", "decider", "--event", &event("eventbridge-scheduled")], None);
    assert!(quiet.status.success());
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("decided"), "no logs without --verbose");
    let loud = smartscale(&["invoke", "decider", "--event", &event("eventbridge-scheduled"), "--verbose"], None);
    assert!(loud.status.success());
    let stderr = String::from_utf8_lossy(&loud.stderr);
    assert!(stderr.contains("INFO") && stderr.contains("decided"), "{stderr}");
    let stdout: Value = serde_json::from_slice(&loud.stdout).expect("stdout stays the invocation's JSON");
    assert_eq!(stdout["handler"], "Decider");
}

#[test]
fn invoke_exits_non_zero_when_the_handler_fails() {
    // A handler error: the forwarder cannot read the SNS message.
    let mut sns: Value =
        serde_json::from_str(&std::fs::read_to_string(event("sns-scale-up-started")).unwrap()).unwrap();
    sns["Records"][0]["Sns"]["Message"] = json!("not json");
    let out = smartscale(&["invoke", "slack", "--event", "-", "--verbose"], Some(&sns.to_string()));
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the slack handler failed: it returned an error") && stderr.contains("Sns.Message"),
        "{stderr}"
    );
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(done["response"]["error"].as_str().unwrap().contains("not JSON"), "{done}");

    // A failed message of a batch: SQS would redeliver it.
    let mut sqs: Value =
        serde_json::from_str(&std::fs::read_to_string(event("sqs-scale-up-request")).unwrap()).unwrap();
    sqs["Records"][0]["body"] = json!("{\"version\":1,\"kind\":\"scale_up_request\"}");
    let out = smartscale(&["invoke", "scale-up", "--event", "-", "--verbose"], Some(&sqs.to_string()));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 message(s) failed and would be redelivered"), "{stderr}");
    assert!(stderr.contains("ERROR") || stderr.contains("WARN"), "the handler's own log line says why: {stderr}");
}
