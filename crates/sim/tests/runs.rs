//! Whole simulations: SmartScale's handlers keep the cluster safe and sized on the synthetic
//! week and on a real trace.

use smartscale_core::trace::Trace;
use smartscale_sim::{run, SimConfig};

fn config(days: u32) -> SimConfig {
    SimConfig { start: "2026-11-23T00:00:00Z".parse().unwrap(), days, peak_nodes: 8, seed: 1, trace: None }
}

#[test]
fn the_synthetic_week_is_served_safely() {
    let summary = run(config(5)).unwrap();
    assert_eq!((summary.pdb_violations, summary.pods_lost, summary.dlq_messages), (0, 0, 0), "{summary:?}");
    assert!(summary.scale_ups >= 5 && summary.scale_downs >= 5, "it follows the daily curve: {summary:?}");
    assert!(summary.max_nodes_seen >= 8 && summary.max_nodes_seen <= 10, "{summary:?}");
    // The spec's +1/+2 steps leave a short shortfall on the flash sale's ramp (0.13 % today);
    // the simulator issue's goal of 0.1 % needs pending-pod-sized scale-ups.
    let shortfall = summary.unschedulable_pod_minutes / summary.total_pod_minutes;
    assert!(shortfall < 0.005, "unschedulable share {shortfall}");
    // Cheaper than a static fleet big enough for the Friday peak (8 On-Demand t3.small), and no
    // cheaper than the oracle.
    let static_cost = 8.0 * 0.0208 * 24.0 * 5.0;
    assert_eq!(summary.static_nodes, 8);
    assert!((summary.static_cost_usd - static_cost).abs() < 1e-6, "{}", summary.static_cost_usd);
    assert!(summary.cost_usd < 0.8 * static_cost, "{} vs {static_cost}", summary.cost_usd);
    assert!(summary.cost_vs_oracle >= 1.0, "{summary:?}");
    assert!(summary.cost_usd > 2.0 * 0.0208 * 24.0 * 5.0 * 0.35, "never below the floor: {}", summary.cost_usd);
}

#[test]
fn a_run_is_deterministic_for_a_seed() {
    assert_eq!(run(config(1)).unwrap(), run(config(1)).unwrap());
}

#[test]
fn replays_a_shared_trace() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/traces/nab__elb_request_count_8c0756.csv");
    let text = std::fs::read_to_string(path).expect("../shared/traces beside the repository");
    let trace = Trace::parse(&text, "elb").unwrap();
    let summary = run(SimConfig { start: trace.start(), trace: Some(trace), ..config(2) }).unwrap();
    assert_eq!((summary.pdb_violations, summary.pods_lost, summary.dlq_messages), (0, 0, 0), "{summary:?}");
    assert!(summary.total_pod_minutes > 0.0);
}
