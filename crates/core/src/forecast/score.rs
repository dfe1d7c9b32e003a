//! Scoring a forecast the way it would act: capacity = max(reactive, forecast), against a
//! reactive stand-in, with an asymmetric error.
//!
//! The asymmetric error weighs each under-provisioned node-minute [`UNDER_WEIGHT`] times an
//! over-provisioned one ([`OVER_WEIGHT`]): a node-minute short is pods pending in front of users,
//! a node-minute spare is about 0.4 US cents of a t3.small. The error is the weighted sum divided
//! by the demand's node-minutes, so 0 % is perfect and the figures compare across traces.
//!
//! The reactive stand-in has the capacity that reacting to demand gives: the highest demand seen
//! over `[t - lead - hold, t - lead]`, i.e. nodes ordered when the demand shows and Ready a lead
//! time later, kept for the scale-down hold (10 minutes, the policy's scale-down window).

use serde::{Deserialize, Serialize};

use super::history::{History, STEP_S};

/// Weight of an under-provisioned node-minute in the asymmetric error.
pub const UNDER_WEIGHT: f64 = 4.0;
/// Weight of an over-provisioned node-minute.
pub const OVER_WEIGHT: f64 = 1.0;
/// How long the reactive stand-in keeps capacity after the demand falls.
pub const REACTIVE_HOLD_S: i64 = 600;

const STEP_MIN: f64 = STEP_S as f64 / 60.0;

/// Slots in `lead_s`, rounded up.
pub fn lead_slots(lead_s: u32) -> i64 {
    (i64::from(lead_s) + STEP_S - 1) / STEP_S
}

/// The reactive stand-in's capacity in slot `i`, `None` when no demand it would react to is known.
pub fn reactive_capacity(h: &History, i: i64, lead: i64) -> Option<f64> {
    let hold = REACTIVE_HOLD_S / STEP_S;
    (i - lead - hold..=i - lead).filter_map(|j| h.get(j)).map(|d| d.ceil()).reduce(f64::max)
}

/// How one capacity series fares against the demand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// Node-minutes of demand above capacity.
    pub under_node_minutes: f64,
    /// Node-hours of capacity paid for above the demand.
    pub over_node_hours: f64,
    /// Node-hours of capacity paid for.
    pub node_hours: f64,
    /// (UNDER_WEIGHT × under + OVER_WEIGHT × over node-minutes) / demand node-minutes, in %.
    pub asymmetric_error_pct: f64,
}

/// Reactive vs reactive-plus-forecast over the same slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Hours of slots scored (slots whose demand and reactive capacity are known).
    pub hours: f64,
    pub demand_node_hours: f64,
    pub reactive: Side,
    pub predictive: Side,
    /// Under-provisioned node-minutes the forecast avoided (negative if it caused some).
    pub avoided_node_minutes: f64,
    /// Node-hours the forecast added to the bill.
    pub added_node_hours: f64,
}

impl Score {
    /// The share of the reactive stand-in's under-provisioned node-minutes the forecast avoided,
    /// in percent: 0 when reactive alone was never short (nothing to avoid).
    pub fn avoided_pct(&self) -> f64 {
        if self.reactive.under_node_minutes > 0.0 {
            self.avoided_node_minutes / self.reactive.under_node_minutes * 100.0
        } else {
            0.0
        }
    }
}

/// Accumulates a score slot by slot.
#[derive(Debug, Default)]
pub struct Scorer {
    slots: u64,
    demand: f64,
    reactive: Tally,
    predictive: Tally,
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    under: f64,
    over: f64,
    paid: f64,
}

impl Tally {
    fn add(&mut self, demand: f64, ready: f64, paid: f64) {
        self.under += (demand - ready).max(0.0);
        self.over += (paid - demand).max(0.0);
        self.paid += paid;
    }

    fn side(self, demand: f64) -> Side {
        let error = UNDER_WEIGHT * self.under + OVER_WEIGHT * self.over;
        Side {
            under_node_minutes: self.under * STEP_MIN,
            over_node_hours: self.over * STEP_MIN / 60.0,
            node_hours: self.paid * STEP_MIN / 60.0,
            asymmetric_error_pct: if demand > 0.0 { 100.0 * error / demand } else { 0.0 },
        }
    }
}

impl Scorer {
    /// One slot: its demand, the reactive capacity, and (when a forecast acts) the forecast need
    /// Ready in the slot and the need paid for in it (the pre-scale for the next lead time).
    pub fn add(&mut self, demand: f64, reactive: f64, forecast: Option<(f64, f64)>) {
        self.slots += 1;
        self.demand += demand;
        self.reactive.add(demand, reactive, reactive);
        let (ready, paid) =
            forecast.map_or((reactive, reactive), |(ready, paid)| (reactive.max(ready), reactive.max(paid)));
        self.predictive.add(demand, ready, paid);
    }

    pub fn score(&self) -> Score {
        let (reactive, predictive) = (self.reactive.side(self.demand), self.predictive.side(self.demand));
        Score {
            hours: self.slots as f64 * STEP_MIN / 60.0,
            demand_node_hours: self.demand * STEP_MIN / 60.0,
            reactive,
            predictive,
            avoided_node_minutes: reactive.under_node_minutes - predictive.under_node_minutes,
            added_node_hours: predictive.node_hours - reactive.node_hours,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_under_more_than_over() {
        let mut s = Scorer::default();
        // Demand 4, reactive 2: 2 nodes short for 5 minutes; the forecast (5 ready, 6 paid) covers it.
        s.add(4.0, 2.0, Some((5.0, 6.0)));
        let score = s.score();
        assert_eq!(score.reactive.under_node_minutes, 10.0);
        assert_eq!(score.predictive.under_node_minutes, 0.0);
        assert_eq!(score.avoided_node_minutes, 10.0);
        assert!((score.added_node_hours - 4.0 * 5.0 / 60.0).abs() < 1e-9);
        assert!((score.reactive.asymmetric_error_pct - 100.0 * 4.0 * 2.0 / 4.0).abs() < 1e-9);
        assert!((score.predictive.asymmetric_error_pct - 100.0 * 2.0 / 4.0).abs() < 1e-9);
        // The same size of error, the other way round, costs a quarter.
        let (mut under, mut over) = (Scorer::default(), Scorer::default());
        under.add(4.0, 3.0, None);
        over.add(4.0, 5.0, None);
        assert_eq!(under.score().reactive.asymmetric_error_pct, 4.0 * over.score().reactive.asymmetric_error_pct);
    }

    #[test]
    fn the_reactive_stand_in_lags_by_the_lead_and_holds() {
        let start = "2026-11-23T00:00:00Z".parse().unwrap();
        let h = History::from_slots(
            start,
            vec![Some(1.0), Some(1.0), Some(3.2), Some(1.0), Some(1.0), Some(1.0), Some(1.0), None],
        )
        .unwrap();
        let lead = lead_slots(600);
        assert_eq!(lead, 2);
        assert_eq!(reactive_capacity(&h, 2, lead), Some(1.0), "the spike is not Ready when it comes");
        assert_eq!(reactive_capacity(&h, 4, lead), Some(4.0), "Ready a lead later, whole nodes");
        assert_eq!(reactive_capacity(&h, 6, lead), Some(4.0), "kept for the hold");
        assert_eq!(reactive_capacity(&h, 7, lead), Some(1.0));
        assert_eq!(reactive_capacity(&h, 1, lead), None, "nothing known to react to");
    }
}
