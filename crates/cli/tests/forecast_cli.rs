//! `smartscale forecast` from the command line, on the synthetic week and the shared traces.

use std::process::Command;

fn smartscale(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_smartscale")).args(args).output().unwrap()
}

fn json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["forecast", "--json"];
    all.extend_from_slice(args);
    let out = smartscale(&all);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn trace(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces").join(name);
    assert!(path.exists(), "{} (../shared/traces must sit beside the repo)", path.display());
    path.to_string_lossy().into_owned()
}

#[test]
fn the_synthetic_week_has_a_weekly_pattern_and_pre_scales_the_rushes() {
    // Monday 08:50 of the fourth week: the 9 AM rush is 10 minutes ahead.
    let r = json(&["--synthetic", "--at", "2026-12-14T08:50:00Z"]);
    assert_eq!(r["model"]["period"], "weekly");
    assert_eq!(r["now"]["source"]["kind"], "profile");
    let now_nodes = r["now"]["nodes"].as_u64().unwrap();
    let actual_0900 = r["next_24h"][0]["actual_nodes"].as_f64().unwrap();
    assert!(now_nodes as f64 >= actual_0900.ceil(), "Ready for the rush: {now_nodes} vs {actual_0900}");
    assert!(r["now"]["reason"].as_str().unwrap().starts_with("forecast "), "{}", r["now"]["reason"]);
    assert_eq!(r["next_24h"].as_array().unwrap().len(), 24);
    // Friday 20:00: the flash sale ramps to its peak (8 nodes) by 20:10, a lead time ahead.
    let r = json(&["--synthetic", "--at", "2026-12-18T20:00:00Z"]);
    assert!(r["now"]["nodes"].as_u64().unwrap() >= 8, "{}", r["now"]);
    let r = json(&["--synthetic", "--at", "2026-12-18T19:50:00Z"]);
    assert!(r["now"]["nodes"].as_u64().unwrap() >= 7, "the ramp's first slot: {}", r["now"]);
    let score = &r["walk_forward"]["score"];
    assert!(score["avoided_node_minutes"].as_f64().unwrap() > 0.0, "{score}");
}

#[test]
fn no_pattern_on_the_elb_trace() {
    let r = json(&["--trace", &trace("nab__elb_request_count_8c0756.csv")]);
    assert_eq!(r["no_forecast"]["reason"], "no-pattern", "{}", r["no_forecast"]);
    assert!(r["now"]["nodes"].is_null(), "nothing to act on");
    assert!(r["next_24h"].as_array().unwrap().iter().all(|h| h["forecast_nodes"].is_null()));
}

#[test]
fn the_asg_traces_hourly_spike_is_a_pattern() {
    // Read exactly 12 h out of phase, a spike every hour lands on itself; the yardstick's shifts
    // are no whole number of hours, so they do not.
    let r = json(&["--trace", &trace("nab__cpu_utilization_asg_misconfiguration.csv")]);
    let model = &r["model"];
    assert!(!model.is_null(), "{}", r["no_forecast"]);
    let error = |s: &serde_json::Value| s["predictive"]["asymmetric_error_pct"].as_f64().unwrap();
    assert!(error(&model["backtest"]) < 0.95 * error(&model["out_of_phase"]), "{model}");
    // Every hour of the next day holds the spike: its highest is above the trough the trace ends in.
    let trough = r["now"]["nodes"].as_u64().unwrap();
    let hours: Vec<u64> =
        r["next_24h"].as_array().unwrap().iter().filter_map(|h| h["forecast_nodes"].as_u64()).collect();
    assert_eq!(hours.len(), 24, "{}", r["next_24h"]);
    assert!(hours.iter().all(|&h| h > trough), "{hours:?} against {trough}");
}

#[test]
fn seasonal_traces_forecast_and_print_the_score() {
    for name in ["nab__nyc_taxi.csv", "pasan__nasa_requestdata-20240626.csv"] {
        let out = smartscale(&["forecast", "--trace", &trace(name)]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        for expected in [
            "model: weekly profile, p90 of 2 weeks + 10 %",
            "back-test on the last cycle",
            "next 24 h",
            "walk-forward back-test",
        ] {
            assert!(text.contains(expected), "{name}: {expected:?} missing:\n{text}");
        }
    }
}

#[test]
fn scheduled_floors_and_short_history() {
    let r = json(&["--synthetic", "--days", "1", "--floors", "MON 09:00-10:00 = 7", "--at", "2026-11-24T08:55:00Z"]);
    assert_eq!(r["no_forecast"]["reason"], "not-enough-history");
    assert!(r["now"]["nodes"].is_null(), "Tuesday has no floor");
    let r = json(&["--synthetic", "--days", "1", "--floors", "TUE 09:00-10:00 = 7", "--at", "2026-11-24T08:55:00Z"]);
    assert_eq!(r["now"]["nodes"], 7);
    assert_eq!(
        r["now"]["reason"],
        "scheduled floor TUE 09:00-10:00 = 7 (UTC) from Tue 09:00; pre-scaling 10 min ahead"
    );
}

#[test]
fn bad_flags_are_named() {
    for (args, expected) in [
        (vec!["forecast", "--synthetic", "--quantile", "p30"], "--quantile"),
        (vec!["forecast", "--synthetic", "--floors", "FRI 19:50 = 6"], "--floors: entry 1 `FRI 19:50 = 6`"),
        (vec!["forecast", "--synthetic", "--floors-tz", "Mars/Olympus"], "--floors-tz"),
        (vec!["forecast", "--synthetic", "--days-history", "1"], "--days-history"),
        (vec!["forecast", "--synthetic", "--at", "noon"], "--at"),
        (vec!["forecast"], "give --trace FILE, --synthetic or --prometheus URL"),
    ] {
        let out = smartscale(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
