//! The outside world, as traits. Adapters (AWS, Kubernetes, Prometheus) implement them for
//! production; `fakes` implements them in memory for tests and the simulator.
//!
//! Expected outcomes (a lost lock race, a PDB-blocked eviction, a capacity shortage) are
//! values; `Err` is for failures.

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cost_ledger::{CostChange, CostLedger};
use crate::emf::MetricBatch;
use crate::messages::WorkMessage;
use crate::metrics::Sample;
use crate::notification::Notification;
use crate::state::{LockOutcome, ReleaseOutcome, StateItem, StateUpdate};
use crate::Result;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

// ---------------------------------------------------------------- EC2 fleet

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Lifecycle {
    #[serde(rename = "spot")]
    Spot,
    #[serde(rename = "on-demand")]
    OnDemand,
}

impl Lifecycle {
    /// The value of the `Lifecycle` tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Spot => "spot",
            Lifecycle::OnDemand => "on-demand",
        }
    }

    pub fn from_tag(value: &str) -> Option<Lifecycle> {
        match value {
            "spot" => Some(Lifecycle::Spot),
            "on-demand" => Some(Lifecycle::OnDemand),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    Pending,
    Running,
    ShuttingDown,
    Terminated,
    Stopping,
    Stopped,
}

impl InstanceState {
    /// Pending or running: counts towards the fleet.
    pub fn is_active(self) -> bool {
        matches!(self, InstanceState::Pending | InstanceState::Running)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub instance_id: String,
    pub instance_type: String,
    pub availability_zone: String,
    pub subnet_id: String,
    pub lifecycle: Lifecycle,
    pub state: InstanceState,
    pub private_dns_name: Option<String>,
    pub launched_at: Option<DateTime<Utc>>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LaunchRequest {
    /// Idempotency token: the same token never launches twice.
    pub client_token: String,
    pub instance_type: String,
    pub subnet_id: String,
    pub availability_zone: String,
    pub lifecycle: Lifecycle,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LaunchOutcome {
    Launched(Instance),
    /// `InsufficientInstanceCapacity`, `SpotMaxPriceTooLow`, `MaxSpotInstanceCountExceeded`,
    /// `UnfulfillableCapacity`: try another offering.
    InsufficientCapacity {
        code: String,
        message: String,
    },
    /// `InstanceLimitExceeded`, `VcpuLimitExceeded`: stop and tell a human.
    QuotaExceeded {
        code: String,
        message: String,
    },
}

pub trait Fleet: Send + Sync {
    fn launch(&self, request: &LaunchRequest) -> impl Future<Output = Result<LaunchOutcome>> + Send;
    /// Terminates instances. Refuses (`Error::Rejected`) the whole call if any id is not an
    /// instance managed for this cluster.
    fn terminate(&self, instance_ids: &[String]) -> impl Future<Output = Result<()>> + Send;
    /// Every instance tagged as managed for this cluster, in any state.
    fn describe_managed(&self) -> impl Future<Output = Result<Vec<Instance>>> + Send;
}

// ---------------------------------------------------------------- Kubernetes cluster

/// CPU in millicores and memory in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default)]
    pub cpu_millis: u64,
    #[serde(default)]
    pub memory_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub name: String,
    #[serde(default)]
    pub zone: Option<String>,
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub provider_id: Option<String>,
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub unschedulable: bool,
    #[serde(default)]
    pub allocatable: Resources,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
}

/// The labels that mark a control-plane node (current and legacy spelling, as K3s sets both).
pub const CONTROL_PLANE_LABELS: [&str; 2] = ["node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"];

/// Names the EC2 instance of a node adopted from stock K3s (set by `scripts/adopt`).
pub const INSTANCE_ID_LABEL: &str = "smartscale.io/instance-id";

/// Set on a node when SmartScale cordons it, naming the drain (its decision id), so later steps
/// act only on a node this drain cordoned, never on one a person or another tool did.
pub const CORDONED_BY_ANNOTATION: &str = "smartscale.io/cordoned-by";

impl Node {
    pub fn is_control_plane(&self) -> bool {
        CONTROL_PLANE_LABELS.iter().any(|l| self.labels.contains_key(*l))
    }

    /// The drain that cordoned this node, if SmartScale did and it is still cordoned.
    pub fn cordoned_by(&self) -> Option<&str> {
        self.annotations.get(CORDONED_BY_ANNOTATION).map(String::as_str).filter(|_| self.unschedulable)
    }

    /// The EC2 instance id declared for this node: its `spec.providerID` (`aws:///<az>/<id>`,
    /// which SmartScale's workers join with), the instance id the adapter read from it, or, for
    /// a node adopted from stock K3s (providerID `k3s://…`), the [`INSTANCE_ID_LABEL`] that
    /// `scripts/adopt` sets. Unlike a DNS-name match, each is something the kubelet or an
    /// administrator declared: NodeRestriction stops a kubelet from setting that label itself.
    pub fn declared_instance_id(&self) -> Option<&str> {
        self.provider_id
            .as_deref()
            .and_then(|p| p.rsplit('/').next())
            .filter(|id| id.starts_with("i-"))
            .or(self.instance_id.as_deref())
            .or(self.labels.get(INSTANCE_ID_LABEL).map(String::as_str).filter(|id| id.starts_with("i-")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerRef {
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Volume {
    HostPath {
        name: String,
    },
    EmptyDir {
        name: String,
        #[serde(default)]
        medium_memory: bool,
    },
    Other {
        name: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PodPhase {
    #[default]
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub owner: Option<OwnerRef>,
    #[serde(default)]
    pub requests: Resources,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    #[serde(default)]
    pub phase: PodPhase,
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default)]
    pub ready: bool,
    /// A static pod mirrored from the kubelet (annotation `kubernetes.io/config.mirror`).
    #[serde(default)]
    pub mirror: bool,
    #[serde(default)]
    pub termination_grace_s: Option<u32>,
    /// Set once the pod is being deleted (it has been evicted and is shutting down).
    #[serde(default)]
    pub terminating: bool,
}

impl Pod {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn is_daemonset(&self) -> bool {
        self.owner.as_ref().is_some_and(|o| o.kind == "DaemonSet")
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pdb {
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    pub disruptions_allowed: i32,
}

impl Pdb {
    pub fn matches(&self, pod: &Pod) -> bool {
        pod.namespace == self.namespace && self.match_labels.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
    }
}

/// The Eviction API's answers. 429 (a PDB says no) is `Blocked`; 404 is `NotFound` (done).
#[derive(Debug, Clone, PartialEq)]
pub enum EvictOutcome {
    Evicted,
    Blocked { message: String },
    NotFound,
}

pub trait Cluster: Send + Sync {
    fn list_nodes(&self) -> impl Future<Output = Result<Vec<Node>>> + Send;
    fn list_pods(&self) -> impl Future<Output = Result<Vec<Pod>>> + Send;
    fn list_pdbs(&self) -> impl Future<Output = Result<Vec<Pdb>>> + Send;
    /// Cordons the node (`spec.unschedulable`) and marks it [`CORDONED_BY_ANNOTATION`] = `by`, in
    /// one patch. `Error::NotFound` when the node is gone.
    fn cordon(&self, node: &str, by: &str) -> impl Future<Output = Result<()>> + Send;
    /// Uncordons the node and removes the mark.
    fn uncordon(&self, node: &str) -> impl Future<Output = Result<()>> + Send;
    fn evict(&self, namespace: &str, pod: &str) -> impl Future<Output = Result<EvictOutcome>> + Send;
    /// Deletes the Node object; `Ok(false)` when it was already gone.
    fn delete_node(&self, node: &str) -> impl Future<Output = Result<bool>> + Send;
}

// ---------------------------------------------------------------- state, metrics, messaging

pub trait StateStore: Send + Sync {
    fn get(&self, cluster_id: &str) -> impl Future<Output = Result<Option<StateItem>>> + Send;
    /// One conditional write: succeeds when no lock is held or the held one expired before `now`.
    fn try_acquire_lock(
        &self,
        cluster_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        ttl_s: u32,
    ) -> impl Future<Output = Result<LockOutcome>> + Send;
    /// Applies `update` and frees the lock, only if `owner` holds it.
    fn release_lock(
        &self,
        cluster_id: &str,
        owner: &str,
        update: &StateUpdate,
    ) -> impl Future<Output = Result<ReleaseOutcome>> + Send;
    /// Applies `update` unconditionally, creating the item if needed.
    fn update(&self, cluster_id: &str, update: &StateUpdate) -> impl Future<Output = Result<()>> + Send;
    /// Whether an external event (e.g. an EC2 event id) was already claimed.
    fn event_seen(&self, cluster_id: &str, event_id: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Records an external event as handled, once: `false` when it was already claimed. The
    /// record expires after `ttl_s`.
    fn claim_event(
        &self,
        cluster_id: &str,
        event_id: &str,
        now: DateTime<Utc>,
        ttl_s: u32,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Appends `latencies` to the state item's join latencies, keeping the newest
    /// [`crate::state::JOIN_LATENCIES_KEPT`]; a conditional write, so that two workers recording
    /// at once both keep their entries.
    fn record_join_latencies(
        &self,
        cluster_id: &str,
        latencies: &[crate::state::JoinLatency],
    ) -> impl Future<Output = Result<()>> + Send;
    /// Appends `change` to the cluster's savings ledger, in the bucket of its UTC day (see
    /// [`crate::cost_ledger`] for the bounds). `Ok(false)` when that bucket is full: the change
    /// is then counted as dropped, not kept.
    fn record_cost_change(&self, cluster_id: &str, change: &CostChange) -> impl Future<Output = Result<bool>> + Send;
    /// Adds one decider run's observations to the ledger's bucket of its UTC day
    /// ([`crate::cost_ledger::DayObservations::add`]), atomically against a concurrent run.
    /// `Ok(false)` when the run was at or before the last one accounted for.
    fn record_observation(
        &self,
        cluster_id: &str,
        run: &crate::cost_ledger::RunObservation,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// The ledger's changes from `from` to `to`, deduplicated, oldest first, with the days'
    /// observations.
    fn cost_ledger(
        &self,
        cluster_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<CostLedger>> + Send;
}

pub trait MetricsSource: Send + Sync {
    /// Samples every `step_s` seconds from `start` to `end` inclusive. A signal with no data is
    /// `None` in the samples, never zero.
    fn fetch(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_s: u32,
    ) -> impl Future<Output = Result<Vec<Sample>>> + Send;

    /// Predictive scaling's demand signal every `step_s` seconds over `[start, end]`, in nodes of
    /// `node` (summed requests of running + pending pods, the larger of CPU and memory; CPU
    /// utilisation where requests are unknown). A source without that history says so: an
    /// error, never an empty (zero) history.
    fn demand(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_s: u32,
        node: crate::forecast::NodeSize,
    ) -> impl Future<Output = Result<Vec<crate::forecast::DemandSample>>> + Send {
        let _ = (start, end, step_s, node);
        async { Err(crate::Error::unavailable("demand history", "this metrics source keeps no demand history")) }
    }
}

pub trait WorkQueue: Send + Sync {
    /// Sends to the message's queue ([`WorkMessage::queue`]), invisible for `delay_s` seconds.
    fn send(&self, message: &WorkMessage, delay_s: u32) -> impl Future<Output = Result<()>> + Send;
}

pub trait Notifier: Send + Sync {
    fn publish(&self, notification: &Notification) -> impl Future<Output = Result<()>> + Send;
}

/// Where an invocation's CloudWatch metrics go.
pub trait MetricsSink: Send + Sync {
    fn emit(&self, batch: &MetricBatch);
}

/// Production sink: EMF lines on stdout, which CloudWatch Logs turns into metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdoutMetricsSink;

impl MetricsSink for StdoutMetricsSink {
    fn emit(&self, batch: &MetricBatch) {
        for line in batch.lines() {
            println!("{line}");
        }
    }
}
