//! `smartscale forecast --prometheus` against Debian's real Prometheus serving a backfilled
//! cluster history whose demand follows a known daily pattern (smartscale_testbed::
//! cluster_history): the profile it fits is that demand in nodes plus the margin, read with the
//! decider's demand query; and the errors say what is wrong (credentials, a missing metric, too
//! little history, nothing listening). The `--basic-auth-secret` test needs the `aws` CLI and
//! moto_server, which scripts/check-forecast-prometheus provides; it is ignored elsewhere.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::smartscale;
use serde_json::Value;
use smartscale_testbed::cluster_history::{
    self, pods_wanted_at, ClusterHistory, PrometheusServer, AUTH_PASSWORD, AUTH_USER, POD_MEMORY_BYTES,
};

/// One new node's memory by default (NEW_NODE_MEMORY_MIB): the pattern's pods are memory-bound.
const NODE_MEMORY_BYTES: f64 = 1472.0 * 1048576.0;

fn server(days: i64, without: Vec<&'static str>, basic_auth: bool) -> (ClusterHistory, PrometheusServer) {
    let history = ClusterHistory { days, without };
    let server = PrometheusServer::start(&history.openmetrics(), basic_auth).unwrap_or_else(|e| {
        panic!(
            "this test needs Debian's prometheus and promtool (scripts/check-forecast-prometheus installs them): {e}"
        )
    });
    (history, server)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A file with the basic-auth password, removed when dropped.
struct PasswordFile(std::path::PathBuf);

impl PasswordFile {
    fn with(text: &str) -> PasswordFile {
        let path = std::env::temp_dir().join(smartscale_testbed::unique("smartscale-forecast-password"));
        std::fs::write(&path, text).unwrap();
        PasswordFile(path)
    }
    fn as_str(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for PasswordFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run(args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["forecast"];
    all.extend_from_slice(args);
    let out = smartscale(&all, None);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The pattern's demand at `t` in nodes: every wanted pod (Running, or Pending and
/// unschedulable) at its memory request, DaemonSet pods left out.
fn demand_at(t: DateTime<Utc>) -> f64 {
    f64::from(pods_wanted_at(t)) * POD_MEMORY_BYTES / NODE_MEMORY_BYTES
}

/// Fifteen days of a daily pattern behind basic auth: a daily profile whose every slot is the
/// pattern's demand × 1.1 (p90 of fourteen equal values + 10 %), and the same print as --trace.
#[test]
fn a_live_prometheus_history_gives_the_profile_its_demand_implies() {
    let (history, prometheus) = server(15, vec![], true);
    let password = PasswordFile::with(&format!("{AUTH_PASSWORD}\n"));
    let at = rfc3339(history.end());
    let auth = ["--user", AUTH_USER, "--password-file", password.as_str()];
    let mut args = vec!["--json", "--prometheus", prometheus.url.as_str(), "--at", at.as_str(), "--days", "15"];
    args.extend(auth);
    let (ok, stdout, stderr) = run(&args);
    assert!(ok, "{stderr}");
    let r: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        r["source"].as_str().unwrap().starts_with(&format!("Prometheus at {} (", prometheus.url)),
        "{}",
        r["source"]
    );
    let model = &r["model"];
    assert_eq!(model["period"], "daily", "{model}");
    let fitted_at: DateTime<Utc> = model["fitted_at"].as_str().unwrap().parse().unwrap();
    let slots = model["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 288);
    for (i, slot) in slots.iter().enumerate() {
        let t = fitted_at + Duration::minutes(5 * i as i64);
        let want = demand_at(t) * 1.1;
        let got = slot.as_f64().unwrap_or_else(|| panic!("slot {i} ({t}) has no forecast"));
        assert!((got - want).abs() < 1e-9, "slot {i} ({t}): {got} vs {want}");
    }
    assert_eq!(r["next_24h"].as_array().unwrap().len(), 24);
    assert!(r["walk_forward"]["fits"].as_u64().unwrap() > 0, "{}", r["walk_forward"]);
    // At the end of the history (Tuesday 00:00) the next 10 minutes are the night block's.
    let night = (demand_at(history.end()) * 1.1 - 1e-9).ceil();
    assert_eq!(r["now"]["nodes"].as_f64(), Some(night), "{}", r["now"]);

    // The text print is the one --trace gives.
    let mut args = vec!["--prometheus", prometheus.url.as_str(), "--at", at.as_str(), "--days", "15"];
    args.extend(auth);
    let (ok, text, stderr) = run(&args);
    assert!(ok, "{stderr}");
    for expected in [
        "forecast at 2026-01-20 00:00 Tue from Prometheus at",
        "model: daily profile, p90 of 14 days + 10 %",
        "back-test on the last cycle",
        "profile (whole nodes, highest per hour",
        "next 24 h (UTC)     forecast  actual",
        "walk-forward back-test,",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn credentials_are_asked_for_and_wrong_ones_named() {
    let (history, prometheus) = server(3, vec![], true);
    let at = rfc3339(history.end());
    let (ok, _, stderr) = run(&["--prometheus", &prometheus.url, "--at", &at, "--days", "3"]);
    assert!(!ok);
    assert!(stderr.contains("refused the metric names query with HTTP 401"), "{stderr}");
    assert!(stderr.contains("pass --user and --password-file, or --basic-auth-secret"), "{stderr}");
    let wrong = PasswordFile::with("not-the-password");
    let (ok, _, stderr) = run(&[
        "--prometheus",
        &prometheus.url,
        "--at",
        &at,
        "--days",
        "3",
        "--user",
        AUTH_USER,
        "--password-file",
        wrong.as_str(),
    ]);
    assert!(!ok);
    assert!(stderr.contains("did not accept the credentials given"), "{stderr}");
}

#[test]
fn a_missing_metric_is_named_with_its_exporter() {
    let (history, prometheus) = server(3, vec!["kube_pod_status_unschedulable"], false);
    let at = rfc3339(history.end());
    let (ok, _, stderr) = run(&["--prometheus", &prometheus.url, "--at", &at, "--days", "3"]);
    assert!(!ok);
    assert!(
        stderr.contains("has no kube_pod_status_unschedulable between")
            && stderr.contains("kube-state-metrics provides it"),
        "{stderr}"
    );
}

#[test]
fn too_little_history_says_how_much_there_is() {
    let (history, prometheus) = server(1, vec![], false);
    let at = rfc3339(history.end());
    let (ok, _, stderr) = run(&["--prometheus", &prometheus.url, "--at", &at, "--days", "14"]);
    assert!(!ok);
    assert!(stderr.contains("too little history: Prometheus at"), "{stderr}");
    assert!(stderr.contains("holds 1.01 days of demand"), "{stderr}");
    assert!(stderr.contains("needs at least 2"), "{stderr}");
    // Before the history began there is none at all.
    let before = rfc3339(cluster_history::start() - Duration::days(30));
    let (ok, _, stderr) = run(&["--prometheus", &prometheus.url, "--at", &before, "--days", "7"]);
    assert!(!ok);
    assert!(stderr.contains("has no kube_pod_status_phase, kube_pod_container_resource_requests"), "{stderr}");
}

#[test]
fn nothing_listening_is_unreachable_after_the_retries() {
    let url = smartscale_testbed::closed_port_url();
    let (ok, _, stderr) = run(&["--prometheus", &url, "--timeout-s", "2"]);
    assert!(!ok);
    assert!(stderr.contains(&format!("Prometheus at {url} is unreachable")), "{stderr}");
    assert!(stderr.contains("(after 3 attempts)"), "{stderr}");
    let (ok, _, stderr) = run(&["--prometheus", "https://prom.example"]);
    assert!(!ok);
    assert!(stderr.contains("port-forward"), "{stderr}");
    let (ok, _, stderr) = run(&["--prometheus", &url, "--days", "1"]);
    assert!(!ok);
    assert!(stderr.contains("--days: must be between 2 and 366"), "{stderr}");
    let (ok, _, stderr) = run(&["--prometheus", &url, "--trace", "x.csv"]);
    assert!(!ok);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

/// `--basic-auth-secret` reads the decider's secret format with the `aws` CLI: here the real
/// CLI against moto's Secrets Manager (`SMARTSCALE_TEST_AWS_CLI` names the `aws` binary,
/// `SMARTSCALE_TEST_MOTO_URL` the server; scripts/check-forecast-prometheus sets both).
#[test]
#[ignore = "needs the aws CLI and moto_server: run by scripts/check-forecast-prometheus"]
fn basic_auth_secret_is_read_with_the_aws_cli() {
    let aws = std::env::var("SMARTSCALE_TEST_AWS_CLI").expect("SMARTSCALE_TEST_AWS_CLI names the aws CLI");
    let moto = smartscale_testbed::moto_url();
    let env = [
        ("AWS_ENDPOINT_URL", moto.as_str()),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    let name = smartscale_testbed::unique("prometheus-auth");
    let value = format!(r#"{{"username": "{AUTH_USER}", "password": "{AUTH_PASSWORD}"}}"#);
    let created = std::process::Command::new(&aws)
        .args(["secretsmanager", "create-secret", "--name", &name, "--secret-string", &value])
        .envs(env)
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let bin_dir = std::path::Path::new(&aws).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());

    let (history, prometheus) = server(3, vec![], true);
    let at = rfc3339(history.end());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_smartscale"))
        .args(["forecast", "--json", "--prometheus", &prometheus.url, "--at", &at, "--days", "3"])
        .args(["--basic-auth-secret", &name])
        .envs(env)
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["model"]["period"], "daily");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_smartscale"))
        .args(["forecast", "--prometheus", &prometheus.url, "--basic-auth-secret", "no-such-secret"])
        .envs(env)
        .env("PATH", &path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--basic-auth-secret no-such-secret: `aws secretsmanager get-secret-value` failed"),
        "{stderr}"
    );
}
