//! `smartscale decide` end to end: the documented examples, stdin, and bad input.

mod common;

use common::smartscale;

fn example(name: &str) -> String {
    format!("{}/../../docs/examples/decide-{name}.json", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn documented_examples_decide_as_documented() {
    let expected = [
        ("cpu-high", "scale_up", 1, None),
        ("flash-sale-pending-pods", "scale_up", 2, None),
        ("night-quiet", "scale_down", -1, None),
        ("at-max-capacity", "none", 0, Some("max_nodes")),
        ("cooldown", "none", 0, Some("cooldown")),
        ("lock-held", "none", 0, Some("lock_held")),
        ("prometheus-gap", "none", 0, Some("no_data")),
    ];
    for (name, action, delta, blocked_by) in expected {
        let out = smartscale(&["decide", "--input", &example(name)], None);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["action"], action, "{name}: {json}");
        assert_eq!(json["delta"], delta, "{name}: {json}");
        assert_eq!(json["blocked_by"].as_str(), blocked_by, "{name}: {json}");
        assert!(!json["reasons"].as_array().unwrap().is_empty(), "{name}");
    }
}

#[test]
fn reads_standard_input() {
    let text = std::fs::read_to_string(example("cpu-high")).unwrap();
    let out = smartscale(&["decide", "--input", "-"], Some(&text));
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["target_nodes"], 5);
}

#[test]
fn bad_input_exits_non_zero_naming_the_field() {
    let out = smartscale(
        &["decide", "--input", "-"],
        Some(r#"{"now":"2026-11-23T12:00:00Z","state":{"node_count":"four"}}"#),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("state.node_count"), "{stderr}");
    assert!(out.stdout.is_empty());

    let out = smartscale(&["decide", "--input", "/nonexistent/scenario.json"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/scenario.json"));
}
