//! Demand histories for `smartscale forecast`: a trace resampled onto the forecast's 5-minute
//! grid, or the simulator's synthetic week, in nodes (share of the peak × `--peak-nodes`, as the
//! simulator scales its load).

use chrono::{DateTime, Duration, Utc};
use smartscale_core::forecast::{History, STEP_S};
use smartscale_core::Result;
use smartscale_sim::trace::Trace;
use smartscale_sim::{Demand, SimConfig};

/// A slot with no point of its own holds the value in force at its start when that point is at
/// most this many usual steps old; further away it is a gap in the trace, left unknown.
const COVERING_STEPS: f64 = 1.5;

/// The trace on the 5-minute grid: each slot holds the highest value in force during it.
pub fn history_of_trace(trace: &Trace, peak_nodes: u32) -> Result<History> {
    let peak = trace.peak().max(f64::MIN_POSITIVE);
    let nodes = |v: f64| v / peak * f64::from(peak_nodes);
    let step_s = usual_step_s(trace) as f64;
    let start = smartscale_core::forecast::history::slot_start(trace.start());
    let len = ((trace.end() - start).num_seconds() / STEP_S + 1) as usize;
    let mut slots: Vec<Option<f64>> = vec![None; len];
    let points = &trace.points;
    let mut next: usize = 0;
    for (i, slot) in slots.iter_mut().enumerate() {
        let from = start + Duration::seconds(i as i64 * STEP_S);
        let to = from + Duration::seconds(STEP_S);
        // The point in force at the slot's start, if it still covers it (a point exactly at the
        // start replaces it).
        let superseded = points.get(next).is_some_and(|p| p.at <= from);
        let mut best = match next.checked_sub(1).map(|k| &points[k]) {
            Some(p) if !superseded && ((from - p.at).num_seconds() as f64) < COVERING_STEPS * step_s => Some(p.value),
            _ => None,
        };
        while next < points.len() && points[next].at < to {
            if points[next].at >= from {
                best = Some(best.map_or(points[next].value, |b: f64| b.max(points[next].value)));
            }
            next += 1;
        }
        *slot = best.map(nodes);
    }
    History::from_slots(start, slots)
}

/// The median step between points, in seconds.
fn usual_step_s(trace: &Trace) -> i64 {
    let mut steps: Vec<i64> = trace.points.windows(2).map(|w| (w[1].at - w[0].at).num_seconds()).collect();
    steps.sort_unstable();
    steps[steps.len() / 2]
}

/// The simulator's synthetic e-commerce week (the load `smartscale simulate` replays), repeated
/// for `days` from its default start, at the simulator's step, on the 5-minute grid.
pub fn synthetic_history(days: u32, peak_nodes: u32) -> Result<(History, DateTime<Utc>)> {
    let config = SimConfig { peak_nodes, ..SimConfig::new(days) };
    let demand = Demand::of(&config)?;
    let samples: Vec<_> = demand
        .load
        .iter()
        .enumerate()
        .map(|(i, load)| smartscale_core::forecast::DemandSample {
            at: config.start + Duration::seconds(i as i64 * config.step_s()),
            nodes: load * f64::from(peak_nodes),
        })
        .collect();
    Ok((History::from_samples(&samples)?, config.start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_traces_fill_their_slots_and_gaps_stay_unknown() {
        let text = "timestamp,value\n2014-07-01T00:00:00Z,10\n2014-07-01T00:30:00Z,20\n2014-07-01T01:00:00Z,5\n\
                    2014-07-01T03:00:00Z,5\n";
        let trace = Trace::parse(text, "t.csv").unwrap();
        let h = history_of_trace(&trace, 8).unwrap();
        let s = h.slots();
        assert_eq!(s[0], Some(4.0));
        assert_eq!(s[5], Some(4.0), "00:25 still holds 00:00's value");
        assert_eq!(s[6], Some(8.0));
        assert_eq!(s[12], Some(2.0));
        assert_eq!(s[20], Some(2.0), "01:40 is within 1.5 of the usual 30-minute steps of 01:00");
        assert_eq!(s[22], None, "01:50 is past 1.5 steps: a gap, not the last value");
        assert_eq!(s[36], Some(2.0));
    }

    #[test]
    fn fine_traces_keep_the_peak_of_each_slot() {
        let text = "timestamp,value\n2014-07-01T00:00:00Z,1\n2014-07-01T00:01:00Z,4\n2014-07-01T00:02:00Z,1\n\
                    2014-07-01T00:05:00Z,2\n";
        let h = history_of_trace(&Trace::parse(text, "t.csv").unwrap(), 4).unwrap();
        assert_eq!(h.slots(), &[Some(4.0), Some(2.0)]);
    }
}
