//! The `ca-like` baseline: Cluster Autoscaler's documented defaults, acting through the same
//! scale-up and drain workers as SmartScale so that only the decisions differ.
//!
//! - Scale-up: on any unschedulable pod, at every scan, by a first-fit-decreasing estimate of
//!   the pending pods onto the upcoming nodes and then onto new template nodes.
//! - Scale-down: a node is unneeded while its requests (CPU or memory, DaemonSets included) are
//!   at most 50 % of its allocatable and its pods fit elsewhere; after 10 minutes unneeded it is
//!   drained, one node at a time, never within 10 minutes of a scale-up
//!   (`scale-down-delay-after-add`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use smartscale_core::drain;
use smartscale_core::fakes::FakeCluster;
use smartscale_core::messages::{DrainRequest, ScaleUpRequest, WorkMessage};
use smartscale_core::ports::{Instance, Node, Pdb, Pod, PodPhase, Resources};

use crate::model::{DAEMONSET_CPU_MILLIS, DAEMONSET_MEMORY_BYTES, NODE_CPU_MILLIS, NODE_MEMORY_BYTES};

const UTILIZATION_THRESHOLD: f64 = 0.5;
/// Scale-down candidates are re-evaluated every 4 steps (a minute): well inside the 10-minute
/// unneeded time, and it keeps a 28-day comparison fast. Pending pods are looked at every step.
const SCALE_DOWN_EVERY_STEPS: i64 = 4;
const UNNEEDED_FOR_S: i64 = 600;
const DELAY_AFTER_ADD_S: i64 = 600;

/// What the cluster looks like to one scan.
pub struct View<'a> {
    pub now: DateTime<Utc>,
    pub nodes: &'a [Node],
    pub pods: &'a [Pod],
    pub pdbs: &'a [Pdb],
    /// Active instances managed for the cluster.
    pub instances: &'a [Instance],
    pub min_nodes: u32,
    pub max_nodes: u32,
}

/// Whether this step needs a scan: always with unschedulable pods, else every minute.
pub fn scan_due(step: i64, cluster: &FakeCluster) -> bool {
    step % SCALE_DOWN_EVERY_STEPS == 0
        || cluster.with_pods(|pods| pods.values().any(|p| p.node.is_none() && p.phase == PodPhase::Pending))
}

#[derive(Debug, Default)]
pub struct CaLike {
    cluster_id: String,
    unneeded_since: BTreeMap<String, DateTime<Utc>>,
    last_scale_up: Option<DateTime<Utc>>,
}

impl CaLike {
    pub fn new(cluster_id: &str) -> CaLike {
        CaLike { cluster_id: cluster_id.into(), ..CaLike::default() }
    }

    /// One scan: the work to send, if any.
    pub fn scan(&mut self, view: &View) -> Option<WorkMessage> {
        let registered =
            |i: &Instance| view.nodes.iter().any(|n| n.ready && n.instance_id.as_ref() == Some(&i.instance_id));
        let upcoming = view.instances.iter().filter(|i| !registered(i)).count() as u32;
        let pending: Vec<&Pod> =
            view.pods.iter().filter(|p| p.node.is_none() && p.phase == PodPhase::Pending).collect();
        if !pending.is_empty() {
            let needed = new_nodes_for(&pending, upcoming);
            let room = view.max_nodes.saturating_sub(view.instances.len() as u32);
            let count = needed.min(room);
            if count == 0 {
                return None;
            }
            self.last_scale_up = Some(view.now);
            self.unneeded_since.clear();
            return Some(WorkMessage::ScaleUpRequest(ScaleUpRequest {
                decision_id: format!("ca-like-{}", view.now.timestamp()),
                cluster_id: self.cluster_id.clone(),
                lock_token: None,
                count,
                reason: format!("ca-like: {} unschedulable pods", pending.len()),
                requested_at: view.now,
                avoid: Vec::new(),
                replaces: None,
            }));
        }
        self.scale_down(view)
    }

    fn scale_down(&mut self, view: &View) -> Option<WorkMessage> {
        let managed = |n: &Node| {
            view.instances.iter().find(|i| n.instance_id.as_ref() == Some(&i.instance_id)).map(|i| i.lifecycle)
        };
        let plan = drain::plan(drain::Selection::Safest, view.nodes, view.pods, view.pdbs, view.min_nodes, managed);
        let unneeded: Vec<&str> = plan
            .verdicts
            .iter()
            .filter(|v| v.removable)
            .filter_map(|v| view.nodes.iter().find(|n| n.name == v.node))
            .filter(|n| n.ready && !n.unschedulable && requested_share(n, view.pods) <= UTILIZATION_THRESHOLD)
            .map(|n| n.name.as_str())
            .collect();
        self.unneeded_since.retain(|name, _| unneeded.contains(&name.as_str()));
        for name in &unneeded {
            self.unneeded_since.entry(name.to_string()).or_insert(view.now);
        }
        let draining = view.nodes.iter().any(|n| n.unschedulable && managed(n).is_some());
        let after_add = self.last_scale_up.is_some_and(|t| view.now - t < Duration::seconds(DELAY_AFTER_ADD_S));
        if draining || after_add || view.instances.len() as u32 <= view.min_nodes {
            return None;
        }
        let (node, _) = self
            .unneeded_since
            .iter()
            .filter(|(_, since)| view.now - **since >= Duration::seconds(UNNEEDED_FOR_S))
            .min_by_key(|(name, since)| (**since, name.to_string()))?;
        let node = node.clone();
        self.unneeded_since.remove(&node);
        Some(WorkMessage::DrainRequest(DrainRequest {
            decision_id: format!("ca-like-{}", view.now.timestamp()),
            cluster_id: self.cluster_id.clone(),
            lock_token: None,
            node: Some(node.clone()),
            reason: format!("ca-like: {node} unneeded for 10m"),
            requested_at: view.now,
            deadline: None,
            spot_reclaim: false,
        }))
    }
}

/// The larger of the node's CPU and memory requests as a share of its allocatable.
fn requested_share(node: &Node, pods: &[Pod]) -> f64 {
    let mut used = Resources::default();
    for pod in pods.iter().filter(|p| p.node.as_deref() == Some(&node.name)) {
        used.cpu_millis += pod.requests.cpu_millis;
        used.memory_bytes += pod.requests.memory_bytes;
    }
    let share = |u: u64, total: u64| if total == 0 { 1.0 } else { u as f64 / total as f64 };
    share(used.cpu_millis, node.allocatable.cpu_millis).max(share(used.memory_bytes, node.allocatable.memory_bytes))
}

/// First-fit decreasing of the pending pods onto `upcoming` booting nodes, then onto as many
/// new template nodes as it takes; returns the new nodes.
fn new_nodes_for(pending: &[&Pod], upcoming: u32) -> u32 {
    let template = (NODE_CPU_MILLIS - DAEMONSET_CPU_MILLIS, NODE_MEMORY_BYTES - DAEMONSET_MEMORY_BYTES);
    let mut bins: Vec<(u64, u64)> = vec![template; upcoming as usize];
    let mut ordered: Vec<&&Pod> = pending.iter().collect();
    ordered.sort_by_key(|p| std::cmp::Reverse((p.requests.cpu_millis, p.requests.memory_bytes)));
    for pod in ordered {
        let (cpu, memory) = (pod.requests.cpu_millis, pod.requests.memory_bytes);
        match bins.iter_mut().find(|(c, m)| *c >= cpu && *m >= memory) {
            Some(bin) => {
                bin.0 -= cpu;
                bin.1 -= memory;
            }
            // A pod bigger than a whole node can never be helped by a new node.
            None if cpu > template.0 || memory > template.1 => {}
            None => bins.push((template.0 - cpu, template.1 - memory)),
        }
    }
    bins.len() as u32 - upcoming
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{POD_CPU_MILLIS, POD_MEMORY_BYTES};

    fn pending(n: usize) -> Vec<Pod> {
        (0..n)
            .map(|i| Pod {
                name: format!("p{i}"),
                requests: Resources { cpu_millis: POD_CPU_MILLIS, memory_bytes: POD_MEMORY_BYTES },
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn the_estimate_packs_pending_pods_onto_upcoming_nodes_first() {
        let pods = pending(12);
        let refs: Vec<&Pod> = pods.iter().collect();
        // Five 200m/256Mi replicas fit a template node (memory-bound): 12 need 3.
        assert_eq!(new_nodes_for(&refs, 0), 3);
        assert_eq!(new_nodes_for(&refs, 2), 1);
        assert_eq!(new_nodes_for(&refs, 3), 0);
        let huge = Pod { requests: Resources { cpu_millis: 4000, memory_bytes: 0 }, ..Default::default() };
        assert_eq!(new_nodes_for(&[&huge], 0), 0, "no node type can hold it");
    }
}
