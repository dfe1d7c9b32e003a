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

/// The report's unschedulable time comes from the decider's own runs (each run accounts for
/// the span since the one before, from its 30 s Prometheus samples); the simulator counts
/// every pending replica at every step. They must agree within the decider's sampling.
#[test]
fn the_weekly_report_s_unschedulable_time_agrees_with_the_simulator_s() {
    // Start on the report's hour so a 7-day run is exactly the week the 8-day run reports on.
    let start = "2026-11-23T09:00:00Z".parse().unwrap();
    let reported = run(&SimConfig { start, ..SimConfig::new(8) }, &mut |_| {}).unwrap();
    let week = run(&SimConfig { start, ..SimConfig::new(7) }, &mut |_| {}).unwrap();
    let [weekly] = reported.cost_reports.as_slice() else { panic!("one report: {:?}", reported.cost_reports.len()) };
    // The same seed gives the same week in both runs: their costs of it are the same.
    let same = (week.summary.cost_usd - weekly.simulated_cost_usd).abs();
    assert!(same < 1e-6 * weekly.simulated_cost_usd, "{} vs {}", week.summary.cost_usd, weekly.simulated_cost_usd);

    let u = weekly.report.unschedulable;
    let simulated = week.summary.unschedulable_pod_minutes;
    eprintln!(
        "unschedulable: report {:.3} pod-min over {:.1} min ({:.0} min known, {:.1} unknown), simulator {simulated:.3} pod-min",
        u.pod_minutes, u.minutes, u.known_minutes, u.unknown_minutes
    );
    assert!(simulated > 0.0, "the week must have unschedulable pods to compare");
    // Unknown is only the edges: the first run (09:00) accounts for the 15 minutes before it,
    // when the simulated Prometheus had no samples yet, and the span ending at the last 09:00
    // run belongs to the hour after the window.
    assert!(u.unknown_minutes <= 15.0 + 5.0, "{u:?}");
    assert!((u.known_minutes + u.unknown_minutes - 7.0 * 1440.0).abs() < 1e-6, "{u:?}");
    // The tolerance: the decider sees the pending count through the 15 s scrape and samples it
    // every 30 s, each sample standing for the 30 s before it, while the simulator counts every
    // 15 s step. A spell of unschedulable pods can so be misjudged by up to one sample at each
    // end (its pods × 0.5 min, twice) and by the scrape's delay. The week's spells are short
    // (minutes), so 5 % of its pod-minutes (at least 2 pod-minutes) bounds that; the run
    // measured here agreed to within 0.1 pod-minute.
    let tolerance = (0.05 * simulated).max(2.0);
    assert!(
        (u.pod_minutes - simulated).abs() <= tolerance,
        "report {:.2} vs simulator {simulated:.2} pod-min (tolerance {tolerance:.2})",
        u.pod_minutes
    );
}
