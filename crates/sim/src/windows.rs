//! The synthetic week's named windows, where predictive scaling must have capacity Ready before
//! the load arrives: the weekday 9 AM rush and the Friday 20:00 flash sale. Pods that wait there
//! are counted per window, over the whole run and after the warm-up (the first two weekly cycles,
//! when the decider has no weekly profile yet). A replica that was running when its node
//! vanished (a Spot reclaim, a node failure) had its capacity before the load: when it waits for
//! a new node it is counted apart, as displaced.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use serde::Serialize;

/// Two cycles of the weekly period: no weekly forecast before.
pub const WARM_UP_DAYS: i64 = 14;

/// A recurring stretch of the synthetic week (UTC, as the week is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedWindow {
    pub name: &'static str,
    /// The weekdays it recurs on.
    pub days: &'static [Weekday],
    /// Minutes from midnight, `[from, to)`.
    pub from_min: u32,
    pub to_min: u32,
}

/// The rush's bump climbs from about 07:00 and is back by 11:00 (`workload::daily_curve`, centre
/// 09:00, σ 1.3 h); the sale ramps at 20:00 and decays by 22:30 (`workload::flash_sale`).
pub const WINDOWS: [NamedWindow; 2] = [
    NamedWindow {
        name: "weekday 9 AM rush (07:00-11:00)",
        days: &[Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
        from_min: 7 * 60,
        to_min: 11 * 60,
    },
    NamedWindow {
        name: "Friday flash sale (19:30-22:30)",
        days: &[Weekday::Fri],
        from_min: 19 * 60 + 30,
        to_min: 22 * 60 + 30,
    },
];

impl NamedWindow {
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let minute = at.hour() * 60 + at.minute();
        self.days.contains(&at.weekday()) && (self.from_min..self.to_min).contains(&minute)
    }

    /// Whether `at` is the first instant of an occurrence.
    fn opens_at(&self, at: DateTime<Utc>) -> bool {
        self.contains(at) && !self.contains(at - Duration::seconds(1))
    }
}

/// What waited in one named window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WindowWait {
    pub name: String,
    /// Occurrences of the window that opened inside the run, and after the warm-up.
    pub occurrences: u32,
    pub occurrences_after_warm_up: u32,
    /// Distinct replicas that were unschedulable at some step inside the window, displaced ones
    /// left out.
    pub pods_waited: u32,
    pub pods_waited_after_warm_up: u32,
    /// Unschedulable replicas × time inside the window, displaced ones left out.
    pub pod_minutes_waiting: f64,
    pub pod_minutes_waiting_after_warm_up: f64,
    /// Distinct replicas that waited inside the window after their node vanished under them.
    pub displaced_pods_waited: u32,
    pub displaced_pods_waited_after_warm_up: u32,
}

/// Counts, step by step, the pods waiting inside each window.
#[derive(Debug, Default)]
pub struct WindowCounter {
    waits: Vec<WindowWait>,
    seen: Vec<BTreeSet<String>>,
    seen_after: Vec<BTreeSet<String>>,
    seen_displaced: Vec<BTreeSet<String>>,
    seen_displaced_after: Vec<BTreeSet<String>>,
    /// Replicas that were running when their node vanished. A replica keeps its name while it
    /// waits for another node, and only a vanishing node makes a bound replica pending again.
    displaced: BTreeSet<String>,
    warm_up_end: Option<DateTime<Utc>>,
}

impl WindowCounter {
    /// The synthetic week's windows for a run starting at `start`.
    pub fn synthetic_week(start: DateTime<Utc>) -> WindowCounter {
        WindowCounter {
            waits: WINDOWS.iter().map(|w| WindowWait { name: w.name.to_string(), ..WindowWait::default() }).collect(),
            seen: vec![BTreeSet::new(); WINDOWS.len()],
            seen_after: vec![BTreeSet::new(); WINDOWS.len()],
            seen_displaced: vec![BTreeSet::new(); WINDOWS.len()],
            seen_displaced_after: vec![BTreeSet::new(); WINDOWS.len()],
            displaced: BTreeSet::new(),
            warm_up_end: Some(start + Duration::days(WARM_UP_DAYS)),
        }
    }

    /// Replicas whose node vanished while they ran (a trace run has no windows to count them in).
    pub fn displaced(&mut self, names: Vec<String>) {
        if !self.waits.is_empty() {
            self.displaced.extend(names);
        }
    }

    /// Whether a step at `at` falls inside a window (then the pending pods' names are wanted).
    pub fn wants(&self, at: DateTime<Utc>) -> bool {
        !self.waits.is_empty() && WINDOWS.iter().any(|w| w.contains(at))
    }

    /// One step of `step_s` at `at` with `pending` unschedulable replicas named `names`.
    pub fn observe(&mut self, at: DateTime<Utc>, step_s: i64, pending: u64, names: &[String]) {
        let Some(warm_up_end) = self.warm_up_end else { return };
        let after = at >= warm_up_end;
        for (i, w) in WINDOWS.iter().enumerate() {
            if !w.contains(at) {
                continue;
            }
            let wait = &mut self.waits[i];
            if w.opens_at(at) {
                wait.occurrences += 1;
                wait.occurrences_after_warm_up += u32::from(after);
            }
            let (displaced, waited): (Vec<&String>, Vec<&String>) =
                names.iter().partition(|n| self.displaced.contains(*n));
            let minutes = pending.saturating_sub(displaced.len() as u64) as f64 * step_s as f64 / 60.0;
            wait.pod_minutes_waiting += minutes;
            self.seen[i].extend(waited.iter().map(|n| n.to_string()));
            self.seen_displaced[i].extend(displaced.iter().map(|n| n.to_string()));
            if after {
                wait.pod_minutes_waiting_after_warm_up += minutes;
                self.seen_after[i].extend(waited.iter().map(|n| n.to_string()));
                self.seen_displaced_after[i].extend(displaced.iter().map(|n| n.to_string()));
            }
        }
    }

    pub fn finish(mut self) -> Vec<WindowWait> {
        for (i, wait) in self.waits.iter_mut().enumerate() {
            wait.pods_waited = self.seen[i].len() as u32;
            wait.pods_waited_after_warm_up = self.seen_after[i].len() as u32;
            wait.displaced_pods_waited = self.seen_displaced[i].len() as u32;
            wait.displaced_pods_waited_after_warm_up = self.seen_displaced_after[i].len() as u32;
        }
        std::mem::take(&mut self.waits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn counts_occurrences_pods_and_minutes_inside_the_windows_only() {
        // 2026-11-27 is a Friday; the run starts on Monday 2026-11-23.
        let mut c = WindowCounter::synthetic_week(at("2026-11-23T00:00:00Z"));
        assert!(!c.wants(at("2026-11-27T12:00:00Z")));
        assert!(c.wants(at("2026-11-27T20:00:00Z")));
        assert!(!c.wants(at("2026-11-28T09:00:00Z")), "no rush on Saturday");
        c.observe(at("2026-11-27T19:30:00Z"), 15, 0, &[]);
        c.observe(at("2026-11-27T20:00:00Z"), 15, 2, &["api-1".into(), "api-2".into()]);
        c.observe(at("2026-11-27T20:00:15Z"), 15, 1, &["api-2".into()]);
        c.observe(at("2026-11-27T23:00:00Z"), 15, 9, &["api-9".into()]);
        // After the warm-up (two weeks on).
        c.observe(
            at("2026-12-11T19:30:00Z"),
            15,
            4,
            &["api-50".into(), "api-51".into(), "api-52".into(), "api-53".into()],
        );
        let waits = c.finish();
        let sale = &waits[1];
        assert_eq!((sale.occurrences, sale.occurrences_after_warm_up), (2, 1));
        assert_eq!((sale.pods_waited, sale.pods_waited_after_warm_up), (6, 4));
        assert!((sale.pod_minutes_waiting - 7.0 * 0.25).abs() < 1e-9, "{sale:?}");
        assert!((sale.pod_minutes_waiting_after_warm_up - 1.0).abs() < 1e-9);
        assert_eq!(waits[0].pods_waited, 0);
        assert_eq!(sale.displaced_pods_waited, 0);
    }

    #[test]
    fn a_replica_whose_node_vanished_waits_apart() {
        let mut c = WindowCounter::synthetic_week(at("2026-11-23T00:00:00Z"));
        // After the warm-up, during a sale: api-7 was running on a reclaimed node, api-8 is new load.
        c.displaced(vec!["api-7".into()]);
        c.observe(at("2026-12-11T20:00:00Z"), 60, 2, &["api-7".into(), "api-8".into()]);
        c.observe(at("2026-12-11T20:01:00Z"), 60, 1, &["api-7".into()]);
        let sale = &c.finish()[1];
        assert_eq!((sale.pods_waited_after_warm_up, sale.displaced_pods_waited_after_warm_up), (1, 1));
        assert_eq!(sale.pod_minutes_waiting_after_warm_up, 1.0, "api-8's minute only");
    }

    #[test]
    fn a_trace_has_no_windows() {
        let mut c = WindowCounter::default();
        assert!(!c.wants(at("2026-11-27T20:00:00Z")));
        c.observe(at("2026-11-27T20:00:00Z"), 15, 2, &["api-1".into()]);
        assert!(c.finish().is_empty());
    }
}
