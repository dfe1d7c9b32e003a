//! `smartscale simulate` from the command line.

use std::process::Command;

fn smartscale(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_smartscale")).args(args).output().unwrap()
}

#[test]
fn prints_a_summary_and_json() {
    let out = smartscale(&["simulate", "--days", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("unschedulable pod-minutes") && text.contains("cost"), "{text}");
    let out = smartscale(&["simulate", "--days", "1", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["policy"], "smartscale");
    assert_eq!(json["pods_lost"], 0);
}

#[test]
fn a_bad_trace_is_refused_with_its_line() {
    let dir = std::env::temp_dir().join(format!("smartscale-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text, expected) in [
        ("no-header.csv", "2014-07-01T04:00:00Z,1\n", "no-header.csv:1"),
        ("bad-time.csv", "timestamp,value\n2014-07-01T04:00:00Z,1\nnoon,2\n", "bad-time.csv:3"),
        ("negative.csv", "timestamp,value\n2014-07-01T04:00:00Z,1\n2014-07-01T04:05:00Z,-2\n", "negative.csv:3"),
        ("text.csv", "timestamp,value\n2014-07-01T04:00:00Z,many\n", "text.csv:2"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let out = smartscale(&["simulate", "--trace", path.to_str().unwrap()]);
        assert!(!out.status.success(), "{name} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
}

#[test]
fn compare_prints_every_policy_and_json_with_the_issue_fields() {
    let out = smartscale(&["compare", "--days", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for policy in ["smartscale", "predictive", "reactive-seed", "ca-like", "static", "static-5", "oracle"] {
        assert!(text.lines().any(|l| l.starts_with(policy)), "{policy} missing:\n{text}");
    }
    let out = smartscale(&["compare", "--days", "1", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 7);
    for field in [
        "cost_usd",
        "oracle_cost_usd",
        "static_cost_usd",
        "savings_vs_static_pct",
        "cost_vs_oracle",
        "unschedulable_pod_minutes",
        "total_pod_minutes",
        "max_pending_duration_s",
        "p95_time_to_capacity_s",
        "p95_pending_to_launch_s",
        "p95_launch_to_ready_s",
        "scale_ups",
        "scale_downs",
        "thrash_events",
        "spot_interruptions",
        "pdb_violations",
        "pods_lost",
        "dlq_messages",
    ] {
        assert!(json[0].get(field).is_some(), "{field} missing");
    }
}

#[test]
fn a_policy_and_handler_settings_can_be_chosen() {
    let out = smartscale(&["simulate", "--days", "1", "--policy", "ca-like", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["policy"], "ca-like");

    for (args, expected) in [
        (vec!["simulate", "--policy", "fastest"], "unknown policy \"fastest\""),
        (vec!["simulate", "--set", "MIN_NODES"], "expected KEY=VALUE"),
        (vec!["simulate", "--set", "MIN_NODES=twelve"], "MIN_NODES"),
        (vec!["simulate", "--spot-share", "2"], "--spot-share"),
    ] {
        let out = smartscale(&args);
        assert!(!out.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn bench_times_whole_runs() {
    let out = smartscale(&["simulate", "--days", "1", "--bench", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("2 runs: min") && text.contains("steps/s"), "{text}");
}

#[test]
fn faults_are_injected_and_a_bad_kind_or_rate_is_named() {
    let out = smartscale(&["simulate", "--days", "1", "--faults", "lock-race=0.2,kube-api-error=0.3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for line in ["on-demand floor short", "orphan instances", "decider errors", "fault episodes / alerts"] {
        assert!(text.contains(line), "{line}: {text}");
    }
    assert!(text.contains("lock-race ") && text.contains("kube-api-error "), "{text}");
    let out = smartscale(&["compare", "--days", "1", "--json", "--faults", "prometheus-outage=4"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let smartscale_run = &runs[0];
    assert_eq!(smartscale_run["policy"], "smartscale");
    assert!(smartscale_run["faults_injected"]["prometheus-outage"].as_u64().unwrap() > 0, "{smartscale_run}");
    assert_eq!(smartscale_run["fault_alerts"], smartscale_run["fault_episodes"], "{smartscale_run}");
    assert_eq!(smartscale_run["on_demand_floor_minutes_short"], 0.0);
    for (faults, expected) in [
        ("prometheus=1", "unknown fault kind \"prometheus\""),
        ("lock-race=2", "lock-race=2: RATE must be a probability"),
        ("quota=1.5", "whole number"),
    ] {
        let out = smartscale(&["simulate", "--days", "1", "--faults", faults]);
        assert_eq!(out.status.code(), Some(2), "{faults} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--faults") && stderr.contains(expected), "{faults}: {stderr}");
    }
}
