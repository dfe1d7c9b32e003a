use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use super::{lock, FakeClock, Faults, Recorder};
use crate::ports::{Clock, Cluster, EvictOutcome, Node, Pdb, Pod, CORDONED_BY_ANNOTATION};
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClusterOp {
    ListNodes,
    ListPods,
    ListPdbs,
    Cordon,
    Uncordon,
    Evict,
    DeleteNode,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClusterCall {
    ListNodes,
    ListPods,
    ListPdbs,
    Cordon { node: String, by: String },
    Uncordon { node: String },
    Evict { namespace: String, pod: String },
    DeleteNode { node: String },
}

/// Grace period used when a pod does not set one (Kubernetes' default).
const DEFAULT_GRACE_S: u32 = 30;

#[derive(Debug, Default)]
struct ClusterState {
    nodes: BTreeMap<String, Node>,
    pods: BTreeMap<String, Pod>,
    /// Evicted pods and when their termination grace period ends.
    terminating: BTreeMap<String, DateTime<Utc>>,
    pdbs: BTreeMap<String, Pdb>,
    /// Bumped by every change to a node: a reader that keeps a copy refreshes it only then.
    node_generation: u64,
}

impl ClusterState {
    /// Removes pods whose grace period has ended, as the kubelet would.
    fn reap(&mut self, now: DateTime<Utc>) {
        let done: Vec<String> =
            self.terminating.iter().filter(|(_, until)| **until <= now).map(|(k, _)| k.clone()).collect();
        for key in done {
            self.terminating.remove(&key);
            self.pods.remove(&key);
        }
    }
}

/// A Kubernetes API in memory. Eviction honours PDBs (a matched PDB with no disruption left
/// answers `Blocked`, like the API's 429) and each evicted pod lingers, `terminating`, for its
/// grace period on the fake clock.
#[derive(Debug, Clone)]
pub struct FakeCluster {
    clock: FakeClock,
    state: Arc<Mutex<ClusterState>>,
    pub calls: Arc<Recorder<ClusterCall>>,
    pub faults: Arc<Faults<ClusterOp>>,
}

impl FakeCluster {
    pub fn new(clock: FakeClock) -> Self {
        FakeCluster { clock, state: Arc::default(), calls: Arc::default(), faults: Arc::default() }
    }

    pub fn add_node(&self, node: Node) {
        let mut state = lock(&self.state);
        state.node_generation += 1;
        state.nodes.insert(node.name.clone(), node);
    }

    pub fn add_pod(&self, pod: Pod) {
        lock(&self.state).pods.insert(pod.key(), pod);
    }

    pub fn add_pdb(&self, pdb: Pdb) {
        lock(&self.state).pdbs.insert(format!("{}/{}", pdb.namespace, pdb.name), pdb);
    }

    /// Runs `f` on the pods in place (after reaping finished evictions): for a simulation that
    /// reconciles many pods every step without copying them.
    pub fn with_pods<R>(&self, f: impl FnOnce(&mut BTreeMap<String, Pod>) -> R) -> R {
        let mut state = lock(&self.state);
        state.reap(self.clock.now());
        f(&mut state.pods)
    }

    /// Removes a pod outright (its controller scaled it away).
    pub fn remove_pod(&self, key: &str) {
        let mut state = lock(&self.state);
        state.pods.remove(key);
        state.terminating.remove(key);
    }

    pub fn nodes(&self) -> Vec<Node> {
        lock(&self.state).nodes.values().cloned().collect()
    }

    /// Runs `f` on the nodes by name, borrowed: for a reader that needs no copy.
    pub fn with_nodes<R>(&self, f: impl FnOnce(&BTreeMap<String, Node>) -> R) -> R {
        f(&lock(&self.state).nodes)
    }

    /// A number that changes whenever a node is added, changed or deleted (never otherwise).
    pub fn node_generation(&self) -> u64 {
        lock(&self.state).node_generation
    }

    pub fn node(&self, name: &str) -> Option<Node> {
        lock(&self.state).nodes.get(name).cloned()
    }

    pub fn set_node_ready(&self, name: &str, ready: bool) {
        let mut state = lock(&self.state);
        if let Some(n) = state.nodes.get_mut(name) {
            n.ready = ready;
            state.node_generation += 1;
        }
    }

    pub fn pods(&self) -> Vec<Pod> {
        let mut state = lock(&self.state);
        state.reap(self.clock.now());
        state.pods.values().cloned().collect()
    }

    pub fn pdbs(&self) -> Vec<Pdb> {
        lock(&self.state).pdbs.values().cloned().collect()
    }

    fn patch_node(&self, node: &str, patch: impl FnOnce(&mut Node)) -> Result<()> {
        let mut state = lock(&self.state);
        match state.nodes.get_mut(node) {
            Some(n) => {
                patch(n);
                state.node_generation += 1;
                Ok(())
            }
            None => Err(crate::Error::NotFound { what: "node", name: node.into() }),
        }
    }

    pub fn set_disruptions_allowed(&self, namespace: &str, name: &str, allowed: i32) {
        if let Some(p) = lock(&self.state).pdbs.get_mut(&format!("{namespace}/{name}")) {
            p.disruptions_allowed = allowed;
        }
    }
}

impl Cluster for FakeCluster {
    async fn list_nodes(&self) -> Result<Vec<Node>> {
        self.calls.record_with(|| ClusterCall::ListNodes);
        self.faults.check(ClusterOp::ListNodes)?;
        Ok(lock(&self.state).nodes.values().cloned().collect())
    }

    async fn list_pods(&self) -> Result<Vec<Pod>> {
        self.calls.record_with(|| ClusterCall::ListPods);
        self.faults.check(ClusterOp::ListPods)?;
        Ok(self.pods())
    }

    async fn list_pdbs(&self) -> Result<Vec<Pdb>> {
        self.calls.record_with(|| ClusterCall::ListPdbs);
        self.faults.check(ClusterOp::ListPdbs)?;
        Ok(lock(&self.state).pdbs.values().cloned().collect())
    }

    async fn cordon(&self, node: &str, by: &str) -> Result<()> {
        self.calls.record_with(|| ClusterCall::Cordon { node: node.into(), by: by.into() });
        self.faults.check(ClusterOp::Cordon)?;
        self.patch_node(node, |n| {
            n.unschedulable = true;
            n.annotations.insert(CORDONED_BY_ANNOTATION.into(), by.into());
        })
    }

    async fn uncordon(&self, node: &str) -> Result<()> {
        self.calls.record_with(|| ClusterCall::Uncordon { node: node.into() });
        self.faults.check(ClusterOp::Uncordon)?;
        self.patch_node(node, |n| {
            n.unschedulable = false;
            n.annotations.remove(CORDONED_BY_ANNOTATION);
        })
    }

    async fn evict(&self, namespace: &str, pod: &str) -> Result<EvictOutcome> {
        self.calls.record_with(|| ClusterCall::Evict { namespace: namespace.into(), pod: pod.into() });
        self.faults.check(ClusterOp::Evict)?;
        let now = self.clock.now();
        let mut state = lock(&self.state);
        state.reap(now);
        let key = format!("{namespace}/{pod}");
        let Some(target) = state.pods.get(&key).cloned() else {
            return Ok(EvictOutcome::NotFound);
        };
        if target.terminating {
            return Ok(EvictOutcome::Evicted);
        }
        let matching: Vec<String> =
            state.pdbs.iter().filter(|(_, p)| p.matches(&target)).map(|(k, _)| k.clone()).collect();
        if let Some(blocking) = matching.iter().find(|k| state.pdbs[*k].disruptions_allowed < 1) {
            return Ok(EvictOutcome::Blocked {
                message: format!("Cannot evict pod as it would violate the pod's disruption budget {blocking}"),
            });
        }
        for k in matching {
            if let Some(p) = state.pdbs.get_mut(&k) {
                p.disruptions_allowed -= 1;
            }
        }
        let grace = target.termination_grace_s.unwrap_or(DEFAULT_GRACE_S);
        state.terminating.insert(key.clone(), now + Duration::seconds(i64::from(grace)));
        if let Some(p) = state.pods.get_mut(&key) {
            p.terminating = true;
            p.ready = false;
        }
        Ok(EvictOutcome::Evicted)
    }

    async fn delete_node(&self, node: &str) -> Result<bool> {
        self.calls.record_with(|| ClusterCall::DeleteNode { node: node.into() });
        self.faults.check(ClusterOp::DeleteNode)?;
        let mut state = lock(&self.state);
        state.node_generation += 1;
        Ok(state.nodes.remove(node).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::OwnerRef;

    #[tokio::test]
    async fn eviction_honours_pdbs_and_grace_periods() {
        let clock = FakeClock::new("2026-11-23T10:00:00Z".parse().unwrap());
        let cluster = FakeCluster::new(clock.clone());
        let labels: BTreeMap<String, String> = [("app".to_string(), "shop".to_string())].into();
        for name in ["a", "b"] {
            cluster.add_pod(Pod {
                namespace: "shop".into(),
                name: name.into(),
                node: Some("n1".into()),
                labels: labels.clone(),
                owner: Some(OwnerRef { kind: "ReplicaSet".into(), name: "shop-1".into() }),
                termination_grace_s: Some(20),
                ..Default::default()
            });
        }
        cluster.add_pdb(Pdb {
            namespace: "shop".into(),
            name: "shop".into(),
            match_labels: labels,
            disruptions_allowed: 1,
        });

        assert_eq!(cluster.evict("shop", "a").await.unwrap(), EvictOutcome::Evicted);
        assert!(matches!(cluster.evict("shop", "b").await.unwrap(), EvictOutcome::Blocked { .. }));
        assert_eq!(cluster.evict("shop", "zzz").await.unwrap(), EvictOutcome::NotFound);
        assert!(cluster.pods().iter().any(|p| p.name == "a" && p.terminating));
        clock.advance(20);
        assert!(cluster.pods().iter().all(|p| p.name != "a"));
    }
}
