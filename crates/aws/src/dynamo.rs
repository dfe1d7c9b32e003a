//! The state item and the scaling lock in DynamoDB (partition key `cluster_id`).
//!
//! The lock is three attributes, `scaling_in_progress`, `lock_expiry` (epoch seconds) and
//! `lock_owner`, taken with one conditional write
//! (`attribute_not_exists(scaling_in_progress) OR lock_expiry < :now`) and removed, on release,
//! only by the owner's token. DynamoDB's TTL deletes items lazily, so expiry is always judged
//! by comparing `lock_expiry`, never by the item's absence.
//!
//! The savings ledger lives in the same table, one item per cluster and UTC day
//! (`{cluster}#ledger#{date}`): `changes`, a list of JSON strings appended with one conditional
//! write while the list is shorter than [`LEDGER_DAY_CAPACITY`], and `dropped`, a count of the
//! changes a full day could not keep (see `smartscale_core::cost_ledger` for the bounds).

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use smartscale_core::cost_ledger::{self, CostChange, CostLedger, LEDGER_DAY_CAPACITY};
use smartscale_core::ports::StateStore;
use smartscale_core::state::{LockOutcome, MetricsSnapshot, ReleaseOutcome, ScaleAction, StateItem, StateUpdate};
use smartscale_core::{Error, Result};
use tracing::instrument;

use crate::{error_code, sdk_error};

/// Items untouched for this long expire through DynamoDB TTL (a cluster that was deleted).
const ITEM_TTL_DAYS: i64 = 30;
const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

#[derive(Debug, Clone)]
pub struct DynamoStateStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStateStore {
    pub fn new(config: &SdkConfig, table: impl Into<String>) -> Self {
        DynamoStateStore { client: aws_sdk_dynamodb::Client::new(config), table: table.into() }
    }

    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// `SET` clauses and values for the fields of `update`, plus the TTL refresh.
fn set_clauses(update: &StateUpdate, now: DateTime<Utc>) -> Result<(Vec<String>, HashMap<String, AttributeValue>)> {
    let mut clauses = vec!["#ttl = :ttl".to_string()];
    let mut values = HashMap::from([(":ttl".to_string(), n((now + Duration::days(ITEM_TTL_DAYS)).timestamp()))]);
    let mut set = |name: &str, value: AttributeValue| {
        clauses.push(format!("{name} = :{name}"));
        values.insert(format!(":{name}"), value);
    };
    if let Some(v) = update.node_count {
        set("node_count", n(v));
    }
    if let Some(v) = update.last_scale_time {
        set("last_scale_time", s(v.to_rfc3339()));
    }
    if let Some(v) = update.last_scale_action {
        set("last_scale_action", s(v.as_str()));
    }
    if let Some(v) = &update.last_scale_reason {
        set("last_scale_reason", s(v.clone()));
    }
    if let Some(v) = &update.metrics_snapshot {
        let json = serde_json::to_string(v).map_err(|e| Error::invalid("metrics_snapshot", e.to_string()))?;
        set("metrics_snapshot", s(json));
    }
    if let Some(v) = update.max_capacity_alerted_at {
        set("max_capacity_alerted_at", s(v.to_rfc3339()));
    }
    if let Some(v) = &update.unavailable_offerings {
        let json = serde_json::to_string(v).map_err(|e| Error::invalid("unavailable_offerings", e.to_string()))?;
        set("unavailable_offerings", s(json));
    }
    if let Some(v) = &update.episodes {
        let json = serde_json::to_string(v).map_err(|e| Error::invalid("episodes", e.to_string()))?;
        set("episodes", s(json));
    }
    if let Some(v) = &update.forecast_model {
        let json = serde_json::to_string(v).map_err(|e| Error::invalid("forecast_model", e.to_string()))?;
        set("forecast_model", s(json));
    }
    // `null` clears it (a SET keeps the update one expression).
    if let Some(v) = &update.pre_scale {
        let json = serde_json::to_string(v).map_err(|e| Error::invalid("pre_scale", e.to_string()))?;
        set("pre_scale", s(json));
    }
    Ok((clauses, values))
}

/// Handled external events live in the same table, under their own key, with a TTL.
fn event_key(cluster_id: &str, event_id: &str) -> String {
    format!("{cluster_id}#event#{event_id}")
}

fn ttl_name() -> HashMap<String, String> {
    HashMap::from([("#ttl".to_string(), "ttl".to_string())])
}

impl StateStore for DynamoStateStore {
    #[instrument(skip(self))]
    async fn get(&self, cluster_id: &str) -> Result<Option<StateItem>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("cluster_id", s(cluster_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb", "GetItem", e))?;
        out.item().map(parse_item).transpose()
    }

    #[instrument(skip(self))]
    async fn try_acquire_lock(
        &self,
        cluster_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        ttl_s: u32,
    ) -> Result<LockOutcome> {
        let expires_at = now + Duration::seconds(i64::from(ttl_s));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("cluster_id", s(cluster_id))
            .update_expression(
                "SET scaling_in_progress = :true, lock_expiry = :expiry, lock_owner = :owner, #ttl = :ttl",
            )
            .condition_expression("attribute_not_exists(scaling_in_progress) OR lock_expiry < :now")
            .set_expression_attribute_names(Some(ttl_name()))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":expiry", n(expires_at.timestamp()))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":ttl", n((now + Duration::days(ITEM_TTL_DAYS)).timestamp()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(LockOutcome::Acquired { expires_at }),
            Err(e) if error_code(&e) == Some(CONDITION_FAILED) => Ok(LockOutcome::Held),
            Err(e) => Err(sdk_error("dynamodb", "UpdateItem (acquire lock)", e)),
        }
    }

    #[instrument(skip(self, update))]
    async fn release_lock(&self, cluster_id: &str, owner: &str, update: &StateUpdate) -> Result<ReleaseOutcome> {
        let (clauses, values) = set_clauses(update, Utc::now())?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("cluster_id", s(cluster_id))
            .update_expression(format!(
                "SET {} REMOVE scaling_in_progress, lock_expiry, lock_owner",
                clauses.join(", ")
            ))
            .condition_expression("attribute_exists(scaling_in_progress) AND lock_owner = :owner")
            .set_expression_attribute_names(Some(ttl_name()))
            .set_expression_attribute_values(Some(values))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(ReleaseOutcome::Released),
            Err(e) if error_code(&e) == Some(CONDITION_FAILED) => Ok(ReleaseOutcome::NotOwner),
            Err(e) => Err(sdk_error("dynamodb", "UpdateItem (release lock)", e)),
        }
    }

    #[instrument(skip(self))]
    async fn event_seen(&self, cluster_id: &str, event_id: &str) -> Result<bool> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("cluster_id", s(event_key(cluster_id, event_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb", "GetItem (event)", e))?;
        Ok(out.item().is_some())
    }

    #[instrument(skip(self))]
    async fn claim_event(&self, cluster_id: &str, event_id: &str, now: DateTime<Utc>, ttl_s: u32) -> Result<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("cluster_id", s(event_key(cluster_id, event_id)))
            .item("claimed_at", s(now.to_rfc3339()))
            .item("ttl", n((now + Duration::seconds(i64::from(ttl_s))).timestamp()))
            .condition_expression("attribute_not_exists(cluster_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if error_code(&e) == Some(CONDITION_FAILED) => Ok(false),
            Err(e) => Err(sdk_error("dynamodb", "PutItem (claim event)", e)),
        }
    }

    #[instrument(skip(self, update))]
    async fn update(&self, cluster_id: &str, update: &StateUpdate) -> Result<()> {
        let (clauses, values) = set_clauses(update, Utc::now())?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("cluster_id", s(cluster_id))
            .update_expression(format!("SET {}", clauses.join(", ")))
            .set_expression_attribute_names(Some(ttl_name()))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb", "UpdateItem", e))?;
        Ok(())
    }

    #[instrument(skip(self, change), fields(kind = ?change.kind, instance_id = %change.instance_id))]
    async fn record_cost_change(&self, cluster_id: &str, change: &CostChange) -> Result<bool> {
        let day = change.at.date_naive();
        let key = cost_ledger::bucket_key(cluster_id, day);
        let ttl = n(cost_ledger::bucket_expiry(day));
        let json = serde_json::to_string(change).map_err(|e| Error::invalid("cost change", e.to_string()))?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("cluster_id", s(&key))
            .update_expression("SET changes = list_append(if_not_exists(changes, :empty), :new), #ttl = :ttl")
            .condition_expression("attribute_not_exists(changes) OR size(changes) < :capacity")
            .set_expression_attribute_names(Some(ttl_name()))
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":new", AttributeValue::L(vec![s(json)]))
            .expression_attribute_values(":capacity", n(LEDGER_DAY_CAPACITY))
            .expression_attribute_values(":ttl", ttl.clone())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if error_code(&e) == Some(CONDITION_FAILED) => {
                tracing::warn!(bucket = %key, capacity = LEDGER_DAY_CAPACITY, "the ledger's day is full; the change is counted as dropped");
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key("cluster_id", s(&key))
                    .update_expression("ADD dropped :one SET #ttl = :ttl")
                    .set_expression_attribute_names(Some(ttl_name()))
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":ttl", ttl)
                    .send()
                    .await
                    .map_err(|e| sdk_error("dynamodb", "UpdateItem (ledger dropped)", e))?;
                Ok(false)
            }
            Err(e) => Err(sdk_error("dynamodb", "UpdateItem (ledger)", e)),
        }
    }

    #[instrument(skip(self))]
    async fn cost_ledger(&self, cluster_id: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<CostLedger> {
        let (mut changes, mut dropped) = (Vec::new(), 0u64);
        for day in cost_ledger::days_covering(from, to) {
            let key = cost_ledger::bucket_key(cluster_id, day);
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("cluster_id", s(&key))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| sdk_error("dynamodb", "GetItem (ledger)", e))?;
            let Some(item) = out.item() else { continue };
            let field = |name: &str, message: String| Error::invalid(format!("ledger {key} {name}"), message);
            match item.get("changes") {
                None => {}
                Some(AttributeValue::L(list)) => {
                    for (i, entry) in list.iter().enumerate() {
                        let AttributeValue::S(json) = entry else {
                            return Err(field(&format!("changes[{i}]"), format!("expected a string, found {entry:?}")));
                        };
                        changes.push(
                            serde_json::from_str::<CostChange>(json)
                                .map_err(|e| field(&format!("changes[{i}]"), e.to_string()))?,
                        );
                    }
                }
                Some(other) => return Err(field("changes", format!("expected a list, found {other:?}"))),
            }
            match item.get("dropped") {
                None => {}
                Some(AttributeValue::N(v)) => {
                    dropped += v.parse::<u64>().map_err(|_| field("dropped", format!("not a count: {v}")))?
                }
                Some(other) => return Err(field("dropped", format!("expected a number, found {other:?}"))),
            }
        }
        Ok(CostLedger::from_changes(changes, dropped, from, to))
    }
}

fn parse_item(item: &HashMap<String, AttributeValue>) -> Result<StateItem> {
    let field = |name: &str, message: String| Error::invalid(format!("state item {name}"), message);
    let string = |name: &str| -> Result<Option<String>> {
        match item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            Some(other) => Err(field(name, format!("expected a string, found {other:?}"))),
        }
    };
    let number = |name: &str| -> Result<Option<i64>> {
        match item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(v)) => v.parse().map(Some).map_err(|_| field(name, format!("not an integer: {v}"))),
            Some(other) => Err(field(name, format!("expected a number, found {other:?}"))),
        }
    };
    let time = |name: &str| -> Result<Option<DateTime<Utc>>> {
        string(name)?
            .map(|v| {
                DateTime::parse_from_rfc3339(&v)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| field(name, format!("{v:?}: {e}")))
            })
            .transpose()
    };
    let cluster_id = string("cluster_id")?.ok_or_else(|| field("cluster_id", "missing".into()))?;
    let node_count = number("node_count")?.unwrap_or(0);
    let node_count =
        u32::try_from(node_count).map_err(|_| field("node_count", format!("out of range: {node_count}")))?;
    let last_scale_action = match string("last_scale_action")?.as_deref() {
        None => None,
        Some("scale_up") => Some(ScaleAction::ScaleUp),
        Some("scale_down") => Some(ScaleAction::ScaleDown),
        Some(other) => return Err(field("last_scale_action", format!("unknown action {other:?}"))),
    };
    let lock_expiry = number("lock_expiry")?
        .map(|t| DateTime::from_timestamp(t, 0).ok_or_else(|| field("lock_expiry", format!("out of range: {t}"))))
        .transpose()?;
    let metrics_snapshot = string("metrics_snapshot")?
        .map(|json| {
            serde_json::from_str::<MetricsSnapshot>(&json).map_err(|e| field("metrics_snapshot", e.to_string()))
        })
        .transpose()?;
    Ok(StateItem {
        cluster_id,
        node_count,
        last_scale_time: time("last_scale_time")?,
        scaling_in_progress: item.contains_key("scaling_in_progress"),
        lock_expiry,
        lock_owner: string("lock_owner")?,
        last_scale_action,
        last_scale_reason: string("last_scale_reason")?,
        metrics_snapshot,
        max_capacity_alerted_at: time("max_capacity_alerted_at")?,
        unavailable_offerings: string("unavailable_offerings")?
            .map(|json| serde_json::from_str(&json).map_err(|e| field("unavailable_offerings", e.to_string())))
            .transpose()?
            .unwrap_or_default(),
        episodes: string("episodes")?
            .map(|json| serde_json::from_str(&json).map_err(|e| field("episodes", e.to_string())))
            .transpose()?
            .unwrap_or_default(),
        // A cache: one written by another version that no longer parses is refitted, not fatal.
        forecast_model: string("forecast_model")?.and_then(|json| serde_json::from_str(&json).ok()),
        pre_scale: string("pre_scale")?
            .map(|json| serde_json::from_str::<Option<_>>(&json).map_err(|e| field("pre_scale", e.to_string())))
            .transpose()?
            .flatten(),
    })
}
