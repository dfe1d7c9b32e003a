//! Predictive scaling in the simulator (issue 15): the `predictive` row runs the real decider on
//! the demand history the world records every 5 minutes; with less than two cycles of it the
//! decider stays reactive and says why; `forecast-only` changes no action against `off`; and on a
//! load with no season the engine finds no pattern and changes nothing for the worse.

use smartscale_sim::trace::Trace;
use smartscale_sim::{compare, run, ForecastTally, PolicyName, Run, SimConfig, Summary};

fn week(days: u32, policy: PolicyName) -> SimConfig {
    SimConfig { policy, ..SimConfig::new(days) }
}

fn with(config: SimConfig, settings: &[(&str, &str)]) -> SimConfig {
    let settings = settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    SimConfig { settings, ..config }
}

fn safe(s: &Summary) {
    assert_eq!((s.pdb_violations, s.pods_lost, s.dlq_messages, s.decider_errors), (0, 0, 0, 0), "{s:?}");
}

fn tally(s: &Summary) -> &ForecastTally {
    s.forecast.as_ref().unwrap_or_else(|| panic!("{} has no forecast side: {s:?}", s.policy))
}

fn simulate(config: &SimConfig) -> Run {
    run(config, &mut |_| {}).unwrap()
}

#[test]
fn the_predictive_row_fits_the_history_the_world_records_and_acts_on_it() {
    // Four days: no profile for the first two (two whole daily cycles are needed), a daily one after.
    let r = simulate(&week(4, PolicyName::Predictive));
    let s = &r.summary;
    safe(s);
    assert_eq!(s.policy, "predictive");
    let f = tally(s);
    assert_eq!(f.mode.map(|m| m.as_str()), Some("active"));
    // Every scheduled run (every 2 minutes) and every fast-path run had a forecast side.
    assert!(f.runs >= 4 * 720, "{f:?}");
    assert!(f.runs_not_enough_history > 0 && f.runs_with_profile > 0, "{f:?}");
    assert_eq!(f.runs_history_unavailable, 0, "the world feeds the history: {f:?}");
    // Refitted every 6 hours from the history read back, the first profile after two days.
    assert_eq!(f.fits, 16, "{f:?}");
    assert!(f.daily_fits > 0 && f.weekly_fits == 0, "a weekly profile needs 14 days: {f:?}");
    let first = f.first_profile_at.expect("a profile was fitted");
    let start = SimConfig::new(4).start;
    assert!(first >= start + chrono::Duration::days(2), "{first}");
    let fit = f.last_fit.as_ref().expect("the last fit is reported");
    assert!(fit.outcome.starts_with("daily profile, p90 of 14 days"), "{fit:?}");
    let backtest = fit.backtest.expect("a fitted profile carries its back-test");
    assert!(backtest.hours > 20.0 && backtest.demand_node_hours > 0.0, "{backtest:?}");
    // It acted: pre-scales (or raised scale-ups) and held scale-downs, applied to the decisions.
    assert!(f.pre_scales + f.raised > 0 && f.applied > 0, "{f:?}");
    // The synthetic week's windows are counted: four morning rushes Monday to Thursday, no Friday
    // sale yet, and nothing after a 14-day warm-up in 4 days.
    assert_eq!(s.windows.len(), 2);
    assert!(s.windows[0].occurrences == 4 && s.windows[1].occurrences == 0, "{:?}", s.windows);
    assert_eq!(s.windows[0].occurrences_after_warm_up, 0);
}

#[test]
fn with_less_than_two_cycles_it_stays_reactive_and_says_so() {
    // Under two days of history: no forecast at all, so the same run as without prediction.
    let predictive = simulate(&week(1, PolicyName::Predictive));
    let off = simulate(&with(week(1, PolicyName::Smartscale), &[("PREDICTIVE_MODE", "off")]));
    let f = tally(&predictive.summary);
    assert_eq!((f.runs_with_profile, f.pre_scales, f.scale_downs_held, f.applied), (0, 0, 0, 0), "{f:?}");
    assert_eq!(f.runs_not_enough_history, f.runs, "{f:?}");
    assert_eq!(f.not_enough_history_fits, f.fits);
    let why = f.last_no_forecast.as_deref().unwrap_or_default();
    assert!(why.starts_with("no forecast: ") && why.contains("need two whole cycles"), "{why}");
    assert!(off.summary.forecast.is_none(), "off computes nothing");
    assert_eq!(predictive.timeline, off.timeline, "the same actions, step by step");
    assert_eq!(predictive.summary.cost_usd, off.summary.cost_usd);
    assert_eq!(predictive.summary.unschedulable_pod_minutes, off.summary.unschedulable_pod_minutes);
}

#[test]
fn forecast_only_changes_no_action_against_off() {
    // Three days: a daily profile from day 2 that would have pre-scaled and held scale-downs.
    let only = simulate(&week(3, PolicyName::Smartscale));
    let off = simulate(&with(week(3, PolicyName::Smartscale), &[("PREDICTIVE_MODE", "off")]));
    let f = tally(&only.summary);
    assert_eq!(f.mode.map(|m| m.as_str()), Some("forecast-only"), "smartscale's default mode");
    assert!(f.runs_with_profile > 0, "{f:?}");
    assert!(f.pre_scales + f.raised + f.scale_downs_held > 0, "it would have acted: {f:?}");
    assert_eq!(f.applied, 0, "{f:?}");
    assert_eq!(only.timeline, off.timeline, "every scale-up, scale-down and point the same");
    let strip = |s: &Summary| Summary { forecast: None, ..s.clone() };
    assert_eq!(strip(&only.summary), strip(&off.summary));
}

/// Two nodes' worth of load with 20-minute bursts to the peak at seeded random instants, about
/// three a day, and noise: no daily or weekly shape.
fn bursty_trace(days: i64) -> Trace {
    let splitmix = |mut x: u64| {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (x ^ (x >> 31)) as f64 / u64::MAX as f64
    };
    let start: chrono::DateTime<chrono::Utc> = "2026-03-02T00:00:00Z".parse().unwrap();
    let minutes = days * 1440;
    let burst_starts: Vec<i64> = (0..minutes).filter(|m| splitmix(*m as u64 ^ 0xB0B5) < 3.0 / 1440.0).collect();
    let mut csv = String::from("timestamp,value\n");
    for m in 0..minutes {
        let bursting = burst_starts.iter().any(|b| (*b..b + 20).contains(&m));
        let value = if bursting { 100.0 } else { 25.0 + 10.0 * splitmix(m as u64 ^ 0x5EED) };
        let at = start + chrono::Duration::minutes(m);
        csv.push_str(&format!("{},{value}\n", at.format("%Y-%m-%dT%H:%M:%SZ")));
    }
    Trace::parse(&csv, "bursty (generated)").unwrap()
}

#[test]
fn a_load_with_no_season_has_no_pattern_and_prediction_changes_nothing_for_the_worse() {
    let trace = bursty_trace(6);
    let config = SimConfig { trace: Some(trace), start: "2026-03-02T00:00:00Z".parse().unwrap(), ..SimConfig::new(6) };
    let runs = compare(&config, &mut |_| {}).unwrap();
    let by = |name: &str| &runs.iter().find(|r| r.summary.policy == name).unwrap().summary;
    let (reactive, predictive) = (by("smartscale"), by("predictive"));
    safe(reactive);
    safe(predictive);
    let f = tally(predictive);
    assert!(f.fits > 0 && f.no_pattern_fits > 0, "{f:?}");
    assert!(f.runs_no_pattern > 10 * f.runs_with_profile, "the engine finds no pattern: {f:?}");
    assert!(f.last_no_forecast.as_deref().is_some_and(|w| w.starts_with("no pattern: ")), "{f:?}");
    assert!(predictive.cost_usd <= reactive.cost_usd * 1.01, "{} vs {}: {f:?}", predictive.cost_usd, reactive.cost_usd);
    assert!(
        predictive.unschedulable_pod_minutes <= reactive.unschedulable_pod_minutes * 1.05 + 1.0,
        "{} vs {}",
        predictive.unschedulable_pod_minutes,
        reactive.unschedulable_pod_minutes
    );
    assert!(predictive.windows.is_empty(), "a trace has no named windows");
}
