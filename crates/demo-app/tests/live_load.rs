//! The decider's own app-metric queries against live exposition: the demo app on loopback,
//! driven by Locust, scraped every second by a real Prometheus, read through the real
//! `PrometheusSource`, decided on by the real engine.
//!
//! Four copies run side by side, each with its own app and Prometheus so that their data cannot
//! mix: one with no fault, and one each with injected latency, errors and queue growth. The
//! faulty ones must trigger a scale-up on exactly their signal; the calm one must never trigger.
//!
//! Loopback has no node-exporter and no kube-state-metrics, so CPU, memory and pending pods
//! are (correctly) unknown from Prometheus; the test checks that, then sets them to calm values
//! before deciding, so that the decision turns on the app metrics alone.
//!
//! Needs `SMARTSCALE_TEST_LOCUST` (the locust executable) and Debian's `prometheus` (or
//! `SMARTSCALE_TEST_PROMETHEUS_BIN`); `scripts/check-demo-app` installs both and runs this.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Duration as ChronoDuration, Utc};
use smartscale_core::config::MapConfig;
use smartscale_core::decide::{decide, Action, DecisionState, Trigger};
use smartscale_core::metrics::Sample;
use smartscale_core::policy::Policy;
use smartscale_prometheus::{PrometheusConfig, PrometheusSource};

/// Every step of the decider's fetch, and the error-rate window shortened from 120 s to 15 s so
/// the run fits in about a minute; thresholds are the defaults (p95 2 s, errors 5 %, queue 1000).
const STEP_S: u32 = 5;
const ERROR_WINDOW_S: u32 = 15;
/// Longest the faults may take to show.
const TRIGGER_DEADLINE: Duration = Duration::from_secs(90);
/// The calm copy must be seen calm, with every app signal known, for at least this long.
const CALM_FOR: Duration = Duration::from_secs(30);

struct Phase {
    name: &'static str,
    env: &'static [(&'static str, &'static str)],
    expect: Option<Trigger>,
}

const PHASES: [Phase; 4] = [
    Phase { name: "calm", env: &[], expect: None },
    // Just over the 2 s threshold, inside the (2, 2.5] bucket.
    Phase { name: "latency", env: &[("DEMO_LATENCY_MS", "2200")], expect: Some(Trigger::P95Latency) },
    Phase { name: "errors", env: &[("DEMO_ERROR_SHARE", "0.1")], expect: Some(Trigger::ErrorRate) },
    // 150 jobs/s in, 50/s drained: the backlog passes 1000 in about ten seconds.
    Phase { name: "queue", env: &[("DEMO_QUEUE_GROWTH_PER_S", "150")], expect: Some(Trigger::QueueDepth) },
];

/// A child process killed when the test ends, however it ends.
struct Running {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn spawn(name: &str, command: &mut Command, log: PathBuf) -> Running {
        let file = std::fs::File::create(&log).unwrap();
        let child = command
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        Running { name: name.into(), child, log }
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early ({status}):\n{}", self.name, self.tail());
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_until_up(process: &mut Running, url: &str) {
    let http = reqwest::Client::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        process.assert_alive();
        if http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{} did not answer {url} within 30 s:\n{}", process.name, process.tail());
}

fn prometheus_bin() -> String {
    std::env::var("SMARTSCALE_TEST_PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".into())
}

fn locust_bin() -> String {
    match std::env::var("SMARTSCALE_TEST_LOCUST") {
        Ok(path) if !path.is_empty() => path,
        _ => panic!(
            "SMARTSCALE_TEST_LOCUST is not set: run this test with scripts/check-demo-app, which installs Locust"
        ),
    }
}

struct Copy {
    phase: &'static Phase,
    app_url: String,
    source: PrometheusSource,
    _app: Running,
    _prometheus: Running,
    triggered_at: Option<Duration>,
    calm_since: Option<Instant>,
}

async fn start_copy(phase: &'static Phase, dir: &Path) -> Copy {
    let app_port = free_port();
    let app_url = format!("http://127.0.0.1:{app_port}");
    let mut app_cmd = Command::new(env!("CARGO_BIN_EXE_smartscale-demo-app"));
    app_cmd.env("DEMO_LISTEN_ADDR", format!("127.0.0.1:{app_port}")).env("DEMO_SHUTDOWN_GRACE_S", "0");
    for (k, v) in phase.env {
        app_cmd.env(k, v);
    }
    let mut app = Running::spawn(
        &format!("demo app ({})", phase.name),
        &mut app_cmd,
        dir.join(format!("app-{}.log", phase.name)),
    );
    wait_until_up(&mut app, &format!("{app_url}/ready")).await;

    let prom_port = free_port();
    let prom_dir = dir.join(format!("prometheus-{}", phase.name));
    std::fs::create_dir_all(&prom_dir).unwrap();
    let config = prom_dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: demo-app\n    static_configs:\n      - targets: ['127.0.0.1:{app_port}']\n"
        ),
    )
    .unwrap();
    let mut prom_cmd = Command::new(prometheus_bin());
    prom_cmd
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", prom_dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    let mut prometheus =
        Running::spawn(&format!("prometheus ({})", phase.name), &mut prom_cmd, prom_dir.join("prometheus.log"));
    let prom_url = format!("http://127.0.0.1:{prom_port}");
    wait_until_up(&mut prometheus, &format!("{prom_url}/-/ready")).await;

    // The decider's production configuration path, with the default queries.
    let config = PrometheusConfig::from_config(&MapConfig::new().with("PROMETHEUS_URL", &prom_url)).unwrap();
    let source = PrometheusSource::new(config, None).unwrap();
    Copy { phase, app_url, source, _app: app, _prometheus: prometheus, triggered_at: None, calm_since: None }
}

fn policy() -> Policy {
    Policy::from_config(
        &MapConfig::new().with("METRICS_STEP", STEP_S).with("SCALE_UP_ERROR_RATE_WINDOW", ERROR_WINDOW_S),
    )
    .unwrap()
}

/// Calm infrastructure signals (no node-exporter or kube-state-metrics on loopback): between the
/// scale-down and scale-up thresholds, nothing pending.
fn with_calm_infrastructure(mut s: Sample) -> Sample {
    assert_eq!((s.cpu_pct, s.mem_pct), (None, None), "nothing exports node metrics here: unknown, not zero: {s:?}");
    s.cpu_pct = Some(50.0);
    s.mem_pct = Some(60.0);
    s.pending_pods = Some(0);
    s.pending_cpu_millis = Some(0.0);
    s.pending_memory_bytes = Some(0.0);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "live load test (about a minute): run by scripts/check-demo-app, which installs Locust"]
async fn the_decider_triggers_on_each_injected_fault_and_never_without_one() {
    let locust = locust_bin();
    let dir = std::env::temp_dir().join(format!("smartscale-demo-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let mut copies = Vec::new();
    for phase in &PHASES {
        copies.push(start_copy(phase, &dir).await);
    }
    let targets: Vec<String> = copies.iter().map(|c| format!("{}={}", c.phase.name, c.app_url)).collect();
    let locustfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/locustfile.py");
    let mut load = Running::spawn(
        "locust",
        Command::new(&locust)
            .arg("--headless")
            .arg("--locustfile")
            .arg(&locustfile)
            .args(["--users", "24", "--spawn-rate", "24", "--run-time", "150s", "--only-summary"])
            .arg("--csv")
            .arg(dir.join("locust"))
            .env("DEMO_TARGETS", targets.join(",")),
        dir.join("locust.log"),
    );

    let policy = policy();
    let state = DecisionState { node_count: 3, ..DecisionState::default() };
    let started = Instant::now();
    let mut report = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_secs(3)).await;
        load.assert_alive();
        let now = Utc::now();
        for copy in &mut copies {
            let fetched = copy.source.fetch_report(now - ChronoDuration::seconds(120), now, STEP_S).await.unwrap();
            assert!(fetched.ambiguous.is_empty(), "{}: {:?}", copy.phase.name, fetched.ambiguous);
            let samples: Vec<Sample> = fetched.samples.into_iter().map(with_calm_infrastructure).collect();
            let latest = samples.iter().rev().find(|s| s.p95_latency_s.is_some()).cloned();
            let decision = decide(&policy, &state, &samples, now);
            let app_triggers: Vec<Trigger> = decision
                .triggers
                .iter()
                .copied()
                .filter(|t| matches!(t, Trigger::P95Latency | Trigger::ErrorRate | Trigger::QueueDepth))
                .collect();
            let line = format!(
                "{:>5.1}s {:<7} p95={:?} errors%={:?} queue={:?} -> {:?} {:?}",
                started.elapsed().as_secs_f64(),
                copy.phase.name,
                latest.as_ref().and_then(|s| s.p95_latency_s),
                latest.as_ref().and_then(|s| s.error_rate_pct),
                latest.as_ref().and_then(|s| s.queue_depth),
                decision.action,
                decision.reasons
            );
            eprintln!("{line}");
            report.push(line.clone());
            match copy.phase.expect {
                None => {
                    assert!(
                        app_triggers.is_empty() && decision.action == Action::None,
                        "the calm copy triggered: {line}"
                    );
                    let last = samples.last().expect("samples");
                    let known =
                        last.p95_latency_s.is_some() && last.error_rate_pct.is_some() && last.queue_depth.is_some();
                    if known {
                        assert!(
                            last.error_rate_pct == Some(0.0),
                            "no errors injected, and no 5xx series: a true 0 %: {line}"
                        );
                        copy.calm_since.get_or_insert_with(Instant::now);
                    } else {
                        copy.calm_since = None;
                    }
                }
                Some(expected) if decision.action == Action::ScaleUp => {
                    assert_eq!(
                        app_triggers,
                        vec![expected],
                        "{}: only its own signal may trigger: {line}",
                        copy.phase.name
                    );
                    copy.triggered_at.get_or_insert(started.elapsed());
                }
                Some(_) => {}
            }
        }
        let calm_long_enough = copies
            .iter()
            .filter(|c| c.phase.expect.is_none())
            .all(|c| c.calm_since.is_some_and(|t| t.elapsed() >= CALM_FOR));
        let all_triggered = copies.iter().filter(|c| c.phase.expect.is_some()).all(|c| c.triggered_at.is_some());
        if calm_long_enough && all_triggered {
            break;
        }
        if started.elapsed() > TRIGGER_DEADLINE {
            let missing: Vec<&str> = copies
                .iter()
                .filter(|c| c.phase.expect.is_some() && c.triggered_at.is_none())
                .map(|c| c.phase.name)
                .collect();
            panic!(
                "within {TRIGGER_DEADLINE:?}: not triggered {missing:?}, calm long enough: {calm_long_enough}\n{}",
                report.join("\n")
            );
        }
    }
    for copy in &copies {
        if let Some(at) = copy.triggered_at {
            eprintln!("{} triggered a scale-up {:.0} s after the load started", copy.phase.name, at.as_secs_f64());
        }
    }
    // The load really ran, as each app counted it.
    for copy in &copies {
        let served = copy
            .source
            .instant("served", r#"sum(http_requests_total{path="/api/products"})"#, Utc::now())
            .await
            .unwrap()
            .unwrap_or(0.0);
        eprintln!("{} served {served:.0} product requests", copy.phase.name);
        assert!(served >= 20.0, "{}: only {served} product requests reached the app", copy.phase.name);
    }
    // What this run found: the former default error-rate query read the `code` label with
    // `or vector(0)`, so against this app (label `status`) it answered 0 % while one request
    // in ten failed. The default now reads `status` and leaves a missing label unknown.
    const FORMER_ERROR_RATE: &str =
        r#"(sum(rate(http_requests_total{code=~"5.."}[2m])) or vector(0)) / sum(rate(http_requests_total[2m])) * 100"#;
    let errors = copies.iter().find(|c| c.phase.name == "errors").unwrap();
    let former = errors.source.instant("former error rate", FORMER_ERROR_RATE, Utc::now()).await.unwrap();
    assert_eq!(former, Some(0.0), "the former query should read 0 % here: {former:?}");
    drop(load);
    drop(copies);
    eprintln!("live run took {:.0} s", started.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&dir);
}
