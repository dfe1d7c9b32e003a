//! AWS adapters for SmartScale's ports: the DynamoDB state store and lock, the SQS work queue,
//! the SNS notifier, the EC2 fleet, and Secrets Manager look-ups.
//!
//! Every SDK error is mapped onto the core's [`Error`]: transport failures, throttling and
//! 5xx answers are `Unavailable` (the SDK has already retried them with its standard policy),
//! anything else the service refused is `Rejected`, with the service's error code.

mod dynamo;
mod ec2;
mod secrets;
mod settings;
mod sns;
mod sqs;

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use smartscale_core::Error;

pub use dynamo::DynamoStateStore;
pub use ec2::{Ec2Fleet, LaunchTemplate};
pub use secrets::{prometheus_basic_auth, SecretsClient};
pub use settings::{launch_template, SharedResources};
pub use sns::SnsNotifier;
pub use sqs::SqsWorkQueue;

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(15))
        .build()
}

/// The SDK configuration from the Lambda environment (region, credentials, and
/// `AWS_ENDPOINT_URL` when set), with bounded timeouts.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts()).load().await
}

/// A configuration for a local stand-in (moto_server): fixed region and dummy credentials.
pub async fn local_sdk_config(endpoint_url: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint_url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "smartscale-local"))
        .timeout_config(timeouts())
        .load()
        .await
}

/// Maps an SDK error onto the core's error, naming the service and operation.
pub fn sdk_error<E, R>(service: &str, operation: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let what = format!("{service} {operation}");
    match &err {
        SdkError::ServiceError(service_err) => {
            let code = service_err.err().code().unwrap_or("Unknown").to_string();
            let message = service_err.err().message().unwrap_or("").to_string();
            let detail = format!("{operation}: {code}: {message}");
            if is_transient_code(&code) {
                Error::unavailable(service, detail)
            } else {
                Error::rejected(service, detail)
            }
        }
        SdkError::ConstructionFailure(_) => Error::rejected(service, format!("{what}: {}", DisplayErrorContext(&err))),
        _ => Error::unavailable(service, format!("{operation}: {}", DisplayErrorContext(&err))),
    }
}

/// The SDK error's code, for callers that treat some codes as outcomes.
pub(crate) fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(service_err) => service_err.err().code(),
        _ => None,
    }
}

fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException"
            | "Throttling"
            | "RequestLimitExceeded"
            | "ProvisionedThroughputExceededException"
            | "RequestThrottled"
            | "ServiceUnavailable"
            | "InternalServerError"
            | "InternalError"
            | "InternalFailure"
    )
}
