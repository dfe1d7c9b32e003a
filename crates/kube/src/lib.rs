//! The cluster port on the Kubernetes API (K3s), through kube-rs.
//!
//! Eviction goes through the `policy/v1` Eviction subresource, so PodDisruptionBudgets are
//! enforced by the API server: a 429 is [`EvictOutcome::Blocked`], a 404 is
//! [`EvictOutcome::NotFound`] (the pod is already gone), both values rather than errors.

mod convert;
mod quantity;

use k8s_openapi::api::core::v1::{Node as K8sNode, Pod as K8sPod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, EvictParams, ListParams, ObjectList, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::Client;
use serde_json::json;
use smartscale_core::ports::{Cluster, EvictOutcome, Node, Pdb, Pod, CORDONED_BY_ANNOTATION};
use smartscale_core::{Error, Result};
use tracing::instrument;

const SERVICE: &str = "kubernetes";
const PAGE: u32 = 500;

#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
}

impl KubeCluster {
    pub fn new(client: Client) -> Self {
        KubeCluster { client }
    }

    /// A client from a kubeconfig document (K3s writes one at /etc/rancher/k3s/k3s.yaml; the
    /// Lambdas read it from Secrets Manager).
    pub async fn from_kubeconfig_yaml(yaml: &str) -> Result<Self> {
        let kubeconfig = Kubeconfig::from_yaml(yaml)
            .map_err(|e| Error::config("K3S_KUBECONFIG_SECRET_ID", format!("not a kubeconfig: {e}")))?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| Error::config("K3S_KUBECONFIG_SECRET_ID", format!("unusable kubeconfig: {e}")))?;
        let client = Client::try_from(config)
            .map_err(|e| Error::config("K3S_KUBECONFIG_SECRET_ID", format!("cannot build a client: {e}")))?;
        Ok(KubeCluster { client })
    }
}

async fn paginate<K>(api: Api<K>, what: &str) -> Result<Vec<K>>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(PAGE);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page: ObjectList<K> = api.list(&params).await.map_err(|e| api_error(&format!("list {what}"), e))?;
        items.extend(page.items);
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(items);
        }
    }
}

/// The HTTP status of an API error, if it was one.
fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

fn api_error(operation: &str, error: kube::Error) -> Error {
    match &error {
        kube::Error::Api(status) if status.code == 429 || status.code >= 500 => {
            Error::unavailable(SERVICE, format!("{operation}: HTTP {}: {}", status.code, status.message))
        }
        kube::Error::Api(status) => {
            Error::rejected(SERVICE, format!("{operation}: HTTP {}: {}", status.code, status.message))
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            Error::unavailable(SERVICE, format!("{operation}: {error}"))
        }
        _ => Error::rejected(SERVICE, format!("{operation}: {error}")),
    }
}

/// One merge patch of a Node; a missing node is `Error::NotFound`.
async fn patch_node(client: &Client, node: &str, patch: &serde_json::Value) -> Result<()> {
    match Api::<K8sNode>::all(client.clone()).patch(node, &PatchParams::default(), &Patch::Merge(patch)).await {
        Ok(_) => Ok(()),
        Err(e) if status_code(&e) == Some(404) => Err(Error::NotFound { what: "node", name: node.into() }),
        Err(e) => Err(api_error(&format!("patch node {node}"), e)),
    }
}

impl Cluster for KubeCluster {
    #[instrument(skip(self))]
    async fn list_nodes(&self) -> Result<Vec<Node>> {
        let nodes: Vec<K8sNode> = paginate(Api::all(self.client.clone()), "nodes").await?;
        Ok(nodes.iter().map(convert::node).collect())
    }

    #[instrument(skip(self))]
    async fn list_pods(&self) -> Result<Vec<Pod>> {
        let pods: Vec<K8sPod> = paginate(Api::all(self.client.clone()), "pods").await?;
        Ok(pods.iter().map(convert::pod).collect())
    }

    #[instrument(skip(self))]
    async fn list_pdbs(&self) -> Result<Vec<Pdb>> {
        let pdbs: Vec<PodDisruptionBudget> = paginate(Api::all(self.client.clone()), "poddisruptionbudgets").await?;
        Ok(pdbs.iter().map(convert::pdb).collect())
    }

    #[instrument(skip(self))]
    async fn cordon(&self, node: &str, by: &str) -> Result<()> {
        let patch = json!({
            "metadata": { "annotations": { CORDONED_BY_ANNOTATION: by } },
            "spec": { "unschedulable": true }
        });
        patch_node(&self.client, node, &patch).await
    }

    #[instrument(skip(self))]
    async fn uncordon(&self, node: &str) -> Result<()> {
        // A JSON merge patch removes a key set to null.
        let patch = json!({
            "metadata": { "annotations": { CORDONED_BY_ANNOTATION: null } },
            "spec": { "unschedulable": false }
        });
        patch_node(&self.client, node, &patch).await
    }

    #[instrument(skip(self))]
    async fn evict(&self, namespace: &str, pod: &str) -> Result<EvictOutcome> {
        match Api::<K8sPod>::namespaced(self.client.clone(), namespace).evict(pod, &EvictParams::default()).await {
            Ok(_) => Ok(EvictOutcome::Evicted),
            Err(kube::Error::Api(status)) if status.code == 429 => {
                Ok(EvictOutcome::Blocked { message: status.message.clone() })
            }
            Err(e) if status_code(&e) == Some(404) => Ok(EvictOutcome::NotFound),
            Err(e) => Err(api_error(&format!("evict {namespace}/{pod}"), e)),
        }
    }

    #[instrument(skip(self))]
    async fn delete_node(&self, node: &str) -> Result<bool> {
        match Api::<K8sNode>::all(self.client.clone()).delete(node, &DeleteParams::default()).await {
            Ok(_) => Ok(true),
            Err(e) if status_code(&e) == Some(404) => Ok(false),
            Err(e) => Err(api_error(&format!("delete node {node}"), e)),
        }
    }
}
