use lambda_runtime::service_fn;
use smartscale_core::config::EnvConfig;
use smartscale_core::ports::SystemClock;
use smartscale_cost_report::{handle, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = smartscale_aws::load_sdk_config().await;
    let deps = wiring::aws_deps(&sdk, &EnvConfig, SystemClock).await?;
    lambda_runtime::run(service_fn(|event| handle(event, &deps))).await
}
