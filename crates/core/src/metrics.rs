//! Metric samples as the engine sees them. `None` always means "unknown", never zero.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One point in time across all the signals the engine reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    pub at: DateTime<Utc>,
    /// Cluster CPU busy %, 0–100.
    #[serde(default)]
    pub cpu_pct: Option<f64>,
    /// Cluster memory used %, 0–100.
    #[serde(default)]
    pub mem_pct: Option<f64>,
    /// Pods in phase Pending.
    #[serde(default)]
    pub pending_pods: Option<u32>,
    /// Work queue depth (a custom metric).
    #[serde(default)]
    pub queue_depth: Option<f64>,
    /// p95 request latency in seconds (a custom metric).
    #[serde(default)]
    pub p95_latency_s: Option<f64>,
    /// Error rate % (a custom metric).
    #[serde(default)]
    pub error_rate_pct: Option<f64>,
    /// Summed CPU requests of the pending pods, millicores; sizes a pending-pods scale-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_cpu_millis: Option<f64>,
    /// Summed memory requests of the pending pods, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_memory_bytes: Option<f64>,
    /// Summed CPU requests of the running pods that a drain would move (DaemonSets excluded),
    /// millicores; the scale-down fit check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_cpu_millis: Option<f64>,
    /// Summed memory requests of the running pods a drain would move, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_memory_bytes: Option<f64>,
    /// Unschedulable pods that no new node could host (a request larger than a new node's
    /// allocatable): they never trigger a scale-up, as in Cluster Autoscaler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhostable_pods: Option<u32>,
}

impl Sample {
    pub fn at(at: DateTime<Utc>) -> Self {
        Sample { at, ..Default::default() }
    }
}

/// The signals, by name, for reasons and lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    Cpu,
    Memory,
    PendingPods,
    QueueDepth,
    P95Latency,
    ErrorRate,
    PendingCpu,
    PendingMemory,
    RequestedCpu,
    RequestedMemory,
    UnhostablePods,
}

impl Signal {
    pub const ALL: [Signal; 11] = [
        Signal::Cpu,
        Signal::Memory,
        Signal::PendingPods,
        Signal::QueueDepth,
        Signal::P95Latency,
        Signal::ErrorRate,
        Signal::PendingCpu,
        Signal::PendingMemory,
        Signal::RequestedCpu,
        Signal::RequestedMemory,
        Signal::UnhostablePods,
    ];

    /// The value of this signal in a sample, if known.
    pub fn value(self, sample: &Sample) -> Option<f64> {
        match self {
            Signal::Cpu => sample.cpu_pct,
            Signal::Memory => sample.mem_pct,
            Signal::PendingPods => sample.pending_pods.map(f64::from),
            Signal::QueueDepth => sample.queue_depth,
            Signal::P95Latency => sample.p95_latency_s,
            Signal::ErrorRate => sample.error_rate_pct,
            Signal::PendingCpu => sample.pending_cpu_millis,
            Signal::PendingMemory => sample.pending_memory_bytes,
            Signal::RequestedCpu => sample.requested_cpu_millis,
            Signal::RequestedMemory => sample.requested_memory_bytes,
            Signal::UnhostablePods => sample.unhostable_pods.map(f64::from),
        }
    }

    pub fn set(self, sample: &mut Sample, value: Option<f64>) {
        match self {
            Signal::Cpu => sample.cpu_pct = value,
            Signal::Memory => sample.mem_pct = value,
            Signal::PendingPods => sample.pending_pods = value.map(|v| v.max(0.0).round() as u32),
            Signal::QueueDepth => sample.queue_depth = value,
            Signal::P95Latency => sample.p95_latency_s = value,
            Signal::ErrorRate => sample.error_rate_pct = value,
            Signal::PendingCpu => sample.pending_cpu_millis = value,
            Signal::PendingMemory => sample.pending_memory_bytes = value,
            Signal::RequestedCpu => sample.requested_cpu_millis = value,
            Signal::RequestedMemory => sample.requested_memory_bytes = value,
            Signal::UnhostablePods => sample.unhostable_pods = value.map(|v| v.max(0.0).round() as u32),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Cpu => "cpu",
            Signal::Memory => "memory",
            Signal::PendingPods => "pending_pods",
            Signal::QueueDepth => "queue_depth",
            Signal::P95Latency => "p95_latency",
            Signal::ErrorRate => "error_rate",
            Signal::PendingCpu => "pending_cpu",
            Signal::PendingMemory => "pending_memory",
            Signal::RequestedCpu => "requested_cpu",
            Signal::RequestedMemory => "requested_memory",
            Signal::UnhostablePods => "unhostable_pods",
        }
    }
}
