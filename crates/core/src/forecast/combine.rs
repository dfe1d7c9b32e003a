//! How the forecast need meets the reactive decision. Pure: the decider (and the simulator)
//! call [`combine`] with the engine's [`Decision`] and a [`Prediction`].
//!
//! `active`: target = max(reactive target, need) clamped to the policy's limits; a scale-down
//! never goes below the need of the next lead window (it becomes "none", with the reason), and
//! when that window needs more nodes than the cluster has, the pre-scale replaces it; a
//! pre-scale waits for the lock and the scale-up cooldown like any scale-up. `forecast-only`:
//! the decision's action is unchanged and one reason says what prediction would have done.
//! `off`: nothing.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Prediction, PredictiveMode};
use crate::decide::{Action, BlockedBy, Decision, DecisionState};
use crate::policy::Policy;
use crate::state::ScaleAction;

/// What the forecast did to (or, in `forecast-only`, would have done to) the decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "kebab-case")]
pub enum Effect {
    /// The reactive decision already covers the need (or there is no need).
    Unchanged,
    /// No reactive action; a scale-up to the need.
    PreScale { from: u32, to: u32 },
    /// A reactive scale-up raised to the need.
    Raised { reactive: u32, to: u32 },
    /// A reactive scale-down held: it would go below the next window's need.
    ScaleDownHeld { reactive: u32, need: u32 },
    /// A pre-scale is due but the lock or the scale-up cooldown stops it for now.
    Waits { to: u32, why: String },
}

impl Effect {
    /// Whether the effect is a scale-up the forecast asked for.
    pub fn is_pre_scale(&self) -> bool {
        matches!(self, Effect::PreScale { .. } | Effect::Raised { .. })
    }

    fn describe(&self) -> Option<String> {
        match self {
            Effect::Unchanged => None,
            Effect::PreScale { from, to } => Some(format!("pre-scale {from} → {to} nodes")),
            Effect::Raised { reactive, to } => Some(format!("scale-up raised from {reactive} to {to} nodes")),
            Effect::ScaleDownHeld { reactive, need } => {
                Some(format!("scale-down to {reactive} held: the next window needs {need} nodes"))
            }
            Effect::Waits { to, why } => Some(format!("pre-scale to {to} nodes waits: {why}")),
        }
    }
}

/// The combined decision, with what the forecast did and whether it was applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Combined {
    pub decision: Decision,
    pub effect: Effect,
    /// True when the effect changed the decision (mode `active`).
    pub applied: bool,
}

/// Combines the reactive `decision` with `prediction` (see the module's doc).
pub fn combine(
    decision: Decision,
    prediction: &Prediction,
    policy: &Policy,
    state: &DecisionState,
    now: DateTime<Utc>,
) -> Combined {
    let unchanged = |decision| Combined { decision, effect: Effect::Unchanged, applied: false };
    let Some(need) = prediction.nodes.filter(|_| prediction.mode != PredictiveMode::Off) else {
        return unchanged(decision);
    };
    let need = need.clamp(policy.min_nodes, policy.max_nodes);
    // A scale-down must not go below the need a little past the lead either (`HOLD_BEYOND_LEAD_S`).
    let hold = prediction.hold_nodes.unwrap_or(need).clamp(policy.min_nodes, policy.max_nodes).max(need);
    let n = state.node_count;
    let effect = match decision.action {
        Action::ScaleUp if need > decision.target_nodes => Effect::Raised { reactive: decision.target_nodes, to: need },
        // A rise due within the lead outranks a reactive scale-down (the load is low just before
        // a forecast peak): the pre-scale goes, or waits, and the scale-down does not.
        Action::None | Action::ScaleDown if need > n => match waits(&decision, policy, state, now) {
            Some(why) => Effect::Waits { to: need, why },
            None => Effect::PreScale { from: n, to: need },
        },
        Action::ScaleDown if decision.target_nodes < hold => {
            Effect::ScaleDownHeld { reactive: decision.target_nodes, need: hold }
        }
        _ => Effect::Unchanged,
    };
    let Some(what) = effect.describe() else { return unchanged(decision) };
    let mut decision = decision;
    if prediction.mode != PredictiveMode::Active {
        decision.reasons.push(format!("forecast-only: prediction would have made a {what} ({})", prediction.reason));
        return Combined { decision, effect, applied: false };
    }
    decision.reasons.push(format!("{}; {what}", prediction.reason));
    match &effect {
        Effect::PreScale { to, .. } | Effect::Raised { to, .. } => {
            decision.action = Action::ScaleUp;
            decision.target_nodes = *to;
            decision.delta = *to as i32 - n as i32;
            decision.blocked_by = None;
        }
        Effect::ScaleDownHeld { .. } | Effect::Waits { .. } => {
            decision.action = Action::None;
            decision.target_nodes = n;
            decision.delta = 0;
        }
        Effect::Unchanged => {}
    }
    Combined { decision, effect, applied: true }
}

/// The policy the reactive decision runs with. The fit check lets the requests fill only
/// `scale_down_fit_max_pct` of one node fewer: the rest is room for a rise while the next node
/// boots. While an `active` profile forecasts every slot of the fit check's lookback ahead, the
/// rises it knows are pre-scaled a lead time ahead and scale-downs are held below their need, so
/// less of that room is needed: the fit check fills up to `fit_max_pct` (the predictive setting,
/// `PREDICTIVE_FIT_MAX_REQUESTED_PCT`). This is where prediction saves what its pre-scales cost.
/// `None`: the policy as it is (any other mode, no such profile, the setting not above the
/// policy's, or no fit check). Only behind a profile whose back-test avoided at least
/// [`FILL_MIN_AVOIDED_PCT`] of reactive's shortfall: one that missed most rises (NASA's bursts)
/// would leave them to a fuller cluster.
pub fn reactive_policy(policy: &Policy, prediction: &Prediction, fit_max_pct: f64) -> Option<(Policy, String)> {
    let lookback = policy.scale_down_fit_lookback_s;
    let applies = prediction.mode == PredictiveMode::Active
        && prediction.profile_ahead_s >= lookback
        && prediction.profile_avoided_pct >= FILL_MIN_AVOIDED_PCT
        && fit_max_pct > policy.scale_down_fit_max_pct
        && (policy.scale_down_fit_check || policy.consolidate_by_requests);
    applies.then(|| {
        let reason = format!(
            "the fit check fills up to {fit_max_pct}% of one node fewer, not {}%: the profile forecasts the next {} min \
             and avoided {:.0}% of reactive's shortfall in its back-test",
            policy.scale_down_fit_max_pct,
            prediction.profile_ahead_s / 60,
            prediction.profile_avoided_pct
        );
        (Policy { scale_down_fit_max_pct: fit_max_pct, ..policy.clone() }, reason)
    })
}

/// The share of reactive's back-test shortfall a profile must have avoided for the fit check to
/// fill more behind it: most of the rises. The profiles of the synthetic week, taxi and ASG
/// avoid over 95 %; NASA's bursty weeks from a third to a little over half, and filling more
/// behind those made more of NASA's pods wait (chosen on the 28-day runs, docs/simulate.md).
pub const FILL_MIN_AVOIDED_PCT: f64 = 60.0;

/// Why a pre-scale cannot go now: the lock, or the scale-up cooldown (the same rules a
/// reactive scale-up obeys).
fn waits(decision: &Decision, policy: &Policy, state: &DecisionState, now: DateTime<Utc>) -> Option<String> {
    if decision.blocked_by == Some(BlockedBy::LockHeld) {
        return Some("the scaling lock is held".to_string());
    }
    let cooldown = Duration::seconds(i64::from(policy.cooldown_scale_up_s));
    match (state.last_scale_action, state.last_scale_at) {
        (Some(ScaleAction::ScaleUp), Some(at)) if now - at < cooldown => {
            Some(format!("scale-up cooldown, {} s left", (cooldown - (now - at)).num_seconds()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-16T08:50:00Z".parse().unwrap()
    }

    fn prediction(mode: PredictiveMode, nodes: Option<u32>) -> Prediction {
        Prediction {
            mode,
            lead_s: 600,
            nodes,
            hold_nodes: None,
            profile_ahead_s: 0,
            profile_avoided_pct: 0.0,
            source: None,
            no_forecast: None,
            reason:
                "forecast 6 nodes at Mon 09:00 UTC (weekly profile, p90 of 14 days + 10 %); pre-scaling 10 min ahead"
                    .into(),
        }
    }

    fn state(n: u32) -> DecisionState {
        DecisionState { node_count: n, last_scale_at: None, last_scale_action: None, lock_expires_at: None }
    }

    /// `n` nodes, 100 s after a scale-up: 200 s of the default scale-up cooldown left.
    fn cooling(n: u32) -> DecisionState {
        DecisionState {
            last_scale_at: Some(now() - Duration::seconds(100)),
            last_scale_action: Some(ScaleAction::ScaleUp),
            ..state(n)
        }
    }

    fn reactive(action: Action, n: u32, target: u32) -> Decision {
        Decision {
            action,
            delta: target as i32 - n as i32,
            target_nodes: target,
            reasons: vec!["reactive".into()],
            blocked_by: None,
            triggers: Vec::new(),
        }
    }

    #[test]
    fn active_pre_scales_raises_and_holds_scale_downs() {
        let policy = Policy::default();
        let p = prediction(PredictiveMode::Active, Some(6));
        let c = combine(reactive(Action::None, 3, 3), &p, &policy, &state(3), now());
        assert_eq!((c.decision.action, c.decision.target_nodes, c.decision.delta), (Action::ScaleUp, 6, 3));
        assert_eq!(c.effect, Effect::PreScale { from: 3, to: 6 });
        assert_eq!(c.decision.reasons[1], format!("{}; pre-scale 3 → 6 nodes", p.reason));
        let c = combine(reactive(Action::ScaleUp, 3, 4), &p, &policy, &state(3), now());
        assert_eq!((c.decision.target_nodes, c.effect.clone()), (6, Effect::Raised { reactive: 4, to: 6 }));
        let c = combine(reactive(Action::ScaleUp, 3, 8), &p, &policy, &state(3), now());
        assert_eq!((c.decision.target_nodes, c.effect), (8, Effect::Unchanged), "reactive above the need wins");
        let c = combine(reactive(Action::ScaleDown, 6, 5), &p, &policy, &state(6), now());
        assert_eq!((c.decision.action, c.decision.target_nodes), (Action::None, 6));
        assert!(c.decision.reasons[1].ends_with("scale-down to 5 held: the next window needs 6 nodes"));
        let c = combine(reactive(Action::ScaleDown, 8, 7), &p, &policy, &state(8), now());
        assert_eq!((c.decision.action, c.effect), (Action::ScaleDown, Effect::Unchanged));
        // Clamped to the policy's maximum.
        let big = prediction(PredictiveMode::Active, Some(500));
        let c = combine(reactive(Action::None, 3, 3), &big, &policy, &state(3), now());
        assert_eq!(c.decision.target_nodes, policy.max_nodes);
    }

    #[test]
    fn an_active_profile_over_the_whole_lookback_lets_the_fit_check_fill_more() {
        let policy = Policy::default();
        let covering = Prediction {
            profile_ahead_s: 3600,
            profile_avoided_pct: 98.0,
            ..prediction(PredictiveMode::Active, Some(4))
        };
        let (relaxed, why) = reactive_policy(&policy, &covering, 85.0).expect("it applies");
        assert_eq!(relaxed, Policy { scale_down_fit_max_pct: 85.0, ..policy.clone() }, "nothing else changes");
        assert_eq!(
            why,
            "the fit check fills up to 85% of one node fewer, not 80%: the profile forecasts the next 60 min \
             and avoided 98% of reactive's shortfall in its back-test"
        );
        // Not in forecast-only (it changes no decision), not with a profile short of the lookback,
        // not when the setting is no looser than the policy's, not without a fit check.
        let only = Prediction { mode: PredictiveMode::ForecastOnly, ..covering.clone() };
        assert_eq!(reactive_policy(&policy, &only, 85.0), None);
        let short = Prediction { profile_ahead_s: 3599, ..covering.clone() };
        assert_eq!(reactive_policy(&policy, &short, 85.0), None);
        // Not behind a profile that missed most of the rises in its back-test.
        let missed = Prediction { profile_avoided_pct: FILL_MIN_AVOIDED_PCT - 0.1, ..covering.clone() };
        assert_eq!(reactive_policy(&policy, &missed, 85.0), None);
        let enough = Prediction { profile_avoided_pct: FILL_MIN_AVOIDED_PCT, ..covering.clone() };
        assert!(reactive_policy(&policy, &enough, 85.0).is_some());
        assert_eq!(reactive_policy(&policy, &covering, 80.0), None);
        let no_fit = Policy { scale_down_fit_check: false, consolidate_by_requests: false, ..policy.clone() };
        assert_eq!(reactive_policy(&no_fit, &covering, 85.0), None);
    }

    #[test]
    fn a_scale_down_is_held_for_a_need_just_past_the_lead() {
        let policy = Policy::default();
        // The next lead window needs 4, the quarter of an hour after it 6: draining one of 6 now
        // would buy it back within the thrash window.
        let p = Prediction { hold_nodes: Some(6), ..prediction(PredictiveMode::Active, Some(4)) };
        let c = combine(reactive(Action::ScaleDown, 6, 5), &p, &policy, &state(6), now());
        assert_eq!((c.decision.action, c.effect), (Action::None, Effect::ScaleDownHeld { reactive: 5, need: 6 }));
        // It never pre-scales for the hold: only the lead window's need buys nodes.
        let c = combine(reactive(Action::None, 3, 3), &p, &policy, &state(3), now());
        assert_eq!(c.effect, Effect::PreScale { from: 3, to: 4 });
        let c = combine(reactive(Action::ScaleDown, 8, 7), &p, &policy, &state(8), now());
        assert_eq!(c.decision.action, Action::ScaleDown, "7 still covers the hold");
    }

    /// A quiet cluster just before a forecast peak: the reactive engine wants a node fewer, the
    /// next lead window wants more. Holding the scale-down alone would leave the peak to reactive.
    #[test]
    fn a_rise_due_within_the_lead_replaces_a_reactive_scale_down() {
        let policy = Policy::default();
        let p = prediction(PredictiveMode::Active, Some(8));
        let c = combine(reactive(Action::ScaleDown, 6, 5), &p, &policy, &state(6), now());
        assert_eq!((c.decision.action, c.decision.target_nodes, c.decision.delta), (Action::ScaleUp, 8, 2));
        assert_eq!(c.effect, Effect::PreScale { from: 6, to: 8 });
        assert!(c.decision.reasons.last().unwrap().ends_with("; pre-scale 6 → 8 nodes"));
        // While the pre-scale waits, the scale-down does not go either.
        let c = combine(reactive(Action::ScaleDown, 6, 5), &p, &policy, &cooling(6), now());
        assert_eq!((c.decision.action, c.decision.target_nodes, c.decision.delta), (Action::None, 6, 0));
        assert_eq!(c.effect, Effect::Waits { to: 8, why: "scale-up cooldown, 200 s left".into() });
        // In forecast-only the scale-down goes, and the reason says what prediction would have done.
        let only = prediction(PredictiveMode::ForecastOnly, Some(8));
        let c = combine(reactive(Action::ScaleDown, 6, 5), &only, &policy, &state(6), now());
        assert_eq!((c.decision.action, c.decision.target_nodes, c.applied), (Action::ScaleDown, 5, false));
        assert!(c.decision.reasons.last().unwrap().contains("would have made a pre-scale 6 → 8 nodes"));
    }

    #[test]
    fn a_pre_scale_waits_for_the_cooldown_and_the_lock() {
        let policy = Policy::default();
        let p = prediction(PredictiveMode::Active, Some(6));
        let c = combine(reactive(Action::None, 3, 3), &p, &policy, &cooling(3), now());
        assert_eq!(c.decision.action, Action::None);
        assert_eq!(c.effect, Effect::Waits { to: 6, why: "scale-up cooldown, 200 s left".into() });
        assert!(c.decision.reasons[1].ends_with("pre-scale to 6 nodes waits: scale-up cooldown, 200 s left"));
        let mut locked = reactive(Action::None, 3, 3);
        locked.blocked_by = Some(BlockedBy::LockHeld);
        let c = combine(locked, &p, &policy, &state(3), now());
        assert_eq!((c.decision.action, c.decision.blocked_by), (Action::None, Some(BlockedBy::LockHeld)));
    }

    #[test]
    fn forecast_only_changes_no_action_and_says_what_it_would_have_done() {
        let policy = Policy::default();
        let p = prediction(PredictiveMode::ForecastOnly, Some(6));
        for (r, n) in [
            (reactive(Action::None, 3, 3), 3),
            (reactive(Action::ScaleUp, 3, 4), 3),
            (reactive(Action::ScaleDown, 6, 5), 6),
        ] {
            let c = combine(r.clone(), &p, &policy, &state(n), now());
            assert_eq!(
                (c.decision.action, c.decision.delta, c.decision.target_nodes),
                (r.action, r.delta, r.target_nodes)
            );
            assert!(!c.applied);
            assert!(c.decision.reasons.last().unwrap().starts_with("forecast-only: prediction would have made a "));
        }
        let off = prediction(PredictiveMode::Off, Some(6));
        let c = combine(reactive(Action::None, 3, 3), &off, &policy, &state(3), now());
        assert_eq!((c.effect, c.decision.reasons.len()), (Effect::Unchanged, 1));
        let none = prediction(PredictiveMode::Active, None);
        assert_eq!(combine(reactive(Action::None, 3, 3), &none, &policy, &state(3), now()).effect, Effect::Unchanged);
    }
}
