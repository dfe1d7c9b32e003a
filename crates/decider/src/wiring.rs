//! Production wiring: the decider's ports on DynamoDB, EC2, SQS, SNS and Prometheus.

use aws_config::SdkConfig;
use smartscale_aws::{DynamoStateStore, Ec2Fleet, SharedResources, SnsNotifier, SqsWorkQueue};
use smartscale_core::config::ConfigSource;
use smartscale_core::ports::{Clock, MetricsSink};
use smartscale_prometheus::{BasicAuth, PrometheusConfig, PrometheusSource};

use crate::{DeciderConfig, Deps, Result};

pub type AwsDeps<C, K> = Deps<DynamoStateStore, PrometheusSource, Ec2Fleet, SqsWorkQueue, SnsNotifier, C, K>;

/// Builds every adapter from configuration, validating it all up front so that a bad
/// deployment fails at cold start with the variable's name, not on the first tick.
///
/// Variables: `CLUSTER_ID`, `DYNAMODB_TABLE`, `SCALE_UP_QUEUE_URL`, `DRAIN_QUEUE_URL`,
/// `SNS_TOPIC_ARN`, `PROMETHEUS_URL`, optional `PROMETHEUS_AUTH_SECRET_ID` (a Secrets Manager
/// secret `{"username": …, "password": …}`), plus the policy and query variables.
pub async fn aws_deps<C: Clock, K: MetricsSink>(
    sdk: &SdkConfig,
    source: &dyn ConfigSource,
    clock: C,
    sink: K,
) -> Result<AwsDeps<C, K>> {
    let config = DeciderConfig::from_config(source)?;
    let resources = SharedResources::from_config(source)?;
    let prometheus = PrometheusConfig::from_config(source)?;
    let auth = smartscale_aws::prometheus_basic_auth(sdk, source)
        .await?
        .map(|(username, password)| BasicAuth { username, password });
    Ok(Deps {
        state: DynamoStateStore::new(sdk, resources.table),
        metrics: PrometheusSource::new(prometheus, auth)?,
        fleet: Ec2Fleet::new(sdk, config.cluster_id.clone(), None),
        queue: SqsWorkQueue::new(sdk, resources.scale_up_queue_url, resources.drain_queue_url),
        notifier: SnsNotifier::new(sdk, resources.topic_arn),
        clock,
        sink,
        config,
    })
}
