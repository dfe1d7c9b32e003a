use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use super::{lock, Faults, Recorder};
use crate::cost_ledger::{self, CostChange, CostLedger, LEDGER_DAY_CAPACITY};
use crate::ports::StateStore;
use crate::state::{self, JoinLatency, LockOutcome, ReleaseOutcome, StateItem, StateUpdate};
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateOp {
    Get,
    Acquire,
    Release,
    Update,
    Events,
    Ledger,
    JoinLatencies,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StateCall {
    Get { cluster_id: String },
    Acquire { cluster_id: String, owner: String, now: DateTime<Utc>, ttl_s: u32 },
    Release { cluster_id: String, owner: String, update: StateUpdate },
    Update { cluster_id: String, update: StateUpdate },
}

/// The state table in memory, with DynamoDB's conditional-write semantics for the lock:
/// acquire succeeds only when `attribute_not_exists(scaling_in_progress) OR lock_expiry < :now`,
/// release only when the owner token matches.
#[derive(Debug, Clone, Default)]
pub struct FakeStateStore {
    items: Arc<Mutex<BTreeMap<String, StateItem>>>,
    events: Arc<Mutex<BTreeMap<String, DateTime<Utc>>>>,
    /// The savings ledger's day buckets, by bucket key, with the same bound as DynamoDB's.
    ledger: Arc<Mutex<BTreeMap<String, LedgerBucket>>>,
    pub calls: Arc<Recorder<StateCall>>,
    pub faults: Arc<Faults<StateOp>>,
}

#[derive(Debug, Clone, Default)]
struct LedgerBucket {
    changes: Vec<CostChange>,
    dropped: u64,
    observed: Option<cost_ledger::DayObservations>,
}

impl FakeStateStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put(&self, item: StateItem) {
        lock(&self.items).insert(item.cluster_id.clone(), item);
    }

    pub fn item(&self, cluster_id: &str) -> Option<StateItem> {
        lock(&self.items).get(cluster_id).cloned()
    }
}

impl StateStore for FakeStateStore {
    async fn get(&self, cluster_id: &str) -> Result<Option<StateItem>> {
        self.calls.record_with(|| StateCall::Get { cluster_id: cluster_id.into() });
        self.faults.check(StateOp::Get)?;
        Ok(self.item(cluster_id))
    }

    async fn try_acquire_lock(
        &self,
        cluster_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        ttl_s: u32,
    ) -> Result<LockOutcome> {
        self.calls.record_with(|| StateCall::Acquire {
            cluster_id: cluster_id.into(),
            owner: owner.into(),
            now,
            ttl_s,
        });
        self.faults.check(StateOp::Acquire)?;
        let mut items = lock(&self.items);
        let item = items.entry(cluster_id.to_string()).or_insert_with(|| StateItem::new(cluster_id));
        // A lock record without an expiry never expires, as in DynamoDB: `lock_expiry < :now`
        // is false when the attribute is missing.
        let free = !item.scaling_in_progress || item.lock_expiry.is_some_and(|e| e < now);
        if !free {
            return Ok(LockOutcome::Held);
        }
        let expires_at = now + Duration::seconds(i64::from(ttl_s));
        item.scaling_in_progress = true;
        item.lock_expiry = Some(expires_at);
        item.lock_owner = Some(owner.to_string());
        Ok(LockOutcome::Acquired { expires_at })
    }

    async fn release_lock(&self, cluster_id: &str, owner: &str, update: &StateUpdate) -> Result<ReleaseOutcome> {
        self.calls.record_with(|| StateCall::Release {
            cluster_id: cluster_id.into(),
            owner: owner.into(),
            update: update.clone(),
        });
        self.faults.check(StateOp::Release)?;
        let mut items = lock(&self.items);
        match items.get_mut(cluster_id) {
            Some(item) if item.scaling_in_progress && item.lock_owner.as_deref() == Some(owner) => {
                update.apply_to(item);
                item.scaling_in_progress = false;
                item.lock_expiry = None;
                item.lock_owner = None;
                Ok(ReleaseOutcome::Released)
            }
            _ => Ok(ReleaseOutcome::NotOwner),
        }
    }

    async fn update(&self, cluster_id: &str, update: &StateUpdate) -> Result<()> {
        self.calls.record_with(|| StateCall::Update { cluster_id: cluster_id.into(), update: update.clone() });
        self.faults.check(StateOp::Update)?;
        let mut items = lock(&self.items);
        update.apply_to(items.entry(cluster_id.to_string()).or_insert_with(|| StateItem::new(cluster_id)));
        Ok(())
    }

    async fn event_seen(&self, cluster_id: &str, event_id: &str) -> Result<bool> {
        self.faults.check(StateOp::Events)?;
        Ok(lock(&self.events).contains_key(&format!("{cluster_id}#event#{event_id}")))
    }

    async fn claim_event(&self, cluster_id: &str, event_id: &str, now: DateTime<Utc>, ttl_s: u32) -> Result<bool> {
        self.faults.check(StateOp::Events)?;
        let mut events = lock(&self.events);
        let key = format!("{cluster_id}#event#{event_id}");
        if events.contains_key(&key) {
            return Ok(false);
        }
        events.insert(key, now + Duration::seconds(i64::from(ttl_s)));
        Ok(true)
    }

    async fn record_join_latencies(&self, cluster_id: &str, latencies: &[JoinLatency]) -> Result<()> {
        self.faults.check(StateOp::JoinLatencies)?;
        let mut items = lock(&self.items);
        let item = items.entry(cluster_id.to_string()).or_insert_with(|| StateItem::new(cluster_id));
        item.join_latencies = std::sync::Arc::new(state::with_join_latencies(&item.join_latencies, latencies));
        Ok(())
    }

    async fn record_cost_change(&self, cluster_id: &str, change: &CostChange) -> Result<bool> {
        self.faults.check(StateOp::Ledger)?;
        let mut ledger = lock(&self.ledger);
        let bucket = ledger.entry(cost_ledger::bucket_key(cluster_id, change.at.date_naive())).or_default();
        if bucket.changes.len() >= LEDGER_DAY_CAPACITY as usize {
            bucket.dropped += 1;
            return Ok(false);
        }
        bucket.changes.push(change.clone());
        Ok(true)
    }

    async fn record_observation(&self, cluster_id: &str, run: &cost_ledger::RunObservation) -> Result<bool> {
        self.faults.check(StateOp::Ledger)?;
        let mut ledger = lock(&self.ledger);
        let bucket = ledger.entry(cost_ledger::bucket_key(cluster_id, run.at.date_naive())).or_default();
        Ok(bucket.observed.get_or_insert_with(Default::default).add(run))
    }

    async fn cost_ledger(&self, cluster_id: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<CostLedger> {
        self.faults.check(StateOp::Ledger)?;
        let ledger = lock(&self.ledger);
        let (mut changes, mut dropped, mut observed) = (Vec::new(), 0, Vec::new());
        for day in cost_ledger::days_covering(from, to) {
            if let Some(bucket) = ledger.get(&cost_ledger::bucket_key(cluster_id, day)) {
                changes.extend(bucket.changes.iter().cloned());
                dropped += bucket.dropped;
                observed.extend(bucket.observed.clone().map(|o| (day, o)));
            }
        }
        Ok(CostLedger::from_changes(changes, dropped, from, to).with_observations(observed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn one_owner_at_a_time_until_expiry() {
        let store = FakeStateStore::new();
        let now = t("2026-11-23T10:00:00Z");
        assert!(matches!(store.try_acquire_lock("c", "a", now, 300).await.unwrap(), LockOutcome::Acquired { .. }));
        assert_eq!(store.try_acquire_lock("c", "b", now, 300).await.unwrap(), LockOutcome::Held);
        // Exactly at expiry the condition `lock_expiry < :now` is still false.
        assert_eq!(store.try_acquire_lock("c", "b", t("2026-11-23T10:05:00Z"), 300).await.unwrap(), LockOutcome::Held);
        assert!(matches!(
            store.try_acquire_lock("c", "b", t("2026-11-23T10:05:01Z"), 300).await.unwrap(),
            LockOutcome::Acquired { .. }
        ));
        // The first owner is late: its release must not free b's lock.
        assert_eq!(store.release_lock("c", "a", &StateUpdate::default()).await.unwrap(), ReleaseOutcome::NotOwner);
        assert!(store.item("c").unwrap().scaling_in_progress);
        let update = StateUpdate { node_count: Some(4), ..Default::default() };
        assert_eq!(store.release_lock("c", "b", &update).await.unwrap(), ReleaseOutcome::Released);
        let item = store.item("c").unwrap();
        assert!(!item.scaling_in_progress);
        assert_eq!(item.node_count, 4);
    }

    #[tokio::test]
    async fn the_ledger_keeps_a_bounded_bucket_per_day_and_counts_what_it_drops() {
        use crate::cost_ledger::{CostChangeKind, LEDGER_DAY_CAPACITY};
        use crate::ports::Lifecycle;
        let store = FakeStateStore::new();
        let change = |i: u32, at: &str| CostChange {
            at: t(at),
            kind: CostChangeKind::Launch,
            instance_id: format!("i-{i}"),
            instance_type: "t3.small".into(),
            lifecycle: Lifecycle::OnDemand,
            usd_per_hour: Some(0.0208),
            decision_id: None,
            spot_fallback: false,
        };
        for i in 0..LEDGER_DAY_CAPACITY {
            assert!(store.record_cost_change("c", &change(i, "2026-11-23T10:00:00Z")).await.unwrap());
        }
        assert!(!store.record_cost_change("c", &change(9999, "2026-11-23T11:00:00Z")).await.unwrap(), "full");
        assert!(store.record_cost_change("c", &change(9999, "2026-11-24T00:00:00Z")).await.unwrap(), "a new day");
        assert!(store.record_cost_change("other", &change(1, "2026-11-23T10:00:00Z")).await.unwrap());
        let ledger = store.cost_ledger("c", t("2026-11-23T00:00:00Z"), t("2026-11-24T12:00:00Z")).await.unwrap();
        assert_eq!(ledger.changes.len(), LEDGER_DAY_CAPACITY as usize + 1);
        assert_eq!(ledger.dropped, 1);
        let day = store.cost_ledger("c", t("2026-11-24T00:00:00Z"), t("2026-11-24T12:00:00Z")).await.unwrap();
        assert_eq!(day.changes.len(), 1);
        assert_eq!(day.dropped, 0);
    }
}
