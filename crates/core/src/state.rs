//! The per-cluster state item (the spec's DynamoDB schema) and the lock's outcomes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decide::DecisionState;
use crate::messages::Offering;
use crate::metrics::Sample;

/// The savings ledger lives in the state table next to the item; its types are in `cost_ledger`.
pub use crate::cost_ledger::{CostChange, CostChangeKind, CostLedger};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleAction {
    ScaleUp,
    ScaleDown,
}

impl ScaleAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ScaleAction::ScaleUp => "scale_up",
            ScaleAction::ScaleDown => "scale_down",
        }
    }
}

/// One item per cluster, keyed by `cluster_id`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StateItem {
    pub cluster_id: String,
    pub node_count: u32,
    pub last_scale_time: Option<DateTime<Utc>>,
    /// True while a lock is taken; the lock is free again once `lock_expiry` has passed.
    pub scaling_in_progress: bool,
    pub lock_expiry: Option<DateTime<Utc>>,
    /// The token of whoever holds the lock; release is conditional on it.
    pub lock_owner: Option<String>,
    pub last_scale_action: Option<ScaleAction>,
    pub last_scale_reason: Option<String>,
    /// The last good metrics, for riding out a short Prometheus outage.
    pub metrics_snapshot: Option<MetricsSnapshot>,
    /// When the at-max-capacity alert last went out, so it repeats only now and then.
    pub max_capacity_alerted_at: Option<DateTime<Utc>>,
    /// Capacity pools recently interrupted or short: launches avoid them until `until`.
    #[serde(default)]
    pub unavailable_offerings: Vec<UnavailableOffering>,
    /// Conditions that last (Prometheus down, no node removable), so that a person hears of
    /// each once per episode, not on every run.
    #[serde(default)]
    pub episodes: Vec<Episode>,
    /// Predictive scaling's fitted profile (or why there is none), refitted every few hours.
    #[serde(default)]
    pub forecast_model: Option<CachedForecast>,
    /// The last pre-scale, until its window comes and it is judged used or not.
    #[serde(default)]
    pub pre_scale: Option<PendingPreScale>,
    /// The last [`JOIN_LATENCIES_KEPT`] launch → node Ready times the scale-up worker measured,
    /// oldest first: predictive scaling's lead time is their p90. Shared, as the item is read
    /// on every decider run and only a join check changes the list.
    #[serde(default)]
    pub join_latencies: std::sync::Arc<Vec<JoinLatency>>,
}

/// How many join latencies the state item keeps: enough for a p90 that follows the fleet's
/// recent boots (an AMI or instance-type change), few enough to stay a small part of the item.
pub const JOIN_LATENCIES_KEPT: usize = 50;

/// One node's launch → Ready time, as the scale-up worker's join check saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinLatency {
    pub instance_id: String,
    pub ready_at: DateTime<Utc>,
    pub seconds: f64,
}

/// `kept` with `new` appended (an instance already in it is not counted twice: a redelivered
/// join check), cut to the newest [`JOIN_LATENCIES_KEPT`].
pub fn with_join_latencies(kept: &[JoinLatency], new: &[JoinLatency]) -> Vec<JoinLatency> {
    let mut list = kept.to_vec();
    for latency in new {
        if !list.iter().any(|l| l.instance_id == latency.instance_id) {
            list.push(latency.clone());
        }
    }
    let excess = list.len().saturating_sub(JOIN_LATENCIES_KEPT);
    list.drain(..excess);
    list
}

/// The fit of the demand history, cached so the 14-day `query_range` runs every few hours, not
/// on every run. `model` is the profile or why there is none (not enough history, no pattern).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedForecast {
    pub fitted_at: DateTime<Utc>,
    pub lead_s: u32,
    pub model: std::result::Result<crate::forecast::Model, crate::forecast::NoForecast>,
}

/// A pre-scale made at `at`, for the window opening at `window_at`. It is *used* when, at the
/// first run from `window_at` on, the demand (nodes) is above `reactive_nodes`, the fleet the
/// reactive decision alone would have kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingPreScale {
    pub at: DateTime<Utc>,
    pub window_at: DateTime<Utc>,
    pub reactive_nodes: u32,
    pub to_nodes: u32,
}

/// What an episode is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpisodeKind {
    /// Prometheus cannot be queried.
    MetricsUnavailable,
    /// A scale-down found no node it could remove safely.
    NoRemovableNode,
    /// The decider wants a scale-up while a drain holds the lock: the drain gives way at its
    /// next check (uncordons and releases), so capacity is never held back by a removal.
    ScaleUpWaiting,
    /// CPU, memory or pending pods have no data while Prometheus answers.
    SignalsMissing,
    /// Unschedulable pods that no new node could host.
    UnhostablePods,
}

/// One condition that lasts: when it began, whether a person was told, and (for conditions a
/// retry cannot clear by itself) when to look again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub kind: EpisodeKind,
    pub since: DateTime<Utc>,
    #[serde(default)]
    pub notified: bool,
    #[serde(default)]
    pub look_again_at: Option<DateTime<Utc>>,
    /// The fleet size when it began: a change of fleet is a reason to look again at once.
    #[serde(default)]
    pub node_count: Option<u32>,
    #[serde(default)]
    pub detail: Option<String>,
}

impl Episode {
    /// An episode of `kind` that began at `since`, nobody told yet.
    pub fn begin(kind: EpisodeKind, since: DateTime<Utc>) -> Self {
        Episode { kind, since, notified: false, look_again_at: None, node_count: None, detail: None }
    }
}

impl StateItem {
    pub fn episode(&self, kind: EpisodeKind) -> Option<&Episode> {
        self.episodes.iter().find(|e| e.kind == kind)
    }

    /// Replaces the episode of `kind` (removes it, with `None`) here and in `update`, so the
    /// item a run reads and the write it sends stay the same.
    pub fn set_episode(&mut self, update: &mut StateUpdate, kind: EpisodeKind, episode: Option<Episode>) {
        self.episodes = self.episodes_with(kind, episode);
        update.episodes = Some(self.episodes.clone());
    }

    /// Whether the lock is held at `now`, by `token`: a message carrying the token of a lock
    /// that is gone belongs to work that finished or expired.
    pub fn lock_held_by(&self, token: &str, now: DateTime<Utc>) -> bool {
        self.lock_held_at(now) && self.lock_owner.as_deref() == Some(token)
    }

    /// The episode list with `kind` replaced by `episode` (or removed, with `None`).
    pub fn episodes_with(&self, kind: EpisodeKind, episode: Option<Episode>) -> Vec<Episode> {
        let mut list: Vec<Episode> = self.episodes.iter().filter(|e| e.kind != kind).cloned().collect();
        list.extend(episode);
        list
    }
}

/// A (type, AZ, lifecycle) pool to avoid until a given time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnavailableOffering {
    pub offering: Offering,
    pub until: DateTime<Utc>,
}

impl StateItem {
    /// The offerings still to be avoided at `now`.
    pub fn avoided_offerings(&self, now: DateTime<Utc>) -> Vec<Offering> {
        self.unavailable_offerings.iter().filter(|u| u.until > now).map(|u| u.offering.clone()).collect()
    }
}

impl StateItem {
    pub fn new(cluster_id: impl Into<String>) -> Self {
        StateItem { cluster_id: cluster_id.into(), ..Default::default() }
    }

    /// Whether someone holds an unexpired lock at `now`.
    pub fn lock_held_at(&self, now: DateTime<Utc>) -> bool {
        self.scaling_in_progress && self.lock_expiry.is_some_and(|e| e > now)
    }

    /// The view the decision engine needs.
    pub fn decision_state(&self, now: DateTime<Utc>) -> DecisionState {
        DecisionState {
            node_count: self.node_count,
            last_scale_at: self.last_scale_time,
            last_scale_action: self.last_scale_action,
            lock_expires_at: if self.lock_held_at(now) { self.lock_expiry } else { None },
        }
    }
}

/// The samples of one successful metrics fetch, with when they were taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    pub taken_at: DateTime<Utc>,
    /// Shared, not copied: every run stores the hour of samples it decided on, and the state
    /// item, the update and the run's own decision all hold the same ones. (An `Arc<Vec>`, not
    /// an `Arc<[_]>`: the fetched `Vec` moves in without a copy.)
    pub samples: std::sync::Arc<Vec<Sample>>,
}

/// Fields to set on the state item; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StateUpdate {
    pub node_count: Option<u32>,
    pub last_scale_time: Option<DateTime<Utc>>,
    pub last_scale_action: Option<ScaleAction>,
    pub last_scale_reason: Option<String>,
    pub metrics_snapshot: Option<MetricsSnapshot>,
    pub max_capacity_alerted_at: Option<DateTime<Utc>>,
    /// Replaces the whole list.
    pub unavailable_offerings: Option<Vec<UnavailableOffering>>,
    /// Replaces the whole list.
    pub episodes: Option<Vec<Episode>>,
    pub forecast_model: Option<CachedForecast>,
    /// `Some(None)` clears the pending pre-scale.
    pub pre_scale: Option<Option<PendingPreScale>>,
}

impl StateUpdate {
    pub fn apply_to(&self, item: &mut StateItem) {
        if let Some(v) = self.node_count {
            item.node_count = v;
        }
        if let Some(v) = self.last_scale_time {
            item.last_scale_time = Some(v);
        }
        if let Some(v) = self.last_scale_action {
            item.last_scale_action = Some(v);
        }
        if let Some(v) = &self.last_scale_reason {
            item.last_scale_reason = Some(v.clone());
        }
        if let Some(v) = &self.metrics_snapshot {
            item.metrics_snapshot = Some(v.clone());
        }
        if let Some(v) = self.max_capacity_alerted_at {
            item.max_capacity_alerted_at = Some(v);
        }
        if let Some(v) = &self.unavailable_offerings {
            item.unavailable_offerings = v.clone();
        }
        if let Some(v) = &self.episodes {
            item.episodes = v.clone();
        }
        if let Some(v) = &self.forecast_model {
            item.forecast_model = Some(v.clone());
        }
        if let Some(v) = &self.pre_scale {
            item.pre_scale = v.clone();
        }
    }
}

/// The result of a conditional lock acquisition. Losing the race is an outcome, not an error.
#[derive(Debug, Clone, PartialEq)]
pub enum LockOutcome {
    Acquired { expires_at: DateTime<Utc> },
    Held,
}

/// The result of a conditional lock release.
#[derive(Debug, Clone, PartialEq)]
pub enum ReleaseOutcome {
    Released,
    /// The lock is held by another token (ours expired and was taken over) or by nobody.
    NotOwner,
}
