//! What a simulation is asked to do and what it reports, and the cluster model's constants.

use chrono::{DateTime, Utc};
use serde::Serialize;
use smartscale_core::trace::Trace;

/// Allocatable per t3.small worker (K3s reserves the rest).
pub const NODE_CPU_MILLIS: u64 = 1900;
pub const NODE_MEMORY_BYTES: u64 = 1600 << 20;
/// The demo app's requests per replica.
pub const POD_CPU_MILLIS: u64 = 200;
pub const POD_MEMORY_BYTES: u64 = 256 << 20;
/// One DaemonSet pod per node (node-exporter and friends).
pub const DAEMONSET_CPU_MILLIS: u64 = 100;
pub const DAEMONSET_MEMORY_BYTES: u64 = 128 << 20;
/// Replicas that fit on one node by requests: memory-bound at 5.
pub fn pods_per_node() -> u64 {
    ((NODE_CPU_MILLIS - DAEMONSET_CPU_MILLIS) / POD_CPU_MILLIS)
        .min((NODE_MEMORY_BYTES - DAEMONSET_MEMORY_BYTES) / POD_MEMORY_BYTES)
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub start: DateTime<Utc>,
    pub days: u32,
    /// The load is scaled so that its peak needs this many nodes' worth of replicas.
    pub peak_nodes: u32,
    pub seed: u64,
    /// A trace to replay instead of the synthetic e-commerce week.
    pub trace: Option<Trace>,
}

impl SimConfig {
    pub fn step_s(&self) -> i64 {
        15
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub policy: String,
    pub days: f64,
    pub cost_usd: f64,
    pub node_hours: f64,
    pub unschedulable_pod_minutes: f64,
    pub total_pod_minutes: f64,
    pub max_pending_duration_s: i64,
    pub scale_ups: u32,
    pub scale_downs: u32,
    pub max_nodes_seen: u32,
    pub pdb_violations: u32,
    pub pods_lost: u32,
    pub dlq_messages: u32,
    /// The lower bound: at every step max(min_nodes, the nodes the demand needs), bought with
    /// the same On-Demand floor and Spot share as SmartScale.
    pub oracle_cost_usd: f64,
    /// The smallest static On-Demand fleet with no shortfall on this load.
    pub static_nodes: u32,
    pub static_cost_usd: f64,
    pub savings_vs_static_pct: f64,
    pub cost_vs_oracle: f64,
}

/// USD per hour of `nodes` t3.small nodes bought as SmartScale buys them: the first `floor`
/// On-Demand, then `spot_share` of the rest Spot.
pub fn fleet_price_per_hour(nodes: u32, floor: u32, spot_share: f64) -> f64 {
    use smartscale_core::ports::Lifecycle;
    use smartscale_core::pricing::{per_hour, DEFAULT_SPOT_DISCOUNT};
    let on_demand = per_hour("t3.small", Lifecycle::OnDemand, DEFAULT_SPOT_DISCOUNT).unwrap_or(0.0);
    let spot = per_hour("t3.small", Lifecycle::Spot, DEFAULT_SPOT_DISCOUNT).unwrap_or(0.0);
    let beyond = nodes.saturating_sub(floor);
    let spot_nodes = (spot_share * f64::from(beyond)).round().min(f64::from(beyond));
    f64::from(nodes - beyond) * on_demand + spot_nodes * spot + (f64::from(beyond) - spot_nodes) * on_demand
}

/// Nodes whose replica slots cover `pods`.
pub fn nodes_for(pods: u64) -> u32 {
    pods.div_ceil(pods_per_node()) as u32
}
