//! What `explain-drain` demands of a snapshot beyond its JSON shape. A snapshot is written by
//! hand or by a script, and a plan on a wrong one is a confident wrong answer: a node without
//! its zone or allocatable would count as an empty node in no AZ, and a pod on a node the
//! snapshot lacks would count as a replica "elsewhere" and free its twin to go.
//!
//! The drain worker reads the same types from the API server, which always fills these
//! fields, so these checks belong to the CLI's input, not to the shared types.

use std::collections::BTreeMap;

use serde_json::Value;
use smartscale_core::drain::Snapshot;
use smartscale_core::Error;

/// Fields every snapshot node must state; a default would silently change the plan.
const REQUIRED_NODE_FIELDS: [&str; 3] = ["zone", "ready", "allocatable"];
const REQUIRED_RESOURCES: [&str; 2] = ["cpu_millis", "memory_bytes"];

/// Parses and checks a snapshot; every error names the field (`nodes[1].zone`).
pub fn parse(text: &str) -> Result<Snapshot, Error> {
    let snapshot: Snapshot = crate::strict_json::from_str(text)?;
    let raw: Value = serde_json::from_str(text).map_err(|e| Error::invalid("<root>", e.to_string()))?;
    check(&raw, &snapshot)?;
    Ok(snapshot)
}

fn check(raw: &Value, snapshot: &Snapshot) -> Result<(), Error> {
    let mut node_index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, node) in snapshot.nodes.iter().enumerate() {
        let stated = &raw["nodes"][i];
        for field in REQUIRED_NODE_FIELDS {
            if stated.get(field).is_none_or(Value::is_null) {
                return Err(Error::invalid(format!("nodes[{i}].{field}"), format!("missing for node {:?}", node.name)));
            }
        }
        for field in REQUIRED_RESOURCES {
            if stated["allocatable"].get(field).is_none_or(Value::is_null) {
                return Err(Error::invalid(
                    format!("nodes[{i}].allocatable.{field}"),
                    format!("missing for node {:?}", node.name),
                ));
            }
        }
        if node.zone.as_deref().is_some_and(|z| z.trim().is_empty()) {
            return Err(Error::invalid(format!("nodes[{i}].zone"), format!("empty for node {:?}", node.name)));
        }
        if let Some(first) = node_index.insert(&node.name, i) {
            return Err(Error::invalid(
                format!("nodes[{i}].name"),
                format!("duplicate node name {:?} (also nodes[{first}])", node.name),
            ));
        }
    }
    let mut pod_index: BTreeMap<String, usize> = BTreeMap::new();
    // Per node: the running sums of CPU and memory requests, which must not overflow.
    let mut sums: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (k, pod) in snapshot.pods.iter().enumerate() {
        if let Some(first) = pod_index.insert(pod.key(), k) {
            return Err(Error::invalid(
                format!("pods[{k}].name"),
                format!("duplicate pod {} (also pods[{first}])", pod.key()),
            ));
        }
        let Some(node) = pod.node.as_deref() else { continue };
        if !node_index.contains_key(node) {
            return Err(Error::invalid(
                format!("pods[{k}].node"),
                format!("pod {} is on node {node:?}, which is not in the snapshot's nodes", pod.key()),
            ));
        }
        let (cpu, memory) = sums.entry(node).or_default();
        for (sum, request, field) in
            [(cpu, pod.requests.cpu_millis, "cpu_millis"), (memory, pod.requests.memory_bytes, "memory_bytes")]
        {
            *sum = sum.checked_add(request).ok_or_else(|| {
                Error::invalid(
                    format!("pods[{k}].requests.{field}"),
                    format!("the {field} requests of the pods on node {node:?} add up past {}", u64::MAX),
                )
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: &str = r#"{"name": "n1", "zone": "us-east-1a", "ready": true,
                           "allocatable": {"cpu_millis": 2000, "memory_bytes": 2000000000}}"#;

    fn field_of(text: &str) -> String {
        match parse(text).unwrap_err() {
            Error::Invalid { field, message } => format!("{field}: {message}"),
            other => panic!("not an input error: {other}"),
        }
    }

    #[test]
    fn a_complete_snapshot_passes() {
        let text = format!(r#"{{"nodes": [{NODE}], "pods": [{{"namespace": "a", "name": "p", "node": "n1"}}]}}"#);
        assert_eq!(parse(&text).unwrap().nodes.len(), 1);
    }

    #[test]
    fn each_required_node_field_is_named_when_missing() {
        for (field, bad) in [
            ("zone", r#"{"name": "n1", "ready": true, "allocatable": {"cpu_millis": 1, "memory_bytes": 1}}"#),
            (
                "zone",
                r#"{"name": "n1", "zone": null, "ready": true, "allocatable": {"cpu_millis": 1, "memory_bytes": 1}}"#,
            ),
            ("ready", r#"{"name": "n1", "zone": "z", "allocatable": {"cpu_millis": 1, "memory_bytes": 1}}"#),
            ("allocatable", r#"{"name": "n1", "zone": "z", "ready": true}"#),
            (
                "allocatable.memory_bytes",
                r#"{"name": "n1", "zone": "z", "ready": true, "allocatable": {"cpu_millis": 1}}"#,
            ),
        ] {
            let error = field_of(&format!(r#"{{"nodes": [{NODE}, {bad}]}}"#));
            assert!(error.starts_with(&format!("nodes[1].{field}: missing")), "{field}: {error}");
        }
    }

    #[test]
    fn overflowing_request_sums_name_the_pod() {
        let pods = r#"[{"namespace": "a", "name": "p1", "node": "n1", "requests": {"cpu_millis": 18446744073709551615}},
                       {"namespace": "a", "name": "p2", "node": "n1", "requests": {"cpu_millis": 1}}]"#;
        let error = field_of(&format!(r#"{{"nodes": [{NODE}], "pods": {pods}}}"#));
        assert!(error.starts_with("pods[1].requests.cpu_millis: the cpu_millis requests"), "{error}");
    }
}
