//! What predictive scaling did over a run, tallied from the real decider's outcomes (its
//! `forecast` side) and from the model it cached in the state item: how many runs had a
//! forecast and why the others had none, what the forecast did to the decisions, and the
//! back-test score of the last fit.

use chrono::{DateTime, Utc};
use serde::Serialize;
use smartscale_core::forecast::{Effect, NeedSource, NoForecast, Period, PredictiveMode, Score};
use smartscale_core::state::CachedForecast;
use smartscale_decider::predictive::{ForecastOutcome, ModelOrigin};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ForecastTally {
    pub mode: Option<PredictiveMode>,
    /// Decider runs with a forecast side.
    pub runs: u32,
    /// Runs whose need came from the seasonal profile, from a scheduled floor, or neither.
    pub runs_with_profile: u32,
    pub runs_with_floor: u32,
    /// Runs with no profile, by why: less than two whole cycles, no pattern, history unreadable.
    pub runs_not_enough_history: u32,
    pub runs_no_pattern: u32,
    pub runs_history_unavailable: u32,
    /// What the forecast did (in `forecast-only`: would have done), per run.
    pub pre_scales: u32,
    pub raised: u32,
    pub scale_downs_held: u32,
    pub waits: u32,
    /// Runs where the forecast changed the decision (`active` only).
    pub applied: u32,
    /// Refits (the 14-day history read again), and their outcome.
    pub fits: u32,
    pub daily_fits: u32,
    pub day_kind_fits: u32,
    pub weekly_fits: u32,
    pub not_enough_history_fits: u32,
    pub no_pattern_fits: u32,
    /// When the first profile was fitted (the end of the warm-up), if ever.
    pub first_profile_at: Option<DateTime<Utc>>,
    /// The last fit's back-test on its last cycle.
    pub last_fit: Option<FitScore>,
    /// What the latest run without a forecast said about why (`no forecast: 1.0 days of history …`).
    pub last_no_forecast: Option<String>,
}

/// One fit's back-test: the chosen period's score and the out-of-phase yardstick it had to beat.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitScore {
    pub at: DateTime<Utc>,
    /// "weekly profile, p90 of 2 weeks + 10 %", or why there is none.
    pub outcome: String,
    pub period: Option<Period>,
    pub backtest: Option<Score>,
    pub out_of_phase: Option<Score>,
}

impl ForecastTally {
    /// One decider run's forecast side, and the model cached after it (read when it refitted).
    pub fn observe(&mut self, outcome: &ForecastOutcome, cached: Option<&CachedForecast>) {
        self.mode = Some(outcome.mode);
        self.runs += 1;
        match (&outcome.prediction.source, &outcome.prediction.no_forecast) {
            (Some(NeedSource::ScheduledFloor { .. }), _) => self.runs_with_floor += 1,
            (Some(NeedSource::Profile { .. }), _) => self.runs_with_profile += 1,
            (None, Some(NoForecast::NotEnoughHistory { .. })) => self.runs_not_enough_history += 1,
            (None, Some(NoForecast::NoPattern { .. })) => self.runs_no_pattern += 1,
            (None, Some(NoForecast::HistoryUnavailable { .. })) => self.runs_history_unavailable += 1,
            // A model with no data for these slots: counted with the runs it could not serve.
            (None, None) => self.runs_not_enough_history += 1,
        }
        if outcome.prediction.nodes.is_none() {
            self.last_no_forecast = Some(outcome.prediction.reason.clone());
        }
        match outcome.effect {
            Effect::Unchanged => {}
            Effect::PreScale { .. } => self.pre_scales += 1,
            Effect::Raised { .. } => self.raised += 1,
            Effect::ScaleDownHeld { .. } => self.scale_downs_held += 1,
            Effect::Waits { .. } => self.waits += 1,
        }
        self.applied += u32::from(outcome.applied && outcome.effect != Effect::Unchanged);
        let (ModelOrigin::Fitted { .. }, Some(cached)) = (&outcome.origin, cached) else { return };
        self.fits += 1;
        let fit = match &cached.model {
            Ok(m) => {
                match m.period {
                    Period::Daily => self.daily_fits += 1,
                    Period::DayKind => self.day_kind_fits += 1,
                    Period::Weekly => self.weekly_fits += 1,
                }
                self.first_profile_at.get_or_insert(cached.fitted_at);
                FitScore {
                    at: cached.fitted_at,
                    outcome: m.describe(),
                    period: Some(m.period),
                    backtest: Some(m.backtest),
                    out_of_phase: Some(m.out_of_phase),
                }
            }
            Err(why) => {
                let (period, backtest, out_of_phase) = match why {
                    NoForecast::NoPattern { period, backtest, out_of_phase } => {
                        self.no_pattern_fits += 1;
                        (Some(*period), Some(*backtest), Some(*out_of_phase))
                    }
                    _ => {
                        self.not_enough_history_fits += 1;
                        (None, None, None)
                    }
                };
                FitScore { at: cached.fitted_at, outcome: why.to_string(), period, backtest, out_of_phase }
            }
        };
        self.last_fit = Some(fit);
    }
}
