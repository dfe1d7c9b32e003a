//! Predictive scaling in the decider: the demand history from the metrics source, the fitted
//! profile cached in the state item (refitted every `PREDICTIVE_REFIT_HOURS`, never on every
//! run), the need for the next lead window, and its accuracy in EMF. The combination with the
//! reactive decision is pure and lives in `smartscale_core::forecast::combine`.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use smartscale_core::emf::{Metric, MetricBatch};
use smartscale_core::forecast::{
    self, fit, predict_with, DemandSample, Effect, History, Model, NoForecast, NodeSize, Prediction, PredictiveMode,
    STEP_S,
};
use smartscale_core::ports::MetricsSource;
use smartscale_core::state::{CachedForecast, PendingPreScale, StateItem, StateUpdate};
use tracing::{info, warn};

use crate::DeciderConfig;

/// How far back the demand now is read on a run that does not refit.
const ACTUAL_WINDOW_S: i64 = 600;
/// A pre-scale whose window passed this long ago with the demand still unknown is dropped.
const PRE_SCALE_JUDGE_WITHIN_S: i64 = 3600;

/// Where the run's model came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
pub enum ModelOrigin {
    /// Refitted on this run from `history_points` demand points.
    Fitted { history_points: usize },
    /// The model cached in the state item, fitted `age_s` ago.
    Cached { age_s: i64 },
    /// No model: the history could not be read and no cached one was fresh enough.
    Unavailable,
}

/// The forecast side of a run, in the decider's `Outcome` and log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastOutcome {
    pub mode: PredictiveMode,
    #[serde(flatten)]
    pub origin: ModelOrigin,
    pub prediction: Prediction,
    /// What the forecast did to the decision (in `forecast-only`: would have done).
    pub effect: Effect,
    pub applied: bool,
    /// The demand signal now, nodes (`None`: unknown).
    pub actual_demand: Option<f64>,
    /// The profile's demand for the current slot, nodes.
    pub forecast_demand: Option<f64>,
}

/// The prediction for this run; `None` when predictive scaling is off (nothing is read).
pub(crate) async fn predict<M: MetricsSource>(
    cfg: &DeciderConfig,
    metrics: &M,
    item: &mut StateItem,
    update: &mut StateUpdate,
    now: DateTime<Utc>,
) -> Option<(Prediction, ModelOrigin, Option<f64>, Option<f64>)> {
    let pc = &cfg.predictive;
    if pc.mode == PredictiveMode::Off {
        return None;
    }
    // The workers record NodeJoinLatency in CloudWatch only; reading it back would need a
    // CloudWatch client and a query on every run, so the lead is PREDICTIVE_LEAD_TIME or 600 s.
    let lead_s = pc.lead_s(None);
    let node = node_size(cfg);
    // A model fitted with other settings (lead, quantile, margin) is refitted at once.
    let same_settings = |c: &CachedForecast| {
        c.lead_s == lead_s
            && c.model.as_ref().map_or(true, |m| m.quantile == pc.quantile && m.margin_pct == pc.margin_pct)
    };
    let cached = item.forecast_model.clone().filter(|c| c.fitted_at <= now && same_settings(c));
    let age = |c: &CachedForecast| (now - c.fitted_at).num_seconds();
    let due = cached.as_ref().is_none_or(|c| age(c) >= i64::from(cfg.forecast_refit_s));
    let mut actual = None;
    let (model, origin): (Result<Model, NoForecast>, ModelOrigin) = if due {
        let start = now - Duration::days(i64::from(pc.history_days));
        let read = metrics.demand(start, now, STEP_S as u32, node).await;
        match read.and_then(|samples| History::from_samples(&samples).map(|h| (samples, h))) {
            Ok((samples, history)) => {
                actual = latest(&samples, now);
                let model = fit(&history, now, pc, lead_s);
                info!(points = samples.len(), model = %describe(&model), "predictive: profile refitted");
                let fresh = CachedForecast { fitted_at: now, lead_s, model: model.clone() };
                item.forecast_model = Some(fresh.clone());
                update.forecast_model = Some(fresh);
                (model, ModelOrigin::Fitted { history_points: samples.len() })
            }
            Err(e) => match cached.filter(|c| age(c) <= i64::from(cfg.forecast_max_age_s)) {
                Some(c) => {
                    warn!(error = %e, age_s = age(&c), "predictive: demand history unavailable; using the cached profile");
                    (c.model.clone(), ModelOrigin::Cached { age_s: age(&c) })
                }
                None => {
                    warn!(error = %e, "predictive: demand history unavailable and no fresh cached profile; reactive only");
                    (Err(NoForecast::HistoryUnavailable { error: e.to_string() }), ModelOrigin::Unavailable)
                }
            },
        }
    } else {
        let c = cached.expect("not due means cached");
        (c.model.clone(), ModelOrigin::Cached { age_s: age(&c) })
    };
    if actual.is_none() && origin != ModelOrigin::Unavailable {
        match metrics.demand(now - Duration::seconds(ACTUAL_WINDOW_S), now, STEP_S as u32, node).await {
            Ok(samples) => actual = latest(&samples, now),
            Err(e) => warn!(error = %e, "predictive: the demand now is unknown"),
        }
    }
    let forecast_demand = model.as_ref().ok().and_then(|m| m.at(now));
    Some((predict_with(&model, now, pc, lead_s), origin, actual, forecast_demand))
}

/// Records the forecast's accuracy (`Mode` dimension) and judges a pre-scale whose window came.
pub(crate) fn record(
    emf: &mut MetricBatch,
    outcome: &ForecastOutcome,
    item: &StateItem,
    update: &mut StateUpdate,
    now: DateTime<Utc>,
) {
    let mode = outcome.mode.as_str();
    let mut put = |metric, value: f64| {
        emf.put_with("Mode", mode, metric, value);
    };
    if let Some(f) = outcome.forecast_demand {
        put(Metric::ForecastDemand, f);
    }
    if let Some(a) = outcome.actual_demand {
        put(Metric::ActualDemand, a);
    }
    if let (Some(f), Some(a)) = (outcome.forecast_demand, outcome.actual_demand) {
        put(Metric::ForecastUnderNodes, (a - f).max(0.0));
        put(Metric::ForecastOverNodes, (f - a).max(0.0));
    }
    let Some(pending) = item.pre_scale.as_ref().filter(|p| p.window_at <= now) else { return };
    match outcome.actual_demand {
        Some(actual) => {
            let used = actual > f64::from(pending.reactive_nodes);
            info!(
                used,
                actual,
                reactive_nodes = pending.reactive_nodes,
                to_nodes = pending.to_nodes,
                "predictive: pre-scale judged"
            );
            put(Metric::PreScalesUsed, if used { 1.0 } else { 0.0 });
            update.pre_scale = Some(None);
        }
        None if (now - pending.window_at).num_seconds() > PRE_SCALE_JUDGE_WITHIN_S => {
            warn!(window_at = %pending.window_at, "predictive: the demand stayed unknown; the pre-scale is not judged");
            update.pre_scale = Some(None);
        }
        None => {}
    }
}

/// The pre-scale to judge when its window comes, for a scale-up the forecast asked for.
pub(crate) fn pending(effect: &Effect, lead_s: u32, now: DateTime<Utc>) -> Option<PendingPreScale> {
    let (reactive_nodes, to_nodes) = match *effect {
        Effect::PreScale { from, to } => (from, to),
        Effect::Raised { reactive, to } => (reactive, to),
        _ => return None,
    };
    Some(PendingPreScale { at: now, window_at: now + Duration::seconds(i64::from(lead_s)), reactive_nodes, to_nodes })
}

/// One new node's allocatable (`NEW_NODE_CPU_MILLIS`, `NEW_NODE_MEMORY_MIB`): demand's unit.
pub fn node_size(cfg: &DeciderConfig) -> NodeSize {
    NodeSize {
        cpu_millis: f64::from(cfg.policy.new_node_cpu_millis),
        memory_bytes: f64::from(cfg.policy.new_node_memory_mib) * 1024.0 * 1024.0,
    }
}

fn latest(samples: &[DemandSample], now: DateTime<Utc>) -> Option<f64> {
    let fresh = Duration::seconds(2 * STEP_S);
    samples.iter().filter(|s| s.at <= now && now - s.at <= fresh).max_by_key(|s| s.at).map(|s| s.nodes)
}

fn describe(model: &Result<Model, NoForecast>) -> String {
    match model {
        Ok(m) => m.describe(),
        Err(why) => why.to_string(),
    }
}

/// Re-exported for the simulator and tests: the same pure combination the decider runs.
pub use forecast::combine;
