//! Predictive scaling's demand history: summed requests of the running and the unschedulable
//! pods (the decider's `requested_*` and `pending_*` queries), in nodes of one new node's
//! allocatable, the larger of CPU and memory. Where requests are unknown at a step (no
//! kube-state-metrics then), CPU utilisation × registered nodes stands in. A step where both are
//! unknown is left out: a gap, never zero.
//!
//! `query_range` is chunked so that no query asks for more than [`MAX_POINTS`] points
//! (Prometheus refuses more than 11 000 per series).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use smartscale_core::forecast::{DemandSample, NodeSize};
use smartscale_core::{Error, Result};

use crate::api::Range;
use crate::PrometheusSource;

/// Points per query, under Prometheus' 11 000.
pub const MAX_POINTS: i64 = 10_000;

/// `[start, end]` cut into chunks of at most [`MAX_POINTS`] steps, each starting one step after
/// the previous one ended.
pub fn chunks(start: DateTime<Utc>, end: DateTime<Utc>, step_s: u32) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let step = Duration::seconds(i64::from(step_s.max(1)));
    let mut out = Vec::new();
    let mut from = start;
    while from <= end {
        let to = (from + step * (MAX_POINTS as i32 - 1)).min(end);
        out.push((from, to));
        from = to + step;
    }
    out
}

impl PrometheusSource {
    /// The demand signal over `[start, end]` every `step_s` seconds (see the module's doc).
    pub async fn demand_history(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_s: u32,
        node: NodeSize,
    ) -> Result<Vec<DemandSample>> {
        let mut out = Vec::new();
        for (from, to) in chunks(start, end, step_s) {
            out.extend(self.demand_chunk(from, to, step_s, node).await?);
        }
        Ok(out)
    }

    async fn demand_chunk(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_s: u32,
        node: NodeSize,
    ) -> Result<Vec<DemandSample>> {
        let q = &self.queries;
        let range = |name: &'static str, promql: &str| {
            let promql = promql.to_string();
            async move {
                match self.api.range(name, &promql, start, end, step_s).await? {
                    Range::Points(points) => Ok(points.into_iter().collect::<BTreeMap<i64, f64>>()),
                    Range::Several { count, first } => Err(Error::invalid(
                        name,
                        format!("query returned {count} series (first {first}); the demand needs one: {promql}"),
                    )),
                }
            }
        };
        let (running_cpu, pending_cpu, running_mem, pending_mem, cpu, nodes) = tokio::join!(
            range("requested_cpu", &q.requested_cpu),
            range("pending_cpu", &q.pending_cpu),
            range("requested_memory", &q.requested_memory),
            range("pending_memory", &q.pending_memory),
            range("cpu", &q.cpu),
            range("node_count", &q.node_count),
        );
        let (running_cpu, pending_cpu, running_mem, pending_mem, cpu, nodes) =
            (running_cpu?, pending_cpu?, running_mem?, pending_mem?, cpu?, nodes?);
        let sum = |a: &BTreeMap<i64, f64>, b: &BTreeMap<i64, f64>, t: &i64| match (a.get(t), b.get(t)) {
            (Some(x), Some(y)) => Some(x + y),
            (x, y) => x.or(y).copied(),
        };
        let times: std::collections::BTreeSet<i64> =
            running_cpu.keys().chain(running_mem.keys()).chain(cpu.keys()).copied().collect();
        Ok(times
            .into_iter()
            .filter_map(|t| {
                let by_requests = node.nodes(sum(&running_cpu, &pending_cpu, &t), sum(&running_mem, &pending_mem, &t));
                let by_utilisation = || Some(cpu.get(&t)? / 100.0 * nodes.get(&t)?);
                let value = by_requests.or_else(by_utilisation)?;
                Some(DemandSample { at: DateTime::from_timestamp(t, 0)?, nodes: value.max(0.0) })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_stay_under_the_point_limit_and_cover_the_range() {
        let start: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        let end = start + Duration::days(56);
        let parts = chunks(start, end, 300);
        assert_eq!(parts.len(), 2, "56 days at 5 min is 16 129 points");
        assert_eq!(parts[0].0, start);
        assert_eq!(parts.last().unwrap().1, end);
        for (from, to) in &parts {
            assert!((*to - *from).num_seconds() / 300 < MAX_POINTS);
        }
        assert_eq!(parts[1].0, parts[0].1 + Duration::seconds(300));
        assert_eq!(chunks(start, start + Duration::days(14), 300).len(), 1);
    }
}
