use aws_config::SdkConfig;
use aws_sdk_sqs::types::MessageAttributeValue;
use smartscale_core::messages::{QueueName, WorkMessage};
use smartscale_core::ports::WorkQueue;
use smartscale_core::{Error, Result};
use tracing::instrument;

use crate::sdk_error;

/// SQS's longest delivery delay.
pub const MAX_DELAY_S: u32 = 900;

/// Sends work messages to the scale-up and drain queues, as versioned JSON with `kind` and
/// `decision_id` message attributes.
#[derive(Debug, Clone)]
pub struct SqsWorkQueue {
    client: aws_sdk_sqs::Client,
    scale_up_url: String,
    drain_url: String,
}

impl SqsWorkQueue {
    pub fn new(config: &SdkConfig, scale_up_url: impl Into<String>, drain_url: impl Into<String>) -> Self {
        SqsWorkQueue {
            client: aws_sdk_sqs::Client::new(config),
            scale_up_url: scale_up_url.into(),
            drain_url: drain_url.into(),
        }
    }

    fn url(&self, queue: QueueName) -> &str {
        match queue {
            QueueName::ScaleUp => &self.scale_up_url,
            QueueName::Drain => &self.drain_url,
        }
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| Error::rejected("sqs", format!("message attribute: {e}")))
}

impl WorkQueue for SqsWorkQueue {
    #[instrument(skip(self, message), fields(kind = message.kind(), decision_id = message.decision_id()))]
    async fn send(&self, message: &WorkMessage, delay_s: u32) -> Result<()> {
        if delay_s > MAX_DELAY_S {
            return Err(Error::invalid("delay_s", format!("SQS delays are at most {MAX_DELAY_S} s, got {delay_s}")));
        }
        self.client
            .send_message()
            .queue_url(self.url(message.queue()))
            .message_body(message.encode())
            .delay_seconds(delay_s as i32)
            .message_attributes("kind", attribute(message.kind())?)
            .message_attributes("decision_id", attribute(message.decision_id())?)
            .send()
            .await
            .map_err(|e| sdk_error("sqs", "SendMessage", e))?;
        Ok(())
    }
}
