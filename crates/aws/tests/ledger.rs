//! The savings ledger in DynamoDB (moto_server, over the real wire protocol): day buckets,
//! the size bound with its dropped count, the TTL, and deduplicated reads.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use smartscale_aws::DynamoStateStore;
use smartscale_core::cost_ledger::{self, CostChange, CostChangeKind, LEDGER_DAY_CAPACITY};
use smartscale_core::ports::{Lifecycle, StateStore};
use smartscale_testbed::moto;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn change(id: &str, kind: CostChangeKind, at: &str, usd: f64) -> CostChange {
    CostChange {
        at: t(at),
        kind,
        instance_id: id.into(),
        instance_type: "t3.small".into(),
        lifecycle: Lifecycle::Spot,
        usd_per_hour: Some(usd),
        decision_id: Some("d-1".into()),
        spot_fallback: false,
    }
}

#[tokio::test]
async fn changes_round_trip_by_day_deduplicated_with_the_buckets_ttl() {
    let sdk = moto::sdk().await;
    let table = moto::state_table(&sdk).await;
    let store = DynamoStateStore::new(&sdk, &table);
    let cluster = smartscale_testbed::unique("cluster");
    let launch = change("i-1", CostChangeKind::Launch, "2026-11-23T10:00:00Z", 0.00728);
    assert!(store.record_cost_change(&cluster, &launch).await.unwrap());
    // SQS redelivered the message: the same launch recorded again, later.
    let copy = CostChange { at: t("2026-11-23T10:01:00Z"), ..launch.clone() };
    assert!(store.record_cost_change(&cluster, &copy).await.unwrap());
    let down = change("i-1", CostChangeKind::Termination, "2026-11-24T03:00:00Z", -0.00728);
    assert!(store.record_cost_change(&cluster, &down).await.unwrap());
    let outside = change("i-2", CostChangeKind::Launch, "2026-11-25T00:00:00Z", 0.00728);
    assert!(store.record_cost_change(&cluster, &outside).await.unwrap());

    let ledger = store.cost_ledger(&cluster, t("2026-11-23T00:00:00Z"), t("2026-11-24T23:59:59Z")).await.unwrap();
    assert_eq!(ledger.changes, vec![launch, down]);
    assert_eq!(ledger.dropped, 0);
    assert_eq!(ledger.net_usd_per_hour(), Some(0.0));

    let day = cost_ledger::bucket_key(&cluster, t("2026-11-23T00:00:00Z").date_naive());
    let item = sdk_item(&sdk, &table, &day).await;
    assert_eq!(
        item.get("ttl"),
        Some(&AttributeValue::N(t("2026-12-29T00:00:00Z").timestamp().to_string())),
        "the bucket expires 35 days after its day"
    );
    assert!(store.get(&cluster).await.unwrap().is_none(), "ledger buckets do not touch the state item");
}

#[tokio::test]
async fn a_full_day_keeps_its_bound_and_counts_what_it_drops() {
    let sdk = moto::sdk().await;
    let store = DynamoStateStore::new(&sdk, moto::state_table(&sdk).await);
    let cluster = smartscale_testbed::unique("cluster");
    for i in 0..LEDGER_DAY_CAPACITY {
        let c = change(&format!("i-{i:05}"), CostChangeKind::Launch, "2026-11-23T10:00:00Z", 0.00728);
        assert!(store.record_cost_change(&cluster, &c).await.unwrap(), "change {i}");
    }
    for extra in ["i-x1", "i-x2"] {
        let c = change(extra, CostChangeKind::Launch, "2026-11-23T23:00:00Z", 0.00728);
        assert!(!store.record_cost_change(&cluster, &c).await.unwrap(), "the day is full");
    }
    let next_day = change("i-x3", CostChangeKind::Launch, "2026-11-24T00:00:00Z", 0.00728);
    assert!(store.record_cost_change(&cluster, &next_day).await.unwrap(), "a new day has room");
    let ledger = store.cost_ledger(&cluster, t("2026-11-23T00:00:00Z"), t("2026-11-24T12:00:00Z")).await.unwrap();
    assert_eq!(ledger.changes.len(), LEDGER_DAY_CAPACITY as usize + 1);
    assert_eq!(ledger.dropped, 2);
}

async fn sdk_item(
    sdk: &aws_config::SdkConfig,
    table: &str,
    key: &str,
) -> std::collections::HashMap<String, AttributeValue> {
    aws_sdk_dynamodb::Client::new(sdk)
        .get_item()
        .table_name(table)
        .key("cluster_id", AttributeValue::S(key.into()))
        .send()
        .await
        .unwrap()
        .item()
        .cloned()
        .expect("the bucket item exists")
}
