//! Join checks: is each launched instance a Ready node yet? Re-enqueued with a delay until
//! the deadline; then the work is finished either way, and the lock released.

use chrono::{DateTime, Utc};
use smartscale_core::cost_ledger::{self, CostChange};
use smartscale_core::emf::{Metric, MetricBatch};
use smartscale_core::messages::{JoinCheck, WorkMessage};
use smartscale_core::notification::{FailureType, InstanceSummary, NotificationEvent};
use smartscale_core::placement::node_for_instance;
use smartscale_core::ports::{Clock, Cluster, Fleet, Instance, MetricsSink, Node, StateStore, WorkQueue};
use smartscale_core::state::{JoinLatency, ReleaseOutcome, StateUpdate};
use smartscale_core::{tags, Result};
use smartscale_lambda::Worker;
use tracing::{info, warn};

use crate::ScaleUpConfig;

/// Grace beyond the join timeout before an instance no check is tracking counts as orphaned.
const ORPHAN_GRACE_S: i64 = 120;

#[derive(Debug)]
enum Status<'a> {
    Ready(&'a Instance),
    /// Launched but not (yet) a Ready node; the node may have registered.
    Waiting(&'a Instance, Option<&'a Node>),
    /// Terminated, or no longer described by EC2.
    Gone(String),
}

pub async fn check<W: Worker<Config = ScaleUpConfig>>(deps: &W, check: &JoinCheck) -> Result<()> {
    let now = deps.clock().now();
    let instances = deps.fleet().describe_managed().await?;
    // A join check may end in terminating the instances it names: each must be one this
    // decision launched (its DecisionId tag), not any instance a message happens to name.
    if let Some(foreign) = check.instance_ids.iter().find(|id| {
        instances.iter().any(|i| &i.instance_id == *id && i.tags.get(tags::DECISION_ID) != Some(&check.decision_id))
    }) {
        let e = smartscale_core::Error::rejected_message(
            "instance_ids",
            format!("{foreign} was not launched by decision {}; refusing to track or terminate it", check.decision_id),
        );
        return Err(smartscale_lambda::refused(deps, &deps.config().cluster_id, e));
    }
    let mut nodes = deps.cluster().list_nodes().await?;
    let deleted = smartscale_lambda::delete_nodes_of_gone_instances(deps.cluster(), &nodes, &instances).await;
    nodes.retain(|n| !deleted.contains(&n.name));
    let statuses: Vec<Status> = check
        .instance_ids
        .iter()
        .map(|id| match instances.iter().find(|i| &i.instance_id == id && i.state.is_active()) {
            None => Status::Gone(id.clone()),
            Some(instance) => match node_for_instance(&nodes, instance) {
                Some(node) if node.ready => Status::Ready(instance),
                node => Status::Waiting(instance, node),
            },
        })
        .collect();
    // Recorded at the first check that sees each node Ready, not when the slowest is: the
    // lead time of predictive scaling is their p90, and a node's own time is what it needs.
    record_join_latencies(deps, check, &statuses, now).await?;
    let waiting = statuses.iter().filter(|s| matches!(s, Status::Waiting(..))).count();
    if waiting > 0 && now < check.deadline {
        let remaining = (check.deadline - now).num_seconds().max(1) as u32;
        let attempt = check.attempt.checked_add(1).ok_or_else(|| {
            smartscale_core::Error::invalid(
                "attempt",
                format!("join check attempt {} cannot be counted further", check.attempt),
            )
        })?;
        let next = JoinCheck { attempt, ..check.clone() };
        deps.queue().send(&WorkMessage::JoinCheck(next), deps.config().join_check_delay_s.min(remaining)).await?;
        info!(attempt = check.attempt, waiting, "nodes not Ready yet; checking again later");
        return Ok(());
    }
    finish(deps, check, &statuses, &instances, &nodes, now).await
}

/// The launch → Ready seconds of the Ready instances in the state item (a node already there,
/// from an earlier check, keeps its first time).
async fn record_join_latencies<W: Worker<Config = ScaleUpConfig>>(
    deps: &W,
    check: &JoinCheck,
    statuses: &[Status<'_>],
    now: DateTime<Utc>,
) -> Result<()> {
    let latencies: Vec<JoinLatency> = statuses
        .iter()
        .filter_map(|s| match s {
            Status::Ready(instance) => Some(JoinLatency {
                instance_id: instance.instance_id.clone(),
                ready_at: now,
                seconds: join_seconds(instance, check, now),
            }),
            _ => None,
        })
        .collect();
    if latencies.is_empty() {
        return Ok(());
    }
    Box::pin(deps.state().record_join_latencies(&deps.config().cluster_id, &latencies)).await
}

/// Seconds from the instance's launch (EC2's, else the decision's) to `now`.
fn join_seconds(instance: &Instance, check: &JoinCheck, now: DateTime<Utc>) -> f64 {
    let launched_at = instance.launched_at.unwrap_or(check.launched_at);
    (now - launched_at).num_milliseconds() as f64 / 1000.0
}

async fn finish<W: Worker<Config = ScaleUpConfig>>(
    deps: &W,
    check: &JoinCheck,
    statuses: &[Status<'_>],
    instances: &[Instance],
    nodes: &[Node],
    now: DateTime<Utc>,
) -> Result<()> {
    let cfg = deps.config();
    let mut emf = MetricBatch::new(&cfg.cluster_id, now);
    let mut failed: Vec<String> = Vec::new();
    let mut to_terminate: Vec<&Instance> = Vec::new();
    let mut ready = Vec::new();
    for status in statuses {
        match status {
            Status::Ready(instance) => ready.push(*instance),
            Status::Waiting(instance, node) => {
                to_terminate.push(instance);
                failed.push(format!("{} did not become a Ready node by the deadline", instance.instance_id));
                if node.is_some() {
                    failed.push(format!("{} registered but never became Ready", instance.instance_id));
                }
            }
            Status::Gone(id) => failed.push(format!("{id} is no longer running")),
        }
    }
    // Instances of this cluster that nobody is tracking any more (a lost message, a worker that
    // died for good): past the join deadline and never registered. Finishing a check cleans them up.
    for orphan in orphans(instances, nodes, &check.instance_ids, now, cfg.join_timeout_s) {
        warn!(instance_id = %orphan.instance_id, "orphaned instance never joined; terminating");
        failed.push(format!(
            "{} (from decision {}) never joined",
            orphan.instance_id,
            orphan.tags.get(tags::DECISION_ID).map(String::as_str).unwrap_or("?")
        ));
        to_terminate.push(orphan);
    }

    if !to_terminate.is_empty() {
        let ids: Vec<String> = to_terminate.iter().map(|i| i.instance_id.clone()).collect();
        deps.fleet().terminate(&ids).await?;
        // Their launch is in the ledger: so is their end (a redelivered check records the same
        // removal again, which the ledger's reader counts once).
        let changes: Vec<CostChange> = to_terminate
            .iter()
            .map(|i| CostChange::termination(i, &cfg.prices, now).with_decision(&check.decision_id))
            .collect();
        Box::pin(cost_ledger::record_changes(deps.state(), &cfg.cluster_id, changes)).await?;
        for instance in &to_terminate {
            if let Some(node) = node_for_instance(nodes, instance) {
                deps.cluster().delete_node(&node.name).await?;
            }
        }
    }

    for instance in &ready {
        emf.put(Metric::NodeJoinLatency, join_seconds(instance, check, now));
    }
    let terminated: Vec<&str> = to_terminate.iter().map(|i| i.instance_id.as_str()).collect();
    let new_total =
        instances.iter().filter(|i| i.state.is_active() && !terminated.contains(&i.instance_id.as_str())).count()
            as u32;
    let update = StateUpdate {
        node_count: Some(new_total),
        last_scale_time: (!ready.is_empty()).then_some(now),
        ..Default::default()
    };
    match check.lock_token.as_deref() {
        Some(token) => {
            if deps.state().release_lock(&cfg.cluster_id, token, &update).await? == ReleaseOutcome::NotOwner {
                // Our lock expired and someone else holds it now: record the count without it.
                warn!("the lock was no longer ours; recording the node count without releasing");
                deps.state().update(&cfg.cluster_id, &update).await?;
            }
        }
        None => deps.state().update(&cfg.cluster_id, &update).await?,
    }

    if !ready.is_empty() {
        let event = NotificationEvent::ScaleUpCompleted {
            decision_id: check.decision_id.clone(),
            instances: ready
                .iter()
                .map(|i| InstanceSummary {
                    instance_id: i.instance_id.clone(),
                    availability_zone: i.availability_zone.clone(),
                    instance_type: i.instance_type.clone(),
                    lifecycle: i.lifecycle,
                })
                .collect(),
            new_total,
        };
        let key = format!("scale-up-completed:{}", check.decision_id);
        smartscale_lambda::notify_once(deps, &cfg.cluster_id, &key, event).await;
    }
    if !failed.is_empty() {
        emf.put_with("ErrorType", FailureType::NodeJoinTimeout.as_str(), Metric::ScalingFailures, failed.len() as f64);
        let event = NotificationEvent::ScalingFailure {
            decision_id: Some(check.decision_id.clone()),
            error_type: FailureType::NodeJoinTimeout,
            message: format!("{}; terminated {:?}", failed.join("; "), terminated),
            recommendation: Some(
                "check the launch template's user data (K3s join token and server URL) and the node security group"
                    .into(),
            ),
        };
        let key = format!("join-failed:{}", check.decision_id);
        smartscale_lambda::notify_once(deps, &cfg.cluster_id, &key, event).await;
    }
    emf.put(Metric::CurrentNodeCount, f64::from(new_total));
    deps.sink().emit(&emf);
    info!(ready = ready.len(), failed = failed.len(), new_total, "scale-up finished");
    Ok(())
}

/// Active managed instances outside `tracked`, launched longer ago than the join timeout plus
/// a grace period, that never registered a node at all. A registered node that is NotReady is
/// left alone: it joined once, and node health is not the scale-up worker's business.
fn orphans<'a>(
    instances: &'a [Instance],
    nodes: &[Node],
    tracked: &[String],
    now: DateTime<Utc>,
    join_timeout_s: u32,
) -> Vec<&'a Instance> {
    let limit = i64::from(join_timeout_s) + ORPHAN_GRACE_S;
    instances
        .iter()
        .filter(|i| i.state.is_active() && !tracked.contains(&i.instance_id))
        .filter(|i| i.launched_at.is_some_and(|at| (now - at).num_seconds() > limit))
        .filter(|i| node_for_instance(nodes, i).is_none())
        .collect()
}
