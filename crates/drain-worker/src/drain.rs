//! Start a drain, watch it, finish or abandon it.

use chrono::{DateTime, Duration, Utc};
use smartscale_core::cost_ledger::{self, CostChange};
use smartscale_core::drain::{self, is_evictable};
use smartscale_core::emf::{Metric, MetricBatch};
use smartscale_core::messages::{DrainCheck, DrainRequest, WorkMessage};
use smartscale_core::notification::{FailureType, NotificationEvent};
use smartscale_core::ports::{
    Clock, Cluster, EvictOutcome, Fleet, Instance, Lifecycle, MetricsSink, Node, Pod, StateStore, WorkQueue,
};
use smartscale_core::state::{Episode, EpisodeKind, ReleaseOutcome, ScaleAction, StateUpdate};
use smartscale_core::{tags, Error, Result};
use smartscale_lambda::Worker;
use tracing::{info, warn};

use crate::DrainConfig;

/// The instance behind `node` as the world tells it, whatever a message says: the node must be a
/// worker (never the control plane) whose `spec.providerID` names an instance tagged as managed
/// for this cluster. The instance may be in any state (a finished drain's is terminated).
fn managed_instance_behind<'a>(node: &Node, instances: &'a [Instance], cluster_id: &str) -> Result<&'a Instance> {
    if node.is_control_plane() {
        return Err(Error::rejected_message(
            "node",
            format!("{} is a control-plane node; SmartScale never drains or terminates it", node.name),
        ));
    }
    let Some(id) = node.declared_instance_id() else {
        return Err(Error::rejected_message(
            "node",
            format!("{} declares no EC2 instance (spec.providerID); it is not a node SmartScale launched", node.name),
        ));
    };
    instances.iter().find(|i| i.instance_id == id && tags::is_managed(&i.tags, cluster_id)).ok_or_else(|| {
        Error::rejected_message(
            "node",
            format!("instance {id} behind node {} is not an instance SmartScale manages for {cluster_id}", node.name),
        )
    })
}

/// The purchase option of a node SmartScale may remove, for the drain plan.
fn removable_lifecycle(node: &Node, instances: &[Instance], cluster_id: &str) -> Option<Lifecycle> {
    managed_instance_behind(node, instances, cluster_id).ok().filter(|i| i.state.is_active()).map(|i| i.lifecycle)
}

pub async fn start<W: Worker<Config = DrainConfig>>(deps: &W, request: &DrainRequest) -> Result<()> {
    let cfg = deps.config();
    let now = deps.clock().now();
    if let Some(deadline) = request.deadline.filter(|d| *d <= now) {
        // Too late to drain in time (e.g. a Spot warning delivered after the reclaim): starting
        // now would cordon and evict for nothing.
        warn!(decision_id = %request.decision_id, %deadline, "drain request past its deadline; dropped, not started");
        return release(deps, request.lock_token.as_deref(), &StateUpdate::default()).await;
    }
    if let Some(token) = &request.lock_token {
        let item = deps.state().get(&cfg.cluster_id).await?;
        let ours = item.as_ref().is_some_and(|i| i.lock_held_by(token, now));
        if !ours {
            // The decision's lock is gone: the drain already finished (this is a redelivery) or
            // the request is too old to act on. Acting now could remove a second node.
            warn!(decision_id = %request.decision_id, "stale drain request: its lock is no longer held; ignoring");
            return Ok(());
        }
    }
    let mut nodes = deps.cluster().list_nodes().await?;
    let instances = deps.fleet().describe_managed().await?;
    let deleted = smartscale_lambda::delete_nodes_of_gone_instances(deps.cluster(), &nodes, &instances).await;
    nodes.retain(|n| !deleted.contains(&n.name));
    let target = match &request.node {
        Some(name) => match nodes.iter().find(|n| &n.name == name) {
            Some(node) => match managed_instance_behind(node, &instances, &cfg.cluster_id) {
                Ok(instance) if instance.state.is_active() => node.clone(),
                Ok(instance) => {
                    info!(node = %name, instance_id = %instance.instance_id, "the node's instance is already gone; nothing to drain");
                    return release(deps, request.lock_token.as_deref(), &StateUpdate::default()).await;
                }
                Err(e) => return Err(smartscale_lambda::refused(deps, &cfg.cluster_id, e)),
            },
            None => {
                info!(node = %name, "the named node is already gone; nothing to drain");
                return release(deps, request.lock_token.as_deref(), &StateUpdate::default()).await;
            }
        },
        None => {
            let mut pods = deps.cluster().list_pods().await?;
            let unset = drain::count_unset_requests_as(&mut pods, cfg.unset_requests);
            if unset > 0 {
                info!(
                    pods = unset,
                    cpu_millis = cfg.unset_requests.cpu_millis,
                    memory_bytes = cfg.unset_requests.memory_bytes,
                    "pods without requests counted at the default requests in the fit check"
                );
            }
            let pdbs = deps.cluster().list_pdbs().await?;
            let plan = drain::plan(cfg.selection, &nodes, &pods, &pdbs, cfg.min_nodes, |n| {
                removable_lifecycle(n, &instances, &cfg.cluster_id)
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
                    let active = instances.iter().filter(|i| i.state.is_active()).count() as u32;
                    return nothing_removable(deps, request, now, why, active).await;
                }
            }
        }
    };
    let instance_id = managed_instance_behind(&target, &instances, &cfg.cluster_id)?.instance_id.clone();
    deps.cluster().cordon(&target.name, &request.decision_id).await?;
    let pods = deps.cluster().list_pods().await?;
    let blocked = evict_all(deps, &pods_on(&pods, &target.name)).await?;
    info!(node = %target.name, instance_id = ?instance_id, blocked = blocked.len(), "cordoned and evicting");
    let check = DrainCheck {
        decision_id: request.decision_id.clone(),
        cluster_id: cfg.cluster_id.clone(),
        lock_token: request.lock_token.clone(),
        node: target.name.clone(),
        instance_id: Some(instance_id.clone()),
        reason: request.reason.clone(),
        started_at: now,
        deadline: request.deadline.unwrap_or(now + Duration::seconds(i64::from(cfg.drain_timeout_s))),
        attempt: 1,
        spot_reclaim: request.spot_reclaim,
    };
    let delay = delay_until(cfg.check_delay_s, now, check.deadline);
    deps.queue().send(&WorkMessage::DrainCheck(check), delay).await
}

/// What a drain check may act on, re-derived from the world: the node this drain cordoned and
/// the managed instance behind it.
enum Checked {
    /// The node and its instance are both gone: an earlier check finished (a redelivery).
    AlreadyRemoved,
    /// A Spot drain took the node over (its interruption warning came mid-drain).
    TakenOver {
        by: String,
    },
    Draining {
        instance: Instance,
    },
}

async fn verify_check<W: Worker<Config = DrainConfig>>(deps: &W, check: &DrainCheck) -> Result<Checked> {
    let cluster_id = &deps.config().cluster_id;
    let nodes = deps.cluster().list_nodes().await?;
    let instances = deps.fleet().describe_managed().await?;
    let Some(node) = nodes.iter().find(|n| n.name == check.node) else {
        let claimed_running = check
            .instance_id
            .as_ref()
            .is_some_and(|id| instances.iter().any(|i| &i.instance_id == id && i.state.is_active()));
        if claimed_running {
            return Err(Error::rejected_message(
                "node",
                format!(
                    "node {} does not exist but the message names running instance {:?}; not terminating on a message's word",
                    check.node, check.instance_id
                ),
            ));
        }
        return Ok(Checked::AlreadyRemoved);
    };
    let instance = managed_instance_behind(node, &instances, cluster_id)?;
    if let Some(claimed) = check.instance_id.as_ref().filter(|id| **id != instance.instance_id) {
        return Err(Error::rejected_message(
            "instance_id",
            format!("node {} runs on {}, not {claimed}", node.name, instance.instance_id),
        ));
    }
    if let Some(spot) = node
        .cordoned_by()
        .filter(|by| by.starts_with(smartscale_core::messages::SPOT_DECISION_PREFIX) && *by != check.decision_id)
    {
        // A Spot warning reached a node this drain had cordoned: the Spot drain owns it now.
        return Ok(Checked::TakenOver { by: spot.to_string() });
    }
    if node.cordoned_by() != Some(check.decision_id.as_str()) {
        return Err(Error::rejected_message(
            "node",
            format!(
                "node {} is not cordoned by drain {} (cordoned: {}, by {:?}); someone put it back in service, or the message is not ours",
                node.name,
                check.decision_id,
                node.unschedulable,
                node.annotations.get(smartscale_core::ports::CORDONED_BY_ANNOTATION)
            ),
        ));
    }
    Ok(Checked::Draining { instance: instance.clone() })
}

pub async fn check<W: Worker<Config = DrainConfig>>(deps: &W, check: &DrainCheck) -> Result<()> {
    let cfg = deps.config();
    let now = deps.clock().now();
    let instance = match verify_check(deps, check).await {
        Ok(Checked::AlreadyRemoved) => {
            info!(node = %check.node, "already removed by an earlier check; nothing to repeat");
            return Ok(());
        }
        Ok(Checked::TakenOver { by }) => {
            info!(node = %check.node, spot_drain = %by, "a Spot drain took the node over; this drain ends here");
            return release(deps, check.lock_token.as_deref(), &StateUpdate::default()).await;
        }
        Ok(Checked::Draining { instance }) => instance,
        Err(e @ Error::RejectedMessage { .. }) => return Err(smartscale_lambda::refused(deps, &cfg.cluster_id, e)),
        Err(e) => return Err(e),
    };
    let pods = deps.cluster().list_pods().await?;
    let remaining = pods_on(&pods, &check.node);
    if remaining.is_empty() {
        return complete(deps, check, &instance, now).await;
    }
    if let Some(waiting) = scale_up_waiting(deps, check).await? {
        return give_way(deps, check, &waiting).await;
    }
    if now >= check.deadline {
        return abandon(deps, check, &remaining, now).await;
    }
    // Pods a PDB held back get another try; pods already terminating are left to finish.
    let waiting: Vec<&Pod> = remaining.iter().copied().filter(|p| !p.terminating).collect();
    let blocked = evict_all(deps, &waiting).await?;
    info!(node = %check.node, attempt = check.attempt, remaining = remaining.len(), blocked = blocked.len(), "drain in progress");
    let attempt = check.attempt.checked_add(1).ok_or_else(|| {
        Error::invalid("attempt", format!("drain check attempt {} cannot be counted further", check.attempt))
    })?;
    let next = DrainCheck { attempt, ..check.clone() };
    deps.queue()
        .send(&WorkMessage::DrainCheck(next), delay_until(deps.config().check_delay_s, now, check.deadline))
        .await
}

/// A scale-up the decider asked for after this drain began, if any (Spot drains never give
/// way: EC2 takes the node regardless).
async fn scale_up_waiting<W: Worker<Config = DrainConfig>>(deps: &W, check: &DrainCheck) -> Result<Option<Episode>> {
    if check.spot_reclaim {
        return Ok(None);
    }
    let item = deps.state().get(&deps.config().cluster_id).await?;
    Ok(item.and_then(|i| i.episode(EpisodeKind::ScaleUpWaiting).cloned()).filter(|e| e.since >= check.started_at))
}

/// Abandons the drain for a waiting scale-up: uncordon (the pods not yet evicted stay where they
/// are), clear the request and release the lock so the next decider run scales up.
async fn give_way<W: Worker<Config = DrainConfig>>(deps: &W, check: &DrainCheck, waiting: &Episode) -> Result<()> {
    deps.cluster().uncordon(&check.node).await?;
    warn!(node = %check.node, scale_up = ?waiting.detail, "drain abandoned for an urgent scale-up; node uncordoned");
    let item = deps.state().get(&deps.config().cluster_id).await?.unwrap_or_default();
    let update =
        StateUpdate { episodes: Some(item.episodes_with(EpisodeKind::ScaleUpWaiting, None)), ..Default::default() };
    release(deps, check.lock_token.as_deref(), &update).await
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

/// The node is empty: terminate its instance, delete the Node, record and announce. `instance`
/// is the one behind the node this drain cordoned, verified by the caller.
async fn complete<W: Worker<Config = DrainConfig>>(
    deps: &W,
    check: &DrainCheck,
    instance: &Instance,
    now: DateTime<Utc>,
) -> Result<()> {
    let cfg = deps.config();
    let instance_id = instance.instance_id.clone();
    // Terminated already (an earlier check stopped between the two calls): delete the Node only.
    if instance.state.is_active() {
        match deps.fleet().terminate(std::slice::from_ref(&instance_id)).await {
            Ok(()) => {}
            Err(e @ Error::Rejected { .. }) => {
                // Refused (not our instance): put the node back in service rather than strand it.
                deps.cluster().uncordon(&check.node).await?;
                return fail(deps, check, now, FailureType::DrainFailed, e.to_string()).await;
            }
            // Transient: the message is retried; the Node stays until its instance is gone.
            Err(e) => return Err(e),
        }
    }
    // Also when an earlier check terminated it: that one may have stopped before recording.
    let change = CostChange::termination(instance, &cfg.prices, now).with_decision(&check.decision_id);
    // Boxed: the store's write future is large, and inlined it would grow this one's.
    Box::pin(cost_ledger::record_changes(deps.state(), &cfg.cluster_id, vec![change])).await?;
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
    let key = format!("scale-down-completed:{}", check.decision_id);
    smartscale_lambda::notify_once(deps, &cfg.cluster_id, &key, event).await;
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
    let pods: Vec<String> = remaining.iter().map(|p| p.key()).collect();
    if check.spot_reclaim {
        // EC2 takes the instance back at the deadline: uncordoning would only invite new pods
        // onto a node about to vanish.
        warn!(node = %check.node, ?pods, "spot drain reached its deadline; left cordoned for the reclaim");
    } else {
        deps.cluster().uncordon(&check.node).await?;
        warn!(node = %check.node, ?pods, "drain timed out; uncordoned");
    }
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

/// How long the decider waits before asking again for a drain that found no removable node
/// (sooner if the fleet changes).
const NO_REMOVABLE_LOOK_AGAIN_S: i64 = 3600;

/// A scale-down found no node it may remove: an expected outcome, not a failure. The state item
/// remembers it, so the decider stops asking until it is worth looking again, and a person
/// hears of it once a day, with the reasons.
async fn nothing_removable<W: Worker<Config = DrainConfig>>(
    deps: &W,
    request: &DrainRequest,
    now: DateTime<Utc>,
    reasons: Vec<String>,
    active: u32,
) -> Result<()> {
    let cfg = deps.config();
    let look_again_at = now + Duration::seconds(NO_REMOVABLE_LOOK_AGAIN_S);
    info!(reasons = ?reasons, %look_again_at, "no node can be removed safely; the decider will look again later");
    let item = deps.state().get(&cfg.cluster_id).await?.unwrap_or_default();
    let episode = Episode {
        kind: EpisodeKind::NoRemovableNode,
        since: item.episode(EpisodeKind::NoRemovableNode).map_or(now, |e| e.since),
        notified: true,
        look_again_at: Some(look_again_at),
        node_count: Some(active),
        detail: Some(reasons.join("; ")),
    };
    let update = StateUpdate {
        episodes: Some(item.episodes_with(EpisodeKind::NoRemovableNode, Some(episode))),
        ..Default::default()
    };
    release(deps, request.lock_token.as_deref(), &update).await?;
    let day = format!("no-removable-node:{}", now.format("%Y-%m-%d"));
    if deps.state().claim_event(&cfg.cluster_id, &day, now, 2 * 86_400).await? {
        let event = NotificationEvent::NoRemovableNode { reasons, look_again_at };
        smartscale_lambda::notify(deps.notifier(), &cfg.cluster_id, now, event).await;
    }
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
    let key = format!("drain-failed:{}", decision_id.as_deref().unwrap_or("-"));
    let event = NotificationEvent::ScalingFailure { decision_id, error_type, message, recommendation };
    smartscale_lambda::notify_once(deps, &cfg.cluster_id, &key, event).await;
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
