//! The report handler on the in-memory ports: a week recorded in the ledger becomes the report
//! it publishes, unknown CPU stays unknown, and a bad event names its field.

use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use smartscale_core::config::MapConfig;
use smartscale_core::cost_ledger::{record_changes, CostChange};
use smartscale_core::fakes::{FakeClock, FakeFleet, FakeMetrics, FakeStateStore, FetchOp};
use smartscale_core::metrics::Sample;
use smartscale_core::ports::{InstanceState, Lifecycle};
use smartscale_core::pricing::PriceTable;
use smartscale_core::Error;
use smartscale_cost_report::{handle, CostReportConfig, Deps, RecordingPublisher};

type FakeDeps = Deps<FakeStateStore, FakeFleet, FakeMetrics, RecordingPublisher, FakeClock>;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

const MONDAY: &str = "2026-11-23T09:00:00Z";

/// Two On-Demand nodes all week; a Spot node launched Tuesday 09:00 and removed Thursday 09:00.
async fn week() -> FakeDeps {
    let now = t(MONDAY);
    let clock = FakeClock::new(now - Duration::days(30));
    let fleet = FakeFleet::new("prod", clock.clone());
    fleet.add_running("t3.small", "us-east-1a", Lifecycle::OnDemand);
    fleet.add_running("t3.small", "us-east-1b", Lifecycle::OnDemand);
    let spot = fleet.add_running("t3.small", "us-east-1a", Lifecycle::Spot);
    fleet.set_state(&spot.instance_id, InstanceState::Terminated);
    let state = FakeStateStore::new();
    let prices = PriceTable::default();
    let changes = vec![
        CostChange::launch(&spot, &prices, t("2026-11-17T09:00:00Z")).with_decision("d-up"),
        CostChange::termination(&spot, &prices, t("2026-11-19T09:00:00Z")).with_decision("d-down"),
    ];
    record_changes(&state, "prod", changes).await.unwrap();
    let metrics = FakeMetrics::new(
        (0..168).map(|h| Sample { cpu_pct: Some(45.0), ..Sample::at(now - Duration::hours(168 - h)) }).collect(),
    );
    clock.set(now);
    let config = CostReportConfig::from_config(&MapConfig::new().with("CLUSTER_ID", "prod")).unwrap();
    Deps { config, state, fleet, metrics, publisher: RecordingPublisher::default(), clock }
}

fn event(value: serde_json::Value) -> LambdaEvent<serde_json::Value> {
    LambdaEvent::new(value, Context::default())
}

#[tokio::test]
async fn the_scheduled_run_publishes_the_week_from_the_ledger() {
    let deps = week().await;
    let report = handle(event(json!({"days": 7})), &deps).await.unwrap();
    assert_eq!(deps.publisher.reports(), vec![report.clone()]);
    assert_eq!((report.from, report.to), (t("2026-11-16T09:00:00Z"), t(MONDAY)));
    assert!((report.on_demand.node_hours - 336.0).abs() < 1e-9);
    assert!((report.spot.node_hours - 48.0).abs() < 1e-9);
    let cost = 336.0 * 0.0208 + 48.0 * 0.0208 * 0.35;
    assert!((report.cost_usd.unwrap() - cost).abs() < 1e-9);
    assert!((report.baseline_cost_usd - 168.0 * 0.104).abs() < 1e-9);
    assert_eq!((report.scale_ups, report.scale_downs, report.unaccounted_instances), (1, 1, 0));
    assert_eq!(report.cpu_avg_pct, Some(45.0));
    assert!(report.recommendations.is_empty(), "{:?}", report.recommendations);
}

#[tokio::test]
async fn a_prometheus_outage_leaves_cpu_unknown_and_the_report_still_goes_out() {
    let deps = week().await;
    deps.metrics.faults.fail_always(FetchOp, Error::unavailable("prometheus", "connection refused"));
    let report = handle(event(json!({})), &deps).await.unwrap();
    assert_eq!(report.cpu_avg_pct, None);
    assert!(report.cpu_unknown_reason.as_deref().unwrap().contains("connection refused"));
    assert!(report.cost_usd.is_some());
}

#[tokio::test]
async fn a_missed_week_is_rerun_with_end_and_bad_events_name_the_field() {
    let deps = week().await;
    let report = handle(event(json!({"end": "2026-11-18T09:00:00Z", "days": 2})), &deps).await.unwrap();
    assert_eq!(report.from, t("2026-11-16T09:00:00Z"));
    assert_eq!(report.launches, 1);
    assert_eq!(report.scale_downs, 0, "the removal is after the window");
    for (bad, field) in [(json!({"days": 90}), "days"), (json!({"weeks": 1}), "weeks"), (json!({"days": "7"}), "days")]
    {
        let err = handle(event(bad.clone()), &deps).await.unwrap_err().to_string();
        assert!(err.contains(field), "{bad}: {err}");
    }
}

#[tokio::test]
async fn the_forwarder_renders_the_published_report() {
    let deps = week().await;
    let report = handle(event(json!({})), &deps).await.unwrap();
    let body = serde_json::to_string(&report).unwrap();
    let message = smartscale_slack_forwarder::message_for(&body, &Default::default()).unwrap();
    let text = message.to_string();
    assert!(message["blocks"][0]["text"]["text"].as_str().unwrap().starts_with("💰 Weekly cost report: prod"));
    assert!(text.contains(&smartscale_core::cost_report::usd(report.cost_usd.unwrap())), "{text}");
    assert!(text.contains("1 scale-ups (1 nodes), 1 scale-downs"), "{text}");
}

#[tokio::test]
async fn the_decider_s_observations_become_the_week_s_unschedulable_time() {
    use smartscale_core::cost_ledger::RunObservation;
    use smartscale_core::ports::StateStore;
    let deps = week().await;
    // The decider ran every 2 minutes on Wednesday 10:00–12:00, a pod unschedulable throughout
    // the first half hour; one run's query failed.
    let start = t("2026-11-18T10:00:00Z");
    for i in 0..=60 {
        let at = start + Duration::minutes(2 * i);
        let pods = if at <= start + Duration::minutes(30) { 1 } else { 0 };
        let samples = (0..=22).map(|k| (at - Duration::seconds(30 * k), Some(pods))).collect();
        let run = RunObservation { at, unschedulable: (i != 40).then_some(samples), sample_step_s: 30, forecast: None };
        assert!(deps.state.record_observation("prod", &run).await.unwrap());
    }
    let report = handle(event(json!({"days": 7})), &deps).await.unwrap();
    let u = report.unschedulable;
    // 09:45–12:00 accounted: the first run's 15 minutes (11.5 covered by samples), then 2 min a run.
    assert!((u.known_minutes - (11.5 + 118.0)).abs() < 1e-9, "{u:?}");
    assert!((u.failed_minutes - 5.5).abs() < 1e-9, "{u:?}");
    // 09:49 to 10:30 had the pod waiting: 11.5 + 30 min.
    assert!((u.minutes - 41.5).abs() < 1e-9 && (u.pod_minutes - 41.5).abs() < 1e-9, "{u:?}");
    assert!((u.unknown_minutes - (7.0 * 1440.0 - 129.5)).abs() < 1e-9);
    assert_eq!(deps.publisher.reports()[0].unschedulable, u, "what is published is what was computed");
}
