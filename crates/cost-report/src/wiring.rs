//! Production wiring: the ledger in DynamoDB, the fleet from EC2, CPU from Prometheus, and the
//! report published to the notifications topic.

use aws_config::SdkConfig;
use aws_sdk_sns::types::MessageAttributeValue;
use smartscale_aws::{sdk_error, DynamoStateStore, Ec2Fleet};
use smartscale_core::config::{self, ConfigSource};
use smartscale_core::cost_report::{CostReport, REPORT_KIND};
use smartscale_core::ports::Clock;
use smartscale_core::{Error, Result as CoreResult};
use smartscale_prometheus::{BasicAuth, PrometheusConfig, PrometheusSource};

use crate::{CostReportConfig, Deps, ReportPublisher, Result};

pub type AwsDeps<C> = Deps<DynamoStateStore, Ec2Fleet, PrometheusSource, SnsReportPublisher, C>;

/// Publishes the report's exact JSON to the topic, with the `kind`, `severity` and
/// `cluster_id` attributes every notification carries, for subscription filters.
#[derive(Debug, Clone)]
pub struct SnsReportPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsReportPublisher {
    pub fn new(sdk: &SdkConfig, topic_arn: impl Into<String>) -> Self {
        SnsReportPublisher { client: aws_sdk_sns::Client::new(sdk), topic_arn: topic_arn.into() }
    }
}

fn attribute(value: &str) -> CoreResult<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| Error::rejected("sns", format!("message attribute: {e}")))
}

impl ReportPublisher for SnsReportPublisher {
    async fn publish(&self, report: &CostReport) -> CoreResult<()> {
        let body = serde_json::to_string(report).map_err(|e| Error::invalid("cost report", e.to_string()))?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(format!("SmartScale weekly cost report: {}", report.cluster_id))
            .message(body)
            .message_attributes("kind", attribute(REPORT_KIND)?)
            .message_attributes("severity", attribute("info")?)
            .message_attributes("cluster_id", attribute(&report.cluster_id)?)
            .send()
            .await
            .map_err(|e| sdk_error("sns", "Publish", e))?;
        Ok(())
    }
}

/// `CLUSTER_ID`, `DYNAMODB_TABLE`, `SNS_TOPIC_ARN`, `PROMETHEUS_URL` (and optional
/// `PROMETHEUS_AUTH_SECRET_ID`, as the decider), plus [`CostReportConfig::from_config`]'s.
pub async fn aws_deps<C: Clock>(sdk: &SdkConfig, source: &dyn ConfigSource, clock: C) -> Result<AwsDeps<C>> {
    let config = CostReportConfig::from_config(source)?;
    let table = config::required(source, "DYNAMODB_TABLE")?;
    let topic_arn = config::required(source, "SNS_TOPIC_ARN")?;
    let prometheus = PrometheusConfig::from_config(source)?;
    let auth = smartscale_aws::prometheus_basic_auth(sdk, source)
        .await?
        .map(|(username, password)| BasicAuth { username, password });
    Ok(Deps {
        state: DynamoStateStore::new(sdk, table),
        fleet: Ec2Fleet::new(sdk, config.cluster_id.clone(), None),
        metrics: PrometheusSource::new(prometheus, auth)?,
        publisher: SnsReportPublisher::new(sdk, topic_arn),
        clock,
        config,
    })
}
