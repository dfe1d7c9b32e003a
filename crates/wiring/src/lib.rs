//! The adapters every worker Lambda (scale-up, drain, spot) is wired to in production, built
//! from configuration and validated at cold start: EC2, the K3s API (kubeconfig from Secrets
//! Manager), the DynamoDB state table, the SQS work queues and the SNS topic.

use aws_config::SdkConfig;
use smartscale_aws::{
    DynamoStateStore, Ec2Fleet, LaunchTemplate, SecretsClient, SharedResources, SnsNotifier, SqsWorkQueue,
};
use smartscale_core::config::{self, ConfigSource};
use smartscale_core::ports::{Clock, MetricsSink};
use smartscale_core::Result;
use smartscale_kube::KubeCluster;
use smartscale_lambda::WorkerDeps;

pub type AwsWorkerDeps<Cfg, C, M> =
    WorkerDeps<Cfg, Ec2Fleet, KubeCluster, DynamoStateStore, SqsWorkQueue, SnsNotifier, C, M>;

/// Builds a worker's ports: the shared resources (`DYNAMODB_TABLE`, `SCALE_UP_QUEUE_URL`,
/// `DRAIN_QUEUE_URL`, `SNS_TOPIC_ARN`) and `K3S_KUBECONFIG_SECRET_ID`, around the worker's own
/// already validated `config`.
pub async fn worker_deps<Cfg, C: Clock, M: MetricsSink>(
    sdk: &SdkConfig,
    source: &dyn ConfigSource,
    config: Cfg,
    cluster_id: &str,
    launch_template: Option<LaunchTemplate>,
    clock: C,
    sink: M,
) -> Result<AwsWorkerDeps<Cfg, C, M>> {
    let resources = SharedResources::from_config(source)?;
    let kubeconfig = SecretsClient::new(sdk).string(&config::required(source, "K3S_KUBECONFIG_SECRET_ID")?).await?;
    Ok(WorkerDeps {
        fleet: Ec2Fleet::new(sdk, cluster_id, launch_template),
        cluster: KubeCluster::from_kubeconfig_yaml(&kubeconfig).await?,
        state: DynamoStateStore::new(sdk, resources.table),
        queue: SqsWorkQueue::new(sdk, resources.scale_up_queue_url, resources.drain_queue_url),
        notifier: SnsNotifier::new(sdk, resources.topic_arn),
        clock,
        sink,
        config,
    })
}
