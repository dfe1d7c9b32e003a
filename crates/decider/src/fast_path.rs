//! The fast path: Alertmanager's `UnschedulablePods` alert, published to the stack's
//! `FastPathTopic` and delivered by SNS, runs the decider at once instead of at the next
//! schedule tick. This module reads and checks that notification; the decision itself is the
//! scheduled run's, unchanged (`handler::handle_fast_path`).
//!
//! The message is the JSON document the `fast-path` receiver in
//! k8s/infrastructure/monitoring/alertmanager/alertmanager.yml renders:
//!
//! ```json
//! {"version": 1, "source": "alertmanager", "status": "firing", "alertname": "UnschedulablePods",
//!  "cluster": "prod", "alerts": [{"status": "firing", "startsAt": "2026-11-23T12:03:15Z", "pods": "3"}]}
//! ```

use aws_lambda_events::event::sns::{SnsEvent, SnsMessage};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Result;

/// The alert the fast path acts on (the rule in k8s/.../prometheus/rules/alerts.yml).
pub const FAST_PATH_ALERT: &str = "UnschedulablePods";

/// The message format this decider reads; Alertmanager's template writes the same number.
pub const FAST_PATH_MESSAGE_VERSION: u32 = 1;

/// Firing or resolved, as Alertmanager says it of the notification's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// One alert of the notification's group (one per cluster: the rule sums over all pods).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertEntry {
    pub status: AlertStatus,
    #[serde(rename = "startsAt")]
    pub starts_at: DateTime<Utc>,
    /// The rule's value when it fired, as Prometheus printed it; for the log only (the decision
    /// reads Prometheus itself).
    #[serde(default)]
    pub pods: Option<String>,
}

/// The document Alertmanager's `fast-path` receiver publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FastPathMessage {
    pub version: u32,
    pub source: String,
    pub status: AlertStatus,
    pub alertname: String,
    pub cluster: String,
    pub alerts: Vec<AlertEntry>,
}

impl FastPathMessage {
    /// Parses the SNS `Message`; an error names the field that is wrong or missing.
    pub fn parse(message: &str) -> Result<Self> {
        // Not JSON at all (Alertmanager's default SNS text, say): the whole Message is wrong.
        let value: serde_json::Value = serde_json::from_str(message).map_err(|e| {
            rejected(
                "Message",
                format!("not JSON (is the fast-path receiver's message template in alertmanager.yml?): {e}"),
            )
        })?;
        let parsed: FastPathMessage = smartscale_core::error::from_json_value(value).map_err(|e| {
            let (field, detail) = match e {
                smartscale_core::Error::Invalid { field, message } if field != "<root>" => {
                    (format!("Message.{field}"), message)
                }
                other => ("Message".to_string(), other.to_string()),
            };
            smartscale_core::Error::rejected_message(
                field,
                format!("not the fast path's JSON document (the fast-path receiver in alertmanager.yml renders it): {detail}"),
            )
        })?;
        if parsed.version != FAST_PATH_MESSAGE_VERSION {
            return Err(rejected(
                "version",
                format!("this decider reads version {FAST_PATH_MESSAGE_VERSION}, got {}", parsed.version),
            ));
        }
        Ok(parsed)
    }

    /// The document Alertmanager sends for one cluster's alert (the simulator's and the tests'
    /// stand-in for the template).
    pub fn new(status: AlertStatus, cluster: &str, starts_at: DateTime<Utc>, pods: Option<u32>) -> Self {
        FastPathMessage {
            version: FAST_PATH_MESSAGE_VERSION,
            source: "alertmanager".into(),
            status,
            alertname: FAST_PATH_ALERT.into(),
            cluster: cluster.into(),
            alerts: vec![AlertEntry { status, starts_at, pods: pods.map(|p| p.to_string()) }],
        }
    }

    /// The event Lambda receives when SNS delivers this message from `topic_arn`.
    pub fn to_sns_event(&self, topic_arn: &str, message_id: &str, at: DateTime<Utc>) -> SnsEvent {
        let message = serde_json::to_string(self).unwrap_or_default();
        let event = serde_json::json!({"Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": format!("{topic_arn}:{message_id}"),
            "Sns": {
                "Type": "Notification",
                "MessageId": message_id,
                "TopicArn": topic_arn,
                "Subject": format!("SmartScale fast path: {FAST_PATH_ALERT} {}", self.status.as_str()),
                "Message": message,
                "Timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "SignatureVersion": "1",
                "Signature": "",
                "SigningCertUrl": "",
                "UnsubscribeUrl": "",
                "MessageAttributes": {},
            },
        }]});
        serde_json::from_value(event).expect("an SNS event has this shape")
    }

    /// When the earliest alert still firing began: the reason the decision gives.
    pub fn firing_since(&self) -> Option<DateTime<Utc>> {
        self.alerts.iter().filter(|a| a.status == AlertStatus::Firing).map(|a| a.starts_at).min()
    }
}

/// A notification that passed every check: from our topic, about our cluster, our alert.
#[derive(Debug, Clone, PartialEq)]
pub struct FastPathAlert {
    pub message_id: String,
    pub status: AlertStatus,
    /// Set when `status` is firing (a firing notification without a firing alert is refused).
    pub firing_since: Option<DateTime<Utc>>,
    pub pods: Option<String>,
}

/// Checks an SNS event the decider was invoked with, in the order a misrouting would show:
/// the fast path is configured, the event is one SNS record from `FAST_PATH_TOPIC_ARN`, its
/// message is the fast path's document, names `cluster_id` and the `UnschedulablePods` alert.
pub fn verify(event: &SnsEvent, topic_arn: Option<&str>, cluster_id: &str) -> Result<FastPathAlert> {
    let Some(topic_arn) = topic_arn else {
        return Err(rejected(
            "TopicArn",
            "the fast path is off (FAST_PATH_TOPIC_ARN is unset), so SNS events are refused".to_string(),
        ));
    };
    let record = match event.records.as_slice() {
        [record] => record,
        records => {
            return Err(rejected("Records", format!("expected exactly one SNS record, got {}", records.len())));
        }
    };
    if record.event_source != "aws:sns" {
        return Err(rejected("EventSource", format!("expected \"aws:sns\", got {:?}", record.event_source)));
    }
    let sns: &SnsMessage = &record.sns;
    if sns.topic_arn != topic_arn {
        return Err(rejected(
            "TopicArn",
            format!("the fast path listens to {topic_arn} (FAST_PATH_TOPIC_ARN) only; got {}", sns.topic_arn),
        ));
    }
    let message = FastPathMessage::parse(&sns.message)?;
    if message.cluster != cluster_id {
        return Err(rejected(
            "cluster",
            format!(
                "the alert is about cluster {:?}, this decider scales {cluster_id:?} (Prometheus' external label `cluster` must equal CLUSTER_ID)",
                message.cluster
            ),
        ));
    }
    if message.alertname != FAST_PATH_ALERT {
        return Err(rejected(
            "alertname",
            format!("the fast path acts on {FAST_PATH_ALERT} only; got {:?}", message.alertname),
        ));
    }
    let firing_since = message.firing_since();
    if message.status == AlertStatus::Firing && firing_since.is_none() {
        return Err(rejected("alerts", "a firing notification with no firing alert".to_string()));
    }
    let pods = message.alerts.iter().find(|a| a.status == AlertStatus::Firing).and_then(|a| a.pods.clone());
    Ok(FastPathAlert { message_id: sns.message_id.clone(), status: message.status, firing_since, pods })
}

fn rejected(field: &str, message: String) -> crate::Error {
    smartscale_core::Error::rejected_message(field, message).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:smartscale-fast-path";

    #[test]
    fn a_built_event_passes_the_checks_the_fixture_passes() {
        let since: DateTime<Utc> = "2026-11-23T11:59:15Z".parse().unwrap();
        let event = FastPathMessage::new(AlertStatus::Firing, "prod", since, Some(3)).to_sns_event(
            TOPIC,
            "m-1",
            since + chrono::Duration::seconds(26),
        );
        let alert = verify(&event, Some(TOPIC), "prod").unwrap();
        assert_eq!(alert.firing_since, Some(since));
        assert_eq!(alert.pods.as_deref(), Some("3"));
        let fixture: SnsEvent =
            serde_json::from_str(include_str!("../../../events/sns-fast-path-firing.json")).unwrap();
        let from_fixture = FastPathMessage::parse(&fixture.records[0].sns.message).unwrap();
        assert_eq!(from_fixture, FastPathMessage::new(AlertStatus::Firing, "prod", since, Some(3)));
    }
}
