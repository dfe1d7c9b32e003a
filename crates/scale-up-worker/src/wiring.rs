//! Production wiring: the scale-up worker's ports on EC2, K3s, DynamoDB, SQS and SNS.

use aws_config::SdkConfig;
use smartscale_aws::{
    launch_template, DynamoStateStore, Ec2Fleet, SecretsClient, SharedResources, SnsNotifier, SqsWorkQueue,
};
use smartscale_core::config::{self, ConfigSource};
use smartscale_core::ports::{Clock, MetricsSink};
use smartscale_kube::KubeCluster;

use crate::{Deps, Result, ScaleUpConfig};

pub type AwsDeps<C, M> = Deps<Ec2Fleet, KubeCluster, DynamoStateStore, SqsWorkQueue, SnsNotifier, C, M>;

/// Every adapter from configuration, validated at cold start. Besides the shared resources
/// and [`ScaleUpConfig`]'s variables: `LAUNCH_TEMPLATE_ID` or `LAUNCH_TEMPLATE_NAME`, and
/// `K3S_KUBECONFIG_SECRET_ID` (a Secrets Manager secret holding the cluster's kubeconfig).
pub async fn aws_deps<C: Clock, M: MetricsSink>(
    sdk: &SdkConfig,
    source: &dyn ConfigSource,
    clock: C,
    sink: M,
) -> Result<AwsDeps<C, M>> {
    let config = ScaleUpConfig::from_config(source)?;
    let resources = SharedResources::from_config(source)?;
    let template = launch_template(source)?;
    let kubeconfig = SecretsClient::new(sdk).string(&config::required(source, "K3S_KUBECONFIG_SECRET_ID")?).await?;
    Ok(Deps {
        fleet: Ec2Fleet::new(sdk, config.cluster_id.clone(), Some(template)),
        cluster: KubeCluster::from_kubeconfig_yaml(&kubeconfig).await?,
        state: DynamoStateStore::new(sdk, resources.table),
        queue: SqsWorkQueue::new(sdk, resources.scale_up_queue_url, resources.drain_queue_url),
        notifier: SnsNotifier::new(sdk, resources.topic_arn),
        clock,
        sink,
        config,
    })
}
