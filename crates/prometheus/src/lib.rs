//! The Prometheus metrics source: runs one PromQL query per signal over `query_range` and
//! merges the results into samples. A query that returns no series leaves that signal unknown
//! (`None`), never zero; a query that returns several series leaves it unknown too, with a
//! warning naming the query and the count, and the other signals still count; an unreachable
//! server is retried, then reported as unavailable.

mod api;
pub mod demand;
mod queries;

use std::time::Duration;

use chrono::{DateTime, Utc};
use smartscale_core::config::{self, ConfigSource};
use smartscale_core::metrics::{Sample, Signal};
use smartscale_core::ports::MetricsSource;
use smartscale_core::{Error, Result};
use tracing::{error, instrument, warn};

pub use api::BasicAuth;
pub use queries::{check_promql, error_rate, Queries, StatusLabel, CPU_BUSY, CPU_SPEC_ORIGINAL, STATUS_LABEL_VAR};

#[derive(Debug, Clone)]
pub struct PrometheusConfig {
    pub url: String,
    pub queries: Queries,
    pub timeout: Duration,
    /// Extra attempts after the first for a transient failure (unreachable, timeout, 5xx).
    pub retries: u32,
    /// Pause before the first retry; doubled before each later one.
    pub backoff: Duration,
}

impl PrometheusConfig {
    /// `PROMETHEUS_URL` (required), `PROMETHEUS_TIMEOUT_S` (5), `PROMETHEUS_RETRIES` (2),
    /// `PROMETHEUS_STATUS_LABEL` (`status`) and the `PROMQL_*` query overrides, each parsed here.
    pub fn from_config(source: &dyn ConfigSource) -> Result<Self> {
        let url = config::required(source, "PROMETHEUS_URL")?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::config("PROMETHEUS_URL", format!("must be an http:// or https:// URL, got {url:?}")));
        }
        let timeout_s: u64 = config::parsed(source, "PROMETHEUS_TIMEOUT_S")?.unwrap_or(5);
        if timeout_s == 0 || timeout_s > 60 {
            return Err(Error::config("PROMETHEUS_TIMEOUT_S", format!("must be between 1 and 60, got {timeout_s}")));
        }
        let retries: u32 = config::parsed(source, "PROMETHEUS_RETRIES")?.unwrap_or(2);
        if retries > 5 {
            return Err(Error::config("PROMETHEUS_RETRIES", format!("must be at most 5, got {retries}")));
        }
        Ok(PrometheusConfig {
            url: url.trim_end_matches('/').to_string(),
            queries: Queries::from_config(source)?,
            timeout: Duration::from_secs(timeout_s),
            retries,
            backoff: Duration::from_millis(250),
        })
    }
}

#[derive(Debug, Clone)]
pub struct PrometheusSource {
    api: api::Api,
    queries: Queries,
}

impl PrometheusSource {
    pub fn new(config: PrometheusConfig, auth: Option<BasicAuth>) -> Result<Self> {
        Ok(PrometheusSource { api: api::Api::new(&config, auth)?, queries: config.queries })
    }

    /// Nodes registered in the cluster at `at` (`count(kube_node_info)` by default); `None` when
    /// the query returns no series.
    pub async fn registered_nodes(&self, at: DateTime<Utc>) -> Result<Option<u32>> {
        let value = self.api.instant("node_count", &self.queries.node_count, at).await?;
        Ok(value.map(|v| v.round().max(0.0) as u32))
    }

    /// One instant query, by the same retry rules (for tests and diagnostics).
    pub async fn instant(&self, name: &str, promql: &str, at: DateTime<Utc>) -> Result<Option<f64>> {
        self.api.instant(name, promql, at).await
    }
}

/// The signals a decision cannot do without: a misconfigured one is logged as an error, not a
/// warning. Every other signal only adds triggers or guards a scale-down, and unknown blocks it.
const REQUIRED: [Signal; 3] = [Signal::Cpu, Signal::Memory, Signal::PendingPods];

/// A signal left unknown because its query returned several series.
#[derive(Debug, Clone, PartialEq)]
pub struct AmbiguousSignal {
    pub signal: Signal,
    pub query: String,
    pub series: usize,
    /// The labels of the first series, to show which aggregation is missing.
    pub first: String,
}

/// What one fetch read.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub samples: Vec<Sample>,
    /// Signals whose query returned several series; unknown in every sample.
    pub ambiguous: Vec<AmbiguousSignal>,
}

impl PrometheusSource {
    /// The samples, plus the signals left unknown because their query returned several series.
    pub async fn fetch_report(&self, start: DateTime<Utc>, end: DateTime<Utc>, step_s: u32) -> Result<Fetched> {
        let q = &self.queries;
        let range = |name: &'static str, promql: &str| {
            let promql = promql.to_string();
            async move { self.api.range(name, &promql, start, end, step_s).await }
        };
        let (cpu, mem, pending, queue, p95, errors) = tokio::join!(
            range("cpu", &q.cpu),
            range("memory", &q.memory),
            range("pending_pods", &q.pending_pods),
            range("queue_depth", &q.queue_depth),
            range("p95_latency", &q.p95_latency),
            range("error_rate", &q.error_rate),
        );
        let (pending_cpu, pending_memory, requested_cpu, requested_memory, unhostable) = tokio::join!(
            range("pending_cpu", &q.pending_cpu),
            range("pending_memory", &q.pending_memory),
            range("requested_cpu", &q.requested_cpu),
            range("requested_memory", &q.requested_memory),
            range("unhostable_pods", &q.unhostable_pods),
        );
        let answers = [
            (Signal::Cpu, &q.cpu, cpu?),
            (Signal::Memory, &q.memory, mem?),
            (Signal::PendingPods, &q.pending_pods, pending?),
            (Signal::QueueDepth, &q.queue_depth, queue?),
            (Signal::P95Latency, &q.p95_latency, p95?),
            (Signal::ErrorRate, &q.error_rate, errors?),
            (Signal::PendingCpu, &q.pending_cpu, pending_cpu?),
            (Signal::PendingMemory, &q.pending_memory, pending_memory?),
            (Signal::RequestedCpu, &q.requested_cpu, requested_cpu?),
            (Signal::RequestedMemory, &q.requested_memory, requested_memory?),
            (Signal::UnhostablePods, &q.unhostable_pods, unhostable?),
        ];
        let mut series = Vec::new();
        let mut ambiguous = Vec::new();
        for (signal, query, answer) in answers {
            match answer {
                api::Range::Points(points) => series.push((signal, points)),
                api::Range::Several { count, first } => {
                    let what = "query returned several series; the signal is unknown until it aggregates to one";
                    if REQUIRED.contains(&signal) {
                        error!(signal = signal.name(), query = %query, series = count, first = %first, "{what}");
                    } else {
                        warn!(signal = signal.name(), query = %query, series = count, first = %first, "{what}");
                    }
                    ambiguous.push(AmbiguousSignal { signal, query: query.clone(), series: count, first });
                }
            }
        }
        Ok(Fetched { samples: merge(start, end, step_s, &series), ambiguous })
    }
}

impl MetricsSource for PrometheusSource {
    #[instrument(skip(self), fields(start = %start, end = %end))]
    async fn fetch(&self, start: DateTime<Utc>, end: DateTime<Utc>, step_s: u32) -> Result<Vec<Sample>> {
        Ok(self.fetch_report(start, end, step_s).await?.samples)
    }

    #[instrument(skip(self), fields(start = %start, end = %end))]
    async fn demand(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_s: u32,
        node: smartscale_core::forecast::NodeSize,
    ) -> Result<Vec<smartscale_core::forecast::DemandSample>> {
        self.demand_history(start, end, step_s, node).await
    }
}

/// One sample per step from `start` to `end`, each signal filled where its series has a point.
fn merge(start: DateTime<Utc>, end: DateTime<Utc>, step_s: u32, series: &[(Signal, Vec<(i64, f64)>)]) -> Vec<Sample> {
    let step = i64::from(step_s.max(1));
    let mut samples: Vec<Sample> = (0..)
        .map(|i| start.timestamp() + i * step)
        .take_while(|t| *t <= end.timestamp())
        .filter_map(|t| DateTime::from_timestamp(t, 0).map(Sample::at))
        .collect();
    for (signal, points) in series {
        for (t, v) in points {
            if let Some(sample) = samples.iter_mut().find(|s| s.at.timestamp() == *t) {
                signal.set(sample, Some(*v));
            }
        }
    }
    samples
}
