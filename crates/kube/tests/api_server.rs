//! The kube adapter against a mock API server (kube-rs's tower-test pattern): each scenario
//! asserts the exact request the adapter makes and answers as the API server would.

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};
use smartscale_core::ports::{Cluster, EvictOutcome, PodPhase, Volume};
use smartscale_core::Error;
use smartscale_kube::KubeCluster;

type ApiServerHandle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

struct ApiServerVerifier(ApiServerHandle);

/// What the mock API server expects next and how it answers.
struct Expect {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    status: StatusCode,
    answer: Value,
}

impl ApiServerVerifier {
    fn run(mut self, scenario: Vec<Expect>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            for expect in scenario {
                let (request, send) = self.0.next_request().await.expect("the adapter made no request");
                assert_eq!(request.method(), expect.method);
                assert_eq!(request.uri().path(), expect.path, "uri: {}", request.uri());
                let content_type = request.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
                let body = request.into_body().collect_bytes().await.unwrap();
                if let Some(expected) = expect.body {
                    let actual: Value = serde_json::from_slice(&body).expect("a JSON body");
                    assert_eq!(actual, expected);
                    if expect.method == Method::PATCH {
                        assert_eq!(content_type.as_deref(), Some("application/merge-patch+json"));
                    }
                }
                let response = Response::builder()
                    .status(expect.status)
                    .body(Body::from(serde_json::to_vec(&expect.answer).unwrap()))
                    .unwrap();
                send.send_response(response);
            }
        })
    }
}

fn mock() -> (KubeCluster, ApiServerVerifier) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (KubeCluster::new(Client::new(service, "default")), ApiServerVerifier(handle))
}

async fn finish(scenario: tokio::task::JoinHandle<()>) {
    tokio::time::timeout(std::time::Duration::from_secs(2), scenario)
        .await
        .expect("scenario timed out")
        .expect("scenario failed");
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code})
}

fn node_json(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": "us-east-1a"}, "creationTimestamp": "2026-11-23T10:00:00Z"},
        "spec": {"providerID": "aws:///us-east-1a/i-0abc123", "unschedulable": true},
        "status": {"allocatable": {"cpu": "1900m", "memory": "1600Mi"},
                   "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

#[tokio::test]
async fn cordon_is_one_merge_patch_of_spec_unschedulable_and_the_drain_mark() {
    let (cluster, server) = mock();
    let scenario = server.run(vec![
        Expect {
            method: Method::PATCH,
            path: "/api/v1/nodes/ip-10-0-1-5",
            body: Some(json!({"metadata": {"annotations": {"smartscale.io/cordoned-by": "dec-1"}}, "spec": {"unschedulable": true}})),
            status: StatusCode::OK,
            answer: node_json("ip-10-0-1-5"),
        },
        Expect {
            method: Method::PATCH,
            path: "/api/v1/nodes/ip-10-0-1-5",
            body: Some(json!({"metadata": {"annotations": {"smartscale.io/cordoned-by": null}}, "spec": {"unschedulable": false}})),
            status: StatusCode::OK,
            answer: node_json("ip-10-0-1-5"),
        },
        Expect {
            method: Method::PATCH,
            path: "/api/v1/nodes/gone",
            body: None,
            status: StatusCode::NOT_FOUND,
            answer: status(404, "NotFound", "nodes \"gone\" not found"),
        },
    ]);
    cluster.cordon("ip-10-0-1-5", "dec-1").await.unwrap();
    cluster.uncordon("ip-10-0-1-5").await.unwrap();
    let err = cluster.cordon("gone", "dec-1").await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    finish(scenario).await;
}

#[tokio::test]
async fn eviction_posts_to_the_eviction_subresource_and_maps_429_and_404() {
    let (cluster, server) = mock();
    let created = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
    let scenario = server.run(vec![
        Expect {
            method: Method::POST,
            path: "/api/v1/namespaces/shop/pods/api-7f9/eviction",
            body: None,
            status: StatusCode::CREATED,
            answer: created,
        },
        Expect {
            method: Method::POST,
            path: "/api/v1/namespaces/shop/pods/api-7fa/eviction",
            body: None,
            status: StatusCode::TOO_MANY_REQUESTS,
            answer: status(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget."),
        },
        Expect {
            method: Method::POST,
            path: "/api/v1/namespaces/shop/pods/api-old/eviction",
            body: None,
            status: StatusCode::NOT_FOUND,
            answer: status(404, "NotFound", "pods \"api-old\" not found"),
        },
        Expect {
            method: Method::POST,
            path: "/api/v1/namespaces/shop/pods/api-x/eviction",
            body: None,
            status: StatusCode::SERVICE_UNAVAILABLE,
            answer: status(503, "ServiceUnavailable", "etcd timeout"),
        },
    ]);
    assert_eq!(cluster.evict("shop", "api-7f9").await.unwrap(), EvictOutcome::Evicted);
    match cluster.evict("shop", "api-7fa").await.unwrap() {
        EvictOutcome::Blocked { message } => {
            assert!(message.contains("disruption budget"), "{message}")
        }
        other => panic!("a 429 is a blocked eviction, got {other:?}"),
    }
    assert_eq!(cluster.evict("shop", "api-old").await.unwrap(), EvictOutcome::NotFound);
    assert!(matches!(cluster.evict("shop", "api-x").await.unwrap_err(), Error::Unavailable { .. }));
    finish(scenario).await;
}

#[tokio::test]
async fn eviction_request_body_names_the_pod() {
    let (cluster, mut server) = mock();
    let scenario = tokio::spawn(async move {
        let (request, send) = server.0.next_request().await.unwrap();
        assert_eq!(request.headers()["content-type"], "application/json");
        let body: Value = serde_json::from_slice(&request.into_body().collect_bytes().await.unwrap()).unwrap();
        // The Eviction subresource takes the pod's name in metadata; the API server fills in
        // the rest and checks every PodDisruptionBudget matching the pod.
        assert_eq!(body["metadata"]["name"], "api-7f9");
        send.send_response(
            Response::builder()
                .status(201)
                .body(Body::from(
                    b"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Success\"}".to_vec(),
                ))
                .unwrap(),
        );
    });
    assert_eq!(cluster.evict("shop", "api-7f9").await.unwrap(), EvictOutcome::Evicted);
    finish(scenario).await;
}

#[tokio::test]
async fn delete_node_reports_whether_it_existed() {
    let (cluster, server) = mock();
    let deleted = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": {"name": "ip-10-0-1-5", "kind": "nodes"}});
    let scenario = server.run(vec![
        Expect {
            method: Method::DELETE,
            path: "/api/v1/nodes/ip-10-0-1-5",
            body: None,
            status: StatusCode::OK,
            answer: deleted,
        },
        Expect {
            method: Method::DELETE,
            path: "/api/v1/nodes/ip-10-0-1-5",
            body: None,
            status: StatusCode::NOT_FOUND,
            answer: status(404, "NotFound", "not found"),
        },
    ]);
    assert!(cluster.delete_node("ip-10-0-1-5").await.unwrap());
    assert!(!cluster.delete_node("ip-10-0-1-5").await.unwrap());
    finish(scenario).await;
}

#[tokio::test]
async fn lists_convert_nodes_pods_and_pdbs_across_pages() {
    let (cluster, server) = mock();
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "api-7f9", "namespace": "shop", "labels": {"app": "api"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-7f", "uid": "u1", "controller": true}]},
        "spec": {"nodeName": "ip-10-0-1-5", "terminationGracePeriodSeconds": 20, "nodeSelector": {"pool": "app"},
                 "containers": [{"name": "a", "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}}},
                                {"name": "b", "resources": {"requests": {"cpu": "0.1"}}}],
                 "volumes": [{"name": "cache", "emptyDir": {}}, {"name": "shm", "emptyDir": {"medium": "Memory"}}, {"name": "logs", "hostPath": {"path": "/var/log"}}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    });
    let pdb = json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "api"}}},
        "status": {"disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2, "expectedPods": 2}
    });
    let scenario = server.run(vec![
        Expect { method: Method::GET, path: "/api/v1/nodes", body: None, status: StatusCode::OK, answer: json!({"kind": "NodeList", "apiVersion": "v1", "metadata": {"continue": "page2"}, "items": [node_json("ip-10-0-1-5")]}) },
        Expect { method: Method::GET, path: "/api/v1/nodes", body: None, status: StatusCode::OK, answer: json!({"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": [node_json("ip-10-0-2-6")]}) },
        Expect { method: Method::GET, path: "/api/v1/pods", body: None, status: StatusCode::OK, answer: json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [pod]}) },
        Expect { method: Method::GET, path: "/apis/policy/v1/poddisruptionbudgets", body: None, status: StatusCode::OK, answer: json!({"kind": "PodDisruptionBudgetList", "apiVersion": "policy/v1", "metadata": {}, "items": [pdb]}) },
    ]);
    let nodes = cluster.list_nodes().await.unwrap();
    assert_eq!(nodes.len(), 2);
    let n = &nodes[0];
    assert_eq!(
        (n.name.as_str(), n.zone.as_deref(), n.instance_id.as_deref()),
        ("ip-10-0-1-5", Some("us-east-1a"), Some("i-0abc123"))
    );
    assert!(n.ready && n.unschedulable);
    assert_eq!((n.allocatable.cpu_millis, n.allocatable.memory_bytes), (1900, 1600 * 1024 * 1024));

    let pods = cluster.list_pods().await.unwrap();
    let p = &pods[0];
    assert_eq!(p.owner.as_ref().unwrap().kind, "ReplicaSet");
    assert_eq!((p.requests.cpu_millis, p.requests.memory_bytes), (300, 256 * 1024 * 1024));
    assert_eq!(p.phase, PodPhase::Running);
    assert_eq!(p.termination_grace_s, Some(20));
    assert!(p.ready && !p.mirror && !p.terminating);
    assert_eq!(p.node_selector["pool"], "app");
    assert_eq!(
        p.volumes,
        vec![
            Volume::EmptyDir { name: "cache".into(), medium_memory: false },
            Volume::EmptyDir { name: "shm".into(), medium_memory: true },
            Volume::HostPath { name: "logs".into() }
        ]
    );

    let pdbs = cluster.list_pdbs().await.unwrap();
    assert_eq!((pdbs[0].disruptions_allowed, pdbs[0].match_labels["app"].as_str()), (0, "api"));
    finish(scenario).await;
}
