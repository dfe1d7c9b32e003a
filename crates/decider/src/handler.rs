use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::event::sns::SnsEvent;
use chrono::{DateTime, Duration, Utc};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use smartscale_core::cost_ledger::{ForecastObservation, RunObservation};
use smartscale_core::decide::{decide, Action, BlockedBy, Decision, DecisionState};
use smartscale_core::emf::{Metric, MetricBatch};
use smartscale_core::forecast::combine::reactive_policy;
use smartscale_core::messages::{DrainRequest, ScaleUpRequest, WorkMessage};
use smartscale_core::metrics::{Sample, Signal};
use smartscale_core::notification::{FailureType, NotificationEvent};
use smartscale_core::ports::{Clock, Fleet, MetricsSink, MetricsSource, Notifier, StateStore, WorkQueue};
use smartscale_core::state::{
    Episode, EpisodeKind, LockOutcome, MetricsSnapshot, ReleaseOutcome, ScaleAction, StateItem, StateUpdate,
};
use tracing::{error, info, instrument, warn};

use crate::fast_path::{self, AlertStatus, FAST_PATH_ALERT};
use crate::predictive::{self, combine, ForecastOutcome};
use crate::{DeciderConfig, Result, ScheduledEvent};

/// The ports the decider works through.
pub struct Deps<S, M, F, Q, N, C, K> {
    pub config: DeciderConfig,
    pub state: S,
    pub metrics: M,
    pub fleet: F,
    pub queue: Q,
    pub notifier: N,
    pub clock: C,
    pub sink: K,
}

/// Where the metrics behind a decision came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum MetricsOrigin {
    Live,
    /// Prometheus was unreachable; the decision used the snapshot cached in the state item.
    CachedSnapshot {
        age_s: i64,
    },
    /// Prometheus was unreachable and no fresh snapshot existed: decided on no data.
    Unavailable {
        error: String,
    },
}

/// What the invocation did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "taken", rename_all = "snake_case")]
pub enum Taken {
    NoAction,
    ScaleUpRequested {
        count: u32,
    },
    DrainRequested,
    /// Another run took the lock between our read and our write.
    LockLost,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub decision_id: String,
    pub cluster_id: String,
    pub trigger: Trigger,
    pub node_count: u32,
    pub metrics: MetricsOrigin,
    pub decision: Option<Decision>,
    #[serde(flatten)]
    pub taken: Taken,
    /// Predictive scaling's side of the run (absent when `PREDICTIVE_MODE=off`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<Box<ForecastOutcome>>,
}

/// What started a run: the EventBridge schedule, or Alertmanager's `UnschedulablePods` alert
/// through the fast-path topic. Both run the same decision; only its first reason differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    FastPath { firing_since: DateTime<Utc> },
}

impl Trigger {
    /// The value of the `Trigger` dimension on `AutoscalerInvocations`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::FastPath { .. } => "fast_path",
        }
    }

    /// The reason put first on a fast-path decision, so its request, notification and log
    /// all say why it ran between two ticks.
    fn reason(&self) -> Option<String> {
        match self {
            Trigger::Schedule => None,
            Trigger::FastPath { firing_since } => Some(format!(
                "fast path: Alertmanager {FAST_PATH_ALERT} firing since {}",
                firing_since.format("%H:%M:%S UTC")
            )),
        }
    }
}

/// What a fast-path invocation did: the decision it ran, or nothing for a resolved alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "fast_path", rename_all = "snake_case")]
pub enum FastPathOutcome {
    Decided(Outcome),
    /// The pods were scheduled; the next scheduled run sees the calmer metrics by itself.
    Resolved {
        message_id: String,
    },
}

/// One scheduled decider run. Errors are for failures that a retry of the same event may fix
/// (the state table unreachable, the work queue refusing); every expected outcome is an `Ok`.
#[instrument(skip_all, fields(cluster_id = %deps.config.cluster_id, event_id = event.payload.id.as_deref().unwrap_or("")))]
pub async fn handle<S, M, F, Q, N, C, K>(
    event: LambdaEvent<ScheduledEvent>,
    deps: &Deps<S, M, F, Q, N, C, K>,
) -> Result<Outcome>
where
    S: StateStore,
    M: MetricsSource,
    F: Fleet,
    Q: WorkQueue,
    N: Notifier,
    C: Clock,
    K: MetricsSink,
{
    let started = Instant::now();
    ensure_scheduled(&event.payload)?;
    let decision_id = decision_id(&event, deps.clock.now());
    invoke(deps, &decision_id, Trigger::Schedule, started).await
}

/// One fast-path run, on the SNS notification Alertmanager published. The event is checked
/// first (`fast_path::verify`: our topic, our cluster, our alert) and refused with the field's
/// name otherwise; `resolved` does nothing; `firing` runs exactly the scheduled run's decision
/// (same lock, cooldowns and rules).
#[instrument(skip_all, fields(cluster_id = %deps.config.cluster_id))]
pub async fn handle_fast_path<S, M, F, Q, N, C, K>(
    event: LambdaEvent<SnsEvent>,
    deps: &Deps<S, M, F, Q, N, C, K>,
) -> Result<FastPathOutcome>
where
    S: StateStore,
    M: MetricsSource,
    F: Fleet,
    Q: WorkQueue,
    N: Notifier,
    C: Clock,
    K: MetricsSink,
{
    let started = Instant::now();
    let cfg = &deps.config;
    let alert = fast_path::verify(&event.payload, cfg.fast_path_topic_arn.as_deref(), &cfg.cluster_id)?;
    let firing_since = match (alert.status, alert.firing_since) {
        (AlertStatus::Firing, Some(since)) => since,
        _ => {
            info!(message_id = alert.message_id, "fast path: {FAST_PATH_ALERT} resolved; nothing to do");
            return Ok(FastPathOutcome::Resolved { message_id: alert.message_id });
        }
    };
    info!(message_id = alert.message_id, %firing_since, pods = alert.pods.as_deref().unwrap_or("?"), "fast path: {FAST_PATH_ALERT} firing; deciding now");
    // SNS redelivers with the same MessageId: the same decision id, so the workers'
    // idempotency tokens stop a second launch.
    let decision_id = format!("dec-fp-{}", alert.message_id);
    let outcome = invoke(deps, &decision_id, Trigger::FastPath { firing_since }, started).await?;
    Ok(FastPathOutcome::Decided(outcome))
}

/// The decider's one Lambda entry point: a Scheduled Event runs `handle`, an SNS notification
/// `handle_fast_path`; any other shape is refused before anything is read or written.
pub async fn handle_event<S, M, F, Q, N, C, K>(
    event: LambdaEvent<serde_json::Value>,
    deps: &Deps<S, M, F, Q, N, C, K>,
) -> Result<serde_json::Value>
where
    S: StateStore,
    M: MetricsSource,
    F: Fleet,
    Q: WorkQueue,
    N: Notifier,
    C: Clock,
    K: MetricsSink,
{
    let LambdaEvent { payload, context } = event;
    let response = match EventShape::of(&payload)? {
        EventShape::Scheduled => {
            let event = LambdaEvent::new(smartscale_core::error::from_json_value(payload)?, context);
            serde_json::to_value(handle(event, deps).await?)
        }
        EventShape::Sns => {
            let event = LambdaEvent::new(smartscale_core::error::from_json_value(payload)?, context);
            serde_json::to_value(handle_fast_path(event, deps).await?)
        }
    };
    Ok(response.unwrap_or_default())
}

/// The two event shapes the decider accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventShape {
    Scheduled,
    Sns,
}

impl EventShape {
    fn of(payload: &serde_json::Value) -> Result<Self> {
        let sns_source =
            payload.get("Records").and_then(|r| r.get(0)).and_then(|r| r.get("EventSource")).and_then(|s| s.as_str());
        if sns_source == Some("aws:sns") {
            return Ok(EventShape::Sns);
        }
        if payload.get("detail-type").is_some() {
            return Ok(EventShape::Scheduled);
        }
        let keys = payload.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default();
        Err(smartscale_core::Error::rejected_message(
            "event",
            format!(
                "the decider takes an EventBridge Scheduled Event (\"detail-type\", \"source\") or an SNS notification from the fast-path topic (\"Records\"[0].\"EventSource\" = \"aws:sns\"); got {} with keys [{keys}]",
                json_kind(payload)
            ),
        )
        .into())
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Object(_) => "an object",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
    }
}

/// The run both triggers share: the same state, lock, cooldowns and rules.
async fn invoke<S, M, F, Q, N, C, K>(
    deps: &Deps<S, M, F, Q, N, C, K>,
    decision_id: &str,
    trigger: Trigger,
    started: Instant,
) -> Result<Outcome>
where
    S: StateStore,
    M: MetricsSource,
    F: Fleet,
    Q: WorkQueue,
    N: Notifier,
    C: Clock,
    K: MetricsSink,
{
    let now = deps.clock.now();
    let cluster = deps.config.cluster_id.as_str();
    let mut emf = MetricBatch::new(cluster, now);
    // `Trigger` is rolled up (emf.rs), so `AutoscalerInvocations{ClusterId}`, which the
    // DeciderNotRunning alarm watches, still counts every run.
    emf.put_with("Trigger", trigger.as_str(), Metric::AutoscalerInvocations, 1.0);

    let result = run(deps, decision_id, trigger, now, &mut emf).await;
    if let Ok(outcome) = &result {
        emf.put(Metric::CurrentNodeCount, f64::from(outcome.node_count));
        info!(decision_id, trigger = trigger.as_str(), outcome = %serde_json::to_string(outcome).unwrap_or_default(), "decider finished");
    }
    emf.put(Metric::LambdaExecutionTime, started.elapsed().as_secs_f64() * 1000.0);
    deps.sink.emit(&emf);
    result
}

async fn run<S, M, F, Q, N, C, K>(
    deps: &Deps<S, M, F, Q, N, C, K>,
    decision_id: &str,
    trigger: Trigger,
    now: DateTime<Utc>,
    emf: &mut MetricBatch,
) -> Result<Outcome>
where
    S: StateStore,
    M: MetricsSource,
    F: Fleet,
    Q: WorkQueue,
    N: Notifier,
    C: Clock,
    K: MetricsSink,
{
    let cfg = &deps.config;
    let cluster = cfg.cluster_id.as_str();
    let stored = deps.state.get(cluster).await?;
    let mut item = stored.clone().unwrap_or_else(|| StateItem::new(cluster));
    let mut update = StateUpdate::default();

    // EC2 is the truth for the node count; a stored count is only a fallback when EC2 cannot
    // answer, and a missing item with EC2 down is an error (unknown is never zero).
    match deps.fleet.describe_managed().await {
        Ok(instances) => {
            // The fleet's cost per hour, by lifecycle and type, against the baseline: every run.
            smartscale_core::cost::record_fleet_cost(emf, &instances, &cfg.cost);
            let active = instances.iter().filter(|i| i.state.is_active()).count() as u32;
            if stored.is_none() || active != item.node_count {
                if stored.is_some() {
                    warn!(stored = item.node_count, ec2 = active, "node count drift; correcting to EC2");
                }
                item.node_count = active;
                update.node_count = Some(active);
            }
        }
        Err(e) if stored.is_some() => {
            warn!(error = %e, stored = item.node_count, "EC2 describe failed; using the stored node count");
        }
        Err(e) => return Err(e.into()),
    }

    let lookback = Duration::seconds(i64::from(cfg.policy.lookback_s()));
    let (samples, judged_at, origin) = match deps.metrics.fetch(now - lookback, now, cfg.policy.sample_interval_s).await
    {
        Ok(samples) => {
            let samples = Arc::new(samples);
            update.metrics_snapshot = Some(MetricsSnapshot { taken_at: now, samples: Arc::clone(&samples) });
            if let Some(outage) = item.episode(EpisodeKind::MetricsUnavailable).cloned() {
                item.set_episode(&mut update, EpisodeKind::MetricsUnavailable, None);
                if outage.notified {
                    let message = format!(
                        "Prometheus answers again after {}; metric-driven scaling resumed",
                        format_duration(now - outage.since)
                    );
                    notify(deps, now, NotificationEvent::Recovered { what: "Prometheus".into(), message }).await;
                }
            }
            (samples, now, MetricsOrigin::Live)
        }
        Err(e) => {
            let outage = item
                .episode(EpisodeKind::MetricsUnavailable)
                .cloned()
                .unwrap_or(Episode::begin(EpisodeKind::MetricsUnavailable, now));
            let fresh = item.metrics_snapshot.take().filter(|s| {
                now - s.taken_at <= Duration::seconds(i64::from(cfg.snapshot_max_age_s)) && s.taken_at <= now
            });
            match fresh {
                Some(snapshot) => {
                    if item.episode(EpisodeKind::MetricsUnavailable).is_none() {
                        item.set_episode(&mut update, EpisodeKind::MetricsUnavailable, Some(outage.clone()));
                    }
                    let age_s = (now - snapshot.taken_at).num_seconds();
                    warn!(error = %e, age_s, "metrics unavailable; deciding on the cached snapshot");
                    // Judged as of the snapshot: cooldowns and the lock then look no more
                    // permissive than they did at that time.
                    (snapshot.samples, snapshot.taken_at, MetricsOrigin::CachedSnapshot { age_s })
                }
                None => {
                    error!(error = %e, "metrics unavailable and no fresh snapshot; deciding on no data");
                    emf.put_with(
                        "ErrorType",
                        FailureType::PrometheusUnavailable.as_str(),
                        Metric::ScalingFailures,
                        1.0,
                    );
                    // Once per outage; the metric above counts every run for the alarm.
                    let notified = outage.notified
                        || notify(
                            deps,
                            now,
                            NotificationEvent::ScalingFailure {
                                decision_id: Some(decision_id.to_string()),
                                error_type: FailureType::PrometheusUnavailable,
                                message: format!(
                                    "Prometheus unavailable since {}: {e}; no metric-driven scaling until it is back (you will hear when it is)",
                                    outage.since.format("%H:%M UTC")
                                ),
                                recommendation: Some(
                                    "check the Prometheus endpoint and the network path from the Lambda".into(),
                                ),
                            },
                        )
                        .await;
                    item.set_episode(
                        &mut update,
                        EpisodeKind::MetricsUnavailable,
                        Some(Episode { notified, ..outage.clone() }),
                    );
                    // No samples: the engine answers `no_data`, except that it still restores
                    // the min_nodes floor, which needs no metrics.
                    (Arc::default(), now, MetricsOrigin::Unavailable { error: e.to_string() })
                }
            }
        }
    };
    record_cluster_metrics(emf, &samples, judged_at, cfg.policy.sample_interval_s);
    if origin == MetricsOrigin::Live {
        check_required_signals(deps, &samples, now, emf, &mut item, &mut update).await;
        report_unhostable_pods(deps, &samples, now, &mut item, &mut update).await;
    }

    let predicted = predictive::predict(cfg, &deps.metrics, &mut item, &mut update, now).await;
    // An active profile that covers the fit check's lookback lets it fill more (`reactive_policy`).
    let relaxed = predicted
        .as_ref()
        .and_then(|(prediction, ..)| reactive_policy(&cfg.policy, prediction, cfg.predictive.fit_max_pct));
    let policy = relaxed.as_ref().map_or(&cfg.policy, |(p, _)| p);
    let mut decision = decide(policy, &item.decision_state(now), &samples, judged_at);
    if let Some((_, why)) = relaxed.as_ref().filter(|_| decision.action == Action::ScaleDown) {
        decision.reasons.push(why.clone());
    }
    if let Some(reason) = trigger.reason() {
        decision.reasons.insert(0, reason);
    }
    let mut forecast = None;
    let mut pre_scale_judged = None;
    if let Some((prediction, origin, actual_demand, forecast_demand)) = predicted {
        let combined = combine(decision, &prediction, policy, &item.decision_state(now), judged_at);
        decision = combined.decision;
        let f = ForecastOutcome {
            mode: prediction.mode,
            origin,
            prediction,
            effect: combined.effect,
            applied: combined.applied,
            actual_demand,
            forecast_demand,
        };
        // Judged here as `predictive::record` judges it just below (same item, same rule).
        pre_scale_judged = judged_pre_scale(&item, f.actual_demand, now);
        predictive::record(emf, &f, &item, &mut update, now);
        info!(decision_id, forecast = %serde_json::to_string(&f).unwrap_or_default(), "predictive");
        forecast = Some(f);
    }
    info!(decision_id, action = ?decision.action, delta = decision.delta, blocked_by = ?decision.blocked_by, reasons = ?decision.reasons, "decided");

    let mut pre_scale_made = false;
    let taken = match decision.action {
        Action::None => {
            if decision.blocked_by == Some(BlockedBy::MaxNodes) {
                alert_at_max(deps, &item, &decision, now, &mut update).await;
            }
            save(deps, &update).await;
            if decision.blocked_by == Some(BlockedBy::LockHeld) {
                // Would it scale up but for the lock? Then a drain holding it must give way.
                let unlocked = DecisionState { lock_expires_at: None, ..item.decision_state(now) };
                if decide(policy, &unlocked, &samples, judged_at).action == Action::ScaleUp {
                    ask_drain_to_give_way(deps, decision_id, now).await;
                }
            }
            Taken::NoAction
        }
        Action::ScaleDown if no_removable_node_until(&item, now).is_some() => {
            let until = no_removable_node_until(&item, now).unwrap_or(now);
            info!(decision_id, %until, "a scale-down is due but the last one found no removable node; not asking again until then");
            save(deps, &update).await;
            Taken::NoAction
        }
        Action::ScaleUp | Action::ScaleDown => {
            save(deps, &update).await;
            let taken = act(deps, decision_id, &item, &decision, now, emf).await?;
            if let (Taken::ScaleUpRequested { .. }, Some(f)) = (&taken, forecast.as_ref().filter(|f| f.applied)) {
                if let Some(pending) = predictive::pending(&f.effect, f.prediction.lead_s, now) {
                    pre_scale_made = true;
                    emf.put_with("Mode", f.mode.as_str(), Metric::PreScales, 1.0);
                    save(deps, &StateUpdate { pre_scale: Some(Some(pending)), ..Default::default() }).await;
                }
            }
            taken
        }
    };
    let observation = RunObservation {
        at: now,
        unschedulable: (origin == MetricsOrigin::Live)
            .then(|| samples.iter().map(|s| (s.at, s.pending_pods)).collect()),
        sample_step_s: cfg.policy.sample_interval_s,
        forecast: forecast.as_ref().map(|f| ForecastObservation {
            mode: f.mode.as_str().to_string(),
            actual_nodes: f.actual_demand,
            forecast_nodes: f.forecast_demand,
            pre_scale_made,
            would_pre_scale: !f.applied && f.effect.is_pre_scale(),
            pre_scale_judged,
        }),
    };
    record_observation(deps, &observation).await;
    let mut outcome = outcome(cfg, decision_id, trigger, &item, origin, Some(decision), taken);
    outcome.forecast = forecast.map(Box::new);
    Ok(outcome)
}

/// Adds the run's unschedulable pods and forecast error to the day's observations, for the
/// weekly report. A failure is logged, not fatal: the next run's span covers this run's time,
/// and whatever no run accounts for the report counts as unknown.
async fn record_observation<S, M, F, Q, N, C, K>(deps: &Deps<S, M, F, Q, N, C, K>, run: &RunObservation)
where
    S: StateStore,
{
    match deps.state.record_observation(&deps.config.cluster_id, run).await {
        Ok(true) => {}
        Ok(false) => {
            info!(at = %run.at, "a later run was already observed; this one adds nothing to the day's figures")
        }
        Err(e) => error!(error = %e, "could not record the run's observations for the cost report"),
    }
}

/// Whether a pre-scale is judged this run, and if so whether it was used: its window has come
/// and the demand is known (the rule of `predictive::record`, which clears it).
fn judged_pre_scale(item: &StateItem, actual_demand: Option<f64>, now: DateTime<Utc>) -> Option<bool> {
    let pending = item.pre_scale.as_ref().filter(|p| p.window_at <= now)?;
    actual_demand.map(|actual| actual > f64::from(pending.reactive_nodes))
}

/// Takes the lock, sends the work, records the action and announces it.
async fn act<S, M, F, Q, N, C, K>(
    deps: &Deps<S, M, F, Q, N, C, K>,
    decision_id: &str,
    item: &StateItem,
    decision: &Decision,
    now: DateTime<Utc>,
    emf: &mut MetricBatch,
) -> Result<Taken>
where
    S: StateStore,
    Q: WorkQueue,
    N: Notifier,
{
    let cfg = &deps.config;
    let cluster = cfg.cluster_id.as_str();
    let token = decision_id.to_string();
    match deps.state.try_acquire_lock(cluster, &token, now, cfg.lock_ttl_s).await? {
        LockOutcome::Held => {
            if decision.action == Action::ScaleUp {
                ask_drain_to_give_way(deps, decision_id, now).await;
            }
            info!(decision_id, "lost the lock race; another run is scaling");
            return Ok(Taken::LockLost);
        }
        LockOutcome::Acquired { .. } => {}
    }
    let reason = decision.reasons.join("; ");
    let (message, action, taken) = if decision.action == Action::ScaleUp {
        let count = decision.delta.unsigned_abs();
        let request = ScaleUpRequest {
            decision_id: decision_id.into(),
            cluster_id: cluster.into(),
            lock_token: Some(token.clone()),
            count,
            reason: reason.clone(),
            requested_at: now,
            avoid: Vec::new(),
            replaces: None,
        };
        (WorkMessage::ScaleUpRequest(request), ScaleAction::ScaleUp, Taken::ScaleUpRequested { count })
    } else {
        let request = DrainRequest {
            decision_id: decision_id.into(),
            cluster_id: cluster.into(),
            lock_token: Some(token.clone()),
            node: None,
            reason: reason.clone(),
            requested_at: now,
            deadline: None,
            spot_reclaim: false,
        };
        (WorkMessage::DrainRequest(request), ScaleAction::ScaleDown, Taken::DrainRequested)
    };

    if let Err(e) = deps.queue.send(&message, 0).await {
        // Nobody will do the work, so nobody else would release the lock for 5 minutes.
        match deps.state.release_lock(cluster, &token, &StateUpdate::default()).await {
            Ok(ReleaseOutcome::Released) => {}
            Ok(ReleaseOutcome::NotOwner) => {
                warn!(decision_id, "lock was no longer ours to release")
            }
            Err(release_err) => {
                error!(decision_id, error = %release_err, "could not release the lock after a failed send")
            }
        }
        return Err(e.into());
    }

    let recorded = StateUpdate {
        last_scale_time: Some(now),
        last_scale_action: Some(action),
        last_scale_reason: Some(reason),
        // A scale-up that waited for a drain to give way is this one, or no longer wanted.
        episodes: item
            .episode(EpisodeKind::ScaleUpWaiting)
            .map(|_| item.episodes_with(EpisodeKind::ScaleUpWaiting, None)),
        ..Default::default()
    };
    save(deps, &recorded).await;

    let (metric, event) = match action {
        ScaleAction::ScaleUp => (
            Metric::ScaleUpEvents,
            NotificationEvent::ScaleUpStarted {
                decision_id: decision_id.into(),
                from_nodes: item.node_count,
                to_nodes: decision.target_nodes,
                reasons: decision.reasons.clone(),
            },
        ),
        ScaleAction::ScaleDown => (
            Metric::ScaleDownEvents,
            NotificationEvent::ScaleDownStarted {
                decision_id: decision_id.into(),
                from_nodes: item.node_count,
                to_nodes: decision.target_nodes,
                reasons: decision.reasons.clone(),
            },
        ),
    };
    emf.put_with("Reason", decision.primary_reason(), metric, 1.0);
    notify(deps, now, event).await;
    Ok(taken)
}

/// The signals every decision needs, with the variable that overrides each query and the
/// exporter that provides its series.
const REQUIRED_SIGNALS: [(Signal, &str, &str, &str); 3] = [
    (Signal::Cpu, "cpu", "PROMQL_CPU", "node-exporter"),
    (Signal::Memory, "memory", "PROMQL_MEMORY", "node-exporter"),
    (Signal::PendingPods, "pending_pods", "PROMQL_PENDING_PODS", "kube-state-metrics"),
];

/// How often a person hears that signals are still missing.
const SIGNALS_MISSING_REPEAT_S: i64 = 3600;

/// Prometheus answered, but CPU, memory or pending pods have no data over the whole window:
/// say so (a warning at most once an hour, `MissingSignals{Signal}` in EMF on every run), never
/// idle silently as if all were well.
async fn check_required_signals<S, M, F, Q, N, C, K>(
    deps: &Deps<S, M, F, Q, N, C, K>,
    samples: &[Sample],
    now: DateTime<Utc>,
    emf: &mut MetricBatch,
    item: &mut StateItem,
    update: &mut StateUpdate,
) where
    N: Notifier,
{
    let missing: Vec<&(Signal, &str, &str, &str)> =
        REQUIRED_SIGNALS.iter().filter(|(signal, ..)| !samples.iter().any(|s| signal.value(s).is_some())).collect();
    for (_, name, ..) in &missing {
        emf.put_with("Signal", name, Metric::MissingSignals, 1.0);
    }
    let open = item.episode(EpisodeKind::SignalsMissing).cloned();
    if missing.is_empty() {
        if open.is_some() {
            item.set_episode(update, EpisodeKind::SignalsMissing, None);
        }
        return;
    }
    let names: Vec<String> = missing.iter().map(|(_, name, ..)| name.to_string()).collect();
    let detail = missing
        .iter()
        .map(|(_, name, var, exporter)| format!("{name} ({var}, from {exporter})"))
        .collect::<Vec<_>>()
        .join(", ");
    warn!(missing = %detail, "signals the decider needs returned no data; no scaling on them");
    let since = open.as_ref().map_or(now, |e| e.since);
    let due = open.as_ref().and_then(|e| e.look_again_at).is_none_or(|at| at <= now);
    let mut episode = open.unwrap_or(Episode::begin(EpisodeKind::SignalsMissing, since));
    if due {
        let window = format_duration(now - samples.iter().map(|s| s.at).min().unwrap_or(now));
        let event = NotificationEvent::SignalsMissing {
            signals: names,
            detail: format!("{detail} returned no data over the last {window} while Prometheus answered; scaling on them is off until they do"),
        };
        if notify(deps, now, event).await {
            episode.notified = true;
            episode.look_again_at = Some(now + Duration::seconds(SIGNALS_MISSING_REPEAT_S));
        }
    }
    episode.detail = Some(detail);
    item.set_episode(update, EpisodeKind::SignalsMissing, Some(episode));
}

/// Pods no new node could host are told once per episode (they trigger nothing, so without
/// this they would wait in silence); the episode ends when none are left.
async fn report_unhostable_pods<S, M, F, Q, N, C, K>(
    deps: &Deps<S, M, F, Q, N, C, K>,
    samples: &[Sample],
    now: DateTime<Utc>,
    item: &mut StateItem,
    update: &mut StateUpdate,
) where
    N: Notifier,
{
    let latest = newest(samples, |s| s.at, |s| s.unhostable_pods.is_some());
    let Some(pods) = latest.and_then(|s| s.unhostable_pods) else { return };
    let open = item.episode(EpisodeKind::UnhostablePods).is_some();
    if pods == 0 {
        if open {
            item.set_episode(update, EpisodeKind::UnhostablePods, None);
        }
        return;
    }
    if open {
        return;
    }
    let policy = &deps.config.policy;
    warn!(pods, "pending pods larger than any new node; no scale-up for them");
    let event = NotificationEvent::UnhostablePods {
        pods,
        new_node_cpu_millis: policy.new_node_cpu_millis,
        new_node_memory_mib: policy.new_node_memory_mib,
    };
    let notified = notify(deps, now, event).await;
    let episode =
        Episode { notified, detail: Some(format!("{pods} pods")), ..Episode::begin(EpisodeKind::UnhostablePods, now) };
    item.set_episode(update, EpisodeKind::UnhostablePods, Some(episode));
}

/// A scale-up is due but the lock is held. If a drain holds it, the drain gives way at its next
/// check (within `DRAIN_CHECK_DELAY_S`): it uncordons the node and releases the lock, and the
/// next run scales up. A scale-up in flight is left alone: it adds capacity already.
async fn ask_drain_to_give_way<S, M, F, Q, N, C, K>(
    deps: &Deps<S, M, F, Q, N, C, K>,
    decision_id: &str,
    now: DateTime<Utc>,
) where
    S: StateStore,
{
    let cluster = deps.config.cluster_id.as_str();
    let item = match deps.state.get(cluster).await {
        Ok(Some(item)) => item,
        Ok(None) => return,
        Err(e) => {
            warn!(error = %e, "could not read the state item to ask the drain to give way");
            return;
        }
    };
    let draining = item.lock_held_at(now) && item.last_scale_action == Some(ScaleAction::ScaleDown);
    let asked = item
        .episode(EpisodeKind::ScaleUpWaiting)
        .is_some_and(|e| item.last_scale_time.is_none_or(|drain_began| e.since >= drain_began));
    if !draining || asked {
        return;
    }
    info!(decision_id, drain = ?item.lock_owner, "a scale-up is due while a drain holds the lock; asking the drain to give way");
    let waiting = Episode {
        node_count: Some(item.node_count),
        detail: Some(decision_id.to_string()),
        ..Episode::begin(EpisodeKind::ScaleUpWaiting, now)
    };
    let update = StateUpdate {
        episodes: Some(item.episodes_with(EpisodeKind::ScaleUpWaiting, Some(waiting))),
        ..Default::default()
    };
    save(deps, &update).await;
}

/// The at-max-capacity alert, at most once per configured interval.
async fn alert_at_max<S, M, F, Q, N, C, K>(
    deps: &Deps<S, M, F, Q, N, C, K>,
    item: &StateItem,
    decision: &Decision,
    now: DateTime<Utc>,
    update: &mut StateUpdate,
) where
    N: Notifier,
{
    let interval = Duration::seconds(i64::from(deps.config.max_capacity_alert_interval_s));
    if item.max_capacity_alerted_at.is_some_and(|at| now - at < interval && at <= now) {
        return;
    }
    let event = NotificationEvent::AtMaxCapacity {
        node_count: item.node_count,
        max_nodes: deps.config.policy.max_nodes,
        reasons: decision.reasons.clone(),
    };
    if notify(deps, now, event).await {
        update.max_capacity_alerted_at = Some(now);
    }
}

async fn notify<S, M, F, Q, N, C, K>(
    deps: &Deps<S, M, F, Q, N, C, K>,
    now: DateTime<Utc>,
    event: NotificationEvent,
) -> bool
where
    N: Notifier,
{
    smartscale_lambda::notify(&deps.notifier, &deps.config.cluster_id, now, event).await
}

/// Writes state that helps later runs (drift correction, the metrics snapshot). A failure is
/// logged: the next run recomputes all of it.
async fn save<S, M, F, Q, N, C, K>(deps: &Deps<S, M, F, Q, N, C, K>, update: &StateUpdate)
where
    S: StateStore,
{
    if *update == StateUpdate::default() {
        return;
    }
    if let Err(e) = deps.state.update(&deps.config.cluster_id, update).await {
        error!(error = %e, "could not update the state item");
    }
}

/// The newest of `items` (by `at`) that `holds` is true of (the last of equally new ones), for
/// metric samples and demand samples alike. Prometheus' range queries come oldest first, so
/// that is a walk back from the end, which stops at the first match; items in any other order
/// are scanned whole.
pub(crate) fn newest<T>(items: &[T], at: impl Fn(&T) -> DateTime<Utc>, holds: impl Fn(&T) -> bool) -> Option<&T> {
    if items.is_sorted_by_key(&at) {
        items.iter().rev().find(|s| holds(s))
    } else {
        items.iter().filter(|s| holds(s)).max_by_key(|s| at(s))
    }
}

fn record_cluster_metrics(emf: &mut MetricBatch, samples: &[Sample], at: DateTime<Utc>, interval_s: u32) {
    let fresh = Duration::seconds(2 * i64::from(interval_s));
    // One pass for the latest fresh sample; unknown (no fresh sample, or no value) is NaN, never 0.
    let newest = newest(samples, |s| s.at, |s| s.at <= at && at - s.at <= fresh);
    let latest = |signal: Signal| newest.and_then(|s| signal.value(s)).unwrap_or(f64::NAN);
    emf.put(Metric::ClusterCpuUtilization, latest(Signal::Cpu))
        .put(Metric::ClusterMemoryUtilization, latest(Signal::Memory))
        .put(Metric::PendingPods, latest(Signal::PendingPods));
}

fn outcome(
    cfg: &DeciderConfig,
    decision_id: &str,
    trigger: Trigger,
    item: &StateItem,
    metrics: MetricsOrigin,
    decision: Option<Decision>,
    taken: Taken,
) -> Outcome {
    Outcome {
        decision_id: decision_id.into(),
        cluster_id: cfg.cluster_id.clone(),
        trigger,
        node_count: item.node_count,
        metrics,
        decision,
        taken,
        forecast: None,
    }
}

/// When the last scale-down found no node it could remove, and the fleet has not changed
/// since, the time to look again; a drain requested before then could only fail the same way.
fn no_removable_node_until(item: &StateItem, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let episode = item.episode(EpisodeKind::NoRemovableNode)?;
    let until = episode.look_again_at?;
    (until > now && episode.node_count == Some(item.node_count)).then_some(until)
}

fn format_duration(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    format!("{}m{:02}s", s / 60, s % 60)
}

/// The sources whose "Scheduled Event" the decider runs on: an EventBridge rule, or an
/// EventBridge Scheduler schedule (whose Input, in infra/template.yaml, has the same shape).
const SCHEDULE_SOURCES: [&str; 2] = ["aws.events", "aws.scheduler"];

/// A scheduled run acts on a schedule's event only: any other EventBridge event routed to the
/// decider, by mistake or on purpose, is refused before anything is read or written.
fn ensure_scheduled(event: &ScheduledEvent) -> Result<()> {
    if event.detail_type == "Scheduled Event" && SCHEDULE_SOURCES.contains(&event.source.as_str()) {
        return Ok(());
    }
    Err(smartscale_core::Error::rejected_message(
        "detail-type",
        format!(
            "the decider runs only on a \"Scheduled Event\" from {SCHEDULE_SOURCES:?}; got {:?} from {:?}",
            event.detail_type, event.source
        ),
    )
    .into())
}

/// The decision id comes from the scheduled event's id, so a redelivered event maps to the
/// same decision (and the workers' idempotency tokens stop a second launch).
fn decision_id(event: &LambdaEvent<ScheduledEvent>, now: DateTime<Utc>) -> String {
    let id = event
        .payload
        .id
        .as_deref()
        .filter(|id| !id.is_empty())
        .or(Some(event.context.request_id.as_str()).filter(|id| !id.is_empty()));
    match id {
        Some(id) => format!("dec-{id}"),
        None => format!("dec-{}", now.timestamp_millis()),
    }
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
