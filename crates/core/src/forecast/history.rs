//! Demand history at a fixed 5-minute step, with gaps.
//!
//! The value of a slot is the demand in nodes (summed pod requests divided by one node's
//! allocatable, or CPU utilisation expressed the same way): what nodes are bought for. A slot
//! with no sample is a gap (`None`), never zero: unknown demand is not zero demand.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The step of every history and forecast, in seconds (Prometheus `query_range` step).
pub const STEP_S: i64 = 300;

/// One demand sample: when, and how many nodes' worth of demand.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DemandSample {
    pub at: DateTime<Utc>,
    pub nodes: f64,
}

/// One node's allocatable, the unit demand is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NodeSize {
    pub cpu_millis: f64,
    pub memory_bytes: f64,
}

impl NodeSize {
    /// The demand in nodes of summed requests, the larger of CPU and memory; `None` when
    /// neither is known.
    pub fn nodes(&self, cpu_millis: Option<f64>, memory_bytes: Option<f64>) -> Option<f64> {
        let cpu = cpu_millis.map(|c| c / self.cpu_millis);
        let mem = memory_bytes.map(|m| m / self.memory_bytes);
        match (cpu, mem) {
            (Some(c), Some(m)) => Some(c.max(m)),
            (c, m) => c.or(m),
        }
    }
}

/// Demand per 5-minute slot from `start`; slot `i` covers `[start + 5i min, start + 5(i+1) min)`.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    start: DateTime<Utc>,
    slots: Vec<Option<f64>>,
}

/// `at` rounded down to the 5-minute grid (aligned to the Unix epoch, as Prometheus aligns steps).
pub fn slot_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp().div_euclid(STEP_S) * STEP_S;
    DateTime::from_timestamp(secs, 0).expect("a grid instant is representable")
}

impl History {
    /// Buckets samples onto the 5-minute grid, keeping the highest sample of each slot (capacity
    /// is bought for the peak, not the mean). Samples may come in any order; a negative or
    /// non-finite value is refused, naming its index.
    pub fn from_samples(samples: &[DemandSample]) -> Result<History> {
        for (i, s) in samples.iter().enumerate() {
            if !s.nodes.is_finite() || s.nodes < 0.0 {
                return Err(Error::invalid(
                    format!("samples[{i}].nodes"),
                    format!("must be a non-negative number, got {}", s.nodes),
                ));
            }
        }
        let Some(first) = samples.iter().map(|s| s.at).min() else {
            return Ok(History { start: DateTime::UNIX_EPOCH, slots: Vec::new() });
        };
        let last = samples.iter().map(|s| s.at).max().expect("non-empty");
        let start = slot_start(first);
        let len = ((last - start).num_seconds() / STEP_S + 1) as usize;
        let mut slots = vec![None; len];
        for s in samples {
            let i = ((s.at - start).num_seconds() / STEP_S) as usize;
            let slot: &mut Option<f64> = &mut slots[i];
            *slot = Some(slot.map_or(s.nodes, |v| v.max(s.nodes)));
        }
        Ok(History { start, slots })
    }

    /// A history from slot values already on the grid (`start` is rounded down to it).
    pub fn from_slots(start: DateTime<Utc>, slots: Vec<Option<f64>>) -> Result<History> {
        if let Some((i, v)) =
            slots.iter().enumerate().find_map(|(i, v)| v.filter(|v| !v.is_finite() || *v < 0.0).map(|v| (i, v)))
        {
            return Err(Error::invalid(format!("slots[{i}]"), format!("must be a non-negative number, got {v}")));
        }
        Ok(History { start: slot_start(start), slots })
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The end of the last slot (exclusive).
    pub fn end(&self) -> DateTime<Utc> {
        self.start + Duration::seconds(STEP_S * self.slots.len() as i64)
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn slots(&self) -> &[Option<f64>] {
        &self.slots
    }

    /// The index of the slot holding `at`, which may lie outside the history.
    pub fn index_of(&self, at: DateTime<Utc>) -> i64 {
        (at - self.start).num_seconds().div_euclid(STEP_S)
    }

    /// The demand of slot `index`, `None` outside the history or in a gap.
    pub fn get(&self, index: i64) -> Option<f64> {
        usize::try_from(index).ok().and_then(|i| self.slots.get(i).copied().flatten())
    }

    /// The demand in the slot holding `at`.
    pub fn at(&self, at: DateTime<Utc>) -> Option<f64> {
        self.get(self.index_of(at))
    }

    /// The share (0–1) of the slots in `[from, to)` that hold a sample.
    pub fn coverage(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
        let (a, b) = (self.index_of(from), self.index_of(to));
        if b <= a {
            return 0.0;
        }
        let present = (a..b).filter(|&i| self.get(i).is_some()).count();
        present as f64 / (b - a) as f64
    }

    /// The slots before `now` and within `days` of it: the history the forecast may use.
    pub fn window(&self, now: DateTime<Utc>, days: u32) -> History {
        let from = slot_start(now) - Duration::days(i64::from(days));
        let a = self.index_of(from).max(0);
        let b = self.index_of(slot_start(now)).clamp(0, self.slots.len() as i64);
        let slots = if b > a { self.slots[a as usize..b as usize].to_vec() } else { Vec::new() };
        History { start: self.start + Duration::seconds(STEP_S * a), slots }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn sample(at: &str, nodes: f64) -> DemandSample {
        DemandSample { at: t(at), nodes }
    }

    #[test]
    fn buckets_keep_the_peak_and_leave_gaps_unknown() {
        let h = History::from_samples(&[
            sample("2026-11-23T00:07:00Z", 2.0),
            sample("2026-11-23T00:01:00Z", 3.0),
            sample("2026-11-23T00:04:59Z", 1.0),
            sample("2026-11-23T00:20:00Z", 4.0),
        ])
        .unwrap();
        assert_eq!(h.start(), t("2026-11-23T00:00:00Z"));
        assert_eq!(h.slots(), &[Some(3.0), Some(2.0), None, None, Some(4.0)]);
        assert_eq!(h.end(), t("2026-11-23T00:25:00Z"));
        assert_eq!(h.at(t("2026-11-23T00:12:00Z")), None, "a gap is unknown, not zero");
        assert_eq!(h.at(t("2026-11-22T23:59:00Z")), None);
        assert!((h.coverage(h.start(), h.end()) - 0.6).abs() < 1e-9);
    }

    #[test]
    fn refuses_bad_values_naming_the_sample() {
        let err = History::from_samples(&[sample("2026-11-23T00:00:00Z", 1.0), sample("2026-11-23T00:05:00Z", -1.0)])
            .unwrap_err();
        assert_eq!(err, Error::invalid("samples[1].nodes", "must be a non-negative number, got -1"));
        let err = History::from_slots(t("2026-11-23T00:00:00Z"), vec![Some(1.0), Some(f64::NAN)]).unwrap_err();
        assert!(matches!(err, Error::Invalid { ref field, .. } if field == "slots[1]"), "{err}");
    }

    #[test]
    fn the_window_ends_before_now() {
        let h = History::from_slots(t("2026-11-23T00:00:00Z"), (0..600).map(|i| Some(i as f64)).collect()).unwrap();
        let w = h.window(t("2026-11-24T00:02:00Z"), 1);
        assert_eq!(w.start(), t("2026-11-23T00:00:00Z"));
        assert_eq!(w.len(), 288);
        assert_eq!(w.end(), t("2026-11-24T00:00:00Z"));
        assert!(h.window(t("2026-11-20T00:00:00Z"), 1).is_empty());
    }
}
