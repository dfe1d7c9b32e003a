use smartscale_core::config::{self, ConfigSource};

/// The PromQL behind each signal. Every query must return a single series.
#[derive(Debug, Clone, PartialEq)]
pub struct Queries {
    pub cpu: String,
    pub memory: String,
    pub pending_pods: String,
    pub node_count: String,
    pub queue_depth: String,
    pub p95_latency: String,
    pub error_rate: String,
    pub pending_cpu: String,
    pub pending_memory: String,
    pub requested_cpu: String,
    pub requested_memory: String,
}

/// Summed requests of `resource` over pods in `phase`, from kube-state-metrics. Zero (not
/// absent) when kube-state-metrics reports no pod in that phase; absent, so unknown, when it
/// reports nothing at all.
fn requests_in_phase(resource: &str, phase: &str) -> String {
    format!(
        r#"(sum(kube_pod_container_resource_requests{{resource="{resource}"}} * on(namespace, pod) group_left() (kube_pod_status_phase{{phase="{phase}"}} == 1)) or (0 * sum(kube_pod_status_phase{{phase="{phase}"}})))"#
    )
}

/// Running pods' requests of `resource` as % of the allocatable of schedulable nodes.
fn requested_share(resource: &str) -> String {
    format!(
        r#"{} / sum(kube_node_status_allocatable{{resource="{resource}"}} * on(node) group_left() (kube_node_spec_unschedulable == 0)) * 100"#,
        requests_in_phase(resource, "Running")
    )
}

/// CPU busy %. The spec's `avg(rate(node_cpu_seconds_total{mode!="idle"}[5m])) * 100` averages
/// over every non-idle (cpu, mode) series: with node-exporter's seven non-idle modes, 30 % user
/// plus 10 % system reads as 5.7 %, not 40 %, so it never reaches the 70 % threshold. Busy is
/// one minus the idle share instead.
pub const CPU_BUSY: &str = r#"(1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m]))) * 100"#;

/// The spec's original CPU query, kept only so tests can show why it is wrong.
pub const CPU_SPEC_ORIGINAL: &str = r#"avg(rate(node_cpu_seconds_total{mode!="idle"}[5m])) * 100"#;

impl Default for Queries {
    fn default() -> Self {
        Queries {
            cpu: CPU_BUSY.into(),
            memory: "(1 - sum(node_memory_MemAvailable_bytes) / sum(node_memory_MemTotal_bytes)) * 100".into(),
            pending_pods: r#"sum(kube_pod_status_phase{phase="Pending"})"#.into(),
            node_count: "count(kube_node_info)".into(),
            queue_depth: "sum(app_queue_depth)".into(),
            p95_latency: "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))".into(),
            // No 5xx series at all means no errors (`or vector(0)`); no request series at all
            // leaves the rate unknown.
            error_rate: r#"(sum(rate(http_requests_total{code=~"5.."}[2m])) or vector(0)) / sum(rate(http_requests_total[2m])) * 100"#.into(),
            pending_cpu: format!("{} * 1000", requests_in_phase("cpu", "Pending")),
            pending_memory: requests_in_phase("memory", "Pending"),
            requested_cpu: requested_share("cpu"),
            requested_memory: requested_share("memory"),
        }
    }
}

impl Queries {
    /// Defaults, each overridable by `PROMQL_CPU`, `PROMQL_MEMORY`, `PROMQL_PENDING_PODS`,
    /// `PROMQL_NODE_COUNT`, `PROMQL_QUEUE_DEPTH`, `PROMQL_P95_LATENCY`, `PROMQL_ERROR_RATE`,
    /// `PROMQL_PENDING_CPU`, `PROMQL_PENDING_MEMORY`, `PROMQL_REQUESTED_CPU`, `PROMQL_REQUESTED_MEMORY`.
    pub fn from_config(source: &dyn ConfigSource) -> Self {
        let mut q = Queries::default();
        for (var, field) in [
            ("PROMQL_CPU", &mut q.cpu),
            ("PROMQL_MEMORY", &mut q.memory),
            ("PROMQL_PENDING_PODS", &mut q.pending_pods),
            ("PROMQL_NODE_COUNT", &mut q.node_count),
            ("PROMQL_QUEUE_DEPTH", &mut q.queue_depth),
            ("PROMQL_P95_LATENCY", &mut q.p95_latency),
            ("PROMQL_ERROR_RATE", &mut q.error_rate),
            ("PROMQL_PENDING_CPU", &mut q.pending_cpu),
            ("PROMQL_PENDING_MEMORY", &mut q.pending_memory),
            ("PROMQL_REQUESTED_CPU", &mut q.requested_cpu),
            ("PROMQL_REQUESTED_MEMORY", &mut q.requested_memory),
        ] {
            if let Some(v) = config::optional(source, var) {
                *field = v;
            }
        }
        q
    }
}
