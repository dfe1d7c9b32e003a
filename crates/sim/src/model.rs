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
}
