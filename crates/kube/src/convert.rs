//! Kubernetes objects to the core's cluster types.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node as K8sNode, Pod as K8sPod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use smartscale_core::ports::{Node, OwnerRef, Pdb, Pod, PodPhase, Resources, Volume};

use crate::quantity;

const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

fn resources(map: Option<&BTreeMap<String, Quantity>>) -> Resources {
    let get = |key: &str| map.and_then(|m| m.get(key)).map(|q| q.0.as_str());
    Resources {
        cpu_millis: get("cpu").and_then(quantity::cpu_millis).unwrap_or(0),
        memory_bytes: get("memory").and_then(quantity::bytes).unwrap_or(0),
    }
}

pub fn node(n: &K8sNode) -> Node {
    let labels = n.metadata.labels.clone().unwrap_or_default();
    let provider_id = n.spec.as_ref().and_then(|s| s.provider_id.clone());
    let status = n.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    Node {
        name: n.metadata.name.clone().unwrap_or_default(),
        zone: labels.get(ZONE_LABEL).cloned(),
        instance_id: provider_id
            .as_deref()
            .and_then(|p| p.rsplit('/').next())
            .filter(|id| id.starts_with("i-"))
            .map(str::to_string),
        provider_id,
        ready,
        unschedulable: n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false),
        allocatable: resources(status.and_then(|s| s.allocatable.as_ref())),
        labels,
        annotations: n.metadata.annotations.clone().unwrap_or_default(),
        created_at: n
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| chrono::DateTime::from_timestamp_nanos(t.0.as_nanosecond() as i64)),
    }
}

pub fn pod(p: &K8sPod) -> Pod {
    let spec = p.spec.as_ref();
    let status = p.status.as_ref();
    let annotations = p.metadata.annotations.clone().unwrap_or_default();
    let owner = p
        .metadata
        .owner_references
        .as_ref()
        .and_then(|refs| refs.iter().find(|r| r.controller == Some(true)))
        .map(|r| OwnerRef { kind: r.kind.clone(), name: r.name.clone() });
    let mut requests = Resources::default();
    for container in spec.map(|s| s.containers.as_slice()).unwrap_or(&[]) {
        let r = resources(container.resources.as_ref().and_then(|r| r.requests.as_ref()));
        requests.cpu_millis += r.cpu_millis;
        requests.memory_bytes += r.memory_bytes;
    }
    let volumes = spec
        .and_then(|s| s.volumes.as_ref())
        .map(|vs| {
            vs.iter()
                .map(|v| {
                    if v.host_path.is_some() {
                        Volume::HostPath { name: v.name.clone() }
                    } else if let Some(dir) = &v.empty_dir {
                        Volume::EmptyDir {
                            name: v.name.clone(),
                            medium_memory: dir.medium.as_deref() == Some("Memory"),
                        }
                    } else {
                        Volume::Other { name: v.name.clone() }
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let phase = match status.and_then(|s| s.phase.as_deref()) {
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        Some("Pending") => PodPhase::Pending,
        _ => PodPhase::Unknown,
    };
    Pod {
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        name: p.metadata.name.clone().unwrap_or_default(),
        node: spec.and_then(|s| s.node_name.clone()),
        labels: p.metadata.labels.clone().unwrap_or_default(),
        owner,
        requests,
        mirror: annotations.contains_key(MIRROR_ANNOTATION),
        annotations,
        volumes,
        phase,
        node_selector: spec.and_then(|s| s.node_selector.clone()).unwrap_or_default(),
        ready: status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
        termination_grace_s: spec.and_then(|s| s.termination_grace_period_seconds).map(|g| g.max(0) as u32),
        terminating: p.metadata.deletion_timestamp.is_some(),
    }
}

pub fn pdb(p: &PodDisruptionBudget) -> Pdb {
    Pdb {
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        name: p.metadata.name.clone().unwrap_or_default(),
        match_labels: p
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .and_then(|s| s.match_labels.clone())
            .unwrap_or_default(),
        disruptions_allowed: p.status.as_ref().map(|s| s.disruptions_allowed).unwrap_or(0),
    }
}
