//! The decision engine: a pure function of policy, state, metric samples and the time.
//!
//! # Sustained conditions
//! A condition is *sustained* for a window `D` when
//! 1. every sample of the signal in `[now − D, now]` satisfies it,
//! 2. the samples cover the window: the oldest sample in it lies no later than
//!    `now − D + sample_interval`, and
//! 3. there is no hole: consecutive samples, and the newest sample and `now`, are at most
//!    `2 × sample_interval` apart (one missed scrape is tolerated, a longer outage is not).
//!
//! A "latest" value is the newest sample no older than `2 × sample_interval`; an older one
//! is stale and counts as unknown. Unknown is never zero: unknown CPU or memory blocks every
//! action (`no_data`), an unknown custom metric (queue, latency, error rate) neither triggers
//! nor blocks, and unknown pending pods can trigger nothing and block a scale-down.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::metrics::{Sample, Signal};
use crate::policy::{Policy, SCALE_DOWN_STEP};
use crate::state::ScaleAction;
use crate::timefmt::duration;

/// What the engine needs to know about the cluster's scaling state.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionState {
    pub node_count: u32,
    #[serde(default)]
    pub last_scale_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_scale_action: Option<ScaleAction>,
    #[serde(default)]
    pub lock_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    ScaleUp,
    ScaleDown,
    None,
}

/// Why a decision that had a reason to act did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockedBy {
    Cooldown,
    MaxNodes,
    MinNodes,
    LockHeld,
    NoData,
}

/// What moved the engine, as a short machine-readable code (the `Reason` metric dimension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Cpu,
    PendingPods,
    Memory,
    QueueDepth,
    P95Latency,
    ErrorRate,
    BelowMin,
    AboveMax,
    LowUtilization,
    Consolidation,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Cpu => "cpu",
            Trigger::PendingPods => "pending_pods",
            Trigger::Memory => "memory",
            Trigger::QueueDepth => "queue_depth",
            Trigger::P95Latency => "p95_latency",
            Trigger::ErrorRate => "error_rate",
            Trigger::BelowMin => "below_min",
            Trigger::AboveMax => "above_max",
            Trigger::LowUtilization => "low_utilization",
            Trigger::Consolidation => "consolidation",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub action: Action,
    pub delta: i32,
    pub target_nodes: u32,
    pub reasons: Vec<String>,
    pub blocked_by: Option<BlockedBy>,
    /// The triggers behind the action or the blocked action; empty when nothing applied.
    #[serde(skip)]
    pub triggers: Vec<Trigger>,
}

impl Decision {
    fn none(node_count: u32, blocked_by: Option<BlockedBy>, reasons: Vec<String>, triggers: Vec<Trigger>) -> Self {
        Decision { action: Action::None, delta: 0, target_nodes: node_count, reasons, blocked_by, triggers }
    }

    fn scale(node_count: u32, target: u32, reasons: Vec<String>, triggers: Vec<Trigger>) -> Self {
        let action = if target > node_count { Action::ScaleUp } else { Action::ScaleDown };
        Decision {
            action,
            delta: target as i32 - node_count as i32,
            target_nodes: target,
            reasons,
            blocked_by: None,
            triggers,
        }
    }

    /// The first trigger's code, or `none`.
    pub fn primary_reason(&self) -> &'static str {
        self.triggers.first().map(|t| t.as_str()).unwrap_or("none")
    }
}

/// Decides what to do now. Pure: same inputs, same output.
pub fn decide(policy: &Policy, state: &DecisionState, samples: &[Sample], now: DateTime<Utc>) -> Decision {
    let n = state.node_count;

    if let Some(expires) = state.lock_expires_at.filter(|e| *e > now) {
        let reason = format!("scaling lock held by another run for {} more", duration((expires - now).num_seconds()));
        return Decision::none(n, Some(BlockedBy::LockHeld), vec![reason], vec![]);
    }

    if n < policy.min_nodes {
        let reason = format!("below_min: {n} nodes < min_nodes {}", policy.min_nodes);
        return Decision::scale(n, policy.min_nodes, vec![reason], vec![Trigger::BelowMin]);
    }

    let view = SignalView::new(samples, now, policy);
    let missing: Vec<String> = [Signal::Cpu, Signal::Memory]
        .into_iter()
        .filter(|s| view.latest(*s).is_none())
        .map(|s| format!("{} unknown: no sample in the last {}", s.name(), duration(view.stale_after_s())))
        .collect();
    if !missing.is_empty() {
        return Decision::none(n, Some(BlockedBy::NoData), missing, vec![]);
    }

    let ups = scale_up_triggers(policy, &view);
    if !ups.is_empty() {
        let triggers: Vec<Trigger> = ups.iter().map(|(t, _)| *t).collect();
        let mut reasons: Vec<String> = ups.into_iter().map(|(_, r)| r).collect();
        let urgent = triggers.contains(&Trigger::PendingPods) || triggers.len() >= 2;
        let mut step = if urgent { policy.scale_up_step_urgent } else { policy.scale_up_step };
        if triggers.contains(&Trigger::PendingPods) && policy.size_scale_up_by_pending_requests {
            match nodes_for_pending(policy, &view) {
                Some((nodes, why)) => {
                    step = step.max(nodes);
                    reasons.push(why);
                }
                None => reasons.push("pending pods' requests unknown: sized by the fixed step".to_string()),
            }
        }
        if n >= policy.max_nodes {
            reasons.push(format!("at max_nodes ({n} of {})", policy.max_nodes));
            return Decision::none(n, Some(BlockedBy::MaxNodes), reasons, triggers);
        }
        if let Some(since) = cooling_down(state, now, Some(ScaleAction::ScaleUp), policy.cooldown_scale_up_s) {
            reasons.push(format!(
                "scale-up cooldown: last scale-up {} ago < {}",
                duration(since),
                duration(policy.cooldown_scale_up_s.into())
            ));
            return Decision::none(n, Some(BlockedBy::Cooldown), reasons, triggers);
        }
        let target = (n + step).min(policy.max_nodes);
        if urgent || step > policy.scale_up_step {
            reasons.push(format!("urgent: +{}", target - n));
        }
        return Decision::scale(n, target, reasons, triggers);
    }

    let (reasons, trigger) = if n > policy.max_nodes {
        (vec![format!("above_max: {n} nodes > max_nodes {}", policy.max_nodes)], Trigger::AboveMax)
    } else {
        match scale_down_check(policy, &view, n) {
            Ok(found) => found,
            Err(unmet) => {
                let mut reasons = vec!["no scale-up trigger".to_string()];
                reasons.extend(unmet.into_iter().map(|u| format!("no scale-down: {u}")));
                return Decision::none(n, None, reasons, vec![]);
            }
        }
    };
    let mut reasons = reasons;
    if n <= policy.min_nodes {
        reasons.push(format!("at min_nodes ({n})"));
        return Decision::none(n, Some(BlockedBy::MinNodes), reasons, vec![trigger]);
    }
    if let Some(since) = cooling_down(state, now, None, policy.cooldown_scale_down_s) {
        let last = match state.last_scale_action {
            Some(ScaleAction::ScaleUp) => "scale-up",
            _ => "scale-down",
        };
        reasons.push(format!(
            "scale-down cooldown: last {last} {} ago < {}",
            duration(since),
            duration(policy.cooldown_scale_down_s.into())
        ));
        return Decision::none(n, Some(BlockedBy::Cooldown), reasons, vec![trigger]);
    }
    Decision::scale(n, n - SCALE_DOWN_STEP, reasons, vec![trigger])
}

/// Seconds since the last scale action when it is within `cooldown_s`. `action: None` matches
/// either direction.
fn cooling_down(
    state: &DecisionState,
    now: DateTime<Utc>,
    action: Option<ScaleAction>,
    cooldown_s: u32,
) -> Option<i64> {
    let last = state.last_scale_at?;
    if action.is_some() && state.last_scale_action != action {
        return None;
    }
    let since = (now - last).num_seconds();
    (since < i64::from(cooldown_s)).then_some(since)
}

fn scale_up_triggers(policy: &Policy, view: &SignalView) -> Vec<(Trigger, String)> {
    let mut ups = Vec::new();
    let cpu_limit = policy.cpu_scale_up_pct;
    if let Some(held) = view.sustained(Signal::Cpu, policy.cpu_scale_up_window_s, |v| v > cpu_limit) {
        ups.push((Trigger::Cpu, format!("cpu {:.1}% > {cpu_limit}% for {}", held.latest, duration(held.for_s))));
    }
    if let Some(held) = view.sustained(Signal::PendingPods, policy.pending_pods_window_s, |v| v > 0.0) {
        // Pods no new node could host never call for one (Cluster Autoscaler's rule too): only
        // the hostable ones trigger. Unknown counts as hostable, so a missing query never
        // silences a real shortfall.
        let unhostable = view.latest(Signal::UnhostablePods).unwrap_or(0.0).min(held.latest);
        if held.latest - unhostable > 0.0 {
            let beyond = if unhostable > 0.0 {
                format!(", {unhostable} of them larger than a new node and left out")
            } else {
                String::new()
            };
            ups.push((
                Trigger::PendingPods,
                format!(
                    "{} pending pods for {} (> {}){beyond}",
                    held.latest,
                    duration(held.for_s),
                    duration(policy.pending_pods_window_s.into())
                ),
            ));
        }
    }
    if let Some(mem) = view.latest(Signal::Memory).filter(|v| *v > policy.mem_scale_up_pct) {
        ups.push((Trigger::Memory, format!("memory {mem:.1}% > {}%", policy.mem_scale_up_pct)));
    }
    if let Some(queue) = view.latest(Signal::QueueDepth).filter(|v| *v > policy.queue_scale_up) {
        ups.push((Trigger::QueueDepth, format!("queue depth {queue:.0} > {}", policy.queue_scale_up)));
    }
    if let Some(p95) = view.latest(Signal::P95Latency).filter(|v| *v > policy.p95_latency_scale_up_s) {
        ups.push((Trigger::P95Latency, format!("p95 latency {p95:.2}s > {}s", policy.p95_latency_scale_up_s)));
    }
    let err_limit = policy.error_rate_scale_up_pct;
    if let Some(held) = view.sustained(Signal::ErrorRate, policy.error_rate_window_s, |v| v > err_limit) {
        ups.push((
            Trigger::ErrorRate,
            format!("error rate {:.1}% > {err_limit}% for {}", held.latest, duration(held.for_s)),
        ));
    }
    ups
}

/// New nodes whose free room holds the pending pods' summed requests (the volume bound of
/// bin-packing them), with the explanation; `None` while either sum is unknown.
fn nodes_for_pending(policy: &Policy, view: &SignalView) -> Option<(u32, String)> {
    let cpu = view.latest(Signal::PendingCpu)?;
    let memory = view.latest(Signal::PendingMemory)?;
    let node_memory = f64::from(policy.new_node_memory_mib) * 1024.0 * 1024.0;
    let nodes = (cpu / f64::from(policy.new_node_cpu_millis)).max(memory / node_memory).ceil().max(0.0);
    let nodes = nodes.min(f64::from(policy.max_nodes)) as u32;
    let why = format!("pending requests {cpu:.0}m CPU, {:.0} MiB need {nodes} new node(s)", memory / (1024.0 * 1024.0));
    Some((nodes, why))
}

/// The scale-down fit check: the pods' requests, running plus pending, at their peak over the
/// lookback, must fill at most `scale_down_fit_max_pct` of the room of one node fewer. Unknown
/// requests fail it.
///
/// With `scale_down_fit_descent` on, a peak the requests have only come down from does not hold
/// the node for the whole lookback: when the peak over `scale_down_fit_descent_lookback_s` fits
/// and the requests have not risen past the limit, from a node's worth below it, at any time in
/// the lookback plus that window, the load is on its way down (an evening, the end of a sale),
/// not between two bursts, and the node goes after the short window, as Cluster Autoscaler's
/// `scale-down-unneeded-time` lets it. Such a rise within that span (a burst that came and went,
/// and may come again) keeps the hour's peak in force.
fn fit_check(policy: &Policy, view: &SignalView, n: u32, met: &mut Vec<String>, unmet: &mut Vec<String>) {
    let limit = policy.scale_down_fit_max_pct;
    let lookback = policy.scale_down_fit_lookback_s;
    let descent = policy.scale_down_fit_descent.then_some(policy.scale_down_fit_descent_lookback_s);
    let mib = 1024.0 * 1024.0;
    let resources = [
        ("cpu", Signal::RequestedCpu, Signal::PendingCpu, f64::from(policy.new_node_cpu_millis)),
        ("memory", Signal::RequestedMemory, Signal::PendingMemory, f64::from(policy.new_node_memory_mib) * mib),
    ];
    for (label, running, pending, room) in resources {
        let Some(peak) = view.peak_sum(running, pending, lookback) else {
            unmet.push(format!("requested {label} unknown: the fit check cannot pass"));
            continue;
        };
        let capacity = if n > 1 { f64::from(n - 1) * room } else { 0.0 };
        let fill = |requests: f64| if capacity > 0.0 { requests / capacity * 100.0 } else { f64::INFINITY };
        let over = duration(lookback.into());
        if fill(peak) <= limit {
            met.push(format!(
                "peak requested {label} over {over} fills {:.0}% of one node fewer <= {limit}%",
                fill(peak)
            ));
            continue;
        }
        let came_down = descent.and_then(|short| {
            let recent = view.peak_sum(running, pending, short)?;
            let span = lookback.saturating_add(short);
            // A burst is a rise of at least a node's worth: from what one node fewer again
            // would hold to past the limit.
            let high = capacity * limit / 100.0;
            let low = high - room * limit / 100.0;
            (fill(recent) <= limit && !view.rose_past(running, pending, low, high, span))
                .then_some((short, recent, span))
        });
        match came_down {
            Some((short, recent, span)) => met.push(format!(
                "requested {label} came down: peak over {} fills {:.0}% of one node fewer <= {limit}%, and it has not risen past that in {} (the {over} peak, {:.0}%, was on the way down)",
                duration(short.into()),
                fill(recent),
                duration(span.into()),
                fill(peak)
            )),
            None => unmet.push(format!(
                "peak requested {label} over {over} would fill {:.0}% of one node fewer (> {limit}%)",
                fill(peak)
            )),
        }
    }
}

/// `Ok((reasons, trigger))` when a scale-down's conditions hold, else `Err(the unmet ones)`.
///
/// Every scale-down needs no pending pods and a calm queue. Then either the spec's rule holds
/// (CPU low for the window, memory low) with the fit check when it is on, or consolidation
/// does: the fit check, and utilization that stays clear of the scale-up thresholds on one
/// node fewer.
fn scale_down_check(policy: &Policy, view: &SignalView, n: u32) -> Result<(Vec<String>, Trigger), Vec<String>> {
    let window = policy.scale_down_window_s;
    let mut met = Vec::new();
    let mut unmet = Vec::new();

    let spec = low_utilization(policy, view);
    match view.latest(Signal::PendingPods) {
        Some(0.0) => met.push("no pending pods".to_string()),
        Some(p) => unmet.push(format!("{p} pending pods")),
        None => unmet.push("pending pods unknown".to_string()),
    }
    let queue_limit = policy.queue_scale_down;
    if view.has_any(Signal::QueueDepth) {
        match view.sustained(Signal::QueueDepth, window, |v| v < queue_limit) {
            Some(held) => {
                met.push(format!("queue depth {:.0} < {queue_limit} for {}", held.latest, duration(held.for_s)))
            }
            None => unmet.push(format!("queue depth not < {queue_limit} for {}", duration(window.into()))),
        }
    }
    // Consolidation only above the floor: at it the spec's unmet conditions explain the decision.
    let consolidation = policy.consolidate_by_requests && spec.is_err() && n > policy.min_nodes;
    // At the floor the min_nodes block explains the decision; the fit check has nothing to add.
    if (policy.scale_down_fit_check || consolidation) && n > policy.min_nodes {
        fit_check(policy, view, n, &mut met, &mut unmet);
    }
    let (utilization, trigger) = match spec {
        Ok(reasons) => (Ok(reasons), Trigger::LowUtilization),
        Err(spec_unmet) if consolidation => match projected_utilization(policy, view, n) {
            Ok(reasons) => (Ok(reasons), Trigger::Consolidation),
            Err(room_unmet) => (Err(spec_unmet.into_iter().chain(room_unmet).collect()), Trigger::Consolidation),
        },
        Err(spec_unmet) => (Err(spec_unmet), Trigger::LowUtilization),
    };
    match utilization {
        Ok(reasons) => drop(met.splice(0..0, reasons)),
        Err(reasons) => drop(unmet.splice(0..0, reasons)),
    }
    if unmet.is_empty() {
        Ok((met, trigger))
    } else {
        Err(unmet)
    }
}

/// The spec's rule: CPU below its threshold for the window, and memory below its threshold.
fn low_utilization(policy: &Policy, view: &SignalView) -> Result<Vec<String>, Vec<String>> {
    let window = policy.scale_down_window_s;
    let cpu_limit = policy.cpu_scale_down_pct;
    let mut met = Vec::new();
    let mut unmet = Vec::new();
    match view.sustained(Signal::Cpu, window, |v| v < cpu_limit) {
        Some(held) => met.push(format!("cpu {:.1}% < {cpu_limit}% for {}", held.latest, duration(held.for_s))),
        None => unmet.push(format!(
            "cpu {:.1}% not < {cpu_limit}% for {}",
            view.latest(Signal::Cpu).unwrap_or(f64::NAN),
            duration(window.into())
        )),
    }
    match view.latest(Signal::Memory) {
        Some(m) if m < policy.mem_scale_down_pct => {
            met.push(format!("memory {m:.1}% < {}%", policy.mem_scale_down_pct))
        }
        m => unmet.push(format!("memory {:.1}% not < {}%", m.unwrap_or(f64::NAN), policy.mem_scale_down_pct)),
    }
    if unmet.is_empty() {
        Ok(met)
    } else {
        Err(unmet)
    }
}

/// Consolidation's utilization test: CPU over the whole window and the latest memory, scaled to
/// one node fewer (`× n / (n − 1)`), stay `consolidation_headroom_pct` points below the
/// scale-up thresholds.
fn projected_utilization(policy: &Policy, view: &SignalView, n: u32) -> Result<Vec<String>, Vec<String>> {
    if n < 2 {
        return Err(vec![format!("consolidation: {n} node(s) leave no other node to move pods to")]);
    }
    let scale = f64::from(n) / f64::from(n - 1);
    let headroom = policy.consolidation_headroom_pct;
    let window = policy.scale_down_window_s;
    let mut met = Vec::new();
    let mut unmet = Vec::new();
    let cpu_limit = policy.cpu_scale_up_pct - headroom;
    match view.sustained(Signal::Cpu, window, |v| v * scale < cpu_limit) {
        Some(held) => met.push(format!(
            "consolidation: cpu {:.1}% would be {:.1}% on {} nodes, < {cpu_limit}% for {}",
            held.latest,
            held.latest * scale,
            n - 1,
            duration(held.for_s)
        )),
        None => unmet.push(format!(
            "consolidation: cpu on {} nodes not < {cpu_limit}% for {}",
            n - 1,
            duration(window.into())
        )),
    }
    let mem_limit = policy.mem_scale_up_pct - headroom;
    match view.latest(Signal::Memory) {
        Some(m) if m * scale < mem_limit => met.push(format!(
            "consolidation: memory {m:.1}% would be {:.1}% on {} nodes, < {mem_limit}%",
            m * scale,
            n - 1
        )),
        m => unmet.push(format!(
            "consolidation: memory on {} nodes would be {:.1}%, not < {mem_limit}%",
            n - 1,
            m.unwrap_or(f64::NAN) * scale
        )),
    }
    if unmet.is_empty() {
        Ok(met)
    } else {
        Err(unmet)
    }
}

struct Held {
    latest: f64,
    /// How long the condition has held, back to the start of the current unbroken run.
    for_s: i64,
}

/// The samples the rules may look at, oldest first, with their times as epoch milliseconds.
/// Every query reads its signal straight from the samples it covers: the engine runs at every
/// decider run (and every simulated one), and splitting an hour of samples into a series per
/// signal first cost more than all the rules together.
struct SignalView<'a> {
    now_ms: i64,
    interval_ms: i64,
    samples: Vec<(i64, &'a Sample)>,
}

/// A signal's known value in a sample (a non-finite number is no value).
fn known(signal: Signal, sample: &Sample) -> Option<f64> {
    signal.value(sample).filter(|v| v.is_finite())
}

impl<'a> SignalView<'a> {
    fn new(samples: &'a [Sample], now: DateTime<Utc>, policy: &Policy) -> Self {
        let now_ms = now.timestamp_millis();
        // Nothing older than the longest look back matters (plus one interval for coverage).
        let horizon_ms = (i64::from(policy.longest_lookback_s()) + i64::from(policy.sample_interval_s)) * 1000;
        let mut recent: Vec<(i64, &Sample)> = samples
            .iter()
            .filter(|s| s.at <= now)
            .map(|s| (s.at.timestamp_millis(), s))
            .filter(|(at, _)| now_ms - at <= horizon_ms)
            .collect();
        if !recent.is_sorted_by_key(|(at, _)| *at) {
            recent.sort_by_key(|(at, _)| *at);
        }
        SignalView { now_ms, interval_ms: i64::from(policy.sample_interval_s) * 1000, samples: recent }
    }

    fn age_ms(&self, at: i64) -> i64 {
        self.now_ms - at
    }

    fn max_gap_ms(&self) -> i64 {
        2 * self.interval_ms
    }

    fn stale_after_s(&self) -> i64 {
        self.max_gap_ms() / 1000
    }

    fn has_any(&self, signal: Signal) -> bool {
        self.latest(signal).is_some()
    }

    /// The newest value, unless it is stale (only the samples young enough are looked at).
    fn latest(&self, signal: Signal) -> Option<f64> {
        self.samples
            .iter()
            .rev()
            .take_while(|(at, _)| self.age_ms(*at) <= self.max_gap_ms())
            .find_map(|(_, s)| known(signal, s))
    }

    /// Where the samples no older than `window_s` begin.
    fn window_start(&self, window_s: u32) -> usize {
        let window_ms = i64::from(window_s) * 1000;
        self.samples.partition_point(|(at, _)| self.age_ms(*at) > window_ms)
    }

    /// `a + b` over the last `window_s`, at the samples where both are known, oldest first.
    fn sums(&self, a: Signal, b: Signal, window_s: u32) -> impl Iterator<Item = f64> + '_ {
        self.samples[self.window_start(window_s)..].iter().filter_map(move |(_, s)| Some(known(a, s)? + known(b, s)?))
    }

    /// The highest `a + b` over the last `window_s`, at the samples where both are known;
    /// `None` unless both are known at the latest sample.
    fn peak_sum(&self, a: Signal, b: Signal, window_s: u32) -> Option<f64> {
        self.latest(a)?;
        self.latest(b)?;
        self.sums(a, b, window_s).reduce(f64::max)
    }

    /// Whether `a + b` rose from at or below `low` to above `high` within the last `window_s`
    /// (a sample above `high` follows one at or below `low`). A load that has only come down
    /// since the window began never did; the gap between the two keeps noise around one line
    /// from reading as a rise.
    fn rose_past(&self, a: Signal, b: Signal, low: f64, high: f64, window_s: u32) -> bool {
        let mut was_low = false;
        for sum in self.sums(a, b, window_s) {
            if sum <= low {
                was_low = true;
            } else if was_low && sum > high {
                return true;
            }
        }
        false
    }

    /// `Some` when `holds` is sustained over the last `window_s` (see the module docs).
    fn sustained(&self, signal: Signal, window_s: u32, holds: impl Fn(f64) -> bool) -> Option<Held> {
        let window_ms = i64::from(window_s) * 1000;
        let start = self.window_start(window_s);
        let mut in_window = self.samples[start..].iter().filter_map(|(at, s)| known(signal, s).map(|v| (*at, v)));
        let (oldest_at, first) = in_window.next()?;
        if !holds(first) || self.age_ms(oldest_at) < window_ms - self.interval_ms {
            return None;
        }
        let (mut newest_at, mut latest) = (oldest_at, first);
        for (at, v) in in_window {
            if !holds(v) || at - newest_at > self.max_gap_ms() {
                return None;
            }
            (newest_at, latest) = (at, v);
        }
        if self.age_ms(newest_at) > self.max_gap_ms() {
            return None;
        }
        // Extend back past the window while the run continues unbroken, for the explanation.
        let mut run_start = oldest_at;
        for (at, v) in self.samples[..start].iter().rev().filter_map(|(at, s)| known(signal, s).map(|v| (*at, v))) {
            if !holds(v) || run_start - at > self.max_gap_ms() {
                break;
            }
            run_start = at;
        }
        Some(Held { latest, for_s: (self.age_ms(run_start) / 1000).max(i64::from(window_s)) })
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
