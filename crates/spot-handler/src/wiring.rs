//! Production wiring: the shared worker adapters.

use aws_config::SdkConfig;
use smartscale_core::config::ConfigSource;
use smartscale_core::ports::{Clock, MetricsSink};
use smartscale_wiring::{worker_deps, AwsWorkerDeps};

use crate::{Result, SpotConfig};

/// [`SpotConfig`]'s variables and the shared worker variables, validated at cold start.
pub async fn aws_deps<C: Clock, M: MetricsSink>(
    sdk: &SdkConfig,
    source: &dyn ConfigSource,
    clock: C,
    sink: M,
) -> Result<AwsWorkerDeps<SpotConfig, C, M>> {
    let config = SpotConfig::from_config(source)?;
    let cluster_id = config.cluster_id.clone();
    Ok(worker_deps(sdk, source, config, &cluster_id, None, clock, sink).await?)
}
