//! The decider's day observations in DynamoDB (moto_server, over the real wire protocol): in
//! the ledger's day item beside the changes, under its TTL, read back by `cost_ledger`, and
//! two runs at once both counted (the conditional write retries).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use smartscale_aws::DynamoStateStore;
use smartscale_core::cost_ledger::{self, CostChange, CostChangeKind, RunObservation};
use smartscale_core::ports::{Lifecycle, StateStore};
use smartscale_testbed::moto;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A run at `at` whose 30 s samples all show `pods` unschedulable pods.
fn run(at: DateTime<Utc>, pods: u32) -> RunObservation {
    RunObservation {
        at,
        unschedulable: Some((0..=22).map(|i| (at - Duration::seconds(30 * i), Some(pods))).collect()),
        sample_step_s: 30,
        forecast: None,
    }
}

#[tokio::test]
async fn observations_share_the_day_item_with_the_changes_and_concurrent_runs_both_count() {
    let sdk = moto::sdk().await;
    let table = moto::state_table(&sdk).await;
    let store = DynamoStateStore::new(&sdk, &table);
    let cluster = smartscale_testbed::unique("cluster");
    let launch = CostChange {
        at: t("2026-11-23T10:00:00Z"),
        kind: CostChangeKind::Launch,
        instance_id: "i-1".into(),
        instance_type: "t3.small".into(),
        lifecycle: Lifecycle::Spot,
        usd_per_hour: Some(0.00728),
        decision_id: Some("d-1".into()),
        spot_fallback: false,
    };
    assert!(store.record_cost_change(&cluster, &launch).await.unwrap());
    // 10:00 (15 min accounted, 11.5 known), then 10:02 (2 min, 2 pods).
    assert!(store.record_observation(&cluster, &run(t("2026-11-23T10:00:00Z"), 0)).await.unwrap());
    assert!(store.record_observation(&cluster, &run(t("2026-11-23T10:02:00Z"), 2)).await.unwrap());
    assert!(!store.record_observation(&cluster, &run(t("2026-11-23T10:02:00Z"), 2)).await.unwrap(), "a redelivery");
    // A fast-path run and a scheduled run at once: the conditional write makes one re-read.
    let (fast, scheduled) = (run(t("2026-11-23T10:03:00Z"), 1), run(t("2026-11-23T10:04:00Z"), 1));
    let (a, b) =
        tokio::join!(store.record_observation(&cluster, &fast), store.record_observation(&cluster, &scheduled));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(b, "the later run always counts");

    let ledger = store.cost_ledger(&cluster, t("2026-11-23T00:00:00Z"), t("2026-11-23T23:59:59Z")).await.unwrap();
    assert_eq!(ledger.changes, vec![launch], "the changes are untouched");
    let [(day, observed)] = ledger.observed.as_slice() else { panic!("one day: {:?}", ledger.observed) };
    assert_eq!(*day, t("2026-11-23T00:00:00Z").date_naive());
    let slot = &observed.hours[&10];
    // Whatever order the two landed in, 09:45 to 10:04 is accounted for once: if the 10:03 run
    // lost (it came after the 10:04 one) its minute is in the 10:04 run's span.
    assert!((slot.known_min + slot.unknown_min - 19.0).abs() < 1e-9, "{slot:?} ({a}, {b})");
    assert!((slot.known_min - 15.5).abs() < 1e-9, "{slot:?}");
    assert!((slot.unschedulable_min - 4.0).abs() < 1e-9 && (slot.unschedulable_pod_min - 6.0).abs() < 1e-9, "{slot:?}");
    assert_eq!(observed.observed_until, Some(t("2026-11-23T10:04:00Z")));

    let key = cost_ledger::bucket_key(&cluster, *day);
    let item = aws_sdk_dynamodb::Client::new(&sdk)
        .get_item()
        .table_name(&table)
        .key("cluster_id", AttributeValue::S(key))
        .send()
        .await
        .unwrap()
        .item()
        .cloned()
        .expect("the day item");
    assert_eq!(item.get("ttl"), Some(&AttributeValue::N(t("2026-12-29T00:00:00Z").timestamp().to_string())));
    assert!(matches!(item.get("observed"), Some(AttributeValue::S(json)) if json.len() < 2_000));
}

#[tokio::test]
async fn a_corrupt_observations_attribute_is_an_error_naming_it() {
    let sdk = moto::sdk().await;
    let table = moto::state_table(&sdk).await;
    let store = DynamoStateStore::new(&sdk, &table);
    let cluster = smartscale_testbed::unique("cluster");
    let key = cost_ledger::bucket_key(&cluster, t("2026-11-23T00:00:00Z").date_naive());
    aws_sdk_dynamodb::Client::new(&sdk)
        .put_item()
        .table_name(&table)
        .item("cluster_id", AttributeValue::S(key.clone()))
        .item("observed", AttributeValue::N("7".into()))
        .send()
        .await
        .unwrap();
    let err = store.record_observation(&cluster, &run(t("2026-11-23T10:00:00Z"), 0)).await.unwrap_err();
    assert!(err.to_string().contains(&format!("ledger {key} observed")), "{err}");
    let err = store.cost_ledger(&cluster, t("2026-11-23T00:00:00Z"), t("2026-11-23T12:00:00Z")).await.unwrap_err();
    assert!(err.to_string().contains("observed"), "{err}");
}
