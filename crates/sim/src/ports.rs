//! The in-memory AWS and K3s every handler shares, and the cluster pieces the simulator and
//! `smartscale invoke` both set up.

use chrono::{DateTime, Utc};
use smartscale_core::fakes::{
    FakeClock, FakeFleet, FakeMetrics, FakeMetricsSink, FakeNotifier, FakeQueue, FakeStateStore,
};
use smartscale_core::ports::{Clock, Instance, Node, OwnerRef, Pdb, Pod, PodPhase, Resources};
use smartscale_decider::DeciderConfig;
use smartscale_lambda::FakeWorkerDeps;

use crate::model::*;

pub(crate) const APP_NAMESPACE: &str = "shop";
pub(crate) const ZONES: [&str; 2] = ["us-east-1a", "us-east-1b"];
pub(crate) const SUBNETS: &str = "subnet-a:us-east-1a,subnet-b:us-east-1b";

pub(crate) type Deps<Cfg> = FakeWorkerDeps<Cfg>;
pub(crate) type Decider = smartscale_decider::Deps<
    FakeStateStore,
    FakeMetrics,
    FakeFleet,
    FakeQueue,
    FakeNotifier,
    FakeClock,
    FakeMetricsSink,
>;

/// The in-memory ports every handler shares (read through `Deref`); only the handlers'
/// configuration differs.
pub(crate) struct Ports(FakeWorkerDeps<()>);

impl std::ops::Deref for Ports {
    type Target = FakeWorkerDeps<()>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Ports {
    pub fn new(cluster_id: &str, start: DateTime<Utc>) -> Ports {
        Ports(FakeWorkerDeps::fakes((), cluster_id, FakeClock::new(start)))
    }

    /// For long runs: the fakes stop recording calls nobody reads.
    pub fn stop_recording(&self) {
        self.fleet.calls.turn_off();
        self.cluster.calls.turn_off();
        self.state.calls.turn_off();
        self.queue.calls.turn_off();
        self.sink.turn_off();
    }

    pub fn worker<Cfg>(&self, config: Cfg) -> Deps<Cfg> {
        self.0.sharing(config)
    }

    pub fn decider(&self, config: DeciderConfig, metrics: &FakeMetrics) -> Decider {
        Decider {
            config,
            state: self.state.clone(),
            metrics: metrics.clone(),
            fleet: self.fleet.clone(),
            queue: self.queue.clone(),
            notifier: self.notifier.clone(),
            clock: self.clock.clone(),
            sink: self.sink.clone(),
        }
    }

    /// The K3s server node (not schedulable for the app) and the app's PDB, allowing one down.
    pub fn add_control_plane_and_pdb(&self) {
        self.cluster.add_node(Node {
            name: "k3s-master".into(),
            zone: Some(ZONES[0].into()),
            ready: true,
            unschedulable: true,
            labels: [("node-role.kubernetes.io/control-plane".to_string(), "true".to_string())].into(),
            ..Default::default()
        });
        self.cluster.add_pdb(Pdb {
            namespace: APP_NAMESPACE.into(),
            name: "api".into(),
            match_labels: [("app".to_string(), "api".to_string())].into(),
            disruptions_allowed: 1,
        });
    }

    /// The instance registers as a Ready node, with its DaemonSet pod.
    pub fn join(&self, instance: &Instance) {
        let name = instance.private_dns_name.clone().unwrap_or_else(|| instance.instance_id.clone());
        self.cluster.add_node(Node {
            name: name.clone(),
            zone: Some(instance.availability_zone.clone()),
            instance_id: Some(instance.instance_id.clone()),
            provider_id: Some(format!("aws:///{}/{}", instance.availability_zone, instance.instance_id)),
            ready: true,
            allocatable: Resources { cpu_millis: NODE_CPU_MILLIS, memory_bytes: NODE_MEMORY_BYTES },
            labels: [("topology.kubernetes.io/zone".to_string(), instance.availability_zone.clone())].into(),
            created_at: Some(self.clock.now()),
            ..Default::default()
        });
        self.cluster.add_pod(Pod {
            namespace: "monitoring".into(),
            name: format!("node-exporter-{name}"),
            node: Some(name),
            owner: Some(OwnerRef { kind: "DaemonSet".into(), name: "node-exporter".into() }),
            requests: Resources { cpu_millis: DAEMONSET_CPU_MILLIS, memory_bytes: DAEMONSET_MEMORY_BYTES },
            phase: PodPhase::Running,
            ready: true,
            ..Default::default()
        });
    }
}

/// One replica of the demo app, pending until the scheduler binds it.
pub(crate) fn replica(n: u64) -> Pod {
    Pod {
        namespace: APP_NAMESPACE.into(),
        name: format!("api-{n}"),
        labels: [("app".to_string(), "api".to_string())].into(),
        owner: Some(OwnerRef { kind: "ReplicaSet".into(), name: "api".into() }),
        requests: Resources { cpu_millis: POD_CPU_MILLIS, memory_bytes: POD_MEMORY_BYTES },
        phase: PodPhase::Pending,
        termination_grace_s: Some(30),
        ..Default::default()
    }
}
