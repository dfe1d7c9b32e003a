//! The savings ledger: every scale action's change to the fleet's cost per hour, recorded by
//! the worker that made it, so the weekly report adds up what SmartScale did rather than
//! estimating at report time.
//!
//! Bounds. The ledger is kept in one bucket per cluster and UTC day (`{cluster}#ledger#{date}`
//! in the state table), so no item nears DynamoDB's 400 KB item limit however long the
//! cluster lives: a bucket holds at most [`LEDGER_DAY_CAPACITY`] changes (about 200 bytes
//! each, so under 250 KB; a fleet changing once a minute all day makes 1,440 launches and
//! removals at most only if it never rests, far past any cooldown SmartScale allows). A change
//! that finds its bucket full is not kept but counted (`dropped`), and the report says so.
//! Buckets expire through DynamoDB TTL [`LEDGER_TTL_DAYS`] after their day: a weekly report
//! needs 8 days, and five weeks leave room to re-run a missed one.
//!
//! SQS delivers at least once, so a change may be recorded twice: reading deduplicates, one
//! launch and one removal per instance (the earliest of each).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::{Instance, Lifecycle, StateStore};
use crate::pricing::PriceTable;
use crate::Result;

/// Changes kept per cluster and day; see the module's documentation.
pub const LEDGER_DAY_CAPACITY: u32 = 1000;
/// A day's bucket expires this long after the day.
pub const LEDGER_TTL_DAYS: i64 = 35;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostChangeKind {
    /// An instance launched: + its price.
    Launch,
    /// SmartScale terminated an instance (a scale-down): − its price.
    Termination,
    /// AWS reclaimed a Spot instance: − its price.
    Interruption,
}

/// One change to the fleet's cost per hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostChange {
    pub at: DateTime<Utc>,
    pub kind: CostChangeKind,
    pub instance_id: String,
    pub instance_type: String,
    pub lifecycle: Lifecycle,
    /// The signed change in USD per hour at the price table of the moment; `None` when the
    /// table did not know the type (unknown, never zero).
    pub usd_per_hour: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
    /// A launch that wanted Spot and got On-Demand (no Spot capacity in any pool).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub spot_fallback: bool,
}

impl CostChange {
    fn of(instance: &Instance, kind: CostChangeKind, prices: &PriceTable, at: DateTime<Utc>) -> Self {
        let price = prices.per_hour(&instance.instance_type, instance.lifecycle);
        let sign = if kind == CostChangeKind::Launch { 1.0 } else { -1.0 };
        CostChange {
            at,
            kind,
            instance_id: instance.instance_id.clone(),
            instance_type: instance.instance_type.clone(),
            lifecycle: instance.lifecycle,
            usd_per_hour: price.map(|p| sign * p),
            decision_id: None,
            spot_fallback: false,
        }
    }

    pub fn launch(instance: &Instance, prices: &PriceTable, at: DateTime<Utc>) -> Self {
        Self::of(instance, CostChangeKind::Launch, prices, at)
    }

    pub fn termination(instance: &Instance, prices: &PriceTable, at: DateTime<Utc>) -> Self {
        Self::of(instance, CostChangeKind::Termination, prices, at)
    }

    pub fn interruption(instance: &Instance, prices: &PriceTable, at: DateTime<Utc>) -> Self {
        Self::of(instance, CostChangeKind::Interruption, prices, at)
    }

    pub fn with_decision(mut self, decision_id: &str) -> Self {
        self.decision_id = Some(decision_id.to_string());
        self
    }

    /// Marks a launch that wanted `wanted` (Spot) and got On-Demand.
    pub fn spot_fallback_from(mut self, wanted: Lifecycle) -> Self {
        self.spot_fallback = wanted == Lifecycle::Spot && self.lifecycle == Lifecycle::OnDemand;
        self
    }

    pub fn is_removal(&self) -> bool {
        self.kind != CostChangeKind::Launch
    }
}

/// The key of the bucket holding `cluster_id`'s changes of `day`.
pub fn bucket_key(cluster_id: &str, day: NaiveDate) -> String {
    format!("{cluster_id}#ledger#{}", day.format("%Y-%m-%d"))
}

/// When the bucket of `day` expires (epoch seconds, DynamoDB's TTL).
pub fn bucket_expiry(day: NaiveDate) -> i64 {
    (day + Duration::days(LEDGER_TTL_DAYS + 1)).and_hms_opt(0, 0, 0).map_or(i64::MAX, |t| t.and_utc().timestamp())
}

/// The UTC days from `from` to `to`, both included.
pub fn days_covering(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<NaiveDate> {
    let (first, last) = (from.date_naive(), to.date_naive());
    first.iter_days().take_while(|d| *d <= last).collect()
}

/// The changes of a time range, as read back: deduplicated, oldest first, and how many
/// changes full buckets could not keep.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CostLedger {
    pub changes: Vec<CostChange>,
    /// Changes counted but not kept because their day's bucket was full.
    pub dropped: u64,
}

impl CostLedger {
    /// Keeps the changes in `[from, to]`, one launch and one removal per instance (the
    /// earliest: a redelivered message records the same change later), oldest first.
    pub fn from_changes(changes: Vec<CostChange>, dropped: u64, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        let mut first: BTreeMap<(String, bool), CostChange> = BTreeMap::new();
        for change in changes.into_iter().filter(|c| c.at >= from && c.at <= to) {
            let key = (change.instance_id.clone(), change.is_removal());
            match first.get(&key) {
                Some(kept) if kept.at <= change.at => {}
                _ => {
                    first.insert(key, change);
                }
            }
        }
        let mut changes: Vec<CostChange> = first.into_values().collect();
        changes.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.instance_id.cmp(&b.instance_id)));
        CostLedger { changes, dropped }
    }

    /// The summed change per hour; `None` if any change is unpriced.
    pub fn net_usd_per_hour(&self) -> Option<f64> {
        self.changes.iter().map(|c| c.usd_per_hour).sum()
    }
}

/// What the workers call after a launch or a termination: one change per instance. An error
/// is returned (and the message retried, which is safe: reading deduplicates); a full bucket
/// is logged by the store and counted, not an error.
pub async fn record_changes<S: StateStore>(state: &S, cluster_id: &str, changes: Vec<CostChange>) -> Result<()> {
    for change in &changes {
        state.record_cost_change(cluster_id, change).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::InstanceState;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn instance(id: &str, lifecycle: Lifecycle) -> Instance {
        Instance {
            instance_id: id.into(),
            instance_type: "t3.small".into(),
            availability_zone: "us-east-1a".into(),
            subnet_id: "subnet-a".into(),
            lifecycle,
            state: InstanceState::Running,
            private_dns_name: None,
            launched_at: None,
            tags: Default::default(),
        }
    }

    #[test]
    fn a_change_carries_its_signed_price_and_round_trips_as_json() {
        let prices = PriceTable::default();
        let up = CostChange::launch(&instance("i-1", Lifecycle::Spot), &prices, t("2026-11-23T10:00:00Z"))
            .with_decision("d-1");
        assert!((up.usd_per_hour.unwrap() - 0.0208 * 0.35).abs() < 1e-12);
        let down = CostChange::termination(&instance("i-2", Lifecycle::OnDemand), &prices, t("2026-11-23T11:00:00Z"));
        assert_eq!(down.usd_per_hour, Some(-0.0208));
        let mut odd = instance("i-3", Lifecycle::OnDemand);
        odd.instance_type = "m7g.metal".into();
        assert_eq!(CostChange::launch(&odd, &prices, t("2026-11-23T11:00:00Z")).usd_per_hour, None);
        let json = serde_json::to_string(&up).unwrap();
        assert!(json.len() < 200, "{} bytes: the bucket bound assumes under 200", json.len());
        assert_eq!(serde_json::from_str::<CostChange>(&json).unwrap(), up);
    }

    #[test]
    fn reading_keeps_one_launch_and_one_removal_per_instance_in_range() {
        let prices = PriceTable::default();
        let i1 = instance("i-1", Lifecycle::OnDemand);
        let changes = vec![
            CostChange::launch(&i1, &prices, t("2026-11-23T10:05:00Z")), // redelivered copy
            CostChange::launch(&i1, &prices, t("2026-11-23T10:00:00Z")),
            CostChange::termination(&i1, &prices, t("2026-11-23T12:00:00Z")),
            CostChange::interruption(&i1, &prices, t("2026-11-23T12:01:00Z")),
            CostChange::launch(&instance("i-0", Lifecycle::Spot), &prices, t("2026-11-20T00:00:00Z")),
        ];
        let ledger = CostLedger::from_changes(changes, 2, t("2026-11-23T00:00:00Z"), t("2026-11-24T00:00:00Z"));
        assert_eq!(ledger.changes.len(), 2);
        assert_eq!(ledger.changes[0].at, t("2026-11-23T10:00:00Z"));
        assert_eq!(ledger.changes[1].kind, CostChangeKind::Termination);
        assert_eq!(ledger.net_usd_per_hour(), Some(0.0));
        assert_eq!(ledger.dropped, 2);
    }

    #[test]
    fn buckets_are_per_utc_day_and_expire_after_the_ttl() {
        assert_eq!(bucket_key("prod", NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()), "prod#ledger#2026-11-23");
        let days = days_covering(t("2026-11-16T09:00:00Z"), t("2026-11-23T09:00:00Z"));
        assert_eq!(days.len(), 8);
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(bucket_expiry(day), t("2026-12-29T00:00:00Z").timestamp());
    }
}
