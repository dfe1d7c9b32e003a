//! A synthetic Prometheus history shaped like node-exporter and kube-state-metrics output,
//! with three 40-minute windows whose answers are known:
//!
//! | window | from | CPU busy | memory | pending pods | 5xx |
//! |---|---|---|---|---|---|
//! | high CPU | T0 | 80 % (60 user + 20 system) | 60 % | 0 | 1 % |
//! | pending pods | T0+40m | 50 % | 65 % | 3 | 2 % |
//! | quiet | T0+80m | 10 % | 30 % | 0 | 0 % |
//!
//! After the three windows, a 40-minute [`APP`] segment holds the demo app's own series, labelled
//! as it exports them (`status`, `path`) and with its queue-depth gauge, so the dashboards'
//! application panels have data while the windows keep "no queue series" and "no `status`
//! label" (unknown, not zero) for the decider's tests. Node labels and Ready conditions, as
//! kube-state-metrics reports them, span the whole history.
//!
//! Written as OpenMetrics for `promtool tsdb create-blocks-from openmetrics`: counter families
//! are declared without `_total`, timestamps are in seconds, and the file ends with `# EOF`.

use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};

pub const SCRAPE_S: i64 = 15;
pub const NODES: usize = 3;
pub const CPUS_PER_NODE: usize = 2;
pub const MEM_TOTAL_BYTES: f64 = 4.0 * 1024.0 * 1024.0 * 1024.0;
pub const REQUESTS_PER_S: f64 = 10.0;
pub const BUCKETS: [f64; 5] = [0.1, 0.25, 0.5, 1.0, 2.5];
/// Each app pod's requests, as kube-state-metrics reports them.
pub const POD_CPU_CORES: f64 = 0.2;
pub const POD_MEMORY_BYTES: f64 = 256.0 * 1024.0 * 1024.0;

/// The start of the first window: Monday 2026-01-05 00:00 UTC.
pub fn t0() -> DateTime<Utc> {
    "2026-01-05T00:00:00Z".parse().unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub name: &'static str,
    pub start_min: i64,
    /// Per-CPU seconds per second in each mode.
    pub user: f64,
    pub system: f64,
    pub mem_used_pct: f64,
    pub pending_pods: u32,
    pub error_pct: f64,
    /// Share of requests at or below each of [`BUCKETS`].
    pub latency_cdf: [f64; 5],
}

impl Window {
    pub fn busy_pct(&self) -> f64 {
        (self.user + self.system) * 100.0
    }

    /// What the spec's `avg(rate(node_cpu_seconds_total{mode!="idle"}[5m])) * 100` reads: the
    /// mean over the non-idle modes we export (user, system, iowait).
    pub fn spec_cpu_pct(&self) -> f64 {
        (self.user + self.system + 0.0) / 3.0 * 100.0
    }

    /// What `histogram_quantile(0.95, …)` gives for this window: linear within the bucket.
    pub fn p95_s(&self) -> f64 {
        let mut lower = (0.0, 0.0);
        for (le, cdf) in BUCKETS.iter().zip(self.latency_cdf) {
            if cdf >= 0.95 {
                return lower.0 + (le - lower.0) * (0.95 - lower.1) / (cdf - lower.1);
            }
            lower = (*le, cdf);
        }
        BUCKETS[BUCKETS.len() - 1]
    }

    pub fn start(&self) -> DateTime<Utc> {
        t0() + Duration::minutes(self.start_min)
    }

    /// A time late in the window whose 11-minute look-back lies entirely inside it.
    pub fn eval_at(&self) -> DateTime<Utc> {
        self.start() + Duration::minutes(WINDOW_MIN - 2)
    }
}

pub const WINDOW_MIN: i64 = 40;

pub const HIGH_CPU: Window = Window {
    name: "high_cpu",
    start_min: 0,
    user: 0.6,
    system: 0.2,
    mem_used_pct: 60.0,
    pending_pods: 0,
    error_pct: 1.0,
    latency_cdf: [0.5, 0.9, 0.97, 0.99, 1.0],
};

pub const PENDING_PODS: Window = Window {
    name: "pending_pods",
    start_min: 40,
    user: 0.35,
    system: 0.15,
    mem_used_pct: 65.0,
    pending_pods: 3,
    error_pct: 2.0,
    latency_cdf: [0.3, 0.6, 0.8, 0.96, 1.0],
};

pub const QUIET: Window = Window {
    name: "quiet",
    start_min: 80,
    user: 0.07,
    system: 0.03,
    mem_used_pct: 30.0,
    pending_pods: 0,
    error_pct: 0.0,
    latency_cdf: [0.9, 0.99, 1.0, 1.0, 1.0],
};

pub const WINDOWS: [Window; 3] = [HIGH_CPU, PENDING_PODS, QUIET];

/// The window in force at `t` (the first window also covers the warm-up before T0).
fn window_at(t: DateTime<Utc>) -> &'static Window {
    let minutes = (t - t0()).num_seconds() as f64 / 60.0;
    WINDOWS.iter().rev().find(|w| minutes >= w.start_min as f64).unwrap_or(&WINDOWS[0])
}

pub const PODS: usize = 6;

/// The demo app's segment, after the windows: its own labels, a 3 % error share, a latency
/// distribution over [`BUCKETS`] and a queue that grows from 0 to [`APP_QUEUE_PEAK`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AppSegment {
    pub start_min: i64,
    pub minutes: i64,
    pub requests_per_s: f64,
    pub error_pct: f64,
    pub latency_cdf: [f64; 5],
}

pub const APP_QUEUE_PEAK: f64 = 1500.0;

pub const APP: AppSegment = AppSegment {
    start_min: WINDOWS.len() as i64 * WINDOW_MIN,
    minutes: 40,
    requests_per_s: 20.0,
    error_pct: 3.0,
    latency_cdf: [0.4, 0.7, 0.9, 0.97, 0.99],
};

/// Each node's lifecycle label (set at join): two Spot workers and one on-demand.
pub const NODE_LIFECYCLES: [&str; NODES] = ["spot", "spot", "on-demand"];

/// The whole history as OpenMetrics text: from T0−10m to the end of the last window.
pub fn openmetrics() -> String {
    let start = t0() - Duration::minutes(10);
    let end = t0() + Duration::minutes(WINDOWS.len() as i64 * WINDOW_MIN);
    let times: Vec<DateTime<Utc>> =
        (0..).map(|i| start + Duration::seconds(i * SCRAPE_S)).take_while(|t| *t < end).collect();
    let mut out = String::new();

    // Counters integrate their per-window rate step by step.
    let counter = |out: &mut String, name: &str, labels: &str, rate: &dyn Fn(&Window) -> f64| {
        let mut value = 0.0;
        for t in &times {
            writeln!(out, "{name}{{{labels}}} {value} {}", t.timestamp()).unwrap();
            value += rate(window_at(*t)) * SCRAPE_S as f64;
        }
    };
    let gauge = |out: &mut String, name: &str, labels: &str, value: &dyn Fn(&Window) -> f64| {
        for t in &times {
            writeln!(out, "{name}{{{labels}}} {} {}", value(window_at(*t)), t.timestamp()).unwrap();
        }
    };

    out.push_str("# HELP node_cpu_seconds Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds counter\n");
    for node in 1..=NODES {
        for cpu in 0..CPUS_PER_NODE {
            for (mode, rate) in [
                ("idle", (|w: &Window| 1.0 - w.user - w.system) as fn(&Window) -> f64),
                ("user", |w: &Window| w.user),
                ("system", |w: &Window| w.system),
                ("iowait", |_: &Window| 0.0),
            ] {
                counter(
                    &mut out,
                    "node_cpu_seconds_total",
                    &format!("instance=\"node-{node}\",cpu=\"{cpu}\",mode=\"{mode}\""),
                    &rate,
                );
            }
        }
    }

    out.push_str("# TYPE node_memory_MemTotal_bytes gauge\n");
    for node in 1..=NODES {
        gauge(&mut out, "node_memory_MemTotal_bytes", &format!("instance=\"node-{node}\""), &|_| MEM_TOTAL_BYTES);
    }
    out.push_str("# TYPE node_memory_MemAvailable_bytes gauge\n");
    for node in 1..=NODES {
        gauge(&mut out, "node_memory_MemAvailable_bytes", &format!("instance=\"node-{node}\""), &|w| {
            (MEM_TOTAL_BYTES * (1.0 - w.mem_used_pct / 100.0)).round()
        });
    }

    out.push_str("# TYPE kube_node_info gauge\n");
    for node in 1..=NODES {
        gauge(&mut out, "kube_node_info", &format!("node=\"node-{node}\",kernel_version=\"6.1.0\""), &|_| 1.0);
    }

    out.push_str("# TYPE kube_node_labels gauge\n");
    for (node, lifecycle) in (1..=NODES).zip(NODE_LIFECYCLES) {
        let labels = format!(
            "node=\"node-{node}\",label_node_kubernetes_io_lifecycle=\"{lifecycle}\",label_node_kubernetes_io_instance_type=\"t3.medium\""
        );
        gauge(&mut out, "kube_node_labels", &labels, &|_| 1.0);
    }
    out.push_str("# TYPE kube_node_status_condition gauge\n");
    for node in 1..=NODES {
        for (status, value) in [("true", 1.0), ("false", 0.0), ("unknown", 0.0)] {
            let labels = format!("node=\"node-{node}\",condition=\"Ready\",status=\"{status}\"");
            gauge(&mut out, "kube_node_status_condition", &labels, &|_| value);
        }
    }

    out.push_str("# TYPE kube_pod_status_phase gauge\n");
    for pod in 1..=PODS {
        for phase in ["Pending", "Running"] {
            let labels = format!("namespace=\"shop\",pod=\"shop-api-{pod}\",phase=\"{phase}\"");
            gauge(&mut out, "kube_pod_status_phase", &labels, &|w| {
                let pending = pod > PODS - w.pending_pods as usize;
                f64::from(u8::from(pending == (phase == "Pending")))
            });
        }
    }
    for (phase, value) in [("Pending", 0.0), ("Running", 1.0)] {
        let labels = format!("namespace=\"monitoring\",pod=\"node-exporter-1\",phase=\"{phase}\"");
        gauge(&mut out, "kube_pod_status_phase", &labels, &|_| value);
    }

    // Simplified: one series per app pod, 1 while it cannot be scheduled.
    out.push_str("# TYPE kube_pod_status_unschedulable gauge\n");
    for pod in 1..=PODS {
        let labels = format!("namespace=\"shop\",pod=\"shop-api-{pod}\"");
        gauge(&mut out, "kube_pod_status_unschedulable", &labels, &|w| {
            f64::from(u8::from(pod > PODS - w.pending_pods as usize))
        });
    }

    out.push_str("# TYPE kube_pod_container_resource_requests gauge\n");
    for pod in 1..=PODS {
        for (resource, value) in [("cpu", POD_CPU_CORES), ("memory", POD_MEMORY_BYTES)] {
            let labels = format!("namespace=\"shop\",pod=\"shop-api-{pod}\",container=\"api\",resource=\"{resource}\"");
            gauge(&mut out, "kube_pod_container_resource_requests", &labels, &|_| value);
        }
    }
    // A DaemonSet pod, running with requests, that the requested sums must leave out.
    let daemon = "namespace=\"monitoring\",pod=\"node-exporter-1\"";
    gauge(
        &mut out,
        "kube_pod_container_resource_requests",
        &format!("{daemon},container=\"exporter\",resource=\"cpu\""),
        &|_| 0.1,
    );
    out.push_str("# TYPE kube_pod_owner gauge\n");
    gauge(
        &mut out,
        "kube_pod_owner",
        &format!("{daemon},owner_kind=\"DaemonSet\",owner_name=\"node-exporter\""),
        &|_| 1.0,
    );
    for pod in 1..=PODS {
        let labels =
            format!("namespace=\"shop\",pod=\"shop-api-{pod}\",owner_kind=\"ReplicaSet\",owner_name=\"shop-api\"");
        gauge(&mut out, "kube_pod_owner", &labels, &|_| 1.0);
    }

    out.push_str("# TYPE http_request_duration_seconds histogram\n");
    for (i, le) in BUCKETS.iter().enumerate() {
        counter(&mut out, "http_request_duration_seconds_bucket", &format!("le=\"{le}\""), &|w| {
            REQUESTS_PER_S * w.latency_cdf[i]
        });
    }
    counter(&mut out, "http_request_duration_seconds_bucket", "le=\"+Inf\"", &|_| REQUESTS_PER_S);
    counter(&mut out, "http_request_duration_seconds_count", "", &|_| REQUESTS_PER_S);
    counter(&mut out, "http_request_duration_seconds_sum", "", &|_| REQUESTS_PER_S * 0.2);
    for (status, share) in app_statuses() {
        let labels = format!("path=\"/api/products\",status=\"{status}\"");
        for (i, le) in BUCKETS.iter().enumerate() {
            app_counter(
                &mut out,
                "http_request_duration_seconds_bucket",
                &format!("{labels},le=\"{le}\""),
                share * APP.latency_cdf[i],
            );
        }
        app_counter(&mut out, "http_request_duration_seconds_bucket", &format!("{labels},le=\"+Inf\""), share);
        app_counter(&mut out, "http_request_duration_seconds_count", &labels, share);
        app_counter(&mut out, "http_request_duration_seconds_sum", &labels, share * 0.5);
    }

    out.push_str("# TYPE http_requests counter\n");
    counter(&mut out, "http_requests_total", "code=\"200\"", &|w| REQUESTS_PER_S * (1.0 - w.error_pct / 100.0));
    counter(&mut out, "http_requests_total", "code=\"500\"", &|w| REQUESTS_PER_S * w.error_pct / 100.0);
    for (status, share) in app_statuses() {
        app_counter(&mut out, "http_requests_total", &format!("path=\"/api/products\",status=\"{status}\""), share);
    }

    out.push_str("# TYPE app_queue_depth gauge\n");
    let app_times = app_times();
    for (i, t) in app_times.iter().enumerate() {
        let depth = (APP_QUEUE_PEAK * i as f64 / (app_times.len() - 1) as f64).round();
        writeln!(out, "app_queue_depth{{namespace=\"demo\",pod=\"smartscale-demo-app-1\"}} {depth} {}", t.timestamp())
            .unwrap();
    }

    out.push_str("# EOF\n");
    out
}

/// The scrape times of the [`APP`] segment.
fn app_times() -> Vec<DateTime<Utc>> {
    let start = t0() + Duration::minutes(APP.start_min);
    (0..APP.minutes * 60 / SCRAPE_S).map(|i| start + Duration::seconds(i * SCRAPE_S)).collect()
}

/// The app's statuses and their share of its requests per second.
fn app_statuses() -> [(&'static str, f64); 2] {
    let errors = APP.requests_per_s * APP.error_pct / 100.0;
    [("200", APP.requests_per_s - errors), ("500", errors)]
}

/// A counter of the [`APP`] segment growing at `rate` per second.
fn app_counter(out: &mut String, name: &str, labels: &str, rate: f64) {
    for (i, t) in app_times().iter().enumerate() {
        writeln!(out, "{name}{{{labels}}} {} {}", rate * (i as i64 * SCRAPE_S) as f64, t.timestamp()).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert!((HIGH_CPU.busy_pct() - 80.0).abs() < 1e-9);
        assert!((HIGH_CPU.spec_cpu_pct() - 26.67).abs() < 0.01, "the spec's query under-reads");
        assert!((HIGH_CPU.p95_s() - (0.25 + 0.25 * 0.05 / 0.07)).abs() < 1e-9);
        assert_eq!(window_at(PENDING_PODS.eval_at()).name, "pending_pods");
    }

    #[test]
    fn the_app_segment_follows_the_windows_with_the_apps_labels() {
        let text = openmetrics();
        let app_start = (t0() + Duration::minutes(APP.start_min)).timestamp();
        let last_window = (t0() + Duration::minutes(APP.start_min) - Duration::seconds(SCRAPE_S)).timestamp();
        for line in text.lines().filter(|l| l.starts_with("app_queue_depth") || l.contains("status=\"")) {
            if line.starts_with("kube_node_status_condition") {
                continue;
            }
            let at: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            assert!(at >= app_start, "app series inside the windows: {line}");
        }
        assert!(text
            .contains(&format!("app_queue_depth{{namespace=\"demo\",pod=\"smartscale-demo-app-1\"}} 0 {app_start}")));
        assert!(text.contains("http_requests_total{code=\"200\"}"), "the windows keep client_golang's `code` label");
        assert!(text.lines().any(|l| l.starts_with("node_cpu_seconds_total") && l.ends_with(&last_window.to_string())));
    }

    #[test]
    fn openmetrics_is_grouped_and_terminated() {
        let text = openmetrics();
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(text.matches("# TYPE node_cpu_seconds counter").count(), 1);
        assert!(!text.contains("# TYPE node_cpu_seconds_total"), "counter families are declared without _total");
    }
}
