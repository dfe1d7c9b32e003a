//! Predictive scaling's pure parts: demand history, the seasonal profile, its back-test score,
//! scheduled floors and the settings. No I/O: the decider fetches the history (Prometheus
//! `query_range`, 5-minute step) and caches the [`Model`]; the simulator builds the history itself.
//!
//! One entry point, [`predict`]: (history, now, settings, join latency) → the forecast need for
//! `[now, now + lead]` with the reason, which the decider combines as
//! max(reactive target, need) clamped to the policy's limits, and only in `active` mode.

pub mod combine;
pub mod config;
pub mod floors;
pub mod history;
pub mod profile;
pub mod score;
pub mod walk;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use combine::{combine, Combined, Effect};
pub use config::{PredictiveConfig, PredictiveMode, Quantile};
pub use floors::ScheduledFloors;
pub use history::{DemandSample, History, NodeSize, STEP_S};
pub use profile::{fit, Model, NoForecast, Period};
pub use score::Score;

/// What set the forecast need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum NeedSource {
    /// The seasonal profile's slot at `at`.
    Profile { at: DateTime<Utc>, period: Period },
    /// A scheduled floor (quoted as written), from `from`.
    ScheduledFloor { entry: String, from: DateTime<Utc> },
}

/// The forecast side of one decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub mode: PredictiveMode,
    pub lead_s: u32,
    /// Whole nodes needed over `[now, now + lead]`; `None` when neither the profile nor a floor
    /// asks for any (then the decision stays reactive).
    pub nodes: Option<u32>,
    pub source: Option<NeedSource>,
    /// Whole nodes needed over `[now, now + lead + PREDICTIVE_SCALE_DOWN_HOLD]`: a scale-down below this
    /// is held, since the node it removes would be bought back within the thrash window.
    #[serde(default)]
    pub hold_nodes: Option<u32>,
    /// How far ahead of now the profile forecasts every slot, at most [`PROFILE_AHEAD_CAP_S`]
    /// (0 without a profile): when it covers the fit check's lookback, the fit check may fill
    /// more of one node fewer ([`combine::reactive_policy`]).
    #[serde(default)]
    pub profile_ahead_s: u32,
    /// The share of reactive's shortfall the profile avoided in its back-test
    /// ([`Score::avoided_pct`]; 0 without a profile): the fit check fills more only behind a
    /// profile that covered the rises.
    #[serde(default)]
    pub profile_avoided_pct: f64,
    /// Why the profile has no forecast, when it has none.
    pub no_forecast: Option<NoForecast>,
    /// For the decision's reasons: what set the need, or why there is none.
    pub reason: String,
}

impl Prediction {
    /// Whether the need may change the decision (mode `active` and a need to act on).
    pub fn acts(&self) -> bool {
        self.mode == PredictiveMode::Active && self.nodes.is_some()
    }
}

/// How far past the lead a scale-down looks for the need it must not go below, by default
/// (`PREDICTIVE_SCALE_DOWN_HOLD`): a node drained
/// now and bought back within 15 minutes is a thrash (the simulator's and the spec's measure),
/// and buys nothing but a boot.
pub const HOLD_BEYOND_LEAD_S: u32 = 900;

/// How far ahead [`Prediction::profile_ahead_s`] looks: two hours, past the fit check's default
/// hour-long lookback.
pub const PROFILE_AHEAD_CAP_S: u32 = 7200;

/// Fits the profile and predicts in one call. The decider may instead cache [`fit`]'s result and
/// call [`predict_with`] on every run.
pub fn predict(
    history: &History,
    now: DateTime<Utc>,
    config: &PredictiveConfig,
    join_latency_p90_s: Option<f64>,
) -> Prediction {
    let lead_s = config.lead_s(join_latency_p90_s);
    if config.mode == PredictiveMode::Off {
        return off(lead_s);
    }
    predict_with(&fit(history, now, config, lead_s), now, config, lead_s)
}

fn off(lead_s: u32) -> Prediction {
    Prediction {
        mode: PredictiveMode::Off,
        lead_s,
        nodes: None,
        hold_nodes: None,
        profile_ahead_s: 0,
        profile_avoided_pct: 0.0,
        source: None,
        no_forecast: None,
        reason: "predictive scaling is off (PREDICTIVE_MODE=off)".to_string(),
    }
}

/// The need at `now` from an already fitted (or refused) profile, and the scheduled floors.
pub fn predict_with(
    model: &Result<Model, NoForecast>,
    now: DateTime<Utc>,
    config: &PredictiveConfig,
    lead_s: u32,
) -> Prediction {
    if config.mode == PredictiveMode::Off {
        return off(lead_s);
    }
    let ahead = format!("pre-scaling {} min ahead", lead_s / 60);
    let profile = model.as_ref().ok().and_then(|m| m.need(now, lead_s).map(|(n, at)| (n, at, m)));
    let floor = config.floors.need(now, lead_s);
    let hold_s = lead_s + config.hold_beyond_lead_s;
    let hold_nodes = [
        model.as_ref().ok().and_then(|m| m.need(now, hold_s)).map(|(n, _)| n),
        config.floors.need(now, hold_s).map(|f| f.nodes),
    ]
    .into_iter()
    .flatten()
    .max();
    let mut prediction = Prediction {
        mode: config.mode,
        lead_s,
        hold_nodes,
        profile_ahead_s: model.as_ref().map_or(0, |m| m.known_ahead_s(now, PROFILE_AHEAD_CAP_S)),
        profile_avoided_pct: model.as_ref().map_or(0.0, |m| m.backtest.avoided_pct()),
        nodes: None,
        source: None,
        no_forecast: model.as_ref().err().cloned(),
        reason: match model {
            Ok(m) => {
                format!("no forecast for {} ({} has no data for these slots)", now.format("%a %H:%M"), m.describe())
            }
            Err(why) => why.to_string(),
        },
    };
    let floor_wins = match (&profile, &floor) {
        (Some((n, _, _)), Some(f)) => f.nodes > *n,
        (None, Some(_)) => true,
        _ => false,
    };
    if let (Some(f), true) = (&floor, floor_wins) {
        prediction.nodes = Some(f.nodes);
        prediction.source = Some(NeedSource::ScheduledFloor { entry: f.entry.to_string(), from: f.from });
        let local = f.from.with_timezone(&config.floors.tz());
        prediction.reason = format!(
            "scheduled floor {} ({}) from {}; {ahead}",
            f.entry,
            config.floors.tz().name(),
            local.format("%a %H:%M")
        );
    } else if let Some((n, at, m)) = profile {
        prediction.nodes = Some(n);
        prediction.source = Some(NeedSource::Profile { at, period: m.period });
        prediction.reason = format!("forecast {n} nodes at {} ({}); {ahead}", at.format("%a %H:%M UTC"), m.describe());
    }
    prediction
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::Duration;

    use super::*;
    use crate::config::MapConfig;

    /// A deterministic number in [0, 1) (SplitMix64), for synthetic histories.
    pub(crate) fn unit(x: u64) -> f64 {
        let mut x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (x ^ (x >> 31)) as f64 / (u64::MAX as f64 + 1.0)
    }

    fn start() -> DateTime<Utc> {
        "2026-11-02T00:00:00Z".parse().unwrap()
    }

    /// A daily 09:00–11:00 rush to 5 nodes over 1.
    fn daily_rush(days: i64) -> History {
        let slots = (0..days * 288).map(|i| Some(if (108..132).contains(&(i % 288)) { 4.5 } else { 0.8 })).collect();
        History::from_slots(start(), slots).unwrap()
    }

    fn config(vars: &[(&str, &str)]) -> PredictiveConfig {
        PredictiveConfig::from_config(&vars.iter().copied().collect::<MapConfig>()).unwrap()
    }

    #[test]
    fn the_forecast_sets_the_need_and_says_so() {
        let now = start() + Duration::days(14) + Duration::minutes(8 * 60 + 50);
        let p = predict(&daily_rush(15), now, &config(&[]), None);
        assert_eq!(p.mode, PredictiveMode::ForecastOnly);
        assert_eq!(p.nodes, Some(5));
        assert!(!p.acts(), "forecast-only never acts");
        assert_eq!(
            p.reason,
            "forecast 5 nodes at Mon 09:00 UTC (daily profile, p90 of 14 days + 10 %); pre-scaling 10 min ahead"
        );
        let active = predict(&daily_rush(15), now, &config(&[("PREDICTIVE_MODE", "active")]), Some(700.0));
        assert!(active.acts());
        assert_eq!(active.lead_s, 700);
    }

    #[test]
    fn a_scheduled_floor_above_the_forecast_wins_and_is_explained() {
        // 2026-11-16 is a Monday.
        let c = config(&[
            ("SCHEDULED_FLOORS", "MON 08:55-12:00 = 9; 2026-11-16 20:00-22:00 = 4"),
            ("SCHEDULED_FLOORS_TZ", "Europe/Paris"),
        ]);
        let now = start() + Duration::days(14) + Duration::minutes(7 * 60 + 50);
        let p = predict(&daily_rush(14), now, &c, None);
        assert_eq!(p.nodes, Some(9));
        assert_eq!(
            p.reason,
            "scheduled floor MON 08:55-12:00 = 9 (Europe/Paris) from Mon 08:55; pre-scaling 10 min ahead"
        );
        // Without enough history the floor still holds, and the reason says why there is no forecast.
        let p = predict(&daily_rush(1), start() + Duration::days(14) + Duration::hours(19), &c, None);
        assert_eq!(p.nodes, Some(4));
        assert!(matches!(p.no_forecast, Some(NoForecast::NotEnoughHistory { .. })));
    }

    #[test]
    fn the_hold_looks_a_quarter_of_an_hour_past_the_lead() {
        // 08:35: the lead window (to 08:45) is before the 09:00 rush, the hold (to 09:00) reaches it.
        let now = start() + Duration::days(14) + Duration::minutes(8 * 60 + 35);
        let p = predict(&daily_rush(15), now, &config(&[("PREDICTIVE_MODE", "active")]), None);
        assert_eq!((p.nodes, p.hold_nodes), (Some(1), Some(5)));
        let short = predict(
            &daily_rush(15),
            now,
            &config(&[("PREDICTIVE_MODE", "active"), ("PREDICTIVE_SCALE_DOWN_HOLD", "0")]),
            None,
        );
        assert_eq!(short.hold_nodes, Some(1), "no look past the lead");
    }

    #[test]
    fn off_and_short_history_predict_nothing() {
        let now = start() + Duration::days(14);
        let p = predict(&daily_rush(14), now, &config(&[("PREDICTIVE_MODE", "off")]), None);
        assert_eq!((p.nodes, p.acts()), (None, false));
        let p = predict(&daily_rush(1), start() + Duration::days(1), &config(&[("PREDICTIVE_MODE", "active")]), None);
        assert_eq!(p.nodes, None);
        assert!(!p.acts());
        assert!(p.reason.starts_with("no forecast: 1.0 days of history"), "{}", p.reason);
    }
}
