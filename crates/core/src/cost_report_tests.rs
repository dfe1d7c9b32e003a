use super::*;
use crate::config::MapConfig;
use crate::cost_ledger::CostChange;
use crate::ports::InstanceState;
use crate::pricing::PriceTable;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn instance(id: &str, lifecycle: Lifecycle, state: InstanceState, launched: &str) -> Instance {
    Instance {
        instance_id: id.into(),
        instance_type: "t3.small".into(),
        availability_zone: "us-east-1a".into(),
        subnet_id: "subnet-a".into(),
        lifecycle,
        state,
        private_dns_name: None,
        launched_at: Some(t(launched)),
        tags: Default::default(),
    }
}

const FROM: &str = "2026-11-16T09:00:00Z";
const TO: &str = "2026-11-23T09:00:00Z";

/// Two On-Demand floor nodes all week; two Spot nodes from Tuesday (one removed Wednesday, one
/// interrupted Friday); an On-Demand node launched Saturday that left with no record.
fn week() -> (CostLedger, Vec<Instance>) {
    use InstanceState::*;
    let prices = PriceTable::default();
    let i3 = instance("i-3", Lifecycle::Spot, Terminated, "2026-11-17T09:00:00Z");
    let i4 = instance("i-4", Lifecycle::Spot, Terminated, "2026-11-17T09:00:00Z");
    let i5 = instance("i-5", Lifecycle::OnDemand, Terminated, "2026-11-21T09:00:00Z");
    let changes = vec![
        CostChange::launch(&i3, &prices, t("2026-11-17T09:00:00Z")).with_decision("d-1"),
        CostChange::launch(&i4, &prices, t("2026-11-17T09:00:00Z")).with_decision("d-1"),
        CostChange::termination(&i3, &prices, t("2026-11-18T09:00:00Z")).with_decision("d-2"),
        CostChange::interruption(&i4, &prices, t("2026-11-20T09:00:00Z")),
        CostChange::launch(&i5, &prices, t("2026-11-21T09:00:00Z")).with_decision("d-3"),
    ];
    let ledger = CostLedger::from_changes(changes, 0, t(FROM), t(TO));
    let fleet = vec![
        instance("i-1", Lifecycle::OnDemand, Running, "2026-10-01T00:00:00Z"),
        instance("i-2", Lifecycle::OnDemand, Running, "2026-10-01T00:00:00Z"),
    ];
    (ledger, fleet)
}

fn hourly_cpu(pct: Option<f64>) -> Vec<Sample> {
    (0..168).map(|h| Sample { cpu_pct: pct, ..Sample::at(t(FROM) + Duration::hours(h)) }).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

const LIMITS: FleetLimits = FleetLimits { min_nodes: 2, max_nodes: 4, spot_share: 0.7 };

#[test]
fn a_week_adds_up_from_the_ledger_and_the_fleet() {
    let (ledger, fleet) = week();
    let cost = CostConfig::from_config(&MapConfig::new()).unwrap();
    let cpu = hourly_cpu(Some(20.0));
    let input = ReportInput {
        cluster_id: "prod",
        from: t(FROM),
        to: t(TO),
        ledger: &ledger,
        fleet: &fleet,
        cpu: Ok(&cpu),
        cost: &cost,
        limits: LIMITS,
        avoided: &[],
    };
    let r = weekly_report(&input);
    assert!(close(r.on_demand.node_hours, 336.0), "{}", r.on_demand.node_hours);
    assert!(close(r.spot.node_hours, 96.0), "{}", r.spot.node_hours);
    assert!(close(r.on_demand.cost_usd.unwrap(), 336.0 * 0.0208));
    assert!(close(r.spot.cost_usd.unwrap(), 96.0 * 0.0208 * 0.35));
    let total = 336.0 * 0.0208 + 96.0 * 0.0208 * 0.35;
    assert!(close(r.cost_usd.unwrap(), total));
    assert!(close(r.baseline_cost_usd, 168.0 * 5.0 * 0.0208));
    assert!(close(r.savings_usd.unwrap(), 17.472 - total));
    assert!(close(r.savings_pct.unwrap(), 100.0 * (17.472 - total) / 17.472));
    assert!(close(r.spot_share_pct.unwrap(), 100.0 * 96.0 / 432.0));
    assert!(close(r.spot_target_pct.unwrap(), 100.0 * (24.0 * 2.0 * 0.7 + 48.0 * 0.7) / 432.0));
    assert_eq!((r.scale_ups, r.launches, r.scale_downs, r.interruptions), (2, 3, 1, 1));
    assert_eq!((r.peak_nodes, r.unaccounted_instances), (4, 1));
    assert!(close(r.hours_at_max, 24.0));
    assert!(close(r.hours_at_min, 96.0));
    assert!(close(r.cpu_avg_pct.unwrap(), 20.0) && close(r.cpu_coverage, 1.0));
    let kinds: Vec<&str> = r.recommendations.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["lower_min_nodes", "raise_max_nodes"]);
    let lower = &r.recommendations[0];
    assert_eq!(lower.figures["cpu_avg_pct"], 20.0);
    assert_eq!(lower.figures["suggested_min_nodes"], 1.0);
    assert!(lower.message.contains("20.0%") && lower.message.contains("96 h"), "{}", lower.message);
    assert_eq!(r.recommendations[1].figures["hours_at_max"], 24.0);

    // Exact in JSON, rounded for people in Slack.
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["kind"], "cost_report");
    assert_eq!(json["cost_usd"].as_f64().unwrap(), r.cost_usd.unwrap());
    assert_eq!(serde_json::from_value::<CostReport>(json).unwrap(), r);
    let message = slack_message(&r, &Links::default());
    let text = message.to_string();
    assert!(text.contains(&usd(total)) && usd(total) == "$7.69", "{}", usd(total));
    assert!(text.contains("$17.47") && text.contains("56.0%"), "{text}");
    assert!(text.contains("1 instances left the fleet with no ledger record"), "{text}");
    assert!(text.contains("us-east-1, prices as of"), "{text}");
    assert!(message["text"].as_str().unwrap().contains("saved 56%"));
}

#[test]
fn unknown_cpu_is_said_and_makes_no_recommendation() {
    let (ledger, fleet) = week();
    let cost = CostConfig::from_config(&MapConfig::new()).unwrap();
    let no_data = hourly_cpu(None);
    for cpu in [Err("Prometheus unreachable: connection refused".to_string()), Ok(no_data.as_slice())] {
        let input = ReportInput {
            cluster_id: "prod",
            from: t(FROM),
            to: t(TO),
            ledger: &ledger,
            fleet: &fleet,
            cpu,
            cost: &cost,
            limits: LIMITS,
            avoided: &[],
        };
        let r = weekly_report(&input);
        assert_eq!(r.cpu_avg_pct, None);
        assert!(r.cpu_unknown_reason.is_some());
        assert!(r.recommendations.iter().all(|r| r.kind != "lower_min_nodes"));
        assert!(slack_message(&r, &Links::default()).to_string().contains("unknown: "));
    }
    // Fifteen minutes of low CPU is no week of it: the rule needs the window covered.
    let short: Vec<Sample> =
        (0..60).map(|i| Sample { cpu_pct: Some(5.0), ..Sample::at(t(TO) - Duration::seconds(i * 15)) }).collect();
    let input = ReportInput {
        cluster_id: "prod",
        from: t(FROM),
        to: t(TO),
        ledger: &ledger,
        fleet: &fleet,
        cpu: Ok(&short),
        cost: &cost,
        limits: LIMITS,
        avoided: &[],
    };
    let r = weekly_report(&input);
    assert_eq!(r.cpu_avg_pct, Some(5.0));
    assert!(r.cpu_coverage < 0.02, "{}", r.cpu_coverage);
    assert!(r.recommendations.iter().all(|r| r.kind != "lower_min_nodes"));
}

#[test]
fn spot_below_target_says_why() {
    use InstanceState::*;
    let prices = PriceTable::default();
    // Four nodes beyond a floor of one all week, all On-Demand: two fell back, one pool avoided.
    let mut changes = Vec::new();
    let mut fleet = vec![instance("i-0", Lifecycle::OnDemand, Running, "2026-10-01T00:00:00Z")];
    for i in 1..=4 {
        let node = instance(&format!("i-{i}"), Lifecycle::OnDemand, Running, FROM);
        let mut change = CostChange::launch(&node, &prices, t(FROM)).with_decision("d-1");
        change = change.spot_fallback_from(if i <= 2 { Lifecycle::Spot } else { Lifecycle::OnDemand });
        changes.push(change);
        fleet.push(node);
    }
    let ledger = CostLedger::from_changes(changes, 3, t(FROM), t(TO));
    let cost = CostConfig::from_config(&MapConfig::new()).unwrap();
    let avoided = [Offering {
        instance_type: "t3.small".into(),
        availability_zone: "us-east-1a".into(),
        lifecycle: Lifecycle::Spot,
    }];
    let cpu = hourly_cpu(Some(55.0));
    let input = ReportInput {
        cluster_id: "prod",
        from: t(FROM),
        to: t(TO),
        ledger: &ledger,
        fleet: &fleet,
        cpu: Ok(&cpu),
        cost: &cost,
        limits: FleetLimits { min_nodes: 1, max_nodes: 10, spot_share: 0.7 },
        avoided: &avoided,
    };
    let r = weekly_report(&input);
    assert_eq!(r.spot_share_pct, Some(0.0));
    assert!(close(r.spot_target_pct.unwrap(), 100.0 * 4.0 * 0.7 / 5.0));
    assert_eq!(r.spot_fallbacks, 2);
    assert_eq!(r.ledger_dropped, 3);
    let spot = r.recommendations.iter().find(|r| r.kind == "spot_share_below_target").expect("a Spot recommendation");
    assert!(spot.message.contains("2 launches fell back"), "{}", spot.message);
    assert!(spot.message.contains("spot t3.small in us-east-1a"), "{}", spot.message);
    assert_eq!(spot.figures["spot_target_pct"], r.spot_target_pct.unwrap());
    assert!(slack_message(&r, &Links::default()).to_string().contains("3 ledger changes were dropped"));
}

#[test]
fn money_is_rounded_for_people() {
    assert_eq!(usd(12.345678), "$12.35");
    assert_eq!(usd(-3.1), "−$3.10");
    assert_eq!(usd(0.0), "$0.00");
}

/// Two days of the decider's observations, by hand: Monday's 08:00 slot is before the window.
fn observed(ledger: CostLedger, hour_slot: HourObservations) -> CostLedger {
    use crate::cost_ledger::{DayObservations, HourObservations as H};
    let mut monday = DayObservations::default();
    monday
        .hours
        .insert(8, H { known_min: 60.0, unschedulable_min: 60.0, unschedulable_pod_min: 600.0, ..H::default() });
    monday.hours.insert(9, hour_slot.clone());
    let mut tuesday = DayObservations::default();
    tuesday.hours.insert(14, hour_slot);
    let day = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    ledger.with_observations(vec![(day("2026-11-17"), tuesday), (day("2026-11-16"), monday)])
}

fn report_of(ledger: &CostLedger) -> CostReport {
    let (_, fleet) = week();
    let cost = CostConfig::from_config(&MapConfig::new()).unwrap();
    let cpu = hourly_cpu(Some(55.0));
    weekly_report(&ReportInput {
        cluster_id: "prod",
        from: t(FROM),
        to: t(TO),
        ledger,
        fleet: &fleet,
        cpu: Ok(&cpu),
        cost: &cost,
        limits: LIMITS,
        avoided: &[],
    })
}

use crate::cost_ledger::HourObservations;

#[test]
fn unschedulable_time_comes_from_the_decider_s_hours_and_unknown_is_the_rest_of_the_week() {
    let (ledger, _) = week();
    let slot = HourObservations {
        known_min: 58.0,
        unknown_min: 2.0,
        unschedulable_min: 45.0,
        unschedulable_pod_min: 135.0,
        ..Default::default()
    };
    let r = report_of(&observed(ledger, slot));
    let u = r.unschedulable;
    // Two slots in the window (Monday 09:00 and Tuesday 14:00); Monday 08:00 is before it.
    assert!(close(u.known_minutes, 116.0) && close(u.failed_minutes, 4.0), "{u:?}");
    assert!(close(u.minutes, 90.0) && close(u.pod_minutes, 270.0), "{u:?}");
    assert!(close(u.share_pct.unwrap(), 100.0 * 90.0 / 116.0));
    assert!(close(u.unknown_minutes, 7.0 * 1440.0 - 116.0), "the rest of the week is unknown, never zero");
    let rec = r.recommendations.iter().find(|r| r.kind == "unschedulable_time_high").expect("high: recommended");
    assert_eq!(rec.figures["unschedulable_minutes"], 90.0);
    assert!(rec.message.contains("90 min") && rec.message.contains("raise MAX_NODES"), "{}", rec.message);
    let text = slack_message(&r, &Links::default()).to_string();
    assert!(text.contains("*Unschedulable*\\n90 min (77.6% of the known time, 270 pod-min); 9964 min unknown (98.8% of the window, 4 min of it runs without samples)"), "{text}");
    assert!(text.contains("99% of the window has no unschedulable-pods figure"), "{text}");
    assert_eq!(serde_json::from_value::<CostReport>(serde_json::to_value(&r).unwrap()).unwrap(), r);
    assert!(r.forecast.is_none(), "no run had predictive scaling on");
}

#[test]
fn a_week_with_no_observations_says_unknown_and_recommends_nothing_on_it() {
    let (ledger, _) = week();
    let r = report_of(&ledger);
    assert_eq!(r.unschedulable.share_pct, None);
    assert!(close(r.unschedulable.unknown_pct, 100.0));
    assert!(r.recommendations.iter().all(|r| r.kind != "unschedulable_time_high"));
    assert!(slack_message(&r, &Links::default()).to_string().contains("*Unschedulable*\\nunknown; 10080 min unknown"));
    // A known and quiet week: no recommendation, and no caveat.
    let calm = HourObservations { known_min: 60.0, ..Default::default() };
    let (ledger, _) = week();
    let mut ledger = observed(ledger, calm);
    for (_, day) in &mut ledger.observed {
        for h in 0..24 {
            day.hours.insert(h, HourObservations { known_min: 60.0, ..Default::default() });
        }
    }
    let r = report_of(&ledger);
    assert_eq!(r.unschedulable.share_pct, Some(0.0));
    assert!(r.recommendations.iter().all(|r| r.kind != "unschedulable_time_high"));
}

#[test]
fn the_forecast_s_accuracy_is_said_in_plain_words() {
    let (ledger, _) = week();
    let slot = HourObservations {
        known_min: 60.0,
        forecast_modes: vec!["forecast-only".into()],
        forecast_min: 60.0,
        under_node_min: 36.0,
        over_node_min: 102.0,
        would_pre_scales: 2,
        ..Default::default()
    };
    let r = report_of(&observed(ledger, slot));
    let f = r.forecast.clone().expect("the forecast ran");
    assert!(close(f.under_node_hours, 1.2) && close(f.over_node_hours, 3.4) && close(f.judged_hours, 2.0), "{f:?}");
    assert_eq!(f.would_pre_scales, 4);
    // 3.4 node-h at the baseline t3.small's On-Demand $0.0208.
    assert!(close(f.over_cost_usd.unwrap(), 3.4 * 0.0208));
    let words = describe_forecast(&f);
    assert_eq!(
        words,
        "forecast (forecast-only): under 1.2 node-h, over 3.4 node-h over 2 h judged. Switching it on would have \
         pre-scaled 4 times ahead of demand, added 3.4 node-h that demand did not need (at most $0.07), and still \
         left 1.2 node-h of demand above the forecast for the reactive rules"
    );
    assert!(slack_message(&r, &Links::default()).to_string().contains("*Forecast*\\nforecast (forecast-only)"));

    let active = HourObservations {
        forecast_modes: vec!["active".into()],
        forecast_min: 60.0,
        pre_scales: 5,
        pre_scales_judged: 5,
        pre_scales_used: 4,
        ..Default::default()
    };
    let (ledger, _) = week();
    let f = report_of(&observed(ledger, active)).forecast.unwrap();
    assert_eq!((f.pre_scales, f.pre_scales_used), (10, 8));
    assert!(describe_forecast(&f).ends_with(", 10 pre-scales, 8 used (of 10 judged)"), "{}", describe_forecast(&f));

    // No model all week (too little history): unknown, not "0 node-h off".
    let unfitted = HourObservations {
        forecast_modes: vec!["forecast-only".into()],
        forecast_unknown_min: 60.0,
        ..Default::default()
    };
    let (ledger, _) = week();
    let f = report_of(&observed(ledger, unfitted)).forecast.unwrap();
    assert_eq!(
        describe_forecast(&f),
        "forecast (forecast-only): unknown, 2 h with no forecast or no demand figure and none judged"
    );
}
