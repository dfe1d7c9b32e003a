//! The walk-forward back-test of a whole history: refit the profile every `refresh` from the
//! history before that instant only (as the decider would), act on it until the next refit, and
//! score against the reactive stand-in. Periods with no forecast (too little history, no pattern)
//! score as reactive, so the figures are what switching prediction on would have changed.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::config::PredictiveConfig;
use super::history::{slot_start, History, STEP_S};
use super::profile::{fit, whole_nodes, NoForecast, Period};
use super::score::{lead_slots, reactive_capacity, Score, Scorer};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WalkForward {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub refresh_h: f64,
    pub fits: u32,
    pub daily_fits: u32,
    pub day_kind_fits: u32,
    pub weekly_fits: u32,
    pub not_enough_history: u32,
    pub no_pattern: u32,
    pub score: Score,
}

/// Walks `[history.start(), history.end())`, refitting every `refresh`.
pub fn walk_forward(history: &History, config: &PredictiveConfig, lead_s: u32, refresh: Duration) -> WalkForward {
    let lead = lead_slots(lead_s);
    let step = (refresh.num_seconds() / STEP_S).max(1);
    let mut walk = WalkForward {
        from: history.start(),
        to: history.end(),
        refresh_h: (step * STEP_S) as f64 / 3600.0,
        fits: 0,
        daily_fits: 0,
        day_kind_fits: 0,
        weekly_fits: 0,
        not_enough_history: 0,
        no_pattern: 0,
        score: Score::default(),
    };
    let mut scorer = Scorer::default();
    let mut at = 0i64;
    while at < history.len() as i64 {
        let now = slot_start(history.start()) + Duration::seconds(at * STEP_S);
        let model = fit(history, now, config, lead_s);
        walk.fits += 1;
        match &model {
            Ok(m) => match m.period {
                Period::Daily => walk.daily_fits += 1,
                Period::DayKind => walk.day_kind_fits += 1,
                Period::Weekly => walk.weekly_fits += 1,
            },
            Err(NoForecast::NotEnoughHistory { .. }) => walk.not_enough_history += 1,
            Err(NoForecast::NoPattern { .. }) => walk.no_pattern += 1,
            // The walk reads a history it holds; it cannot be unavailable.
            Err(NoForecast::HistoryUnavailable { .. }) => walk.not_enough_history += 1,
        }
        for i in at..(at + step).min(history.len() as i64) {
            let (Some(demand), Some(reactive)) = (history.get(i), reactive_capacity(history, i, lead)) else {
                continue;
            };
            let forecast = model.as_ref().ok().map(|m| {
                let t = history.start() + Duration::seconds(i * STEP_S);
                let ready = m.at(t).map_or(0.0, |v| f64::from(whole_nodes(v)));
                let paid = m.need(t, lead_s).map_or(0.0, |(n, _)| f64::from(n));
                (ready, paid.max(ready))
            });
            scorer.add(demand, reactive, forecast);
        }
        at += step;
    }
    walk.score = scorer.score();
    walk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prediction_helps_a_daily_rush_and_refuses_the_first_days() {
        let start: DateTime<Utc> = "2026-11-02T00:00:00Z".parse().unwrap();
        // 1 node, a 09:00–10:00 rush to 5: a reactive scaler is short at every rush's start.
        let slots = (0..10 * 288).map(|i| Some(if (108..120).contains(&(i % 288)) { 4.5 } else { 0.8 })).collect();
        let h = History::from_slots(start, slots).unwrap();
        let walk = walk_forward(&h, &PredictiveConfig::default(), 600, Duration::hours(6));
        assert_eq!(walk.fits, 40, "{walk:?}");
        assert_eq!(walk.not_enough_history, 8, "the first two days have no forecast");
        // 2026-11-02 is a Monday. Until the history holds a week, a fit whose next day reaches
        // into a kind of day not yet seen keeps weekdays apart and leaves the weekend unforecast; once Saturday has been back-tested and matched the weekdays, the plain
        // daily profile returns.
        assert_eq!((walk.daily_fits, walk.day_kind_fits), (27, 5), "{walk:?}");
        // Reactive: 3.5 nodes short for 10 minutes at each of 10 rushes; prediction avoids the
        // last 8 but the first Saturday's.
        assert_eq!(walk.score.reactive.under_node_minutes, 10.0 * 35.0);
        assert_eq!(walk.score.avoided_node_minutes, 7.0 * 35.0);
        assert!(walk.score.added_node_hours > 0.0);
    }
}
