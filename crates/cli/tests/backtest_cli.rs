//! `smartscale backtest` against Debian's real Prometheus serving a backfilled cluster history
//! whose node count and pod requests follow a known pattern (smartscale_testbed::cluster_history):
//! the actual fleet's figures are what the pattern implies, computed here from the pattern; the
//! policies' are those of `compare` on the same demand; and the errors say what is wrong.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::smartscale;
use serde_json::Value;
use smartscale_testbed::cluster_history::{
    self, nodes_at, pending_at, pods_wanted_at, ClusterHistory, PrometheusServer, AUTH_PASSWORD, AUTH_USER,
    BLOCK_HOURS, REPLICAS_PER_POD, STEP_S,
};

fn server(days: i64, without: Vec<&'static str>, basic_auth: bool) -> (ClusterHistory, PrometheusServer) {
    let history = ClusterHistory { days, without };
    let server = PrometheusServer::start(&history.openmetrics(), basic_auth).unwrap_or_else(|e| {
        panic!("this test needs Debian's prometheus and promtool (scripts/check-backtest installs them): {e}")
    });
    (history, server)
}

fn temp_file(text: &str) -> tempfile_path::Path {
    tempfile_path::Path::with(text)
}

/// A file removed when dropped (no tempfile crate: one fewer build).
mod tempfile_path {
    pub struct Path(pub std::path::PathBuf);
    impl Path {
        pub fn with(text: &str) -> Path {
            let path = std::env::temp_dir().join(smartscale_testbed::unique("smartscale-backtest"));
            std::fs::write(&path, text).unwrap();
            Path(path)
        }
        pub fn as_str(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }
    impl Drop for Path {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = smartscale(args, None);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The demand's pod-minutes, as every policy's summary counts them.
fn policies_total_pod_minutes(out: &Value) -> f64 {
    out["policies"][0]["total_pod_minutes"].as_f64().unwrap()
}

fn without_window(mut summary: Value) -> Value {
    summary.as_object_mut().unwrap().remove("window");
    summary
}

/// Eight days at a 60 s step: 11 521 points per series, more than the 11 000 Prometheus serves in
/// one query, so the reader must chunk.
#[test]
fn backtest_reports_what_the_history_implies_and_what_compare_finds_on_the_same_demand() {
    let days = 8;
    let (history, prometheus) = server(days, vec![], true);
    let start = cluster_history::start();
    let end = history.end();
    let password = temp_file(&format!("{AUTH_PASSWORD}\n"));
    let report = temp_file("");
    let (ok, stdout, stderr) = run(&[
        "backtest",
        "--prometheus",
        &prometheus.url,
        "--user",
        AUTH_USER,
        "--password-file",
        password.as_str(),
        "--days",
        &days.to_string(),
        "--end",
        &rfc3339(end),
        "--step",
        "60s",
        "--json",
        "--report",
        report.as_str(),
    ]);
    assert!(ok, "backtest failed: {stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));

    // The history as read.
    let steps = (days * 86_400 / STEP_S + 1) as u64;
    assert_eq!(out["history_steps"], steps);
    assert_eq!(out["chunks_per_signal"], 2, "{} points need two queries", steps);
    assert_eq!(out["filled_steps"], 0);
    let peak_pods = u64::from(*cluster_history::PODS_WANTED.iter().max().unwrap());
    assert_eq!(out["peak_replicas"], peak_pods * REPLICAS_PER_POD, "the DaemonSet pods do not count");
    assert_eq!(out["peak_nodes"], 8);

    // The actual fleet, from the pattern and the price table.
    let instants: Vec<DateTime<Utc>> =
        (0..).map(|i| start + Duration::seconds(i * STEP_S)).take_while(|t| *t < end).collect();
    let step_h = STEP_S as f64 / 3600.0;
    let node_hours: f64 = instants.iter().map(|t| f64::from(nodes_at(*t)) * step_h).sum();
    assert!((node_hours - 124.0 * days as f64).abs() < 1e-6, "(3+5+9+4+2+8) nodes × 4 h a day: {node_hours}");
    let price = smartscale_core::pricing::on_demand_per_hour("t3.small").unwrap();
    let actual = &out["actual"];
    let close = |got: &Value, expected: f64, what: &str| {
        let got = got.as_f64().unwrap_or_else(|| panic!("{what}: {got}"));
        assert!((got - expected).abs() <= 1e-9 * expected.abs().max(1.0), "{what}: {got} != {expected}");
    };
    close(&actual["node_hours"], node_hours, "node-hours");
    close(&actual["cost_usd"], node_hours * price, "actual cost");
    assert_eq!(actual["max_nodes"], 9);
    assert_eq!(actual["min_nodes"], 2);
    let pending_minutes: f64 = instants.iter().map(|t| f64::from(pending_at(*t)) * STEP_S as f64 / 60.0).sum();
    close(&actual["unschedulable_cluster_pod_minutes"], pending_minutes, "unschedulable pod-minutes");
    close(
        &actual["unschedulable_pod_minutes"],
        pending_minutes * REPLICAS_PER_POD as f64,
        "unschedulable replica-minutes",
    );
    let demand_minutes: f64 =
        instants.iter().map(|t| (u64::from(pods_wanted_at(*t)) * REPLICAS_PER_POD) as f64 * STEP_S as f64 / 60.0).sum();
    close(&out["policies"][0]["total_pod_minutes"], demand_minutes, "the demand's pod-minutes");
    close(
        &actual["unschedulable_pct"],
        pending_minutes * REPLICAS_PER_POD as f64 / policies_total_pod_minutes(&out) * 100.0,
        "unschedulable %",
    );

    // The policies: `compare` on a trace of the replicas the pattern asks for.
    let mut csv = String::from("timestamp,value\n");
    let mut t = start;
    while t <= end {
        csv.push_str(&format!("{},{}\n", rfc3339(t), u64::from(pods_wanted_at(t)) * REPLICAS_PER_POD));
        t += Duration::hours(BLOCK_HOURS);
    }
    let trace = temp_file(&csv);
    let (ok, compared, stderr) = run(&[
        "compare",
        "--trace",
        trace.as_str(),
        "--peak-nodes",
        "8",
        "--start",
        &rfc3339(start),
        "--days",
        &days.to_string(),
        "--json",
    ]);
    assert!(ok, "compare failed: {stderr}");
    let compared: Vec<Value> = serde_json::from_str(&compared).unwrap();
    let policies = out["policies"].as_array().unwrap();
    assert_eq!(policies.len(), compared.len());
    for (backtested, compared) in policies.iter().zip(compared) {
        assert_eq!(without_window(backtested.clone()), without_window(compared), "same demand, same figures");
    }
    let smartscale_cost = policies[0]["cost_usd"].as_f64().unwrap();
    assert!(
        smartscale_cost > 0.0 && smartscale_cost < node_hours * price,
        "SmartScale beats the over-provisioned fleet"
    );
    close(&actual["cost_vs_oracle"], node_hours * price / policies[0]["oracle_cost_usd"].as_f64().unwrap(), "× oracle");

    let html = std::fs::read_to_string(&report.0).unwrap();
    assert!(html.contains("id=\"backtest-actual\""), "the report shows the actual fleet");
    assert!(html.contains(&format!("${:.2}", node_hours * price)), "with its cost");
}

#[test]
fn the_table_lists_every_policy_and_the_actual_fleet() {
    let (history, prometheus) = server(1, vec![], false);
    let (ok, stdout, stderr) =
        run(&["backtest", "--prometheus", &prometheus.url, "--days", "1", "--end", &rfc3339(history.end())]);
    assert!(ok, "{stderr}");
    for row in ["smartscale", "reactive-seed", "ca-like", "static", "static-5", "oracle", "actual"] {
        assert!(stdout.lines().any(|l| l.starts_with(row)), "no {row} row in:\n{stdout}");
    }
    let actual = stdout.lines().find(|l| l.starts_with("actual")).unwrap();
    let price = smartscale_core::pricing::on_demand_per_hour("t3.small").unwrap();
    assert!(actual.contains(&format!("{:.2}", 124.0 * price)), "{actual}");
    assert!(actual.contains(" - "), "unknown cells are dashes, not zeros: {actual}");
}

#[test]
fn auth_refused_is_a_clear_error_with_and_without_credentials() {
    let (history, prometheus) = server(1, vec![], true);
    let end = rfc3339(history.end());
    let (ok, _, stderr) = run(&["backtest", "--prometheus", &prometheus.url, "--days", "1", "--end", &end]);
    assert!(!ok);
    assert!(stderr.contains("HTTP 401") && stderr.contains("it needs credentials: pass --user"), "{stderr}");
    let wrong = temp_file("not-the-password");
    let (ok, _, stderr) = run(&[
        "backtest",
        "--prometheus",
        &prometheus.url,
        "--user",
        AUTH_USER,
        "--password-file",
        wrong.as_str(),
        "--days",
        "1",
        "--end",
        &end,
    ]);
    assert!(!ok);
    assert!(stderr.contains("HTTP 401") && stderr.contains("did not accept the credentials"), "{stderr}");
}

#[test]
fn a_missing_metric_is_named_with_its_exporter() {
    let (history, prometheus) = server(1, vec!["kube_node_info"], false);
    let (ok, _, stderr) =
        run(&["backtest", "--prometheus", &prometheus.url, "--days", "1", "--end", &rfc3339(history.end())]);
    assert!(!ok);
    assert!(stderr.contains("has no kube_node_info between"), "{stderr}");
    assert!(stderr.contains("kube-state-metrics provides it"), "{stderr}");
}

#[test]
fn too_little_history_says_how_much_there_is() {
    let (history, prometheus) = server(1, vec![], false);
    let (ok, _, stderr) =
        run(&["backtest", "--prometheus", &prometheus.url, "--days", "3", "--end", &rfc3339(history.end())]);
    assert!(!ok);
    // The backfill starts 10 minutes before its first day.
    assert!(stderr.contains("too little history"), "{stderr}");
    assert!(stderr.contains("holds 1.01 days of it"), "{stderr}");
    assert!(stderr.contains("pass --days 1 or fewer"), "{stderr}");
}

#[test]
fn an_unreachable_prometheus_is_reported_after_the_retries() {
    let url = smartscale_testbed::closed_port_url();
    let (ok, _, stderr) = run(&["backtest", "--prometheus", &url, "--days", "1"]);
    assert!(!ok);
    assert!(stderr.contains(&format!("Prometheus at {url} is unreachable: cannot connect")), "{stderr}");
    assert!(stderr.contains("after 3 attempts"), "{stderr}");
}

#[test]
fn https_and_bad_flags_are_refused_before_any_query() {
    for (args, expected) in [
        (vec!["--prometheus", "https://prom.example"], "https:// is not supported"),
        (vec!["--prometheus", "http://127.0.0.1:1", "--step", "15s"], "between 1 and 5 minutes"),
        (vec!["--prometheus", "http://127.0.0.1:1", "--node-type", "x9.huge"], "not in the price table"),
    ] {
        let mut full = vec!["backtest"];
        full.extend(args);
        let (ok, _, stderr) = run(&full);
        assert!(!ok);
        assert!(stderr.contains(expected), "{stderr}");
    }
}

/// The CLI carries no AWS SDK: without the `aws` CLI, --basic-auth-secret says what to use instead.
#[test]
fn basic_auth_secret_without_the_aws_cli_points_to_user_and_password_file() {
    let empty = std::env::temp_dir().join(smartscale_testbed::unique("smartscale-no-aws"));
    std::fs::create_dir_all(&empty).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_smartscale"))
        .args(["backtest", "--prometheus", "http://127.0.0.1:1", "--basic-auth-secret", "prometheus-auth"])
        .env("PATH", &empty)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&empty).ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("needs the AWS CLI (`aws`)") && stderr.contains("--user and --password-file"), "{stderr}");
}
