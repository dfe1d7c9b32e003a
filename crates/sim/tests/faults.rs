//! The fault matrix (docs/simulate.md): the synthetic week with every fault at a realistic rate,
//! through the same fakes production's adapters stand in for. Safety holds under all of them;
//! every episode that must reach a person reaches one, once.

use smartscale_sim::{run, FaultKind, FaultPlan, PolicyName, SimConfig, Summary};

/// Every fault at the rate the matrix documents: a bad week, not a broken world.
const REALISTIC: &str = "prometheus-outage=1,join-never-ready=0.05,node-not-ready=0.1,kube-api-error=0.05,\
dynamodb-throttle=0.02,lock-race=0.02,sqs-redelivery=0.05,lambda-timeout=0.02,spot-during-drain=0.5,ice=0.1,quota=9,\
missed-scrape=0.05";

fn week(faults: &str, policy: PolicyName) -> Summary {
    let config = SimConfig { policy, ..SimConfig::new(7) }.with_faults(FaultPlan::parse(faults).unwrap()).unwrap();
    run(&config, &mut |_| {}).unwrap().summary
}

fn safe(s: &Summary) {
    assert_eq!(s.pods_lost, 0, "pods lost: {s:?}");
    assert_eq!(s.pdb_violations, 0, "PDB violations: {s:?}");
    assert_eq!(s.orphan_instances, 0, "orphan instances: {s:?}");
    assert_eq!(s.on_demand_floor_minutes_short, 0.0, "floor minutes short: {s:?}");
    assert_eq!(s.dlq_messages, 0, "dead-lettered: {s:?}");
}

#[test]
fn a_week_under_every_fault_loses_nothing_and_breaks_no_invariant() {
    let s = week(REALISTIC, PolicyName::Smartscale);
    safe(&s);
    // Every injected kind fired at least once (ice and quota act through the fleet, counted in
    // its refused launches, not here).
    for kind in FaultKind::ALL.into_iter().filter(|k| !matches!(k, FaultKind::Ice | FaultKind::Quota)) {
        assert!(s.faults_injected.get(kind.as_str()).copied().unwrap_or(0) > 0, "{kind} never fired: {s:?}");
    }
    assert!(s.fault_episodes >= 5, "{s:?}");
    // Still serving: the faults cost little shortfall.
    assert!(s.unschedulable_pct < 0.2, "{s:?}");
    // The decider's Err results are counted, no longer discarded: a throttled state read fails
    // the run, and the schedule retries it two minutes later.
    assert!(s.decider_errors > 0, "{s:?}");
    // Redelivered checks are dropped once done (`smartscale_lambda::once`) and the announcements
    // that end a chain go out once (`notify_once`), so redelivery adds no alert.
    assert_eq!(s.fault_alerts, s.fault_episodes, "one alert per fault episode: {s:?}");
}

#[test]
fn without_redelivery_every_fault_episode_yields_exactly_one_alert() {
    let plan = REALISTIC.replace("sqs-redelivery=0.05,", "");
    let s = week(&plan, PolicyName::Smartscale);
    safe(&s);
    assert!(s.fault_episodes >= 5, "{s:?}");
    assert_eq!(s.fault_alerts, s.fault_episodes, "{s:?}");
    assert_eq!(s.alerts_per_fault_episode(), 1.0);
}

#[test]
fn the_same_seed_injects_the_same_faults() {
    let config =
        SimConfig::new(1).with_faults(FaultPlan::parse("kube-api-error=0.2,lock-race=0.1,sqs-redelivery=0.1").unwrap());
    let config = config.unwrap();
    let first = run(&config, &mut |_| {}).unwrap().summary;
    assert_eq!(first, run(&config, &mut |_| {}).unwrap().summary);
    assert!(!first.faults_injected.is_empty(), "{first:?}");
    let other = run(&SimConfig { seed: 2, ..config }, &mut |_| {}).unwrap().summary;
    assert_ne!(first.faults_injected, other.faults_injected);
}

#[test]
fn instances_that_never_join_and_a_worker_that_always_times_out_leave_orphans_and_dead_letters() {
    // The counters can count: every launch never joins, and every worker invocation is
    // stopped by its timeout, so no join check ever finishes to clean up.
    let config = SimConfig::new(1).with_faults(FaultPlan::parse("join-never-ready=1,lambda-timeout=1").unwrap());
    let s = run(&config.unwrap(), &mut |_| {}).unwrap().summary;
    assert!(s.orphan_instances > 0, "{s:?}");
    assert!(s.dlq_messages > 0 && s.redeliveries > 0, "{s:?}");
}

#[test]
fn ice_and_quota_are_the_existing_flags() {
    let config = SimConfig::new(1).with_faults(FaultPlan::parse("ice=0.25,quota=6").unwrap()).unwrap();
    assert_eq!((config.ice_rate, config.instance_quota), (0.25, Some(6)));
    let both = SimConfig { ice_rate: 0.1, ..SimConfig::new(1) }.with_faults(FaultPlan::parse("ice=0.2").unwrap());
    assert!(both.unwrap_err().to_string().contains("--ice-rate"));
}
