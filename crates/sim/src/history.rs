//! A demand read from a real cluster's history (`smartscale backtest`): the summed requests of
//! the pods that wanted to run, turned into replicas of the simulated app, and every policy run
//! on it exactly as `compare` runs them on a trace.

use chrono::{DateTime, Duration, Utc};
use smartscale_core::{Error, Result};

use crate::demand::{Demand, Window};
use crate::model::{nodes_for, pods_per_node, SimConfig, POD_CPU_MILLIS, POD_MEMORY_BYTES};
use crate::world::Run;

/// A request sum a hair above a whole number of replicas (0.2 cores summed five times reads
/// 1.0000000000000002) must not ask for one more.
const ROUNDING_SLACK: f64 = 1e-6;

/// Replicas of the simulated app (200 m CPU, 256 MiB each) whose requests cover `cpu_millis`
/// and `memory_bytes`: whichever resource needs more, never fewer than one.
pub fn replicas_for(cpu_millis: f64, memory_bytes: f64) -> u64 {
    let by =
        |requested: f64, per_replica: u64| (requested / per_replica as f64 - ROUNDING_SLACK).ceil().max(0.0) as u64;
    by(cpu_millis, POD_CPU_MILLIS).max(by(memory_bytes, POD_MEMORY_BYTES)).max(1)
}

/// Nodes whose replica slots hold `replicas`: the simulator's `--peak-nodes` for a history.
pub fn peak_nodes_for(replicas: u64) -> u32 {
    nodes_for(replicas).max(1)
}

impl Demand {
    /// The demand at every simulation step of `config` from `points` (time, replicas), in time
    /// order: the latest point at or before the step, the first point before the history starts
    /// (the step function a trace replays). `load` is the replicas' share of
    /// `config.peak_nodes` nodes' slots, as for a trace whose peak fills them. `source` names
    /// the history in the window's description.
    pub fn from_replicas(config: &SimConfig, points: &[(DateTime<Utc>, u64)], source: &str) -> Result<Demand> {
        if points.is_empty() {
            return Err(Error::invalid("history", "no points to build a demand from"));
        }
        if let Some(w) = points.windows(2).find(|w| w[1].0 <= w[0].0) {
            return Err(Error::invalid("history", format!("point at {} is not after {}", w[1].0, w[0].0)));
        }
        let slots = (u64::from(config.peak_nodes) * pods_per_node()) as f64;
        let replicas: Vec<u64> = (0..config.steps())
            .map(|step| {
                let at = config.start + Duration::seconds(step * config.step_s());
                match points.partition_point(|(t, _)| *t <= at) {
                    0 => points[0].1,
                    i => points[i - 1].1,
                }
                .max(1)
            })
            .collect();
        let load = replicas.iter().map(|r| *r as f64 / slots).collect();
        Ok(Demand { load, replicas, window: Window::given(config, source) })
    }
}

/// Every policy on `demand`, in [`crate::PolicyName::ALL`]'s order: `compare` with a demand of one's own.
pub fn compare(config: &SimConfig, demand: &Demand, progress: &mut dyn FnMut(f64)) -> Result<Vec<Run>> {
    config.validate()?;
    let steps = usize::try_from(config.steps()).unwrap_or(usize::MAX);
    if demand.replicas.len() != steps || demand.load.len() != steps {
        return Err(Error::invalid(
            "history",
            format!("the demand has {} steps, the run {steps}", demand.replicas.len()),
        ));
    }
    crate::compare_on(config, demand, progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Trace;

    #[test]
    fn requests_map_to_replicas_by_the_scarcer_resource() {
        assert_eq!(replicas_for(0.2 * 5.0 * 1000.0, 0.0), 5, "float noise does not add a replica");
        assert_eq!(replicas_for(1001.0, 0.0), 6);
        assert_eq!(replicas_for(400.0, 3.0 * 256.0 * 1048576.0), 3);
        assert_eq!(replicas_for(0.0, 0.0), 1, "never fewer than one");
        assert_eq!(peak_nodes_for(41), 9);
    }

    /// Where a trace's peak fills its nodes exactly, a trace of replicas and the same replicas
    /// given directly are the same demand: `backtest` and `compare --trace` agree.
    #[test]
    fn replicas_given_directly_equal_the_same_trace() {
        let start: DateTime<Utc> = "2026-01-05T00:00:00Z".parse().unwrap();
        let values = [10u64, 20, 40, 15, 5, 35];
        let points: Vec<(DateTime<Utc>, u64)> =
            values.iter().enumerate().map(|(i, v)| (start + Duration::hours(4 * i as i64), *v)).collect();
        let csv: String = std::iter::once("timestamp,value".to_string())
            .chain(points.iter().map(|(t, v)| format!("{},{v}", t.to_rfc3339())))
            .collect::<Vec<_>>()
            .join("\n");
        let config = SimConfig { start, peak_nodes: peak_nodes_for(40), ..SimConfig::new(1) };
        let by_trace =
            Demand::of(&SimConfig { trace: Some(Trace::parse(&csv, "t.csv").unwrap()), ..config.clone() }).unwrap();
        let direct = Demand::from_replicas(&config, &points, "test history").unwrap();
        assert_eq!(direct.replicas, by_trace.replicas);
        assert_eq!(direct.load, by_trace.load);
    }

    #[test]
    fn out_of_order_points_are_refused() {
        let t: DateTime<Utc> = "2026-01-05T00:00:00Z".parse().unwrap();
        let err = Demand::from_replicas(&SimConfig::new(1), &[(t, 1), (t, 2)], "test history").err().unwrap();
        assert!(err.to_string().contains("is not after"), "{err}");
    }
}
