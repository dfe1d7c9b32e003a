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

/// Pods the scheduler could not place (kube-state-metrics only reports those): unlike phase
/// Pending, this leaves out pods that are placed and still pulling their images.
const UNSCHEDULABLE: &str = "(kube_pod_status_unschedulable == 1)";
const RUNNING: &str = r#"(kube_pod_status_phase{phase="Running"} == 1)"#;
/// Zero while kube-state-metrics reports any pod, so that "none" is not read as "unknown".
const ZERO_IF_KSM_UP: &str = "(0 * sum(kube_pod_status_phase))";

/// Summed requests of `resource` over the pods in `pods` that are not DaemonSet pods (they
/// never move). Zero when no pod matches; absent, so unknown, without kube-state-metrics.
fn requests_of(resource: &str, pods: &str) -> String {
    format!(
        r#"(sum((kube_pod_container_resource_requests{{resource="{resource}"}} * on(namespace, pod) group_left() {pods}) unless on(namespace, pod) kube_pod_owner{{owner_kind="DaemonSet"}}) or {ZERO_IF_KSM_UP})"#
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
            pending_pods: format!("(sum(kube_pod_status_unschedulable) or {ZERO_IF_KSM_UP})"),
            node_count: "count(kube_node_info)".into(),
            queue_depth: "sum(app_queue_depth)".into(),
            p95_latency: "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))".into(),
            // No 5xx series at all means no errors (`or vector(0)`); no request series at all
            // leaves the rate unknown.
            error_rate: r#"(sum(rate(http_requests_total{code=~"5.."}[2m])) or vector(0)) / sum(rate(http_requests_total[2m])) * 100"#.into(),
            pending_cpu: format!("{} * 1000", requests_of("cpu", UNSCHEDULABLE)),
            pending_memory: requests_of("memory", UNSCHEDULABLE),
            requested_cpu: format!("{} * 1000", requests_of("cpu", RUNNING)),
            requested_memory: requests_of("memory", RUNNING),
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
