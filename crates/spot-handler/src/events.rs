//! EC2 and Health events as they arrive in the wild, parsed tolerantly and routed on
//! `source` + `detail-type` (never on which type happens to deserialize).

use chrono::{DateTime, Utc};
use serde_json::Value;
use smartscale_core::{Error, Result};

/// The envelope fields every EventBridge event has, tolerating the variations seen in real
/// deliveries: `version` missing, `account` a placeholder, odd `id` formats, times in RFC 3339
/// or (Health) RFC 1123.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub id: Option<String>,
    pub source: String,
    pub detail_type: String,
    pub time: Option<DateTime<Utc>>,
    pub detail: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Routed {
    SpotInterruptionWarning {
        instance_id: String,
        instance_action: Option<String>,
    },
    RebalanceRecommendation {
        instance_id: String,
    },
    StateChange {
        instance_id: String,
        state: String,
    },
    ScheduledChange {
        instance_ids: Vec<String>,
        event_type: String,
        start: Option<DateTime<Utc>>,
    },
    /// Acknowledged and logged; nothing to do.
    Ignored {
        why: String,
    },
}

pub const SPOT_WARNING: &str = "EC2 Spot Instance Interruption Warning";
pub const REBALANCE: &str = "EC2 Instance Rebalance Recommendation";
pub const STATE_CHANGE: &str = "EC2 Instance State-change Notification";
pub const HEALTH: &str = "AWS Health Event";
const ACTED_ON_STATES: [&str; 4] = ["stopping", "stopped", "shutting-down", "terminated"];

/// Parses an event. Not JSON, not an object, or no `detail-type`, `source` or `detail` object
/// is malformed: a clear error, and so the DLQ.
pub fn parse(value: &Value) -> Result<Envelope> {
    let obj =
        value.as_object().ok_or_else(|| Error::invalid("<event>", "an EventBridge event must be a JSON object"))?;
    let text = |key: &str| -> Result<String> {
        obj.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::invalid(key, format!("the event has no string `{key}`")))
    };
    let detail = obj
        .get("detail")
        .filter(|d| d.is_object())
        .cloned()
        .ok_or_else(|| Error::invalid("detail", "the event has no `detail` object"))?;
    Ok(Envelope {
        id: obj
            .get("id")
            .and_then(|v| v.as_str().map(str::to_string).or_else(|| (!v.is_null()).then(|| v.to_string())))
            .filter(|s| !s.is_empty()),
        source: text("source")?,
        detail_type: text("detail-type")?,
        time: obj.get("time").and_then(Value::as_str).and_then(parse_time),
        detail,
    })
}

/// RFC 3339 (EventBridge) or RFC 1123 (AWS Health's `startTime`).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc2822(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn instance_id(detail: &Value) -> Result<String> {
    detail
        .get("instance-id")
        .and_then(Value::as_str)
        .filter(|id| id.starts_with("i-"))
        .map(str::to_string)
        .ok_or_else(|| Error::invalid("detail.instance-id", "missing or not an instance id"))
}

pub fn route(event: &Envelope) -> Result<Routed> {
    let d = &event.detail;
    Ok(match (event.source.as_str(), event.detail_type.as_str()) {
        ("aws.ec2", SPOT_WARNING) => Routed::SpotInterruptionWarning {
            instance_id: instance_id(d)?,
            instance_action: d.get("instance-action").and_then(Value::as_str).map(str::to_string),
        },
        ("aws.ec2", REBALANCE) => Routed::RebalanceRecommendation { instance_id: instance_id(d)? },
        ("aws.ec2", STATE_CHANGE) => {
            let state = d
                .get("state")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::invalid("detail.state", "missing"))?
                .to_string();
            if ACTED_ON_STATES.contains(&state.as_str()) {
                Routed::StateChange { instance_id: instance_id(d)?, state }
            } else {
                Routed::Ignored { why: format!("state {state} needs no action") }
            }
        }
        ("aws.health", HEALTH) => {
            let service = d.get("service").and_then(Value::as_str).unwrap_or("");
            let category = d.get("eventTypeCategory").and_then(Value::as_str).unwrap_or("");
            if service != "EC2" || category != "scheduledChange" {
                Routed::Ignored { why: format!("health event for {service}/{category}") }
            } else {
                let instance_ids: Vec<String> = d
                    .get("affectedEntities")
                    .and_then(Value::as_array)
                    .map(|entities| {
                        entities
                            .iter()
                            .filter_map(|e| e.get("entityValue").and_then(Value::as_str))
                            .filter(|v| v.starts_with("i-"))
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                if instance_ids.is_empty() {
                    Routed::Ignored { why: "scheduled change names no instance".into() }
                } else {
                    Routed::ScheduledChange {
                        instance_ids,
                        event_type: d
                            .get("eventTypeCode")
                            .and_then(Value::as_str)
                            .unwrap_or("scheduledChange")
                            .to_string(),
                        start: d.get("startTime").and_then(Value::as_str).and_then(parse_time),
                    }
                }
            }
        }
        (source, detail_type) => Routed::Ignored { why: format!("unhandled event {source} / {detail_type}") },
    })
}
