use lambda_runtime::service_fn;
use smartscale_core::config::EnvConfig;
use smartscale_core::ports::{StdoutMetricsSink, SystemClock};
use smartscale_decider::{handle_event, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = smartscale_aws::load_sdk_config().await;
    let deps = wiring::aws_deps(&sdk, &EnvConfig, SystemClock, StdoutMetricsSink).await?;
    lambda_runtime::run(service_fn(|event| handle_event(event, &deps))).await
}
