//! What a run looked like over time, sampled for the report's charts.

use serde::Serialize;

/// Steps between two timeline points (5 minutes at 15 s steps).
pub const POINT_EVERY_STEPS: i64 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// Hours since the start.
    pub hour: f64,
    /// Replicas the load asks for.
    pub demand_pods: u64,
    /// Replica slots on Ready, schedulable workers.
    pub capacity_pods: u64,
    /// Active instances (booting included): what is billed.
    pub nodes: u32,
    pub pending_pods: u64,
    pub cumulative_cost_usd: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    ScaleUp,
    ScaleDown,
    SpotInterruption,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Event {
    pub hour: f64,
    pub kind: EventKind,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timeline {
    /// One point per `POINT_EVERY_STEPS` steps: demand and pending pods are the highest seen in
    /// those steps, so a short spike is not lost between points; the rest is the last step's.
    pub points: Vec<Point>,
    pub events: Vec<Event>,
    #[serde(skip)]
    peaks: (u64, u64),
}

impl Timeline {
    /// Takes one step's values; every `POINT_EVERY_STEPS`th step closes a point.
    pub fn observe(&mut self, step: i64, point: Point) {
        self.peaks = (self.peaks.0.max(point.demand_pods), self.peaks.1.max(point.pending_pods));
        if step % POINT_EVERY_STEPS == POINT_EVERY_STEPS - 1 {
            let (demand_pods, pending_pods) = std::mem::take(&mut self.peaks);
            self.points.push(Point { demand_pods, pending_pods, ..point });
        }
    }

    pub fn count(&self, kind: EventKind) -> u32 {
        self.events.iter().filter(|e| e.kind == kind).count() as u32
    }

    /// Scale-downs followed by a scale-up within `window_h` hours.
    pub fn thrash_events(&self, window_h: f64) -> u32 {
        let ups: Vec<f64> = self.events.iter().filter(|e| e.kind == EventKind::ScaleUp).map(|e| e.hour).collect();
        self.events
            .iter()
            .filter(|e| e.kind == EventKind::ScaleDown)
            .filter(|down| ups.iter().any(|up| *up >= down.hour && *up - down.hour <= window_h))
            .count() as u32
    }
}

/// Spells of pending pods, in seconds, as they end (or at the end of the run), and how long each
/// took to get its first launch: the part of the time to capacity a policy's detection decides,
/// the rest being the node's boot and join.
#[derive(Debug, Clone, Default)]
pub struct PendingSpells {
    since: Option<i64>,
    launch_seen: bool,
    pub spells_s: Vec<i64>,
    /// Seconds from a spell's start to the first instance launched in it, for the spells that had
    /// one (a spell can also end on a node launched before it, or on a freed one).
    pub to_launch_s: Vec<i64>,
}

impl PendingSpells {
    pub fn observe(&mut self, at_s: i64, pending: bool) {
        match (pending, self.since) {
            (true, None) => {
                self.since = Some(at_s);
                self.launch_seen = false;
            }
            (false, Some(since)) => {
                self.spells_s.push(at_s - since);
                self.since = None;
            }
            _ => {}
        }
    }

    /// The instances' launch instants (seconds from the run's start): the first at or after the
    /// open spell's start is its time to launch, once per spell.
    pub fn launches(&mut self, launched_s: impl IntoIterator<Item = i64>) {
        let Some(since) = self.since.filter(|_| !self.launch_seen) else { return };
        if let Some(first) = launched_s.into_iter().filter(|&at| at >= since).min() {
            self.to_launch_s.push(first - since);
            self.launch_seen = true;
        }
    }

    pub fn close(&mut self, at_s: i64) {
        self.observe(at_s, false);
    }

    pub fn max_s(&self) -> i64 {
        self.spells_s.iter().copied().max().unwrap_or(0)
    }

    pub fn p95_s(&self) -> i64 {
        p95(&self.spells_s)
    }
}

/// The nearest-rank 95th percentile; 0 for none.
pub fn p95(values: &[i64]) -> i64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    match sorted.len() {
        0 => 0,
        n => sorted[((n as f64 * 0.95).ceil() as usize).clamp(1, n) - 1],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scale_up_within_15_minutes_of_a_scale_down_is_thrash() {
        let at = |hour, kind| Event { hour, kind };
        let timeline = Timeline {
            peaks: (0, 0),
            points: vec![],
            events: vec![
                at(1.0, EventKind::ScaleDown),
                at(1.2, EventKind::ScaleUp),
                at(3.0, EventKind::ScaleDown),
                at(3.5, EventKind::ScaleUp),
            ],
        };
        assert_eq!(timeline.thrash_events(0.25), 1);
    }

    #[test]
    fn pending_spells_give_max_and_p95() {
        let mut spells = PendingSpells::default();
        for (t, pending) in [(0, true), (60, false), (100, true), (400, false), (500, true)] {
            spells.observe(t, pending);
        }
        spells.close(530);
        assert_eq!(spells.spells_s, vec![60, 300, 30]);
        assert_eq!((spells.max_s(), spells.p95_s()), (300, 300));
        assert_eq!(PendingSpells::default().p95_s(), 0);
    }

    #[test]
    fn a_spell_counts_its_first_launch_only_and_not_one_from_before_it() {
        let mut spells = PendingSpells::default();
        spells.observe(100, true);
        spells.launches([40]);
        assert!(spells.to_launch_s.is_empty(), "a launch before the spell is not its own");
        spells.launches([40, 160, 130]);
        spells.launches([175]);
        spells.observe(250, false);
        spells.observe(300, true);
        spells.observe(315, false);
        spells.launches([320]);
        assert_eq!(spells.to_launch_s, vec![30], "one per spell, none once it has ended");
        assert_eq!(spells.spells_s, vec![150, 15]);
    }
}
