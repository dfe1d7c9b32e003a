//! `smartscale invoke`: one real handler, in-process, on one recorded event, against a small
//! simulated cluster; the answer lists everything the handler did.
//!
//! The cluster (`prod`): a K3s server and three t3.small workers (`i-00000000000000001` and
//! `…2` On-Demand, `…3` Spot), 13 app replicas running and 3 unschedulable for the last 15
//! minutes, a PDB allowing one replica down. If the event carries a lock token, the lock is
//! held by it, as the decider that sent the message would hold it; if it is a join check, the
//! instances it names carry its decision's `DecisionId` tag, as the launches that sent it left them.

use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Context, LambdaEvent};
use serde::Serialize;
use serde_json::{json, Value};
use smartscale_core::config::MapConfig;
use smartscale_core::fakes::FakeMetrics;
use smartscale_core::messages::WorkMessage;
use smartscale_core::metrics::Sample;
use smartscale_core::ports::{Lifecycle, PodPhase, StateStore};
use smartscale_core::state::StateItem;
use smartscale_core::{Error, Result};
use smartscale_decider::DeciderConfig;
use smartscale_drain_worker::DrainConfig;
use smartscale_scale_up_worker::ScaleUpConfig;
use smartscale_slack_forwarder::{ForwarderConfig, RecordingSlack};
use smartscale_spot_handler::SpotConfig;

use crate::model::*;
use crate::ports::{replica, Ports, SUBNETS, ZONES};

const CLUSTER: &str = "prod";
/// The decider's fast-path topic in this cluster's account.
const FAST_PATH_TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:smartscale-fast-path";
const RUNNING_REPLICAS: u64 = 13;
const PENDING_REPLICAS: u64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerName {
    Decider,
    ScaleUp,
    Drain,
    Spot,
    Slack,
    CostReport,
}

impl std::str::FromStr for HandlerName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "decider" => HandlerName::Decider,
            "scale-up" => HandlerName::ScaleUp,
            "drain" => HandlerName::Drain,
            "spot" => HandlerName::Spot,
            "slack" => HandlerName::Slack,
            "cost-report" => HandlerName::CostReport,
            other => {
                return Err(Error::invalid(
                    "handler",
                    format!("unknown handler {other:?}; expected decider, scale-up, drain, spot, slack or cost-report"),
                ))
            }
        })
    }
}

/// What one invocation did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invocation {
    pub handler: String,
    pub at: DateTime<Utc>,
    /// The handler's return value, or its error.
    pub response: Value,
    /// The error the handler returned, if it did (also in `response`).
    #[serde(skip)]
    pub error: Option<String>,
    pub ec2_calls: Vec<String>,
    pub kubernetes_calls: Vec<String>,
    /// SQS messages sent, with their queue and delay.
    pub messages_sent: Vec<Value>,
    pub notifications: Vec<Value>,
    pub slack_messages: Vec<Value>,
    /// The DynamoDB state item afterwards.
    pub state: Value,
}

/// Runs `handler` on `event` at `at`.
pub fn invoke(handler: HandlerName, event: Value, at: DateTime<Utc>) -> Result<Invocation> {
    let ports = Ports::new(CLUSTER, at);
    let metrics = FakeMetrics::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| Error::rejected("invoke", e.to_string()))?;
    seed(&ports, &metrics, at);
    if let Some(token) = lock_token(&event) {
        runtime.block_on(ports.state.try_acquire_lock(CLUSTER, &token, at, 300))?;
    }
    if let Some(WorkMessage::JoinCheck(check)) = first_message(&event) {
        for id in &check.instance_ids {
            if let Some(mut instance) = ports.fleet.instance(id) {
                instance.tags.insert(smartscale_core::tags::DECISION_ID.into(), check.decision_id.clone());
                ports.fleet.insert(instance);
            }
        }
    }
    let before = (ports.fleet.calls.calls().len(), ports.cluster.calls.calls().len(), ports.queue.calls.calls().len());

    let source = MapConfig::new().with("CLUSTER_ID", CLUSTER).with("SUBNETS", SUBNETS);
    let slack = RecordingSlack::default();
    let (response, error) = match handler {
        HandlerName::Decider => {
            // The decider's own entry point: a Scheduled Event, or the fast path's SNS
            // notification from the topic below (events/sns-fast-path-*.json).
            let source = source.clone().with("FAST_PATH_TOPIC_ARN", FAST_PATH_TOPIC_ARN);
            let deps = ports.decider(DeciderConfig::from_config(&source)?, &metrics);
            as_json(
                runtime.block_on(smartscale_decider::handle_event(LambdaEvent::new(event, Context::default()), &deps)),
            )
        }
        HandlerName::ScaleUp => {
            let deps = ports.worker(ScaleUpConfig::from_config(&source)?);
            let event = LambdaEvent::new(parse(event)?, Context::default());
            as_json(runtime.block_on(smartscale_scale_up_worker::handle(event, &deps)))
        }
        HandlerName::Drain => {
            let deps = ports.worker(DrainConfig::from_config(&source)?);
            let event = LambdaEvent::new(parse(event)?, Context::default());
            as_json(runtime.block_on(smartscale_drain_worker::handle(event, &deps)))
        }
        HandlerName::Spot => {
            let deps = ports.worker(SpotConfig::from_config(&source)?);
            as_json(
                runtime.block_on(smartscale_spot_handler::handle(LambdaEvent::new(event, Context::default()), &deps)),
            )
        }
        HandlerName::Slack => {
            let deps = smartscale_slack_forwarder::Deps {
                config: ForwarderConfig::from_config(&source)?,
                slack: slack.clone(),
            };
            let event = LambdaEvent::new(parse(event)?, Context::default());
            as_json(runtime.block_on(smartscale_slack_forwarder::handle(event, &deps)))
        }
        HandlerName::CostReport => {
            let (deps, publisher) = cost_report_deps(&ports, &metrics, &runtime, at)?;
            let event = LambdaEvent::new(event, Context::default());
            let result = runtime.block_on(smartscale_cost_report::handle(event, &deps));
            // The forwarder renders what the topic carries, as in production.
            for report in publisher.reports() {
                let body = serde_json::to_string(&report).map_err(|e| Error::invalid("cost report", e.to_string()))?;
                let message = smartscale_slack_forwarder::message_for(&body, &Default::default())?;
                runtime.block_on(smartscale_slack_forwarder::SlackSink::post(&slack, &message))?;
            }
            as_json(result)
        }
    };

    Ok(Invocation {
        handler: format!("{handler:?}"),
        at,
        response,
        error,
        ec2_calls: ports.fleet.calls.calls().iter().skip(before.0).map(|c| format!("{c:?}")).collect(),
        kubernetes_calls: ports.cluster.calls.calls().iter().skip(before.1).map(|c| format!("{c:?}")).collect(),
        messages_sent: ports
            .queue
            .calls
            .calls()
            .iter()
            .skip(before.2)
            .map(|m| {
                let body: Value = serde_json::from_str(&m.body).unwrap_or(Value::String(m.body.clone()));
                json!({"queue": format!("{:?}", m.queue), "delay_s": m.delay_s, "body": body})
            })
            .collect(),
        notifications: ports
            .notifier
            .published()
            .iter()
            .map(|n| serde_json::from_str(&n.encode()).unwrap_or(Value::Null))
            .collect(),
        slack_messages: slack.messages(),
        state: serde_json::to_value(ports.state.item(CLUSTER)).unwrap_or(Value::Null),
    })
}

/// The small cluster described in the module docs, with 15 minutes of metrics behind `at`.
fn seed(ports: &Ports, metrics: &FakeMetrics, at: DateTime<Utc>) {
    ports.add_control_plane_and_pdb();
    let workers = [(ZONES[0], Lifecycle::OnDemand), (ZONES[1], Lifecycle::OnDemand), (ZONES[0], Lifecycle::Spot)];
    let mut nodes = Vec::new();
    for (zone, lifecycle) in workers {
        let instance = ports.fleet.add_running("t3.small", zone, lifecycle);
        ports.join(&instance);
        nodes.push(instance.private_dns_name.unwrap_or(instance.instance_id));
    }
    for n in 0..RUNNING_REPLICAS + PENDING_REPLICAS {
        let mut pod = replica(n + 1);
        if n < RUNNING_REPLICAS {
            pod.node = Some(nodes[(n % 3) as usize].clone());
            pod.phase = PodPhase::Running;
            pod.ready = true;
        }
        ports.cluster.add_pod(pod);
    }
    ports.state.put(StateItem { cluster_id: CLUSTER.into(), node_count: 3, ..StateItem::default() });
    for i in (0..=60).rev() {
        metrics.push(Sample {
            at: at - Duration::seconds(i * 15),
            cpu_pct: Some(62.0),
            mem_pct: Some(70.0),
            pending_pods: Some(PENDING_REPLICAS as u32),
            queue_depth: None,
            p95_latency_s: Some(0.8),
            error_rate_pct: Some(1.0),
            pending_cpu_millis: Some((PENDING_REPLICAS * POD_CPU_MILLIS) as f64),
            pending_memory_bytes: Some((PENDING_REPLICAS * POD_MEMORY_BYTES) as f64),
            requested_cpu_millis: Some((RUNNING_REPLICAS * POD_CPU_MILLIS) as f64),
            requested_memory_bytes: Some((RUNNING_REPLICAS * POD_MEMORY_BYTES) as f64),
            unhostable_pods: Some(0),
        });
    }
}

/// The recorded week `invoke cost-report` reads (events/cost-report-ledger.json): the seeded
/// workers have run for 30 days, and the ledger holds the week's changes.
const RECORDED_LEDGER: &str = include_str!("../../../events/cost-report-ledger.json");

use crate::world::CostReportDeps;

fn cost_report_deps(
    ports: &Ports,
    metrics: &FakeMetrics,
    runtime: &tokio::runtime::Runtime,
    at: DateTime<Utc>,
) -> Result<(CostReportDeps, smartscale_cost_report::RecordingPublisher)> {
    for mut instance in ports.fleet.instances() {
        instance.launched_at = Some(at - Duration::days(30));
        ports.fleet.insert(instance);
    }
    let recorded: smartscale_core::cost_ledger::CostLedger = smartscale_core::error::from_json_value(
        serde_json::from_str::<Value>(RECORDED_LEDGER)
            .map(|mut v| {
                v.as_object_mut().map(|o| o.remove("comment"));
                v
            })
            .map_err(|e| Error::invalid("events/cost-report-ledger.json", e.to_string()))?,
    )?;
    runtime.block_on(smartscale_core::cost_ledger::record_changes(&ports.state, CLUSTER, recorded.changes))?;
    let config = smartscale_cost_report::CostReportConfig::from_config(&MapConfig::new().with("CLUSTER_ID", CLUSTER))?;
    let publisher = smartscale_cost_report::RecordingPublisher::default();
    let deps = smartscale_cost_report::Deps {
        config,
        state: ports.state.clone(),
        fleet: ports.fleet.clone(),
        metrics: metrics.clone(),
        publisher: publisher.clone(),
        clock: ports.clock.clone(),
    };
    Ok((deps, publisher))
}

/// An SQS event's first work message, if it has one.
fn first_message(event: &Value) -> Option<WorkMessage> {
    let body = event.get("Records")?.get(0)?.get("body")?.as_str()?;
    WorkMessage::decode(body).ok()
}

/// The lock token of an SQS event's first work message, if any.
fn lock_token(event: &Value) -> Option<String> {
    first_message(event)?.lock_token().map(str::to_string)
}

fn parse<T: serde::de::DeserializeOwned>(event: Value) -> Result<T> {
    smartscale_core::error::from_json_value(event)
}

/// The handler's answer as JSON, and its error as text if it returned one.
fn as_json<T: Serialize, E: std::fmt::Display>(result: std::result::Result<T, E>) -> (Value, Option<String>) {
    match result {
        Ok(value) => (serde_json::to_value(value).unwrap_or(Value::Null), None),
        Err(e) => (json!({"error": e.to_string()}), Some(e.to_string())),
    }
}

impl Invocation {
    /// Why the invocation failed, if it did: the handler's error, or the SQS messages it
    /// reported as failed (SQS redelivers them and finally dead-letters them).
    pub fn failure(&self) -> Option<String> {
        if let Some(error) = &self.error {
            return Some(format!("it returned an error: {error}"));
        }
        let failed: Vec<&str> = self.response["batchItemFailures"]
            .as_array()
            .map(|items| items.iter().filter_map(|i| i["itemIdentifier"].as_str()).collect())
            .unwrap_or_default();
        if failed.is_empty() {
            None
        } else {
            Some(format!("{} message(s) failed and would be redelivered: {}", failed.len(), failed.join(", ")))
        }
    }
}
