//! The app's Prometheus metrics, in the OpenMetrics text format.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Latency buckets, seconds. 2 s is a boundary so that "p95 above 2 s" (the decider's latency
/// trigger) is decided by a bucket edge, not by interpolation across a wide bucket.
pub const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0];

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `path` is the route template (`/api/products`), never the raw URL, so the label's values are
/// bounded; `status` is the numeric HTTP status.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub path: String,
    pub status: String,
}

type HistogramFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily,
    pub queue_depth: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        // The client library adds the `_total` suffix: the series is `http_requests_total`.
        registry.register("http_requests", "HTTP requests served, by route and status", requests.clone());
        let durations: HistogramFamily = Family::new_with_constructor(|| Histogram::new(BUCKETS));
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response, by route and status",
            durations.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register("app_queue_depth", "Jobs waiting in the work queue", queue_depth.clone());
        Metrics { registry, requests, durations, queue_depth }
    }

    pub fn observe(&self, path: &str, status: u16, seconds: f64) {
        let labels = RequestLabels { path: path.to_string(), status: status.to_string() };
        self.requests.get_or_create(&labels).inc();
        self.durations.get_or_create(&labels).observe(seconds);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        encode(&mut out, &self.registry).expect("encode metrics into a String");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_the_names_and_labels_the_decider_queries() {
        let m = Metrics::new();
        m.observe("/api/products", 200, 0.03);
        m.observe("/api/products", 500, 2.2);
        m.queue_depth.set(1234);
        let text = m.render();
        for line in [
            r#"http_requests_total{path="/api/products",status="200"} 1"#,
            r#"http_requests_total{path="/api/products",status="500"} 1"#,
            r#"http_request_duration_seconds_bucket{le="2.0",path="/api/products",status="500"} 0"#,
            r#"http_request_duration_seconds_bucket{le="2.5",path="/api/products",status="500"} 1"#,
            r#"http_request_duration_seconds_count{path="/api/products",status="200"} 1"#,
            "app_queue_depth 1234",
            "# TYPE http_request_duration_seconds histogram",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
    }
}
