//! The weekly cost report, run by the simulator as production's schedule runs it: its figures
//! come from the savings ledger the real workers wrote, and must agree with the simulator's own
//! accounting of every active instance at every step.

use smartscale_sim::{run, PolicyName, SimConfig};

#[test]
fn the_weekly_report_agrees_with_the_simulators_own_cost_of_the_week() {
    for policy in [PolicyName::Smartscale, PolicyName::CaLike] {
        let config = SimConfig { policy, ..SimConfig::new(8) };
        let run = run(&config, &mut |_| {}).unwrap();
        // The start is Monday 00:00: one report, on the second Monday at 09:00.
        assert_eq!(run.cost_reports.len(), 1, "{policy:?}");
        let weekly = &run.cost_reports[0];
        let r = &weekly.report;
        assert_eq!((r.to - r.from).num_days(), 7);
        let reported = r.cost_usd.expect("every simulated instance type has a price");
        let error = (reported - weekly.simulated_cost_usd).abs() / weekly.simulated_cost_usd;
        assert!(error < 0.005, "{policy:?}: report ${reported:.4} vs simulator ${:.4}", weekly.simulated_cost_usd);
        assert!(r.on_demand.node_hours > 0.0 && r.spot.node_hours > 0.0, "{r:?}");
        // Savings are against the spec's 5 On-Demand nodes for the same week.
        let savings = r.savings_pct.unwrap();
        let expected = (1.0 - reported / r.baseline_cost_usd) * 100.0;
        assert!((savings - expected).abs() < 1e-6, "{savings} vs {expected}");
        assert!(r.scale_ups > 0 && r.scale_downs > 0, "{r:?}");
    }
}

#[test]
fn fixed_fleets_have_no_report_and_short_runs_none_yet() {
    let fixed = run(&SimConfig { policy: PolicyName::Static5, ..SimConfig::new(8) }, &mut |_| {}).unwrap();
    assert!(fixed.cost_reports.is_empty());
    let short = run(&SimConfig::new(2), &mut |_| {}).unwrap();
    assert!(short.cost_reports.is_empty(), "a report needs a whole week behind it");
}
