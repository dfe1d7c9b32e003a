//! Prometheus as the decider sees it (`--metrics prometheus`, the default): a scrape every
//! 15 s of node-exporter-like CPU counters and memory gauges on every Ready worker and of
//! kube-state-metrics' and the app's gauges; the decider's queries are evaluated at its run
//! time over the scrapes before it. Formulas in docs/simulate.md, "The world".
//!
//! - CPU % = `sum(rate(busy[5m])) / sum(rate(total[5m]))`: per node, the counters' increase
//!   between its first and last scrape inside the last 5 minutes, summed over nodes. A node
//!   with one scrape in the window adds nothing; a missed scrape only shortens the span.
//!   (Prometheus' `rate` also extrapolates to the window's edges; in a ratio of two rates
//!   over the same scrapes that cancels out, so it is left out.)
//! - Memory %, pending pods and the requests are gauges: the latest scrape within the
//!   5-minute lookback, so one scrape behind the scheduler; none within it is no data.
//! - p95 latency and the error rate come from `rate(...[5m])` over the app's histograms and
//!   counters: the mean of the scraped overload over the window.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use smartscale_core::metrics::Sample;

use crate::metrics;
pub use crate::metrics::{Observed, Replicas};
use crate::model::*;

/// `rate(...[5m])` and the instant-vector lookback.
const WINDOW_S: i64 = 300;

/// One node's counters since its last scrape.
#[derive(Debug, Clone, Copy, Default)]
struct Series {
    /// CPU-seconds busy and in total since the node's previous scrape.
    busy_s: f64,
    total_s: f64,
    last_scrape: Option<DateTime<Utc>>,
    /// The step this node was last a target, to forget nodes that are gone.
    seen: i64,
}

/// One scrape's samples, reduced to what the queries read.
#[derive(Debug, Clone)]
struct Scrape {
    at: DateTime<Utc>,
    /// CPU-seconds busy and in total between each node's previous scrape and this one, summed
    /// per previous scrape time (a rate window counts an increase only if both ends are in it).
    increases: Vec<(DateTime<Utc>, f64, f64)>,
    memory_used: f64,
    memory_total: f64,
    pending_pods: u32,
    pending_requests: (f64, f64),
    running_requests: (f64, f64),
    overload: f64,
}

#[derive(Debug, Default)]
pub struct Prometheus {
    series: BTreeMap<String, Series>,
    scrapes: VecDeque<Scrape>,
    step: i64,
}

impl Prometheus {
    /// The 15 s that end with the step `o` describes: every Ready worker's CPU counters grow
    /// by what it used. The app's CPU is spread over its running replicas; a node uses at
    /// most its allocatable, its DaemonSet pod its request.
    pub fn advance(&mut self, o: &Observed, step_s: i64) {
        self.step += 1;
        let per_replica = if o.replicas.running == 0 { 0.0 } else { o.app_cpu_millis / o.replicas.running as f64 };
        for (node, replicas) in o.ready.iter().zip(&o.replicas_on) {
            let allocatable = node.allocatable.cpu_millis as f64;
            let busy = (*replicas as f64 * per_replica + DAEMONSET_CPU_MILLIS as f64).min(allocatable);
            if !self.series.contains_key(node.name.as_str()) {
                self.series.insert(node.name.clone(), Series::default());
            }
            let Some(series) = self.series.get_mut(node.name.as_str()) else { continue };
            series.busy_s += busy / 1000.0 * step_s as f64;
            series.total_s += allocatable / 1000.0 * step_s as f64;
            series.seen = self.step;
        }
        let step = self.step;
        self.series.retain(|_, s| s.seen == step);
    }

    /// The scrape at `o.at` of every target: visible to queries evaluated after it.
    pub fn scrape(&mut self, o: &Observed) {
        let mut increases: Vec<(DateTime<Utc>, f64, f64)> = Vec::new();
        for series in self.series.values_mut() {
            if let Some(previous) = series.last_scrape {
                match increases.iter_mut().find(|(at, _, _)| *at == previous) {
                    Some(sum) => {
                        sum.1 += series.busy_s;
                        sum.2 += series.total_s;
                    }
                    None => increases.push((previous, series.busy_s, series.total_s)),
                }
            }
            *series = Series { last_scrape: Some(o.at), seen: series.seen, ..Series::default() };
        }
        let running_on_ready: u64 = o.replicas_on.iter().sum();
        let memory_used = running_on_ready as f64 * POD_MEMORY_BYTES as f64 * 0.7
            + (o.ready.len() as u64 * DAEMONSET_MEMORY_BYTES) as f64;
        let memory_total: u64 = o.ready.iter().map(|n| n.allocatable.memory_bytes).sum();
        self.scrapes.push_back(Scrape {
            at: o.at,
            increases,
            memory_used,
            memory_total: memory_total as f64,
            pending_pods: o.replicas.pending as u32,
            pending_requests: (o.pending_requests.cpu_millis as f64, o.pending_requests.memory_bytes as f64),
            running_requests: (o.running_requests.cpu_millis as f64, o.running_requests.memory_bytes as f64),
            overload: metrics::overload(o),
        });
        while self.scrapes.front().is_some_and(|s| o.at - s.at >= Duration::seconds(WINDOW_S)) {
            self.scrapes.pop_front();
        }
    }

    /// The decider's queries evaluated at `now` over the scrapes before it. A signal with no
    /// sample in its window has no value: unknown is never zero.
    pub fn query(&self, now: DateTime<Utc>) -> Sample {
        let start = now - Duration::seconds(WINDOW_S);
        let window = || self.scrapes.iter().filter(|s| s.at > start && s.at < now);
        let (busy, total) = window()
            .flat_map(|s| s.increases.iter())
            .filter(|(previous, _, _)| *previous > start)
            .fold((0.0, 0.0), |(b, t), (_, busy, total)| (b + busy, t + total));
        let cpu_pct = (total > 0.0).then(|| (busy / total * 100.0).min(100.0));
        let latest = window().next_back();
        let (scrapes, overloads) = window().fold((0u32, 0.0), |(n, sum), s| (n + 1, sum + s.overload));
        let mean_overload = (scrapes > 0).then(|| overloads / f64::from(scrapes));
        Sample {
            at: now,
            cpu_pct,
            mem_pct: latest
                .filter(|s| s.memory_total > 0.0)
                .map(|s| (s.memory_used / s.memory_total * 100.0).min(100.0)),
            pending_pods: latest.map(|s| s.pending_pods),
            queue_depth: None,
            p95_latency_s: mean_overload.map(metrics::p95_latency_s),
            error_rate_pct: mean_overload.map(metrics::error_rate_pct),
            pending_cpu_millis: latest.map(|s| s.pending_requests.0),
            pending_memory_bytes: latest.map(|s| s.pending_requests.1),
            requested_cpu_millis: latest.map(|s| s.running_requests.0),
            requested_memory_bytes: latest.map(|s| s.running_requests.1),
            unhostable_pods: latest.map(|_| 0),
        }
    }
}
