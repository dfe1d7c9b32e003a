use std::collections::BTreeMap;

use super::*;
use crate::ports::OwnerRef;

const GI: u64 = 1024 * 1024 * 1024;

fn node(name: &str, zone: &str) -> Node {
    Node {
        name: name.into(),
        zone: Some(zone.into()),
        instance_id: Some(format!("i-{name}")),
        ready: true,
        allocatable: Resources { cpu_millis: 1900, memory_bytes: 1600 * 1024 * 1024 },
        created_at: Some("2026-11-23T08:00:00Z".parse().unwrap()),
        ..Default::default()
    }
}

fn pod(name: &str, node: &str, owner: Option<(&str, &str)>) -> Pod {
    Pod {
        namespace: "shop".into(),
        name: name.into(),
        node: Some(node.into()),
        labels: BTreeMap::from([("app".to_string(), "api".to_string())]),
        owner: owner.map(|(kind, name)| OwnerRef { kind: kind.into(), name: name.into() }),
        requests: Resources { cpu_millis: 200, memory_bytes: 256 * 1024 * 1024 },
        phase: PodPhase::Running,
        ready: true,
        ..Default::default()
    }
}

/// A replicated app: one replica on each named node.
fn replicas(nodes: &[&str]) -> Vec<Pod> {
    nodes.iter().map(|n| pod(&format!("api-{n}"), n, Some(("ReplicaSet", "api-7f")))).collect()
}

fn three_nodes() -> Vec<Node> {
    vec![node("n1", "a"), node("n2", "a"), node("n3", "b")]
}

fn verdict<'a>(plan: &'a DrainPlan, name: &str) -> &'a Verdict {
    plan.verdicts.iter().find(|v| v.node == name).unwrap()
}

fn rules(plan: &DrainPlan, name: &str) -> Vec<Rule> {
    verdict(plan, name).reasons.iter().map(|r| r.rule).collect()
}

type PodChange = Box<dyn Fn(&mut Pod)>;

fn all_managed(_: &Node) -> Option<Lifecycle> {
    Some(Lifecycle::OnDemand)
}

#[test]
fn a_replicated_cluster_has_a_removable_node_in_the_fullest_az() {
    let plan = plan(Selection::Safest, &three_nodes(), &replicas(&["n1", "n2", "n3"]), &[], 2, all_managed);
    assert_eq!(plan.chosen.as_deref(), Some("n1"), "{plan:#?}");
    assert!(verdict(&plan, "n1").removable && verdict(&plan, "n2").removable);
    assert_eq!(rules(&plan, "n3"), vec![Rule::LastInAz]);
}

#[test]
fn each_pod_rule_blocks_its_node() {
    let cases: Vec<(&str, PodChange, Rule)> = vec![
        ("bare pod", Box::new(|p| p.owner = None), Rule::BarePod),
        (
            "statefulset",
            Box::new(|p| p.owner = Some(OwnerRef { kind: "StatefulSet".into(), name: "db".into() })),
            Rule::Statefulset,
        ),
        ("hostPath", Box::new(|p| p.volumes = vec![Volume::HostPath { name: "logs".into() }]), Rule::LocalStorage),
        (
            "emptyDir on disk",
            Box::new(|p| p.volumes = vec![Volume::EmptyDir { name: "cache".into(), medium_memory: false }]),
            Rule::LocalStorage,
        ),
        (
            "safe-to-evict false",
            Box::new(|p| {
                p.annotations.insert(SAFE_TO_EVICT.into(), "false".into());
            }),
            Rule::DoNotDisrupt,
        ),
        (
            "karpenter do-not-disrupt",
            Box::new(|p| {
                p.annotations.insert(DO_NOT_DISRUPT.into(), "true".into());
            }),
            Rule::DoNotDisrupt,
        ),
        ("kube-system without PDB", Box::new(|p| p.namespace = "kube-system".into()), Rule::KubeSystem),
    ];
    for (name, change, rule) in cases {
        let mut pods = replicas(&["n1", "n2", "n3"]);
        change(&mut pods[0]);
        let plan = plan(Selection::Safest, &three_nodes(), &pods, &[], 2, all_managed);
        assert!(rules(&plan, "n1").contains(&rule), "{name}: {:?}", rules(&plan, "n1"));
        assert!(!verdict(&plan, "n1").removable, "{name}");
        assert_eq!(plan.chosen.as_deref(), Some("n2"), "{name}: the other node in the fullest AZ");
    }
}

#[test]
fn memory_empty_dir_and_annotated_local_volumes_are_fine() {
    let mut pods = replicas(&["n1", "n2", "n3"]);
    pods[0].volumes = vec![
        Volume::EmptyDir { name: "shm".into(), medium_memory: true },
        Volume::EmptyDir { name: "cache".into(), medium_memory: false },
    ];
    pods[0].annotations.insert(SAFE_TO_EVICT_LOCAL_VOLUMES.into(), "cache".into());
    assert!(verdict(&plan(Selection::Safest, &three_nodes(), &pods, &[], 2, all_managed), "n1").removable);
}

#[test]
fn single_replica_blocks_unless_another_ready_replica_runs_elsewhere() {
    let mut pods = replicas(&["n1"]);
    let plan1 = plan(Selection::Safest, &three_nodes(), &pods, &[], 2, all_managed);
    let reason = &verdict(&plan1, "n1").reasons[0];
    assert_eq!((reason.rule, reason.detail.as_deref()), (Rule::SingleReplica, Some("ReplicaSet api-7f")));
    pods.push(pod("api-b", "n3", Some(("ReplicaSet", "api-7f"))));
    pods[1].ready = false;
    assert!(
        !verdict(&plan(Selection::Safest, &three_nodes(), &pods, &[], 2, all_managed), "n1").removable,
        "the other replica is not ready"
    );
    pods[1].ready = true;
    assert!(verdict(&plan(Selection::Safest, &three_nodes(), &pods, &[], 2, all_managed), "n1").removable);
}

#[test]
fn pdb_with_no_disruption_left_blocks_and_names_itself() {
    let pdb = Pdb {
        namespace: "shop".into(),
        name: "api".into(),
        match_labels: BTreeMap::from([("app".into(), "api".into())]),
        disruptions_allowed: 0,
    };
    let plan = plan(Selection::Safest, &three_nodes(), &replicas(&["n1", "n2", "n3"]), &[pdb], 2, all_managed);
    let reason = verdict(&plan, "n1").reasons.iter().find(|r| r.rule == Rule::Pdb).unwrap();
    assert_eq!((reason.pod.as_deref(), reason.pdb.as_deref()), (Some("shop/api-n1"), Some("shop/api")));
    assert_eq!(plan.chosen, None);
    let json = serde_json::to_value(verdict(&plan, "n1")).unwrap();
    assert_eq!(json["reasons"][0], serde_json::json!({"rule": "pdb", "pod": "shop/api-n1", "pdb": "shop/api"}));
}

#[test]
fn safe_to_evict_true_lifts_controller_and_storage_rules_but_never_pdbs() {
    let mut pods = replicas(&["n2", "n3"]);
    let mut bare = pod("debug", "n1", None);
    bare.volumes = vec![Volume::HostPath { name: "logs".into() }];
    bare.annotations.insert(SAFE_TO_EVICT.into(), "true".into());
    pods.push(bare.clone());
    assert!(
        verdict(&plan(Selection::Safest, &three_nodes(), &pods, &[], 2, all_managed), "n1").removable,
        "safe-to-evict=true on a bare pod"
    );
    let pdb = Pdb {
        namespace: "shop".into(),
        name: "debug".into(),
        match_labels: bare.labels.clone(),
        disruptions_allowed: 0,
    };
    let plan = plan(Selection::Safest, &three_nodes(), &pods, &[pdb], 2, all_managed);
    assert_eq!(rules(&plan, "n1"), vec![Rule::Pdb]);
}

#[test]
fn kube_system_pod_with_a_pdb_allowing_disruption_is_fine() {
    let mut pods = replicas(&["n1", "n2", "n3"]);
    pods[0].namespace = "kube-system".into();
    pods.push(Pod { namespace: "kube-system".into(), ..pod("api-other", "n3", Some(("ReplicaSet", "api-7f"))) });
    let pdb = Pdb {
        namespace: "kube-system".into(),
        name: "coredns".into(),
        match_labels: pods[0].labels.clone(),
        disruptions_allowed: 1,
    };
    assert!(verdict(&plan(Selection::Safest, &three_nodes(), &pods, &[pdb], 2, all_managed), "n1").removable);
}

#[test]
fn daemonset_mirror_and_finished_pods_are_ignored() {
    let mut pods = replicas(&["n1", "n2", "n3"]);
    pods.push(pod("node-exporter-x", "n1", Some(("DaemonSet", "node-exporter"))));
    pods.push(Pod { mirror: true, ..pod("kube-proxy-n1", "n1", None) });
    pods.push(Pod { phase: PodPhase::Succeeded, ..pod("job-done", "n1", None) });
    let plan = plan(Selection::Safest, &three_nodes(), &pods, &[], 2, all_managed);
    assert!(verdict(&plan, "n1").removable, "{:?}", verdict(&plan, "n1").reasons);
    assert_eq!(verdict(&plan, "n1").pods, 1);
}

#[test]
fn pods_must_fit_elsewhere_by_requests_and_selectors() {
    let mut pods = replicas(&["n1", "n2", "n3"]);
    // n1's replica is big: 1.2 CPU. n2 and n3 each have 1.7 free: it fits.
    pods[0].requests.cpu_millis = 1200;
    assert!(verdict(&plan(Selection::Safest, &three_nodes(), &pods, &[], 2, all_managed), "n1").removable);
    // Fill n2 and n3 so 1.2 CPU fits nowhere.
    pods.push(Pod {
        requests: Resources { cpu_millis: 1000, memory_bytes: 0 },
        ..pod("fill-2", "n2", Some(("ReplicaSet", "fill")))
    });
    pods.push(Pod {
        requests: Resources { cpu_millis: 1000, memory_bytes: 0 },
        ..pod("fill-3", "n3", Some(("ReplicaSet", "fill")))
    });
    let plan1 = plan(Selection::Safest, &three_nodes(), &pods, &[], 2, all_managed);
    let reason = verdict(&plan1, "n1").reasons.iter().find(|r| r.rule == Rule::NoPlaceToMovePods).cloned().unwrap();
    assert_eq!(reason.pod.as_deref(), Some("shop/api-n1"));
    // A node selector no other node satisfies.
    let mut pods = replicas(&["n1", "n2", "n3"]);
    pods[0].node_selector.insert("gpu".into(), "true".into());
    assert!(rules(&plan(Selection::Safest, &three_nodes(), &pods, &[], 2, all_managed), "n1")
        .contains(&Rule::NoPlaceToMovePods));
    // Memory counts too.
    let mut pods = replicas(&["n1", "n2", "n3"]);
    pods[0].requests.memory_bytes = 2 * GI;
    assert!(rules(&plan(Selection::Safest, &three_nodes(), &pods, &[], 2, all_managed), "n1")
        .contains(&Rule::NoPlaceToMovePods));
}

#[test]
fn cordoned_or_not_ready_nodes_take_no_pods() {
    let mut nodes = three_nodes();
    nodes[1].unschedulable = true;
    nodes[2].ready = false;
    let plan = plan(Selection::Safest, &nodes, &replicas(&["n1", "n2", "n3"]), &[], 1, all_managed);
    assert!(rules(&plan, "n1").contains(&Rule::NoPlaceToMovePods));
}

#[test]
fn never_below_min_nodes() {
    let nodes = vec![node("n1", "a"), node("n2", "b")];
    let plan = plan(Selection::Safest, &nodes, &replicas(&["n1", "n2"]), &[], 2, all_managed);
    assert_eq!(plan.chosen, None);
    assert!(plan.verdicts.iter().all(|v| v.reasons.iter().any(|r| r.rule == Rule::MinNodes)));
}

#[test]
fn one_node_per_az_may_shrink_but_never_empties_an_az_while_another_has_two() {
    let nodes = vec![node("n1", "a"), node("n2", "b"), node("n3", "c")];
    let plan1 = plan(Selection::Safest, &nodes, &replicas(&["n1", "n2", "n3"]), &[], 2, all_managed);
    assert!(plan1.chosen.is_some(), "every AZ has one: removing one leaves no AZ with two");
    let nodes = vec![node("n1", "a"), node("n2", "a"), node("n3", "b")];
    assert_eq!(
        rules(&plan(Selection::Safest, &nodes, &replicas(&["n1", "n2", "n3"]), &[], 1, all_managed), "n3"),
        vec![Rule::LastInAz]
    );
}

#[test]
fn control_plane_and_unmanaged_nodes_are_never_chosen() {
    let mut nodes = three_nodes();
    nodes.push(Node {
        labels: BTreeMap::from([("node-role.kubernetes.io/control-plane".to_string(), "true".to_string())]),
        ..node("master", "a")
    });
    let pods = replicas(&["n1", "n2", "n3"]);
    let plan = plan(Selection::Safest, &nodes, &pods, &[], 1, |n| (n.name != "n1").then_some(Lifecycle::OnDemand));
    assert_eq!(rules(&plan, "master"), vec![Rule::ControlPlane]);
    assert_eq!(rules(&plan, "n1"), vec![Rule::Unmanaged]);
    assert_eq!(plan.chosen.as_deref(), Some("n2"));
}

#[test]
fn tie_breaks_fewest_pods_then_lowest_utilization_then_oldest() {
    let nodes = vec![node("n1", "a"), node("n2", "a"), node("n3", "a"), node("n4", "b"), node("n5", "b")];
    // Every node has one replica; n2 also has a second pod.
    let mut pods = replicas(&["n1", "n2", "n3", "n4", "n5"]);
    pods.push(pod("extra", "n2", Some(("ReplicaSet", "api-7f"))));
    // n1 is busier than n3 by requests.
    pods[0].requests.cpu_millis = 900;
    let chosen = plan(Selection::Safest, &nodes, &pods, &[], 2, all_managed).chosen;
    assert_eq!(chosen.as_deref(), Some("n3"), "AZ a has most nodes; n2 has more pods; n1 is busier");
    // Equal utilization: the oldest goes.
    pods[0].requests.cpu_millis = 200;
    let mut nodes = nodes;
    nodes[2].created_at = Some("2026-11-23T09:00:00Z".parse().unwrap());
    assert_eq!(plan(Selection::Safest, &nodes, &pods, &[], 2, all_managed).chosen.as_deref(), Some("n1"));
}

#[test]
fn an_already_cordoned_node_goes_first() {
    let mut nodes = three_nodes();
    nodes[1].unschedulable = true;
    assert_eq!(
        plan(Selection::Safest, &nodes, &replicas(&["n1", "n2", "n3"]), &[], 2, all_managed).chosen.as_deref(),
        Some("n2")
    );
}

#[test]
fn the_spec_selection_skips_the_fit_and_az_checks_but_not_pod_safety() {
    // n1's replica fits nowhere else, and n3 is the last node in its AZ.
    let nodes = vec![node("n1", "a"), node("n2", "a"), node("n3", "b")];
    let mut pods = replicas(&["n1", "n2", "n3"]);
    pods[0].requests.memory_bytes = 2 * GI;
    let safest = plan(Selection::Safest, &nodes, &pods, &[], 1, all_managed);
    assert!(rules(&safest, "n1").contains(&Rule::NoPlaceToMovePods));
    assert_eq!(rules(&safest, "n3"), vec![Rule::LastInAz]);
    assert_eq!(safest.chosen.as_deref(), Some("n2"));

    let spec = plan(Selection::FewestPods, &nodes, &pods, &[], 1, all_managed);
    assert!(verdict(&spec, "n1").removable && verdict(&spec, "n3").removable);
    // With the fewest pods, n1 goes although its pod has nowhere to go.
    pods.push(pod("extra-2", "n2", Some(("ReplicaSet", "extra"))));
    pods.push(pod("extra-3", "n3", Some(("ReplicaSet", "extra"))));
    let spec = plan(Selection::FewestPods, &nodes, &pods, &[], 1, all_managed);
    assert_eq!(spec.chosen.as_deref(), Some("n1"));

    // A PDB with nothing left still blocks, whatever the selection.
    let pdb = Pdb {
        namespace: "shop".into(),
        name: "api".into(),
        match_labels: [("app".to_string(), "api".to_string())].into(),
        disruptions_allowed: 0,
    };
    let spec = plan(Selection::FewestPods, &nodes, &replicas(&["n1", "n2", "n3"]), &[pdb], 1, all_managed);
    assert_eq!(spec.chosen, None);
    assert_eq!("fewest_pods".parse::<Selection>(), Ok(Selection::FewestPods));
    assert!("newest".parse::<Selection>().unwrap_err().contains("safest or fewest_pods"));
}

#[test]
fn the_on_demand_floor_keeps_on_demand_nodes_while_spot_runs() {
    let nodes = three_nodes();
    let spot_n3 = |n: &Node| Some(if n.name == "n3" { Lifecycle::Spot } else { Lifecycle::OnDemand });
    let pods = replicas(&["n1", "n2", "n3", "n3"]);
    // Two On-Demand nodes at a floor of 2 and one Spot node: only the Spot node may go.
    let plan = plan(Selection::Safest, &nodes, &pods, &[], 1, spot_n3);
    assert!(!rules(&plan, "n1").contains(&Rule::OnDemandFloor), "floor 1: one On-Demand may go");
    let plan = super::plan(Selection::FewestPods, &nodes, &pods, &[], 2, spot_n3);
    assert!(rules(&plan, "n1").contains(&Rule::OnDemandFloor));
    assert!(rules(&plan, "n2").contains(&Rule::OnDemandFloor));
    assert!(!rules(&plan, "n3").contains(&Rule::OnDemandFloor));
    // No Spot left: the floor rule does not apply (min_nodes guards the count).
    let plan = super::plan(Selection::FewestPods, &nodes, &pods, &[], 2, all_managed);
    assert!(!rules(&plan, "n1").contains(&Rule::OnDemandFloor));
}

#[test]
fn the_last_node_of_an_az_goes_when_every_other_node_is_held() {
    // Both On-Demand nodes of the floor in AZ a, the Spot node alone in b: the floor holds n1
    // and n2, so the AZ rule alone must not stop every scale-down.
    let spot_n3 = |n: &Node| Some(if n.name == "n3" { Lifecycle::Spot } else { Lifecycle::OnDemand });
    let pods = replicas(&["n1", "n2", "n3"]);
    let held = plan(Selection::Safest, &three_nodes(), &pods, &[], 2, spot_n3);
    assert_eq!(rules(&held, "n3"), vec![Rule::LastInAz], "the verdict still says why it is a last resort");
    assert!(rules(&held, "n1").contains(&Rule::OnDemandFloor) && rules(&held, "n2").contains(&Rule::OnDemandFloor));
    assert_eq!(held.chosen.as_deref(), Some("n3"), "{held:#?}");
    // Held by another rule too, it stays.
    let mut pinned = pods.clone();
    pinned[2].owner = None;
    let plan2 = plan(Selection::Safest, &three_nodes(), &pinned, &[], 2, spot_n3);
    assert_eq!(rules(&plan2, "n3"), vec![Rule::LastInAz, Rule::BarePod]);
    assert_eq!(plan2.chosen, None);
}

#[test]
fn pods_without_requests_are_not_free_space() {
    let mut pods: Vec<Pod> = (0..9)
        .map(|i| Pod { requests: Resources::default(), ..pod(&format!("bare-{i}"), "n2", Some(("ReplicaSet", "w"))) })
        .collect();
    pods.push(Pod {
        owner: Some(OwnerRef { kind: "DaemonSet".into(), name: "ds".into() }),
        ..pod("ds-n2", "n2", None)
    });
    pods[9].requests = Resources::default();
    assert_eq!(count_unset_requests_as(&mut pods, DEFAULT_UNSET_REQUESTS), 9, "DaemonSet pods are left alone");
    assert!(pods[..9].iter().all(|p| p.requests == DEFAULT_UNSET_REQUESTS));
    assert_eq!(pods[9].requests, Resources::default());
}

#[test]
fn request_sums_past_u64_max_read_as_full_not_free_and_never_panic() {
    let nodes = three_nodes();
    let huge = Resources { cpu_millis: u64::MAX / 2 + 1, memory_bytes: u64::MAX / 2 + 1 };
    let mut pods = replicas(&["n1", "n2", "n3"]);
    pods.push(Pod { requests: huge, ..pod("big-1", "n2", Some(("ReplicaSet", "big"))) });
    pods.push(Pod { requests: huge, ..pod("big-2", "n2", Some(("ReplicaSet", "big"))) });
    pods.push(Pod { requests: huge, ..pod("big-3", "n3", Some(("ReplicaSet", "big"))) });
    let plan = plan(Selection::Safest, &nodes, &pods, &[], 2, all_managed);
    // n1's pod cannot move onto n2 (its sum saturated: full) and n3's big pod fits nowhere.
    assert!(verdict(&plan, "n2").utilization >= 1.0);
}
