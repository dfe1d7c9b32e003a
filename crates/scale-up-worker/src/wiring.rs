//! Production wiring: the shared worker adapters plus the launch template.

use aws_config::SdkConfig;
use smartscale_core::config::ConfigSource;
use smartscale_core::ports::{Clock, MetricsSink};
use smartscale_wiring::{worker_deps, AwsWorkerDeps};

use crate::{Result, ScaleUpConfig};

/// [`ScaleUpConfig`]'s variables, `LAUNCH_TEMPLATE_ID` or `LAUNCH_TEMPLATE_NAME`, and the shared
/// worker variables, validated at cold start.
pub async fn aws_deps<C: Clock, M: MetricsSink>(
    sdk: &SdkConfig,
    source: &dyn ConfigSource,
    clock: C,
    sink: M,
) -> Result<AwsWorkerDeps<ScaleUpConfig, C, M>> {
    let config = ScaleUpConfig::from_config(source)?;
    let template = smartscale_aws::launch_template(source)?;
    let cluster_id = config.cluster_id.clone();
    Ok(worker_deps(sdk, source, config, &cluster_id, Some(template), clock, sink).await?)
}
