//! The AWS adapters against moto_server, over the real wire protocol.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use smartscale_aws::{DynamoStateStore, Ec2Fleet, SecretsClient, SnsNotifier, SqsWorkQueue};
use smartscale_core::messages::{DrainRequest, JoinCheck, WorkMessage};
use smartscale_core::metrics::Sample;
use smartscale_core::notification::{Notification, NotificationEvent};
use smartscale_core::ports::{Fleet, Notifier, StateStore, WorkQueue};
use smartscale_core::state::{LockOutcome, MetricsSnapshot, ReleaseOutcome, ScaleAction, StateUpdate};
use smartscale_core::Error;
use smartscale_testbed::moto;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn store() -> DynamoStateStore {
    let sdk = moto::sdk().await;
    DynamoStateStore::new(&sdk, moto::state_table(&sdk).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_acquisitions_have_exactly_one_winner() {
    let store = store().await;
    let now = t("2026-11-23T12:00:00Z");
    let attempts = (0..20).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.try_acquire_lock("prod", &format!("owner-{i}"), now, 300).await })
    });
    let mut winners = Vec::new();
    for (i, attempt) in attempts.enumerate() {
        match attempt.await.unwrap().expect("no errors, only outcomes") {
            LockOutcome::Acquired { expires_at } => {
                assert_eq!(expires_at, now + Duration::seconds(300));
                winners.push(format!("owner-{i}"));
            }
            LockOutcome::Held => {}
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let item = store.get("prod").await.unwrap().unwrap();
    assert_eq!(item.lock_owner.as_ref(), Some(&winners[0]));
    assert!(item.lock_held_at(now));
}

#[tokio::test]
async fn expiry_lets_a_new_owner_in_and_late_releases_are_refused() {
    let store = store().await;
    let now = t("2026-11-23T12:00:00Z");
    assert!(matches!(store.try_acquire_lock("prod", "a", now, 300).await.unwrap(), LockOutcome::Acquired { .. }));
    assert_eq!(
        store.try_acquire_lock("prod", "b", now + Duration::seconds(299), 300).await.unwrap(),
        LockOutcome::Held
    );
    assert_eq!(
        store.try_acquire_lock("prod", "b", now + Duration::seconds(300), 300).await.unwrap(),
        LockOutcome::Held
    );
    let later = now + Duration::seconds(301);
    assert!(matches!(store.try_acquire_lock("prod", "b", later, 300).await.unwrap(), LockOutcome::Acquired { .. }));

    // a's worker finishes late: its release must not free b's lock.
    assert_eq!(store.release_lock("prod", "a", &StateUpdate::default()).await.unwrap(), ReleaseOutcome::NotOwner);
    let item = store.get("prod").await.unwrap().unwrap();
    assert_eq!(item.lock_owner.as_deref(), Some("b"));

    let done = StateUpdate {
        node_count: Some(5),
        last_scale_time: Some(later),
        last_scale_action: Some(ScaleAction::ScaleUp),
        last_scale_reason: Some("cpu 80.0% > 70% for 4m00s".into()),
        ..Default::default()
    };
    assert_eq!(store.release_lock("prod", "b", &done).await.unwrap(), ReleaseOutcome::Released);
    let item = store.get("prod").await.unwrap().unwrap();
    assert!(!item.scaling_in_progress && item.lock_owner.is_none() && item.lock_expiry.is_none());
    assert_eq!(
        (item.node_count, item.last_scale_action, item.last_scale_time),
        (5, Some(ScaleAction::ScaleUp), Some(later))
    );
    assert_eq!(store.release_lock("prod", "b", &StateUpdate::default()).await.unwrap(), ReleaseOutcome::NotOwner);
    // Free again: anyone may take it.
    assert!(matches!(store.try_acquire_lock("prod", "c", later, 300).await.unwrap(), LockOutcome::Acquired { .. }));
}

#[tokio::test]
async fn state_round_trips_with_snapshot_and_ttl() {
    let store = store().await;
    let at = t("2026-11-23T12:00:00Z");
    let snapshot = MetricsSnapshot {
        taken_at: at,
        samples: vec![Sample {
            at,
            cpu_pct: Some(81.5),
            mem_pct: Some(60.0),
            pending_pods: Some(2),
            ..Default::default()
        }]
        .into(),
    };
    store
        .update(
            "prod",
            &StateUpdate { node_count: Some(4), metrics_snapshot: Some(snapshot.clone()), ..Default::default() },
        )
        .await
        .unwrap();
    let item = store.get("prod").await.unwrap().unwrap();
    assert_eq!(item.node_count, 4);
    assert_eq!(item.metrics_snapshot, Some(snapshot));
    assert!(store.get("staging").await.unwrap().is_none());

    let raw = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("cluster_id", aws_sdk_dynamodb::types::AttributeValue::S("prod".into()))
        .send()
        .await
        .unwrap();
    let ttl: i64 = raw.item().unwrap()["ttl"].as_n().unwrap().parse().unwrap();
    assert!(ttl > Utc::now().timestamp() + 86_400 * 29, "items expire 30 days after the last write");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_clear_error_not_a_panic() {
    let sdk = smartscale_aws::local_sdk_config(&smartscale_testbed::closed_port_url()).await;
    let store = DynamoStateStore::new(&sdk, "smartscale-state");
    let err = store.get("prod").await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { ref service, .. } if service == "dynamodb"), "{err}");
    assert!(err.to_string().contains("GetItem"), "{err}");
}

#[tokio::test]
async fn sqs_messages_carry_kind_delay_and_decode() {
    let sdk = moto::sdk().await;
    let queues = moto::queues(&sdk, 3).await;
    let queue = SqsWorkQueue::new(&sdk, &queues.scale_up_url, &queues.drain_url);
    let drain = WorkMessage::DrainRequest(DrainRequest {
        decision_id: "dec-1".into(),
        cluster_id: "prod".into(),
        lock_token: Some("dec-1".into()),
        node: None,
        reason: "quiet".into(),
        requested_at: t("2026-11-23T12:00:00Z"),
        deadline: None,
        spot_reclaim: false,
    });
    queue.send(&drain, 0).await.unwrap();
    let received = moto::receive_all(&sdk, &queues.drain_url).await;
    assert_eq!(received.len(), 1);
    assert_eq!(WorkMessage::decode(&received[0].body).unwrap(), drain);
    assert_eq!(received[0].attributes["kind"], "drain_request");
    assert_eq!(received[0].attributes["decision_id"], "dec-1");

    // A delayed message is invisible until its delay has passed.
    let check = WorkMessage::JoinCheck(JoinCheck {
        decision_id: "dec-2".into(),
        cluster_id: "prod".into(),
        lock_token: None,
        instance_ids: vec!["i-1".into()],
        launched_at: t("2026-11-23T12:00:00Z"),
        deadline: t("2026-11-23T12:05:00Z"),
        attempt: 1,
    });
    queue.send(&check, 2).await.unwrap();
    assert!(moto::receive_all(&sdk, &queues.scale_up_url).await.is_empty(), "delayed message visible too early");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let received = moto::receive_all(&sdk, &queues.scale_up_url).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].attributes["kind"], "join_check");

    let err = queue.send(&check, 901).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { ref field, .. } if field == "delay_s"), "{err}");
}

#[tokio::test]
async fn sns_notifications_reach_a_subscribed_queue_with_filter_attributes() {
    let sdk = moto::sdk().await;
    let (topic_arn, queue_url) = moto::topic_with_subscriber(&sdk).await;
    let notifier = SnsNotifier::new(&sdk, &topic_arn);
    let notification = Notification::new(
        "prod",
        t("2026-11-23T12:00:00Z"),
        NotificationEvent::AtMaxCapacity {
            node_count: 10,
            max_nodes: 10,
            reasons: vec!["cpu 92.0% > 70% for 4m00s".into()],
        },
    );
    notifier.publish(&notification).await.unwrap();
    let received = moto::receive_all(&sdk, &queue_url).await;
    assert_eq!(received.len(), 1);
    assert_eq!(Notification::decode(&received[0].body).unwrap(), notification);
    assert_eq!(received[0].attributes.get("kind").map(String::as_str), Some("at_max_capacity"));
    assert_eq!(received[0].attributes.get("severity").map(String::as_str), Some("warning"));
}

#[tokio::test]
async fn ec2_describe_counts_only_this_clusters_managed_instances() {
    let sdk = moto::sdk().await;
    let cluster = smartscale_testbed::unique("cluster");
    let ours = moto::managed_instances(&sdk, &cluster, 3).await;
    moto::managed_instances(&sdk, "someone-else", 2).await;
    moto::instances_with_tags(&sdk, 1, BTreeMap::from([("Cluster".to_string(), cluster.clone())])).await;

    let fleet = Ec2Fleet::new(&sdk, &cluster, None);
    let mut found: Vec<String> = fleet.describe_managed().await.unwrap().into_iter().map(|i| i.instance_id).collect();
    found.sort();
    let mut expected = ours.clone();
    expected.sort();
    assert_eq!(found, expected);
    let instance = &fleet.describe_managed().await.unwrap()[0];
    assert_eq!(instance.tags["Project"], "SmartScale");
    assert!(instance.state.is_active());
}

#[tokio::test]
async fn secrets_are_read_as_json_fields() {
    let sdk = moto::sdk().await;
    let id = moto::secret(&sdk, r#"{"username":"prom","password":"s3cret"}"#).await;
    let secrets = SecretsClient::new(&sdk);
    assert_eq!(secrets.json_field(&id, "username").await.unwrap(), "prom");
    let err = secrets.json_field(&id, "token").await.unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "secret values never appear in errors: {err}");
    assert!(matches!(secrets.string("no-such-secret").await.unwrap_err(), Error::Rejected { .. }));
}

#[tokio::test]
async fn terminate_refuses_an_untagged_instance_and_stops_a_managed_one() {
    let sdk = moto::sdk().await;
    let cluster = smartscale_testbed::unique("cluster");
    let ours = moto::managed_instances(&sdk, &cluster, 1).await;
    let stranger =
        moto::instances_with_tags(&sdk, 1, BTreeMap::from([("Name".to_string(), "bastion".to_string())])).await;
    let fleet = Ec2Fleet::new(&sdk, &cluster, None);

    let err = fleet.terminate(&[ours[0].clone(), stranger[0].clone()]).await.unwrap_err();
    assert!(matches!(err, Error::Rejected { .. }), "{err}");
    assert!(err.to_string().contains(&stranger[0]), "{err}");
    let states: Vec<bool> = fleet.describe_managed().await.unwrap().iter().map(|i| i.state.is_active()).collect();
    assert_eq!(states, vec![true], "a refused call terminates nothing");

    fleet.terminate(&ours).await.unwrap();
    let after = fleet.describe_managed().await.unwrap();
    assert!(!after[0].state.is_active(), "{:?}", after[0].state);
    let err = fleet.terminate(&["i-0123456789abcdef0".to_string()]).await.unwrap_err();
    assert!(matches!(err, Error::Rejected { .. }), "an unknown id is refused: {err}");
}

#[tokio::test]
async fn an_event_is_claimed_once() {
    let store = store().await;
    let now = t("2026-11-23T12:00:00Z");
    assert!(!store.event_seen("prod", "evt-1").await.unwrap());
    assert!(store.claim_event("prod", "evt-1", now, 86_400).await.unwrap());
    assert!(!store.claim_event("prod", "evt-1", now, 86_400).await.unwrap(), "a second claim is refused");
    assert!(store.event_seen("prod", "evt-1").await.unwrap());
    assert!(store.get("prod").await.unwrap().is_none(), "event records do not touch the state item");
}
