//! The world the handlers act on, stepped every 15 s: EC2 instances boot and join, the app's
//! replicas follow the load, a scheduler binds them by requests, metrics are derived from
//! demand against ready capacity, and the real handlers run on the EventBridge schedule and on
//! whatever their queues deliver.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use smartscale_core::config::MapConfig;
use smartscale_core::fakes::{
    FakeClock, FakeCluster, FakeFleet, FakeMetrics, FakeMetricsSink, FakeNotifier, FakeQueue, FakeStateStore,
};
use smartscale_core::messages::QueueName;
use smartscale_core::metrics::Sample;
use smartscale_core::ports::{
    Clock, Instance, InstanceState, Lifecycle, Node, OwnerRef, Pdb, Pod, PodPhase, Resources,
};
use smartscale_core::workload::{ecommerce_week, splitmix64};
use smartscale_core::{pricing, Error, Result};
use smartscale_decider::DeciderConfig;
use smartscale_drain_worker::DrainConfig;
use smartscale_lambda::WorkerDeps;
use smartscale_scale_up_worker::ScaleUpConfig;

use crate::model::*;

const CLUSTER: &str = "sim";
const DECIDER_EVERY_S: i64 = 120;
const APP_NAMESPACE: &str = "shop";
const SUBNETS: &str = "subnet-a:us-east-1a,subnet-b:us-east-1b";

type Decider = smartscale_decider::Deps<
    FakeStateStore,
    FakeMetrics,
    FakeFleet,
    FakeQueue,
    FakeNotifier,
    FakeClock,
    FakeMetricsSink,
>;
type ScaleUp = smartscale_scale_up_worker::Deps<
    FakeFleet,
    FakeCluster,
    FakeStateStore,
    FakeQueue,
    FakeNotifier,
    FakeClock,
    FakeMetricsSink,
>;
type Drain = smartscale_drain_worker::Deps<
    FakeFleet,
    FakeCluster,
    FakeStateStore,
    FakeQueue,
    FakeNotifier,
    FakeClock,
    FakeMetricsSink,
>;

/// The in-memory ports every worker shares; only their configuration differs.
struct Ports {
    fleet: FakeFleet,
    cluster: FakeCluster,
    state: FakeStateStore,
    queue: FakeQueue,
    notifier: FakeNotifier,
    clock: FakeClock,
    sink: FakeMetricsSink,
}

impl Ports {
    fn worker<Cfg>(
        &self,
        config: Cfg,
    ) -> WorkerDeps<Cfg, FakeFleet, FakeCluster, FakeStateStore, FakeQueue, FakeNotifier, FakeClock, FakeMetricsSink>
    {
        WorkerDeps {
            config,
            fleet: self.fleet.clone(),
            cluster: self.cluster.clone(),
            state: self.state.clone(),
            queue: self.queue.clone(),
            notifier: self.notifier.clone(),
            clock: self.clock.clone(),
            sink: self.sink.clone(),
        }
    }
}

/// App replicas by state after a step's scheduling.
#[derive(Debug, Clone, Copy, Default)]
struct Replicas {
    running: u64,
    evicting: u64,
    pending: u64,
    lost: u32,
}

struct World {
    config: SimConfig,
    runtime: tokio::runtime::Runtime,
    clock: FakeClock,
    fleet: FakeFleet,
    cluster: FakeCluster,
    queue: FakeQueue,
    notifier: FakeNotifier,
    metrics: FakeMetrics,
    decider: Decider,
    scale_up: ScaleUp,
    drain: Drain,
    /// Instance id → (running at, joined at), drawn when the instance is first seen.
    boots: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)>,
    peak_pods: f64,
    trace_peak: f64,
    next_pod: u64,
    pending_since: Option<DateTime<Utc>>,
    summary: Summary,
}

/// Runs one simulation with SmartScale's own handlers and default policy.
pub fn run(config: SimConfig) -> Result<Summary> {
    let mut world = World::new(config)?;
    let steps = i64::from(world.config.days) * 86_400 / world.config.step_s();
    for step in 0..steps {
        world.step(step)?;
    }
    Ok(world.finish())
}

fn shared_config() -> MapConfig {
    MapConfig::new().with("CLUSTER_ID", CLUSTER).with("SUBNETS", SUBNETS)
}

impl World {
    fn new(config: SimConfig) -> Result<World> {
        let clock = FakeClock::new(config.start);
        let fleet = FakeFleet::new(CLUSTER, clock.clone());
        let cluster = FakeCluster::new(clock.clone());
        let state = FakeStateStore::new();
        let queue = FakeQueue::new(clock.clone());
        let notifier = FakeNotifier::new();
        let metrics = FakeMetrics::default();
        let sink = FakeMetricsSink::new();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| Error::rejected("simulator", e.to_string()))?;
        let source = shared_config();
        let decider = Decider {
            config: DeciderConfig::from_config(&source)?,
            state: state.clone(),
            metrics: metrics.clone(),
            fleet: fleet.clone(),
            queue: queue.clone(),
            notifier: notifier.clone(),
            clock: clock.clone(),
            sink: sink.clone(),
        };
        let ports = Ports {
            fleet: fleet.clone(),
            cluster: cluster.clone(),
            state: state.clone(),
            queue: queue.clone(),
            notifier: notifier.clone(),
            clock: clock.clone(),
            sink: sink.clone(),
        };
        let scale_up: ScaleUp = ports.worker(ScaleUpConfig::from_config(&source)?);
        let drain: Drain = ports.worker(DrainConfig::from_config(&source)?);
        let peak_pods = f64::from(config.peak_nodes) * pods_per_node() as f64;
        let trace_peak = config.trace.as_ref().map(|t| t.peak()).unwrap_or(1.0).max(f64::MIN_POSITIVE);
        let mut world = World {
            config,
            runtime,
            clock,
            fleet,
            cluster,
            queue,
            notifier,
            metrics,
            decider,
            scale_up,
            drain,
            boots: BTreeMap::new(),
            peak_pods,
            trace_peak,
            next_pod: 0,
            pending_since: None,
            summary: Summary { policy: "smartscale".into(), ..Summary::default() },
        };
        world.seed();
        Ok(world)
    }

    /// The control plane and the min_nodes floor, running and joined at the start.
    fn seed(&mut self) {
        let master = Node {
            name: "k3s-master".into(),
            zone: Some("us-east-1a".into()),
            ready: true,
            unschedulable: true,
            labels: [("node-role.kubernetes.io/control-plane".to_string(), "true".to_string())].into(),
            ..Default::default()
        };
        self.cluster.add_node(master);
        for az in ["us-east-1a", "us-east-1b"] {
            let instance = self.fleet.add_running("t3.small", az, Lifecycle::OnDemand);
            self.join(&instance);
        }
        self.cluster.add_pdb(Pdb {
            namespace: APP_NAMESPACE.into(),
            name: "api".into(),
            match_labels: [("app".to_string(), "api".to_string())].into(),
            disruptions_allowed: 1,
        });
    }

    /// The instance registers as a Ready node, with its DaemonSet pod.
    fn join(&self, instance: &Instance) {
        let name = instance.private_dns_name.clone().unwrap_or_else(|| instance.instance_id.clone());
        self.cluster.add_node(Node {
            name: name.clone(),
            zone: Some(instance.availability_zone.clone()),
            instance_id: Some(instance.instance_id.clone()),
            provider_id: Some(format!("aws:///{}/{}", instance.availability_zone, instance.instance_id)),
            ready: true,
            allocatable: Resources { cpu_millis: NODE_CPU_MILLIS, memory_bytes: NODE_MEMORY_BYTES },
            labels: [("topology.kubernetes.io/zone".to_string(), instance.availability_zone.clone())].into(),
            created_at: Some(self.clock.now()),
            ..Default::default()
        });
        self.cluster.add_pod(Pod {
            namespace: "monitoring".into(),
            name: format!("node-exporter-{name}"),
            node: Some(name),
            owner: Some(OwnerRef { kind: "DaemonSet".into(), name: "node-exporter".into() }),
            requests: Resources { cpu_millis: DAEMONSET_CPU_MILLIS, memory_bytes: DAEMONSET_MEMORY_BYTES },
            phase: PodPhase::Running,
            ready: true,
            ..Default::default()
        });
    }

    fn random(&self, key: u64, low: i64, high: i64) -> i64 {
        low + (splitmix64(self.config.seed ^ key) % (high - low + 1) as u64) as i64
    }

    /// Demand as a share of the peak, 0–1.
    fn load(&self, at: DateTime<Utc>) -> f64 {
        match &self.config.trace {
            Some(trace) => {
                // Replay the trace from its start, aligned to the simulation's start.
                let offset = at - self.config.start;
                trace.value_at(trace.start() + offset) / self.trace_peak
            }
            None => ecommerce_week(at, self.config.seed),
        }
    }

    fn step(&mut self, step: i64) -> Result<()> {
        let now = self.config.start + Duration::seconds(step * self.config.step_s());
        self.clock.set(now);
        self.advance_instances(now);
        let load = self.load(now);
        let desired = ((load * self.peak_pods).ceil() as u64).max(1);
        let replicas = self.reconcile_and_schedule(desired);
        self.account(now, desired, load, replicas);
        if step % (DECIDER_EVERY_S / self.config.step_s()) == 0 {
            self.invoke_decider(now)?;
        }
        self.deliver(QueueName::ScaleUp)?;
        self.deliver(QueueName::Drain)?;
        Ok(())
    }

    /// Pending instances boot (45–90 s) and join (30–60 s more).
    fn advance_instances(&mut self, now: DateTime<Utc>) {
        let registered: Vec<String> = self.cluster.nodes().into_iter().filter_map(|n| n.instance_id).collect();
        for instance in self.fleet.instances() {
            if !instance.state.is_active() {
                continue;
            }
            let key = instance.instance_id.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
            let launched = instance.launched_at.unwrap_or(now);
            let boot = self.random(key, 45, 90);
            let join = self.random(key.rotate_left(17), 30, 60);
            let (running_at, join_at) = *self
                .boots
                .entry(instance.instance_id.clone())
                .or_insert((launched + Duration::seconds(boot), launched + Duration::seconds(boot + join)));
            if instance.state == InstanceState::Pending && now >= running_at {
                self.fleet.set_state(&instance.instance_id, InstanceState::Running);
            }
            if now >= join_at && !registered.contains(&instance.instance_id) {
                self.join(&instance);
            }
        }
    }

    /// The ReplicaSet and the scheduler, in place on the cluster's pods: add pending replicas up
    /// to `desired` (or remove the newest beyond it, pending ones first), count a replica whose
    /// node vanished while it ran as lost, and bind pending replicas first-fit by requests to
    /// Ready, schedulable nodes.
    fn reconcile_and_schedule(&mut self, desired: u64) -> Replicas {
        let nodes: Vec<Node> = self.cluster.nodes().into_iter().filter(|n| n.ready).collect();
        let mut next_pod = self.next_pod;
        let replicas = self.cluster.with_pods(|pods| {
            let mut live: Vec<(bool, u64, String)> = pods
                .values()
                .filter(|p| p.namespace == APP_NAMESPACE && !p.terminating)
                .map(|p| (p.node.is_some(), p.name.trim_start_matches("api-").parse().unwrap_or(0), p.key()))
                .collect();
            let count = live.len() as u64;
            if count < desired {
                for _ in count..desired {
                    next_pod += 1;
                    let pod = Pod {
                        namespace: APP_NAMESPACE.into(),
                        name: format!("api-{next_pod}"),
                        labels: [("app".to_string(), "api".to_string())].into(),
                        owner: Some(OwnerRef { kind: "ReplicaSet".into(), name: "api".into() }),
                        requests: Resources { cpu_millis: POD_CPU_MILLIS, memory_bytes: POD_MEMORY_BYTES },
                        phase: PodPhase::Pending,
                        termination_grace_s: Some(30),
                        ..Default::default()
                    };
                    pods.insert(pod.key(), pod);
                }
            } else if count > desired {
                live.sort_by_key(|(bound, n, _)| (*bound, std::cmp::Reverse(*n)));
                for (_, _, key) in live.iter().take((count - desired) as usize) {
                    pods.remove(key);
                }
            }

            let mut free: BTreeMap<&str, (u64, u64)> = nodes
                .iter()
                .filter(|n| !n.unschedulable)
                .map(|n| (n.name.as_str(), (n.allocatable.cpu_millis, n.allocatable.memory_bytes)))
                .collect();
            for pod in pods.values() {
                if let Some(f) = pod.node.as_deref().and_then(|n| free.get_mut(n)) {
                    f.0 = f.0.saturating_sub(pod.requests.cpu_millis);
                    f.1 = f.1.saturating_sub(pod.requests.memory_bytes);
                }
            }
            let mut replicas = Replicas::default();
            for pod in pods.values_mut().filter(|p| p.namespace == APP_NAMESPACE) {
                if pod.terminating {
                    replicas.evicting += 1;
                    continue;
                }
                if let Some(node) = &pod.node {
                    if nodes.iter().any(|n| &n.name == node) {
                        replicas.running += 1;
                        continue;
                    }
                    replicas.lost += 1;
                    pod.node = None;
                    pod.phase = PodPhase::Pending;
                    pod.ready = false;
                }
                match free.iter_mut().find(|(_, f)| f.0 >= pod.requests.cpu_millis && f.1 >= pod.requests.memory_bytes)
                {
                    Some((name, f)) => {
                        f.0 -= pod.requests.cpu_millis;
                        f.1 -= pod.requests.memory_bytes;
                        pod.node = Some(name.to_string());
                        pod.phase = PodPhase::Running;
                        pod.ready = true;
                        replicas.running += 1;
                    }
                    None => replicas.pending += 1,
                }
            }
            replicas
        });
        self.next_pod = next_pod;
        self.summary.pods_lost += replicas.lost;
        replicas
    }

    /// Metrics for the decider, the PDB's allowance, cost and shortfall.
    fn account(&mut self, now: DateTime<Utc>, desired: u64, load: f64, replicas: Replicas) {
        let step_h = self.config.step_s() as f64 / 3600.0;
        let Replicas { running, evicting, pending, .. } = replicas;
        let ready: Vec<Node> = self
            .cluster
            .nodes()
            .into_iter()
            .filter(|n| n.ready && !n.labels.contains_key("node-role.kubernetes.io/control-plane"))
            .collect();
        let cpu_capacity: u64 = ready.iter().map(|n| n.allocatable.cpu_millis).sum();
        let memory_capacity: u64 = ready.iter().map(|n| n.allocatable.memory_bytes).sum();

        // The PDB allows one replica down while every desired replica is running.
        self.cluster.set_disruptions_allowed(APP_NAMESPACE, "api", i32::from(running >= desired && evicting == 0));
        if evicting > 1 {
            self.summary.pdb_violations += 1;
        }

        // A replica uses 80 % of its CPU request at full demand and 70 % of its memory request
        // (a typical working set); the daemons use their requests.
        let demand_cpu =
            load * self.peak_pods * POD_CPU_MILLIS as f64 * 0.8 + ready.len() as f64 * DAEMONSET_CPU_MILLIS as f64;
        let used_memory =
            running as f64 * POD_MEMORY_BYTES as f64 * 0.7 + (ready.len() as u64 * DAEMONSET_MEMORY_BYTES) as f64;
        let overload = if running == 0 { 4.0 } else { (desired as f64 / running as f64 - 1.0).max(0.0) };
        let share = |used: f64, total: u64| if total == 0 { 100.0 } else { (used / total as f64 * 100.0).min(100.0) };
        self.metrics.push(Sample {
            at: now,
            cpu_pct: Some(share(demand_cpu, cpu_capacity)),
            mem_pct: Some(share(used_memory, memory_capacity)),
            pending_pods: Some(pending as u32),
            queue_depth: None,
            p95_latency_s: Some(0.25 * (1.0 + 4.0 * overload)),
            error_rate_pct: Some((overload * 10.0).min(100.0)),
        });
        if now.timestamp() % 3600 == 0 {
            self.metrics.prune_before(now - Duration::hours(1));
            self.fleet.forget_terminated();
            let live: Vec<String> = self.fleet.instances().into_iter().map(|i| i.instance_id).collect();
            self.boots.retain(|id, _| live.contains(id));
        }

        let active: Vec<Instance> = self.fleet.instances().into_iter().filter(|i| i.state.is_active()).collect();
        for i in &active {
            self.summary.cost_usd += pricing::per_hour(&i.instance_type, i.lifecycle, pricing::DEFAULT_SPOT_DISCOUNT)
                .unwrap_or(0.0)
                * step_h;
        }
        self.summary.node_hours += active.len() as f64 * step_h;
        self.summary.max_nodes_seen = self.summary.max_nodes_seen.max(active.len() as u32);
        self.summary.total_pod_minutes += desired as f64 * step_h * 60.0;
        let floor = self.decider.config.policy.min_nodes;
        let needed = nodes_for(desired).max(floor);
        self.summary.oracle_cost_usd += fleet_price_per_hour(needed, floor, self.scale_up.config.spot_share) * step_h;
        self.summary.static_nodes = self.summary.static_nodes.max(needed);
        self.summary.unschedulable_pod_minutes += pending as f64 * step_h * 60.0;
        match (pending > 0, self.pending_since) {
            (true, None) => self.pending_since = Some(now),
            (true, Some(since)) => {
                self.summary.max_pending_duration_s =
                    self.summary.max_pending_duration_s.max((now - since).num_seconds())
            }
            (false, _) => self.pending_since = None,
        }
    }

    fn invoke_decider(&mut self, now: DateTime<Utc>) -> Result<()> {
        let event = json!({
            "version": "0", "id": format!("sim-{}", now.timestamp()), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": now.to_rfc3339(), "region": "us-east-1",
            "resources": [], "detail": {}
        });
        let event = LambdaEvent::new(
            serde_json::from_value(event).map_err(|e| Error::invalid("event", e.to_string()))?,
            Context::default(),
        );
        // A failed run is retried by the next tick, as the schedule would.
        let _ = self.runtime.block_on(smartscale_decider::handle(event, &self.decider));
        Ok(())
    }

    /// Hands the visible messages of a queue to its worker; a failed message counts as
    /// dead-lettered.
    fn deliver(&mut self, queue: QueueName) -> Result<()> {
        let due = self.queue.take_visible(queue);
        if due.is_empty() {
            return Ok(());
        }
        let records: Vec<serde_json::Value> =
            due.iter().enumerate().map(|(i, m)| json!({"messageId": format!("m{i}"), "body": m.body, "attributes": {"ApproximateReceiveCount": "1"}})).collect();
        let event = serde_json::from_value(json!({ "Records": records }))
            .map_err(|e| Error::invalid("event", e.to_string()))?;
        let event = LambdaEvent::new(event, Context::default());
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

    fn finish(mut self) -> Summary {
        let kinds = self.notifier.kinds();
        self.summary.scale_ups = kinds.iter().filter(|k| **k == "scale_up_started").count() as u32;
        self.summary.scale_downs = kinds.iter().filter(|k| **k == "scale_down_completed").count() as u32;
        self.summary.days = f64::from(self.config.days);
        let hours = self.summary.days * 24.0;
        self.summary.static_cost_usd =
            fleet_price_per_hour(self.summary.static_nodes, self.summary.static_nodes, 0.0) * hours;
        self.summary.savings_vs_static_pct = (1.0 - self.summary.cost_usd / self.summary.static_cost_usd) * 100.0;
        self.summary.cost_vs_oracle = self.summary.cost_usd / self.summary.oracle_cost_usd;
        self.summary
    }
}
