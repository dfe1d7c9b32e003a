use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{DateTime, Duration, Utc};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use smartscale_core::cost_ledger::{self, CostChange};
use smartscale_core::emf::{Metric, MetricBatch};
use smartscale_core::messages::{DrainRequest, Offering, ScaleUpRequest, WorkMessage, SPOT_DECISION_PREFIX};
use smartscale_core::notification::NotificationEvent;
use smartscale_core::placement::node_for_instance;
use smartscale_core::ports::{Clock, Cluster, Fleet, Lifecycle, MetricsSink, StateStore, WorkQueue};
use smartscale_core::state::{StateUpdate, UnavailableOffering};
use smartscale_core::Error;
use smartscale_lambda::Worker;
use tracing::{info, instrument, warn};

use crate::events::{self, Envelope, Routed};
use crate::{RebalanceAction, Result, SpotConfig};

/// The ports the spot handler works through.
pub type Deps<F, K8s, S, Q, N, C, M> = smartscale_lambda::WorkerDeps<SpotConfig, F, K8s, S, Q, N, C, M>;

/// What one event led to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "handled", rename_all = "snake_case")]
pub enum Handled {
    Acted {
        event_id: String,
        instances: Vec<Acted>,
    },
    /// This event id was handled before.
    Duplicate {
        event_id: String,
    },
    Ignored {
        why: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Acted {
    pub instance_id: String,
    pub node: Option<String>,
    pub action: String,
}

/// The steps an event calls for.
#[derive(Debug, Clone, Copy)]
struct Steps {
    drain: bool,
    replace: bool,
    /// EC2 takes the instance back at the warning's end.
    reclaim: bool,
}

/// An EventBridge event delivered directly, or a batch of them wrapped in SQS records (then
/// each record succeeds or fails on its own and the answer is an `SqsBatchResponse`).
#[instrument(skip_all, fields(cluster_id = %deps.config().cluster_id))]
pub async fn handle<W: Worker<Config = SpotConfig>>(event: LambdaEvent<Value>, deps: &W) -> Result<Value> {
    let payload = event.payload;
    if payload.get("Records").is_some_and(Value::is_array) {
        let batch: SqsEvent = smartscale_core::error::from_json_value(payload)?;
        let response = smartscale_lambda::process_records(batch, |body| async move {
            let value: Value =
                serde_json::from_str(&body).map_err(|e| Error::invalid("<body>", format!("not JSON: {e}")))?;
            handle_escalating(&value, deps).await.map(|_| ())
        })
        .await;
        return Ok(serde_json::to_value(response).unwrap_or_default());
    }
    let handled = handle_escalating(&payload, deps).await?;
    Ok(serde_json::to_value(handled).unwrap_or_default())
}

/// [`handle_event`], telling a person once about a failure no retry fixes (the K3s API or EC2
/// refusing our credentials) before the event is retried.
async fn handle_escalating<W: Worker<Config = SpotConfig>>(
    value: &Value,
    deps: &W,
) -> smartscale_core::Result<Handled> {
    match handle_event(value, deps).await {
        Ok(handled) => Ok(handled),
        Err(e) => {
            let id = value.get("id").and_then(Value::as_str).map(|id| format!("{SPOT_DECISION_PREFIX}{id}"));
            Err(smartscale_lambda::escalate(deps, &deps.config().cluster_id, id.as_deref(), e).await)
        }
    }
}

/// One EventBridge event.
pub async fn handle_event<W: Worker<Config = SpotConfig>>(value: &Value, deps: &W) -> smartscale_core::Result<Handled> {
    let cfg = deps.config();
    let event = events::parse(value)?;
    let routed = events::route(&event)?;
    let steps = match &routed {
        Routed::Ignored { why } => {
            info!(source = %event.source, detail_type = %event.detail_type, %why, "event acknowledged; nothing to do");
            return Ok(Handled::Ignored { why: why.clone() });
        }
        Routed::RebalanceRecommendation { .. } => match cfg.rebalance_action {
            RebalanceAction::Ignore => {
                return Ok(Handled::Ignored { why: "rebalance recommendations are ignored (REBALANCE_ACTION)".into() })
            }
            RebalanceAction::Cordon => Some(Steps { drain: false, replace: false, reclaim: false }),
            RebalanceAction::Drain => Some(Steps { drain: true, replace: true, reclaim: false }),
        },
        Routed::SpotInterruptionWarning { .. } | Routed::ScheduledChange { .. } => {
            Some(Steps { drain: true, replace: true, reclaim: false })
        }
        Routed::StateChange { .. } => None,
    };
    let instance_ids = match &routed {
        Routed::SpotInterruptionWarning { instance_id, .. }
        | Routed::RebalanceRecommendation { instance_id }
        | Routed::StateChange { instance_id, .. } => {
            vec![instance_id.clone()]
        }
        Routed::ScheduledChange { instance_ids, .. } => instance_ids.clone(),
        Routed::Ignored { .. } => Vec::new(),
    };
    let event_id = event.id.clone().unwrap_or_else(|| {
        format!(
            "{}:{}:{}",
            event.detail_type,
            instance_ids.join(","),
            event.time.map(|t| t.to_rfc3339()).unwrap_or_default()
        )
    });
    if deps.state().event_seen(&cfg.cluster_id, &event_id).await? {
        info!(%event_id, "event already handled");
        return Ok(Handled::Duplicate { event_id });
    }
    let now = deps.clock().now();
    let acted = match (&routed, steps) {
        (Routed::StateChange { state, .. }, _) => lost(deps, &instance_ids[0], state).await?,
        (_, Some(steps)) => {
            let reclaim = matches!(routed, Routed::SpotInterruptionWarning { .. });
            interrupt(deps, &event, &event_id, &instance_ids, Steps { reclaim, ..steps }, now).await?
        }
        (_, None) => Vec::new(),
    };
    // Everything above is idempotent; the claim makes sure the announcement goes out once.
    if !deps.state().claim_event(&cfg.cluster_id, &event_id, now, cfg.event_ttl_s).await? {
        return Ok(Handled::Duplicate { event_id });
    }
    let mut emf = MetricBatch::new(&cfg.cluster_id, now);
    let counted = !matches!(routed, Routed::StateChange { .. });
    for a in &acted {
        let event = NotificationEvent::SpotInterruption {
            instance_id: a.instance_id.clone(),
            node: a.node.clone(),
            event: event.detail_type.clone(),
            action: a.action.clone(),
        };
        smartscale_lambda::notify(deps.notifier(), &cfg.cluster_id, now, event).await;
    }
    if counted && !acted.is_empty() {
        emf.put(Metric::SpotInterruptions, acted.len() as f64);
    }
    deps.sink().emit(&emf);
    Ok(Handled::Acted { event_id, instances: acted })
}

/// Cordon at once; then, as the event calls for, a drain with the Spot deadline and a
/// replacement that avoids the interrupted pool.
async fn interrupt<W: Worker<Config = SpotConfig>>(
    deps: &W,
    event: &Envelope,
    event_id: &str,
    instance_ids: &[String],
    steps: Steps,
    now: DateTime<Utc>,
) -> smartscale_core::Result<Vec<Acted>> {
    let cfg = deps.config();
    let instances = deps.fleet().describe_managed().await?;
    let nodes = deps.cluster().list_nodes().await?;
    let mut acted = Vec::new();
    for id in instance_ids {
        let Some(instance) = instances.iter().find(|i| &i.instance_id == id && i.state.is_active()) else {
            info!(instance_id = %id, "not a running instance managed for this cluster; ignored");
            continue;
        };
        // Only the node that declares this instance (spec.providerID), never the control plane.
        let node = nodes
            .iter()
            .find(|n| !n.is_control_plane() && n.declared_instance_id() == Some(id.as_str()))
            .map(|n| n.name.clone());
        let drain_id = format!("{SPOT_DECISION_PREFIX}{event_id}");
        let mut done = Vec::new();
        if let Some(name) = &node {
            match deps.cluster().cordon(name, &drain_id).await {
                Ok(()) | Err(Error::NotFound { .. }) => done.push("cordoned".to_string()),
                Err(e) => return Err(e),
            }
            if steps.drain {
                let drain = DrainRequest {
                    decision_id: drain_id.clone(),
                    cluster_id: cfg.cluster_id.clone(),
                    lock_token: None,
                    node: Some(name.clone()),
                    reason: format!("{} for {id}", event.detail_type),
                    requested_at: now,
                    deadline: Some(now + Duration::seconds(i64::from(cfg.drain_deadline_s))),
                    spot_reclaim: steps.reclaim,
                };
                deps.queue().send(&WorkMessage::DrainRequest(drain), 0).await?;
                done.push(format!("draining within {} s", cfg.drain_deadline_s));
            }
        }
        if steps.replace {
            let interrupted = Offering {
                instance_type: instance.instance_type.clone(),
                availability_zone: instance.availability_zone.clone(),
                lifecycle: instance.lifecycle,
            };
            if instance.lifecycle == Lifecycle::Spot {
                remember_unavailable(deps, &interrupted, now).await?;
            }
            let replacement = ScaleUpRequest {
                decision_id: format!("{SPOT_DECISION_PREFIX}{event_id}-{id}"),
                cluster_id: cfg.cluster_id.clone(),
                lock_token: None,
                count: 1,
                reason: format!("replacing {id} ({})", event.detail_type),
                requested_at: now,
                avoid: vec![interrupted],
                replaces: Some(id.clone()),
            };
            deps.queue().send(&WorkMessage::ScaleUpRequest(replacement), 0).await?;
            done.push("replacement requested".to_string());
        }
        if steps.reclaim && instance.lifecycle == Lifecycle::Spot {
            // EC2 takes the instance back within two minutes: its cost ends here, in the ledger
            // (a later termination record of the same instance is read as the same removal).
            let change = CostChange::interruption(instance, &cfg.prices, now);
            Box::pin(cost_ledger::record_changes(deps.state(), &cfg.cluster_id, vec![change])).await?;
        }
        if node.is_none() {
            warn!(instance_id = %id, "no node registered for the instance; nothing to cordon or drain");
        }
        acted.push(Acted { instance_id: id.clone(), node, action: done.join("; ") });
    }
    Ok(acted)
}

/// Avoid the interrupted pool for a while (read by the scale-up worker on every launch).
async fn remember_unavailable<W: Worker<Config = SpotConfig>>(
    deps: &W,
    offering: &Offering,
    now: DateTime<Utc>,
) -> smartscale_core::Result<()> {
    let cfg = deps.config();
    let item = deps.state().get(&cfg.cluster_id).await?.unwrap_or_default();
    let mut list: Vec<UnavailableOffering> =
        item.unavailable_offerings.into_iter().filter(|u| u.until > now && &u.offering != offering).collect();
    list.push(UnavailableOffering {
        offering: offering.clone(),
        until: now + Duration::seconds(i64::from(cfg.unavailable_offering_ttl_s)),
    });
    deps.state().update(&cfg.cluster_id, &StateUpdate { unavailable_offerings: Some(list), ..Default::default() }).await
}

/// A managed instance stopping or terminating. If its node is still registered, SmartScale did
/// not drain it: say so; the decider reconciles the count from EC2 on its next run.
async fn lost<W: Worker<Config = SpotConfig>>(
    deps: &W,
    instance_id: &str,
    state: &str,
) -> smartscale_core::Result<Vec<Acted>> {
    let instances = deps.fleet().describe_managed().await?;
    let Some(instance) = instances.iter().find(|i| i.instance_id == instance_id) else {
        info!(%instance_id, "not managed for this cluster; ignored");
        return Ok(Vec::new());
    };
    let nodes = deps.cluster().list_nodes().await?;
    match node_for_instance(&nodes, instance) {
        None => {
            info!(%instance_id, state, "instance gone after its node was removed (our drain); nothing to report");
            Ok(Vec::new())
        }
        Some(node) => Ok(vec![Acted {
            instance_id: instance_id.to_string(),
            node: Some(node.name.clone()),
            action: format!(
                "instance is {state} and was not drained by SmartScale; the decider reconciles the node count"
            ),
        }]),
    }
}
