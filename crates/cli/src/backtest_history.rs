//! Reads a cluster's own history from its Prometheus for `backtest`: the requests of the pods
//! that wanted to run, the unschedulable pods and the node count, step by step, in chunks that
//! stay under Prometheus' 11 000 points per series.

use std::thread::sleep;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::backtest_http::{self, Endpoint};

/// Prometheus refuses a range query of more than 11 000 points per series; chunks stay below.
pub const MAX_POINTS_PER_QUERY: i64 = 10_000;

/// The share of steps that may lack a value (scrape gaps, a restart) before the history is
/// refused as too patchy to replay; within it, the value before a gap is held.
pub const MAX_GAP_SHARE: f64 = 0.05;

/// Every series the history needs, all from kube-state-metrics.
pub const REQUIRED_METRICS: [&str; 4] =
    ["kube_node_info", "kube_pod_status_phase", "kube_pod_container_resource_requests", "kube_pod_owner"];
pub const EXPORTER: &str = "kube-state-metrics";

/// A pod that wants to run: Running, or Pending (unscheduled, or placed and starting). `max by`
/// folds a pod's phase series into one, so the joins below match one to one.
const WANTED: &str = r#"(max by (namespace, pod) (kube_pod_status_phase{phase=~"Running|Pending"}) == 1)"#;
const NOT_DAEMONSET: &str = r#"unless on(namespace, pod) kube_pod_owner{owner_kind="DaemonSet"}"#;
/// Zero while kube-state-metrics reports any pod, so that "none" is not read as "unknown".
const ZERO_IF_KSM_UP: &str = "(0 * sum(kube_pod_status_phase))";

/// Pods the scheduler could not place (kube-state-metrics reports only those).
pub(crate) const UNSCHEDULABLE: &str = "(kube_pod_status_unschedulable == 1)";

/// Summed requests of `resource` over the `pods` that are not DaemonSet pods (the simulator
/// gives every node its DaemonSet pod itself), a pod without requests counted as `unset`, as
/// the decider counts it.
pub(crate) fn requests_of(resource: &str, pods: &str, unset: &str) -> String {
    let requests = format!(r#"kube_pod_container_resource_requests{{resource="{resource}"}}"#);
    format!(
        "((sum(({requests} * on(namespace, pod) group_left() {pods}) {NOT_DAEMONSET}) or {ZERO_IF_KSM_UP}) + (count(({pods} unless on(namespace, pod) {requests}) {NOT_DAEMONSET}) or {ZERO_IF_KSM_UP}) * {unset})"
    )
}

/// The PromQL of each signal, named as errors and the JSON name them.
pub fn queries() -> [(&'static str, String); 6] {
    [
        ("requested_cpu_millis", format!("{} * 1000", requests_of("cpu", WANTED, "0.1"))),
        ("requested_memory_bytes", requests_of("memory", WANTED, "134217728")),
        ("unschedulable_pods", format!("(sum(kube_pod_status_unschedulable) or {ZERO_IF_KSM_UP})")),
        ("nodes", "count(kube_node_info)".to_string()),
        ("unschedulable_cpu_millis", format!("{} * 1000", requests_of("cpu", UNSCHEDULABLE, "0.1"))),
        ("unschedulable_memory_bytes", requests_of("memory", UNSCHEDULABLE, "134217728")),
    ]
}

/// One step of the history; every value known (gaps are filled before this is built).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub cpu_millis: f64,
    pub memory_bytes: f64,
    pub unschedulable_pods: f64,
    pub nodes: f64,
    pub unschedulable_cpu_millis: f64,
    pub unschedulable_memory_bytes: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub step_s: i64,
    pub steps: Vec<Step>,
    /// Steps at which some signal had no value and the one before was held.
    pub filled_steps: usize,
    /// HTTP range queries made (signals × chunks).
    pub range_queries: usize,
    pub chunks: usize,
}

/// A Prometheus to read from.
pub struct Source {
    pub endpoint: Endpoint,
    pub auth: Option<(String, String)>,
    pub timeout: Duration,
    /// Extra attempts after the first for an unreachable server, a 5xx or a 429.
    pub retries: u32,
    pub backoff: Duration,
}

#[derive(Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Matrix {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<MatrixSeries>,
}

#[derive(Deserialize)]
struct MatrixSeries {
    #[serde(default)]
    metric: serde_json::Map<String, serde_json::Value>,
    values: Vec<(f64, String)>,
}

impl Source {
    /// One API call's `data`, with retries on transient failures and a clear error otherwise.
    fn call(&self, what: &str, path: &str, query: &[(&str, String)]) -> Result<serde_json::Value, String> {
        let url = self.endpoint.url();
        let auth = self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
        let mut attempt = 0;
        loop {
            let transient = match backtest_http::get(&self.endpoint, path, query, auth, self.timeout) {
                Err(backtest_http::Unreachable(why)) => format!("Prometheus at {url} is unreachable: {why}"),
                Ok(r) if r.status >= 500 || r.status == 429 => {
                    format!("Prometheus at {url} answered HTTP {} to the {what} query: {}", r.status, truncate(&r.body))
                }
                Ok(r) if r.status == 401 || r.status == 403 => {
                    let hint = if self.auth.is_some() {
                        "it did not accept the credentials given (--user/--password-file or --basic-auth-secret)"
                    } else {
                        "it needs credentials: pass --user and --password-file, or --basic-auth-secret"
                    };
                    return Err(format!("Prometheus at {url} refused the {what} query with HTTP {}: {hint}", r.status));
                }
                Ok(r) => return self.data(what, &url, r.status, &r.body),
            };
            if attempt >= self.retries {
                let attempts = attempt + 1;
                return Err(format!("{transient} (after {attempts} attempt{})", if attempts == 1 { "" } else { "s" }));
            }
            sleep(self.backoff * 2u32.pow(attempt));
            attempt += 1;
        }
    }

    fn data(&self, what: &str, url: &str, status: u16, body: &str) -> Result<serde_json::Value, String> {
        let parsed: ApiResponse = serde_json::from_str(body).map_err(|_| {
            if status == 404 {
                format!("no Prometheus API at {url} (HTTP 404 for /api/v1): check the URL and its path prefix")
            } else {
                format!(
                    "Prometheus at {url} answered the {what} query with HTTP {status} and no API response: {}",
                    truncate(body)
                )
            }
        })?;
        if parsed.status != "success" {
            return Err(format!(
                "Prometheus at {url} rejected the {what} query: {}: {}",
                parsed.error_type.unwrap_or_default(),
                parsed.error.unwrap_or_default()
            ));
        }
        parsed.data.ok_or_else(|| format!("Prometheus at {url} answered the {what} query with success and no data"))
    }

    /// The metric names Prometheus holds between `start` and `end`; the missing required ones
    /// are an error that names each and its exporter.
    pub fn check_metrics(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), String> {
        self.check_metrics_of(&REQUIRED_METRICS, EXPORTER, start, end)
    }

    /// The same check for other `required` metrics, all from `exporter`.
    pub fn check_metrics_of(
        &self,
        required: &[&str],
        exporter: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<(), String> {
        let params = [("start", start.timestamp().to_string()), ("end", end.timestamp().to_string())];
        let data = self.call("metric names", "/api/v1/label/__name__/values", &params)?;
        let names: Vec<String> = serde_json::from_value(data).map_err(|e| format!("metric names: {e}"))?;
        let missing: Vec<&str> = required.iter().copied().filter(|m| !names.iter().any(|n| n == m)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "Prometheus at {} has no {} between {} and {}: {} provides {}; check that it is installed and that \
             Prometheus scrapes it",
            self.endpoint.url(),
            missing.join(", "),
            start.to_rfc3339(),
            end.to_rfc3339(),
            exporter,
            if missing.len() == 1 { "it" } else { "them" }
        ))
    }

    /// The points of a single-series range query over `[start, end]`, one chunk of at most
    /// [`MAX_POINTS_PER_QUERY`] steps at a time. Returns the points and the chunks used.
    pub fn range(
        &self,
        name: &str,
        promql: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_s: i64,
    ) -> Result<(Vec<(i64, f64)>, usize), String> {
        let mut points = Vec::new();
        let mut chunks = 0;
        let mut from = start.timestamp();
        while from <= end.timestamp() {
            let to = (from + (MAX_POINTS_PER_QUERY - 1) * step_s).min(end.timestamp());
            let params = [
                ("query", promql.to_string()),
                ("start", from.to_string()),
                ("end", to.to_string()),
                ("step", step_s.to_string()),
            ];
            let data = self.call(name, "/api/v1/query_range", &params)?;
            let matrix: Matrix = serde_json::from_value(data).map_err(|e| format!("the {name} query's answer: {e}"))?;
            if matrix.result_type != "matrix" {
                return Err(format!("the {name} query returned a {}, expected a matrix", matrix.result_type));
            }
            if matrix.result.len() > 1 {
                return Err(format!(
                    "the {name} query `{promql}` returned {} series (first: {:?}); it must aggregate to one",
                    matrix.result.len(),
                    matrix.result[0].metric
                ));
            }
            for series in matrix.result {
                points.extend(
                    series
                        .values
                        .iter()
                        .filter_map(|(t, v)| v.parse::<f64>().ok().filter(|v| v.is_finite()).map(|v| (*t as i64, v))),
                );
            }
            chunks += 1;
            from = to + step_s;
        }
        Ok((points, chunks))
    }
}

/// Reads every signal over `[start, end]` at `step_s` and checks there is enough of it.
pub fn read(source: &Source, start: DateTime<Utc>, end: DateTime<Utc>, step_s: i64) -> Result<History, String> {
    source.check_metrics(start, end)?;
    let mut series = Vec::new();
    let mut range_queries = 0;
    let mut chunks = 0;
    for (name, promql) in queries() {
        let (points, used) = source.range(name, &promql, start, end, step_s)?;
        range_queries += used;
        chunks = used;
        series.push((name, points));
    }
    assemble(&series, start, end, step_s, source.endpoint.url()).map(|(steps, filled_steps)| History {
        step_s,
        steps,
        filled_steps,
        range_queries,
        chunks,
    })
}

/// Lines the signals up step by step: refuses a history that starts after `start` (too little
/// of it) or has too many holes, and holds the value before each hole otherwise.
fn assemble(
    series: &[(&str, Vec<(i64, f64)>)],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step_s: i64,
    url: String,
) -> Result<(Vec<Step>, usize), String> {
    let times: Vec<i64> = (0..).map(|i| start.timestamp() + i * step_s).take_while(|t| *t <= end.timestamp()).collect();
    // The history starts where every signal has a value.
    let first_of = |points: &Vec<(i64, f64)>| points.first().map(|(t, _)| *t);
    let firsts: Vec<Option<i64>> = series.iter().map(|(_, p)| first_of(p)).collect();
    if let Some(i) = firsts.iter().position(Option::is_none) {
        return Err(format!(
            "Prometheus at {url} has no {} values between {} and {}: too little history (none); the query is `{}`",
            series[i].0,
            start.to_rfc3339(),
            end.to_rfc3339(),
            queries()[i].1
        ));
    }
    let first = firsts.iter().flatten().copied().max().unwrap_or(start.timestamp());
    if first > start.timestamp() + step_s {
        let held_s = end.timestamp() - first;
        let asked_days = (end - start).num_seconds() as f64 / 86_400.0;
        let whole_days = held_s / 86_400;
        let advice = if whole_days >= 1 {
            format!("pass --days {whole_days} or fewer")
        } else {
            "a backtest needs at least one day; wait for more history".to_string()
        };
        return Err(format!(
            "too little history: Prometheus at {url} holds {:.2} days of it (from {} to {}), --days asks for {asked_days:.0}: {advice}",
            held_s as f64 / 86_400.0,
            DateTime::from_timestamp(first, 0).unwrap_or(start).to_rfc3339(),
            end.to_rfc3339(),
        ));
    }
    let mut filled = 0;
    let mut cursors = vec![0usize; series.len()];
    let mut last: Vec<Option<f64>> = vec![None; series.len()];
    let mut steps = Vec::with_capacity(times.len());
    for t in &times {
        let mut hole = false;
        for (i, (_, points)) in series.iter().enumerate() {
            while cursors[i] < points.len() && points[cursors[i]].0 < *t {
                cursors[i] += 1;
            }
            match points.get(cursors[i]) {
                Some((pt, v)) if pt == t => last[i] = Some(*v),
                _ => hole = true,
            }
        }
        if hole {
            filled += 1;
        }
        // A step before the first value of some signal (at most one step in) takes its first value.
        let value = |i: usize| last[i].or(series[i].1.first().map(|(_, v)| *v)).unwrap_or(0.0);
        steps.push(Step {
            at: DateTime::from_timestamp(*t, 0).unwrap_or(start),
            cpu_millis: value(0),
            memory_bytes: value(1),
            unschedulable_pods: value(2),
            nodes: value(3),
            unschedulable_cpu_millis: value(4),
            unschedulable_memory_bytes: value(5),
        });
    }
    let share = filled as f64 / times.len().max(1) as f64;
    if share > MAX_GAP_SHARE {
        return Err(format!(
            "Prometheus at {url} has holes in {filled} of {} steps ({:.1} %, more than {:.0} %): too patchy a history \
             to replay; choose another window (--end) or a coarser --step",
            times.len(),
            share * 100.0,
            MAX_GAP_SHARE * 100.0
        ));
    }
    Ok((steps, filled))
}

/// Basic auth for `backtest` and `forecast --prometheus`: `--user` with `--password-file`, or
/// `--basic-auth-secret` read with the `aws` CLI (the CLI carries no AWS SDK: it would triple
/// its build time).
pub fn basic_auth(
    user: Option<&str>,
    password_file: Option<&std::path::Path>,
    secret: Option<&str>,
) -> Result<Option<(String, String)>, String> {
    if let (Some(user), Some(path)) = (user, password_file) {
        let text = std::fs::read_to_string(path).map_err(|e| format!("--password-file {}: {e}", path.display()))?;
        let password = text.trim_end_matches(['\r', '\n']).to_string();
        if password.is_empty() {
            return Err(format!("--password-file {}: the file is empty", path.display()));
        }
        return Ok(Some((user.to_string(), password)));
    }
    let Some(secret) = secret else { return Ok(None) };
    let output = std::process::Command::new("aws")
        .args([
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            secret,
            "--query",
            "SecretString",
            "--output",
            "text",
        ])
        .output()
        .map_err(|e| {
            format!(
                "--basic-auth-secret needs the AWS CLI (`aws`) to read Secrets Manager, and it cannot run ({e}); \
                 install it, or pass --user and --password-file instead"
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "--basic-auth-secret {secret}: `aws secretsmanager get-secret-value` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let value: serde_json::Value = serde_json::from_str(text.trim()).map_err(|_| {
        format!("--basic-auth-secret {secret}: the secret is not JSON {{\"username\": …, \"password\": …}}")
    })?;
    let field = |name: &str| {
        value
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("--basic-auth-secret {secret}: the secret has no string field `{name}`"))
    };
    Ok(Some((field("username")?, field("password")?)))
}

fn truncate(body: &str) -> &str {
    let end = body.char_indices().nth(300).map(|(i, _)| i).unwrap_or(body.len());
    &body[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn holes_are_held_and_counted_and_a_late_start_is_too_little_history() {
        let start = at("2026-01-05T00:00:00Z");
        let end = at("2026-01-05T00:09:00Z");
        let t0 = start.timestamp();
        let full: Vec<(i64, f64)> = (0..10).map(|i| (t0 + 60 * i, i as f64)).collect();
        let holed: Vec<(i64, f64)> = full.iter().copied().filter(|(t, _)| *t != t0 + 300).collect();
        let series = [
            ("a", full.clone()),
            ("b", full.clone()),
            ("c", full.clone()),
            ("d", holed),
            ("e", full.clone()),
            ("f", full.clone()),
        ];
        let err = assemble(&series, start, end, 60, "u".into()).unwrap_err();
        assert!(err.contains("holes in 1 of 10 steps"), "{err}");

        let long: Vec<(i64, f64)> = (0..100).map(|i| (t0 + 60 * i, i as f64)).collect();
        let mut holed = long.clone();
        holed.remove(50);
        let series = [
            ("a", long.clone()),
            ("b", long.clone()),
            ("c", long.clone()),
            ("d", holed),
            ("e", long.clone()),
            ("f", long.clone()),
        ];
        let (steps, filled) = assemble(&series, start, at("2026-01-05T01:39:00Z"), 60, "u".into()).unwrap();
        assert_eq!((steps.len(), filled), (100, 1));
        assert_eq!(steps[50].nodes, 49.0, "the value before the hole is held");
        assert_eq!(steps[51].nodes, 51.0);

        let late: Vec<(i64, f64)> = long[30..].to_vec();
        let series = [
            ("a", long.clone()),
            ("b", long.clone()),
            ("c", long.clone()),
            ("nodes", late),
            ("e", long.clone()),
            ("f", long.clone()),
        ];
        let err = assemble(&series, start, at("2026-01-05T01:39:00Z"), 60, "u".into()).unwrap_err();
        assert!(err.starts_with("too little history: Prometheus at u holds 0.05 days"), "{err}");
        assert!(err.contains("at least one day"), "{err}");
    }

    #[test]
    fn queries_parse_as_one_line_each() {
        for (name, promql) in queries() {
            assert!(!promql.contains('\n'), "{name}");
            assert_eq!(promql.matches('(').count(), promql.matches(')').count(), "{name}: {promql}");
        }
    }
}
