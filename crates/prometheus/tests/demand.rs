//! Predictive scaling's demand query against a real Prometheus holding the synthetic backfill
//! (`smartscale_testbed::backfill`): six app pods of 0.2 cores and 256 MiB each, running or
//! unschedulable, so running + pending always sum to 1536 MiB = 1.043 nodes of 1472 MiB.

use chrono::Duration;
use smartscale_core::config::MapConfig;
use smartscale_core::forecast::NodeSize;
use smartscale_core::ports::MetricsSource;
use smartscale_prometheus::{PrometheusConfig, PrometheusSource};
use smartscale_testbed::backfill::{self, PENDING_PODS, PODS, POD_MEMORY_BYTES, WINDOWS};

fn source(url: &str) -> PrometheusSource {
    let config = MapConfig::new().with("PROMETHEUS_URL", url).with("PROMETHEUS_RETRIES", "0");
    PrometheusSource::new(PrometheusConfig::from_config(&config).unwrap(), None).unwrap()
}

const NODE: NodeSize = NodeSize { cpu_millis: 1800.0, memory_bytes: 1472.0 * 1024.0 * 1024.0 };

#[tokio::test]
async fn the_demand_is_running_plus_pending_requests_in_nodes_every_five_minutes() {
    let prom = source(&smartscale_testbed::prometheus_url());
    let start = backfill::t0();
    let end = start + Duration::minutes(WINDOWS.len() as i64 * backfill::WINDOW_MIN - 5);
    let demand = prom.demand(start, end, 300, NODE).await.expect("demand history");
    assert_eq!(demand.len() as i64, (end - start).num_minutes() / 5 + 1, "{demand:?}");
    let expected = PODS as f64 * POD_MEMORY_BYTES / NODE.memory_bytes;
    for d in &demand {
        assert!((d.nodes - expected).abs() < 0.01, "at {}: {} != {expected}", d.at, d.nodes);
    }
    // The pending pods' window counts them too (3 of the 6 are unschedulable there).
    let mid = backfill::t0() + Duration::minutes(PENDING_PODS.start_min + 20);
    assert!(demand.iter().any(|d| d.at == mid));
}

#[tokio::test]
async fn a_long_history_is_read_in_chunks_under_the_point_limit() {
    // 40 days at 5 minutes is 11 521 points: one query would be refused; two chunks are not.
    let prom = source(&smartscale_testbed::prometheus_url());
    let end = backfill::t0() + Duration::minutes(100);
    let demand = prom.demand(end - Duration::days(40), end, 300, NODE).await.expect("chunked history");
    assert!(demand.len() >= 20, "the backfilled part is there: {}", demand.len());
    assert!(demand.windows(2).all(|w| w[0].at < w[1].at), "in order, no duplicates at chunk edges");
}

#[tokio::test]
async fn a_stopped_prometheus_is_an_error_not_an_empty_history() {
    let prom = source(&smartscale_testbed::closed_port_url());
    let end = backfill::t0();
    let err = prom.demand(end - Duration::days(14), end, 300, NODE).await.unwrap_err();
    assert!(err.is_transient() || err.to_string().contains("prometheus"), "{err}");
}
