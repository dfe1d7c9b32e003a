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
}

impl Signal {
    pub const ALL: [Signal; 6] =
        [Signal::Cpu, Signal::Memory, Signal::PendingPods, Signal::QueueDepth, Signal::P95Latency, Signal::ErrorRate];

    /// The value of this signal in a sample, if known.
    pub fn value(self, sample: &Sample) -> Option<f64> {
        match self {
            Signal::Cpu => sample.cpu_pct,
            Signal::Memory => sample.mem_pct,
            Signal::PendingPods => sample.pending_pods.map(f64::from),
            Signal::QueueDepth => sample.queue_depth,
            Signal::P95Latency => sample.p95_latency_s,
            Signal::ErrorRate => sample.error_rate_pct,
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
        }
    }
}
