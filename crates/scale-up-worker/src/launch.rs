//! A scale-up request becomes launches.

use chrono::{DateTime, Duration, Utc};
use smartscale_core::cost_ledger::{self, CostChange};
use smartscale_core::emf::{Metric, MetricBatch};
use smartscale_core::messages::{JoinCheck, ScaleUpRequest, WorkMessage};
use smartscale_core::notification::{FailureType, NotificationEvent};
use smartscale_core::placement::{launch_plan, next_lifecycle, FleetCounts};
use smartscale_core::ports::{
    Clock, Fleet, Instance, LaunchOutcome, LaunchRequest, MetricsSink, StateStore, WorkQueue,
};
use smartscale_core::state::{ReleaseOutcome, StateUpdate};
use smartscale_core::{tags, Result};
use smartscale_lambda::Worker;
use tracing::{info, warn};

use crate::ScaleUpConfig;

/// The tag that says which slot of a decision an instance fills, so a redelivered request
/// never launches a slot twice.
pub const SLOT_TAG: &str = "Slot";

enum SlotResult {
    Launched(Instance),
    NoCapacity,
    Quota { code: String, message: String },
}

pub async fn launch<W: Worker<Config = ScaleUpConfig>>(deps: &W, request: &ScaleUpRequest) -> Result<()> {
    let cfg = deps.config();
    let now = deps.clock().now();
    let item = deps.state().get(&cfg.cluster_id).await?;
    if let Some(token) = &request.lock_token {
        let ours = item.as_ref().is_some_and(|i| i.lock_held_by(token, now));
        if !ours {
            // The decision's lock is gone (its work finished, or it expired): a copy SQS delivers
            // this late must not launch for a decision nobody is tracking any more.
            warn!(decision_id = %request.decision_id, "stale scale-up request: its lock is no longer held; ignoring");
            return Ok(());
        }
    }
    let managed = deps.fleet().describe_managed().await?;
    // Pools recently interrupted (remembered by the spot handler) are avoided too.
    let mut avoid = request.avoid.clone();
    if let Some(item) = item {
        avoid.extend(item.avoided_offerings(now).into_iter().filter(|o| !request.avoid.contains(o)));
    }
    let ours = |i: &Instance| i.tags.get(tags::DECISION_ID) == Some(&request.decision_id);
    // Plan as the fleet stood before this decision, so a redelivery plans the same launches.
    let others: Vec<Instance> = managed.iter().filter(|i| !ours(i)).cloned().collect();
    let count = allowed_count(cfg, request, &others, now);
    // An instance being replaced is planned as gone, so a floor node's replacement is On-Demand.
    let staying: Vec<Instance> =
        others.iter().filter(|i| request.replaces.as_ref() != Some(&i.instance_id)).cloned().collect();
    let mut counts = FleetCounts::of(&staying);
    let mut launched = Vec::new();
    let mut no_capacity = 0;
    let mut quota = None;
    let mut cost_changes = Vec::new();

    for slot in 0..count {
        let wanted = next_lifecycle(&counts, cfg.min_on_demand, cfg.spot_share);
        let existing =
            managed.iter().find(|i| ours(i) && i.tags.get(SLOT_TAG) == Some(&slot.to_string()) && i.state.is_active());
        let result = match existing {
            Some(instance) => SlotResult::Launched(instance.clone()),
            None => launch_slot(deps, request, slot, &counts, &avoid).await?,
        };
        match result {
            SlotResult::Launched(instance) => {
                let change = CostChange::launch(&instance, &cfg.prices, now).with_decision(&request.decision_id);
                cost_changes.push(change.spot_fallback_from(wanted));
                counts.add(&instance.availability_zone, instance.lifecycle);
                launched.push(instance);
            }
            SlotResult::NoCapacity => no_capacity += 1,
            SlotResult::Quota { code, message } => {
                quota = Some((code, message));
                break;
            }
        }
    }

    // Before the join check: if this fails the message is retried, and reading deduplicates.
    // Boxed: the store's write future is large, and inlined it would grow this one's.
    Box::pin(cost_ledger::record_changes(deps.state(), &cfg.cluster_id, cost_changes)).await?;
    let mut emf = MetricBatch::new(&cfg.cluster_id, now);
    if !launched.is_empty() {
        let check = JoinCheck {
            decision_id: request.decision_id.clone(),
            cluster_id: cfg.cluster_id.clone(),
            lock_token: request.lock_token.clone(),
            instance_ids: launched.iter().map(|i| i.instance_id.clone()).collect(),
            launched_at: now,
            deadline: now + Duration::seconds(i64::from(cfg.join_timeout_s)),
            attempt: 1,
        };
        deps.queue().send(&WorkMessage::JoinCheck(check), cfg.join_check_delay_s).await?;
        info!(instances = ?launched.iter().map(|i| &i.instance_id).collect::<Vec<_>>(), "launched; join check enqueued");
    }
    let shortfall = count.saturating_sub(launched.len() as u32);
    if let Some((code, message)) = quota {
        emf.put_with("ErrorType", FailureType::Ec2QuotaExceeded.as_str(), Metric::ScalingFailures, 1.0);
        let event = NotificationEvent::ScalingFailure {
            decision_id: Some(request.decision_id.clone()),
            error_type: FailureType::Ec2QuotaExceeded,
            message: format!("{code}: {message}; launched {} of {} nodes", launched.len(), request.count),
            recommendation: Some(
                "request an EC2 vCPU quota increase, or enable Spot (SPOT_SHARE) to use the Spot quota".into(),
            ),
        };
        smartscale_lambda::notify(deps.notifier(), &cfg.cluster_id, now, event).await;
    } else if no_capacity > 0 {
        emf.put_with("ErrorType", FailureType::LaunchFailed.as_str(), Metric::ScalingFailures, 1.0);
        let event = NotificationEvent::ScalingFailure {
            decision_id: Some(request.decision_id.clone()),
            error_type: FailureType::LaunchFailed,
            message: format!("no capacity in any configured pool for {no_capacity} of {} nodes", request.count),
            recommendation: Some("add instance types or subnets in more AZs".into()),
        };
        smartscale_lambda::notify(deps.notifier(), &cfg.cluster_id, now, event).await;
    }
    if launched.is_empty() {
        // Nothing to track: the work ends here, so the lock is ours to free now.
        release(deps, request.lock_token.as_deref()).await?;
    } else if shortfall > 0 {
        warn!(shortfall, "partial launch; the join check will finish the work and release the lock");
    }
    deps.sink().emit(&emf);
    Ok(())
}

/// How many of the request's nodes may launch: never past `MAX_NODES` counting every active
/// managed instance (a message's count is a wish, not an order), and never more than the
/// runaway guard's launches per 10 minutes.
fn allowed_count(cfg: &ScaleUpConfig, request: &ScaleUpRequest, others: &[Instance], now: DateTime<Utc>) -> u32 {
    let active = others.iter().filter(|i| i.state.is_active()).count() as u32;
    let room = cfg.max_nodes.saturating_sub(active);
    let window_start = now - Duration::minutes(10);
    let recent = others.iter().filter(|i| i.launched_at.is_some_and(|t| t > window_start)).count() as u32;
    let budget = cfg.max_launches_per_10m.saturating_sub(recent);
    let count = request.count.min(room).min(budget);
    if count < request.count {
        warn!(
            requested = request.count,
            allowed = count,
            active,
            max_nodes = cfg.max_nodes,
            launched_last_10m = recent,
            max_launches_per_10m = cfg.max_launches_per_10m,
            "scale-up request capped"
        );
    }
    count
}

/// Tries the plan's offerings in order until one launches.
async fn launch_slot<W: Worker<Config = ScaleUpConfig>>(
    deps: &W,
    request: &ScaleUpRequest,
    slot: u32,
    counts: &FleetCounts,
    avoid: &[smartscale_core::messages::Offering],
) -> Result<SlotResult> {
    let cfg = deps.config();
    let wanted = next_lifecycle(counts, cfg.min_on_demand, cfg.spot_share);
    let plan = launch_plan(&cfg.subnets, counts, &cfg.instance_types, wanted, avoid);
    let mut shortages = Vec::new();
    for (index, attempt) in plan.iter().enumerate() {
        let mut instance_tags = tags::launch_tags(&cfg.cluster_id, &request.decision_id, attempt.lifecycle);
        instance_tags.insert(SLOT_TAG.into(), slot.to_string());
        let launch = LaunchRequest {
            client_token: client_token(&request.decision_id, slot, index),
            instance_type: attempt.instance_type.clone(),
            subnet_id: attempt.subnet.subnet_id.clone(),
            availability_zone: attempt.subnet.availability_zone.clone(),
            lifecycle: attempt.lifecycle,
            tags: instance_tags,
        };
        match deps.fleet().launch(&launch).await? {
            LaunchOutcome::Launched(instance) => {
                if attempt.lifecycle != wanted {
                    let event = smartscale_core::notification::NotificationEvent::CapacityFallback {
                        decision_id: request.decision_id.clone(),
                        wanted: format!("{} in any configured pool", wanted.as_str()),
                        launched: format!(
                            "{} {} in {}",
                            attempt.lifecycle.as_str(),
                            attempt.instance_type,
                            attempt.subnet.availability_zone
                        ),
                        reason: shortages.join("; "),
                    };
                    smartscale_lambda::notify(deps.notifier(), &cfg.cluster_id, deps.clock().now(), event).await;
                }
                return Ok(SlotResult::Launched(instance));
            }
            LaunchOutcome::InsufficientCapacity { code, .. } => {
                warn!(slot, instance_type = %attempt.instance_type, az = %attempt.subnet.availability_zone, lifecycle = attempt.lifecycle.as_str(), code, "no capacity; trying the next pool");
                shortages.push(format!(
                    "{code} for {} {} in {}",
                    attempt.lifecycle.as_str(),
                    attempt.instance_type,
                    attempt.subnet.availability_zone
                ));
            }
            LaunchOutcome::QuotaExceeded { code, message } => return Ok(SlotResult::Quota { code, message }),
        }
    }
    Ok(SlotResult::NoCapacity)
}

/// RunInstances' idempotency token: one per (decision, slot, attempt), at most 64 characters.
pub fn client_token(decision_id: &str, slot: u32, attempt: usize) -> String {
    let suffix = format!("-s{slot}-a{attempt}");
    let keep = 64 - suffix.len();
    let base: String = if decision_id.len() > keep {
        // Keep the distinctive tail (event ids end in their random part).
        decision_id[decision_id.len() - keep..].to_string()
    } else {
        decision_id.to_string()
    };
    format!("{base}{suffix}")
}

pub async fn release<W: Worker<Config = ScaleUpConfig>>(deps: &W, token: Option<&str>) -> Result<()> {
    let Some(token) = token else { return Ok(()) };
    if deps.state().release_lock(&deps.config().cluster_id, token, &StateUpdate::default()).await?
        == ReleaseOutcome::NotOwner
    {
        warn!("the lock was no longer ours (expired and taken over, or already released)");
    }
    Ok(())
}
