use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sns::SnsEvent;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use smartscale_core::cost_report;
use smartscale_core::notification::Notification;
use smartscale_core::slack::{alarm_message, notification_message, AlarmMessage, Links};
use smartscale_core::Error;
use tracing::{info, instrument};

use crate::{ForwarderConfig, Result};

/// Where Block Kit messages go: the webhook in production, a recorder in tests.
pub trait SlackSink: Send + Sync {
    fn post(&self, message: &Value) -> impl Future<Output = smartscale_core::Result<()>> + Send;
}

/// A sink that keeps what it is given.
#[derive(Debug, Clone, Default)]
pub struct RecordingSlack(Arc<Mutex<Vec<Value>>>);

impl RecordingSlack {
    pub fn messages(&self) -> Vec<Value> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl SlackSink for RecordingSlack {
    async fn post(&self, message: &Value) -> smartscale_core::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(message.clone());
        Ok(())
    }
}

#[derive(Debug)]
pub struct Deps<K> {
    pub config: ForwarderConfig,
    pub slack: K,
}

/// The Block Kit message for one SNS message: a CloudWatch alarm (it has `AlarmName`), the
/// weekly cost report (`kind` `cost_report`) or one of our versioned notifications. Anything
/// else is an error naming what is wrong.
pub fn message_for(text: &str, links: &Links) -> smartscale_core::Result<Value> {
    let json: Value =
        serde_json::from_str(text).map_err(|e| Error::invalid("Sns.Message", format!("not JSON: {e}")))?;
    if json.get("AlarmName").is_some() {
        let alarm: AlarmMessage = smartscale_core::error::from_json_value(json)?;
        return Ok(alarm_message(&alarm, links));
    }
    if json.get("kind").and_then(Value::as_str) == Some(cost_report::REPORT_KIND) {
        let report: cost_report::CostReport = smartscale_core::error::from_json_value(json)?;
        return Ok(cost_report::slack_message(&report, links));
    }
    let notification = Notification::decode(text)?;
    Ok(notification_message(&notification, links))
}

/// Posts every record; the first that cannot be delivered fails the invocation (SNS delivers
/// one record per invocation, so its retry policy and DLQ then apply to exactly that message).
#[instrument(skip_all, fields(records = event.payload.records.len()))]
pub async fn handle<K: SlackSink>(event: LambdaEvent<SnsEvent>, deps: &Deps<K>) -> Result<()> {
    for record in &event.payload.records {
        let message = message_for(&record.sns.message, &deps.config.links)?;
        deps.slack.post(&message).await?;
        info!(sns_message_id = %record.sns.message_id, text = message["text"].as_str().unwrap_or(""), "posted to Slack");
    }
    Ok(())
}
