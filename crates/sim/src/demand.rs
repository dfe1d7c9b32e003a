//! The load, step by step, and the replicas it asks for.

use chrono::{DateTime, Duration, Utc};
use crate::workload::ecommerce_week;

use crate::model::{pods_per_node, SimConfig};

/// Demand as a share of the peak (0–1) and the replicas an HPA-like rule asks for, per step.
pub struct Demand {
    pub load: Vec<f64>,
    pub replicas: Vec<u64>,
}

impl Demand {
    pub fn of(config: &SimConfig) -> Demand {
        let peak_pods = f64::from(config.peak_nodes) * pods_per_node() as f64;
        let trace_peak = config.trace.as_ref().map(|t| t.peak()).unwrap_or(1.0).max(f64::MIN_POSITIVE);
        let load: Vec<f64> = (0..config.steps())
            .map(|step| {
                let at = config.start + Duration::seconds(step * config.step_s());
                load_at(config, trace_peak, at)
            })
            .collect();
        // One replica per peak pod's share of the load, never fewer than one.
        let replicas = load.iter().map(|l| ((l * peak_pods).ceil() as u64).max(1)).collect();
        Demand { load, replicas }
    }

    /// The most replicas asked for at once.
    pub fn peak_replicas(&self) -> u64 {
        self.replicas.iter().copied().max().unwrap_or(0)
    }
}

fn load_at(config: &SimConfig, trace_peak: f64, at: DateTime<Utc>) -> f64 {
    match &config.trace {
        // Replay the trace from its start, aligned to the simulation's start.
        Some(trace) => trace.value_at(trace.start() + (at - config.start)) / trace_peak,
        None => ecommerce_week(at, config.seed),
    }
}
