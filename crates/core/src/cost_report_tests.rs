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
