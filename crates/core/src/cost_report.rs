//! The weekly cost report: what the fleet cost and saved over a window, from the savings
//! ledger (what SmartScale did) and the fleet as it stands at the window's end, with
//! recommendations, each with the figure behind it.
//!
//! The fleet over the window is rebuilt from the ledger backwards: an instance runs from its
//! launch change (or the window's start, or its EC2 launch time, if it launched before the
//! ledger saw it) to its removal change (or the window's end, if it is still active). An
//! instance that launched in the window, is gone and has no removal change left the fleet
//! outside SmartScale (reclaimed with no interruption record, or terminated by a person): its
//! hours are unknown, are not counted, and the report says how many there were.
//!
//! Figures are exact in the JSON ([`CostReport`]); the Slack message rounds them for people.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::cost::CostConfig;
use crate::cost_ledger::{CostChange, CostChangeKind, CostLedger};
use crate::messages::Offering;
use crate::metrics::Sample;
use crate::ports::{Instance, Lifecycle};
use crate::slack::{escape, truncate, Links, SECTION_TEXT_MAX};

/// The SNS message's `kind`, which the Slack forwarder recognises.
pub const REPORT_KIND: &str = "cost_report";
pub const REPORT_VERSION: u32 = 1;
/// "CPU averaging below 30 % for 7 days": the rule for lowering `MIN_NODES`.
pub const LOW_CPU_PCT: f64 = 30.0;
/// Known CPU samples must cover this share of the window for the CPU rule to speak.
pub const MIN_CPU_COVERAGE: f64 = 0.9;
/// Hours at `MAX_NODES` before the report recommends raising it.
pub const MAX_CAPACITY_HOURS: f64 = 1.0;
/// How far (percentage points) the Spot share may fall below its target before the report asks why.
pub const SPOT_SHORTFALL_PP: f64 = 5.0;
/// Unschedulable time above this share of the known time (2 %: about 200 minutes a week) gets
/// a recommendation. Every scale-up leaves pods waiting for a node to join (2–3 minutes), so a
/// busy week of 40 scale-ups makes about 1 % by design; twice that is capacity coming late.
pub const HIGH_UNSCHEDULABLE_PCT: f64 = 2.0;
/// Above this share of the window unknown, the report warns that its unschedulable figure
/// speaks for part of the week only.
pub const UNKNOWN_WARN_PCT: f64 = 10.0;

/// The limits the fleet ran under (the scale-up worker's and policy's configuration).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FleetLimits {
    pub min_nodes: u32,
    pub max_nodes: u32,
    /// `SPOT_SHARE`: the Spot share wanted of the nodes beyond the On-Demand floor.
    pub spot_share: f64,
}

/// What the report is made from.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    pub cluster_id: &'a str,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub ledger: &'a CostLedger,
    /// Every managed instance at `to` (any state).
    pub fleet: &'a [Instance],
    /// Cluster CPU samples over the window, or why there are none.
    pub cpu: std::result::Result<&'a [Sample], String>,
    pub cost: &'a CostConfig,
    pub limits: FleetLimits,
    /// Pools the scale-up worker avoids at `to` (recent interruptions or shortages).
    pub avoided: &'a [Offering],
}

/// Node-hours and cost of one lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LifecycleUsage {
    pub node_hours: f64,
    /// USD; `None` when some of these hours are of a type the price table does not know.
    pub cost_usd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// `lower_min_nodes`, `raise_max_nodes`, `spot_share_below_target`.
    pub kind: String,
    pub message: String,
    /// The figure behind it, by name, exact.
    pub figures: BTreeMap<String, f64>,
}

/// The report, with exact figures: the SNS message body (with `kind` and `version`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostReport {
    pub kind: String,
    pub version: u32,
    pub cluster_id: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// "us-east-1, prices as of …".
    pub prices: String,
    pub on_demand: LifecycleUsage,
    pub spot: LifecycleUsage,
    /// USD; `None` when any hour is unpriced.
    pub cost_usd: Option<f64>,
    pub baseline_nodes: u32,
    pub baseline_instance_type: String,
    pub baseline_cost_usd: f64,
    pub savings_usd: Option<f64>,
    pub savings_pct: Option<f64>,
    /// Spot node-hours as a percentage of all node-hours; `None` with no node-hours.
    pub spot_share_pct: Option<f64>,
    /// What `SPOT_SHARE` asks for over the same fleet (the On-Demand floor excluded).
    pub spot_target_pct: Option<f64>,
    pub interruptions: u32,
    /// Scale-up decisions (distinct decision ids) and the instances they launched.
    pub scale_ups: u32,
    pub launches: u32,
    /// Instances SmartScale removed.
    pub scale_downs: u32,
    /// Launches that wanted Spot and got On-Demand.
    pub spot_fallbacks: u32,
    pub peak_nodes: u32,
    pub hours_at_max: f64,
    pub hours_at_min: f64,
    /// Average cluster CPU % over the known samples, and the share of the window they cover.
    pub cpu_avg_pct: Option<f64>,
    pub cpu_coverage: f64,
    /// Why CPU is unknown, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_unknown_reason: Option<String>,
    /// Instances that left in the window with no ledger record: their hours are not counted.
    pub unaccounted_instances: u32,
    /// Ledger changes that a full day's bucket could not keep.
    pub ledger_dropped: u64,
    /// Time pods waited unschedulable, from the decider's runs.
    #[serde(default)]
    pub unschedulable: UnschedulableTime,
    /// The forecast's accuracy, when predictive scaling ran in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastAccuracy>,
    pub recommendations: Vec<Recommendation>,
}

/// Unschedulable time over the window, as the decider's runs observed it. Unknown time is
/// reported, never counted as zero.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct UnschedulableTime {
    /// Minutes with a known unschedulable-pods figure.
    pub known_minutes: f64,
    /// The rest of the window: time runs accounted for with no figure (`failed_minutes`: the
    /// query failed, the run used a cached snapshot, or samples were missing) and time no run
    /// accounted for (the decider not running, a record that failed).
    pub unknown_minutes: f64,
    pub failed_minutes: f64,
    /// Known minutes with at least one unschedulable pod, and their pod-minutes.
    pub minutes: f64,
    pub pod_minutes: f64,
    /// `minutes` as a share of the known minutes; `None` with nothing known.
    pub share_pct: Option<f64>,
    /// `unknown_minutes` as a share of the window.
    pub unknown_pct: f64,
}

/// The forecast against the demand over the window (docs/forecast.md): the asymmetric errors
/// and the pre-scales.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ForecastAccuracy {
    /// `PREDICTIVE_MODE`s seen (`forecast-only`, `active`).
    pub modes: Vec<String>,
    /// Hours with both the forecast and the demand known, and with either unknown.
    pub judged_hours: f64,
    pub unknown_hours: f64,
    /// Demand above the forecast (nodes the forecast missed) and below it (nodes it would have
    /// added for nothing), node-hours.
    pub under_node_hours: f64,
    pub over_node_hours: f64,
    /// Pre-scales made (mode `active`), judged at their window, and used.
    pub pre_scales: u32,
    pub pre_scales_judged: u32,
    pub pre_scales_used: u32,
    /// Spells in which the forecast would have pre-scaled but did not act (forecast-only).
    pub would_pre_scales: u32,
    /// The over-forecast's cost at the baseline type's On-Demand price, USD (an upper bound:
    /// pre-scaled nodes may be Spot); `None` when the type has no price.
    pub over_cost_usd: Option<f64>,
}

/// One instance's stay in the fleet within the window.
#[derive(Debug, Clone)]
struct Stay {
    lifecycle: Lifecycle,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    usd_per_hour: Option<f64>,
}

fn hours(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds().max(0) as f64 / 3_600_000.0
}

/// The stays, and how many instances left without a record.
fn stays(input: &ReportInput) -> (Vec<Stay>, u32) {
    let mut launches: BTreeMap<&str, &CostChange> = BTreeMap::new();
    let mut removals: BTreeMap<&str, &CostChange> = BTreeMap::new();
    for change in &input.ledger.changes {
        let map = if change.is_removal() { &mut removals } else { &mut launches };
        map.entry(change.instance_id.as_str()).or_insert(change);
    }
    let current: BTreeMap<&str, &Instance> = input.fleet.iter().map(|i| (i.instance_id.as_str(), i)).collect();
    let mut ids: Vec<&str> = launches.keys().chain(removals.keys()).copied().collect();
    ids.extend(current.iter().filter(|(_, i)| i.state.is_active()).map(|(id, _)| *id));
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::new();
    let mut unaccounted = 0;
    for id in ids {
        let (launch, removal, now) = (launches.get(id), removals.get(id), current.get(id));
        let active_now = now.is_some_and(|i| i.state.is_active());
        let start = match launch {
            Some(l) => l.at,
            None => now.and_then(|i| i.launched_at).map_or(input.from, |t| t.max(input.from)),
        };
        let end = match removal {
            Some(r) => r.at,
            None if active_now => input.to,
            None => {
                unaccounted += 1;
                continue;
            }
        };
        let record = launch.or(removal);
        let (lifecycle, usd_per_hour) = match (record, now) {
            (Some(c), _) => (c.lifecycle, c.usd_per_hour.map(f64::abs)),
            (None, Some(i)) => (i.lifecycle, input.cost.prices.per_hour(&i.instance_type, i.lifecycle)),
            (None, None) => continue,
        };
        if end > start {
            out.push(Stay { lifecycle, start, end, usd_per_hour });
        }
    }
    (out, unaccounted)
}

/// The node count over the window: (from, to, count) pieces.
fn timeline(stays: &[Stay], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>, u32)> {
    let mut edges: Vec<(DateTime<Utc>, i32)> = Vec::new();
    for s in stays {
        edges.push((s.start, 1));
        edges.push((s.end, -1));
    }
    edges.sort();
    let mut pieces = Vec::new();
    let (mut at, mut count) = (from, 0i32);
    for (t, delta) in edges {
        if t > at {
            pieces.push((at, t.min(to), count.max(0) as u32));
            at = t;
        }
        count += delta;
    }
    if to > at {
        pieces.push((at, to, count.max(0) as u32));
    }
    pieces
}

/// Builds the report (pure; see the module's documentation).
pub fn weekly_report(input: &ReportInput) -> CostReport {
    let (stays, unaccounted_instances) = stays(input);
    let mut usage: BTreeMap<Lifecycle, LifecycleUsage> = BTreeMap::new();
    for lifecycle in [Lifecycle::OnDemand, Lifecycle::Spot] {
        usage.insert(lifecycle, LifecycleUsage { node_hours: 0.0, cost_usd: Some(0.0) });
    }
    for stay in &stays {
        let h = hours(stay.start, stay.end);
        let u = usage.entry(stay.lifecycle).or_default();
        u.node_hours += h;
        u.cost_usd = match (u.cost_usd, stay.usd_per_hour) {
            (Some(c), Some(p)) => Some(c + h * p),
            _ => None,
        };
    }
    let (on_demand, spot) = (usage[&Lifecycle::OnDemand], usage[&Lifecycle::Spot]);
    let total_hours = on_demand.node_hours + spot.node_hours;
    let cost_usd = on_demand.cost_usd.zip(spot.cost_usd).map(|(a, b)| a + b);
    let window_hours = hours(input.from, input.to);
    let baseline_cost_usd = input.cost.baseline_per_hour() * window_hours;
    let savings_usd = cost_usd.map(|c| baseline_cost_usd - c);
    let savings_pct = savings_usd.filter(|_| baseline_cost_usd > 0.0).map(|s| 100.0 * s / baseline_cost_usd);

    let pieces = timeline(&stays, input.from, input.to);
    let limits = input.limits;
    let peak_nodes = pieces.iter().map(|p| p.2).max().unwrap_or(0);
    // `+ 0.0`: an empty f64 sum is −0.0, which would print as "-0.0 h".
    let hours_at_max = pieces.iter().filter(|p| p.2 >= limits.max_nodes).map(|p| hours(p.0, p.1)).sum::<f64>() + 0.0;
    let hours_at_min = pieces.iter().filter(|p| p.2 <= limits.min_nodes).map(|p| hours(p.0, p.1)).sum::<f64>() + 0.0;
    let spot_target_hours: f64 = pieces
        .iter()
        .map(|p| f64::from(p.2.saturating_sub(limits.min_nodes)) * limits.spot_share * hours(p.0, p.1))
        .sum::<f64>()
        + 0.0;
    let spot_share_pct = (total_hours > 0.0).then(|| 100.0 * spot.node_hours / total_hours);
    let spot_target_pct = (total_hours > 0.0).then(|| 100.0 * spot_target_hours / total_hours);

    let changes = &input.ledger.changes;
    let count = |kind: CostChangeKind| changes.iter().filter(|c| c.kind == kind).count() as u32;
    let mut decisions: Vec<&str> = changes
        .iter()
        .filter(|c| c.kind == CostChangeKind::Launch)
        .map(|c| c.decision_id.as_deref().unwrap_or(c.instance_id.as_str()))
        .collect();
    decisions.sort_unstable();
    decisions.dedup();
    let spot_fallbacks = changes.iter().filter(|c| c.spot_fallback).count() as u32;
    let interruptions = count(CostChangeKind::Interruption);

    let (cpu_avg_pct, cpu_coverage, cpu_unknown_reason) = cpu_average(input);

    let mut report = CostReport {
        kind: REPORT_KIND.into(),
        version: REPORT_VERSION,
        cluster_id: input.cluster_id.into(),
        from: input.from,
        to: input.to,
        prices: input.cost.prices.describe(),
        on_demand,
        spot,
        cost_usd,
        baseline_nodes: input.cost.baseline.nodes,
        baseline_instance_type: input.cost.baseline.instance_type.clone(),
        baseline_cost_usd,
        savings_usd,
        savings_pct,
        spot_share_pct,
        spot_target_pct,
        interruptions,
        scale_ups: decisions.len() as u32,
        launches: count(CostChangeKind::Launch),
        scale_downs: count(CostChangeKind::Termination),
        spot_fallbacks,
        peak_nodes,
        hours_at_max,
        hours_at_min,
        cpu_avg_pct,
        cpu_coverage,
        cpu_unknown_reason,
        unaccounted_instances,
        ledger_dropped: input.ledger.dropped,
        unschedulable: unschedulable_time(input),
        forecast: forecast_accuracy(input),
        recommendations: Vec::new(),
    };
    report.recommendations = recommendations(&report, limits, input.avoided);
    report
}

/// The decider's unschedulable observations over the window's hour slots; the window's
/// minutes no run knew are unknown.
fn unschedulable_time(input: &ReportInput) -> UnschedulableTime {
    let mut t = UnschedulableTime::default();
    for (_, slot) in input.ledger.observed_hours(input.from, input.to) {
        t.known_minutes += slot.known_min;
        t.failed_minutes += slot.unknown_min;
        t.minutes += slot.unschedulable_min;
        t.pod_minutes += slot.unschedulable_pod_min;
    }
    let window_minutes = hours(input.from, input.to) * 60.0;
    t.unknown_minutes = (window_minutes - t.known_minutes).max(0.0);
    t.share_pct = (t.known_minutes > 0.0).then(|| 100.0 * t.minutes / t.known_minutes);
    t.unknown_pct = if window_minutes > 0.0 { 100.0 * t.unknown_minutes / window_minutes } else { 0.0 };
    t
}

/// The forecast's observations over the window; `None` when no run had predictive scaling on.
fn forecast_accuracy(input: &ReportInput) -> Option<ForecastAccuracy> {
    let mut f = ForecastAccuracy::default();
    let mut any = false;
    for (_, slot) in input.ledger.observed_hours(input.from, input.to) {
        if slot.forecast_modes.is_empty() {
            continue;
        }
        any = true;
        for mode in &slot.forecast_modes {
            if !f.modes.contains(mode) {
                f.modes.push(mode.clone());
            }
        }
        f.judged_hours += slot.forecast_min / 60.0;
        f.unknown_hours += slot.forecast_unknown_min / 60.0;
        f.under_node_hours += slot.under_node_min / 60.0;
        f.over_node_hours += slot.over_node_min / 60.0;
        f.pre_scales += slot.pre_scales;
        f.pre_scales_judged += slot.pre_scales_judged;
        f.pre_scales_used += slot.pre_scales_used;
        f.would_pre_scales += slot.would_pre_scales;
    }
    let baseline = &input.cost.baseline.instance_type;
    f.over_cost_usd = input.cost.prices.per_hour(baseline, Lifecycle::OnDemand).map(|p| p * f.over_node_hours);
    any.then_some(f)
}

/// The forecast in plain words: its errors, its pre-scales, and (forecast-only) what switching
/// it on would have done.
pub fn describe_forecast(f: &ForecastAccuracy) -> String {
    let modes = f.modes.join(", ");
    if f.judged_hours <= 0.0 {
        // No model yet (too little history) or no demand figure: nothing to judge it by.
        return format!(
            "forecast ({modes}): unknown, {:.0} h with no forecast or no demand figure and none judged",
            f.unknown_hours
        );
    }
    let mut text = format!(
        "forecast ({modes}): under {:.1} node-h, over {:.1} node-h over {:.0} h judged",
        f.under_node_hours, f.over_node_hours, f.judged_hours
    );
    if f.unknown_hours > 0.0 {
        text.push_str(&format!(" ({:.1} h unknown)", f.unknown_hours));
    }
    if f.modes.iter().any(|m| m == "active") {
        text.push_str(&format!(
            ", {} pre-scales, {} used (of {} judged)",
            f.pre_scales, f.pre_scales_used, f.pre_scales_judged
        ));
    }
    if f.modes.iter().any(|m| m == "forecast-only") {
        let cost = f.over_cost_usd.map_or_else(|| "an unknown cost".to_string(), |c| format!("at most {}", usd(c)));
        text.push_str(&format!(
            ". Switching it on would have pre-scaled {} times ahead of demand, added {:.1} node-h that demand did not need ({cost}), and still left {:.1} node-h of demand above the forecast for the reactive rules",
            f.would_pre_scales, f.over_node_hours, f.under_node_hours
        ));
    }
    text
}

/// The average of the known CPU samples, and their coverage of the window: the share of the
/// window's hours holding at least one known sample (whatever the samples' step).
fn cpu_average(input: &ReportInput) -> (Option<f64>, f64, Option<String>) {
    let samples = match &input.cpu {
        Ok(samples) => *samples,
        Err(reason) => return (None, 0.0, Some(reason.clone())),
    };
    let known: Vec<(DateTime<Utc>, f64)> = samples
        .iter()
        .filter(|s| s.at >= input.from && s.at <= input.to)
        .filter_map(|s| s.cpu_pct.filter(|v| v.is_finite()).map(|v| (s.at, v)))
        .collect();
    if known.is_empty() {
        return (None, 0.0, Some("Prometheus returned no CPU samples for the window".into()));
    }
    let mut hours_known: Vec<i64> = known.iter().map(|(at, _)| (*at - input.from).num_hours()).collect();
    hours_known.sort_unstable();
    hours_known.dedup();
    let window_hours = hours(input.from, input.to).ceil().max(1.0);
    let coverage = (hours_known.len() as f64 / window_hours).min(1.0);
    let known: Vec<f64> = known.into_iter().map(|(_, v)| v).collect();
    (Some(known.iter().sum::<f64>() / known.len() as f64), coverage, None)
}

fn figures(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn recommendations(r: &CostReport, limits: FleetLimits, avoided: &[Offering]) -> Vec<Recommendation> {
    let mut out = Vec::new();
    if let Some(cpu) = r.cpu_avg_pct.filter(|c| *c < LOW_CPU_PCT && r.cpu_coverage >= MIN_CPU_COVERAGE) {
        if limits.min_nodes > 1 && r.hours_at_min > 0.0 {
            // The floor's work at the average CPU would fit on fewer nodes at the 30 % mark.
            let fits_on =
                ((f64::from(limits.min_nodes) * cpu / LOW_CPU_PCT).ceil() as u32).clamp(1, limits.min_nodes - 1);
            out.push(Recommendation {
                kind: "lower_min_nodes".into(),
                message: format!(
                    "Cluster CPU averaged {cpu:.1}% over the window (below {LOW_CPU_PCT:.0}%), and the fleet sat at \
                     MIN_NODES ({}) for {:.0} h: lower MIN_NODES to {fits_on}.",
                    limits.min_nodes, r.hours_at_min
                ),
                figures: figures(&[
                    ("cpu_avg_pct", cpu),
                    ("hours_at_min", r.hours_at_min),
                    ("min_nodes", f64::from(limits.min_nodes)),
                    ("suggested_min_nodes", f64::from(fits_on)),
                ]),
            });
        }
    }
    if r.hours_at_max >= MAX_CAPACITY_HOURS {
        out.push(Recommendation {
            kind: "raise_max_nodes".into(),
            message: format!(
                "The fleet was at MAX_NODES ({}) for {:.1} h: raise MAX_NODES, or the EC2 vCPU quotas if launches \
                 failed on them.",
                limits.max_nodes, r.hours_at_max
            ),
            figures: figures(&[("hours_at_max", r.hours_at_max), ("max_nodes", f64::from(limits.max_nodes))]),
        });
    }
    if let (Some(share), Some(target)) = (r.spot_share_pct, r.spot_target_pct) {
        if share < target - SPOT_SHORTFALL_PP {
            let mut why = Vec::new();
            if r.spot_fallbacks > 0 {
                why.push(format!("{} launches fell back to On-Demand for want of Spot capacity", r.spot_fallbacks));
            }
            if r.interruptions > 0 {
                why.push(format!("{} Spot interruptions", r.interruptions));
            }
            if !avoided.is_empty() {
                let pools: Vec<String> = avoided
                    .iter()
                    .map(|o| format!("{} {} in {}", o.lifecycle.as_str(), o.instance_type, o.availability_zone))
                    .collect();
                why.push(format!("pools avoided now: {}", pools.join(", ")));
            }
            if why.is_empty() {
                why.push(
                    "no fallback or interruption was recorded: nodes that predate the ledger, or SPOT_SHARE \
                          changed during the window"
                        .into(),
                );
            }
            out.push(Recommendation {
                kind: "spot_share_below_target".into(),
                message: format!(
                    "Spot ran {share:.0}% of node-hours against a target of {target:.0}%: {}. Add instance types or \
                     AZs to widen the Spot pools.",
                    why.join("; ")
                ),
                figures: figures(&[
                    ("spot_share_pct", share),
                    ("spot_target_pct", target),
                    ("spot_fallbacks", f64::from(r.spot_fallbacks)),
                    ("interruptions", f64::from(r.interruptions)),
                ]),
            });
        }
    }
    let u = &r.unschedulable;
    if let Some(share) = u.share_pct.filter(|s| *s > HIGH_UNSCHEDULABLE_PCT) {
        let what = if r.hours_at_max > 0.0 {
            format!(
                "the fleet was at MAX_NODES ({}) for {:.1} h, so raise MAX_NODES (or the EC2 quotas)",
                limits.max_nodes, r.hours_at_max
            )
        } else if r.forecast.is_none() {
            "it never sat at MAX_NODES, so capacity came too late: shorten SCALE_UP_PENDING_PODS_WINDOW or the \
             scale-up cooldown, or try PREDICTIVE_MODE=forecast-only to see whether the forecast would have come earlier"
                .to_string()
        } else {
            "it never sat at MAX_NODES, so capacity came too late: shorten SCALE_UP_PENDING_PODS_WINDOW or the \
             scale-up cooldown, or raise PREDICTIVE_LEAD_TIME so pre-scales come earlier"
                .to_string()
        };
        out.push(Recommendation {
            kind: "unschedulable_time_high".into(),
            message: format!(
                "Pods waited unschedulable for {:.0} min ({share:.1}% of the {:.0} h known, {:.0} pod-minutes): {what}.",
                u.minutes,
                u.known_minutes / 60.0,
                u.pod_minutes
            ),
            figures: figures(&[
                ("unschedulable_minutes", u.minutes),
                ("unschedulable_pod_minutes", u.pod_minutes),
                ("unschedulable_share_pct", share),
                ("known_minutes", u.known_minutes),
                ("hours_at_max", r.hours_at_max),
            ]),
        });
    }
    out
}

/// Unschedulable time for people: "42 min (0.4% of known time, 96 pod-min); 3% unknown".
pub fn describe_unschedulable(u: &UnschedulableTime) -> String {
    let known = match u.share_pct {
        Some(share) => format!("{:.0} min ({share:.1}% of the known time, {:.0} pod-min)", u.minutes, u.pod_minutes),
        None => "unknown".to_string(),
    };
    if u.unknown_minutes >= 0.5 {
        let failed = if u.failed_minutes >= 0.5 {
            format!(", {:.0} min of it runs without samples", u.failed_minutes)
        } else {
            String::new()
        };
        format!("{known}; {:.0} min unknown ({:.1}% of the window{failed})", u.unknown_minutes, u.unknown_pct)
    } else {
        known
    }
}

/// Money for people: `$12.35`, `−$3.10`.
pub fn usd(value: f64) -> String {
    let sign = if value < 0.0 { "−" } else { "" };
    format!("{sign}${:.2}", value.abs())
}

fn or_unknown(value: Option<f64>, show: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "unknown".to_string(), show)
}

/// The Block Kit message for the report: figures rounded for people.
pub fn slack_message(r: &CostReport, links: &Links) -> Value {
    let headline =
        format!("💰 Weekly cost report: {} saved {}", r.cluster_id, or_unknown(r.savings_pct, |p| format!("{p:.0}%")));
    let section = |text: String| json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, SECTION_TEXT_MAX)}});
    let field = |name: &str, value: String| json!({"type": "mrkdwn", "text": format!("*{name}*\n{}", escape(&value))});
    let usage = |u: &LifecycleUsage| format!("{:.0} node-h, {}", u.node_hours, or_unknown(u.cost_usd, usd));
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&headline, crate::slack::HEADER_MAX), "emoji": true}}),
        section(format!(
            "{} to {} · {}",
            r.from.format("%a %Y-%m-%d %H:%M UTC"),
            r.to.format("%a %Y-%m-%d %H:%M UTC"),
            escape(&r.prices)
        )),
        json!({"type": "section", "fields": [
            field("On-Demand", usage(&r.on_demand)),
            field("Spot", usage(&r.spot)),
            field("Fleet cost", or_unknown(r.cost_usd, usd)),
            field(
                "Baseline",
                format!("{} ({} On-Demand {})", usd(r.baseline_cost_usd), r.baseline_nodes, r.baseline_instance_type),
            ),
            field(
                "Savings",
                format!("{} ({})", or_unknown(r.savings_usd, usd), or_unknown(r.savings_pct, |p| format!("{p:.1}%"))),
            ),
            field(
                "Spot share",
                format!(
                    "{} (target {}), {} interruptions",
                    or_unknown(r.spot_share_pct, |p| format!("{p:.0}%")),
                    or_unknown(r.spot_target_pct, |p| format!("{p:.0}%")),
                    r.interruptions
                ),
            ),
            field("Scaling", format!("{} scale-ups ({} nodes), {} scale-downs", r.scale_ups, r.launches, r.scale_downs)),
            field(
                "Nodes",
                format!("peak {}, {:.1} h at max, {:.0} h at min", r.peak_nodes, r.hours_at_max, r.hours_at_min),
            ),
            field(
                "Cluster CPU",
                match (r.cpu_avg_pct, &r.cpu_unknown_reason) {
                    (Some(c), _) => format!("{c:.1}% average ({:.0}% of the window known)", 100.0 * r.cpu_coverage),
                    (None, Some(why)) => format!("unknown: {why}"),
                    (None, None) => "unknown".into(),
                },
            ),
        ]}),
    ];
    let mut observed = vec![field("Unschedulable", describe_unschedulable(&r.unschedulable))];
    if let Some(f) = &r.forecast {
        observed.push(field("Forecast", describe_forecast(f)));
    }
    blocks.push(json!({"type": "section", "fields": observed}));
    let mut caveats = Vec::new();
    if r.unschedulable.unknown_pct > UNKNOWN_WARN_PCT {
        caveats.push(format!(
            "{:.0}% of the window has no unschedulable-pods figure (Prometheus down or the decider not running): the unschedulable time speaks for the rest only.",
            r.unschedulable.unknown_pct
        ));
    }
    if r.unaccounted_instances > 0 {
        caveats.push(format!(
            "{} instances left the fleet with no ledger record (reclaimed or terminated outside SmartScale): their hours are not counted.",
            r.unaccounted_instances
        ));
    }
    if r.ledger_dropped > 0 {
        caveats.push(format!("{} ledger changes were dropped by a full day's bucket.", r.ledger_dropped));
    }
    if !caveats.is_empty() {
        blocks.push(section(format!("⚠️ {}", escape(&caveats.join(" ")))));
    }
    if r.recommendations.is_empty() {
        blocks.push(section("💡 *Recommendations*\nNone this week.".into()));
    } else {
        let lines: Vec<String> = r.recommendations.iter().map(|rec| format!("• {}", escape(&rec.message))).collect();
        blocks.push(section(format!("💡 *Recommendations*\n{}", lines.join("\n"))));
    }
    crate::slack::push_buttons(&mut blocks, links);
    json!({"text": escape(&headline), "blocks": blocks})
}

/// The window a report run at `now` covers: the `days` before it.
pub fn window(now: DateTime<Utc>, days: u32) -> (DateTime<Utc>, DateTime<Utc>) {
    (now - Duration::days(i64::from(days)), now)
}

#[cfg(test)]
#[path = "cost_report_tests.rs"]
mod tests;
