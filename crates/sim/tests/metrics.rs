//! The scraped metrics (`--metrics prometheus`): CPU lags as `rate(...[5m])` does, the gauges
//! are one scrape behind, a missed scrape leaves a hole and never a zero, and the CA-like
//! baseline, which watches the API server, does not read them.

use chrono::{DateTime, Duration, Utc};
use smartscale_core::ports::{Node, Resources};
use smartscale_sim::scrape::{Observed, Prometheus, Replicas};
use smartscale_sim::{run, FaultPlan, MetricsModel, PolicyName, SimConfig};

const STEP_S: i64 = 15;

fn t0() -> DateTime<Utc> {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

fn node(name: &str) -> Node {
    Node {
        name: name.into(),
        ready: true,
        allocatable: Resources { cpu_millis: 1900, memory_bytes: 1600 << 20 },
        ..Default::default()
    }
}

/// The world at one step: `replicas_on` running replicas per node, the app using
/// `app_cpu_millis` in all, `pending` replicas waiting.
fn observed<'a>(
    at: DateTime<Utc>,
    ready: &'a [&'a Node],
    replicas_on: &[u64],
    app_cpu_millis: f64,
    pending: u64,
) -> Observed<'a> {
    let running: u64 = replicas_on.iter().sum();
    Observed {
        at,
        ready,
        replicas_on: replicas_on.to_vec(),
        desired: running + pending,
        replicas: Replicas { running, pending, ..Replicas::default() },
        app_cpu_millis,
        running_requests: Resources { cpu_millis: running * 200, memory_bytes: running * (256 << 20) },
        pending_requests: Resources { cpu_millis: pending * 200, memory_bytes: pending * (256 << 20) },
    }
}

/// One step as the world runs it: the counters grow, the decider's query is evaluated, then
/// the step is scraped (unless `missed`). Returns the query's answer.
fn step(prometheus: &mut Prometheus, o: &Observed, missed: bool) -> smartscale_core::metrics::Sample {
    prometheus.advance(o, STEP_S);
    let sample = prometheus.query(o.at);
    if !missed {
        prometheus.scrape(o);
    }
    sample
}

fn at(i: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(i * STEP_S)
}

#[test]
fn a_step_in_load_reaches_the_cpu_gradually_over_five_minutes() {
    let (a, b) = (node("a"), node("b"));
    let ready = [&a, &b];
    let mut prometheus = Prometheus::default();
    // Ten minutes at a low load: 4 replicas per node using 400m in all (CPU = (400 + 200) / 3800).
    for i in 0..40 {
        step(&mut prometheus, &observed(at(i), &ready, &[2, 2], 400.0, 0), false);
    }
    let low = 600.0 / 3800.0 * 100.0;
    // The load steps to 2600m at step 40.
    let mut cpu = Vec::new();
    for i in 40..64 {
        let s = step(&mut prometheus, &observed(at(i), &ready, &[2, 2], 2600.0, 0), false);
        cpu.push(s.cpu_pct.unwrap());
    }
    let high = 2800.0 / 3800.0 * 100.0;
    // At the step itself the query has not seen it; then it climbs a scrape at a time.
    assert!((cpu[0] - low).abs() < 1e-9, "{cpu:?}");
    assert!(cpu[1] > low && cpu[1] < low + (high - low) * 0.1, "one scrape in 18: {cpu:?}");
    assert!(cpu.windows(2).take(18).all(|w| w[1] > w[0]), "it rises with every scrape: {cpu:?}");
    let halfway = cpu[10];
    assert!(halfway > low + (high - low) * 0.4 && halfway < low + (high - low) * 0.7, "{cpu:?}");
    // Once the window's 18 increases are all at the new load (4.5 minutes on), it is exact.
    assert!(cpu[17] < high - 1e-9, "{cpu:?}");
    assert!((cpu[18] - high).abs() < 1e-9, "{cpu:?}");
    assert!((cpu[23] - high).abs() < 1e-9, "{cpu:?}");
}

#[test]
fn a_node_that_joined_a_minute_ago_counts_only_its_scraped_minute() {
    let (a, b) = (node("a"), node("b"));
    let mut prometheus = Prometheus::default();
    // Node a alone, busy at 1000m + its daemon for ten minutes.
    for i in 0..40 {
        step(&mut prometheus, &observed(at(i), &[&a], &[5], 1000.0, 0), false);
    }
    // Node b joins idle (no replicas: only its DaemonSet pod's 100m).
    let both = [&a, &b];
    let mut samples = Vec::new();
    for i in 40..45 {
        samples.push(step(&mut prometheus, &observed(at(i), &both, &[5, 0], 1000.0, 0), false));
    }
    let alone = 1100.0 / 1900.0 * 100.0;
    assert!((samples[0].cpu_pct.unwrap() - alone).abs() < 1e-9, "b not scraped yet");
    assert!((samples[1].cpu_pct.unwrap() - alone).abs() < 1e-9, "one scrape of b: no increase yet");
    // A minute after it joined: a's 18 increases (5 min) plus b's 3 (45 s).
    let (a_busy, a_total) = (18.0 * 1100.0, 18.0 * 1900.0);
    let (b_busy, b_total) = (3.0 * 100.0, 3.0 * 1900.0);
    let expected = (a_busy + b_busy) / (a_total + b_total) * 100.0;
    assert!((samples[4].cpu_pct.unwrap() - expected).abs() < 1e-9, "{} vs {expected}", samples[4].cpu_pct.unwrap());
}

#[test]
fn pending_pods_are_one_scrape_behind_the_scheduler() {
    let a = node("a");
    let ready = [&a];
    let mut prometheus = Prometheus::default();
    let first = step(&mut prometheus, &observed(at(0), &ready, &[3], 600.0, 0), false);
    assert_eq!(first.pending_pods, None, "nothing scraped yet: no data, not zero");
    assert_eq!(step(&mut prometheus, &observed(at(1), &ready, &[3], 600.0, 4), false).pending_pods, Some(0));
    let next = step(&mut prometheus, &observed(at(2), &ready, &[5], 1000.0, 0), false);
    assert_eq!(next.pending_pods, Some(4), "the scrape of the step before");
    assert_eq!(next.pending_cpu_millis, Some(800.0));
    assert_eq!(step(&mut prometheus, &observed(at(3), &ready, &[5], 1000.0, 0), false).pending_pods, Some(0));
}

#[test]
fn missed_scrapes_leave_holes_not_zeros() {
    let a = node("a");
    let ready = [&a];
    let mut prometheus = Prometheus::default();
    for i in 0..40 {
        step(&mut prometheus, &observed(at(i), &ready, &[4], 800.0, 0), false);
    }
    let steady = 900.0 / 1900.0 * 100.0;
    // One scrape missed, with pods pending at it: the gauges read the scrape before; the rate
    // spans the hole with one scrape fewer and is unchanged at a steady load.
    step(&mut prometheus, &observed(at(40), &ready, &[4], 800.0, 7), true);
    let after = step(&mut prometheus, &observed(at(41), &ready, &[4], 800.0, 0), false);
    assert_eq!(after.pending_pods, Some(0), "the missed scrape's 7 pending were never seen");
    assert!((after.cpu_pct.unwrap() - steady).abs() < 1e-9);
    // Five minutes of missed scrapes: no sample in the window, so every signal is unknown.
    let mut last = after;
    for i in 42..63 {
        last = step(&mut prometheus, &observed(at(i), &ready, &[4], 800.0, 0), true);
    }
    assert_eq!((last.cpu_pct, last.mem_pct, last.pending_pods, last.p95_latency_s), (None, None, None, None));
    // The first scrape back gives gauges; the CPU needs a second one for an increase.
    step(&mut prometheus, &observed(at(63), &ready, &[4], 800.0, 0), false);
    let back = step(&mut prometheus, &observed(at(64), &ready, &[4], 800.0, 0), false);
    assert_eq!((back.pending_pods, back.cpu_pct), (Some(0), None));
    let again = step(&mut prometheus, &observed(at(65), &ready, &[4], 800.0, 0), false);
    assert!((again.cpu_pct.unwrap() - steady).abs() < 1e-9);
}

fn day(policy: PolicyName, faults: &str) -> SimConfig {
    SimConfig { policy, ..SimConfig::new(1) }.with_faults(FaultPlan::parse(faults).unwrap()).unwrap()
}

#[test]
fn ca_like_watches_the_api_server_and_ignores_missed_scrapes() {
    let clean = run(&day(PolicyName::CaLike, ""), &mut |_| {}).unwrap().summary;
    let missed = run(&day(PolicyName::CaLike, "missed-scrape=0.5"), &mut |_| {}).unwrap().summary;
    assert_eq!(clean, missed);
    let ideal =
        run(&SimConfig { metrics: MetricsModel::Ideal, ..day(PolicyName::CaLike, "") }, &mut |_| {}).unwrap().summary;
    assert_eq!(clean, ideal, "ca-like reads no metrics, scraped or ideal");
}

#[test]
fn smartscale_runs_safely_on_scraped_metrics_with_missed_scrapes() {
    let s = run(&day(PolicyName::Smartscale, "missed-scrape=0.2"), &mut |_| {}).unwrap().summary;
    let missed = s.faults_injected.get("missed-scrape").copied().unwrap_or(0);
    // 5760 scrapes a day at 20 %.
    assert!((1000..1300).contains(&missed), "{missed}");
    assert_eq!((s.pdb_violations, s.pods_lost, s.dlq_messages, s.orphan_instances), (0, 0, 0, 0), "{s:?}");
    assert!(s.scale_ups > 0 && s.scale_downs > 0, "{s:?}");
    // The scraped model is the default and differs from the ideal one.
    assert_eq!(SimConfig::new(1).metrics, MetricsModel::Prometheus);
    let ideal = run(&SimConfig { metrics: MetricsModel::Ideal, ..day(PolicyName::Smartscale, "") }, &mut |_| {})
        .unwrap()
        .summary;
    let scraped = run(&day(PolicyName::Smartscale, ""), &mut |_| {}).unwrap().summary;
    assert_ne!(ideal, scraped);
}

#[test]
fn the_time_to_capacity_splits_into_detection_and_the_boot_and_join() {
    let ca = run(&day(PolicyName::CaLike, ""), &mut |_| {}).unwrap().summary;
    let ours = run(&day(PolicyName::Smartscale, ""), &mut |_| {}).unwrap().summary;
    // ca-like sees a pending pod in the API server the step it appears; SmartScale through one
    // scrape, the alert's `for: 15s` and the 10 s group wait at least.
    assert_eq!(ca.p95_pending_to_launch_s, 0, "{ca:?}");
    assert!(ours.p95_pending_to_launch_s >= 25, "{ours:?}");
    // Boot 45–90 s and join 30–60 s, seen at 15 s steps, whichever policy launched.
    for s in [&ca, &ours] {
        assert!((75..=165).contains(&s.p95_launch_to_ready_s), "{s:?}");
    }
}
