//! Versioned SQS work messages. Every message is a JSON object with `version` and `kind`;
//! anything with an unknown version or kind is rejected by [`WorkMessage::decode`], never
//! guessed at.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::from_json_value;
use crate::ports::Lifecycle;
use crate::{Error, Result};

pub const WORK_MESSAGE_VERSION: u32 = 1;

/// The decision ids the spot handler gives its drains and replacements begin with this.
pub const SPOT_DECISION_PREFIX: &str = "spot-";

/// Which queue a message travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    ScaleUp,
    Drain,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkMessage {
    ScaleUpRequest(ScaleUpRequest),
    JoinCheck(JoinCheck),
    DrainRequest(DrainRequest),
    DrainCheck(DrainCheck),
}

/// Add `count` nodes. Sent by the decider (and the spot handler, for replacements).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleUpRequest {
    pub decision_id: String,
    pub cluster_id: String,
    /// The lock token to release when the work is done; `None` when no lock was taken.
    pub lock_token: Option<String>,
    pub count: u32,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    /// (instance type, AZ) offerings to avoid, e.g. one that was just interrupted.
    #[serde(default)]
    pub avoid: Vec<Offering>,
    /// The instance this launch replaces (about to be reclaimed): planned as if it were gone, so
    /// a replacement for an On-Demand floor node is On-Demand.
    #[serde(default)]
    pub replaces: Option<String>,
}

/// Is the launched instance a Ready node yet? Re-enqueued with a delay until the deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinCheck {
    pub decision_id: String,
    pub cluster_id: String,
    pub lock_token: Option<String>,
    pub instance_ids: Vec<String>,
    pub launched_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub attempt: u32,
}

/// Remove one node (the drain worker picks it unless `node` names one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrainRequest {
    pub decision_id: String,
    pub cluster_id: String,
    pub lock_token: Option<String>,
    #[serde(default)]
    pub node: Option<String>,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    /// Overrides the default drain timeout (the spot handler's 90 s).
    #[serde(default)]
    pub deadline: Option<DateTime<Utc>>,
    /// EC2 reclaims the instance at the deadline (a Spot interruption): a drain that runs out of
    /// time leaves the node cordoned instead of putting it back in service.
    #[serde(default)]
    pub spot_reclaim: bool,
}

/// Have the evictions on `node` finished? Re-enqueued with a delay until the deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrainCheck {
    pub decision_id: String,
    pub cluster_id: String,
    pub lock_token: Option<String>,
    pub node: String,
    /// The node's EC2 instance, resolved when the drain started.
    #[serde(default)]
    pub instance_id: Option<String>,
    pub reason: String,
    pub started_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub attempt: u32,
    #[serde(default)]
    pub spot_reclaim: bool,
}

/// An EC2 capacity pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offering {
    pub instance_type: String,
    pub availability_zone: String,
    pub lifecycle: Lifecycle,
}

impl WorkMessage {
    pub const KINDS: &'static [&'static str] = &["scale_up_request", "join_check", "drain_request", "drain_check"];

    pub fn kind(&self) -> &'static str {
        match self {
            WorkMessage::ScaleUpRequest(_) => "scale_up_request",
            WorkMessage::JoinCheck(_) => "join_check",
            WorkMessage::DrainRequest(_) => "drain_request",
            WorkMessage::DrainCheck(_) => "drain_check",
        }
    }

    pub fn queue(&self) -> QueueName {
        match self {
            WorkMessage::ScaleUpRequest(_) | WorkMessage::JoinCheck(_) => QueueName::ScaleUp,
            WorkMessage::DrainRequest(_) | WorkMessage::DrainCheck(_) => QueueName::Drain,
        }
    }

    pub fn decision_id(&self) -> &str {
        match self {
            WorkMessage::ScaleUpRequest(m) => &m.decision_id,
            WorkMessage::JoinCheck(m) => &m.decision_id,
            WorkMessage::DrainRequest(m) => &m.decision_id,
            WorkMessage::DrainCheck(m) => &m.decision_id,
        }
    }

    /// The cluster the sender addressed; a worker acts only on its own.
    pub fn cluster_id(&self) -> &str {
        match self {
            WorkMessage::ScaleUpRequest(m) => &m.cluster_id,
            WorkMessage::JoinCheck(m) => &m.cluster_id,
            WorkMessage::DrainRequest(m) => &m.cluster_id,
            WorkMessage::DrainCheck(m) => &m.cluster_id,
        }
    }

    /// The lock the message's work holds, if the sender took one.
    pub fn lock_token(&self) -> Option<&str> {
        match self {
            WorkMessage::ScaleUpRequest(m) => m.lock_token.as_deref(),
            WorkMessage::JoinCheck(m) => m.lock_token.as_deref(),
            WorkMessage::DrainRequest(m) => m.lock_token.as_deref(),
            WorkMessage::DrainCheck(m) => m.lock_token.as_deref(),
        }
    }

    pub fn encode(&self) -> String {
        encode_versioned(self, WORK_MESSAGE_VERSION)
    }

    pub fn decode(text: &str) -> Result<Self> {
        let (kind, body) = split_versioned(text, "work message", WORK_MESSAGE_VERSION, Self::KINDS)?;
        // Deserialize the variant's struct directly (not through the tagged enum, which buffers
        // the input and loses the path), so errors name the field.
        Ok(match kind.as_str() {
            "scale_up_request" => WorkMessage::ScaleUpRequest(from_json_value(body)?),
            "join_check" => WorkMessage::JoinCheck(from_json_value(body)?),
            "drain_request" => WorkMessage::DrainRequest(from_json_value(body)?),
            _ => WorkMessage::DrainCheck(from_json_value(body)?),
        })
    }
}

/// Serializes `value` (an internally tagged enum or a struct with a tagged flattened enum)
/// with a `version` field added.
pub(crate) fn encode_versioned<T: Serialize>(value: &T, version: u32) -> String {
    let mut json = serde_json::to_value(value).expect("message types serialize to JSON objects");
    if let Some(obj) = json.as_object_mut() {
        obj.insert("version".into(), version.into());
    }
    json.to_string()
}

/// Parses a versioned, kinded JSON object; rejects other versions and kinds by name.
pub(crate) fn decode_versioned<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &'static str,
    version: u32,
    kinds: &[&str],
) -> Result<T> {
    let (kind, mut body) = split_versioned(text, what, version, kinds)?;
    if let Some(obj) = body.as_object_mut() {
        obj.insert("kind".into(), kind.into());
    }
    from_json_value(body)
}

/// Checks `version` and `kind` and returns the kind and the object without either.
fn split_versioned(
    text: &str,
    what: &'static str,
    version: u32,
    kinds: &[&str],
) -> Result<(String, serde_json::Value)> {
    let mut json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::invalid("<body>", format!("{what} is not JSON: {e}")))?;
    let obj = json.as_object_mut().ok_or_else(|| Error::invalid("<body>", format!("{what} must be a JSON object")))?;
    match obj.remove("version") {
        None => return Err(Error::invalid("version", format!("{what} has no `version` field"))),
        Some(v) if v.as_u64() == Some(u64::from(version)) => {}
        Some(v) => return Err(Error::UnsupportedVersion { what, found: v.to_string(), supported: version }),
    }
    match obj.get("kind").map(|k| k.as_str()) {
        None => return Err(Error::invalid("kind", format!("{what} has no `kind` field"))),
        Some(None) => return Err(Error::invalid("kind", format!("{what} `kind` must be a string"))),
        Some(Some(kind)) if !kinds.contains(&kind) => return Err(Error::UnknownKind { what, kind: kind.to_string() }),
        Some(Some(_)) => {}
    }
    let kind = obj.remove("kind").and_then(|k| k.as_str().map(str::to_string)).unwrap_or_default();
    Ok((kind, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain() -> WorkMessage {
        WorkMessage::DrainRequest(DrainRequest {
            decision_id: "d-1".into(),
            cluster_id: "prod".into(),
            lock_token: Some("tok".into()),
            node: None,
            reason: "cpu 12.0% < 30% for 10m00s".into(),
            requested_at: "2026-11-23T10:00:00Z".parse().unwrap(),
            deadline: None,
            spot_reclaim: false,
        })
    }

    #[test]
    fn round_trips_with_version_and_kind() {
        let text = drain().encode();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["kind"], "drain_request");
        assert_eq!(WorkMessage::decode(&text).unwrap(), drain());
        assert_eq!(drain().queue(), QueueName::Drain);
    }

    #[test]
    fn rejects_unknown_versions_and_kinds_clearly() {
        let mut json: serde_json::Value = serde_json::from_str(&drain().encode()).unwrap();
        json["version"] = 2.into();
        let err = WorkMessage::decode(&json.to_string()).unwrap_err();
        assert!(matches!(err, Error::UnsupportedVersion { ref found, .. } if found == "2"), "{err}");

        json["version"] = 1.into();
        json["kind"] = "reboot_everything".into();
        let err = WorkMessage::decode(&json.to_string()).unwrap_err();
        assert!(matches!(err, Error::UnknownKind { ref kind, .. } if kind == "reboot_everything"), "{err}");

        let err = WorkMessage::decode(r#"{"kind":"drain_request"}"#).unwrap_err();
        assert!(matches!(err, Error::Invalid { ref field, .. } if field == "version"), "{err}");
        assert!(matches!(WorkMessage::decode("not json").unwrap_err(), Error::Invalid { .. }));
    }

    #[test]
    fn names_the_bad_field() {
        let mut json: serde_json::Value = serde_json::from_str(&drain().encode()).unwrap();
        json["requested_at"] = "yesterday".into();
        let err = WorkMessage::decode(&json.to_string()).unwrap_err();
        assert!(matches!(err, Error::Invalid { ref field, .. } if field.contains("requested_at")), "{err}");
    }
}
