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
