//! The seed PromQL against a real Prometheus holding the synthetic backfill
//! (`smartscale_testbed::backfill`), whose answers are known.

use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use smartscale_core::config::MapConfig;
use smartscale_core::metrics::Signal;
use smartscale_core::ports::MetricsSource;
use smartscale_core::Error;
use smartscale_prometheus::{
    error_rate, PrometheusConfig, PrometheusSource, Queries, StatusLabel, CPU_BUSY, CPU_SPEC_ORIGINAL,
};
use smartscale_testbed::backfill::{self, Window, HIGH_CPU, PENDING_PODS, QUIET, WINDOWS};

fn source_with(config: MapConfig) -> PrometheusSource {
    PrometheusSource::new(PrometheusConfig::from_config(&config).unwrap(), None).unwrap()
}

fn source_at(url: &str) -> PrometheusSource {
    source_with(MapConfig::new().with("PROMETHEUS_URL", url))
}

/// The backfill labels its request counters `code`, as client_golang does.
fn source() -> PrometheusSource {
    source_with(
        MapConfig::new()
            .with("PROMETHEUS_URL", smartscale_testbed::prometheus_url())
            .with("PROMETHEUS_STATUS_LABEL", "code"),
    )
}

fn close(actual: Option<f64>, expected: f64, what: &str, window: &Window) {
    let actual = actual.unwrap_or_else(|| panic!("{what} in {}: no series", window.name));
    assert!((actual - expected).abs() < 0.05, "{what} in {}: {actual} != {expected}", window.name);
}

#[tokio::test]
async fn each_seed_query_returns_what_the_backfill_implies() {
    let prom = source();
    let q = Queries { error_rate: error_rate(StatusLabel::Code), ..Queries::default() };
    for w in WINDOWS {
        let at = w.eval_at();
        close(prom.instant("cpu", &q.cpu, at).await.unwrap(), w.busy_pct(), "cpu busy %", &w);
        close(prom.instant("memory", &q.memory, at).await.unwrap(), w.mem_used_pct, "memory %", &w);
        close(
            prom.instant("pending", &q.pending_pods, at).await.unwrap(),
            f64::from(w.pending_pods),
            "pending pods",
            &w,
        );
        close(prom.instant("p95", &q.p95_latency, at).await.unwrap(), w.p95_s(), "p95 latency", &w);
        close(prom.instant("errors", &q.error_rate, at).await.unwrap(), w.error_pct, "error rate %", &w);
        assert_eq!(prom.registered_nodes(at).await.unwrap(), Some(backfill::NODES as u32));
        assert_eq!(prom.instant("queue", &q.queue_depth, at).await.unwrap(), None, "no queue series: absent, not zero");
    }
}

#[tokio::test]
async fn the_spec_cpu_query_under_reads_and_ours_does_not() {
    let prom = source();
    let at = HIGH_CPU.eval_at();
    let spec = prom.instant("spec cpu", CPU_SPEC_ORIGINAL, at).await.unwrap().unwrap();
    let busy = prom.instant("cpu", CPU_BUSY, at).await.unwrap().unwrap();
    assert!((spec - HIGH_CPU.spec_cpu_pct()).abs() < 0.05, "spec query read {spec}");
    assert!((busy - 80.0).abs() < 0.05, "busy query read {busy}");
    assert!(spec < 70.0 && busy > 70.0, "only the busy query can trigger a scale-up at 80 % busy");
}

#[tokio::test]
async fn fetch_returns_aligned_samples_with_absent_signals_left_unknown() {
    let prom = source();
    let end = PENDING_PODS.eval_at();
    let start = end - Duration::seconds(630);
    let samples = prom.fetch(start, end, 30).await.unwrap();
    assert_eq!(samples.len(), 22);
    assert_eq!(samples[0].at, start);
    assert_eq!(samples.last().unwrap().at, end);
    for s in &samples {
        assert_eq!(s.pending_pods, Some(3));
        assert!((s.cpu_pct.unwrap() - 50.0).abs() < 0.05);
        assert_eq!(s.queue_depth, None);
        assert_eq!(s.unhostable_pods, Some(0), "the backfill's pending pods all fit a new node");
        assert!(Signal::ALL.iter().filter(|sig| sig.value(s).is_some()).count() == 10);
    }
}

#[tokio::test]
async fn pending_and_running_requests_come_from_kube_state_metrics() {
    use smartscale_testbed::backfill::{PODS, POD_CPU_CORES, POD_MEMORY_BYTES};
    let prom = source();
    let at = PENDING_PODS.eval_at();
    let s = prom.fetch(at, at, 30).await.unwrap().remove(0);
    let pending = f64::from(PENDING_PODS.pending_pods);
    let running = PODS as f64 - pending;
    let close = |got: Option<f64>, want: f64| got.is_some_and(|g| (g - want).abs() < 1e-6 * want.max(1.0));
    assert!(close(s.pending_cpu_millis, pending * POD_CPU_CORES * 1000.0), "{s:?}");
    assert!(close(s.pending_memory_bytes, pending * POD_MEMORY_BYTES), "{s:?}");
    assert!(close(s.requested_cpu_millis, running * POD_CPU_CORES * 1000.0), "{s:?}");
    assert!(close(s.requested_memory_bytes, running * POD_MEMORY_BYTES), "{s:?}");

    // With nothing pending the sums are zero, not unknown.
    let quiet = prom.fetch(QUIET.eval_at(), QUIET.eval_at(), 30).await.unwrap().remove(0);
    assert_eq!(
        (quiet.pending_pods, quiet.pending_cpu_millis, quiet.pending_memory_bytes),
        (Some(0), Some(0.0), Some(0.0))
    );
}

#[tokio::test]
async fn a_query_returning_many_series_is_refused_not_guessed() {
    let prom = source();
    let err = prom.instant("cpu", "rate(node_cpu_seconds_total[5m])", QUIET.eval_at()).await.unwrap_err();
    assert!(matches!(err, Error::Rejected { .. }), "{err}");
    assert!(err.to_string().contains("must aggregate to one"), "{err}");
}

#[tokio::test]
async fn bad_promql_is_rejected_with_prometheus_message() {
    let prom = source();
    let err = prom.instant("cpu", "sum(rate(", QUIET.eval_at()).await.unwrap_err();
    assert!(matches!(err, Error::Rejected { .. }), "{err}");
    assert!(err.to_string().contains("bad_data"), "{err}");
}

#[tokio::test]
async fn a_stopped_prometheus_is_retried_then_unavailable() {
    let prom = source_at(&smartscale_testbed::closed_port_url());
    let started = Instant::now();
    let err = prom.fetch(QUIET.eval_at() - Duration::seconds(60), QUIET.eval_at(), 30).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err}");
    assert!(err.to_string().contains("cannot connect"), "{err}");
    // Two retries with 250 ms then 500 ms pauses.
    assert!(started.elapsed() >= StdDuration::from_millis(750), "no retries happened: {:?}", started.elapsed());
}

#[test]
fn config_errors_name_the_variable() {
    for (cfg, var) in [
        (MapConfig::new(), "PROMETHEUS_URL"),
        (MapConfig::new().with("PROMETHEUS_URL", "prometheus:9090"), "PROMETHEUS_URL"),
        (
            MapConfig::new().with("PROMETHEUS_URL", "http://p:9090").with("PROMETHEUS_TIMEOUT_S", "0"),
            "PROMETHEUS_TIMEOUT_S",
        ),
    ] {
        match PrometheusConfig::from_config(&cfg) {
            Err(Error::Config { var: got, .. }) => assert_eq!(got, var),
            other => panic!("expected a config error naming {var}: {other:?}"),
        }
    }
    let custom = PrometheusConfig::from_config(
        &MapConfig::new().with("PROMETHEUS_URL", "http://p:9090/").with("PROMQL_QUEUE_DEPTH", "sum(jobs)"),
    )
    .unwrap();
    assert_eq!(custom.url, "http://p:9090");
    assert_eq!(custom.queries.queue_depth, "sum(jobs)");
}

#[tokio::test]
async fn the_error_rate_read_through_a_wrong_status_label_is_unknown_not_zero() {
    // The backfill says `code`; the default query reads `status`, which no series carries.
    let prom = source_at(&smartscale_testbed::prometheus_url());
    for w in WINDOWS {
        let read = prom.instant("errors", &error_rate(StatusLabel::Status), w.eval_at()).await.unwrap();
        assert_eq!(read, None, "error rate through a label nothing carries in {}: {read:?}", w.name);
    }
    let s = prom.fetch(QUIET.eval_at(), QUIET.eval_at(), 30).await.unwrap().remove(0);
    assert_eq!(s.error_rate_pct, None, "{s:?}");
    assert!(s.cpu_pct.is_some() && s.pending_pods.is_some(), "the other signals still read: {s:?}");
}

#[tokio::test]
async fn no_5xx_series_with_labelled_requests_is_a_true_zero() {
    let prom = source();
    let zero_errors = WINDOWS.iter().find(|w| w.error_pct == 0.0).expect("a window without errors");
    let only_2xx = r#"(sum(rate(http_requests_total{code=~"5..", code!="500"}[2m])) or (0 * sum(rate(http_requests_total{code!=""}[2m])))) / sum(rate(http_requests_total{code!=""}[2m])) * 100"#;
    for w in WINDOWS {
        // No series matches the 5xx selector at all here, yet requests with the label exist.
        assert_eq!(prom.instant("errors", only_2xx, w.eval_at()).await.unwrap(), Some(0.0), "{}", w.name);
    }
    assert_eq!(prom.instant("errors", &error_rate(StatusLabel::Code), zero_errors.eval_at()).await.unwrap(), Some(0.0));
}

#[tokio::test]
async fn an_optional_query_with_several_series_leaves_only_its_signal_unknown() {
    let at = PENDING_PODS.eval_at();
    let several = "rate(node_cpu_seconds_total[5m])";
    let prom = source_with(
        MapConfig::new()
            .with("PROMETHEUS_URL", smartscale_testbed::prometheus_url())
            .with("PROMETHEUS_STATUS_LABEL", "code")
            .with("PROMQL_QUEUE_DEPTH", several),
    );
    let fetched = prom.fetch_report(at - Duration::seconds(60), at, 30).await.unwrap();
    assert_eq!(fetched.ambiguous.len(), 1, "{:?}", fetched.ambiguous);
    let a = &fetched.ambiguous[0];
    assert_eq!((a.signal, a.query.as_str()), (Signal::QueueDepth, several));
    assert!(a.series > 1, "{a:?}");
    for s in &fetched.samples {
        assert_eq!(s.queue_depth, None);
        assert_eq!(s.pending_pods, Some(PENDING_PODS.pending_pods));
        assert!(s.cpu_pct.is_some() && s.mem_pct.is_some() && s.p95_latency_s.is_some(), "{s:?}");
    }
    // Through the port too: the other signals keep working.
    let samples = prom.fetch(at - Duration::seconds(60), at, 30).await.unwrap();
    assert_eq!(samples, fetched.samples);
}
