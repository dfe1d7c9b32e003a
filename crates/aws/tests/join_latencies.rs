//! The join latencies of the state item (predictive scaling's lead time) through DynamoDB on
//! moto_server: appended beside the other fields, bounded to the newest fifty, kept whole when
//! many workers record at once, and a malformed attribute an error that names it.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use smartscale_aws::DynamoStateStore;
use smartscale_core::ports::StateStore;
use smartscale_core::state::{JoinLatency, StateUpdate, JOIN_LATENCIES_KEPT};
use smartscale_core::Error;
use smartscale_testbed::moto;

fn at() -> DateTime<Utc> {
    "2026-11-23T08:00:00Z".parse().unwrap()
}

fn join(id: &str, seconds: f64) -> JoinLatency {
    JoinLatency { instance_id: id.into(), ready_at: at() + Duration::seconds(seconds as i64), seconds }
}

async fn store() -> DynamoStateStore {
    let sdk = moto::sdk().await;
    DynamoStateStore::new(&sdk, moto::state_table(&sdk).await)
}

#[tokio::test]
async fn join_latencies_are_appended_beside_the_item_and_kept_by_its_other_writes() {
    let store = store().await;
    let cluster = smartscale_testbed::unique("joins");
    store.update(&cluster, &StateUpdate { node_count: Some(3), ..Default::default() }).await.unwrap();
    store.record_join_latencies(&cluster, &[join("i-1", 312.5), join("i-2", 420.25)]).await.unwrap();
    // A redelivered check's copy and a new node: the copy is not counted twice.
    store.record_join_latencies(&cluster, &[join("i-2", 435.0), join("i-3", 97.75)]).await.unwrap();
    // The decider's and the workers' writes of other fields leave the list alone.
    store.update(&cluster, &StateUpdate { node_count: Some(5), ..Default::default() }).await.unwrap();
    let item = store.get(&cluster).await.unwrap().unwrap();
    assert_eq!(item.node_count, 5);
    assert_eq!(*item.join_latencies, vec![join("i-1", 312.5), join("i-2", 420.25), join("i-3", 97.75)]);

    // An item that does not exist yet is created with the list alone.
    let fresh = smartscale_testbed::unique("joins");
    store.record_join_latencies(&fresh, &[join("i-9", 200.0)]).await.unwrap();
    let item = store.get(&fresh).await.unwrap().unwrap();
    assert_eq!((item.node_count, item.join_latencies.len()), (0, 1));
}

#[tokio::test]
async fn the_list_keeps_the_newest_fifty() {
    let store = store().await;
    let cluster = smartscale_testbed::unique("joins");
    let first: Vec<JoinLatency> = (0..40).map(|i| join(&format!("i-a{i:02}"), 300.0 + f64::from(i))).collect();
    let second: Vec<JoinLatency> = (0..20).map(|i| join(&format!("i-b{i:02}"), 600.0 + f64::from(i))).collect();
    store.record_join_latencies(&cluster, &first).await.unwrap();
    store.record_join_latencies(&cluster, &second).await.unwrap();
    let item = store.get(&cluster).await.unwrap().unwrap();
    assert_eq!(item.join_latencies.len(), JOIN_LATENCIES_KEPT);
    assert_eq!(item.join_latencies[0].instance_id, "i-a10", "the ten oldest went");
    assert_eq!(item.join_latencies.last().unwrap().instance_id, "i-b19");
}

/// Two workers finishing at once, interleaved step by step: A reads, B records, A's conditional
/// write is refused (the list is no longer what A read), and A's record reads again and keeps
/// both. (moto_server itself is not linearizable: its threads evaluate a condition and apply
/// the write without a lock, so sixteen truly parallel writers can lose one there, which
/// DynamoDB's atomic conditional writes never do. The race is therefore staged here.)
#[tokio::test]
async fn a_worker_that_loses_the_race_reads_again_and_loses_nothing() {
    let store = store().await;
    let cluster = smartscale_testbed::unique("joins");
    store.record_join_latencies(&cluster, &[join("i-0", 100.0)]).await.unwrap();

    let read_by_a = store.read_join_latencies(&cluster).await.unwrap();
    assert!(read_by_a.as_deref().is_some_and(|j| j.contains("i-0")), "{read_by_a:?}");
    store.record_join_latencies(&cluster, &[join("i-b", 200.0)]).await.unwrap(); // worker B
    let a_list = [join("i-0", 100.0), join("i-a", 300.0)];
    let won = store.write_join_latencies_if(&cluster, read_by_a.as_deref(), &a_list).await.unwrap();
    assert!(!won, "a write from a stale read must be refused");
    let absent = smartscale_testbed::unique("joins");
    store.record_join_latencies(&absent, &[join("i-x", 1.0)]).await.unwrap();
    assert!(!store.write_join_latencies_if(&absent, None, &a_list).await.unwrap(), "absent no longer");

    store.record_join_latencies(&cluster, &[join("i-a", 300.0)]).await.unwrap(); // A again
    let ids: Vec<String> =
        store.get(&cluster).await.unwrap().unwrap().join_latencies.iter().map(|j| j.instance_id.clone()).collect();
    assert_eq!(ids, vec!["i-0", "i-b", "i-a"]);
}

/// Eight workers recording at once over their own connections: all succeed (the retries absorb
/// the lost races). Entries are not counted here: see the test above for why moto can drop one.
#[tokio::test]
async fn concurrent_workers_all_get_their_write_through() {
    let cluster = smartscale_testbed::unique("joins");
    let table = moto::state_table(&moto::sdk().await).await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (cluster, table) = (cluster.clone(), table.clone());
        tasks.push(tokio::spawn(async move {
            let store = DynamoStateStore::new(&moto::sdk().await, table);
            store.record_join_latencies(&cluster, &[join(&format!("i-w{w}"), 300.0)]).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let item = DynamoStateStore::new(&moto::sdk().await, table).get(&cluster).await.unwrap().unwrap();
    assert!(!item.join_latencies.is_empty());
}

#[tokio::test]
async fn a_malformed_list_is_an_error_naming_the_attribute() {
    let sdk = moto::sdk().await;
    let table = moto::state_table(&sdk).await;
    let store = DynamoStateStore::new(&sdk, &table);
    let cluster = smartscale_testbed::unique("joins");
    store
        .client()
        .put_item()
        .table_name(&table)
        .item("cluster_id", AttributeValue::S(cluster.clone()))
        .item("join_latencies", AttributeValue::S("[{\"instance_id\":\"i-1\"}]".into()))
        .send()
        .await
        .unwrap();
    for err in [
        store.get(&cluster).await.unwrap_err(),
        store.record_join_latencies(&cluster, &[join("i-2", 1.0)]).await.unwrap_err(),
    ] {
        match err {
            Error::Invalid { field, .. } => assert_eq!(field, "state item join_latencies"),
            other => panic!("{other}"),
        }
    }
}
