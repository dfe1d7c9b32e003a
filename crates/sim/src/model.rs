//! What a simulation is asked to do and what it reports, and the cluster model's constants.

use crate::trace::Trace;
use chrono::{DateTime, Utc};
use serde::Serialize;
use smartscale_core::{Error, Result};

use crate::faults::{FaultKind, FaultPlan};

/// Allocatable per t3.small worker (K3s reserves the rest).
pub const NODE_CPU_MILLIS: u64 = 1900;
pub const NODE_MEMORY_BYTES: u64 = 1600 << 20;
/// The demo app's requests per replica.
pub const POD_CPU_MILLIS: u64 = 200;
pub const POD_MEMORY_BYTES: u64 = 256 << 20;
/// One DaemonSet pod per node (node-exporter and friends).
pub const DAEMONSET_CPU_MILLIS: u64 = 100;
pub const DAEMONSET_MEMORY_BYTES: u64 = 128 << 20;
/// The spec's static fleet.
pub const SPEC_STATIC_NODES: u32 = 5;
pub const DEFAULT_SPOT_SHARE: f64 = 0.7;

/// Replicas that fit on one node by requests: memory-bound at 5.
pub fn pods_per_node() -> u64 {
    ((NODE_CPU_MILLIS - DAEMONSET_CPU_MILLIS) / POD_CPU_MILLIS)
        .min((NODE_MEMORY_BYTES - DAEMONSET_MEMORY_BYTES) / POD_MEMORY_BYTES)
}

/// Who scales the simulated cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyName {
    /// SmartScale's handlers with its default policy, deviations included.
    Smartscale,
    /// SmartScale with predictive scaling acting (`PREDICTIVE_MODE=active`), from the demand
    /// history the world records; everything else as `smartscale`.
    Predictive,
    /// The same handlers with the spec's rules exactly as written.
    ReactiveSeed,
    /// Cluster Autoscaler's documented defaults, acting through the same workers.
    CaLike,
    /// A fixed On-Demand fleet: the smallest with no shortfall on this load.
    Static,
    /// The spec's fixed fleet of 5 On-Demand nodes.
    Static5,
    /// The lower bound: exactly the nodes the demand needs at every instant, with foresight.
    Oracle,
}

impl PolicyName {
    pub const ALL: [PolicyName; 7] = [
        PolicyName::Smartscale,
        PolicyName::Predictive,
        PolicyName::ReactiveSeed,
        PolicyName::CaLike,
        PolicyName::Static,
        PolicyName::Static5,
        PolicyName::Oracle,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyName::Smartscale => "smartscale",
            PolicyName::Predictive => "predictive",
            PolicyName::ReactiveSeed => "reactive-seed",
            PolicyName::CaLike => "ca-like",
            PolicyName::Static => "static",
            PolicyName::Static5 => "static-5",
            PolicyName::Oracle => "oracle",
        }
    }
}

impl std::str::FromStr for PolicyName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        PolicyName::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = PolicyName::ALL.iter().map(|p| p.as_str()).collect();
            Error::invalid("--policy", format!("unknown policy {s:?}; expected one of {}", names.join(", ")))
        })
    }
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub start: DateTime<Utc>,
    pub days: u32,
    /// The load is scaled so that its peak needs this many nodes' worth of replicas.
    pub peak_nodes: u32,
    pub seed: u64,
    /// A trace to replay instead of the synthetic e-commerce week, over `[start, start + days)`.
    pub trace: Option<Trace>,
    /// `--peak-value`: the trace value that is a load of 1.0; `None` scales by the window's peak.
    pub peak_value: Option<f64>,
    pub policy: PolicyName,
    /// The share of nodes above the On-Demand floor bought as Spot.
    pub spot_share: f64,
    /// Interruption warnings per Spot node per day.
    pub spot_interruptions_per_day: f64,
    /// The chance, each hour, that one AZ's Spot pool is out of capacity for that hour.
    pub ice_rate: f64,
    /// Active instances beyond which launches fail with the vCPU quota error.
    pub instance_quota: Option<usize>,
    /// Handler settings (`MIN_NODES=3`, `SCALE_DOWN_FIT_CHECK=false`, …) on top of the defaults,
    /// as production's environment would set them; `reactive-seed` keeps the spec's rules.
    pub settings: Vec<(String, String)>,
    /// `--faults`: what the world breaks and how often (`ice` and `quota` live in the two
    /// fields above, see [`SimConfig::with_faults`]).
    pub faults: FaultPlan,
    /// `--metrics`: what the decider's queries return (docs/simulate.md, "The world").
    pub metrics: MetricsModel,
}

/// How the simulated Prometheus answers the decider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetricsModel {
    /// A 15 s scrape: CPU as `rate(...[5m])` over scraped counters, gauges one scrape behind.
    #[default]
    Prometheus,
    /// The step's exact values, with no scrape and no lag: the model before scraping, for
    /// comparison.
    Ideal,
}

impl MetricsModel {
    pub const ALL: [MetricsModel; 2] = [MetricsModel::Prometheus, MetricsModel::Ideal];

    pub fn as_str(self) -> &'static str {
        match self {
            MetricsModel::Prometheus => "prometheus",
            MetricsModel::Ideal => "ideal",
        }
    }
}

impl std::str::FromStr for MetricsModel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        MetricsModel::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| {
            Error::invalid("--metrics", format!("unknown metrics model {s:?}; expected prometheus or ideal"))
        })
    }
}

impl SimConfig {
    /// The defaults: the synthetic week from Monday 2026-11-23, peak 8 nodes, SmartScale's policy.
    pub fn new(days: u32) -> SimConfig {
        SimConfig {
            start: "2026-11-23T00:00:00Z".parse().expect("a valid default start"),
            days,
            peak_nodes: 8,
            seed: 1,
            trace: None,
            peak_value: None,
            policy: PolicyName::Smartscale,
            spot_share: DEFAULT_SPOT_SHARE,
            spot_interruptions_per_day: 0.1,
            ice_rate: 0.0,
            instance_quota: None,
            settings: Vec::new(),
            faults: FaultPlan::default(),
            metrics: MetricsModel::default(),
        }
    }

    /// The run with `plan`'s faults. `ice` and `quota` are the `--ice-rate` and
    /// `--instance-quota` faults; naming one in both places is an error.
    pub fn with_faults(self, plan: FaultPlan) -> Result<SimConfig> {
        let mut config = SimConfig { faults: plan.clone(), ..self };
        if let Some(rate) = plan.rate(FaultKind::Ice) {
            if config.ice_rate > 0.0 && config.ice_rate != rate {
                return Err(Error::invalid("--faults", "ice is given by --ice-rate too; give it once"));
            }
            config.ice_rate = rate;
        }
        if let Some(quota) = plan.rate(FaultKind::Quota) {
            if config.instance_quota.is_some_and(|q| q as f64 != quota) {
                return Err(Error::invalid("--faults", "quota is given by --instance-quota too; give it once"));
            }
            config.instance_quota = Some(quota as usize);
        }
        Ok(config)
    }

    pub fn step_s(&self) -> i64 {
        15
    }

    pub fn steps(&self) -> i64 {
        i64::from(self.days) * 86_400 / self.step_s()
    }

    /// Errors name the flag.
    pub fn validate(&self) -> Result<()> {
        let fail = |flag: &str, message: String| Err(Error::invalid(flag, message));
        if self.days == 0 || self.days > 366 {
            return fail("--days", format!("must be between 1 and 366, got {}", self.days));
        }
        if self.peak_nodes == 0 || self.peak_nodes > 1000 {
            return fail("--peak-nodes", format!("must be between 1 and 1000, got {}", self.peak_nodes));
        }
        for (flag, value) in [("--spot-share", self.spot_share), ("--ice-rate", self.ice_rate)] {
            if !(0.0..=1.0).contains(&value) {
                return fail(flag, format!("must be between 0 and 1, got {value}"));
            }
        }
        if !(self.spot_interruptions_per_day.is_finite() && (0.0..=100.0).contains(&self.spot_interruptions_per_day)) {
            return fail(
                "--spot-interruptions-per-day",
                format!("must be between 0 and 100, got {}", self.spot_interruptions_per_day),
            );
        }
        // The window must lie inside the trace, and its peak must be one to scale by.
        crate::demand::Window::of(self)?;
        Ok(())
    }
}

/// One policy's figures over one run. The safety counters are counted, never assumed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub policy: String,
    pub days: f64,
    /// The trace and stretch of it replayed and the value scaled to a load of 1.0.
    pub window: Option<crate::demand::Window>,
    pub cost_usd: f64,
    /// The lower bound: at every step max(min_nodes, the nodes the demand needs), bought with
    /// the same On-Demand floor and Spot share.
    pub oracle_cost_usd: f64,
    /// The smallest static On-Demand fleet with no shortfall on this load, and its cost.
    pub static_nodes: u32,
    pub static_cost_usd: f64,
    pub savings_vs_static_pct: f64,
    pub cost_vs_oracle: f64,
    pub node_hours: f64,
    pub max_nodes_seen: u32,
    pub unschedulable_pod_minutes: f64,
    pub total_pod_minutes: f64,
    pub unschedulable_pct: f64,
    /// The longest and the 95th-percentile spell of pods pending for want of capacity.
    pub max_pending_duration_s: i64,
    pub p95_time_to_capacity_s: i64,
    /// The two parts of the time to capacity: from a spell's start to its first launch (the
    /// policy's detection: a scrape, the alert's `for:` and group wait, or a scan), over the
    /// spells with a launch; and from a launch to the node's registration (the boot and join),
    /// over the instances launched in the run.
    pub p95_pending_to_launch_s: i64,
    pub p95_launch_to_ready_s: i64,
    pub scale_ups: u32,
    pub scale_downs: u32,
    /// A scale-down followed by a scale-up within 15 minutes.
    pub thrash_events: u32,
    pub spot_interruptions: u32,
    /// Replicas that died with a Spot instance EC2 reclaimed before they were evicted.
    pub pods_killed_by_spot_reclaim: u32,
    /// Steps in which more replicas were being evicted than the PDB allowed.
    pub pdb_violations: u32,
    /// Running replicas whose node SmartScale removed without evicting them first.
    pub pods_lost: u32,
    /// SQS messages and SNS notifications a handler could not process.
    pub dlq_messages: u32,
    pub slack_messages: u32,
    /// Minutes in which fewer than min(MIN_NODES, active instances) active instances were
    /// On-Demand while a Spot instance ran. Must be 0.
    pub on_demand_floor_minutes_short: f64,
    /// Running or pending instances with the cluster's tags and no node, past their join
    /// deadline and a grace; each counted once.
    pub orphan_instances: u32,
    /// The decider handler's `Err` results (the schedule retries at the next tick).
    pub decider_errors: u32,
    /// Faults injected by `--faults`, by kind (ice and quota are counted by their hours and
    /// refused launches elsewhere).
    pub faults_injected: std::collections::BTreeMap<String, u32>,
    /// Fault episodes that must reach a person (a Prometheus outage longer than the decider's
    /// snapshot, a launch whose instance never joins) and the alerts they caused.
    pub fault_episodes: u32,
    pub fault_alerts: u32,
    /// Replicas that died with a node that went NotReady under them (`node-not-ready`).
    pub pods_killed_by_node_failure: u32,
    /// Messages SQS delivered again after a failure or a Lambda timeout.
    pub redeliveries: u32,
    /// Decider runs Alertmanager's fast path invoked (SmartScale only).
    pub fast_path_invocations: u32,
    /// Pods waiting inside the synthetic week's named windows (the 9 AM rush, the Friday
    /// flash sale); empty for a trace.
    pub windows: Vec<crate::windows::WindowWait>,
    /// What predictive scaling did in the decider's runs (`None`: no decider, or
    /// `PREDICTIVE_MODE=off`).
    pub forecast: Option<crate::forecast_tally::ForecastTally>,
}

impl Summary {
    /// The cost against the static fleet's, in %, for display: `-61.2` is 61.2 % cheaper.
    pub fn cost_change_vs_static_pct(&self) -> f64 {
        let change = -self.savings_vs_static_pct;
        if change.abs() < 0.05 {
            0.0
        } else {
            change
        }
    }

    /// The figures a comparison table shows, as (heading, cell), in column order.
    pub fn cells(&self) -> Vec<(&'static str, String)> {
        let mut cells = vec![
            ("policy", self.policy.clone()),
            ("cost $", format!("{:.2}", self.cost_usd)),
            ("× oracle", format!("{:.2}", self.cost_vs_oracle)),
            ("vs static", format!("{:+.1}%", self.cost_change_vs_static_pct())),
            ("unsched. pod-min", format!("{:.1}", self.unschedulable_pod_minutes)),
            ("unsched. %", format!("{:.3}", self.unschedulable_pct)),
            ("max pending s", self.max_pending_duration_s.to_string()),
            ("p95 to capacity s", self.p95_time_to_capacity_s.to_string()),
            ("ups", self.scale_ups.to_string()),
            ("downs", self.scale_downs.to_string()),
            ("thrash", self.thrash_events.to_string()),
            ("spot", self.spot_interruptions.to_string()),
            ("pdb", self.pdb_violations.to_string()),
            ("lost", self.pods_lost.to_string()),
            ("dlq", self.dlq_messages.to_string()),
            ("floor short min", format!("{:.2}", self.on_demand_floor_minutes_short)),
            ("orphans", self.orphan_instances.to_string()),
            ("decider errs", self.decider_errors.to_string()),
            ("episodes/alerts", format!("{}/{}", self.fault_episodes, self.fault_alerts)),
        ];
        // The synthetic week's named windows (a trace has none): pods that waited after the
        // warm-up, rush/sale; "-" for the oracle, which is never short and not simulated.
        if self.window.as_ref().is_some_and(|w| w.trace.is_none()) {
            let waited = match self.windows.as_slice() {
                [] => "-".to_string(),
                waits => waits.iter().map(|w| w.pods_waited_after_warm_up.to_string()).collect::<Vec<_>>().join("/"),
            };
            cells.push(("waited rush/sale", waited));
        }
        cells
    }

    /// Fills the ratios from the totals.
    /// Alerts per fault episode: 1.0 is "exactly one alert per episode"; 0 without episodes.
    pub fn alerts_per_fault_episode(&self) -> f64 {
        ratio(f64::from(self.fault_alerts), f64::from(self.fault_episodes))
    }

    pub fn finish(&mut self) {
        self.savings_vs_static_pct = ratio_pct(1.0 - ratio(self.cost_usd, self.static_cost_usd));
        self.cost_vs_oracle = ratio(self.cost_usd, self.oracle_cost_usd);
        self.unschedulable_pct = ratio_pct(ratio(self.unschedulable_pod_minutes, self.total_pod_minutes));
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

fn ratio_pct(share: f64) -> f64 {
    share * 100.0
}

/// USD per hour of `nodes` t3.small nodes bought as SmartScale buys them: the first `floor`
/// On-Demand, then `spot_share` of the rest Spot.
pub fn fleet_price_per_hour(nodes: u32, floor: u32, spot_share: f64) -> f64 {
    use smartscale_core::ports::Lifecycle;
    use smartscale_core::pricing::{per_hour, DEFAULT_SPOT_DISCOUNT};
    let price =
        |lifecycle| per_hour("t3.small", lifecycle, DEFAULT_SPOT_DISCOUNT).expect("t3.small is in the price table");
    let (on_demand, spot) = (price(Lifecycle::OnDemand), price(Lifecycle::Spot));
    let beyond = nodes.saturating_sub(floor);
    let spot_nodes = (spot_share * f64::from(beyond)).round().min(f64::from(beyond));
    f64::from(nodes - beyond) * on_demand + spot_nodes * spot + (f64::from(beyond) - spot_nodes) * on_demand
}

/// Nodes whose replica slots cover `pods`.
pub fn nodes_for(pods: u64) -> u32 {
    pods.div_ceil(pods_per_node()) as u32
}
