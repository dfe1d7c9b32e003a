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
//!
//! The join latencies (`join_latencies`, a JSON list in the state item) are read, extended and
//! written back on the condition that the attribute still holds what was read: a worker that
//! loses the race to another reads again, so neither's entries are lost. A day's `observed`
//! (the decider runs' unschedulable time and forecast figures) is kept the same way.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use smartscale_core::cost_ledger::{self, CostChange, CostLedger, LEDGER_DAY_CAPACITY};
use smartscale_core::ports::StateStore;
use smartscale_core::state::{
    self, JoinLatency, LockOutcome, MetricsSnapshot, ReleaseOutcome, ScaleAction, StateItem, StateUpdate,
};
use smartscale_core::{Error, Result};
use tracing::instrument;

use crate::{error_code, sdk_error};

/// Items untouched for this long expire through DynamoDB TTL (a cluster that was deleted).
const ITEM_TTL_DAYS: i64 = 30;
const CONDITION_FAILED: &str = "ConditionalCheckFailedException";
/// Conditional writes of a JSON attribute (the join latencies, a day's observations) before
/// giving up: each loss means another writer changed it in between. Between attempts a jittered
/// backoff from [`CONDITIONAL_WRITE_BACKOFF_MS`], doubling, spreads the writers out (about 6 s
/// in all at worst).
const CONDITIONAL_WRITE_ATTEMPTS: u32 = 8;
const CONDITIONAL_WRITE_BACKOFF_MS: u64 = 25;

/// A delay in `[base/2, base)` for `attempt` (from 1), jittered by the clock's nanoseconds so
/// that writers who lost together do not retry together.
fn jittered_backoff(attempt: u32) -> std::time::Duration {
    let base = CONDITIONAL_WRITE_BACKOFF_MS << attempt.saturating_sub(1).min(10);
    let nanos = u64::from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos(),
    );
    std::time::Duration::from_millis(base / 2 + nanos % (base / 2).max(1))
}

#[derive(Debug, Clone)]
pub struct DynamoStateStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStateStore {
    /// The first step of recording join latencies: the `join_latencies` attribute as stored
    /// (JSON), `None` when there is none yet.
    pub async fn read_join_latencies(&self, cluster_id: &str) -> Result<Option<String>> {
        self.read_json_attribute(cluster_id, "join_latencies", "state item join_latencies").await
    }

    /// The second step: writes `list` on the condition that the attribute still holds `read`
    /// (absent for `None`). `Ok(false)`: another writer changed it in between.
    pub async fn write_join_latencies_if(
        &self,
        cluster_id: &str,
        read: Option<&str>,
        list: &[JoinLatency],
    ) -> Result<bool> {
        let json = serde_json::to_string(list).map_err(|e| Error::invalid("join_latencies", e.to_string()))?;
        let ttl = (Utc::now() + Duration::days(ITEM_TTL_DAYS)).timestamp();
        self.write_json_attribute_if(cluster_id, "join_latencies", read, json, ttl).await
    }

    /// `attribute` of item `key` as stored (a JSON string), read consistently; `None` when absent.
    /// `field` names it in errors.
    async fn read_json_attribute(&self, key: &str, attribute: &str, field: &str) -> Result<Option<String>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("cluster_id", s(key))
            .projection_expression(attribute)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("dynamodb", &format!("GetItem ({field})"), e))?;
        match out.item().and_then(|i| i.get(attribute)) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(json)) => Ok(Some(json.clone())),
            Some(other) => Err(Error::invalid(field, format!("expected a string, found {other:?}"))),
        }
    }

    /// Writes `json` to `attribute` of item `key` (and the item's TTL, epoch seconds) on the
    /// condition that the attribute still holds `read` (absent for `None`). `Ok(false)`: another
    /// writer changed it in between.
    async fn write_json_attribute_if(
        &self,
        key: &str,
        attribute: &str,
        read: Option<&str>,
        json: String,
        ttl: i64,
    ) -> Result<bool> {
        let mut names = ttl_name();
        names.insert("#attribute".to_string(), attribute.to_string());
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("cluster_id", s(key))
            .update_expression("SET #attribute = :new, #ttl = :ttl")
            .set_expression_attribute_names(Some(names))
            .expression_attribute_values(":new", s(json))
            .expression_attribute_values(":ttl", n(ttl));
        let request = match read {
            None => request.condition_expression("attribute_not_exists(#attribute)"),
            Some(old) => request.condition_expression("#attribute = :old").expression_attribute_values(":old", s(old)),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if error_code(&e) == Some(CONDITION_FAILED) => Ok(false),
            Err(e) => Err(sdk_error("dynamodb", &format!("UpdateItem ({attribute})"), e)),
        }
    }

    /// A read-modify-write of a JSON attribute that loses nothing to a concurrent writer: read
    /// it, let `change` compute the new JSON from what was read (`None`: nothing to write), and
    /// write that only if the attribute is still what was read; a lost race reads again after a
    /// jittered backoff, up to [`CONDITIONAL_WRITE_ATTEMPTS`] times. `Ok(true)`: written;
    /// `Ok(false)`: `change` had nothing to write.
    async fn update_json_attribute<F>(
        &self,
        key: &str,
        attribute: &str,
        field: &str,
        ttl: i64,
        mut change: F,
    ) -> Result<bool>
    where
        F: FnMut(Option<&str>) -> Result<Option<String>>,
    {
        for attempt in 1..=CONDITIONAL_WRITE_ATTEMPTS {
            let read = self.read_json_attribute(key, attribute, field).await?;
            let Some(json) = change(read.as_deref())? else {
                return Ok(false);
            };
            if self.write_json_attribute_if(key, attribute, read.as_deref(), json, ttl).await? {
                return Ok(true);
            }
            tracing::info!(attempt, attribute, "another writer changed it first; reading it again");
            tokio::time::sleep(jittered_backoff(attempt)).await;
        }
        Err(Error::unavailable(
            "dynamodb",
            format!("UpdateItem ({field}): it changed under each of {CONDITIONAL_WRITE_ATTEMPTS} conditional writes"),
        ))
    }

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

    #[instrument(skip(self, latencies), fields(count = latencies.len()))]
    async fn record_join_latencies(&self, cluster_id: &str, latencies: &[JoinLatency]) -> Result<()> {
        if latencies.is_empty() {
            return Ok(());
        }
        let ttl = (Utc::now() + Duration::days(ITEM_TTL_DAYS)).timestamp();
        self.update_json_attribute(cluster_id, "join_latencies", "state item join_latencies", ttl, |read| {
            let kept = read.map(parse_join_latencies).transpose()?.unwrap_or_default();
            let list = state::with_join_latencies(&kept, latencies);
            if list == kept {
                return Ok(None); // every one is recorded already (a later check of the same nodes)
            }
            serde_json::to_string(&list).map(Some).map_err(|e| Error::invalid("join_latencies", e.to_string()))
        })
        .await
        .map(|_| ())
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

    /// A read-modify-write of the day item's `observed` JSON that a concurrent writer cannot
    /// undo, so that a fast-path run and a scheduled run at once both count.
    #[instrument(skip(self, run), fields(at = %run.at))]
    async fn record_observation(&self, cluster_id: &str, run: &cost_ledger::RunObservation) -> Result<bool> {
        let day = run.at.date_naive();
        let key = cost_ledger::bucket_key(cluster_id, day);
        let field = format!("ledger {key} observed");
        self.update_json_attribute(&key, "observed", &field, cost_ledger::bucket_expiry(day), |read| {
            let mut observed = read.map(|json| parse_observations(&key, json)).transpose()?.unwrap_or_default();
            if !observed.add(run) {
                return Ok(None);
            }
            serde_json::to_string(&observed).map(Some).map_err(|e| Error::invalid("observations", e.to_string()))
        })
        .await
    }

    #[instrument(skip(self))]
    async fn cost_ledger(&self, cluster_id: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<CostLedger> {
        let (mut changes, mut dropped, mut observed) = (Vec::new(), 0u64, Vec::new());
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
            match item.get("observed") {
                None => {}
                Some(AttributeValue::S(json)) => observed.push((day, parse_observations(&key, json)?)),
                Some(other) => return Err(field("observed", format!("expected a string, found {other:?}"))),
            }
        }
        Ok(CostLedger::from_changes(changes, dropped, from, to).with_observations(observed))
    }
}

fn parse_observations(key: &str, json: &str) -> Result<cost_ledger::DayObservations> {
    serde_json::from_str(json).map_err(|e| Error::invalid(format!("ledger {key} observed"), e.to_string()))
}

fn parse_join_latencies(json: &str) -> Result<Vec<JoinLatency>> {
    serde_json::from_str(json).map_err(|e| Error::invalid("state item join_latencies", e.to_string()))
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
        join_latencies: string("join_latencies")?
            .as_deref()
            .map(parse_join_latencies)
            .transpose()?
            .map(std::sync::Arc::new)
            .unwrap_or_default(),
    })
}
