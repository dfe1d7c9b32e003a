//! `smartscale forecast --prometheus`: the demand history of a live cluster, read with the PromQL
//! the decider's demand query uses (crates/prometheus: summed requests of the Running and the
//! unschedulable pods, the larger of CPU and memory in nodes of one new node; CPU utilisation ×
//! registered nodes where requests are unknown), over the std-only client `backtest` uses.

use chrono::{DateTime, Duration, Utc};
use smartscale_core::forecast::{DemandSample, History, NodeSize, STEP_S};
use std::collections::{BTreeMap, BTreeSet};

use crate::backtest_history::{requests_of, Source, UNSCHEDULABLE};

/// Running pods, as the decider's `requested_*` queries count them.
const RUNNING: &str = r#"(kube_pod_status_phase{phase="Running"} == 1)"#;
/// What a pod without requests counts as (the decider's and the drain worker's defaults).
const UNSET_CPU_CORES: &str = "0.1";
const UNSET_MEMORY_BYTES: &str = "134217728";
/// The decider's CPU busy % (one minus the idle share), the fallback where requests are unknown.
const CPU_BUSY: &str = r#"(1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m]))) * 100"#;

/// The series the demand cannot do without, all from kube-state-metrics (node-exporter's CPU
/// is only the fallback, so its absence is not an error).
pub const REQUIRED_METRICS: [&str; 3] =
    ["kube_pod_status_phase", "kube_pod_container_resource_requests", "kube_pod_status_unschedulable"];
pub const EXPORTER: &str = "kube-state-metrics";

/// Fewer days than this is not a history to forecast from: two daily cycles are the least the
/// profile fits on (a weekly one needs 14).
pub const MIN_DAYS: f64 = 2.0;

/// The demand query's parts, named as `PROMQL_*` names them in the decider, in the order
/// [`demand_of`] reads them.
pub fn demand_queries() -> [(&'static str, String); 6] {
    [
        ("requested_cpu", format!("{} * 1000", requests_of("cpu", RUNNING, UNSET_CPU_CORES))),
        ("pending_cpu", format!("{} * 1000", requests_of("cpu", UNSCHEDULABLE, UNSET_CPU_CORES))),
        ("requested_memory", requests_of("memory", RUNNING, UNSET_MEMORY_BYTES)),
        ("pending_memory", requests_of("memory", UNSCHEDULABLE, UNSET_MEMORY_BYTES)),
        ("cpu", CPU_BUSY.to_string()),
        ("node_count", "count(kube_node_info)".to_string()),
    ]
}

/// What was read, for the report's source line.
#[derive(Debug, Clone, PartialEq)]
pub struct DemandRead {
    pub samples: usize,
    /// Samples where requests were unknown and CPU utilisation stood in.
    pub by_utilisation: usize,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

/// The demand over `[start, end]` on the 5-minute grid, or why there is none to forecast from.
pub fn read_demand(
    source: &Source,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    node: NodeSize,
) -> Result<(History, DemandRead), String> {
    let url = source.endpoint.url();
    source.check_metrics_of(&REQUIRED_METRICS, EXPORTER, start, end)?;
    let mut series = Vec::new();
    for (name, promql) in demand_queries() {
        let (points, _) = source.range(name, &promql, start, end, STEP_S)?;
        series.push(points.into_iter().collect::<BTreeMap<i64, f64>>());
    }
    let (samples, by_utilisation) = demand_of(&series, node);
    let (Some(first), Some(last)) = (samples.first().map(|s| s.at), samples.last().map(|s| s.at)) else {
        return Err(format!(
            "too little history: Prometheus at {url} has no demand between {} and {} (the {EXPORTER} series \
             exist but hold no values there); the forecast needs at least {MIN_DAYS:.0} days",
            start.to_rfc3339(),
            end.to_rfc3339()
        ));
    };
    let held_days = (last - first).num_seconds() as f64 / 86_400.0;
    if held_days < MIN_DAYS {
        return Err(format!(
            "too little history: Prometheus at {url} holds {held_days:.2} days of demand (from {} to {}); the \
             forecast needs at least {MIN_DAYS:.0} (two daily cycles; a weekly profile needs 14): wait for more \
             history, or check Prometheus' retention (--storage.tsdb.retention.time)",
            first.to_rfc3339(),
            last.to_rfc3339()
        ));
    }
    let history = History::from_samples(&samples).map_err(|e| format!("the demand history: {e}"))?;
    Ok((history, DemandRead { samples: samples.len(), by_utilisation, first, last }))
}

/// The decider's combination (crates/prometheus/src/demand.rs) of the six series, in the order
/// of [`demand_queries`]: running + pending requests in nodes, the larger of CPU and memory;
/// CPU % × nodes where requests are unknown; a step with neither is left out (a gap, not zero).
/// Returns the samples and how many came from utilisation.
pub fn demand_of(series: &[BTreeMap<i64, f64>], node: NodeSize) -> (Vec<DemandSample>, usize) {
    let [running_cpu, pending_cpu, running_mem, pending_mem, cpu, nodes] = series else {
        return (Vec::new(), 0);
    };
    let sum = |a: &BTreeMap<i64, f64>, b: &BTreeMap<i64, f64>, t: &i64| match (a.get(t), b.get(t)) {
        (Some(x), Some(y)) => Some(x + y),
        (x, y) => x.or(y).copied(),
    };
    let times: BTreeSet<i64> = running_cpu.keys().chain(running_mem.keys()).chain(cpu.keys()).copied().collect();
    let mut by_utilisation = 0;
    let samples = times
        .into_iter()
        .filter_map(|t| {
            let by_requests = node.nodes(sum(running_cpu, pending_cpu, &t), sum(running_mem, pending_mem, &t));
            let value = match by_requests {
                Some(v) => v,
                None => {
                    let v = cpu.get(&t)? / 100.0 * nodes.get(&t)?;
                    by_utilisation += 1;
                    v
                }
            };
            Some(DemandSample { at: DateTime::from_timestamp(t, 0)?, nodes: value.max(0.0) })
        })
        .collect();
    (samples, by_utilisation)
}

/// `[at - days, at]` on the 5-minute grid.
pub fn window(at: DateTime<Utc>, days: u32) -> (DateTime<Utc>, DateTime<Utc>) {
    let end = smartscale_core::forecast::history::slot_start(at);
    (end - Duration::days(i64::from(days)), end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeSize {
        NodeSize { cpu_millis: 1800.0, memory_bytes: 1472.0 * 1048576.0 }
    }

    #[test]
    fn requests_win_utilisation_stands_in_and_neither_is_a_gap() {
        let map = |points: &[(i64, f64)]| points.iter().copied().collect::<BTreeMap<i64, f64>>();
        let series = [
            map(&[(0, 1800.0), (300, 900.0)]),           // running CPU millis
            map(&[(0, 1800.0)]),                         // pending CPU millis
            map(&[(0, 1472.0 * 1048576.0), (300, 0.0)]), // running memory
            map(&[]),                                    // pending memory
            map(&[(0, 50.0), (600, 40.0), (900, 40.0)]), // CPU busy %
            map(&[(0, 3.0), (600, 5.0)]),                // nodes
        ];
        let (samples, by_utilisation) = demand_of(&series, node());
        let got: Vec<(i64, f64)> = samples.iter().map(|s| (s.at.timestamp(), s.nodes)).collect();
        // 0: CPU (1800 + 1800) / 1800 = 2 beats memory 1; 300: CPU 0.5; 600: 40 % of 5 nodes;
        // 900: CPU known but not the node count: unknown, left out.
        assert_eq!(got, vec![(0, 2.0), (300, 0.5), (600, 2.0)]);
        assert_eq!(by_utilisation, 1);
    }

    /// The same demand as production reads: a change to the decider's queries fails here.
    #[test]
    fn the_demand_queries_are_the_deciders() {
        let q = smartscale_prometheus::Queries::default();
        let deciders = [
            ("requested_cpu", q.requested_cpu),
            ("pending_cpu", q.pending_cpu),
            ("requested_memory", q.requested_memory),
            ("pending_memory", q.pending_memory),
            ("cpu", q.cpu),
            ("node_count", q.node_count),
        ];
        assert_eq!(demand_queries(), deciders);
    }

    #[test]
    fn the_window_ends_on_the_grid() {
        let at: DateTime<Utc> = "2026-01-20T08:53:10Z".parse().unwrap();
        let (start, end) = window(at, 14);
        assert_eq!(end, "2026-01-20T08:50:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(end - start, Duration::days(14));
    }
}
