use aws_config::SdkConfig;
use aws_sdk_sns::types::MessageAttributeValue;
use smartscale_core::notification::Notification;
use smartscale_core::ports::Notifier;
use smartscale_core::{Error, Result};
use tracing::instrument;

use crate::sdk_error;

/// Publishes notifications to one SNS topic, with `kind`, `severity` and `cluster_id` message
/// attributes for subscription filters.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(config: &SdkConfig, topic_arn: impl Into<String>) -> Self {
        SnsNotifier { client: aws_sdk_sns::Client::new(config), topic_arn: topic_arn.into() }
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| Error::rejected("sns", format!("message attribute: {e}")))
}

impl Notifier for SnsNotifier {
    #[instrument(skip(self, notification), fields(kind = notification.event.kind()))]
    async fn publish(&self, notification: &Notification) -> Result<()> {
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(notification.encode())
            .message_attributes("kind", attribute(notification.event.kind())?)
            .message_attributes("severity", attribute(notification.event.severity().as_str())?)
            .message_attributes("cluster_id", attribute(&notification.cluster_id)?)
            .send()
            .await
            .map_err(|e| sdk_error("sns", "Publish", e))?;
        Ok(())
    }
}
