//! Whole simulations: SmartScale's handlers keep the cluster safe and sized on the synthetic
//! week and on a real trace, and every baseline runs in the same world.

use smartscale_sim::trace::Trace;
use smartscale_sim::{compare, run, PolicyName, SimConfig, Summary};

fn config(days: u32) -> SimConfig {
    SimConfig::new(days)
}

fn safe(s: &Summary) {
    assert_eq!((s.pdb_violations, s.pods_lost, s.dlq_messages), (0, 0, 0), "{s:?}");
}

#[test]
fn the_synthetic_week_is_served_safely() {
    let run = run(&config(5), &mut |_| {}).unwrap();
    let summary = &run.summary;
    safe(summary);
    assert!(summary.scale_ups >= 5 && summary.scale_downs >= 5, "it follows the daily curve: {summary:?}");
    assert!(summary.max_nodes_seen >= 8 && summary.max_nodes_seen <= 10, "{summary:?}");
    assert!(summary.unschedulable_pct < 0.5, "{summary:?}");
    // Cheaper than a static fleet big enough for the Friday peak (8 On-Demand t3.small), and no
    // cheaper than the oracle.
    let static_cost = 8.0 * 0.0208 * 24.0 * 5.0;
    assert_eq!(summary.static_nodes, 8);
    assert!((summary.static_cost_usd - static_cost).abs() < 1e-6, "{}", summary.static_cost_usd);
    assert!(summary.cost_usd < 0.8 * static_cost, "{} vs {static_cost}", summary.cost_usd);
    assert!(summary.cost_vs_oracle >= 1.0, "{summary:?}");
    // Every notification went through the real Slack forwarder.
    assert!(summary.slack_messages as f64 >= f64::from(summary.scale_ups + summary.scale_downs), "{summary:?}");
    assert!(!run.timeline.points.is_empty() && run.timeline.points.len() == 5 * 24 * 12);
}

#[test]
fn a_run_is_deterministic_for_a_seed() {
    assert_eq!(run(&config(1), &mut |_| {}).unwrap(), run(&config(1), &mut |_| {}).unwrap());
}

#[test]
fn every_policy_runs_on_the_same_demand() {
    let runs = compare(&config(2), &mut |_| {}).unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r.summary.policy.as_str()).collect();
    assert_eq!(names, ["smartscale", "predictive", "reactive-seed", "ca-like", "static", "static-5", "oracle"]);
    for r in &runs {
        safe(&r.summary);
        assert_eq!(r.summary.total_pod_minutes, runs[0].summary.total_pod_minutes, "same demand");
        assert_eq!(r.summary.oracle_cost_usd, runs[0].summary.oracle_cost_usd);
    }
    let by = |name: &str| &runs.iter().find(|r| r.summary.policy == name).unwrap().summary;
    assert_eq!(by("oracle").unschedulable_pod_minutes, 0.0);
    assert!((by("oracle").cost_vs_oracle - 1.0).abs() < 1e-9);
    // The right-sized static fleet is never short; the spec's 5 nodes are, at an 8-node peak.
    assert_eq!(by("static").unschedulable_pod_minutes, 0.0);
    assert!((by("static").cost_usd - by("static").static_cost_usd).abs() < 1e-6);
    assert!(by("static-5").unschedulable_pod_minutes > 0.0);
    assert_eq!(by("static").scale_ups + by("static").spot_interruptions, 0);
    // The autoscalers follow the load.
    for name in ["smartscale", "predictive", "reactive-seed", "ca-like"] {
        assert!(by(name).scale_ups > 0 && by(name).scale_downs > 0, "{:?}", by(name));
        assert!(by(name).cost_usd < by("static").cost_usd, "{:?}", by(name));
    }
}

#[test]
fn spot_interruptions_reach_the_spot_handler_and_are_replaced() {
    let config = SimConfig { spot_interruptions_per_day: 5.0, ..config(2) };
    let s = run(&config, &mut |_| {}).unwrap().summary;
    safe(&s);
    assert!(s.spot_interruptions >= 3, "{s:?}");
    assert!(s.unschedulable_pct < 1.0, "replacements keep up: {s:?}");
}

#[test]
fn capacity_shortages_and_quota_fall_back_without_losing_work() {
    let config = SimConfig { ice_rate: 0.5, instance_quota: Some(7), ..config(2) };
    let s = run(&config, &mut |_| {}).unwrap().summary;
    safe(&s);
    assert!(s.max_nodes_seen <= 7, "the quota holds: {s:?}");
}

#[test]
fn bad_settings_are_refused_by_flag() {
    for (config, flag) in [
        (SimConfig { spot_share: 1.5, ..config(1) }, "--spot-share"),
        (SimConfig { days: 0, ..config(1) }, "--days"),
        (SimConfig { spot_interruptions_per_day: -1.0, ..config(1) }, "--spot-interruptions-per-day"),
    ] {
        let err = run(&config, &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains(flag), "{err}");
    }
    let unpriced = SimConfig { settings: vec![("INSTANCE_TYPES".into(), "x9.huge".into())], ..config(1) };
    let err = run(&unpriced, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("INSTANCE_TYPES") && err.contains("x9.huge"), "{err}");
    let err = "fastest".parse::<PolicyName>().unwrap_err().to_string();
    assert!(err.contains("reactive-seed, ca-like"), "{err}");
}

#[test]
fn replays_a_shared_trace() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/traces/nab__elb_request_count_8c0756.csv");
    let text = std::fs::read_to_string(path).expect("../shared/traces beside the repository");
    let trace = Trace::parse(&text, "elb").unwrap();
    let run = run(&SimConfig { start: trace.start(), trace: Some(trace), ..config(2) }, &mut |_| {}).unwrap();
    safe(&run.summary);
    assert!(run.summary.total_pod_minutes > 0.0);
}

/// The acceptance runs (docs/simulate.md: every shared trace for 14 days from its start) fit
/// inside their traces; the ELB trace, 14.03 days long, is refused one day more.
#[test]
fn the_acceptance_windows_fit_the_shared_traces() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/traces/");
    for (name, longest) in [
        ("nab__nyc_taxi.csv", 215),
        ("pasan__nasa_requestdata-20240626.csv", 62),
        ("nab__cpu_utilization_asg_misconfiguration.csv", 62),
        ("nab__elb_request_count_8c0756.csv", 14),
    ] {
        let text = std::fs::read_to_string(format!("{dir}{name}")).expect("../shared/traces beside the repository");
        let trace = Trace::parse(&text, name).unwrap();
        let at = |days| SimConfig { start: trace.start(), trace: Some(trace.clone()), ..config(days) };
        at(14).validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        at(longest).validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        let err = at(longest + 1).validate().unwrap_err().to_string();
        assert!(err.contains(&format!("at most --days {longest} fits")), "{name}: {err}");
    }
}
