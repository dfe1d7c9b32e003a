use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::*;

const MIB: f64 = 1024.0 * 1024.0;

fn now() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

/// Samples every 30 s covering the last `span_s` seconds (inclusive of both ends), each built by `f(age_s)`.
fn series(span_s: i64, f: impl Fn(i64) -> Sample) -> Vec<Sample> {
    (0..=span_s / 30).map(|i| f(span_s - i * 30)).collect()
}

fn at(age_s: i64) -> Sample {
    Sample::at(now() - Duration::seconds(age_s))
}

/// A calm cluster: nothing triggers either way.
fn calm(age_s: i64) -> Sample {
    Sample { cpu_pct: Some(50.0), mem_pct: Some(60.0), pending_pods: Some(0), ..at(age_s) }
}

/// A quiet cluster: every scale-down condition holds.
fn quiet(age_s: i64) -> Sample {
    Sample {
        cpu_pct: Some(12.0),
        mem_pct: Some(35.0),
        pending_pods: Some(0),
        queue_depth: Some(20.0),
        pending_cpu_millis: Some(0.0),
        pending_memory_bytes: Some(0.0),
        // 6 replicas of 200m/256Mi: 1.5 nodes' worth, at most 3 nodes' room at 80 %.
        requested_cpu_millis: Some(1200.0),
        requested_memory_bytes: Some(1536.0 * MIB),
        ..at(age_s)
    }
}

/// The spec's rules as written: SmartScale's deviations switched off.
fn spec_policy() -> Policy {
    Policy {
        size_scale_up_by_pending_requests: false,
        scale_down_fit_check: false,
        consolidate_by_requests: false,
        pending_pods_window_s: 180,
        ..Policy::default()
    }
}

fn state(nodes: u32) -> DecisionState {
    DecisionState { node_count: nodes, ..Default::default() }
}

fn after(action: ScaleAction, secs_ago: i64, nodes: u32) -> DecisionState {
    DecisionState {
        node_count: nodes,
        last_scale_at: Some(now() - Duration::seconds(secs_ago)),
        last_scale_action: Some(action),
        lock_expires_at: None,
    }
}

struct Case {
    name: &'static str,
    state: DecisionState,
    samples: Vec<Sample>,
    action: Action,
    delta: i32,
    blocked_by: Option<BlockedBy>,
    reason_contains: &'static str,
}

type SampleFn = Box<dyn Fn(i64) -> Sample>;

fn check(case: Case) {
    let d = decide(&Policy::default(), &case.state, &case.samples, now());
    assert_eq!(d.action, case.action, "{}: {d:?}", case.name);
    assert_eq!(d.delta, case.delta, "{}: {d:?}", case.name);
    assert_eq!(d.blocked_by, case.blocked_by, "{}: {d:?}", case.name);
    assert_eq!(d.target_nodes as i64, case.state.node_count as i64 + d.delta as i64, "{}", case.name);
    assert!(
        d.reasons.iter().any(|r| r.contains(case.reason_contains)),
        "{}: no reason contains {:?}: {:?}",
        case.name,
        case.reason_contains,
        d.reasons
    );
}

#[test]
fn spec_table() {
    let hot_cpu = |age| Sample { cpu_pct: Some(78.2), ..calm(age) };
    let cases = vec![
        Case {
            name: "cpu high for 4 min scales up by one",
            state: state(4),
            samples: series(240, hot_cpu),
            action: Action::ScaleUp,
            delta: 1,
            blocked_by: None,
            reason_contains: "cpu 78.2% > 70% for 4m00s",
        },
        Case {
            name: "cpu low for 10 min with every other condition scales down by one",
            state: state(5),
            samples: series(630, quiet),
            action: Action::ScaleDown,
            delta: -1,
            blocked_by: None,
            reason_contains: "cpu 12.0% < 30% for 10m30s",
        },
        Case {
            name: "no scale-up within the scale-up cooldown",
            state: after(ScaleAction::ScaleUp, 200, 4),
            samples: series(240, hot_cpu),
            action: Action::None,
            delta: 0,
            blocked_by: Some(BlockedBy::Cooldown),
            reason_contains: "scale-up cooldown: last scale-up 3m20s ago",
        },
        Case {
            name: "scale-up allowed right after a scale-down",
            state: after(ScaleAction::ScaleDown, 30, 4),
            samples: series(240, hot_cpu),
            action: Action::ScaleUp,
            delta: 1,
            blocked_by: None,
            reason_contains: "cpu 78.2%",
        },
        Case {
            name: "no scale-down within 600 s of a scale-down",
            state: after(ScaleAction::ScaleDown, 599, 5),
            samples: series(630, quiet),
            action: Action::None,
            delta: 0,
            blocked_by: Some(BlockedBy::Cooldown),
            reason_contains: "last scale-down 9m59s ago",
        },
        Case {
            name: "no scale-down within 600 s of a scale-up",
            state: after(ScaleAction::ScaleUp, 400, 5),
            samples: series(630, quiet),
            action: Action::None,
            delta: 0,
            blocked_by: Some(BlockedBy::Cooldown),
            reason_contains: "last scale-up 6m40s ago",
        },
        Case {
            name: "scale-down allowed 600 s after a scale-up",
            state: after(ScaleAction::ScaleUp, 600, 5),
            samples: series(630, quiet),
            action: Action::ScaleDown,
            delta: -1,
            blocked_by: None,
            reason_contains: "no pending pods",
        },
        Case {
            name: "min-node constraint",
            state: state(2),
            samples: series(630, quiet),
            action: Action::None,
            delta: 0,
            blocked_by: Some(BlockedBy::MinNodes),
            reason_contains: "at min_nodes (2)",
        },
        Case {
            name: "max-node constraint",
            state: state(10),
            samples: series(240, hot_cpu),
            action: Action::None,
            delta: 0,
            blocked_by: Some(BlockedBy::MaxNodes),
            reason_contains: "at max_nodes (10 of 10)",
        },
        Case {
            name: "urgent step is clamped at max",
            state: state(9),
            samples: series(240, |a| Sample { pending_pods: Some(3), ..hot_cpu(a) }),
            action: Action::ScaleUp,
            delta: 1,
            blocked_by: None,
            reason_contains: "3 pending pods for 4m00s",
        },
        Case {
            name: "lock held exits gracefully",
            state: DecisionState { lock_expires_at: Some(now() + Duration::seconds(120)), ..state(4) },
            samples: series(240, hot_cpu),
            action: Action::None,
            delta: 0,
            blocked_by: Some(BlockedBy::LockHeld),
            reason_contains: "lock held by another run for 2m00s more",
        },
        Case {
            name: "an expired lock is no lock",
            state: DecisionState { lock_expires_at: Some(now() - Duration::seconds(1)), ..state(4) },
            samples: series(240, hot_cpu),
            action: Action::ScaleUp,
            delta: 1,
            blocked_by: None,
            reason_contains: "cpu",
        },
        Case {
            name: "below min scales to min whatever the metrics say",
            state: state(0),
            samples: vec![],
            action: Action::ScaleUp,
            delta: 2,
            blocked_by: None,
            reason_contains: "below_min: 0 nodes < min_nodes 2",
        },
        Case {
            name: "no cpu data blocks everything",
            state: state(4),
            samples: series(240, |a| Sample { cpu_pct: None, ..hot_cpu(a) }),
            action: Action::None,
            delta: 0,
            blocked_by: Some(BlockedBy::NoData),
            reason_contains: "cpu unknown",
        },
        Case {
            name: "no memory data blocks everything",
            state: state(4),
            samples: series(240, |a| Sample { mem_pct: None, ..hot_cpu(a) }),
            action: Action::None,
            delta: 0,
            blocked_by: Some(BlockedBy::NoData),
            reason_contains: "memory unknown",
        },
        Case {
            name: "stale data is no data",
            state: state(4),
            samples: series(240, hot_cpu).into_iter().filter(|s| s.at < now() - Duration::seconds(61)).collect(),
            action: Action::None,
            delta: 0,
            blocked_by: Some(BlockedBy::NoData),
            reason_contains: "no sample in the last 1m00s",
        },
        Case {
            name: "calm cluster does nothing and says why",
            state: state(4),
            samples: series(630, calm),
            action: Action::None,
            delta: 0,
            blocked_by: None,
            reason_contains: "no scale-down: cpu 50.0% not < 30% for 10m00s",
        },
    ];
    for case in cases {
        check(case);
    }
}

#[test]
fn every_trigger_fires_on_its_own() {
    let cases: Vec<(&str, SampleFn, u32, &str)> = vec![
        ("cpu", Box::new(|a| Sample { cpu_pct: Some(71.0), ..calm(a) }), 1, "cpu 71.0% > 70%"),
        ("pending", Box::new(|a| Sample { pending_pods: Some(2), ..calm(a) }), 2, "2 pending pods for"),
        ("memory", Box::new(|a| Sample { mem_pct: Some(75.5), ..calm(a) }), 1, "memory 75.5% > 75%"),
        ("queue", Box::new(|a| Sample { queue_depth: Some(1500.0), ..calm(a) }), 1, "queue depth 1500 > 1000"),
        ("latency", Box::new(|a| Sample { p95_latency_s: Some(2.4), ..calm(a) }), 1, "p95 latency 2.40s > 2s"),
        ("errors", Box::new(|a| Sample { error_rate_pct: Some(6.2), ..calm(a) }), 1, "error rate 6.2% > 5% for"),
    ];
    for (name, f, delta, reason) in cases {
        let d = decide(&Policy::default(), &state(4), &series(240, f), now());
        assert_eq!((d.action, d.delta), (Action::ScaleUp, delta as i32), "{name}: {d:?}");
        assert!(d.reasons.iter().any(|r| r.contains(reason)), "{name}: {:?}", d.reasons);
    }
}

#[test]
fn two_triggers_are_urgent() {
    let d = decide(
        &Policy::default(),
        &state(4),
        &series(240, |a| Sample { mem_pct: Some(80.0), queue_depth: Some(5000.0), ..calm(a) }),
        now(),
    );
    assert_eq!((d.action, d.delta), (Action::ScaleUp, 2), "{d:?}");
    assert_eq!(d.triggers, vec![Trigger::Memory, Trigger::QueueDepth]);
    assert_eq!(d.primary_reason(), "memory");
}

/// Latest-sample triggers use the newest sample only.
#[test]
fn latest_sample_triggers_ignore_history() {
    let samples = series(240, |a| Sample { mem_pct: Some(if a == 0 { 40.0 } else { 90.0 }), ..calm(a) });
    let d = decide(&Policy::default(), &state(4), &samples, now());
    assert_eq!(d.action, Action::None, "{d:?}");
}

#[test]
fn window_edge_2m59s_vs_3m00s() {
    // Every 30 s back to 3 min, plus one sample a second later than the window start.
    let samples_from = |first_high_age: i64| {
        let mut v = vec![Sample { cpu_pct: Some(if first_high_age >= 180 { 80.0 } else { 40.0 }), ..calm(180) }];
        v.push(Sample { cpu_pct: Some(80.0), ..calm(179) });
        v.extend(series(150, |a| Sample { cpu_pct: Some(80.0), ..calm(a) }));
        v
    };
    let held_2m59 = decide(&Policy::default(), &state(4), &samples_from(179), now());
    assert_eq!(held_2m59.action, Action::None, "{held_2m59:?}");
    let held_3m00 = decide(&Policy::default(), &state(4), &samples_from(180), now());
    assert_eq!(held_3m00.action, Action::ScaleUp, "{held_3m00:?}");
    assert!(held_3m00.reasons[0].contains("for 3m00s"), "{:?}", held_3m00.reasons);
}

#[test]
fn window_must_be_covered() {
    // High for the last 2 min only: nothing older, so the 3 min window is not covered.
    let short = series(120, |a| Sample { cpu_pct: Some(90.0), ..calm(a) });
    assert_eq!(decide(&Policy::default(), &state(4), &short, now()).action, Action::None);
    // Oldest sample one interval late still covers the window.
    let late_start = series(150, |a| Sample { cpu_pct: Some(90.0), ..calm(a) });
    assert_eq!(decide(&Policy::default(), &state(4), &late_start, now()).action, Action::ScaleUp);
}

#[test]
fn a_gap_in_the_samples_breaks_sustain() {
    let gappy: Vec<Sample> = series(240, |a| Sample { cpu_pct: Some(90.0), ..calm(a) })
        .into_iter()
        .filter(|s| {
            let age = (now() - s.at).num_seconds();
            !(30..=120).contains(&age) || age == 120
        })
        .collect();
    let d = decide(&Policy::default(), &state(4), &gappy, now());
    assert_eq!(d.action, Action::None, "a 90 s hole must not count as sustained: {d:?}");
    // One missed scrape (a 60 s step) is tolerated.
    let one_missed: Vec<Sample> = series(240, |a| Sample { cpu_pct: Some(90.0), ..calm(a) })
        .into_iter()
        .filter(|s| (now() - s.at).num_seconds() != 90)
        .collect();
    assert_eq!(decide(&Policy::default(), &state(4), &one_missed, now()).action, Action::ScaleUp);
}

#[test]
fn absent_custom_metrics_neither_trigger_nor_block() {
    // Queue depth absent: scale-down still happens on the other conditions.
    let d = decide(&Policy::default(), &state(5), &series(630, |a| Sample { queue_depth: None, ..quiet(a) }), now());
    assert_eq!(d.action, Action::ScaleDown, "{d:?}");
    // Latency and error rate absent on a hot cluster: CPU still triggers alone (+1, not urgent).
    let d = decide(&Policy::default(), &state(5), &series(240, |a| Sample { cpu_pct: Some(85.0), ..calm(a) }), now());
    assert_eq!((d.action, d.delta), (Action::ScaleUp, 1));
}

#[test]
fn scale_down_needs_every_condition() {
    let blockers: Vec<(&str, SampleFn)> = vec![
        ("pending pods", Box::new(|a| Sample { pending_pods: Some(if a == 0 { 1 } else { 0 }), ..quiet(a) })),
        ("pending unknown", Box::new(|a| Sample { pending_pods: None, ..quiet(a) })),
        ("memory", Box::new(|a| Sample { mem_pct: Some(55.0), ..quiet(a) })),
        ("queue", Box::new(|a| Sample { queue_depth: Some(if a == 300 { 150.0 } else { 20.0 }), ..quiet(a) })),
        ("cpu blip", Box::new(|a| Sample { cpu_pct: Some(if a == 510 { 35.0 } else { 12.0 }), ..quiet(a) })),
    ];
    // The spec's rule alone: consolidation would remove a node at a 35 % CPU blip (below).
    let spec_rule = Policy { consolidate_by_requests: false, ..Policy::default() };
    for (name, f) in blockers {
        let d = decide(&spec_rule, &state(5), &series(630, f), now());
        assert_eq!(d.action, Action::None, "{name}: {d:?}");
        assert_eq!(d.blocked_by, None, "{name}");
    }
}

/// CPU at 50 %: the spec never scales down, yet 6 replicas' requests fit on far fewer nodes.
fn busy_but_roomy(age_s: i64) -> Sample {
    Sample { cpu_pct: Some(45.0), mem_pct: Some(40.0), ..quiet(age_s) }
}

#[test]
fn consolidation_removes_a_node_whose_pods_fit_on_the_others_while_cpu_sits_mid_range() {
    let samples = series(630, busy_but_roomy);
    let d = decide(&Policy::default(), &state(5), &samples, now());
    assert_eq!((d.action, d.delta), (Action::ScaleDown, -1), "{d:?}");
    assert_eq!(d.triggers, vec![Trigger::Consolidation]);
    assert_eq!(d.primary_reason(), "consolidation");
    let why = "consolidation: cpu 45.0% would be 56.2% on 4 nodes, < 60% for 10m30s";
    assert!(d.reasons.iter().any(|r| r == why), "{d:?}");
    // The spec's rules keep the node.
    assert_eq!(decide(&spec_policy(), &state(5), &samples, now()).action, Action::None);
}

#[test]
fn consolidation_stops_where_one_node_fewer_would_trigger_the_next_scale_up() {
    // 45 % on 3 nodes is 67.5 % on 2: within 10 points of the 70 % scale-up threshold.
    let d = decide(&Policy::default(), &state(3), &series(630, busy_but_roomy), now());
    assert_eq!(d.action, Action::None, "{d:?}");
    assert!(
        d.reasons.iter().any(|r| r == "no scale-down: consolidation: cpu on 2 nodes not < 60% for 10m00s"),
        "{d:?}"
    );
    // One sample over the line anywhere in the window is enough to keep the node.
    let blip = series(630, |a| Sample { cpu_pct: Some(if a == 300 { 52.0 } else { 45.0 }), ..busy_but_roomy(a) });
    assert_eq!(decide(&Policy::default(), &state(5), &blip, now()).action, Action::None);
    // Memory is projected too: 55 % on 5 nodes is 68.8 % on 4 (> 65 %).
    let memory = series(630, |a| Sample { mem_pct: Some(55.0), ..busy_but_roomy(a) });
    let d = decide(&Policy::default(), &state(5), &memory, now());
    assert_eq!(d.action, Action::None, "{d:?}");
    assert!(d.reasons.iter().any(|r| r.contains("consolidation: memory on 4 nodes would be 68.8%")), "{d:?}");
}

#[test]
fn consolidation_needs_the_fit_check_and_no_pending_pods() {
    // Requests that would crowd one node fewer keep the node even with the fit check switched off.
    let crowded = series(660, |a| Sample { requested_memory_bytes: Some(3072.0 * MIB), ..busy_but_roomy(a) });
    let policy = Policy { scale_down_fit_check: false, ..Policy::default() };
    let d = decide(&policy, &state(3), &crowded, now());
    assert_eq!(d.action, Action::None, "{d:?}");
    let pending = series(630, |a| Sample { pending_pods: Some(1), ..busy_but_roomy(a) });
    assert_ne!(decide(&Policy::default(), &state(5), &pending, now()).action, Action::ScaleDown);
    let unknown = series(630, |a| Sample { requested_cpu_millis: None, ..busy_but_roomy(a) });
    assert_eq!(decide(&Policy::default(), &state(5), &unknown, now()).action, Action::None);
    // At the floor there is nothing to consolidate, and no block to report.
    let d = decide(&Policy::default(), &state(2), &series(630, busy_but_roomy), now());
    assert_eq!((d.action, d.blocked_by), (Action::None, None), "{d:?}");
}

#[test]
fn above_max_steps_down_towards_max() {
    let d = decide(&Policy::default(), &state(12), &series(630, calm), now());
    assert_eq!((d.action, d.delta, d.target_nodes), (Action::ScaleDown, -1, 11), "{d:?}");
    assert_eq!(d.triggers, vec![Trigger::AboveMax]);
}

#[test]
fn decisions_serialize_in_the_documented_shape() {
    let d = decide(&Policy::default(), &state(10), &series(240, |a| Sample { cpu_pct: Some(90.0), ..calm(a) }), now());
    let json = serde_json::to_value(&d).unwrap();
    let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, vec!["action", "blocked_by", "delta", "reasons", "target_nodes"]);
    assert_eq!(json["action"], "none");
    assert_eq!(json["blocked_by"], "max_nodes");
}

fn arb_sample_value() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![1 => Just(None), 6 => (0.0f64..100.0).prop_map(Some)]
}

prop_compose! {
    fn arb_samples()(
        len in 0usize..30,
        cpu in arb_sample_value(),
        mem in arb_sample_value(),
        cpu_jitter in proptest::collection::vec(-40.0f64..40.0, 30),
        pending in proptest::option::of(0u32..5),
        queue in proptest::option::of(0.0f64..3000.0),
        p95 in proptest::option::of(0.0f64..4.0),
        err in proptest::option::of(0.0f64..10.0),
    ) -> Vec<Sample> {
        (0..len).map(|i| Sample {
            at: now() - Duration::seconds(i as i64 * 30),
            cpu_pct: cpu.map(|c| (c + cpu_jitter[i]).clamp(0.0, 100.0)),
            mem_pct: mem,
            pending_pods: pending,
            queue_depth: queue,
            p95_latency_s: p95,
            error_rate_pct: err,
            pending_cpu_millis: pending.map(|p| f64::from(p) * 900.0),
            pending_memory_bytes: pending.map(|p| f64::from(p) * 700.0 * 1048576.0),
            requested_cpu_millis: mem.map(|m| m * 90.0),
            requested_memory_bytes: mem.map(|m| m * 70.0 * MIB),
            unhostable_pods: pending.map(|_| 0),
        }).collect()
    }
}

prop_compose! {
    fn arb_state()(
        nodes in 0u32..14,
        last in proptest::option::of((0i64..2000, prop_oneof![Just(ScaleAction::ScaleUp), Just(ScaleAction::ScaleDown)])),
        lock in proptest::option::of(-400i64..400),
    ) -> DecisionState {
        DecisionState {
            node_count: nodes,
            last_scale_at: last.map(|(ago, _)| now() - Duration::seconds(ago)),
            last_scale_action: last.map(|(_, a)| a),
            lock_expires_at: lock.map(|s| now() + Duration::seconds(s)),
        }
    }
}

proptest! {
    #[test]
    fn target_stays_within_limits(state in arb_state(), samples in arb_samples()) {
        let p = Policy::default();
        let d = decide(&p, &state, &samples, now());
        prop_assert_eq!(d.target_nodes as i64, state.node_count as i64 + d.delta as i64);
        if (p.min_nodes..=p.max_nodes).contains(&state.node_count) {
            prop_assert!((p.min_nodes..=p.max_nodes).contains(&d.target_nodes), "{:?}", d);
        } else if state.node_count < p.min_nodes && d.action != Action::None {
            prop_assert_eq!(d.target_nodes, p.min_nodes);
        } else if state.node_count > p.max_nodes {
            prop_assert!(d.target_nodes <= state.node_count && d.target_nodes >= p.max_nodes);
        }
        prop_assert_eq!(d.action == Action::None, d.delta == 0);
    }

    #[test]
    fn spec_step_is_at_most_two_up_or_one_down(state in arb_state(), samples in arb_samples()) {
        let d = decide(&spec_policy(), &state, &samples, now());
        prop_assert!(d.delta <= 2 && d.delta >= -1, "{:?}", d);
    }

    #[test]
    fn sized_step_goes_down_by_one_and_up_only_to_below_min_or_the_pending_need(
        state in arb_state(),
        samples in arb_samples(),
    ) {
        let p = Policy::default();
        let d = decide(&p, &state, &samples, now());
        prop_assert!(d.delta >= -1, "{:?}", d);
        if d.delta > 2 && state.node_count >= p.min_nodes {
            prop_assert!(d.reasons.iter().any(|r| r.contains("need")), "{:?}", d);
        }
    }

    #[test]
    fn no_scale_down_within_600s_of_a_scale_up(ago in 0i64..600, nodes in 2u32..14, samples in arb_samples()) {
        let state = after(ScaleAction::ScaleUp, ago, nodes);
        let d = decide(&Policy::default(), &state, &samples, now());
        prop_assert_ne!(d.action, Action::ScaleDown, "{:?}", d);
    }

    #[test]
    fn never_panics_and_always_explains(state in arb_state(), samples in arb_samples()) {
        let d = decide(&Policy::default(), &state, &samples, now());
        prop_assert!(!d.reasons.is_empty());
        if d.action == Action::None && d.blocked_by.is_some() {
            prop_assert!(!d.reasons.is_empty());
        }
    }
}

fn pending(age_s: i64, pods: u32, cpu_millis: f64, memory_mib: f64) -> Sample {
    Sample {
        pending_pods: Some(pods),
        pending_cpu_millis: Some(cpu_millis),
        pending_memory_bytes: Some(memory_mib * 1048576.0),
        ..calm(age_s)
    }
}

#[test]
fn a_pending_scale_up_is_sized_by_the_pending_requests() {
    // 12 pods of 200m/256Mi: memory needs 3072/1472 → 3 nodes, more than the fixed +2.
    let samples = series(240, |a| pending(a, 12, 2400.0, 3072.0));
    let d = decide(&Policy::default(), &state(3), &samples, now());
    assert_eq!((d.action, d.target_nodes), (Action::ScaleUp, 6), "{d:?}");
    assert!(d.reasons.iter().any(|r| r == "pending requests 2400m CPU, 3072 MiB need 3 new node(s)"), "{d:?}");

    // A small need still gets the urgent step.
    let samples = series(240, |a| pending(a, 1, 200.0, 256.0));
    assert_eq!(decide(&Policy::default(), &state(3), &samples, now()).target_nodes, 5);

    // Capped at max_nodes, with the need explained.
    let samples = series(240, |a| pending(a, 40, 8000.0, 10240.0));
    let d = decide(&Policy::default(), &state(6), &samples, now());
    assert_eq!(d.target_nodes, 10, "{d:?}");

    // Switched off: the spec's +2.
    let samples = series(240, |a| pending(a, 12, 2400.0, 3072.0));
    assert_eq!(decide(&spec_policy(), &state(3), &samples, now()).target_nodes, 5);
}

#[test]
fn unknown_pending_requests_fall_back_to_the_fixed_step_and_say_so() {
    let samples = series(240, |a| Sample { pending_pods: Some(12), ..calm(a) });
    let d = decide(&Policy::default(), &state(3), &samples, now());
    assert_eq!(d.target_nodes, 5, "{d:?}");
    assert!(d.reasons.iter().any(|r| r.contains("requests unknown")), "{d:?}");
}

#[test]
fn the_fit_check_keeps_a_node_whose_pods_would_crowd_the_rest() {
    // 12 replicas (3072 MiB) would fill 104 % of two nodes' room (2 × 1472 MiB).
    let crowded = series(660, |a| Sample { requested_memory_bytes: Some(3072.0 * MIB), ..quiet(a) });
    let d = decide(&Policy::default(), &state(3), &crowded, now());
    assert_eq!(d.action, Action::None, "{d:?}");
    let why = "no scale-down: peak requested memory over 60m00s would fill 104% of one node fewer (> 80%)";
    assert!(d.reasons.iter().any(|r| r == why), "{d:?}");
    assert_eq!(decide(&spec_policy(), &state(3), &crowded, now()).action, Action::ScaleDown);

    // Unknown requests never pass the fit check.
    let unknown = series(660, |a| Sample { requested_cpu_millis: None, ..quiet(a) });
    let d = decide(&Policy::default(), &state(3), &unknown, now());
    assert!(d.reasons.iter().any(|r| r.contains("requested cpu unknown")), "{d:?}");
    assert_eq!(d.action, Action::None);

    let roomy = series(660, quiet);
    let d = decide(&Policy::default(), &state(3), &roomy, now());
    assert_eq!(d.action, Action::ScaleDown, "{d:?}");
    let why = "peak requested memory over 60m00s fills 52% of one node fewer <= 80%";
    assert!(d.reasons.iter().any(|r| r == why), "{d:?}");
}

#[test]
fn the_fit_check_remembers_the_peak_of_the_last_hour() {
    // Quiet now, but 40 minutes ago pods were pending on top of the running ones.
    let samples = series(3600, |a| {
        let pending = if (2370..=2430).contains(&a) { 2400.0 } else { 0.0 };
        Sample { pending_cpu_millis: Some(pending), pending_memory_bytes: Some(pending * 1.28 * MIB), ..quiet(a) }
    });
    let d = decide(&Policy::default(), &state(3), &samples, now());
    assert_eq!(d.action, Action::None, "{d:?}");
    assert!(d.reasons.iter().any(|r| r.contains("peak requested cpu over 60m00s would fill 100%")), "{d:?}");
    // With a 30-minute lookback the peak is forgotten.
    let policy = Policy { scale_down_fit_lookback_s: 1800, ..Policy::default() };
    assert_eq!(decide(&policy, &state(3), &samples, now()).action, Action::ScaleDown);
}

/// Quiet samples whose requested memory is `mib(age_s)` (3 nodes: one node fewer has 2944 MiB
/// of room, 2355 MiB at 80 %, and a node's worth below that is 1178 MiB).
fn memory_requests(span_s: i64, mib: impl Fn(i64) -> f64) -> Vec<Sample> {
    series(span_s, |a| Sample { requested_memory_bytes: Some(mib(a) * MIB), ..quiet(a) })
}

#[test]
fn a_descent_releases_the_node_after_the_short_window_not_the_hour() {
    // 12 replicas (3072 MiB, 104 % of one node fewer) until 20 minutes ago, 6 since: the load
    // came down and stayed down.
    let samples = memory_requests(4200, |a| if a > 1200 { 3072.0 } else { 1536.0 });
    let d = decide(&Policy::default(), &state(3), &samples, now());
    assert_eq!(d.action, Action::ScaleDown, "{d:?}");
    let why = "requested memory came down: peak over 15m00s fills 52% of one node fewer <= 80%, and it has not risen past that in 75m00s (the 60m00s peak, 104%, was on the way down)";
    assert!(d.reasons.iter().any(|r| r == why), "{d:?}");
    // Off, the hour's peak holds the node, as before.
    let off = Policy { scale_down_fit_descent: false, ..Policy::default() };
    let d = decide(&off, &state(3), &samples, now());
    assert_eq!(d.action, Action::None, "{d:?}");
    assert!(d.reasons.iter().any(|r| r.contains("peak requested memory over 60m00s would fill 104%")), "{d:?}");
}

#[test]
fn a_descent_never_goes_below_min_nodes_nor_inside_the_cooldown() {
    let samples = memory_requests(4200, |a| if a > 1200 { 3072.0 } else { 1536.0 });
    let at_floor = Policy { min_nodes: 3, ..Policy::default() };
    let d = decide(&at_floor, &state(3), &samples, now());
    assert_eq!((d.action, d.blocked_by), (Action::None, Some(BlockedBy::MinNodes)), "{d:?}");
    let d = decide(&Policy::default(), &after(ScaleAction::ScaleDown, 300, 3), &samples, now());
    assert_eq!((d.action, d.blocked_by), (Action::None, Some(BlockedBy::Cooldown)), "{d:?}");
}

#[test]
fn a_descent_needs_the_short_window_to_fit_too() {
    // Down for 8 minutes only: the last 15 minutes still hold the peak.
    let samples = memory_requests(4200, |a| if a > 480 { 3072.0 } else { 1536.0 });
    let d = decide(&Policy::default(), &state(3), &samples, now());
    assert_eq!(d.action, Action::None, "{d:?}");
    assert!(d.reasons.iter().any(|r| r.contains("would fill 104%")), "{d:?}");
}

#[test]
fn a_wiggle_smaller_than_a_node_is_still_a_descent_but_a_burst_holds_the_hour() {
    // Coming down with one bounce back over the line, from 1536 MiB (above 1178: less than a
    // node's worth below the limit).
    let wiggle = memory_requests(4200, |a| match a {
        1301.. => 3072.0,
        1000..=1060 => 2500.0,
        _ => 1536.0,
    });
    assert_eq!(decide(&Policy::default(), &state(3), &wiggle, now()).action, Action::ScaleDown);
    // The same bounce from 1024 MiB (a node's worth below the limit and more): a burst, which
    // may come again; the hour's peak (2500 MiB, 85 % of one node fewer) holds the node.
    let burst = memory_requests(4200, |a| match a {
        1000..=1060 => 2500.0,
        _ => 1024.0,
    });
    let d = decide(&Policy::default(), &state(3), &burst, now());
    assert_eq!(d.action, Action::None, "{d:?}");
    assert!(d.reasons.iter().any(|r| r.contains("peak requested memory over 60m00s would fill 85%")), "{d:?}");
}

#[test]
fn an_hourly_burst_is_seen_rising_whatever_its_phase() {
    // The previous burst straddles the hour's edge: inside the hour only its tail shows, which
    // alone would look like a descent. The descent rule looks back the hour and its own 15
    // minutes, so it sees the burst rise (the ASG trace's hourly spike).
    let samples = memory_requests(4200, |a| if (3540..=3660).contains(&a) { 3072.0 } else { 1024.0 });
    let d = decide(&Policy::default(), &state(3), &samples, now());
    assert_eq!(d.action, Action::None, "{d:?}");
    assert!(d.reasons.iter().any(|r| r.contains("peak requested memory over 60m00s would fill 104%")), "{d:?}");
    // Seen over the hour alone (the samples older than it dropped), the tail reads as a descent.
    let hour_only: Vec<Sample> = samples.into_iter().filter(|s| s.at >= now() - Duration::seconds(3600)).collect();
    assert_eq!(decide(&Policy::default(), &state(3), &hour_only, now()).action, Action::ScaleDown);
}

#[test]
fn unschedulable_pods_trigger_after_30_s_where_the_spec_waits_three_minutes() {
    let samples = series(90, |a| pending(a, 2, 400.0, 512.0));
    let d = decide(&Policy::default(), &state(3), &samples, now());
    assert_eq!(d.action, Action::ScaleUp, "{d:?}");
    assert!(d.reasons.iter().any(|r| r.starts_with("2 pending pods for 1m30s (> 0m30s)")), "{d:?}");
    assert_eq!(decide(&spec_policy(), &state(3), &samples, now()).action, Action::None);
    // The fast path's run, 30 s after the first pending sample: two samples, both pending.
    let just_now = series(30, |a| pending(a, 2, 400.0, 512.0));
    assert_eq!(decide(&Policy::default(), &state(3), &just_now, now()).action, Action::ScaleUp);
    // One sample alone, with a calm one before it inside the window, is no sustained condition.
    let blip = series(30, |a| if a == 0 { pending(a, 2, 400.0, 512.0) } else { calm(a) });
    assert_eq!(decide(&Policy::default(), &state(3), &blip, now()).action, Action::None);
}

#[test]
fn pods_no_new_node_could_host_do_not_trigger_a_scale_up() {
    let policy = Policy::default();
    let state = DecisionState { node_count: 3, ..Default::default() };
    let pending = |unhostable: Option<u32>| {
        series(240, |a| Sample { pending_pods: Some(2), unhostable_pods: unhostable, ..calm(a) })
    };
    let all_too_big = decide(&policy, &state, &pending(Some(2)), now());
    assert_eq!(all_too_big.action, Action::None, "{all_too_big:?}");
    let one_too_big = decide(&policy, &state, &pending(Some(1)), now());
    assert_eq!(one_too_big.action, Action::ScaleUp);
    assert!(one_too_big.reasons.iter().any(|r| r.contains("1 of them larger than a new node")), "{one_too_big:?}");
    let unknown = decide(&policy, &state, &pending(None), now());
    assert_eq!(unknown.action, Action::ScaleUp, "unknown is not zero: it never silences a shortfall");
}
