//! The app's replicas, the scheduler, and the signals the decider reads, derived from demand
//! against ready capacity (formulas in docs/simulate.md).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use smartscale_core::fakes::FakeCluster;
use smartscale_core::metrics::Sample;
use smartscale_core::ports::{Node, Pod, PodPhase, Resources};

use crate::model::*;
use crate::ports::{replica, APP_NAMESPACE};

/// App replicas by state after a step's scheduling.
#[derive(Debug, Clone, Copy, Default)]
pub struct Replicas {
    pub running: u64,
    pub evicting: u64,
    pub pending: u64,
    /// Running replicas whose node vanished under them.
    pub lost: u32,
    /// ... because EC2 reclaimed the node's Spot instance.
    pub reclaimed: u32,
}

/// Ready workers (the control plane excluded).
pub fn ready_workers(nodes: &[Node]) -> Vec<&Node> {
    nodes.iter().filter(|n| n.ready && !n.labels.contains_key("node-role.kubernetes.io/control-plane")).collect()
}

/// The ReplicaSet and the scheduler, in place on the cluster's pods: add pending replicas up
/// to `desired` (or remove the newest beyond it, pending ones first), count a replica whose
/// node vanished while it ran (and name it in `displaced`), and bind pending replicas first-fit
/// by requests to Ready, schedulable nodes.
pub fn reconcile_and_schedule(
    cluster: &FakeCluster,
    all_nodes: &[Node],
    desired: u64,
    next_pod: &mut u64,
    reclaimed_nodes: &BTreeSet<String>,
    displaced: &mut Vec<String>,
) -> Replicas {
    // The nodes come sorted by name (the cluster keeps them by name): a pod's node is found by
    // bisection, once per pod and pass.
    let index = |name: &str| all_nodes.binary_search_by(|n| n.name.as_str().cmp(name)).ok();
    cluster.with_pods(|pods| {
        // The pod garbage collector: DaemonSet pods go with their deleted node.
        pods.retain(|_, p| p.namespace == APP_NAMESPACE || p.node.as_deref().is_none_or(|n| index(n).is_some()));
        let is_live = |p: &Pod| p.namespace == APP_NAMESPACE && !p.terminating;
        let count = pods.values().filter(|p| is_live(p)).count() as u64;
        if count < desired {
            for _ in count..desired {
                *next_pod += 1;
                let pod = replica(*next_pod);
                pods.insert(pod.key(), pod);
            }
        } else if count > desired {
            let mut live: Vec<(bool, u64, String)> = pods
                .values()
                .filter(|p| is_live(p))
                .map(|p| {
                    (p.node.is_some(), p.name.strip_prefix("api-").and_then(|n| n.parse().ok()).unwrap_or(0), p.key())
                })
                .collect();
            live.sort_by_key(|(bound, n, _)| (*bound, std::cmp::Reverse(*n)));
            for (_, _, key) in live.iter().take((count - desired) as usize) {
                pods.remove(key);
            }
        }

        // Free room per schedulable Ready node, by the node's index (name order, which first-fit
        // walks), and each pod's node index in the pods' order, for the pass after.
        let mut free: Vec<Option<(u64, u64)>> = all_nodes
            .iter()
            .map(|n| (n.ready && !n.unschedulable).then_some((n.allocatable.cpu_millis, n.allocatable.memory_bytes)))
            .collect();
        let mut bound_to: Vec<Option<usize>> = Vec::with_capacity(pods.len());
        for pod in pods.values() {
            let node = pod.node.as_deref().and_then(index);
            if let Some(f) = node.and_then(|i| free[i].as_mut()) {
                f.0 = f.0.saturating_sub(pod.requests.cpu_millis);
                f.1 = f.1.saturating_sub(pod.requests.memory_bytes);
            }
            bound_to.push(node);
        }
        let mut replicas = Replicas::default();
        for (pod, node) in pods.values_mut().zip(bound_to).filter(|(p, _)| p.namespace == APP_NAMESPACE) {
            if pod.terminating {
                replicas.evicting += 1;
                continue;
            }
            if let Some(name) = &pod.node {
                if node.is_some_and(|i| all_nodes[i].ready) {
                    replicas.running += 1;
                    continue;
                }
                if reclaimed_nodes.contains(name) {
                    replicas.reclaimed += 1;
                } else {
                    replicas.lost += 1;
                }
                displaced.push(pod.name.clone());
                pod.node = None;
                pod.phase = PodPhase::Pending;
                pod.ready = false;
            }
            let fits = |f: &(u64, u64)| f.0 >= pod.requests.cpu_millis && f.1 >= pod.requests.memory_bytes;
            let first_fit =
                free.iter_mut().enumerate().find_map(|(i, f)| f.as_mut().filter(|f| fits(f)).map(|f| (i, f)));
            match first_fit {
                Some((i, f)) => {
                    f.0 -= pod.requests.cpu_millis;
                    f.1 -= pod.requests.memory_bytes;
                    pod.node = Some(all_nodes[i].name.clone());
                    pod.phase = PodPhase::Running;
                    pod.ready = true;
                    replicas.running += 1;
                }
                None => replicas.pending += 1,
            }
        }
        replicas
    })
}

/// The step's state, as the metrics see it: what the ideal sample and the scrape are made of.
pub struct Observed<'a> {
    pub at: DateTime<Utc>,
    /// Ready workers, by name (the scrape targets).
    pub ready: &'a [&'a Node],
    /// Running app replicas on each of `ready`, in the same order (only when `per_node` was asked).
    pub replicas_on: Vec<u64>,
    pub desired: u64,
    pub replicas: Replicas,
    /// The app's CPU use at this load, millicores: 80 % of its peak replicas' requests × load.
    pub app_cpu_millis: f64,
    pub running_requests: Resources,
    pub pending_requests: Resources,
}

/// The app's CPU use at `load` (0–1 of the peak of `peak_nodes` nodes' replicas), millicores:
/// 80 % of the peak replicas' requests × load.
pub fn app_cpu_millis(load: f64, peak_nodes: u32) -> f64 {
    let peak_pods = f64::from(peak_nodes) * pods_per_node() as f64;
    load * peak_pods * POD_CPU_MILLIS as f64 * 0.8
}

/// Reads the step's state; `app_cpu_millis` is [`app_cpu_millis`] of the step's load. `per_node`
/// also counts the running replicas per ready node, which only the scraped model needs.
pub fn observe<'a>(
    now: DateTime<Utc>,
    app_cpu_millis: f64,
    desired: u64,
    ready: &'a [&'a Node],
    replicas: Replicas,
    cluster: &FakeCluster,
    per_node: bool,
) -> Observed<'a> {
    let mut replicas_on = if per_node { vec![0; ready.len()] } else { Vec::new() };
    // kube-state-metrics' view: requests of the pending and of the running app pods (the
    // DaemonSets never move).
    let (running_requests, pending_requests) = cluster.with_pods(|pods| {
        let mut sums = (Resources::default(), Resources::default());
        for pod in pods.values().filter(|p| p.namespace == APP_NAMESPACE && !p.terminating) {
            let sum = match (pod.phase, &pod.node) {
                (PodPhase::Running, Some(node)) => {
                    if per_node {
                        if let Ok(i) = ready.binary_search_by(|n| n.name.as_str().cmp(node.as_str())) {
                            replicas_on[i] += 1;
                        }
                    }
                    &mut sums.0
                }
                (PodPhase::Pending, None) => &mut sums.1,
                _ => continue,
            };
            sum.cpu_millis += pod.requests.cpu_millis;
            sum.memory_bytes += pod.requests.memory_bytes;
        }
        sums
    });
    Observed { at: now, ready, replicas_on, desired, replicas, app_cpu_millis, running_requests, pending_requests }
}

/// The overload: desired replicas per running one, less one (4 with none running).
pub fn overload(o: &Observed) -> f64 {
    let running = o.replicas.running;
    if running == 0 {
        4.0
    } else {
        (o.desired as f64 / running as f64 - 1.0).max(0.0)
    }
}

pub fn p95_latency_s(overload: f64) -> f64 {
    0.25 * (1.0 + 4.0 * overload)
}

pub fn error_rate_pct(overload: f64) -> f64 {
    (overload * 10.0).min(100.0)
}

/// What an ideal metrics source would report this step: the step's exact values.
///
/// A replica uses 80 % of its CPU request at full demand and 70 % of its memory request (a
/// typical working set); the daemons use their requests. Latency and errors grow with the
/// overload: the desired replicas per running one.
pub fn ideal_sample(o: &Observed) -> Sample {
    let ready = o.ready;
    let running = o.replicas.running;
    let cpu_capacity: u64 = ready.iter().map(|n| n.allocatable.cpu_millis).sum();
    let memory_capacity: u64 = ready.iter().map(|n| n.allocatable.memory_bytes).sum();
    let daemons = ready.len() as u64;
    let demand_cpu = o.app_cpu_millis + (daemons * DAEMONSET_CPU_MILLIS) as f64;
    let used_memory = running as f64 * POD_MEMORY_BYTES as f64 * 0.7 + (daemons * DAEMONSET_MEMORY_BYTES) as f64;
    let overload = overload(o);
    let share = |used: f64, total: u64| if total == 0 { 100.0 } else { (used / total as f64 * 100.0).min(100.0) };
    Sample {
        at: o.at,
        cpu_pct: Some(share(demand_cpu, cpu_capacity)),
        mem_pct: Some(share(used_memory, memory_capacity)),
        pending_pods: Some(o.replicas.pending as u32),
        queue_depth: None,
        p95_latency_s: Some(p95_latency_s(overload)),
        error_rate_pct: Some(error_rate_pct(overload)),
        pending_cpu_millis: Some(o.pending_requests.cpu_millis as f64),
        pending_memory_bytes: Some(o.pending_requests.memory_bytes as f64),
        requested_cpu_millis: Some(o.running_requests.cpu_millis as f64),
        requested_memory_bytes: Some(o.running_requests.memory_bytes as f64),
        unhostable_pods: Some(0),
    }
}
