//! Production wiring: the spot handler's ports on K3s, EC2, DynamoDB, SQS and SNS.

use aws_config::SdkConfig;
use smartscale_aws::{DynamoStateStore, Ec2Fleet, SecretsClient, SharedResources, SnsNotifier, SqsWorkQueue};
use smartscale_core::config::{self, ConfigSource};
use smartscale_core::ports::{Clock, MetricsSink};
use smartscale_kube::KubeCluster;

use crate::{Deps, SpotConfig, Result};

pub type AwsDeps<C, M> = Deps<Ec2Fleet, KubeCluster, DynamoStateStore, SqsWorkQueue, SnsNotifier, C, M>;

/// Every adapter from configuration, validated at cold start: the shared resources,
/// [`SpotConfig`]'s variables and `K3S_KUBECONFIG_SECRET_ID`.
pub async fn aws_deps<C: Clock, M: MetricsSink>(
    sdk: &SdkConfig,
    source: &dyn ConfigSource,
    clock: C,
    sink: M,
) -> Result<AwsDeps<C, M>> {
    let config = SpotConfig::from_config(source)?;
    let resources = SharedResources::from_config(source)?;
    let kubeconfig = SecretsClient::new(sdk).string(&config::required(source, "K3S_KUBECONFIG_SECRET_ID")?).await?;
    Ok(Deps {
        fleet: Ec2Fleet::new(sdk, config.cluster_id.clone(), None),
        cluster: KubeCluster::from_kubeconfig_yaml(&kubeconfig).await?,
        state: DynamoStateStore::new(sdk, resources.table),
        queue: SqsWorkQueue::new(sdk, resources.scale_up_queue_url, resources.drain_queue_url),
        notifier: SnsNotifier::new(sdk, resources.topic_arn),
        clock,
        sink,
        config,
    })
}
