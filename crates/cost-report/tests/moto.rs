//! The report over the real wire protocol (moto_server): the ledger in DynamoDB, the fleet
//! from EC2, and the report published to SNS with its attributes, as the forwarder receives it.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use smartscale_aws::{DynamoStateStore, Ec2Fleet};
use smartscale_core::config::MapConfig;
use smartscale_core::cost_ledger::{record_changes, CostChange};
use smartscale_core::cost_report::CostReport;
use smartscale_core::fakes::{FakeClock, FakeMetrics};
use smartscale_core::ports::Fleet;
use smartscale_core::pricing::PriceTable;
use smartscale_cost_report::wiring::SnsReportPublisher;
use smartscale_cost_report::{run, CostReportConfig, Deps, ReportEvent};
use smartscale_testbed::moto;

#[tokio::test]
async fn the_report_reads_dynamodb_and_ec2_and_reaches_the_topic() {
    let sdk = moto::sdk().await;
    let cluster = smartscale_testbed::unique("cluster");
    let table = moto::state_table(&sdk).await;
    let (topic_arn, queue_url) = moto::topic_with_subscriber(&sdk).await;
    moto::managed_instances(&sdk, &cluster, 2).await;
    let state = DynamoStateStore::new(&sdk, &table);
    let fleet = Ec2Fleet::new(&sdk, &cluster, None);
    let now = Utc::now();
    // One of the two running instances was launched by SmartScale a day ago, per the ledger.
    let instances = fleet.describe_managed().await.unwrap();
    let launched = &instances[0];
    let change = CostChange::launch(launched, &PriceTable::default(), now - Duration::days(1)).with_decision("d-1");
    record_changes(&state, &cluster, vec![change]).await.unwrap();

    let config = CostReportConfig::from_config(&MapConfig::new().with("CLUSTER_ID", &cluster)).unwrap();
    let deps = Deps {
        config,
        state,
        fleet,
        metrics: FakeMetrics::default(),
        publisher: SnsReportPublisher::new(&sdk, topic_arn),
        clock: FakeClock::new(now),
    };
    let report = run(&ReportEvent::default(), &deps).await.unwrap();
    assert_eq!((report.launches, report.scale_ups), (1, 1));
    let hours = report.on_demand.node_hours + report.spot.node_hours;
    assert!(hours > 24.0 && hours <= 24.0 + 7.0 * 24.0, "{hours}");
    assert_eq!(report.cpu_unknown_reason.as_deref(), Some("Prometheus returned no CPU samples for the window"));

    let received = moto::receive_all(&sdk, &queue_url).await;
    assert_eq!(received.len(), 1);
    // The body is the report's own serialization: every figure exact (shortest round-trip digits).
    assert_eq!(received[0].body, serde_json::to_string(&report).unwrap());
    let published: CostReport = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!((published.launches, published.cluster_id.as_str()), (1, cluster.as_str()));
    let expected: HashMap<String, String> =
        [("kind", "cost_report"), ("severity", "info"), ("cluster_id", cluster.as_str())]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert_eq!(received[0].attributes, expected);
    let message = smartscale_slack_forwarder::message_for(&received[0].body, &Default::default()).unwrap();
    assert!(message["text"].as_str().unwrap().contains("Weekly cost report"));
}
