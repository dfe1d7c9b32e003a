//! SNS notifications: one versioned JSON shape per event kind. The Slack forwarder, and any
//! other subscriber, filters on the `kind` and `severity` message attributes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::messages::{decode_versioned, encode_versioned};
use crate::ports::Lifecycle;
use crate::Result;

pub const NOTIFICATION_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub cluster_id: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: NotificationEvent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotificationEvent {
    ScaleUpStarted {
        decision_id: String,
        from_nodes: u32,
        to_nodes: u32,
        reasons: Vec<String>,
    },
    ScaleUpCompleted {
        decision_id: String,
        instances: Vec<InstanceSummary>,
        new_total: u32,
    },
    ScaleDownStarted {
        decision_id: String,
        from_nodes: u32,
        to_nodes: u32,
        reasons: Vec<String>,
    },
    ScaleDownCompleted {
        decision_id: String,
        node: String,
        instance_id: String,
        reason: String,
        new_total: u32,
    },
    /// Spot capacity was not to be had; the worker launched On-Demand instead.
    CapacityFallback {
        decision_id: String,
        wanted: String,
        launched: String,
        reason: String,
    },
    ScalingFailure {
        decision_id: Option<String>,
        error_type: FailureType,
        message: String,
        recommendation: Option<String>,
    },
    AtMaxCapacity {
        node_count: u32,
        max_nodes: u32,
        reasons: Vec<String>,
    },
    SpotInterruption {
        instance_id: String,
        node: Option<String>,
        event: String,
        action: String,
    },
    /// Prometheus answers but signals the decider needs have no data: it cannot scale on them.
    SignalsMissing {
        signals: Vec<String>,
        detail: String,
    },
    /// Pods wait that no new node could host (their requests exceed a new node's allocatable):
    /// SmartScale adds no node for them.
    UnhostablePods {
        pods: u32,
        new_node_cpu_millis: u32,
        new_node_memory_mib: u32,
    },
    /// A condition a person was told of is over (e.g. Prometheus reachable again).
    Recovered {
        what: String,
        message: String,
    },
    /// A scale-down was wanted but no node could go safely; SmartScale looks again later.
    NoRemovableNode {
        reasons: Vec<String>,
        look_again_at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceSummary {
    pub instance_id: String,
    pub availability_zone: String,
    pub instance_type: String,
    pub lifecycle: Lifecycle,
}

/// The spec's `ScalingFailures{ErrorType}` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureType {
    LockTimeout,
    #[serde(rename = "EC2QuotaExceeded")]
    Ec2QuotaExceeded,
    DrainFailed,
    DrainTimeout,
    NodeJoinTimeout,
    PrometheusUnavailable,
    LaunchFailed,
    /// A message the world did not bear out was refused (see `Error::RejectedMessage`).
    RejectedMessage,
    /// A failure no retry will fix by itself: a bad launch template, missing permissions, a
    /// Kubernetes API that refuses our credentials.
    Misconfigured,
}

impl FailureType {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureType::LockTimeout => "LockTimeout",
            FailureType::Ec2QuotaExceeded => "EC2QuotaExceeded",
            FailureType::DrainFailed => "DrainFailed",
            FailureType::DrainTimeout => "DrainTimeout",
            FailureType::NodeJoinTimeout => "NodeJoinTimeout",
            FailureType::PrometheusUnavailable => "PrometheusUnavailable",
            FailureType::LaunchFailed => "LaunchFailed",
            FailureType::RejectedMessage => "RejectedMessage",
            FailureType::Misconfigured => "Misconfigured",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl NotificationEvent {
    pub const KINDS: &'static [&'static str] = &[
        "scale_up_started",
        "scale_up_completed",
        "scale_down_started",
        "scale_down_completed",
        "capacity_fallback",
        "scaling_failure",
        "at_max_capacity",
        "spot_interruption",
        "recovered",
        "no_removable_node",
        "signals_missing",
        "unhostable_pods",
    ];

    pub fn kind(&self) -> &'static str {
        match self {
            NotificationEvent::ScaleUpStarted { .. } => "scale_up_started",
            NotificationEvent::ScaleUpCompleted { .. } => "scale_up_completed",
            NotificationEvent::ScaleDownStarted { .. } => "scale_down_started",
            NotificationEvent::ScaleDownCompleted { .. } => "scale_down_completed",
            NotificationEvent::CapacityFallback { .. } => "capacity_fallback",
            NotificationEvent::ScalingFailure { .. } => "scaling_failure",
            NotificationEvent::AtMaxCapacity { .. } => "at_max_capacity",
            NotificationEvent::SpotInterruption { .. } => "spot_interruption",
            NotificationEvent::Recovered { .. } => "recovered",
            NotificationEvent::NoRemovableNode { .. } => "no_removable_node",
            NotificationEvent::SignalsMissing { .. } => "signals_missing",
            NotificationEvent::UnhostablePods { .. } => "unhostable_pods",
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            NotificationEvent::ScaleUpStarted { .. }
            | NotificationEvent::ScaleUpCompleted { .. }
            | NotificationEvent::ScaleDownStarted { .. }
            | NotificationEvent::ScaleDownCompleted { .. }
            | NotificationEvent::Recovered { .. }
            | NotificationEvent::NoRemovableNode { .. } => Severity::Info,
            NotificationEvent::CapacityFallback { .. }
            | NotificationEvent::AtMaxCapacity { .. }
            | NotificationEvent::SpotInterruption { .. }
            | NotificationEvent::SignalsMissing { .. }
            | NotificationEvent::UnhostablePods { .. } => Severity::Warning,
            NotificationEvent::ScalingFailure { .. } => Severity::Critical,
        }
    }
}

impl Notification {
    pub fn new(cluster_id: impl Into<String>, at: DateTime<Utc>, event: NotificationEvent) -> Self {
        Notification { cluster_id: cluster_id.into(), at, event }
    }

    pub fn encode(&self) -> String {
        encode_versioned(self, NOTIFICATION_VERSION)
    }

    pub fn decode(text: &str) -> Result<Self> {
        decode_versioned(text, "notification", NOTIFICATION_VERSION, NotificationEvent::KINDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn round_trips_and_carries_kind_and_error_type() {
        let n = Notification::new(
            "prod",
            "2026-11-23T10:00:00Z".parse().unwrap(),
            NotificationEvent::ScalingFailure {
                decision_id: Some("d-1".into()),
                error_type: FailureType::Ec2QuotaExceeded,
                message: "VcpuLimitExceeded".into(),
                recommendation: Some("request a quota increase or enable Spot".into()),
            },
        );
        let text = n.encode();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["kind"], "scaling_failure");
        assert_eq!(json["error_type"], "EC2QuotaExceeded");
        assert_eq!(json["version"], 1);
        assert_eq!(Notification::decode(&text).unwrap(), n);
        assert_eq!(n.event.severity(), Severity::Critical);
    }

    #[test]
    fn rejects_unknown_kind() {
        let err = Notification::decode(r#"{"version":1,"kind":"party","cluster_id":"c","at":"2026-11-23T10:00:00Z"}"#)
            .unwrap_err();
        assert!(matches!(err, Error::UnknownKind { .. }), "{err}");
    }
}
