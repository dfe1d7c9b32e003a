//! The savings ledger: every scale action's change to the fleet's cost per hour, recorded by
//! the worker that made it, so the weekly report adds up what SmartScale did rather than
//! estimating at report time.
//!
//! Bounds. The ledger is kept in one bucket per cluster and UTC day (`{cluster}#ledger#{date}`
//! in the state table), so no item nears DynamoDB's 400 KB item limit however long the
//! cluster lives: a bucket holds at most [`LEDGER_DAY_CAPACITY`] changes (about 200 bytes
//! each, so under 250 KB; a fleet changing once a minute all day makes 1,440 launches and
//! removals at most only if it never rests, far past any cooldown SmartScale allows). A change
//! that finds its bucket full is not kept but counted (`dropped`), and the report says so.
//! Buckets expire through DynamoDB TTL [`LEDGER_TTL_DAYS`] after their day: a weekly report
//! needs 8 days, and five weeks leave room to re-run a missed one.
//!
//! SQS delivers at least once, so a change may be recorded twice: reading deduplicates, one
//! launch and one removal per instance (the earliest of each).
//!
//! The same day item also holds what the decider observed on every run ([`DayObservations`]):
//! unschedulable time and the forecast's errors, summed per hour of the day (24 slots at most,
//! about 10 KB), written by the decider and read by the weekly report. Each run accounts for
//! the time since the previous run of the day ([`DayObservations::add`]), so overlapping
//! windows are never counted twice; time no known sample covers is unknown, never zero.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::{Instance, Lifecycle, StateStore};
use crate::pricing::PriceTable;
use crate::Result;

/// Changes kept per cluster and day; see the module's documentation.
pub const LEDGER_DAY_CAPACITY: u32 = 1000;
/// A day's bucket expires this long after the day.
pub const LEDGER_TTL_DAYS: i64 = 35;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostChangeKind {
    /// An instance launched: + its price.
    Launch,
    /// SmartScale terminated an instance (a scale-down): − its price.
    Termination,
    /// AWS reclaimed a Spot instance: − its price.
    Interruption,
}

/// One change to the fleet's cost per hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostChange {
    pub at: DateTime<Utc>,
    pub kind: CostChangeKind,
    pub instance_id: String,
    pub instance_type: String,
    pub lifecycle: Lifecycle,
    /// The signed change in USD per hour at the price table of the moment; `None` when the
    /// table did not know the type (unknown, never zero).
    pub usd_per_hour: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
    /// A launch that wanted Spot and got On-Demand (no Spot capacity in any pool).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub spot_fallback: bool,
}

impl CostChange {
    fn of(instance: &Instance, kind: CostChangeKind, prices: &PriceTable, at: DateTime<Utc>) -> Self {
        let price = prices.per_hour(&instance.instance_type, instance.lifecycle);
        let sign = if kind == CostChangeKind::Launch { 1.0 } else { -1.0 };
        CostChange {
            at,
            kind,
            instance_id: instance.instance_id.clone(),
            instance_type: instance.instance_type.clone(),
            lifecycle: instance.lifecycle,
            usd_per_hour: price.map(|p| sign * p),
            decision_id: None,
            spot_fallback: false,
        }
    }

    pub fn launch(instance: &Instance, prices: &PriceTable, at: DateTime<Utc>) -> Self {
        Self::of(instance, CostChangeKind::Launch, prices, at)
    }

    pub fn termination(instance: &Instance, prices: &PriceTable, at: DateTime<Utc>) -> Self {
        Self::of(instance, CostChangeKind::Termination, prices, at)
    }

    pub fn interruption(instance: &Instance, prices: &PriceTable, at: DateTime<Utc>) -> Self {
        Self::of(instance, CostChangeKind::Interruption, prices, at)
    }

    pub fn with_decision(mut self, decision_id: &str) -> Self {
        self.decision_id = Some(decision_id.to_string());
        self
    }

    /// Marks a launch that wanted `wanted` (Spot) and got On-Demand.
    pub fn spot_fallback_from(mut self, wanted: Lifecycle) -> Self {
        self.spot_fallback = wanted == Lifecycle::Spot && self.lifecycle == Lifecycle::OnDemand;
        self
    }

    pub fn is_removal(&self) -> bool {
        self.kind != CostChangeKind::Launch
    }
}

/// The key of the bucket holding `cluster_id`'s changes of `day`.
pub fn bucket_key(cluster_id: &str, day: NaiveDate) -> String {
    format!("{cluster_id}#ledger#{}", day.format("%Y-%m-%d"))
}

/// When the bucket of `day` expires (epoch seconds, DynamoDB's TTL).
pub fn bucket_expiry(day: NaiveDate) -> i64 {
    (day + Duration::days(LEDGER_TTL_DAYS + 1)).and_hms_opt(0, 0, 0).map_or(i64::MAX, |t| t.and_utc().timestamp())
}

/// The UTC days from `from` to `to`, both included.
pub fn days_covering(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<NaiveDate> {
    let (first, last) = (from.date_naive(), to.date_naive());
    first.iter_days().take_while(|d| *d <= last).collect()
}

/// The changes of a time range, as read back: deduplicated, oldest first, and how many
/// changes full buckets could not keep.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CostLedger {
    pub changes: Vec<CostChange>,
    /// Changes counted but not kept because their day's bucket was full.
    pub dropped: u64,
    /// The decider's observations of each day read, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed: Vec<(NaiveDate, DayObservations)>,
}

impl CostLedger {
    /// Keeps the changes in `[from, to]`, one launch and one removal per instance (the
    /// earliest: a redelivered message records the same change later), oldest first.
    pub fn from_changes(changes: Vec<CostChange>, dropped: u64, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        let mut first: BTreeMap<(String, bool), CostChange> = BTreeMap::new();
        for change in changes.into_iter().filter(|c| c.at >= from && c.at <= to) {
            let key = (change.instance_id.clone(), change.is_removal());
            match first.get(&key) {
                Some(kept) if kept.at <= change.at => {}
                _ => {
                    first.insert(key, change);
                }
            }
        }
        let mut changes: Vec<CostChange> = first.into_values().collect();
        changes.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.instance_id.cmp(&b.instance_id)));
        CostLedger { changes, dropped, observed: Vec::new() }
    }

    /// Adds the days' decider observations (the same day items' `observed`).
    pub fn with_observations(mut self, mut observed: Vec<(NaiveDate, DayObservations)>) -> Self {
        observed.sort_by_key(|(day, _)| *day);
        self.observed = observed;
        self
    }

    /// The hour slots overlapping `[from, to)`, with each slot's start.
    pub fn observed_hours(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, &HourObservations)> {
        self.observed.iter().flat_map(move |(day, obs)| {
            obs.hours.iter().filter_map(move |(hour, slot)| {
                let start = day.and_hms_opt(*hour, 0, 0)?.and_utc();
                (start + Duration::hours(1) > from && start < to).then_some((start, slot))
            })
        })
    }

    /// The summed change per hour; `None` if any change is unpriced.
    pub fn net_usd_per_hour(&self) -> Option<f64> {
        self.changes.iter().map(|c| c.usd_per_hour).sum()
    }
}

/// A run accounts for at most this much time since the previous one: the decider runs every
/// 2 or 5 minutes, so a longer gap means it did not run, and the rest is not observed (the
/// report counts it as unknown).
pub const MAX_RUN_GAP_S: i64 = 900;

/// What one decider run saw, as the day's observations take it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunObservation {
    pub at: DateTime<Utc>,
    /// Unschedulable pods at each sample of the run's metrics window (a sample's `None`: no
    /// value); `None` as a whole when the run had no live metrics (the query failed, or it
    /// decided on a cached snapshot): its time is then unknown.
    pub unschedulable: Option<Vec<(DateTime<Utc>, Option<u32>)>>,
    /// The samples' step: a sample at `t` stands for `(t − step, t]`.
    pub sample_step_s: u32,
    /// Predictive scaling's side of the run; `None` when it is off.
    pub forecast: Option<ForecastObservation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastObservation {
    /// `PREDICTIVE_MODE` (`forecast-only`, `active`).
    pub mode: String,
    /// The demand now and the profile's demand for the slot, nodes (`None`: unknown).
    pub actual_nodes: Option<f64>,
    pub forecast_nodes: Option<f64>,
    /// This run requested a scale-up for the forecast (a pre-scale made).
    pub pre_scale_made: bool,
    /// The forecast asked for a scale-up it did not get to make (forecast-only mode).
    pub would_pre_scale: bool,
    /// A pre-scale's window came and it was judged: `Some(true)` when it was used.
    pub pre_scale_judged: Option<bool>,
}

/// The decider's observations over one UTC day, by hour (0–23).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayObservations {
    /// The last run accounted for: the next run counts from here.
    pub observed_until: Option<DateTime<Utc>>,
    /// Whether the last run's forecast would have pre-scaled, so that a run of such runs counts
    /// as one would-be pre-scale.
    #[serde(default)]
    pub would_pre_scale: bool,
    pub hours: BTreeMap<u32, HourObservations>,
}

/// One hour's sums. Minutes are of wall time; pod-minutes and node-minutes are weighted by it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HourObservations {
    /// Time with a known unschedulable-pods figure.
    pub known_min: f64,
    /// Time runs accounted for with no known figure (failed query, missing samples).
    pub unknown_min: f64,
    /// Known time with at least one unschedulable pod, and the pod-minutes of it.
    pub unschedulable_min: f64,
    pub unschedulable_pod_min: f64,
    /// The predictive modes seen in the hour.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forecast_modes: Vec<String>,
    /// Time with both the forecast and the actual demand known, and with either unknown.
    pub forecast_min: f64,
    pub forecast_unknown_min: f64,
    /// Demand above the forecast (under-forecast) and below it (over-forecast), node-minutes.
    pub under_node_min: f64,
    pub over_node_min: f64,
    pub pre_scales: u32,
    pub pre_scales_judged: u32,
    pub pre_scales_used: u32,
    pub would_pre_scales: u32,
}

fn minutes(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds().max(0) as f64 / 60_000.0
}

impl DayObservations {
    /// Accounts for `run`: the time from the previous run of the day (or midnight; at most
    /// [`MAX_RUN_GAP_S`]) to `run.at` goes into the hour of `run.at`. Each sample in that span
    /// stands for its step before it; span that no known sample covers is unknown. A run at
    /// or before the last one accounted for (a redelivery, a late fast-path run) adds nothing
    /// and returns `false`. The forecast's error at the run stands for the same span.
    pub fn add(&mut self, run: &RunObservation) -> bool {
        let midnight = run.at.date_naive().and_hms_opt(0, 0, 0).map_or(run.at, |t| t.and_utc());
        let previous = self.observed_until.map_or(midnight, |t| t.max(midnight));
        if run.at <= previous && self.observed_until.is_some() {
            return false;
        }
        let span_start = previous.max(run.at - Duration::seconds(MAX_RUN_GAP_S));
        let span = minutes(span_start, run.at);
        self.observed_until = Some(run.at);
        let slot = self.hours.entry(run.at.hour()).or_default();
        match &run.unschedulable {
            Some(samples) => {
                let mut samples: Vec<&(DateTime<Utc>, Option<u32>)> =
                    samples.iter().filter(|(t, _)| *t > span_start && *t <= run.at).collect();
                samples.sort_by_key(|(t, _)| *t);
                let step = Duration::seconds(i64::from(run.sample_step_s.max(1)));
                let (mut covered_until, mut known) = (span_start, 0.0);
                for (t, pods) in samples {
                    let weight = minutes(covered_until.max(*t - step), *t);
                    covered_until = *t;
                    let Some(pods) = pods else { continue };
                    known += weight;
                    if *pods > 0 {
                        slot.unschedulable_min += weight;
                        slot.unschedulable_pod_min += f64::from(*pods) * weight;
                    }
                }
                slot.known_min += known;
                slot.unknown_min += (span - known).max(0.0);
            }
            None => slot.unknown_min += span,
        }
        if let Some(f) = &run.forecast {
            if !slot.forecast_modes.contains(&f.mode) {
                slot.forecast_modes.push(f.mode.clone());
            }
            match (f.actual_nodes, f.forecast_nodes) {
                (Some(actual), Some(forecast)) => {
                    slot.forecast_min += span;
                    slot.under_node_min += (actual - forecast).max(0.0) * span;
                    slot.over_node_min += (forecast - actual).max(0.0) * span;
                }
                _ => slot.forecast_unknown_min += span,
            }
            slot.pre_scales += u32::from(f.pre_scale_made);
            if f.would_pre_scale && !self.would_pre_scale {
                slot.would_pre_scales += 1;
            }
            self.would_pre_scale = f.would_pre_scale;
            if let Some(used) = f.pre_scale_judged {
                slot.pre_scales_judged += 1;
                slot.pre_scales_used += u32::from(used);
            }
        }
        true
    }
}

/// What the workers call after a launch or a termination: one change per instance. An error
/// is returned (and the message retried, which is safe: reading deduplicates); a full bucket
/// is logged by the store and counted, not an error.
pub async fn record_changes<S: StateStore>(state: &S, cluster_id: &str, changes: Vec<CostChange>) -> Result<()> {
    for change in &changes {
        state.record_cost_change(cluster_id, change).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::InstanceState;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn instance(id: &str, lifecycle: Lifecycle) -> Instance {
        Instance {
            instance_id: id.into(),
            instance_type: "t3.small".into(),
            availability_zone: "us-east-1a".into(),
            subnet_id: "subnet-a".into(),
            lifecycle,
            state: InstanceState::Running,
            private_dns_name: None,
            launched_at: None,
            tags: Default::default(),
        }
    }

    #[test]
    fn a_change_carries_its_signed_price_and_round_trips_as_json() {
        let prices = PriceTable::default();
        let up = CostChange::launch(&instance("i-1", Lifecycle::Spot), &prices, t("2026-11-23T10:00:00Z"))
            .with_decision("d-1");
        assert!((up.usd_per_hour.unwrap() - 0.0208 * 0.35).abs() < 1e-12);
        let down = CostChange::termination(&instance("i-2", Lifecycle::OnDemand), &prices, t("2026-11-23T11:00:00Z"));
        assert_eq!(down.usd_per_hour, Some(-0.0208));
        let mut odd = instance("i-3", Lifecycle::OnDemand);
        odd.instance_type = "m7g.metal".into();
        assert_eq!(CostChange::launch(&odd, &prices, t("2026-11-23T11:00:00Z")).usd_per_hour, None);
        let json = serde_json::to_string(&up).unwrap();
        assert!(json.len() < 200, "{} bytes: the bucket bound assumes under 200", json.len());
        assert_eq!(serde_json::from_str::<CostChange>(&json).unwrap(), up);
    }

    #[test]
    fn reading_keeps_one_launch_and_one_removal_per_instance_in_range() {
        let prices = PriceTable::default();
        let i1 = instance("i-1", Lifecycle::OnDemand);
        let changes = vec![
            CostChange::launch(&i1, &prices, t("2026-11-23T10:05:00Z")), // redelivered copy
            CostChange::launch(&i1, &prices, t("2026-11-23T10:00:00Z")),
            CostChange::termination(&i1, &prices, t("2026-11-23T12:00:00Z")),
            CostChange::interruption(&i1, &prices, t("2026-11-23T12:01:00Z")),
            CostChange::launch(&instance("i-0", Lifecycle::Spot), &prices, t("2026-11-20T00:00:00Z")),
        ];
        let ledger = CostLedger::from_changes(changes, 2, t("2026-11-23T00:00:00Z"), t("2026-11-24T00:00:00Z"));
        assert_eq!(ledger.changes.len(), 2);
        assert_eq!(ledger.changes[0].at, t("2026-11-23T10:00:00Z"));
        assert_eq!(ledger.changes[1].kind, CostChangeKind::Termination);
        assert_eq!(ledger.net_usd_per_hour(), Some(0.0));
        assert_eq!(ledger.dropped, 2);
    }

    /// The decider's 11-minute window at a 30 s step ending at `at`, with `pods(t)` per sample.
    fn window(at: &str, pods: impl Fn(DateTime<Utc>) -> Option<u32>) -> Vec<(DateTime<Utc>, Option<u32>)> {
        let end = t(at);
        (0..=22).rev().map(|i| end - Duration::seconds(30 * i)).map(|s| (s, pods(s))).collect()
    }

    fn run(
        at: &str,
        unschedulable: Option<Vec<(DateTime<Utc>, Option<u32>)>>,
        f: Option<(f64, f64, bool)>,
    ) -> RunObservation {
        RunObservation {
            at: t(at),
            unschedulable,
            sample_step_s: 30,
            forecast: f.map(|(actual, forecast, would)| ForecastObservation {
                mode: "forecast-only".into(),
                actual_nodes: (actual >= 0.0).then_some(actual),
                forecast_nodes: Some(forecast),
                pre_scale_made: false,
                would_pre_scale: would,
                pre_scale_judged: None,
            }),
        }
    }

    #[test]
    fn each_run_accounts_for_the_time_since_the_last_one_and_unknown_is_never_zero() {
        let mut day = DayObservations::default();
        // 10:00, the day's first run: it accounts from 09:45 (the 15-minute cap), and its 23
        // samples (09:49:00–10:00:00) cover 11.5 min of it; 3.5 min are unknown. Two pods are
        // unschedulable at the last four samples: 2 min, 4 pod-min.
        let a = window("2026-11-23T10:00:00Z", |s| Some(if s >= t("2026-11-23T09:58:30Z") { 2 } else { 0 }));
        assert!(day.add(&run("2026-11-23T10:00:00Z", Some(a), Some((3.0, 2.0, true)))));
        // 10:02: only the samples after 10:00 count (10:00:30–10:02:00, 2 min); 3 pods at
        // 10:00:30 add 0.5 min and 1.5 pod-min.
        let b = window("2026-11-23T10:02:00Z", |s| Some(if s == t("2026-11-23T10:00:30Z") { 3 } else { 0 }));
        assert!(day.add(&run("2026-11-23T10:02:00Z", Some(b.clone()), Some((2.0, 4.0, true)))));
        // 10:04: the query failed: 2 min unknown, and the forecast's demand unknown too.
        assert!(day.add(&run("2026-11-23T10:04:00Z", None, Some((-1.0, 2.0, false)))));
        // The 10:02 run delivered again adds nothing.
        assert!(!day.add(&run("2026-11-23T10:02:00Z", Some(b), Some((2.0, 4.0, true)))));
        // 10:06: one of its four samples has no value: 1.5 min known, 0.5 unknown.
        let d = window("2026-11-23T10:06:00Z", |s| if s == t("2026-11-23T10:05:00Z") { None } else { Some(0) });
        assert!(day.add(&run("2026-11-23T10:06:00Z", Some(d), Some((1.0, 1.0, true)))));

        let slot = &day.hours[&10];
        assert!((slot.known_min - 15.0).abs() < 1e-9, "{slot:?}");
        assert!((slot.unknown_min - 6.0).abs() < 1e-9, "{slot:?}");
        assert!((slot.known_min + slot.unknown_min - 21.0).abs() < 1e-9, "09:45 to 10:06, all of it");
        assert!((slot.unschedulable_min - 2.5).abs() < 1e-9 && (slot.unschedulable_pod_min - 5.5).abs() < 1e-9);
        // Forecast: under 1 node for 15 min, over 2 nodes for 2 min, 2 min unknown, and two
        // spells of would-be pre-scales (10:00–10:02 and 10:06).
        assert!((slot.under_node_min - 15.0).abs() < 1e-9 && (slot.over_node_min - 4.0).abs() < 1e-9, "{slot:?}");
        assert!((slot.forecast_min - 19.0).abs() < 1e-9 && (slot.forecast_unknown_min - 2.0).abs() < 1e-9);
        assert_eq!((slot.would_pre_scales, slot.pre_scales), (2, 0));
        assert_eq!(slot.forecast_modes, ["forecast-only"]);

        // After a silent afternoon the 23:00 run accounts for 15 minutes only: the rest was not
        // observed, and the report counts it as unknown.
        assert!(day.add(&run("2026-11-23T23:00:00Z", None, None)));
        assert!((day.hours[&23].unknown_min - 15.0).abs() < 1e-9);
        assert_eq!(day.observed_until, Some(t("2026-11-23T23:00:00Z")));
    }

    #[test]
    fn a_new_day_counts_from_midnight_and_a_full_day_stays_small() {
        let mut day = DayObservations::default();
        assert!(day.add(&run("2026-11-24T00:01:00Z", Some(window("2026-11-24T00:01:00Z", |_| Some(1))), None)));
        let slot = &day.hours[&0];
        assert!((slot.known_min - 1.0).abs() < 1e-9 && (slot.unschedulable_pod_min - 1.0).abs() < 1e-9, "{slot:?}");
        // A day of runs every 2 minutes, every figure set: the JSON the day item keeps.
        let start = t("2026-11-24T00:03:00Z");
        for i in 0..719 {
            let at = start + Duration::minutes(2 * i);
            let mut r =
                run(&at.to_rfc3339(), Some(window(&at.to_rfc3339(), |_| Some(3))), Some((2.5, 1.25, i % 3 == 0)));
            if let Some(f) = r.forecast.as_mut() {
                f.pre_scale_judged = Some(i % 2 == 0);
            }
            assert!(day.add(&r));
        }
        let json = serde_json::to_string(&day).unwrap();
        assert!(json.len() < 16_000, "{} bytes next to the ledger's 200 KB", json.len());
        assert_eq!(serde_json::from_str::<DayObservations>(&json).unwrap(), day);
        let known: f64 = day.hours.values().map(|h| h.known_min).sum();
        assert!((known - 1439.0).abs() < 1e-6, "{known}");
    }

    #[test]
    fn buckets_are_per_utc_day_and_expire_after_the_ttl() {
        assert_eq!(bucket_key("prod", NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()), "prod#ledger#2026-11-23");
        let days = days_covering(t("2026-11-16T09:00:00Z"), t("2026-11-23T09:00:00Z"));
        assert_eq!(days.len(), 8);
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(bucket_expiry(day), t("2026-12-29T00:00:00Z").timestamp());
    }
}
