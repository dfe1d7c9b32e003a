//! The world the handlers act on, stepped every 15 s: EC2 instances boot and join, the app's
//! replicas follow the load, a scheduler binds them by requests, metrics are derived from
//! demand against ready capacity, and the real handlers run on the EventBridge schedule, on
//! whatever their queues deliver, on EC2's Spot events and on every SNS notification.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use smartscale_core::config::MapConfig;
use smartscale_core::fakes::FakeMetrics;
use smartscale_core::messages::{QueueName, WorkMessage};
use smartscale_core::ports::{Instance, InstanceState, Lifecycle, Node, WorkQueue};
use smartscale_core::workload::splitmix64;
use smartscale_core::{pricing, Error, Result};
use smartscale_drain_worker::DrainConfig;
use smartscale_scale_up_worker::ScaleUpConfig;
use smartscale_slack_forwarder::RecordingSlack;
use smartscale_spot_handler::SpotConfig;

use crate::ca_like::{self, CaLike};
use crate::demand::Demand;
use crate::metrics::{self, Replicas};
use crate::model::*;
use crate::ports::{Decider, Deps, Ports, APP_NAMESPACE, SUBNETS, ZONES};
use crate::references::References;
use crate::settings::HandlerConfigs;
use crate::timeline::{Event, EventKind, PendingSpells, Point, Timeline};

pub(crate) const CLUSTER: &str = "sim";
const DECIDER_EVERY_S: i64 = 120;
/// EC2 reclaims a Spot instance two minutes after the warning.
const SPOT_WARNING_S: i64 = 120;

/// Who decides: the real decider on its schedule, the CA-like scan every step, or nobody.
enum Controller {
    Decider(Box<Decider>),
    CaLike(CaLike),
    Fixed,
}

/// The handlers' configuration: what production reads from its environment.
pub(crate) fn handler_config(config: &SimConfig) -> MapConfig {
    let mut base = MapConfig::new()
        .with("CLUSTER_ID", CLUSTER)
        .with("SUBNETS", SUBNETS)
        .with("SPOT_SHARE", config.spot_share.to_string());
    for (key, value) in &config.settings {
        base = base.with(key, value);
    }
    match config.policy {
        PolicyName::ReactiveSeed => base
            .with("SCALE_UP_SIZE_BY_PENDING_REQUESTS", "false")
            .with("SCALE_UP_PENDING_PODS_WINDOW", "180")
            .with("SCALE_DOWN_FIT_CHECK", "false")
            .with("DRAIN_CANDIDATE", "fewest_pods"),
        _ => base,
    }
}

/// One policy's run: its summary and what it looked like over time.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub summary: Summary,
    pub timeline: Timeline,
}

pub struct World<'a> {
    config: &'a SimConfig,
    demand: &'a Demand,
    references: &'a References,
    runtime: tokio::runtime::Runtime,
    ports: Ports,
    metrics: FakeMetrics,
    controller: Controller,
    min_nodes: u32,
    max_nodes: u32,
    scale_up: Deps<ScaleUpConfig>,
    drain: Deps<DrainConfig>,
    spot: Deps<SpotConfig>,
    slack: smartscale_slack_forwarder::Deps<RecordingSlack>,
    /// Instance id → (running at, joined at), drawn when the instance is first seen.
    boots: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)>,
    /// Spot instances warned and when EC2 takes them back.
    reclaims: BTreeMap<String, DateTime<Utc>>,
    /// Nodes whose instance EC2 reclaimed: replicas that die with them are not SmartScale's doing.
    reclaimed_nodes: BTreeSet<String>,
    notifications_seen: usize,
    next_pod: u64,
    spells: PendingSpells,
    summary: Summary,
    timeline: Timeline,
}

impl<'a> World<'a> {
    pub fn new(config: &'a SimConfig, demand: &'a Demand, references: &'a References) -> Result<World<'a>> {
        let ports = Ports::new(CLUSTER, config.start);
        ports.stop_recording();
        ports.fleet.set_instance_limit(config.instance_quota);
        let metrics = FakeMetrics::default();
        metrics.calls.turn_off();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| Error::rejected("simulator", e.to_string()))?;
        let handlers = HandlerConfigs::read(&handler_config(config), &config.settings)?;
        let decider_config = handlers.decider;
        let (min_nodes, max_nodes) = (decider_config.policy.min_nodes, decider_config.policy.max_nodes);
        let controller = match config.policy {
            PolicyName::Smartscale | PolicyName::ReactiveSeed => {
                Controller::Decider(Box::new(ports.decider(decider_config, &metrics)))
            }
            PolicyName::CaLike => Controller::CaLike(CaLike::new(CLUSTER)),
            PolicyName::Static | PolicyName::Static5 | PolicyName::Oracle => Controller::Fixed,
        };
        let seed_nodes = match config.policy {
            PolicyName::Static => references.static_nodes,
            PolicyName::Static5 => SPEC_STATIC_NODES,
            // The autoscaled cluster starts warm: sized for the first step's demand.
            _ => nodes_for(demand.replicas[0]).clamp(min_nodes, max_nodes),
        };
        let mut world = World {
            config,
            demand,
            references,
            runtime,
            scale_up: ports.worker(priced(handlers.scale_up)?),
            drain: ports.worker(handlers.drain),
            spot: ports.worker(handlers.spot),
            slack: smartscale_slack_forwarder::Deps { config: handlers.forwarder, slack: RecordingSlack::default() },
            ports,
            metrics,
            controller,
            min_nodes,
            max_nodes,
            boots: BTreeMap::new(),
            reclaims: BTreeMap::new(),
            reclaimed_nodes: BTreeSet::new(),
            notifications_seen: 0,
            next_pod: 0,
            spells: PendingSpells::default(),
            summary: Summary { policy: config.policy.as_str().into(), ..Summary::default() },
            timeline: Timeline::default(),
        };
        world.seed(seed_nodes);
        Ok(world)
    }

    /// The control plane and the initial workers, On-Demand, running and joined at the start.
    fn seed(&mut self, workers: u32) {
        self.ports.add_control_plane_and_pdb();
        for i in 0..workers {
            let instance = self.ports.fleet.add_running("t3.small", ZONES[i as usize % 2], Lifecycle::OnDemand);
            self.ports.join(&instance);
        }
    }

    /// A deterministic draw in `low..=high` for `key` under the run's seed.
    fn random(&self, key: u64, low: i64, high: i64) -> i64 {
        low + (splitmix64(self.config.seed ^ key) % (high - low + 1) as u64) as i64
    }

    /// A deterministic draw in [0, 1).
    fn chance(&self, key: u64) -> f64 {
        (splitmix64(self.config.seed ^ key) >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn step(&mut self, step: i64) -> Result<()> {
        let now = self.config.start + Duration::seconds(step * self.config.step_s());
        self.ports.clock.set(now);
        self.advance_instances(now);
        self.reclaim_spot(now)?;
        let desired = self.demand.replicas[step as usize];
        // One copy of the nodes and instances per step: copying them is most of a step's cost.
        let nodes = self.ports.cluster.nodes();
        let instances = self.ports.fleet.instances();
        let replicas = metrics::reconcile_and_schedule(
            &self.ports.cluster,
            &nodes,
            desired,
            &mut self.next_pod,
            &self.reclaimed_nodes,
        );
        self.summary.pods_lost += replicas.lost;
        self.summary.pods_killed_by_spot_reclaim += replicas.reclaimed;
        self.account(step, now, desired, replicas, &nodes, &instances);
        self.inject_capacity_shortage(step, now);
        self.warn_spot(step, now, &instances)?;
        match &mut self.controller {
            Controller::Decider(decider) if step % (DECIDER_EVERY_S / self.config.step_s()) == 0 => {
                let event = scheduled_event(now)?;
                // A failed run is retried by the next tick, as the schedule would.
                let _ = self.runtime.block_on(smartscale_decider::handle(event, decider.as_ref()));
            }
            Controller::CaLike(ca) if ca_like::scan_due(step, &self.ports.cluster) => {
                let nodes = self.ports.cluster.nodes();
                let pods = self.ports.cluster.pods();
                let pdbs = self.ports.cluster.pdbs();
                let instances: Vec<Instance> =
                    self.ports.fleet.instances().into_iter().filter(|i| i.state.is_active()).collect();
                let view = ca_like::View {
                    now,
                    nodes: &nodes,
                    pods: &pods,
                    pdbs: &pdbs,
                    instances: &instances,
                    min_nodes: self.min_nodes,
                    max_nodes: self.max_nodes,
                };
                if let Some(message) = ca.scan(&view) {
                    self.runtime.block_on(self.ports.queue.send(&message, 0))?;
                }
            }
            _ => {}
        }
        self.deliver(QueueName::ScaleUp, now)?;
        self.deliver(QueueName::Drain, now)?;
        self.forward_notifications(now)?;
        Ok(())
    }

    /// Pending instances boot (45–90 s) and join (30–60 s more).
    fn advance_instances(&mut self, now: DateTime<Utc>) {
        let registered: Vec<String> = self.ports.cluster.nodes().into_iter().filter_map(|n| n.instance_id).collect();
        for instance in self.ports.fleet.instances() {
            if !instance.state.is_active() {
                continue;
            }
            let key = hash(&instance.instance_id);
            let launched = instance.launched_at.unwrap_or(now);
            let boot = self.random(key, 45, 90);
            let join = self.random(key.rotate_left(17), 30, 60);
            let (running_at, join_at) = *self
                .boots
                .entry(instance.instance_id.clone())
                .or_insert((launched + Duration::seconds(boot), launched + Duration::seconds(boot + join)));
            if instance.state == InstanceState::Pending && now >= running_at {
                self.ports.fleet.set_state(&instance.instance_id, InstanceState::Running);
            }
            if now >= join_at && !registered.contains(&instance.instance_id) {
                self.ports.join(&instance);
            }
        }
    }

    /// Each running Spot instance is warned at the configured rate; the warning reaches the
    /// real spot handler as EC2's EventBridge event.
    fn warn_spot(&mut self, step: i64, now: DateTime<Utc>, instances: &[Instance]) -> Result<()> {
        let per_step = self.config.spot_interruptions_per_day * self.config.step_s() as f64 / 86_400.0;
        if per_step <= 0.0 {
            return Ok(());
        }
        for instance in instances {
            let warnable = instance.lifecycle == Lifecycle::Spot
                && instance.state == InstanceState::Running
                && !self.reclaims.contains_key(&instance.instance_id);
            let key = (step as u64).wrapping_mul(0x9E37_79B9) ^ hash(&instance.instance_id);
            if warnable && self.chance(key) < per_step {
                self.reclaims.insert(instance.instance_id.clone(), now + Duration::seconds(SPOT_WARNING_S));
                self.summary.spot_interruptions += 1;
                self.mark(now, EventKind::SpotInterruption);
                let event = ec2_event(
                    now,
                    "EC2 Spot Instance Interruption Warning",
                    &instance.instance_id,
                    json!({
                        "instance-id": instance.instance_id, "instance-action": "terminate"
                    }),
                );
                self.invoke_spot(event)?;
            }
        }
        Ok(())
    }

    /// Two minutes after the warning EC2 takes the instance back, whatever the drain achieved.
    fn reclaim_spot(&mut self, now: DateTime<Utc>) -> Result<()> {
        let due: Vec<String> = self.reclaims.iter().filter(|(_, at)| **at <= now).map(|(id, _)| id.clone()).collect();
        for id in due {
            self.reclaims.remove(&id);
            let Some(instance) = self.ports.fleet.instances().into_iter().find(|i| i.instance_id == id) else {
                continue;
            };
            if !instance.state.is_active() {
                continue;
            }
            self.ports.fleet.set_state(&id, InstanceState::Terminated);
            if let Some(node) = self.ports.cluster.nodes().into_iter().find(|n| n.instance_id.as_deref() == Some(&id)) {
                self.ports.cluster.set_node_ready(&node.name, false);
                self.reclaimed_nodes.insert(node.name);
            }
            let event = ec2_event(
                now,
                "EC2 Instance State-change Notification",
                &id,
                json!({
                    "instance-id": id, "state": "terminated"
                }),
            );
            self.invoke_spot(event)?;
        }
        Ok(())
    }

    fn invoke_spot(&mut self, event: Value) -> Result<()> {
        let event = LambdaEvent::new(event, Context::default());
        if self.runtime.block_on(smartscale_spot_handler::handle(event, &self.spot)).is_err() {
            // EventBridge retries, then dead-letters.
            self.summary.dlq_messages += 1;
        }
        Ok(())
    }

    /// With `--ice-rate`, each hour one AZ's Spot pool may be out of capacity for the hour.
    fn inject_capacity_shortage(&mut self, step: i64, now: DateTime<Utc>) {
        if self.config.ice_rate <= 0.0 || now.timestamp() % 3600 != 0 {
            return;
        }
        let hour = step as u64 / 240;
        for zone in ZONES {
            self.ports.fleet.make_available("t3.small", zone, Lifecycle::Spot);
        }
        if self.chance(hour.wrapping_mul(0xA5A5_A5A5)) < self.config.ice_rate {
            let zone = ZONES[(hour % 2) as usize];
            self.ports.fleet.make_unavailable("t3.small", zone, Lifecycle::Spot);
        }
    }

    /// Metrics for the decider, the PDB's allowance, cost, shortfall and the timeline.
    fn account(
        &mut self,
        step: i64,
        now: DateTime<Utc>,
        desired: u64,
        replicas: Replicas,
        nodes: &[Node],
        instances: &[Instance],
    ) {
        let step_h = self.config.step_s() as f64 / 3600.0;
        let ready = metrics::ready_workers(nodes);
        let sample = metrics::sample(
            now,
            self.demand.load[step as usize],
            self.config.peak_nodes,
            desired,
            &ready,
            replicas,
            &self.ports.cluster,
        );
        self.metrics.push(sample);

        // The PDB allows one replica down while every desired replica is running.
        let allowed = replicas.running >= desired && replicas.evicting == 0;
        self.ports.cluster.set_disruptions_allowed(APP_NAMESPACE, "api", i32::from(allowed));
        if replicas.evicting > 1 {
            self.summary.pdb_violations += 1;
        }
        if now.timestamp() % 3600 == 0 {
            // The decider looks back an hour at most (the fit check's stabilization window).
            self.metrics.prune_before(now - Duration::hours(2));
            self.ports.fleet.forget_terminated();
            let live: Vec<String> = self.ports.fleet.instances().into_iter().map(|i| i.instance_id).collect();
            self.boots.retain(|id, _| live.contains(id));
        }

        let active: Vec<&Instance> = instances.iter().filter(|i| i.state.is_active()).collect();
        for i in &active {
            let price = pricing::per_hour(&i.instance_type, i.lifecycle, pricing::DEFAULT_SPOT_DISCOUNT)
                .expect("every launchable instance type was checked for a price when the world was built");
            self.summary.cost_usd += price * step_h;
        }
        self.summary.node_hours += active.len() as f64 * step_h;
        self.summary.max_nodes_seen = self.summary.max_nodes_seen.max(active.len() as u32);
        self.summary.total_pod_minutes += desired as f64 * step_h * 60.0;
        self.summary.unschedulable_pod_minutes += replicas.pending as f64 * step_h * 60.0;
        self.spells.observe(step * self.config.step_s(), replicas.pending > 0);
        let schedulable = ready.iter().filter(|n| !n.unschedulable).count() as u64;
        self.timeline.observe(
            step,
            Point {
                hour: hours(self.config, now),
                demand_pods: desired,
                capacity_pods: schedulable * pods_per_node(),
                nodes: active.len() as u32,
                pending_pods: replicas.pending,
                cumulative_cost_usd: self.summary.cost_usd,
            },
        );
    }

    fn mark(&mut self, now: DateTime<Utc>, kind: EventKind) {
        self.timeline.events.push(Event { hour: hours(self.config, now), kind });
    }

    /// Hands the visible messages of a queue to its worker, as the SQS event source does; a
    /// message the worker reports failed counts as dead-lettered.
    fn deliver(&mut self, queue: QueueName, now: DateTime<Utc>) -> Result<()> {
        let due = self.ports.queue.take_visible(queue);
        if due.is_empty() {
            return Ok(());
        }
        for m in &due {
            if let WorkMessage::ScaleUpRequest(request) = m.message() {
                if !request.decision_id.starts_with("spot-") {
                    self.mark(now, EventKind::ScaleUp);
                }
            }
        }
        let event = smartscale_lambda::sqs_event(due.iter().map(|m| m.body.clone()));
        let response = match queue {
            QueueName::ScaleUp => self.runtime.block_on(smartscale_scale_up_worker::handle(event, &self.scale_up)),
            QueueName::Drain => self.runtime.block_on(smartscale_drain_worker::handle(event, &self.drain)),
        };
        match response {
            Ok(r) => self.summary.dlq_messages += r.batch_item_failures.len() as u32,
            Err(_) => self.summary.dlq_messages += due.len() as u32,
        }
        Ok(())
    }

    /// New SNS notifications go to the real Slack forwarder; completed scale-downs that were
    /// not Spot drains are the timeline's scale-down events.
    fn forward_notifications(&mut self, now: DateTime<Utc>) -> Result<()> {
        let published = self.ports.notifier.published_since(self.notifications_seen);
        self.notifications_seen += published.len();
        for notification in published {
            if let smartscale_core::notification::NotificationEvent::ScaleDownCompleted { decision_id, .. } =
                &notification.event
            {
                if !decision_id.starts_with("spot-") {
                    self.mark(now, EventKind::ScaleDown);
                }
            }
            let event = sns_event(&notification.encode(), now)?;
            match self.runtime.block_on(smartscale_slack_forwarder::handle(event, &self.slack)) {
                Ok(()) => self.summary.slack_messages += 1,
                Err(_) => self.summary.dlq_messages += 1,
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> Run {
        let end_s = self.config.steps() * self.config.step_s();
        self.spells.close(end_s);
        let s = &mut self.summary;
        s.days = f64::from(self.config.days);
        s.max_pending_duration_s = self.spells.max_s();
        s.p95_time_to_capacity_s = self.spells.p95_s();
        s.scale_ups = self.timeline.count(EventKind::ScaleUp);
        s.scale_downs = self.timeline.count(EventKind::ScaleDown);
        s.thrash_events = self.timeline.thrash_events(0.25);
        self.references.fill(s);
        s.finish();
        Run { summary: self.summary, timeline: self.timeline }
    }
}

fn hours(config: &SimConfig, now: DateTime<Utc>) -> f64 {
    (now - config.start).num_seconds() as f64 / 3600.0
}

/// The scale-up configuration, once every instance type it may launch has a price: an unpriced
/// instance would silently cost nothing.
fn priced(config: ScaleUpConfig) -> Result<ScaleUpConfig> {
    match config.instance_types.iter().find(|t| pricing::on_demand_per_hour(t).is_none()) {
        Some(t) => Err(Error::config("INSTANCE_TYPES", format!("the simulator has no price for {t}"))),
        None => Ok(config),
    }
}

/// A stable key for per-instance draws.
fn hash(text: &str) -> u64 {
    text.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
}

fn scheduled_event(now: DateTime<Utc>) -> Result<LambdaEvent<aws_lambda_events::event::eventbridge::EventBridgeEvent>> {
    let event = json!({
        "version": "0", "id": format!("sim-{}", now.timestamp()), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": now.to_rfc3339(), "region": "us-east-1",
        "resources": [], "detail": {}
    });
    let event = serde_json::from_value(event).map_err(|e| Error::invalid("event", e.to_string()))?;
    Ok(LambdaEvent::new(event, Context::default()))
}

/// An EC2 event as EventBridge delivers it.
fn ec2_event(now: DateTime<Utc>, detail_type: &str, instance_id: &str, detail: Value) -> Value {
    json!({
        "version": "0", "id": format!("{detail_type}-{instance_id}-{}", now.timestamp()), "detail-type": detail_type,
        "source": "aws.ec2", "account": "123456789012", "time": now.to_rfc3339(), "region": "us-east-1",
        "resources": [format!("arn:aws:ec2:us-east-1:123456789012:instance/{instance_id}")], "detail": detail
    })
}

fn sns_event(message: &str, now: DateTime<Utc>) -> Result<LambdaEvent<aws_lambda_events::event::sns::SnsEvent>> {
    let event = json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:smartscale:sim",
        "Sns": {
            "Type": "Notification", "MessageId": format!("sim-{}", now.timestamp()), "TopicArn": "arn:aws:sns:us-east-1:123456789012:smartscale",
            "Subject": null, "Message": message, "Timestamp": now.to_rfc3339(), "SignatureVersion": "1",
            "Signature": "", "SigningCertUrl": "", "UnsubscribeUrl": "", "MessageAttributes": {}
        }
    }]});
    let event = serde_json::from_value(event).map_err(|e| Error::invalid("sns event", e.to_string()))?;
    Ok(LambdaEvent::new(event, Context::default()))
}
