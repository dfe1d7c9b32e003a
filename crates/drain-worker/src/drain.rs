//! Start a drain, watch it, finish or abandon it.

use chrono::{DateTime, Duration, Utc};
use smartscale_core::drain::{self, is_evictable};
use smartscale_core::emf::{Metric, MetricBatch};
use smartscale_core::messages::{DrainCheck, DrainRequest, WorkMessage};
use smartscale_core::notification::{FailureType, NotificationEvent};
use smartscale_core::placement::node_for_instance;
use smartscale_core::ports::{
    Clock, Cluster, EvictOutcome, Fleet, Instance, MetricsSink, Node, Pod, StateStore, WorkQueue,
};
use smartscale_core::state::{ReleaseOutcome, ScaleAction, StateUpdate};
use smartscale_core::{Error, Result};
use smartscale_lambda::Worker;
use tracing::{info, warn};

use crate::DrainConfig;

/// The managed instance behind `node`, if SmartScale manages it.
fn instance_of<'a>(node: &Node, instances: &'a [Instance]) -> Option<&'a Instance> {
    instances
        .iter()
        .filter(|i| i.state.is_active())
        .find(|i| node_for_instance(std::slice::from_ref(node), i).is_some())
}

pub async fn start<W: Worker<Config = DrainConfig>>(deps: &W, request: &DrainRequest) -> Result<()> {
    let cfg = deps.config();
    let now = deps.clock().now();
    if let Some(token) = &request.lock_token {
        let item = deps.state().get(&cfg.cluster_id).await?;
        let ours = item.as_ref().is_some_and(|i| i.lock_held_at(now) && i.lock_owner.as_deref() == Some(token));
        if !ours {
            // The decision's lock is gone: the drain already finished (this is a redelivery) or
            // the request is too old to act on. Acting now could remove a second node.
            warn!(decision_id = %request.decision_id, "stale drain request: its lock is no longer held; ignoring");
            return Ok(());
        }
    }
    let nodes = deps.cluster().list_nodes().await?;
    let instances = deps.fleet().describe_managed().await?;
    let target = match &request.node {
        Some(name) => match nodes.iter().find(|n| &n.name == name) {
            Some(node) if instance_of(node, &instances).is_some() => node.clone(),
            Some(_) => {
                return give_up(
                    deps,
                    request,
                    now,
                    format!("node {name} is not managed by SmartScale for this cluster; refusing to drain it"),
                )
                .await
            }
            None => {
                info!(node = %name, "the named node is already gone; nothing to drain");
                return release(deps, request.lock_token.as_deref(), &StateUpdate::default()).await;
            }
        },
        None => {
            let pods = deps.cluster().list_pods().await?;
            let pdbs = deps.cluster().list_pdbs().await?;
            let plan = drain::plan(cfg.selection, &nodes, &pods, &pdbs, cfg.min_nodes, |n| {
                instance_of(n, &instances).is_some()
            });
            match plan.chosen.and_then(|name| nodes.iter().find(|n| n.name == name).cloned()) {
                Some(node) => node,
                None => {
                    let why: Vec<String> = plan
                        .verdicts
                        .iter()
                        .map(|v| {
                            format!(
                                "{}: {}",
                                v.node,
                                v.reasons.iter().map(|r| format!("{:?}", r.rule)).collect::<Vec<_>>().join(",")
                            )
                        })
                        .collect();
                    return give_up(deps, request, now, format!("no node can be removed safely ({})", why.join("; ")))
                        .await;
                }
            }
        }
    };
    let instance_id = instance_of(&target, &instances).map(|i| i.instance_id.clone());
    deps.cluster().set_unschedulable(&target.name, true).await?;
    let pods = deps.cluster().list_pods().await?;
    let blocked = evict_all(deps, &pods_on(&pods, &target.name)).await?;
    info!(node = %target.name, instance_id = ?instance_id, blocked = blocked.len(), "cordoned and evicting");
    let check = DrainCheck {
        decision_id: request.decision_id.clone(),
        cluster_id: cfg.cluster_id.clone(),
        lock_token: request.lock_token.clone(),
        node: target.name.clone(),
        instance_id,
        reason: request.reason.clone(),
        started_at: now,
        deadline: request.deadline.unwrap_or(now + Duration::seconds(i64::from(cfg.drain_timeout_s))),
        attempt: 1,
    };
    let delay = delay_until(cfg.check_delay_s, now, check.deadline);
    deps.queue().send(&WorkMessage::DrainCheck(check), delay).await
}

pub async fn check<W: Worker<Config = DrainConfig>>(deps: &W, check: &DrainCheck) -> Result<()> {
    let now = deps.clock().now();
    let pods = deps.cluster().list_pods().await?;
    let remaining = pods_on(&pods, &check.node);
    if remaining.is_empty() {
        return complete(deps, check, now).await;
    }
    if now >= check.deadline {
        return abandon(deps, check, &remaining, now).await;
    }
    // Pods a PDB held back get another try; pods already terminating are left to finish.
    let waiting: Vec<&Pod> = remaining.iter().copied().filter(|p| !p.terminating).collect();
    let blocked = evict_all(deps, &waiting).await?;
    info!(node = %check.node, attempt = check.attempt, remaining = remaining.len(), blocked = blocked.len(), "drain in progress");
    let next = DrainCheck { attempt: check.attempt + 1, ..check.clone() };
    deps.queue()
        .send(&WorkMessage::DrainCheck(next), delay_until(deps.config().check_delay_s, now, check.deadline))
        .await
}

/// Pods a drain must move off `node`.
fn pods_on<'a>(pods: &'a [Pod], node: &str) -> Vec<&'a Pod> {
    pods.iter().filter(|p| p.node.as_deref() == Some(node) && is_evictable(p)).collect()
}

/// Evicts each pod; returns the ones a PodDisruptionBudget held back (HTTP 429).
async fn evict_all<W: Worker<Config = DrainConfig>>(deps: &W, pods: &[&Pod]) -> Result<Vec<String>> {
    let mut blocked = Vec::new();
    for pod in pods.iter().filter(|p| !p.terminating) {
        match deps.cluster().evict(&pod.namespace, &pod.name).await? {
            EvictOutcome::Evicted | EvictOutcome::NotFound => {}
            EvictOutcome::Blocked { message } => {
                info!(pod = %pod.key(), %message, "eviction blocked by a disruption budget; will retry");
                blocked.push(pod.key());
            }
        }
    }
    Ok(blocked)
}

/// The node is empty: terminate its instance, delete the Node, record and announce.
async fn complete<W: Worker<Config = DrainConfig>>(deps: &W, check: &DrainCheck, now: DateTime<Utc>) -> Result<()> {
    let cfg = deps.config();
    let Some(instance_id) = check.instance_id.clone() else {
        return Err(Error::invalid("instance_id", format!("drain check for {} carries no instance id", check.node)));
    };
    let before = deps.fleet().describe_managed().await?;
    let still_running = before.iter().any(|i| i.instance_id == instance_id && i.state.is_active());
    let node_exists = deps.cluster().list_nodes().await?.iter().any(|n| n.name == check.node);
    if !still_running && !node_exists {
        info!(node = %check.node, "already removed by an earlier check; nothing to repeat");
        return Ok(());
    }
    if let Err(e @ Error::Rejected { .. }) = deps.fleet().terminate(std::slice::from_ref(&instance_id)).await {
        // Refused (not our instance): put the node back in service rather than strand it.
        deps.cluster().set_unschedulable(&check.node, false).await?;
        return fail(deps, check, now, FailureType::DrainFailed, e.to_string()).await;
    }
    deps.cluster().delete_node(&check.node).await?;
    let instances = deps.fleet().describe_managed().await?;
    let new_total = instances.iter().filter(|i| i.state.is_active()).count() as u32;
    let update = StateUpdate {
        node_count: Some(new_total),
        last_scale_time: Some(now),
        last_scale_action: Some(ScaleAction::ScaleDown),
        last_scale_reason: Some(check.reason.clone()),
        ..Default::default()
    };
    release(deps, check.lock_token.as_deref(), &update).await?;
    let mut emf = MetricBatch::new(&cfg.cluster_id, now);
    emf.put(Metric::ScaleDownEvents, 1.0).put(Metric::CurrentNodeCount, f64::from(new_total));
    deps.sink().emit(&emf);
    let event = NotificationEvent::ScaleDownCompleted {
        decision_id: check.decision_id.clone(),
        node: check.node.clone(),
        instance_id,
        reason: check.reason.clone(),
        new_total,
    };
    smartscale_lambda::notify(deps.notifier(), &cfg.cluster_id, now, event).await;
    info!(node = %check.node, new_total, "drained and removed");
    Ok(())
}

/// The deadline passed with pods still on the node: uncordon, release, report. Nothing is
/// terminated while pods are still evicting.
async fn abandon<W: Worker<Config = DrainConfig>>(
    deps: &W,
    check: &DrainCheck,
    remaining: &[&Pod],
    now: DateTime<Utc>,
) -> Result<()> {
    deps.cluster().set_unschedulable(&check.node, false).await?;
    let pods: Vec<String> = remaining.iter().map(|p| p.key()).collect();
    warn!(node = %check.node, ?pods, "drain timed out; uncordoned");
    let message = format!(
        "drain of {} timed out after {}; blocked by {}",
        check.node,
        format_duration(now - check.started_at),
        pods.join(", ")
    );
    fail(deps, check, now, FailureType::DrainTimeout, message).await
}

async fn fail<W: Worker<Config = DrainConfig>>(
    deps: &W,
    check: &DrainCheck,
    now: DateTime<Utc>,
    error_type: FailureType,
    message: String,
) -> Result<()> {
    release(deps, check.lock_token.as_deref(), &StateUpdate::default()).await?;
    report(deps, Some(check.decision_id.clone()), now, error_type, message).await;
    Ok(())
}

/// Nothing to drain after all: release the lock and say why.
async fn give_up<W: Worker<Config = DrainConfig>>(
    deps: &W,
    request: &DrainRequest,
    now: DateTime<Utc>,
    message: String,
) -> Result<()> {
    warn!(%message, "scale-down abandoned before it began");
    release(deps, request.lock_token.as_deref(), &StateUpdate::default()).await?;
    report(deps, Some(request.decision_id.clone()), now, FailureType::DrainFailed, message).await;
    Ok(())
}

async fn report<W: Worker<Config = DrainConfig>>(
    deps: &W,
    decision_id: Option<String>,
    now: DateTime<Utc>,
    error_type: FailureType,
    message: String,
) {
    let cfg = deps.config();
    let mut emf = MetricBatch::new(&cfg.cluster_id, now);
    // The spec's metric has one drain error type; the notification says which.
    emf.put_with("ErrorType", FailureType::DrainFailed.as_str(), Metric::ScalingFailures, 1.0);
    deps.sink().emit(&emf);
    let recommendation = match error_type {
        FailureType::DrainTimeout => {
            Some("check the PodDisruptionBudgets named above; the node was put back in service".to_string())
        }
        _ => None,
    };
    let event = NotificationEvent::ScalingFailure { decision_id, error_type, message, recommendation };
    smartscale_lambda::notify(deps.notifier(), &cfg.cluster_id, now, event).await;
}

async fn release<W: Worker<Config = DrainConfig>>(deps: &W, token: Option<&str>, update: &StateUpdate) -> Result<()> {
    let cluster = &deps.config().cluster_id;
    match token {
        Some(token) => {
            if deps.state().release_lock(cluster, token, update).await? == ReleaseOutcome::NotOwner {
                warn!("the lock was no longer ours; recording the state without releasing");
                if *update != StateUpdate::default() {
                    deps.state().update(cluster, update).await?;
                }
            }
            Ok(())
        }
        None if *update != StateUpdate::default() => deps.state().update(cluster, update).await,
        None => Ok(()),
    }
}

fn delay_until(delay_s: u32, now: DateTime<Utc>, deadline: DateTime<Utc>) -> u32 {
    let remaining = (deadline - now).num_seconds().max(1);
    (i64::from(delay_s)).min(remaining) as u32
}

fn format_duration(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    format!("{}m{:02}s", s / 60, s % 60)
}
