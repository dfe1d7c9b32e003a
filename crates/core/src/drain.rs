//! Which node a scale-down may remove, or why none can go: a verdict with machine-readable
//! reasons for every node. Pure; the drain worker and `smartscale explain-drain` share it.
//!
//! A node is not removable if it hosts a pod that must not be disrupted (a `kube-system` pod
//! without a PDB allowing a disruption, a bare pod, a StatefulSet pod, a workload's only ready
//! replica with no ready twin elsewhere, local storage, an opt-out annotation, or a PDB with no disruption
//! left), if its pods do not fit on the other schedulable nodes, or if removing it would break
//! `min_nodes` or empty an AZ while another AZ has two or more nodes. The AZ rule alone yields
//! when no node is removable otherwise.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::{Lifecycle, Node, OwnerRef, Pdb, Pod, PodPhase, Resources, Volume};

pub const SAFE_TO_EVICT: &str = "cluster-autoscaler.kubernetes.io/safe-to-evict";
pub const SAFE_TO_EVICT_LOCAL_VOLUMES: &str = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes";
pub const DO_NOT_DISRUPT: &str = "karpenter.sh/do-not-disrupt";
/// The label a worker's user data sets to its purchase option (`spot` or `on-demand`).
pub const LIFECYCLE_LABEL: &str = "node.kubernetes.io/lifecycle";

/// One reason a node cannot be removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub rule: Rule,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdb: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    ControlPlane,
    Unmanaged,
    KubeSystem,
    BarePod,
    Statefulset,
    SingleReplica,
    LocalStorage,
    DoNotDisrupt,
    Pdb,
    NoPlaceToMovePods,
    MinNodes,
    LastInAz,
    /// Removing this On-Demand node would leave fewer than `min_nodes` On-Demand nodes while
    /// Spot nodes still run: a Spot node goes first (the spec keeps the floor On-Demand).
    OnDemandFloor,
}

impl Reason {
    fn new(rule: Rule) -> Self {
        Reason { rule, pod: None, pdb: None, volume: None, detail: None }
    }

    fn pod(rule: Rule, pod: &Pod) -> Self {
        Reason { pod: Some(pod.key()), ..Reason::new(rule) }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub node: String,
    pub zone: Option<String>,
    pub removable: bool,
    pub reasons: Vec<Reason>,
    /// Pods a drain would evict (not DaemonSet, mirror or finished pods).
    pub pods: usize,
    /// The larger of the node's CPU and memory request shares, 0–1.
    pub utilization: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrainPlan {
    pub chosen: Option<String>,
    pub verdicts: Vec<Verdict>,
}

/// Pods a drain ignores: DaemonSet pods (they go with the node), mirror pods (the kubelet's
/// static pods) and pods that have finished.
pub fn is_evictable(pod: &Pod) -> bool {
    !pod.is_daemonset() && !pod.mirror && !matches!(pod.phase, PodPhase::Succeeded | PodPhase::Failed)
}

pub fn is_control_plane(node: &Node) -> bool {
    node.is_control_plane()
}

/// How the candidate is chosen among the removable nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// SmartScale's: the evicted pods must fit on the other nodes, the last node of an AZ
    /// stays unless no other node may go, then the fewest pods.
    #[default]
    Safest,
    /// The spec's as written (the `reactive-seed` baseline): the fewest pods, no fit or AZ check.
    FewestPods,
}

impl std::str::FromStr for Selection {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "safest" => Ok(Selection::Safest),
            "fewest_pods" => Ok(Selection::FewestPods),
            other => Err(format!("expected safest or fewest_pods, got {other:?}")),
        }
    }
}

/// Chooses the node to remove by `selection`'s rules. `managed` gives the purchase option of
/// each node SmartScale may remove at all (`None`: not ours). The first `min_nodes` nodes are
/// On-Demand and stay so: an On-Demand node goes only when Spot nodes are gone or more than
/// `min_nodes` On-Demand ones remain.
pub fn plan(
    selection: Selection,
    nodes: &[Node],
    pods: &[Pod],
    pdbs: &[Pdb],
    min_nodes: u32,
    managed: impl Fn(&Node) -> Option<Lifecycle>,
) -> DrainPlan {
    let safest = selection == Selection::Safest;
    let is_managed = |n: &Node| managed(n).is_some();
    let workers: Vec<&Node> = nodes.iter().filter(|n| !is_control_plane(n) && is_managed(n)).collect();
    let on_demand = workers.iter().filter(|n| managed(n) == Some(Lifecycle::OnDemand)).count() as u32;
    let spot = workers.len() as u32 - on_demand;
    let mut per_az: BTreeMap<&str, u32> = BTreeMap::new();
    for node in &workers {
        *per_az.entry(node.zone.as_deref().unwrap_or("")).or_default() += 1;
    }
    let index = Index::new(nodes, pods);
    let mut verdicts: Vec<Verdict> = nodes
        .iter()
        .map(|node| {
            let on_node: Vec<&Pod> = index.evictable_on(&node.name).to_vec();
            let mut reasons = Vec::new();
            if is_control_plane(node) {
                reasons.push(Reason::new(Rule::ControlPlane));
            } else if !is_managed(node) {
                reasons.push(Reason::new(Rule::Unmanaged));
            } else {
                if workers.len() as u32 <= min_nodes {
                    reasons.push(Reason {
                        detail: Some(format!("{} nodes, min_nodes {min_nodes}", workers.len())),
                        ..Reason::new(Rule::MinNodes)
                    });
                }
                if managed(node) == Some(Lifecycle::OnDemand) && spot > 0 && on_demand <= min_nodes {
                    reasons.push(Reason {
                        detail: Some(format!("{on_demand} On-Demand nodes, floor {min_nodes}, {spot} Spot running")),
                        ..Reason::new(Rule::OnDemandFloor)
                    });
                }
                let zone = node.zone.as_deref().unwrap_or("");
                if safest && per_az.get(zone) == Some(&1) && per_az.iter().any(|(z, n)| *z != zone && *n >= 2) {
                    reasons
                        .push(Reason { detail: Some(format!("last node in {zone}")), ..Reason::new(Rule::LastInAz) });
                }
                for pod in &on_node {
                    reasons.extend(pod_reasons(pod, node, &index, pdbs));
                }
                if let Some(unplaced) = unplaceable(node, &on_node, &index).filter(|_| safest) {
                    reasons.push(Reason { pod: Some(unplaced), ..Reason::new(Rule::NoPlaceToMovePods) });
                }
            }
            Verdict {
                node: node.name.clone(),
                zone: node.zone.clone(),
                removable: reasons.is_empty(),
                reasons,
                pods: on_node.len(),
                utilization: utilization(node, &index),
            }
        })
        .collect();

    // The AZ rule is a preference, not a safety rule: when every other node is held by one (the
    // On-Demand floor pinning the fuller AZ's nodes, a PDB), a node held by it alone goes, last
    // of all, or the cluster would pay for a node its load does not need for as long as that lasts.
    let last_resort = |v: &Verdict| !v.reasons.is_empty() && v.reasons.iter().all(|r| r.rule == Rule::LastInAz);
    let chosen = verdicts
        .iter()
        .filter(|v| v.removable || last_resort(v))
        .min_by(|a, b| {
            let az = |v: &Verdict| {
                if safest {
                    per_az.get(v.zone.as_deref().unwrap_or("")).copied().unwrap_or(0)
                } else {
                    0
                }
            };
            let created =
                |v: &Verdict| index.node(&v.node).and_then(|n| n.created_at).unwrap_or(DateTime::<Utc>::MAX_UTC);
            let cordoned = |v: &Verdict| index.node(&v.node).is_some_and(|n| n.unschedulable);
            // A node already cordoned (a drain in progress, or an admin's intent) goes first.
            last_resort(a)
                .cmp(&last_resort(b))
                .then(cordoned(b).cmp(&cordoned(a)))
                .then(az(b).cmp(&az(a)))
                .then(a.pods.cmp(&b.pods))
                .then(a.utilization.total_cmp(&b.utilization))
                .then(created(a).cmp(&created(b)))
                .then(a.node.cmp(&b.node))
        })
        .map(|v| v.node.clone());
    verdicts.sort_by(|a, b| a.node.cmp(&b.node));
    DrainPlan { chosen, verdicts }
}

/// Why this pod pins its node. `safe-to-evict: "true"` lifts the controller and local-storage
/// rules, never a PDB.
fn pod_reasons(pod: &Pod, node: &Node, index: &Index, pdbs: &[Pdb]) -> Vec<Reason> {
    let annotation = |k: &str| pod.annotations.get(k).map(String::as_str);
    let safe = annotation(SAFE_TO_EVICT) == Some("true");
    let matching: Vec<&Pdb> = pdbs.iter().filter(|p| p.matches(pod)).collect();
    let mut reasons = Vec::new();
    if annotation(SAFE_TO_EVICT) == Some("false") || annotation(DO_NOT_DISRUPT) == Some("true") {
        reasons.push(Reason::pod(Rule::DoNotDisrupt, pod));
    }
    for pdb in matching.iter().filter(|p| p.disruptions_allowed < 1) {
        reasons.push(Reason { pdb: Some(format!("{}/{}", pdb.namespace, pdb.name)), ..Reason::pod(Rule::Pdb, pod) });
    }
    if pod.namespace == "kube-system" && !matching.iter().any(|p| p.disruptions_allowed >= 1) {
        reasons.push(Reason::pod(Rule::KubeSystem, pod));
    }
    if !safe {
        match controller(pod) {
            None => reasons.push(Reason {
                detail: pod.owner.as_ref().map(|o| format!("owner kind {:?} is not a known controller", o.kind)),
                ..Reason::pod(Rule::BarePod, pod)
            }),
            Some(owner) if owner.kind == "StatefulSet" => reasons.push(Reason::pod(Rule::Statefulset, pod)),
            Some(owner) => {
                let elsewhere = index.ready_replicas_elsewhere(&pod.namespace, owner, &node.name) > 0;
                if !elsewhere {
                    reasons.push(Reason {
                        detail: Some(format!("{} {}", owner.kind, owner.name)),
                        ..Reason::pod(Rule::SingleReplica, pod)
                    });
                }
            }
        }
        let allowed: Vec<&str> =
            annotation(SAFE_TO_EVICT_LOCAL_VOLUMES).map(|v| v.split(',').map(str::trim).collect()).unwrap_or_default();
        for volume in &pod.volumes {
            let local = match volume {
                Volume::HostPath { name } => Some(name),
                Volume::EmptyDir { name, medium_memory: false } => Some(name),
                _ => None,
            };
            if let Some(name) = local.filter(|n| !allowed.contains(&n.as_str())) {
                reasons.push(Reason { volume: Some(name.clone()), ..Reason::pod(Rule::LocalStorage, pod) });
            }
        }
    }
    reasons
}

/// The controller kinds that recreate an evicted pod, spelled as Kubernetes spells them.
pub const CONTROLLER_KINDS: [&str; 5] = ["ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"];

/// The pod's controller, if it is one of [`CONTROLLER_KINDS`] (matched case-sensitively). Any
/// other owner (a misspelt kind, a custom controller) counts as none: nothing says it would
/// recreate the pod, so the pod is treated as bare, as Cluster Autoscaler treats pods of
/// custom controllers by default.
fn controller(pod: &Pod) -> Option<&OwnerRef> {
    pod.owner.as_ref().filter(|o| CONTROLLER_KINDS.contains(&o.kind.as_str()))
}

/// The cluster indexed once per plan, so that the plan stays near-linear in nodes and pods:
/// pods by node, requests by node, ready replicas by owner and node, nodes by name.
struct Index<'a> {
    nodes: &'a [Node],
    node_at: HashMap<&'a str, usize>,
    evictable: HashMap<&'a str, Vec<&'a Pod>>,
    requested: HashMap<&'a str, Resources>,
    /// Ready, placed, not terminating pods per owner, in all and per node (two flat maps: the
    /// plan runs every scan of a simulated day, so allocations count).
    ready_replicas: HashMap<OwnerKey<'a>, u32>,
    ready_replicas_on: HashMap<(OwnerKey<'a>, &'a str), u32>,
}

/// (namespace, owner kind, owner name).
type OwnerKey<'a> = (&'a str, &'a str, &'a str);

impl<'a> Index<'a> {
    fn new(nodes: &'a [Node], pods: &'a [Pod]) -> Self {
        let mut index = Index {
            nodes,
            node_at: nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect(),
            evictable: HashMap::with_capacity(nodes.len()),
            requested: HashMap::with_capacity(nodes.len()),
            ready_replicas: HashMap::new(),
            ready_replicas_on: HashMap::new(),
        };
        for pod in pods {
            let Some(node) = pod.node.as_deref() else { continue };
            if !matches!(pod.phase, PodPhase::Succeeded | PodPhase::Failed) {
                let sum = index.requested.entry(node).or_default();
                // Saturating: a sum past u64::MAX (only a hostile snapshot has one) reads as a
                // full node, never as free space, and never panics or wraps.
                sum.cpu_millis = sum.cpu_millis.saturating_add(pod.requests.cpu_millis);
                sum.memory_bytes = sum.memory_bytes.saturating_add(pod.requests.memory_bytes);
            }
            if is_evictable(pod) {
                index.evictable.entry(node).or_default().push(pod);
            }
            if let Some(owner) = pod.owner.as_ref().filter(|_| pod.ready && !pod.terminating) {
                let key = (pod.namespace.as_str(), owner.kind.as_str(), owner.name.as_str());
                *index.ready_replicas.entry(key).or_default() += 1;
                *index.ready_replicas_on.entry((key, node)).or_default() += 1;
            }
        }
        index
    }

    fn node(&self, name: &str) -> Option<&'a Node> {
        self.node_at.get(name).map(|i| &self.nodes[*i])
    }

    fn evictable_on(&self, node: &str) -> &[&'a Pod] {
        self.evictable.get(node).map_or(&[], Vec::as_slice)
    }

    fn requested_on(&self, node: &str) -> Resources {
        self.requested.get(node).copied().unwrap_or_default()
    }

    fn ready_replicas_elsewhere(&self, namespace: &str, owner: &OwnerRef, node: &str) -> u32 {
        let key = (namespace, owner.kind.as_str(), owner.name.as_str());
        let all = self.ready_replicas.get(&key).copied().unwrap_or(0);
        all - self.ready_replicas_on.get(&(key, node)).copied().unwrap_or(0)
    }
}

fn utilization(node: &Node, index: &Index) -> f64 {
    let used = index.requested_on(&node.name);
    let share = |used: u64, total: u64| {
        if total == 0 {
            0.0
        } else {
            used as f64 / total as f64
        }
    };
    share(used.cpu_millis, node.allocatable.cpu_millis).max(share(used.memory_bytes, node.allocatable.memory_bytes))
}

/// First-fit decreasing of the node's evictable pods onto the other schedulable nodes, by
/// CPU and memory requests and node selectors. The first pod that fits nowhere, if any. The
/// free room of every target comes from the index, so one candidate costs O(nodes + its pods ×
/// nodes), not a scan of every pod per target.
fn unplaceable(node: &Node, moving: &[&Pod], index: &Index) -> Option<String> {
    if moving.is_empty() {
        return None;
    }
    let mut targets: Vec<(&Node, Resources)> = index
        .nodes
        .iter()
        .filter(|n| n.name != node.name && !n.unschedulable && n.ready)
        .map(|n| {
            let used = index.requested_on(&n.name);
            let free = Resources {
                cpu_millis: n.allocatable.cpu_millis.saturating_sub(used.cpu_millis),
                memory_bytes: n.allocatable.memory_bytes.saturating_sub(used.memory_bytes),
            };
            (n, free)
        })
        .collect();
    let mut ordered: Vec<&&Pod> = moving.iter().collect();
    ordered.sort_by(|a, b| {
        (b.requests.cpu_millis, b.requests.memory_bytes)
            .cmp(&(a.requests.cpu_millis, a.requests.memory_bytes))
            .then(a.key().cmp(&b.key()))
    });
    for pod in ordered {
        let fits = |(n, free): &&mut (&Node, Resources)| {
            free.cpu_millis >= pod.requests.cpu_millis
                && free.memory_bytes >= pod.requests.memory_bytes
                && pod.node_selector.iter().all(|(k, v)| n.labels.get(k) == Some(v))
        };
        match targets.iter_mut().find(|t| fits(t)) {
            Some((_, free)) => {
                free.cpu_millis -= pod.requests.cpu_millis;
                free.memory_bytes -= pod.requests.memory_bytes;
            }
            None => return Some(pod.key()),
        }
    }
    None
}

/// What a pod with no requests at all is counted as in the fit checks (`DEFAULT_POD_CPU_M`,
/// `DEFAULT_POD_MEMORY_MI` in the drain worker): such a pod still uses the node, so counting it
/// as zero would call a busy node free.
pub const DEFAULT_UNSET_REQUESTS: Resources = Resources { cpu_millis: 100, memory_bytes: 128 << 20 };

/// Gives every pod that requests neither CPU nor memory (DaemonSet and mirror pods aside: they
/// never move) the `default` requests; returns how many it changed, for the log line.
pub fn count_unset_requests_as(pods: &mut [Pod], default: Resources) -> usize {
    let mut changed = 0;
    for pod in pods.iter_mut().filter(|p| p.requests == Resources::default() && !p.is_daemonset() && !p.mirror) {
        pod.requests = default;
        changed += 1;
    }
    changed
}

/// A node's purchase option from its [`LIFECYCLE_LABEL`]; On-Demand when unlabelled.
pub fn lifecycle_of(node: &Node) -> Lifecycle {
    match node.labels.get(LIFECYCLE_LABEL).map(String::as_str) {
        Some("spot") => Lifecycle::Spot,
        _ => Lifecycle::OnDemand,
    }
}

/// A cluster snapshot, as `smartscale explain-drain` reads it (schema in docs/drain.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub pods: Vec<Pod>,
    #[serde(default)]
    pub pdbs: Vec<Pdb>,
    #[serde(default = "default_min_nodes")]
    pub min_nodes: u32,
}

fn default_min_nodes() -> u32 {
    crate::Policy::default().min_nodes
}

impl Snapshot {
    /// Parses a snapshot; errors name the field (`pods[3].requests.cpu_millis`).
    pub fn parse(text: &str) -> crate::Result<Snapshot> {
        crate::error::from_json_str(text)
    }

    /// Every worker node in a snapshot counts as managed, On-Demand unless its lifecycle label
    /// says Spot.
    /// Pods with no requests count as [`DEFAULT_UNSET_REQUESTS`].
    pub fn plan(&self) -> DrainPlan {
        let mut pods = self.pods.clone();
        count_unset_requests_as(&mut pods, DEFAULT_UNSET_REQUESTS);
        plan(Selection::Safest, &self.nodes, &pods, &self.pdbs, self.min_nodes, |n| Some(lifecycle_of(n)))
    }
}

#[cfg(test)]
#[path = "drain_tests.rs"]
mod tests;
