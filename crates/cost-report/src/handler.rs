use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::Value;
use smartscale_core::cost_report::{self, CostReport, ReportInput};
use smartscale_core::ports::{Clock, Fleet, MetricsSource, StateStore};
use smartscale_core::Result as CoreResult;
use tracing::{info, instrument, warn};

use crate::config::check_days;
use crate::{CostReportConfig, Result};

/// CPU is sampled hourly over the window: 168 points for a week, well within Prometheus'
/// 11,000 points per query.
const CPU_STEP_S: u32 = 3600;

/// The Scheduler's input (`{"days": 7}`), or a person's, to re-run a missed week: `end`
/// (RFC 3339) ends the window there instead of now.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportEvent {
    #[serde(default)]
    pub days: Option<u32>,
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
}

/// Where the report goes: the notifications topic in production, a recorder in tests.
pub trait ReportPublisher: Send + Sync {
    fn publish(&self, report: &CostReport) -> impl Future<Output = CoreResult<()>> + Send;
}

/// A publisher that keeps what it is given.
#[derive(Debug, Clone, Default)]
pub struct RecordingPublisher(Arc<Mutex<Vec<CostReport>>>);

impl RecordingPublisher {
    pub fn reports(&self) -> Vec<CostReport> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl ReportPublisher for RecordingPublisher {
    async fn publish(&self, report: &CostReport) -> CoreResult<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(report.clone());
        Ok(())
    }
}

/// The report's ports.
pub struct Deps<S, F, M, P, C> {
    pub config: CostReportConfig,
    pub state: S,
    pub fleet: F,
    pub metrics: M,
    pub publisher: P,
    pub clock: C,
}

/// The Lambda entry point: the event as JSON, the report as the response.
pub async fn handle<S, F, M, P, C>(event: LambdaEvent<Value>, deps: &Deps<S, F, M, P, C>) -> Result<CostReport>
where
    S: StateStore,
    F: Fleet,
    M: MetricsSource,
    P: ReportPublisher,
    C: Clock,
{
    let event: ReportEvent = smartscale_core::error::from_json_value(event.payload)?;
    Ok(run(&event, deps).await?)
}

/// Builds and publishes one report. The ledger and the fleet must be read (an error fails the
/// invocation, and the Scheduler's retry policy runs it again); CPU may be unknown, and the
/// report then says why instead of guessing.
#[instrument(skip_all, fields(cluster_id = %deps.config.cluster_id))]
pub async fn run<S, F, M, P, C>(event: &ReportEvent, deps: &Deps<S, F, M, P, C>) -> CoreResult<CostReport>
where
    S: StateStore,
    F: Fleet,
    M: MetricsSource,
    P: ReportPublisher,
    C: Clock,
{
    let cfg = &deps.config;
    let days = event.days.unwrap_or(cfg.days);
    check_days("days", days)?;
    let (from, to) = cost_report::window(event.end.unwrap_or_else(|| deps.clock.now()), days);
    let ledger = deps.state.cost_ledger(&cfg.cluster_id, from, to).await?;
    let fleet = deps.fleet.describe_managed().await?;
    let avoided = match deps.state.get(&cfg.cluster_id).await? {
        Some(item) => item.avoided_offerings(to),
        None => Vec::new(),
    };
    let samples = deps.metrics.fetch(from, to, CPU_STEP_S).await;
    if let Err(e) = &samples {
        warn!(error = %e, "cluster CPU unavailable; the report says so and makes no CPU recommendation");
    }
    let cpu = samples.as_deref().map_err(|e| e.to_string());
    let input = ReportInput {
        cluster_id: &cfg.cluster_id,
        from,
        to,
        ledger: &ledger,
        fleet: &fleet,
        cpu,
        cost: &cfg.cost,
        limits: cfg.limits,
        avoided: &avoided,
    };
    let report = cost_report::weekly_report(&input);
    deps.publisher.publish(&report).await?;
    info!(
        cost_usd = ?report.cost_usd,
        savings_pct = ?report.savings_pct,
        recommendations = report.recommendations.len(),
        "cost report published"
    );
    Ok(report)
}
