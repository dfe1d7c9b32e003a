//! The Lambdas' ClusterRole (k8s/infrastructure/smartscale-rbac/clusterrole.yaml) grants exactly
//! what this adapter calls. Every port method is driven against a mock API server that records
//! each request; the requests are mapped to RBAC (API group, resource, verb) as the API server's
//! authorizer does, and compared with the role both ways: a call the role lacks fails in the
//! cluster with 403, a grant nothing calls is privilege the Lambdas do not need.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use kube::Client;
use serde::Deserialize;
use serde_json::{json, Value};
use smartscale_core::ports::Cluster;
use smartscale_kube::KubeCluster;

/// (API group, resource with subresource, verb), as RBAC rules name them.
type Permission = (String, String, String);

/// What the role grants beyond the calls, and why. The shared contract with infra/ gives `get`
/// beside each `list` so an operator can debug with the Lambdas' own kubeconfig
/// (`kubectl get node <name>`) without a second identity.
const GRANTED_BEYOND_CALLS: [(&str, &str, &str); 3] =
    [("", "nodes", "get"), ("", "pods", "get"), ("policy", "poddisruptionbudgets", "get")];

/// The Cluster port's methods this test drives. Compared with the trait in crates/core, so a new
/// port method fails here until it is driven below (and its permission granted).
const DRIVEN: [&str; 7] = ["list_nodes", "list_pods", "list_pdbs", "cordon", "uncordon", "evict", "delete_node"];

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().parent().unwrap()
}

/// Maps one request to its RBAC permission, as the API server's request-info resolver does:
/// `/api/v1/[namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE]]` or the same under `/apis/GROUP/VERSION`.
fn permission(method: &Method, path: &str) -> Permission {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", _version, rest @ ..] => (String::new(), rest.to_vec()),
        ["apis", group, _version, rest @ ..] => (group.to_string(), rest.to_vec()),
        _ => panic!("not a resource path: {path}"),
    };
    let rest = match rest.as_slice() {
        ["namespaces", _ns, rest @ ..] if !rest.is_empty() => rest.to_vec(),
        _ => rest,
    };
    let (resource, named) = match rest.as_slice() {
        [resource] => (resource.to_string(), false),
        [resource, _name] => (resource.to_string(), true),
        [resource, _name, sub] => (format!("{resource}/{sub}"), true),
        _ => panic!("unexpected path shape: {path}"),
    };
    let verb = match (method.as_str(), named) {
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        (other, _) => panic!("unexpected method {other} on {path}"),
    };
    (group, resource, verb.to_string())
}

/// A reply the adapter accepts for each kind of request; the content does not matter here.
fn answer(method: &Method, path: &str) -> (StatusCode, Value) {
    let list = |kind: &str, api: &str| json!({"kind": kind, "apiVersion": api, "metadata": {"resourceVersion": "1"}, "items": []});
    let node =
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "ip-10-0-1-5"}, "spec": {}, "status": {}});
    match (method.as_str(), path) {
        ("GET", "/api/v1/nodes") => (StatusCode::OK, list("NodeList", "v1")),
        ("GET", "/api/v1/pods") => (StatusCode::OK, list("PodList", "v1")),
        ("GET", "/apis/policy/v1/poddisruptionbudgets") => {
            (StatusCode::OK, list("PodDisruptionBudgetList", "policy/v1"))
        }
        ("POST", p) if p.ends_with("/eviction") => (
            StatusCode::CREATED,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        ),
        ("PATCH", _) | ("DELETE", _) => (StatusCode::OK, node),
        _ => panic!("the adapter made a request this test does not know: {method} {path}"),
    }
}

/// Drives every port method and returns the permissions its requests need.
async fn permissions_the_adapter_uses() -> BTreeSet<Permission> {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let recorder = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let (method, path) = (request.method().clone(), request.uri().path().to_string());
                seen.lock().unwrap().insert(permission(&method, &path));
                let (status, body) = answer(&method, &path);
                send.send_response(
                    Response::builder().status(status).body(Body::from(serde_json::to_vec(&body).unwrap())).unwrap(),
                );
            }
        })
    };
    let cluster = KubeCluster::new(Client::new(service, "default"));
    cluster.list_nodes().await.unwrap();
    cluster.list_pods().await.unwrap();
    cluster.list_pdbs().await.unwrap();
    cluster.cordon("ip-10-0-1-5", "decision-1").await.unwrap();
    cluster.uncordon("ip-10-0-1-5").await.unwrap();
    cluster.evict("demo", "smartscale-demo-app-1").await.unwrap();
    cluster.delete_node("ip-10-0-1-5").await.unwrap();
    drop(cluster);
    tokio::time::timeout(std::time::Duration::from_secs(5), recorder)
        .await
        .expect("the mock server did not stop")
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    seen
}

#[derive(Deserialize)]
struct ClusterRole {
    kind: String,
    metadata: Metadata,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Metadata {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rule {
    #[serde(default)]
    api_groups: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    resource_names: Vec<String>,
    #[serde(default)]
    non_resource_ur_ls: Vec<String>,
}

/// Every (group, resource, verb) the manifest's ClusterRole grants; wildcards are refused
/// outright, since they grant whatever the cluster adds later.
fn permissions_the_role_grants() -> BTreeSet<Permission> {
    let path = repo_root().join("k8s/infrastructure/smartscale-rbac/clusterrole.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let role: ClusterRole = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!((role.kind.as_str(), role.metadata.name.as_str()), ("ClusterRole", "smartscale-controller"));
    let mut granted = BTreeSet::new();
    for rule in role.rules {
        assert!(rule.non_resource_ur_ls.is_empty(), "the role grants non-resource URLs: {:?}", rule.non_resource_ur_ls);
        assert!(rule.resource_names.is_empty(), "resourceNames cannot name nodes that do not exist yet");
        for group in &rule.api_groups {
            for resource in &rule.resources {
                for verb in &rule.verbs {
                    assert!(
                        ![group, resource, verb].iter().any(|s| s.contains('*')),
                        "wildcard in {group}/{resource}/{verb}"
                    );
                    granted.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    granted
}

fn show(set: &BTreeSet<Permission>) -> String {
    set.iter()
        .map(|(g, r, v)| format!("{}{r}:{v}", if g.is_empty() { String::new() } else { format!("{g}/") }))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test]
async fn the_cluster_role_grants_exactly_what_the_adapter_calls() {
    let used = permissions_the_adapter_uses().await;
    let granted = permissions_the_role_grants();
    let beyond: BTreeSet<Permission> =
        GRANTED_BEYOND_CALLS.iter().map(|(g, r, v)| (g.to_string(), r.to_string(), v.to_string())).collect();

    let lacking: BTreeSet<Permission> = used.difference(&granted).cloned().collect();
    assert!(lacking.is_empty(), "the ClusterRole lacks what crates/kube calls: {}", show(&lacking));
    let expected: BTreeSet<Permission> = used.union(&beyond).cloned().collect();
    let excess: BTreeSet<Permission> = granted.difference(&expected).cloned().collect();
    assert!(excess.is_empty(), "the ClusterRole grants what crates/kube never calls: {}", show(&excess));
    let unused_allowance: BTreeSet<Permission> = beyond.difference(&granted).cloned().collect();
    assert!(
        unused_allowance.is_empty(),
        "GRANTED_BEYOND_CALLS names grants the role no longer has: {}",
        show(&unused_allowance)
    );

    // The list, spelled out, so a change to the adapter that changes it is seen here.
    assert_eq!(
        show(&used),
        "nodes:delete, nodes:list, nodes:patch, pods:list, pods/eviction:create, policy/poddisruptionbudgets:list"
    );
}

#[test]
fn every_cluster_port_method_is_driven() {
    let ports = std::fs::read_to_string(repo_root().join("crates/core/src/ports.rs")).unwrap();
    let start = ports.find("pub trait Cluster: ").expect("the Cluster trait in crates/core/src/ports.rs");
    let body = &ports[start..start + ports[start..].find("\n}").unwrap()];
    let methods: BTreeSet<&str> =
        body.lines().filter_map(|l| l.trim().strip_prefix("fn ")).map(|l| &l[..l.find('(').unwrap()]).collect();
    assert_eq!(methods, DRIVEN.into_iter().collect(), "drive every Cluster method in permissions_the_adapter_uses");
}

#[test]
fn requests_map_to_rbac_as_the_api_server_resolves_them() {
    let p = |m: Method, path: &str| {
        let (g, r, v) = permission(&m, path);
        format!("{g}|{r}|{v}")
    };
    assert_eq!(p(Method::GET, "/api/v1/nodes"), "|nodes|list");
    assert_eq!(p(Method::GET, "/api/v1/nodes/n1"), "|nodes|get");
    assert_eq!(p(Method::POST, "/api/v1/namespaces/demo/pods/p1/eviction"), "|pods/eviction|create");
    assert_eq!(
        p(Method::GET, "/apis/policy/v1/namespaces/demo/poddisruptionbudgets"),
        "policy|poddisruptionbudgets|list"
    );
    assert_eq!(p(Method::DELETE, "/api/v1/namespaces/demo/pods"), "|pods|deletecollection");
}
