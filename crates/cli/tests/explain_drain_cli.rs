//! `smartscale explain-drain` end to end on the documented snapshot.

use std::process::Command;

#[test]
fn explains_the_documented_snapshot() {
    let snapshot = format!("{}/../../docs/examples/explain-drain-snapshot.json", env!("CARGO_MANIFEST_DIR"));
    let out =
        Command::new(env!("CARGO_BIN_EXE_smartscale")).args(["explain-drain", "--input", &snapshot]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["chosen"], "ip-10-0-11-9");
    let verdict = |node: &str| plan["verdicts"].as_array().unwrap().iter().find(|v| v["node"] == node).unwrap().clone();
    assert_eq!(
        verdict("ip-10-0-11-5")["reasons"][0],
        serde_json::json!({"rule": "pdb", "pod": "shop/api-7f9-a", "pdb": "shop/api"})
    );
    assert_eq!(verdict("ip-10-0-11-5")["removable"], false);
    let redis_node = verdict("ip-10-0-12-8");
    let redis: Vec<&str> =
        redis_node["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert_eq!(redis, vec!["statefulset", "local_storage"]);
    assert_eq!(verdict("k3s-master")["reasons"][0]["rule"], "control_plane");
    assert_eq!(verdict("ip-10-0-11-9")["removable"], true);
}

#[test]
fn a_bad_snapshot_names_the_field() {
    let out = Command::new(env!("CARGO_BIN_EXE_smartscale"))
        .args(["explain-drain", "--input", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(br#"{"nodes":[{"name":"n1","allocatable":{"cpu_millis":"lots"}}]}"#)?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nodes[0].allocatable.cpu_millis"), "{stderr}");
}
