use promql_parser::parser::{self, value::ValueType};
use smartscale_core::config::{self, ConfigSource};
use smartscale_core::{Error, Result};

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
    pub unhostable_pods: String,
}

/// Pods the scheduler could not place (kube-state-metrics only reports those): unlike phase
/// Pending, this leaves out pods that are placed and still pulling their images.
const UNSCHEDULABLE: &str = "(kube_pod_status_unschedulable == 1)";
const RUNNING: &str = r#"(kube_pod_status_phase{phase="Running"} == 1)"#;
/// Zero while kube-state-metrics reports any pod, so that "none" is not read as "unknown".
const ZERO_IF_KSM_UP: &str = "(0 * sum(kube_pod_status_phase))";

/// Summed requests of `resource` over the pods in `pods` that are not DaemonSet pods (they
/// never move), a pod that requests none of it counted as `unset` (the drain worker's
/// `DEFAULT_POD_CPU_M` / `DEFAULT_POD_MEMORY_MI` defaults): it still uses the node, and counting
/// it as zero would call a busy node free. Zero when no pod matches; absent, so unknown, without
/// kube-state-metrics.
fn requests_of(resource: &str, pods: &str, unset: &str) -> String {
    let not_daemonset = r#"unless on(namespace, pod) kube_pod_owner{owner_kind="DaemonSet"}"#;
    let requests = format!(r#"kube_pod_container_resource_requests{{resource="{resource}"}}"#);
    format!(
        "((sum(({requests} * on(namespace, pod) group_left() {pods}) {not_daemonset}) or {ZERO_IF_KSM_UP}) + (count(({pods} unless on(namespace, pod) {requests}) {not_daemonset}) or {ZERO_IF_KSM_UP}) * {unset})"
    )
}

/// What a pod without requests counts as, in the units of the queries (CPU in cores: the CPU
/// queries multiply by 1000 after).
const UNSET_CPU_CORES: &str = "0.1";
const UNSET_MEMORY_BYTES: &str = "134217728";

/// Unschedulable pods whose own requests exceed what a new node offers (`cpu_millis`,
/// `memory_bytes`: the policy's `NEW_NODE_CPU_MILLIS`, `NEW_NODE_MEMORY_MIB`). No scale-up can
/// place them; zero when there are none, absent without kube-state-metrics.
pub fn unhostable_pods(cpu_millis: u32, memory_bytes: u64) -> String {
    let per_pod = |resource: &str| {
        format!(
            r#"sum by (namespace, pod) (kube_pod_container_resource_requests{{resource="{resource}"}} * on(namespace, pod) group_left() {UNSCHEDULABLE})"#
        )
    };
    format!(
        "(count(({} * 1000 > {cpu_millis}) or ({} > {memory_bytes})) or {ZERO_IF_KSM_UP})",
        per_pod("cpu"),
        per_pod("memory")
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
            p95_latency: "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"
                .into(),
            error_rate: error_rate(StatusLabel::default()),
            pending_cpu: format!("{} * 1000", requests_of("cpu", UNSCHEDULABLE, UNSET_CPU_CORES)),
            pending_memory: requests_of("memory", UNSCHEDULABLE, UNSET_MEMORY_BYTES),
            requested_cpu: format!("{} * 1000", requests_of("cpu", RUNNING, UNSET_CPU_CORES)),
            unhostable_pods: {
                let policy = smartscale_core::Policy::default();
                unhostable_pods(policy.new_node_cpu_millis, u64::from(policy.new_node_memory_mib) << 20)
            },
            requested_memory: requests_of("memory", RUNNING, UNSET_MEMORY_BYTES),
        }
    }
}

/// The label of `http_requests_total` that carries the HTTP status: `status` (the demo app, the
/// spec's app) or `code` (client_golang's promhttp and most exporters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusLabel {
    #[default]
    Status,
    Code,
}

impl StatusLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusLabel::Status => "status",
            StatusLabel::Code => "code",
        }
    }

    /// `PROMETHEUS_STATUS_LABEL`: `status` (default) or `code`.
    pub fn from_config(source: &dyn ConfigSource) -> Result<Self> {
        match config::optional(source, STATUS_LABEL_VAR).as_deref() {
            None | Some("status") => Ok(StatusLabel::Status),
            Some("code") => Ok(StatusLabel::Code),
            Some(other) => Err(Error::config(STATUS_LABEL_VAR, format!("must be `status` or `code`, got {other:?}"))),
        }
    }
}

pub const STATUS_LABEL_VAR: &str = "PROMETHEUS_STATUS_LABEL";

/// Error rate % over the last 2 minutes. Only requests that carry `label` count, so a wrong
/// label (the app says `code`, we read `status`) matches nothing and the rate is unknown, not
/// "0 % errors". With such requests and no 5xx series the rate is a true 0 (the zero is tied to
/// the labelled requests existing, never a bare `vector(0)`); with no traffic it is 0/0, which
/// Prometheus answers as NaN and the adapter reads as unknown.
pub fn error_rate(label: StatusLabel) -> String {
    let l = label.as_str();
    let labelled = format!(r#"sum(rate(http_requests_total{{{l}!=""}}[2m]))"#);
    format!(r#"(sum(rate(http_requests_total{{{l}=~"5.."}}[2m])) or (0 * {labelled})) / {labelled} * 100"#)
}

impl Queries {
    /// Defaults, each overridable by `PROMQL_CPU`, `PROMQL_MEMORY`, `PROMQL_PENDING_PODS`,
    /// `PROMQL_NODE_COUNT`, `PROMQL_QUEUE_DEPTH`, `PROMQL_P95_LATENCY`, `PROMQL_ERROR_RATE`,
    /// `PROMQL_PENDING_CPU`, `PROMQL_PENDING_MEMORY`, `PROMQL_REQUESTED_CPU`, `PROMQL_REQUESTED_MEMORY`,
    /// `PROMQL_UNHOSTABLE_PODS` (by default sized from `NEW_NODE_CPU_MILLIS`/`NEW_NODE_MEMORY_MIB`);
    /// the default error-rate query reads the label `PROMETHEUS_STATUS_LABEL` names.
    ///
    /// Every query, default or override, is parsed here, so a PromQL typo fails the cold start
    /// with the variable's name instead of failing every tick against Prometheus.
    pub fn from_config(source: &dyn ConfigSource) -> Result<Self> {
        let label = StatusLabel::from_config(source)?;
        if config::optional(source, STATUS_LABEL_VAR).is_some()
            && config::optional(source, "PROMQL_ERROR_RATE").is_some()
        {
            return Err(Error::config(
                STATUS_LABEL_VAR,
                "has no effect when PROMQL_ERROR_RATE is set: put the label in that query and unset this",
            ));
        }
        let defaults = smartscale_core::Policy::default();
        let node_cpu: u32 = config::parsed(source, "NEW_NODE_CPU_MILLIS")?.unwrap_or(defaults.new_node_cpu_millis);
        let node_mib: u32 = config::parsed(source, "NEW_NODE_MEMORY_MIB")?.unwrap_or(defaults.new_node_memory_mib);
        let mut q = Queries {
            error_rate: error_rate(label),
            unhostable_pods: unhostable_pods(node_cpu, u64::from(node_mib) << 20),
            ..Queries::default()
        };
        let mut checked = Vec::new();
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
            ("PROMQL_UNHOSTABLE_PODS", &mut q.unhostable_pods),
        ] {
            if let Some(v) = config::optional(source, var) {
                *field = v;
            }
            checked.push((var, field.clone()));
        }
        for (var, promql) in checked {
            check_promql(&promql).map_err(|message| Error::config(var, message))?;
        }
        Ok(q)
    }

    /// Each query with the variable that overrides it.
    pub fn by_variable(&self) -> [(&'static str, &str); 12] {
        [
            ("PROMQL_CPU", &self.cpu),
            ("PROMQL_MEMORY", &self.memory),
            ("PROMQL_PENDING_PODS", &self.pending_pods),
            ("PROMQL_NODE_COUNT", &self.node_count),
            ("PROMQL_QUEUE_DEPTH", &self.queue_depth),
            ("PROMQL_P95_LATENCY", &self.p95_latency),
            ("PROMQL_ERROR_RATE", &self.error_rate),
            ("PROMQL_PENDING_CPU", &self.pending_cpu),
            ("PROMQL_PENDING_MEMORY", &self.pending_memory),
            ("PROMQL_REQUESTED_CPU", &self.requested_cpu),
            ("PROMQL_REQUESTED_MEMORY", &self.requested_memory),
            ("PROMQL_UNHOSTABLE_PODS", &self.unhostable_pods),
        ]
    }
}

/// Parses `promql` as Prometheus would and requires an instant vector (what both the range and
/// the instant API calls read as one series per step).
pub fn check_promql(promql: &str) -> std::result::Result<(), String> {
    let expr = parser::parse(promql).map_err(|e| format!("PromQL does not parse: {e}: `{promql}`"))?;
    match expr.value_type() {
        ValueType::Vector => Ok(()),
        other => Err(format!("PromQL must return an instant vector, this returns a {other}: `{promql}`")),
    }
}
