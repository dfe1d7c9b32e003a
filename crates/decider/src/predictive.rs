//! Predictive scaling in the decider: the demand history from the metrics source, the fitted
//! profile cached in the state item (refitted every `PREDICTIVE_REFIT_HOURS`, never on every
//! run), the need for the next lead window, and its accuracy in EMF. The combination with the
//! reactive decision is pure and lives in `smartscale_core::forecast::combine`.
//!
//! The lead time is the p90 of the launch → node Ready times the scale-up worker records in the
//! state item ([`lead`]), at least the spec's 10 minutes unless `PREDICTIVE_LEAD_TIME` says
//! otherwise.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use smartscale_core::emf::{Metric, MetricBatch};
use smartscale_core::forecast::config::MIN_DEFAULT_LEAD_S;
use smartscale_core::forecast::{
    self, fit, predict_with, DemandSample, Effect, History, Model, NoForecast, NodeSize, Prediction, PredictiveConfig,
    PredictiveMode, STEP_S,
};
use smartscale_core::ports::MetricsSource;
use smartscale_core::state::{CachedForecast, JoinLatency, PendingPreScale, StateItem, StateUpdate};
use tracing::{info, warn};

use crate::DeciderConfig;

/// How far back the demand now is read on a run that does not refit.
const ACTUAL_WINDOW_S: i64 = 600;
/// A pre-scale whose window passed this long ago with the demand still unknown is dropped.
const PRE_SCALE_JUDGE_WITHIN_S: i64 = 3600;
/// Fewer recorded joins than this make no p90 worth trusting: the lead is then the default.
pub const MIN_JOINS_FOR_P90: usize = 5;

/// Where the run's lead time came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "lead_source", rename_all = "kebab-case")]
pub enum LeadSource {
    /// `PREDICTIVE_LEAD_TIME`, whatever the joins say.
    Configured,
    /// The p90 of `joins` recorded launch → Ready times (`p90_s`), raised to the 10-minute
    /// minimum when below it.
    MeasuredP90 { joins: usize, p90_s: f64 },
    /// Fewer than [`MIN_JOINS_FOR_P90`] joins recorded: the 10-minute default.
    TooFewJoins { joins: usize },
}

/// The lead time and why it is that.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lead {
    pub lead_s: u32,
    #[serde(flatten)]
    pub source: LeadSource,
}

impl Lead {
    /// Why the lead is what it is, for after "pre-scaling N min ahead" in the reasons.
    pub fn describe(&self) -> String {
        match &self.source {
            LeadSource::Configured => format!("lead set by {}", PredictiveConfig::LEAD_TIME),
            LeadSource::MeasuredP90 { joins, p90_s } if *p90_s < f64::from(MIN_DEFAULT_LEAD_S) => {
                format!("the 10-min minimum lead: the p90 of {joins} node joins is {}", minutes(*p90_s))
            }
            LeadSource::MeasuredP90 { joins, p90_s } => {
                format!("lead = the p90 of {joins} node joins, {}", minutes(*p90_s))
            }
            LeadSource::TooFewJoins { joins } => format!(
                "the default lead: {joins} node join{} recorded, {MIN_JOINS_FOR_P90} needed for a p90",
                if *joins == 1 { "" } else { "s" }
            ),
        }
    }
}

fn minutes(seconds: f64) -> String {
    let m = seconds / 60.0;
    if (m - m.round()).abs() < 0.05 {
        format!("{} min", m.round())
    } else {
        format!("{m:.1} min")
    }
}

/// The lead time from the recorded joins (see the module's doc).
pub fn lead(pc: &PredictiveConfig, joins: &[JoinLatency]) -> Lead {
    let seconds: Vec<f64> = joins.iter().map(|j| j.seconds).filter(|s| s.is_finite() && *s >= 0.0).collect();
    if pc.lead_time_s.is_some() {
        return Lead { lead_s: pc.lead_s(None), source: LeadSource::Configured };
    }
    if seconds.len() < MIN_JOINS_FOR_P90 {
        return Lead { lead_s: pc.lead_s(None), source: LeadSource::TooFewJoins { joins: seconds.len() } };
    }
    let p90_s = p90(seconds.clone());
    // Whole minutes: the cached profile is refitted when the lead changes, and a p90 that moves
    // by seconds with every join must not refit it on every run.
    let lead_s = pc.lead_s(Some(p90_s)).div_ceil(60) * 60;
    Lead { lead_s, source: LeadSource::MeasuredP90 { joins: seconds.len(), p90_s } }
}

/// The nearest-rank 90th percentile: the smallest value at or above 90 % of them.
fn p90(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = (values.len() * 9).div_ceil(10).max(1);
    values[rank - 1]
}

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
    let lead = lead(pc, &item.join_latencies);
    let lead_s = lead.lead_s;
    info!(lead_s, lead = %lead.describe(), "predictive: lead time");
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
    let mut prediction = predict_with(&model, now, pc, lead_s);
    // Where the lead came from belongs with the pre-scale it sets.
    if prediction.nodes.is_some() {
        prediction.reason = format!("{} ({})", prediction.reason, lead.describe());
    }
    Some((prediction, origin, actual, forecast_demand))
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
    crate::handler::newest(samples, |s| s.at, |s| s.at <= now && now - s.at <= fresh).map(|s| s.nodes)
}

fn describe(model: &Result<Model, NoForecast>) -> String {
    match model {
        Ok(m) => m.describe(),
        Err(why) => why.to_string(),
    }
}

/// Re-exported for the simulator and tests: the same pure combination the decider runs.
pub use forecast::combine;

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use smartscale_core::config::MapConfig;

    use super::*;

    fn joins(seconds: &[f64]) -> Vec<JoinLatency> {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
        seconds
            .iter()
            .enumerate()
            .map(|(i, s)| JoinLatency { instance_id: format!("i-{i:04}"), ready_at: at, seconds: *s })
            .collect()
    }

    fn config(lead: Option<&str>) -> PredictiveConfig {
        let vars = match lead {
            Some(v) => MapConfig::new().with("PREDICTIVE_LEAD_TIME", v),
            None => MapConfig::new(),
        };
        PredictiveConfig::from_config(&vars).unwrap()
    }

    /// Twenty joins: eighteen of 10–13 min and two slow outliers; the p90 (nearest rank, the
    /// 18th of 20) is 780 s.
    fn slow_fleet() -> Vec<JoinLatency> {
        let mut s: Vec<f64> = (0..18).map(|i| 600.0 + 10.0 * f64::from(i)).collect();
        s.extend([1500.0, 1800.0]);
        joins(&s)
    }

    #[test]
    fn no_joins_is_the_ten_minute_default_and_says_so() {
        let lead = lead(&config(None), &[]);
        assert_eq!((lead.lead_s, &lead.source), (600, &LeadSource::TooFewJoins { joins: 0 }));
        assert_eq!(lead.describe(), "the default lead: 0 node joins recorded, 5 needed for a p90");
    }

    #[test]
    fn fewer_than_five_joins_are_not_a_p90() {
        let lead = lead(&config(None), &joins(&[900.0, 950.0, 1000.0, 1100.0]));
        assert_eq!((lead.lead_s, &lead.source), (600, &LeadSource::TooFewJoins { joins: 4 }));
        assert!(lead.describe().contains("4 node joins recorded, 5 needed"), "{}", lead.describe());
        let one = super::lead(&config(None), &joins(&[900.0]));
        assert!(one.describe().contains("1 node join recorded"), "{}", one.describe());
    }

    #[test]
    fn enough_joins_make_the_lead_their_p90_in_whole_minutes() {
        let lead = lead(&config(None), &slow_fleet());
        assert_eq!(lead.source, LeadSource::MeasuredP90 { joins: 20, p90_s: 770.0 });
        assert_eq!(lead.lead_s, 780, "770 s rounded up to 13 min");
        assert_eq!(lead.describe(), "lead = the p90 of 20 node joins, 12.8 min");
        // Exactly five is enough; the p90 of five is the largest.
        let five = super::lead(&config(None), &joins(&[700.0, 710.0, 720.0, 730.0, 905.0]));
        assert_eq!((five.lead_s, five.source), (960, LeadSource::MeasuredP90 { joins: 5, p90_s: 905.0 }));
    }

    #[test]
    fn fast_joins_keep_the_ten_minute_minimum() {
        let lead = lead(&config(None), &joins(&[95.0, 100.0, 110.0, 120.0, 130.0, 140.0]));
        assert_eq!(lead.lead_s, 600);
        assert_eq!(lead.describe(), "the 10-min minimum lead: the p90 of 6 node joins is 2.3 min");
    }

    #[test]
    fn a_user_set_lead_wins_lower_or_higher() {
        let lower = lead(&config(Some("300")), &slow_fleet());
        assert_eq!((lower.lead_s, &lower.source), (300, &LeadSource::Configured));
        assert_eq!(lower.describe(), "lead set by PREDICTIVE_LEAD_TIME");
        let higher = lead(&config(Some("1500")), &slow_fleet());
        assert_eq!((higher.lead_s, higher.source), (1500, LeadSource::Configured));
        let without_joins = lead(&config(Some("300")), &[]);
        assert_eq!(without_joins.lead_s, 300, "the user's lead needs no joins");
    }

    #[test]
    fn nonsense_latencies_are_not_counted() {
        let mut list = joins(&[700.0; 4]);
        list.extend(joins(&[f64::NAN, -5.0]));
        assert_eq!(lead(&config(None), &list).source, LeadSource::TooFewJoins { joins: 4 });
    }
}
