//! Days of a cluster's kube-state-metrics history whose node count and pod requests follow a
//! known daily pattern, for `smartscale backtest`'s tests, and a Debian Prometheus of its own to
//! serve it (optionally behind basic auth).
//!
//! Each day has six 4-hour blocks. In block `b` the app wants [`PODS_WANTED`]`[b]` pods of
//! [`POD_CPU_CORES`] / [`POD_MEMORY_BYTES`] (memory-bound: [`REPLICAS_PER_POD`] replicas of the
//! simulator's 200 m / 256 MiB app each) and the cluster runs [`NODES`]`[b]` nodes. For the
//! first [`PENDING_MINUTES`] of every block the last wanted pod is Pending and unschedulable.
//! Three DaemonSet pods with requests run throughout; they must not count.
//!
//! Samples are [`SAMPLE_S`] (5 min) apart, the pattern changes only on 5-minute boundaries, and
//! the server runs with `--query.lookback-delta=4m`, so a query at any instant sees the sample of
//! its 5-minute slot and nothing older: a node that left is gone from the next slot on, as the
//! staleness markers of real scrapes would make it (a backfill has none). Sparse samples keep
//! promtool's backfill of 8 days to seconds.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Timelike, Utc};

/// The step `backtest` reads the history at in the tests.
pub const STEP_S: i64 = 60;
/// The backfill's sample spacing.
pub const SAMPLE_S: i64 = 300;
pub const BLOCK_HOURS: i64 = 4;
pub const PODS_WANTED: [u32; 6] = [2, 4, 8, 3, 1, 7];
pub const NODES: [u32; 6] = [3, 5, 9, 4, 2, 8];
pub const POD_CPU_CORES: f64 = 0.5;
pub const POD_MEMORY_BYTES: f64 = 1280.0 * 1024.0 * 1024.0;
pub const REPLICAS_PER_POD: u64 = 5;
pub const PENDING_MINUTES: i64 = 10;
pub const DAEMONSET_PODS: usize = 3;
/// The history begins this long before [`start`], so the first step has data.
pub const LEAD_IN_MIN: i64 = 10;

/// The first instant of the patterned history: Monday 2026-01-05 00:00 UTC.
pub fn start() -> DateTime<Utc> {
    "2026-01-05T00:00:00Z".parse().unwrap()
}

fn block(t: DateTime<Utc>) -> usize {
    (t.hour() as i64 / BLOCK_HOURS) as usize
}

/// Pods the app wants at `t` (Running or Pending).
pub fn pods_wanted_at(t: DateTime<Utc>) -> u32 {
    PODS_WANTED[block(t)]
}

/// Nodes in the cluster at `t`.
pub fn nodes_at(t: DateTime<Utc>) -> u32 {
    NODES[block(t)]
}

/// Unschedulable pods at `t`: the last wanted one, early in each block.
pub fn pending_at(t: DateTime<Utc>) -> u32 {
    let into_block = (i64::from(t.hour()) % BLOCK_HOURS) * 60 + i64::from(t.minute());
    u32::from(into_block < PENDING_MINUTES)
}

/// What to write: `days` days from [`start`] (and the lead-in), leaving out the metric families
/// named in `without` (to test a missing exporter metric).
#[derive(Debug, Clone)]
pub struct ClusterHistory {
    pub days: i64,
    pub without: Vec<&'static str>,
}

impl ClusterHistory {
    pub fn end(&self) -> DateTime<Utc> {
        start() + Duration::days(self.days)
    }

    /// The sample instants, the window's end included.
    pub fn times(&self) -> Vec<DateTime<Utc>> {
        let first = start() - Duration::minutes(LEAD_IN_MIN);
        (0..).map(|i| first + Duration::seconds(i * SAMPLE_S)).take_while(|t| *t <= self.end()).collect()
    }

    /// The history as OpenMetrics for `promtool tsdb create-blocks-from openmetrics`.
    pub fn openmetrics(&self) -> String {
        let times = self.times();
        let max_pods = *PODS_WANTED.iter().max().unwrap() as usize;
        let max_nodes = *NODES.iter().max().unwrap() as usize;
        let mut out = String::new();
        let family = |out: &mut String, name: &str| {
            if self.without.contains(&name) {
                return false;
            }
            writeln!(out, "# TYPE {name} gauge").unwrap();
            true
        };
        let series = |out: &mut String, name: &str, labels: &str, value: &dyn Fn(DateTime<Utc>) -> Option<f64>| {
            for t in &times {
                if let Some(v) = value(*t) {
                    writeln!(out, "{name}{{{labels}}} {v} {}", t.timestamp()).unwrap();
                }
            }
        };
        let pod = |k: usize| format!("namespace=\"shop\",pod=\"shop-api-{k}\"");
        let daemon = |k: usize| format!("namespace=\"monitoring\",pod=\"node-exporter-{k}\"");
        // Pod k (from 0) runs while k < wanted; the last wanted one is Pending early in a block.
        let phase_of = |k: usize, t: DateTime<Utc>| {
            let wanted = pods_wanted_at(t) as usize;
            if k >= wanted {
                "Succeeded"
            } else if k + 1 == wanted && pending_at(t) == 1 {
                "Pending"
            } else {
                "Running"
            }
        };

        if family(&mut out, "kube_node_info") {
            for n in 0..max_nodes {
                series(&mut out, "kube_node_info", &format!("node=\"node-{n}\",kernel_version=\"6.1.0\""), &|t| {
                    (n < nodes_at(t) as usize).then_some(1.0)
                });
            }
        }
        if family(&mut out, "kube_pod_status_phase") {
            for k in 0..max_pods {
                for phase in ["Pending", "Running"] {
                    series(&mut out, "kube_pod_status_phase", &format!("{},phase=\"{phase}\"", pod(k)), &|t| {
                        Some(f64::from(u8::from(phase_of(k, t) == phase)))
                    });
                }
            }
            for k in 0..DAEMONSET_PODS {
                for (phase, v) in [("Pending", 0.0), ("Running", 1.0)] {
                    series(&mut out, "kube_pod_status_phase", &format!("{},phase=\"{phase}\"", daemon(k)), &|_| {
                        Some(v)
                    });
                }
            }
        }
        if family(&mut out, "kube_pod_status_unschedulable") {
            for k in 0..max_pods {
                series(&mut out, "kube_pod_status_unschedulable", &pod(k), &|t| {
                    (phase_of(k, t) == "Pending").then_some(1.0)
                });
            }
        }
        if family(&mut out, "kube_pod_container_resource_requests") {
            for k in 0..max_pods {
                for (resource, v) in [("cpu", POD_CPU_CORES), ("memory", POD_MEMORY_BYTES)] {
                    let labels = format!("{},container=\"api\",resource=\"{resource}\"", pod(k));
                    series(&mut out, "kube_pod_container_resource_requests", &labels, &|_| Some(v));
                }
            }
            for k in 0..DAEMONSET_PODS {
                for (resource, v) in [("cpu", 0.1), ("memory", 64.0 * 1048576.0)] {
                    let labels = format!("{},container=\"exporter\",resource=\"{resource}\"", daemon(k));
                    series(&mut out, "kube_pod_container_resource_requests", &labels, &|_| Some(v));
                }
            }
        }
        if family(&mut out, "kube_pod_owner") {
            for k in 0..max_pods {
                let labels = format!("{},owner_kind=\"ReplicaSet\",owner_name=\"shop-api\"", pod(k));
                series(&mut out, "kube_pod_owner", &labels, &|_| Some(1.0));
            }
            for k in 0..DAEMONSET_PODS {
                let labels = format!("{},owner_kind=\"DaemonSet\",owner_name=\"node-exporter\"", daemon(k));
                series(&mut out, "kube_pod_owner", &labels, &|_| Some(1.0));
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

/// Basic auth for [`PrometheusServer::start`]: the user, the password, and its bcrypt hash
/// (cost 4, made once with Python's `bcrypt`) as Prometheus' web config wants it.
pub const AUTH_USER: &str = "backtest";
pub const AUTH_PASSWORD: &str = "backtest-password";
const AUTH_BCRYPT: &str = "$2b$04$3v3U0b/xTMQa35qdfhXQ3uK5BRxLGIk7lrjoZg5USt4NGWgBV1vou";

/// Debian's Prometheus on a loopback port over a backfilled history; stopped and its data
/// removed when dropped.
pub struct PrometheusServer {
    pub url: String,
    child: Child,
    dir: PathBuf,
}

impl PrometheusServer {
    /// Backfills `openmetrics` with promtool and serves it; with `basic_auth`, every request
    /// needs [`AUTH_USER`] / [`AUTH_PASSWORD`]. Fails loudly when either tool is missing.
    pub fn start(openmetrics: &str, basic_auth: bool) -> Result<PrometheusServer, String> {
        let dir = std::env::temp_dir().join(crate::unique("smartscale-backtest-prometheus"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let backfill = dir.join("history.om");
        std::fs::write(&backfill, openmetrics).map_err(|e| format!("{}: {e}", backfill.display()))?;
        let data = dir.join("data");
        let out = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&backfill)
            .arg(&data)
            .output()
            .map_err(|e| format!("promtool (Debian's prometheus package) cannot run: {e}"))?;
        if !out.status.success() {
            return Err(format!("promtool backfill failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        std::fs::remove_file(&backfill).ok();
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1m\nscrape_configs: []\n").map_err(|e| e.to_string())?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        drop(listener);
        let mut command = Command::new("prometheus");
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .args(["--storage.tsdb.retention.time=100y", "--query.lookback-delta=4m"])
            .arg(format!("--web.listen-address=127.0.0.1:{port}"));
        if basic_auth {
            let web = dir.join("web.yml");
            std::fs::write(&web, format!("basic_auth_users:\n  {AUTH_USER}: {AUTH_BCRYPT}\n"))
                .map_err(|e| e.to_string())?;
            command.arg(format!("--web.config.file={}", web.display()));
        }
        let log = std::fs::File::create(dir.join("prometheus.log")).map_err(|e| e.to_string())?;
        let child = command
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("prometheus (Debian's package) cannot run: {e}"))?;
        let mut server = PrometheusServer { url: format!("http://127.0.0.1:{port}"), child, dir };
        server.wait_ready(port)?;
        Ok(server)
    }

    /// Polls `/-/ready` until it answers (401 counts: the server is up behind its auth).
    fn wait_ready(&mut self, port: u16) -> Result<(), String> {
        let deadline = Instant::now() + StdDuration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
                return Err(format!("prometheus exited ({status}) during start-up: {log}"));
            }
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let _ = stream.write_all(b"GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.1 401") {
                    return Ok(());
                }
            }
            std::thread::sleep(StdDuration::from_millis(200));
        }
        Err(format!("prometheus at {} was not ready within 60 s", self.url))
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_is_what_the_docs_say() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!((pods_wanted_at(t("2026-01-05T08:30:00Z")), nodes_at(t("2026-01-05T08:30:00Z"))), (8, 9));
        assert_eq!(pending_at(t("2026-01-05T04:09:00Z")), 1);
        assert_eq!(pending_at(t("2026-01-05T04:10:00Z")), 0);
        let history = ClusterHistory { days: 1, without: vec!["kube_node_info"] };
        let text = history.openmetrics();
        assert!(text.ends_with("# EOF\n"));
        assert!(!text.contains("kube_node_info"));
        assert_eq!(history.times().len() as i64, (24 * 60 + LEAD_IN_MIN) / 5 + 1);
    }
}
