//! The world the handlers act on, stepped every 15 s: EC2 instances boot and join, the app's
//! replicas follow the load, a scheduler binds them by requests, metrics are derived from
//! demand against ready capacity, and the real handlers run on the EventBridge schedule, on
//! whatever their queues deliver, on EC2's Spot events and on every SNS notification.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::workload::splitmix64;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use smartscale_core::config::MapConfig;
use smartscale_core::fakes::{ClusterOp, DemandOp, FakeMetrics, FetchOp, StateOp, StopAfter};
use smartscale_core::forecast::{DemandSample, NodeSize, PredictiveConfig, PredictiveMode, STEP_S};
use smartscale_core::messages::{QueueName, WorkMessage};
use smartscale_core::notification::{FailureType, NotificationEvent};
use smartscale_core::ports::{Instance, InstanceState, Lifecycle, Node, StateStore, WorkQueue};
use smartscale_core::state::LockOutcome;
use smartscale_core::{pricing, Error, Result};
use smartscale_drain_worker::DrainConfig;
use smartscale_scale_up_worker::ScaleUpConfig;
use smartscale_slack_forwarder::RecordingSlack;
use smartscale_spot_handler::SpotConfig;

use crate::ca_like::{self, CaLike};
use crate::demand::Demand;
use crate::fast_path::{self, AlertRoute};
use crate::faults::{FaultKind, FaultPlan, NODE_NOT_READY_MINUTES, PROMETHEUS_OUTAGE_MINUTES};
use crate::forecast_tally::ForecastTally;
use crate::metrics::{self, Replicas};
use crate::model::*;
use crate::ports::{Decider, Deps, Ports, APP_NAMESPACE, SUBNETS, ZONES};
use crate::references::References;
use crate::scrape::Prometheus;
use crate::settings::HandlerConfigs;
use crate::timeline::{self, Event, EventKind, PendingSpells, Point, Timeline};
use crate::windows::WindowCounter;

pub(crate) const CLUSTER: &str = "sim";
const DECIDER_EVERY_S: i64 = 120;
/// EC2 reclaims a Spot instance two minutes after the warning.
const SPOT_WARNING_S: i64 = 120;
/// The work queues' redrive policy and visibility timeout (infra/template.yaml).
const MAX_RECEIVES: u32 = 5;
const VISIBILITY_TIMEOUT_S: i64 = 360;
/// An instance with no node this long after its join deadline is an orphan. Two visibility
/// timeouts: a join check that two injected Lambda timeouts delay (each returns the message to
/// the queue for `VISIBILITY_TIMEOUT_S`) still terminates its never-joined instance, later.
const ORPHAN_GRACE_S: i64 = 2 * VISIBILITY_TIMEOUT_S;
/// Draw keys, one per kind of draw, so that no two draws share a key.
const KEY_JOIN: u64 = 0x4A01_4E00;
const KEY_OUTAGE: u64 = 0x0D7A_6E00;
const KEY_NOT_READY: u64 = 0x0E0D_7E00;
const KEY_INVOCATION: u64 = 0x1417_0C00;
const KEY_SCRAPE: u64 = 0x5C4A_9E00;
/// Prometheus' retention in the cluster's manifests: the demand history the decider can read.
pub(crate) const HISTORY_RETENTION_DAYS: i64 = 14;

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
    // SmartScale's fast path: Alertmanager's alert reaches the decider through SNS
    // (`--set FAST_PATH_TOPIC_ARN=` switches it off). The seeds have none.
    let smartscale = matches!(config.policy, PolicyName::Smartscale | PolicyName::Predictive);
    if smartscale && !config.settings.iter().any(|(k, _)| k == "FAST_PATH_TOPIC_ARN") {
        base = base.with("FAST_PATH_TOPIC_ARN", fast_path::TOPIC_ARN);
    }
    match config.policy {
        PolicyName::ReactiveSeed => base
            .with("SCALE_UP_SIZE_BY_PENDING_REQUESTS", "false")
            .with("SCALE_UP_PENDING_PODS_WINDOW", "180")
            .with("SCALE_DOWN_FIT_CHECK", "false")
            .with("SCALE_DOWN_CONSOLIDATE_BY_REQUESTS", "false")
            .with("DRAIN_CANDIDATE", "fewest_pods"),
        // The same as `smartscale` with the forecast acting, whatever `--set` says of the mode.
        PolicyName::Predictive => base.with(PredictiveConfig::MODE, PredictiveMode::Active.as_str()),
        _ => base,
    }
}

/// One policy's run: its summary and what it looked like over time.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub summary: Summary,
    pub timeline: Timeline,
    /// The weekly cost reports the real report handler made (Mondays 09:00 UTC).
    pub cost_reports: Vec<WeeklyReport>,
}

/// One weekly cost report, as production would post it, beside the simulator's own cost
/// accounting over the same week (they must agree: the report reads the ledger the workers
/// wrote, the simulator counts every active instance every step).
#[derive(Debug, Clone, PartialEq)]
pub struct WeeklyReport {
    pub report: smartscale_core::cost_report::CostReport,
    pub simulated_cost_usd: f64,
}

/// The cost report handler on the world's fakes (also `invoke cost-report`'s).
pub(crate) type CostReportDeps = smartscale_cost_report::Deps<
    smartscale_core::fakes::FakeStateStore,
    smartscale_core::fakes::FakeFleet,
    FakeMetrics,
    smartscale_cost_report::RecordingPublisher,
    smartscale_core::fakes::FakeClock,
>;

pub struct World<'a> {
    config: &'a SimConfig,
    demand: &'a Demand,
    references: &'a References,
    runtime: tokio::runtime::Runtime,
    ports: Ports,
    metrics: FakeMetrics,
    /// The scraped metrics the decider's queries read (`--metrics prometheus`); `None` for the
    /// ideal model and for the policies that read no metrics.
    prometheus: Option<Prometheus>,
    /// The unschedulable pods the latest scrape shows (what the fast path's rule reads).
    scraped_unschedulable: Option<u32>,
    /// Alertmanager's route for the fast path, when the decider has one.
    fast_path: Option<AlertRoute>,
    /// The weekly cost report, for the policies whose fleet the workers run.
    cost_report: Option<CostReportDeps>,
    /// The simulator's cumulative cost at each Monday 09:00, and the reports made so far.
    cost_marks: BTreeMap<DateTime<Utc>, f64>,
    cost_reports: Vec<WeeklyReport>,
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
    faults: FaultPlan,
    /// The injected Prometheus outage in progress, until when.
    outage_until: Option<DateTime<Utc>>,
    /// Nodes made NotReady by a fault, until when.
    not_ready_until: BTreeMap<String, DateTime<Utc>>,
    /// Instances drawn never to register a node, and the launches (decision ids) they belong to.
    never_join: BTreeSet<String>,
    failed_launches: BTreeSet<String>,
    orphans: BTreeSet<String>,
    /// Receives per message body, for the redrive policy.
    receives: BTreeMap<String, u32>,
    /// Handler invocations so far: the key of per-invocation draws.
    invocations: u64,
    join_deadline_s: i64,
    /// Decision ids of the scale-up requests delivered so far.
    scale_ups_seen: BTreeSet<String>,
    spells: PendingSpells,
    /// Seconds from launch to the node's registration, per instance launched during the run.
    launch_to_ready_s: Vec<i64>,
    summary: Summary,
    timeline: Timeline,
    copies: Copies,
    /// The decider's demand unit (one new node's allocatable), for the demand history the world
    /// records every 5 minutes; `None` for the policies without a decider.
    demand_node: Option<NodeSize>,
    /// The demand (nodes) of the latest scrape: what `query_range` reads at a step's instant.
    scraped_demand: Option<f64>,
    windows: WindowCounter,
    forecast: ForecastTally,
}

/// The world's copies of the nodes and instances, taken again only when the fakes' generation
/// says something changed: copying them every step was half of a run's time.
#[derive(Default)]
struct Copies {
    node_generation: Option<u64>,
    nodes: Rc<Vec<Node>>,
    instance_generation: Option<u64>,
    instances: Rc<Vec<Instance>>,
    /// The active ones among `instances`, for the CA-like scan.
    active: Rc<Vec<Instance>>,
}

impl<'a> World<'a> {
    pub fn new(config: &'a SimConfig, demand: &'a Demand, references: &'a References) -> Result<World<'a>> {
        let ports = Ports::new(CLUSTER, config.start);
        ports.stop_recording();
        ports.fleet.set_instance_limit(config.instance_quota);
        let metrics = FakeMetrics::default();
        metrics.calls.turn_off();
        metrics.demand_calls.turn_off();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| Error::rejected("simulator", e.to_string()))?;
        let handlers = HandlerConfigs::read(&handler_config(config), &config.settings)?;
        let decider_config = handlers.decider;
        let fast_path = decider_config.fast_path_topic_arn.is_some().then(AlertRoute::default);
        let demand_node = smartscale_decider::predictive::node_size(&decider_config);
        let (min_nodes, max_nodes) = (decider_config.policy.min_nodes, decider_config.policy.max_nodes);
        let join_deadline_s = i64::from(handlers.scale_up.join_timeout_s) + ORPHAN_GRACE_S;
        let controller = match config.policy {
            PolicyName::Smartscale | PolicyName::Predictive | PolicyName::ReactiveSeed => {
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
        let cost_report = match controller {
            Controller::Fixed => None,
            _ => Some(smartscale_cost_report::Deps {
                config: smartscale_cost_report::CostReportConfig::from_config(&handler_config(config))?,
                state: ports.state.clone(),
                fleet: ports.fleet.clone(),
                metrics: metrics.clone(),
                publisher: smartscale_cost_report::RecordingPublisher::default(),
                clock: ports.clock.clone(),
            }),
        };
        let has_decider = matches!(controller, Controller::Decider(_));
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
            prometheus: (config.metrics == MetricsModel::Prometheus && matches!(controller, Controller::Decider(_)))
                .then(Prometheus::default),
            scraped_unschedulable: None,
            fast_path,
            cost_report,
            cost_marks: BTreeMap::new(),
            cost_reports: Vec::new(),
            controller,
            min_nodes,
            max_nodes,
            boots: BTreeMap::new(),
            reclaims: BTreeMap::new(),
            reclaimed_nodes: BTreeSet::new(),
            notifications_seen: 0,
            next_pod: 0,
            faults: config.faults.clone(),
            outage_until: None,
            not_ready_until: BTreeMap::new(),
            never_join: BTreeSet::new(),
            failed_launches: BTreeSet::new(),
            orphans: BTreeSet::new(),
            receives: BTreeMap::new(),
            invocations: 0,
            join_deadline_s,
            scale_ups_seen: BTreeSet::new(),
            spells: PendingSpells::default(),
            launch_to_ready_s: Vec::new(),
            summary: Summary { policy: config.policy.as_str().into(), ..Summary::default() },
            timeline: Timeline::default(),
            copies: Copies::default(),
            demand_node: has_decider.then_some(demand_node),
            scraped_demand: None,
            // The demand's own origin, not the flags: a cluster's history (backtest) has no trace
            // flag either, and its windows are not the synthetic week's.
            windows: match demand.window.trace {
                None => WindowCounter::synthetic_week(config.start),
                Some(_) => WindowCounter::default(),
            },
            forecast: ForecastTally::default(),
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

    /// The cluster's nodes now (a shared copy, taken again only after a change).
    fn nodes(&mut self) -> Rc<Vec<Node>> {
        let generation = self.ports.cluster.node_generation();
        if self.copies.node_generation != Some(generation) {
            self.copies.nodes = Rc::new(self.ports.cluster.nodes());
            self.copies.node_generation = Some(generation);
        }
        Rc::clone(&self.copies.nodes)
    }

    /// EC2's instances now (a shared copy, taken again only after a change).
    fn instances(&mut self) -> Rc<Vec<Instance>> {
        let generation = self.ports.fleet.generation();
        if self.copies.instance_generation != Some(generation) {
            let instances = self.ports.fleet.instances();
            self.copies.active = Rc::new(instances.iter().filter(|i| i.state.is_active()).cloned().collect());
            self.copies.instances = Rc::new(instances);
            self.copies.instance_generation = Some(generation);
        }
        Rc::clone(&self.copies.instances)
    }

    /// The active instances now.
    fn active_instances(&mut self) -> Rc<Vec<Instance>> {
        self.instances();
        Rc::clone(&self.copies.active)
    }

    pub fn step(&mut self, step: i64) -> Result<()> {
        let now = self.config.start + Duration::seconds(step * self.config.step_s());
        self.ports.clock.set(now);
        self.weekly_cost_report(now)?;
        self.advance_instances(now);
        self.reclaim_spot(now)?;
        self.inject_prometheus_outage(step, now);
        self.inject_node_not_ready(step, now);
        let desired = self.demand.replicas[step as usize];
        let nodes = self.nodes();
        let instances = self.instances();
        let mut displaced = Vec::new();
        let replicas = metrics::reconcile_and_schedule(
            &self.ports.cluster,
            &nodes,
            desired,
            &mut self.next_pod,
            &self.reclaimed_nodes,
            &mut displaced,
        );
        self.windows.displaced(displaced);
        self.summary.pods_lost += replicas.lost;
        self.summary.pods_killed_by_spot_reclaim += replicas.reclaimed;
        self.account(step, now, desired, replicas, &nodes, &instances);
        self.check_invariants(step, now, &nodes, &instances);
        self.inject_capacity_shortage(step, now);
        self.warn_spot(step, now, &instances)?;
        // The CA-like scan's view of the nodes and active instances, as they are now.
        let ca_view = (matches!(self.controller, Controller::CaLike(_))
            && ca_like::scan_due(step, &self.ports.cluster))
        .then(|| (self.nodes(), self.active_instances()));
        match &mut self.controller {
            Controller::Decider(decider) if step % (DECIDER_EVERY_S / self.config.step_s()) == 0 => {
                let event = scheduled_event(now)?;
                self.invocations += 1;
                let key = self.invocations.wrapping_mul(KEY_INVOCATION);
                let rival = chance(self.config.seed, key ^ 1) < self.faults.rate_or_zero(FaultKind::LockRace);
                let rival = rival
                    && matches!(
                        self.runtime.block_on(self.ports.state.try_acquire_lock(CLUSTER, "rival", now, 60))?,
                        LockOutcome::Acquired { .. }
                    );
                if rival {
                    count(&mut self.summary, FaultKind::LockRace);
                }
                let throttled = inject_throttle(&self.ports, &self.faults, &mut self.summary, self.config.seed, key);
                // A failed run is retried by the next tick, as the schedule would.
                let outcome = self.runtime.block_on(smartscale_decider::handle(event, decider.as_ref()));
                if let Some(op) = throttled {
                    self.ports.state.faults.clear(op);
                }
                match outcome {
                    Ok(outcome) => self.tally_forecast(&outcome),
                    Err(_) => self.summary.decider_errors += 1,
                }
                if rival {
                    let update = smartscale_core::state::StateUpdate::default();
                    self.runtime.block_on(self.ports.state.release_lock(CLUSTER, "rival", &update))?;
                }
            }
            _ => {}
        }
        self.fast_path(now)?;
        match &mut self.controller {
            Controller::CaLike(ca) if ca_view.is_some() => {
                let Some((nodes, instances)) = &ca_view else { unreachable!("the arm's guard") };
                let pods = self.ports.cluster.pods();
                let pdbs = self.ports.cluster.pdbs();
                let view = ca_like::View {
                    now,
                    nodes,
                    pods: &pods,
                    pdbs: &pdbs,
                    instances,
                    min_nodes: self.min_nodes,
                    max_nodes: self.max_nodes,
                };
                if let Some(message) = ca.scan(&view) {
                    self.runtime.block_on(self.ports.queue.send(&message, 0))?;
                }
            }
            _ => {}
        }
        self.after_control(now)
    }

    /// What follows the controller in a step: the queues deliver, SNS forwards.
    fn after_control(&mut self, now: DateTime<Utc>) -> Result<()> {
        self.deliver(QueueName::ScaleUp, now)?;
        self.deliver(QueueName::Drain, now)?;
        self.forward_notifications(now)
    }

    /// Mondays at 09:00 UTC the report's schedule runs it over the week before, as production
    /// does; the simulator's own cost of that week goes beside it.
    fn weekly_cost_report(&mut self, now: DateTime<Utc>) -> Result<()> {
        use chrono::{Datelike, Timelike};
        let Some(deps) = &self.cost_report else { return Ok(()) };
        if now.weekday() != chrono::Weekday::Mon || now.num_seconds_from_midnight() != 9 * 3600 {
            return Ok(());
        }
        // Accounted so far: every step before this one.
        self.cost_marks.insert(now, self.summary.cost_usd);
        let Some(week_ago) = self.cost_marks.get(&(now - Duration::days(7))).copied() else { return Ok(()) };
        let event = smartscale_cost_report::ReportEvent { days: Some(7), end: Some(now) };
        let report = self.runtime.block_on(smartscale_cost_report::run(&event, deps))?;
        self.cost_reports.push(WeeklyReport { report, simulated_cost_usd: self.summary.cost_usd - week_ago });
        Ok(())
    }

    /// The fast path: when Alertmanager notifies, SNS invokes the decider at once.
    fn fast_path(&mut self, now: DateTime<Utc>) -> Result<()> {
        let (Controller::Decider(decider), Some(route)) = (&self.controller, self.fast_path.as_mut()) else {
            return Ok(());
        };
        let Some(starts_at) = route.observe(now, self.scraped_unschedulable) else {
            return Ok(());
        };
        self.summary.fast_path_invocations += 1;
        let message = smartscale_decider::fast_path::FastPathMessage::new(
            smartscale_decider::fast_path::AlertStatus::Firing,
            CLUSTER,
            starts_at,
            self.scraped_unschedulable,
        );
        let id = format!("fp-{}", self.summary.fast_path_invocations);
        let event = LambdaEvent::new(message.to_sns_event(fast_path::TOPIC_ARN, &id, now), Context::default());
        match self.runtime.block_on(smartscale_decider::handle_fast_path(event, decider.as_ref())) {
            Ok(smartscale_decider::FastPathOutcome::Decided(outcome)) => self.tally_forecast(&outcome),
            Ok(smartscale_decider::FastPathOutcome::Resolved { .. }) => {}
            Err(_) => self.summary.decider_errors += 1,
        }
        Ok(())
    }

    /// The forecast side of a decider run, and after a refit the model it cached.
    fn tally_forecast(&mut self, outcome: &smartscale_decider::Outcome) {
        let Some(forecast) = outcome.forecast.as_deref() else { return };
        let refitted = matches!(forecast.origin, smartscale_decider::predictive::ModelOrigin::Fitted { .. });
        let cached = match refitted {
            true => self.runtime.block_on(self.ports.state.get(CLUSTER)).ok().flatten().and_then(|i| i.forecast_model),
            false => None,
        };
        self.forecast.observe(forecast, cached.as_ref());
    }

    /// Pending instances boot (45–90 s) and join (30–60 s more).
    fn advance_instances(&mut self, now: DateTime<Utc>) {
        let nodes = self.nodes();
        let registered: BTreeSet<&str> = nodes.iter().filter_map(|n| n.instance_id.as_deref()).collect();
        let instances = self.instances();
        for instance in instances.iter() {
            if !instance.state.is_active() {
                continue;
            }
            let key = hash(&instance.instance_id);
            let launched = instance.launched_at.unwrap_or(now);
            let boot = self.random(key, 45, 90);
            let join = self.random(key.rotate_left(17), 30, 60);
            if !self.boots.contains_key(&instance.instance_id)
                && instance.launched_at.is_some_and(|at| at > self.config.start)
                && self.chance(key ^ KEY_JOIN) < self.faults.rate_or_zero(FaultKind::JoinNeverReady)
            {
                self.never_join.insert(instance.instance_id.clone());
                let launch = instance.tags.get(smartscale_core::tags::DECISION_ID).cloned().unwrap_or_default();
                if self.failed_launches.insert(launch) {
                    self.summary.fault_episodes += 1;
                }
                count(&mut self.summary, FaultKind::JoinNeverReady);
            }
            let (running_at, join_at) = *self
                .boots
                .entry(instance.instance_id.clone())
                .or_insert((launched + Duration::seconds(boot), launched + Duration::seconds(boot + join)));
            if instance.state == InstanceState::Pending && now >= running_at {
                self.ports.fleet.set_state(&instance.instance_id, InstanceState::Running);
            }
            if now >= join_at
                && !registered.contains(instance.instance_id.as_str())
                && !self.never_join.contains(&instance.instance_id)
            {
                self.ports.join(instance);
                if let Some(at) = instance.launched_at.filter(|at| *at > self.config.start) {
                    self.launch_to_ready_s.push((now - at).num_seconds());
                }
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
                self.warn_instance(now, &instance.instance_id)?;
            }
        }
        Ok(())
    }

    /// EC2's two-minute warning for one Spot instance, to the real spot handler.
    fn warn_instance(&mut self, now: DateTime<Utc>, instance_id: &str) -> Result<()> {
        self.reclaims.insert(instance_id.to_string(), now + Duration::seconds(SPOT_WARNING_S));
        self.summary.spot_interruptions += 1;
        self.mark(now, EventKind::SpotInterruption);
        let event = ec2_event(
            now,
            "EC2 Spot Instance Interruption Warning",
            instance_id,
            json!({
                "instance-id": instance_id, "instance-action": "terminate"
            }),
        );
        self.invoke_spot(event)
    }

    /// `prometheus-outage`: every query fails for the outage's length.
    fn inject_prometheus_outage(&mut self, step: i64, now: DateTime<Utc>) {
        if let Some(until) = self.outage_until {
            if now >= until {
                self.metrics.faults.clear(FetchOp);
                self.metrics.demand_faults.clear(DemandOp);
                self.outage_until = None;
            }
            return;
        }
        let per_step = self.faults.rate_or_zero(FaultKind::PrometheusOutage) * self.config.step_s() as f64 / 86_400.0;
        // An outage runs its whole length inside the run, so that its end (and its alert) is seen.
        let fits = step + PROMETHEUS_OUTAGE_MINUTES * 60 / self.config.step_s() < self.config.steps();
        if per_step > 0.0 && fits && self.chance((step as u64).wrapping_mul(KEY_OUTAGE)) < per_step {
            let error = Error::unavailable("prometheus", "connection refused (injected outage)");
            self.metrics.faults.fail_always(FetchOp, error.clone());
            self.metrics.demand_faults.fail_always(DemandOp, error);
            self.outage_until = Some(now + Duration::minutes(PROMETHEUS_OUTAGE_MINUTES));
            // Longer than the decider's snapshot (5 min): an episode that must reach a person,
            // if a decider reads Prometheus in this policy.
            if matches!(self.controller, Controller::Decider(_)) {
                self.summary.fault_episodes += 1;
            }
            count(&mut self.summary, FaultKind::PrometheusOutage);
        }
    }

    /// `node-not-ready`: a Ready worker's kubelet stops reporting for a while. The node
    /// controller evicts its pods, which the ReplicaSet recreates elsewhere.
    fn inject_node_not_ready(&mut self, step: i64, now: DateTime<Utc>) {
        let recovered: Vec<String> =
            self.not_ready_until.iter().filter(|(_, until)| **until <= now).map(|(n, _)| n.clone()).collect();
        for name in recovered {
            self.not_ready_until.remove(&name);
            if !self.reclaimed_nodes.contains(&name) && self.ports.cluster.node(&name).is_some() {
                self.ports.cluster.set_node_ready(&name, true);
            }
        }
        let per_step = self.faults.rate_or_zero(FaultKind::NodeNotReady) * self.config.step_s() as f64 / 86_400.0;
        if per_step <= 0.0 {
            return;
        }
        let nodes = self.nodes();
        for node in metrics::ready_workers(&nodes) {
            let key = (step as u64).wrapping_mul(KEY_NOT_READY) ^ hash(&node.name);
            if self.not_ready_until.contains_key(&node.name) || self.chance(key) >= per_step {
                continue;
            }
            self.ports.cluster.set_node_ready(&node.name, false);
            self.not_ready_until.insert(node.name.clone(), now + Duration::minutes(NODE_NOT_READY_MINUTES));
            count(&mut self.summary, FaultKind::NodeNotReady);
            let killed = self.ports.cluster.with_pods(|pods| {
                let mut killed = 0;
                for pod in pods.values_mut() {
                    if pod.namespace == APP_NAMESPACE
                        && pod.node.as_deref() == Some(node.name.as_str())
                        && !pod.terminating
                    {
                        pod.node = None;
                        pod.phase = smartscale_core::ports::PodPhase::Pending;
                        pod.ready = false;
                        killed += 1;
                    }
                }
                killed
            });
            self.summary.pods_killed_by_node_failure += killed;
        }
    }

    /// The floor and orphan invariants, once a minute.
    fn check_invariants(&mut self, step: i64, now: DateTime<Utc>, nodes: &[Node], instances: &[Instance]) {
        let steps_per_minute = (60 / self.config.step_s()).max(1);
        if step % steps_per_minute != 0 {
            return;
        }
        let active: Vec<&Instance> =
            instances.iter().filter(|i| i.state.is_active() && !self.reclaims.contains_key(&i.instance_id)).collect();
        if floor_short(self.min_nodes, &active) {
            self.summary.on_demand_floor_minutes_short += 1.0;
        }
        for instance in &active {
            let has_node = nodes.iter().any(|n| n.instance_id.as_deref() == Some(instance.instance_id.as_str()));
            let overdue = instance.launched_at.is_some_and(|at| now - at > Duration::seconds(self.join_deadline_s));
            if !has_node
                && overdue
                && smartscale_core::tags::is_managed(&instance.tags, CLUSTER)
                && self.orphans.insert(instance.instance_id.clone())
            {
                self.summary.orphan_instances += 1;
            }
        }
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
        // Only the decider reads metrics: the other policies skip them.
        if matches!(self.controller, Controller::Decider(_)) {
            let observed = metrics::observe(
                now,
                metrics::app_cpu_millis(self.demand.load[step as usize], self.config.peak_nodes),
                desired,
                &ready,
                replicas,
                &self.ports.cluster,
                self.prometheus.is_some(),
            );
            let sample = match self.prometheus.as_mut() {
                None => metrics::ideal_sample(&observed),
                Some(prometheus) => {
                    prometheus.advance(&observed, self.config.step_s());
                    // Evaluated before this step's scrape: the queries see what was scraped until now.
                    let sample = prometheus.query(now);
                    let missed_rate = self.faults.rate_or_zero(FaultKind::MissedScrape);
                    if missed_rate > 0.0
                        && chance(self.config.seed, (step as u64).wrapping_mul(KEY_SCRAPE)) < missed_rate
                    {
                        count(&mut self.summary, FaultKind::MissedScrape);
                    } else {
                        prometheus.scrape(&observed);
                        self.scraped_demand = self.demand_node.and_then(|node| demand_of(&observed, node));
                    }
                    sample
                }
            };
            // Predictive scaling's history, as `query_range` at a 5-minute step reads it: the
            // latest scrape at each grid instant (the ideal model: the step's exact state).
            if now.timestamp() % STEP_S == 0 {
                let nodes = match self.prometheus {
                    Some(_) => self.scraped_demand,
                    None => self.demand_node.and_then(|node| demand_of(&observed, node)),
                };
                if let Some(nodes) = nodes {
                    self.metrics.push_demand(DemandSample { at: now, nodes });
                }
            }
            self.scraped_unschedulable = sample.pending_pods;
            self.metrics.push(sample);
        }

        // The PDB allows one replica down while every desired replica is running.
        let allowed = replicas.running >= desired && replicas.evicting == 0;
        self.ports.cluster.set_disruptions_allowed(APP_NAMESPACE, "api", i32::from(allowed));
        if replicas.evicting > 1 {
            self.summary.pdb_violations += 1;
        }
        if now.timestamp() % 3600 == 0 {
            // The decider looks back 75 minutes at most (the fit check's hour and the descent's 15 minutes).
            self.metrics.prune_before(now - Duration::hours(2));
            self.metrics.prune_demand_before(now - Duration::days(HISTORY_RETENTION_DAYS));
            self.ports.fleet.forget_terminated_before(now - Duration::hours(1));
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
        let start = self.config.start;
        self.spells.launches(instances.iter().filter_map(|i| i.launched_at).map(|at| (at - start).num_seconds()));
        if self.windows.wants(now) {
            let names = match replicas.pending {
                0 => Vec::new(),
                _ => self.ports.cluster.with_pods(|pods| {
                    pods.values()
                        .filter(|p| p.namespace == APP_NAMESPACE && !p.terminating && p.node.is_none())
                        .map(|p| p.name.clone())
                        .collect()
                }),
            };
            self.windows.observe(now, self.config.step_s(), replicas.pending, &names);
        }
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

    /// Hands the visible messages of a queue to its worker, as the SQS event source does. A
    /// message the worker reports failed, or the whole batch of a Lambda stopped by its
    /// timeout, comes back after the visibility timeout, and is dead-lettered on its fifth
    /// receive (the queues' redrive policy).
    fn deliver(&mut self, queue: QueueName, now: DateTime<Utc>) -> Result<()> {
        let due = self.ports.queue.take_visible(queue);
        if due.is_empty() {
            return Ok(());
        }
        for m in &due {
            if let WorkMessage::ScaleUpRequest(request) = m.message() {
                // A redelivered request is the same scale-up.
                if !request.decision_id.starts_with("spot-") && self.scale_ups_seen.insert(request.decision_id) {
                    self.mark(now, EventKind::ScaleUp);
                }
            }
        }
        self.invocations += 1;
        let key = self.invocations.wrapping_mul(KEY_INVOCATION);
        let seed = self.config.seed;
        let kube_op = (chance(seed, key ^ 2) < self.faults.rate_or_zero(FaultKind::KubeApiError)).then(|| {
            const OPS: [ClusterOp; 7] = [
                ClusterOp::ListNodes,
                ClusterOp::ListPods,
                ClusterOp::ListPdbs,
                ClusterOp::Cordon,
                ClusterOp::Uncordon,
                ClusterOp::Evict,
                ClusterOp::DeleteNode,
            ];
            OPS[(splitmix64(seed ^ key ^ 3) % OPS.len() as u64) as usize]
        });
        if let Some(op) = kube_op {
            let error = Error::unavailable("kubernetes", "503 Service Unavailable (injected)");
            self.ports.cluster.faults.fail_next(op, error);
            count(&mut self.summary, FaultKind::KubeApiError);
        }
        let throttled = inject_throttle(&self.ports, &self.faults, &mut self.summary, seed, key);
        let budget = (chance(seed, key ^ 4) < self.faults.rate_or_zero(FaultKind::LambdaTimeout)).then(|| {
            let calls = 1 + (splitmix64(seed ^ key ^ 5) % 8) as u32;
            let budget = StopAfter::new(calls, Error::unavailable("lambda", "Task timed out (injected)"));
            self.stop_fakes_after(Some(&budget));
            budget
        });

        let event = smartscale_lambda::sqs_event(due.iter().map(|m| m.body.clone()));
        let response = match queue {
            QueueName::ScaleUp => self.runtime.block_on(smartscale_scale_up_worker::handle(event, &self.scale_up)),
            QueueName::Drain => self.runtime.block_on(smartscale_drain_worker::handle(event, &self.drain)),
        };

        if let Some(op) = kube_op {
            self.ports.cluster.faults.clear(op);
        }
        if let Some(op) = throttled {
            self.ports.state.faults.clear(op);
        }
        let timed_out = budget.as_ref().is_some_and(StopAfter::spent);
        if budget.is_some() {
            self.stop_fakes_after(None);
            if timed_out {
                count(&mut self.summary, FaultKind::LambdaTimeout);
            }
        }
        let failed: BTreeSet<usize> = match response {
            _ if timed_out => (0..due.len()).collect(),
            Ok(r) => r
                .batch_item_failures
                .iter()
                .filter_map(|f| f.item_identifier.strip_prefix("m-")?.parse().ok())
                .collect(),
            Err(_) => (0..due.len()).collect(),
        };
        let redelivery = self.faults.rate_or_zero(FaultKind::SqsRedelivery);
        for (i, message) in due.into_iter().enumerate() {
            if failed.contains(&i) {
                let receives = self.receives.entry(message.body.clone()).or_insert(0);
                *receives += 1;
                if *receives >= MAX_RECEIVES {
                    self.receives.remove(&message.body);
                    self.summary.dlq_messages += 1;
                } else {
                    self.summary.redeliveries += 1;
                    self.ports.queue.redeliver(message, now + Duration::seconds(VISIBILITY_TIMEOUT_S));
                }
                continue;
            }
            self.receives.remove(&message.body);
            if chance(seed, key ^ 6 ^ (i as u64) << 8) < redelivery {
                count(&mut self.summary, FaultKind::SqsRedelivery);
                self.ports.queue.redeliver(message, now + Duration::seconds(self.config.step_s()));
            }
        }
        if queue == QueueName::Drain && chance(seed, key ^ 7) < self.faults.rate_or_zero(FaultKind::SpotDuringDrain) {
            self.warn_a_draining_spot_node(now)?;
        }
        Ok(())
    }

    /// `spot-during-drain`: EC2 warns a Spot node the drain has cordoned, if there is one.
    fn warn_a_draining_spot_node(&mut self, now: DateTime<Utc>) -> Result<()> {
        let cordoned: Vec<String> = self
            .ports
            .cluster
            .nodes()
            .into_iter()
            .filter(|n| n.unschedulable && !n.labels.contains_key("node-role.kubernetes.io/control-plane"))
            .filter_map(|n| n.instance_id)
            .collect();
        let target = self.ports.fleet.instances().into_iter().find(|i| {
            i.lifecycle == Lifecycle::Spot
                && i.state == InstanceState::Running
                && cordoned.contains(&i.instance_id)
                && !self.reclaims.contains_key(&i.instance_id)
        });
        match target {
            Some(instance) => {
                count(&mut self.summary, FaultKind::SpotDuringDrain);
                self.warn_instance(now, &instance.instance_id)
            }
            None => Ok(()),
        }
    }

    /// Every port a worker calls fails once `budget` is spent (`None`: they work again).
    fn stop_fakes_after(&self, budget: Option<&StopAfter>) {
        match budget {
            Some(b) => {
                self.ports.fleet.faults.stop_after(b);
                self.ports.cluster.faults.stop_after(b);
                self.ports.state.faults.stop_after(b);
                self.ports.queue.faults.stop_after(b);
                self.ports.notifier.faults.stop_after(b);
            }
            None => {
                self.ports.fleet.faults.resume();
                self.ports.cluster.faults.resume();
                self.ports.state.faults.resume();
                self.ports.queue.faults.resume();
                self.ports.notifier.faults.resume();
            }
        }
    }

    /// New SNS notifications go to the real Slack forwarder; completed scale-downs that were
    /// not Spot drains are the timeline's scale-down events.
    fn forward_notifications(&mut self, now: DateTime<Utc>) -> Result<()> {
        let published = self.ports.notifier.published_since(self.notifications_seen);
        self.notifications_seen += published.len();
        for notification in published {
            match &notification.event {
                NotificationEvent::ScaleDownCompleted { decision_id, .. } if !decision_id.starts_with("spot-") => {
                    self.mark(now, EventKind::ScaleDown)
                }
                NotificationEvent::ScalingFailure {
                    error_type: FailureType::PrometheusUnavailable | FailureType::NodeJoinTimeout,
                    ..
                } => self.summary.fault_alerts += 1,
                _ => {}
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
        s.p95_pending_to_launch_s = timeline::p95(&self.spells.to_launch_s);
        s.p95_launch_to_ready_s = timeline::p95(&self.launch_to_ready_s);
        s.scale_ups = self.timeline.count(EventKind::ScaleUp);
        s.scale_downs = self.timeline.count(EventKind::ScaleDown);
        s.thrash_events = self.timeline.thrash_events(0.25);
        s.windows = std::mem::take(&mut self.windows).finish();
        s.forecast = (self.forecast.runs > 0).then(|| std::mem::take(&mut self.forecast));
        self.references.fill(s);
        s.finish();
        Run { summary: self.summary, timeline: self.timeline, cost_reports: self.cost_reports }
    }
}

/// The demand signal of one step (production's `demand_history`): summed requests of the
/// running and the unschedulable app replicas, in nodes of `node`, the larger of CPU and memory.
fn demand_of(observed: &metrics::Observed, node: NodeSize) -> Option<f64> {
    let (running, pending) = (observed.running_requests, observed.pending_requests);
    node.nodes(
        Some((running.cpu_millis + pending.cpu_millis) as f64),
        Some((running.memory_bytes + pending.memory_bytes) as f64),
    )
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

/// Whether fewer than min(`min_nodes`, active instances) of the `active` instances are
/// On-Demand while a Spot instance runs: the On-Demand floor is partly on Spot.
fn floor_short(min_nodes: u32, active: &[&Instance]) -> bool {
    let on_demand = active.iter().filter(|i| i.lifecycle == Lifecycle::OnDemand).count() as u32;
    let spot_running = active.iter().any(|i| i.lifecycle == Lifecycle::Spot);
    spot_running && on_demand < min_nodes.min(active.len() as u32)
}

/// A deterministic draw in [0, 1) for `key` under `seed`.
fn chance(seed: u64, key: u64) -> f64 {
    (splitmix64(seed ^ key) >> 11) as f64 / (1u64 << 53) as f64
}

fn count(summary: &mut Summary, kind: FaultKind) {
    *summary.faults_injected.entry(kind.as_str().to_string()).or_insert(0) += 1;
}

/// `dynamodb-throttle`: one state-store call of this invocation is throttled. Returns the
/// operation, for the caller to clear once the invocation is over.
fn inject_throttle(ports: &Ports, faults: &FaultPlan, summary: &mut Summary, seed: u64, key: u64) -> Option<StateOp> {
    if chance(seed, key ^ 8) >= faults.rate_or_zero(FaultKind::DynamodbThrottle) {
        return None;
    }
    const OPS: [StateOp; 4] = [StateOp::Get, StateOp::Acquire, StateOp::Release, StateOp::Update];
    let op = OPS[(splitmix64(seed ^ key ^ 9) % OPS.len() as u64) as usize];
    let error = Error::unavailable(
        "dynamodb",
        "ThrottlingException: Rate of requests exceeds the allowed throughput (injected)",
    );
    ports.state.faults.fail_next(op, error);
    count(summary, FaultKind::DynamodbThrottle);
    Some(op)
}

/// A stable key for per-instance draws.
fn hash(text: &str) -> u64 {
    text.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
}

fn scheduled_event(now: DateTime<Utc>) -> Result<LambdaEvent<EventBridgeEvent>> {
    // Parsed once: only the id and the time differ between runs, and a 28-day run has 20,160.
    static TEMPLATE: std::sync::OnceLock<std::result::Result<EventBridgeEvent, String>> = std::sync::OnceLock::new();
    let template = TEMPLATE.get_or_init(|| {
        let event = json!({
            "version": "0", "id": "sim-0", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "1970-01-01T00:00:00Z", "region": "us-east-1",
            "resources": [], "detail": {}
        });
        serde_json::from_value(event).map_err(|e| e.to_string())
    });
    let mut event = template.clone().map_err(|e| Error::invalid("event", e))?;
    event.id = Some(format!("sim-{}", now.timestamp()));
    event.time = Some(now);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(lifecycle: Lifecycle) -> Instance {
        Instance {
            instance_id: "i-1".into(),
            instance_type: "t3.small".into(),
            availability_zone: ZONES[0].into(),
            subnet_id: "subnet-a".into(),
            lifecycle,
            state: InstanceState::Running,
            private_dns_name: None,
            launched_at: None,
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn the_floor_is_short_only_while_spot_runs_and_on_demand_is_under_the_floor() {
        let (od, spot) = (instance(Lifecycle::OnDemand), instance(Lifecycle::Spot));
        assert!(floor_short(2, &[&od, &spot, &spot]), "one On-Demand of a floor of 2, Spot running");
        assert!(floor_short(2, &[&spot, &spot]));
        assert!(!floor_short(2, &[&od, &od, &spot]));
        // With fewer nodes than the floor, the floor is what there is.
        assert!(!floor_short(2, &[&od]));
        assert!(floor_short(2, &[&spot]));
        // No Spot running: a short fleet is a capacity question, not a floor one.
        assert!(!floor_short(3, &[&od, &od]));
        assert!(!floor_short(2, &[]));
    }
}
