//! The app's replicas, the scheduler, and the signals the decider reads, derived from demand
//! against ready capacity (formulas in docs/simulate.md).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use smartscale_core::fakes::FakeCluster;
use smartscale_core::metrics::Sample;
use smartscale_core::ports::{Node, PodPhase, Resources};

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
/// node vanished while it ran, and bind pending replicas first-fit by requests to Ready,
/// schedulable nodes.
pub fn reconcile_and_schedule(
    cluster: &FakeCluster,
    all_nodes: &[Node],
    desired: u64,
    next_pod: &mut u64,
    reclaimed_nodes: &BTreeSet<String>,
) -> Replicas {
    let nodes: Vec<&Node> = all_nodes.iter().filter(|n| n.ready).collect();
    cluster.with_pods(|pods| {
        // The pod garbage collector: DaemonSet pods go with their deleted node.
        pods.retain(|_, p| {
            p.namespace == APP_NAMESPACE || p.node.as_ref().is_none_or(|n| all_nodes.iter().any(|node| &node.name == n))
        });
        let mut live: Vec<(bool, u64, String)> = pods
            .values()
            .filter(|p| p.namespace == APP_NAMESPACE && !p.terminating)
            .map(|p| (p.node.is_some(), p.name.trim_start_matches("api-").parse().unwrap_or(0), p.key()))
            .collect();
        let count = live.len() as u64;
        if count < desired {
            for _ in count..desired {
                *next_pod += 1;
                let pod = replica(*next_pod);
                pods.insert(pod.key(), pod);
            }
        } else if count > desired {
            live.sort_by_key(|(bound, n, _)| (*bound, std::cmp::Reverse(*n)));
            for (_, _, key) in live.iter().take((count - desired) as usize) {
                pods.remove(key);
            }
        }

        let mut free: BTreeMap<&str, (u64, u64)> = nodes
            .iter()
            .filter(|n| !n.unschedulable)
            .map(|n| (n.name.as_str(), (n.allocatable.cpu_millis, n.allocatable.memory_bytes)))
            .collect();
        for pod in pods.values() {
            if let Some(f) = pod.node.as_deref().and_then(|n| free.get_mut(n)) {
                f.0 = f.0.saturating_sub(pod.requests.cpu_millis);
                f.1 = f.1.saturating_sub(pod.requests.memory_bytes);
            }
        }
        let mut replicas = Replicas::default();
        for pod in pods.values_mut().filter(|p| p.namespace == APP_NAMESPACE) {
            if pod.terminating {
                replicas.evicting += 1;
                continue;
            }
            if let Some(node) = &pod.node {
                if nodes.iter().any(|n| &n.name == node) {
                    replicas.running += 1;
                    continue;
                }
                if reclaimed_nodes.contains(node) {
                    replicas.reclaimed += 1;
                } else {
                    replicas.lost += 1;
                }
                pod.node = None;
                pod.phase = PodPhase::Pending;
                pod.ready = false;
            }
            let fits = |f: &(u64, u64)| f.0 >= pod.requests.cpu_millis && f.1 >= pod.requests.memory_bytes;
            match free.iter_mut().find(|(_, f)| fits(f)) {
                Some((name, f)) => {
                    f.0 -= pod.requests.cpu_millis;
                    f.1 -= pod.requests.memory_bytes;
                    pod.node = Some(name.to_string());
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

/// What Prometheus would report this step.
///
/// A replica uses 80 % of its CPU request at full demand and 70 % of its memory request (a
/// typical working set); the daemons use their requests. Latency and errors grow with the
/// overload: the desired replicas per running one.
pub fn sample(
    now: DateTime<Utc>,
    load: f64,
    peak_nodes: u32,
    desired: u64,
    ready: &[&Node],
    replicas: Replicas,
    cluster: &FakeCluster,
) -> Sample {
    let Replicas { running, pending, .. } = replicas;
    let peak_pods = f64::from(peak_nodes) * pods_per_node() as f64;
    let cpu_capacity: u64 = ready.iter().map(|n| n.allocatable.cpu_millis).sum();
    let memory_capacity: u64 = ready.iter().map(|n| n.allocatable.memory_bytes).sum();
    let daemons = ready.len() as u64;
    let demand_cpu = load * peak_pods * POD_CPU_MILLIS as f64 * 0.8 + (daemons * DAEMONSET_CPU_MILLIS) as f64;
    let used_memory = running as f64 * POD_MEMORY_BYTES as f64 * 0.7 + (daemons * DAEMONSET_MEMORY_BYTES) as f64;
    let overload = if running == 0 { 4.0 } else { (desired as f64 / running as f64 - 1.0).max(0.0) };
    let share = |used: f64, total: u64| if total == 0 { 100.0 } else { (used / total as f64 * 100.0).min(100.0) };

    // kube-state-metrics' view: requests of the pending and of the running app pods (the
    // DaemonSets never move).
    let (running_requests, pending_requests) = cluster.with_pods(|pods| {
        let mut sums = (Resources::default(), Resources::default());
        for pod in pods.values().filter(|p| p.namespace == APP_NAMESPACE && !p.terminating) {
            let sum = match (pod.phase, &pod.node) {
                (PodPhase::Running, Some(_)) => &mut sums.0,
                (PodPhase::Pending, None) => &mut sums.1,
                _ => continue,
            };
            sum.cpu_millis += pod.requests.cpu_millis;
            sum.memory_bytes += pod.requests.memory_bytes;
        }
        sums
    });
    Sample {
        at: now,
        cpu_pct: Some(share(demand_cpu, cpu_capacity)),
        mem_pct: Some(share(used_memory, memory_capacity)),
        pending_pods: Some(pending as u32),
        queue_depth: None,
        p95_latency_s: Some(0.25 * (1.0 + 4.0 * overload)),
        error_rate_pct: Some((overload * 10.0).min(100.0)),
        pending_cpu_millis: Some(pending_requests.cpu_millis as f64),
        pending_memory_bytes: Some(pending_requests.memory_bytes as f64),
        requested_cpu_millis: Some(running_requests.cpu_millis as f64),
        requested_memory_bytes: Some(running_requests.memory_bytes as f64),
        unhostable_pods: Some(0),
    }
}
