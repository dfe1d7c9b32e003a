//! `--start`, `--days` and `--peak-value` choose the window of a trace that is replayed and the
//! value its load is scaled by; a window the trace cannot give is refused with its span.
//!
//! The trace here is made for the figures to be exact: hourly points for ten days from
//! 2014-07-01T00:00Z, all 12 except 192 at day 0 12:00 and 96 at day 3 00:00. The oracle's
//! `total_pod_minutes` is Σ replicas × ¼ min per 15 s step, with replicas = ⌈load × 8 nodes × 5⌉,
//! so it tells which hours were replayed and how they were scaled.

mod common;

use std::path::PathBuf;

use common::smartscale;
use serde_json::Value;

const DAY3: &str = "2014-07-04T00:00:00Z";

fn trace_file(name: &str, value: impl Fn(u32) -> u32) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smartscale-window-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let start: chrono::DateTime<chrono::Utc> = "2014-07-01T00:00:00Z".parse().unwrap();
    let mut csv = String::from("timestamp,value\n");
    for hour in 0..240 {
        let at = start + chrono::Duration::hours(i64::from(hour));
        csv.push_str(&format!("{},{}\n", at.format("%Y-%m-%dT%H:%M:%SZ"), value(hour)));
    }
    let path = dir.join(name);
    std::fs::write(&path, csv).unwrap();
    path
}

/// `test` names the file: the tests run at once, and one must not read another's half-written file.
fn spiky_trace(test: &str) -> PathBuf {
    trace_file(&format!("spiky-{test}.csv"), |hour| match hour {
        12 => 192,
        72 => 96,
        _ => 12,
    })
}

fn oracle_json(args: &[&str]) -> Value {
    let mut all = vec!["simulate", "--policy", "oracle", "--json"];
    all.extend_from_slice(args);
    let out = smartscale(&all, None);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn refused(args: &[&str]) -> String {
    let out = smartscale(args, None);
    assert_eq!(out.status.code(), Some(2), "{args:?} was not refused as bad input");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn start_chooses_where_the_replay_begins_and_the_window_peak_scales_it() {
    let trace = spiky_trace("start");
    let trace = trace.to_str().unwrap();
    // From day 3: the first hour is the window's peak (load 1.0, 40 replicas), then 12/96 = ⅛ (5).
    let run = oracle_json(&["--trace", trace, "--start", DAY3, "--days", "1"]);
    let window = &run["window"];
    assert_eq!(window["trace"], trace);
    assert_eq!(window["start"], DAY3);
    assert_eq!(window["end"], "2014-07-05T00:00:00Z");
    assert_eq!((window["peak_used"].as_f64(), window["peak_from"].as_str()), (Some(96.0), Some("window")));
    assert_eq!(window["window_peak_at"], DAY3);
    assert_eq!(run["total_pod_minutes"], 60.0 * 40.0 + 23.0 * 60.0 * 5.0, "{run}");
    assert_eq!(run["max_nodes_seen"], 8, "the first step asks for the peak's 8 nodes");

    // An hour later the spike is not replayed: every value is the window's peak, load 1.0 all day.
    let later = oracle_json(&["--trace", trace, "--start", "2014-07-04T01:00:00Z", "--days", "1"]);
    assert_eq!(later["window"]["peak_used"], 12.0);
    assert_eq!(later["total_pod_minutes"], 24.0 * 60.0 * 40.0, "{later}");

    // The default is the trace's first point, scaled by day 0's own peak (192): 12/192 → 3 replicas.
    let default = oracle_json(&["--trace", trace, "--days", "1"]);
    assert_eq!(default["window"]["start"], "2014-07-01T00:00:00Z");
    assert_eq!(default["window"]["peak_used"], 192.0);
    assert_eq!(default["window"]["window_peak_at"], "2014-07-01T12:00:00Z");
    assert_eq!(default["total_pod_minutes"], 60.0 * 40.0 + 23.0 * 60.0 * 3.0, "{default}");
}

#[test]
fn peak_value_scales_by_another_value() {
    let trace = spiky_trace("peak-value");
    let trace = trace.to_str().unwrap();
    // Day 3 scaled by the whole trace's peak: 96/192 → 20 replicas, 12/192 → 3.
    let run = oracle_json(&["--trace", trace, "--start", DAY3, "--days", "1", "--peak-value", "192"]);
    let window = &run["window"];
    assert_eq!((window["peak_used"].as_f64(), window["peak_from"].as_str()), (Some(192.0), Some("--peak-value")));
    assert_eq!(window["window_peak"], 96.0, "the window's own peak is still reported");
    assert_eq!(run["total_pod_minutes"], 60.0 * 20.0 + 23.0 * 60.0 * 3.0, "{run}");
    assert_eq!(run["max_nodes_seen"], 4);
}

#[test]
fn a_peak_value_that_cannot_scale_the_window_is_refused() {
    let trace = spiky_trace("peak-refused");
    let trace = trace.to_str().unwrap();
    let err = refused(&["simulate", "--trace", trace, "--start", DAY3, "--days", "1", "--peak-value", "50"]);
    assert!(
        err.contains("--peak-value")
            && err.contains("50 is below the window's peak 96 (the trace's point at 2014-07-04T00:00:00Z)")
            && err.contains("give at least 96"),
        "{err}"
    );
    for value in ["0", "-3", "NaN", "inf"] {
        let err = refused(&["simulate", "--trace", trace, "--days", "1", &format!("--peak-value={value}")]);
        assert!(err.contains("--peak-value") && err.contains("must be a finite number above 0"), "{value}: {err}");
    }
    let err = refused(&["simulate", "--days", "1", "--peak-value", "100"]);
    assert!(err.contains("--peak-value") && err.contains("give --trace"), "{err}");

    // A window with nothing but zeros has no peak: unknown is not a load of 0.
    let zeros = trace_file("zeros.csv", |hour| if hour < 48 { 0 } else { 7 });
    let zeros = zeros.to_str().unwrap();
    let err = refused(&["simulate", "--trace", zeros, "--days", "2"]);
    assert!(err.contains("--peak-value") && err.contains("is 0 throughout"), "{err}");
    let run = oracle_json(&["--trace", zeros, "--days", "2", "--peak-value", "7"]);
    assert_eq!(run["total_pod_minutes"], 2.0 * 24.0 * 60.0, "one replica at least, never zero");
}

#[test]
fn a_window_outside_the_trace_is_refused_with_its_span_and_what_fits() {
    let trace = spiky_trace("outside");
    let trace = trace.to_str().unwrap();
    let span = format!("trace {trace} covers 2014-07-01T00:00:00Z to 2014-07-11T00:00:00Z (10.00 days)");

    let err = refused(&["simulate", "--trace", trace, "--start", "2014-06-30T00:00:00Z", "--days", "1"]);
    assert!(err.contains("`--start`") && err.contains("is before the trace starts"), "{err}");
    assert!(err.contains(&span) && err.contains("at most --days 10 fits"), "{err}");

    let err = refused(&["compare", "--trace", trace, "--start", "2014-07-08T12:00:00Z", "--days", "3"]);
    assert!(err.contains("`--days`") && err.contains("runs to 2014-07-11T12:00:00Z, past the trace's end"), "{err}");
    assert!(err.contains(&span), "{err}");
    assert!(err.contains("at most --days 2 fits from this start"), "{err}");
    assert!(err.contains("start no later than 2014-07-08T00:00:00Z for --days 3"), "{err}");

    let err = refused(&["simulate", "--trace", trace, "--days", "11"]);
    assert!(err.contains("the whole trace is shorter than 11 days: at most --days 10 fits, from its start"), "{err}");

    // The last point holds for one step, so the whole trace is exactly ten days.
    let whole = oracle_json(&["--trace", trace, "--days", "10"]);
    assert_eq!(whole["window"]["end"], "2014-07-11T00:00:00Z");
}

#[test]
fn the_window_is_in_the_summary_the_comparison_and_the_report() {
    let trace = spiky_trace("reported");
    let trace = trace.to_str().unwrap();
    let expected = format!(
        "trace {trace}, 2014-07-04 00:00 UTC to 2014-07-05 00:00 UTC (1.00 days), load 1.0 = the window's peak, 96 at \
         2014-07-04 00:00 UTC"
    );
    let out = smartscale(&["simulate", "--trace", trace, "--start", DAY3, "--days", "1", "--policy", "ca-like"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l == format!("window                     {expected}")), "{text}");

    let report = std::env::temp_dir().join(format!("smartscale-window-{}/report.html", std::process::id()));
    let args = ["compare", "--trace", trace, "--start", DAY3, "--days", "1", "--peak-value", "192"];
    let out = smartscale(&[&args[..], &["--report", report.to_str().unwrap()]].concat(), None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let scaled = format!(
        "trace {trace}, 2014-07-04 00:00 UTC to 2014-07-05 00:00 UTC (1.00 days), load 1.0 = 192 (--peak-value; the \
         window's peak is 96 at 2014-07-04 00:00 UTC)"
    );
    assert_eq!(text.lines().next(), Some(format!("window: {scaled}").as_str()), "{text}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains(&format!("<p id=\"window\">Window: {scaled}</p>")), "{html}");

    let out = smartscale(&[&args[..], &["--json"]].concat(), None);
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let windows: Vec<&Value> = runs.as_array().unwrap().iter().map(|r| &r["window"]).collect();
    assert_eq!(windows.len(), 7);
    assert!(windows.iter().all(|w| *w == windows[0] && w["peak_used"] == 192.0), "{windows:?}");
}

#[test]
fn a_gap_in_the_trace_inside_the_window_is_said() {
    // Hours 30–41 have no point: hour 29's value is held over them.
    let dir = std::env::temp_dir().join(format!("smartscale-window-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let start: chrono::DateTime<chrono::Utc> = "2014-07-01T00:00:00Z".parse().unwrap();
    let mut csv = String::from("timestamp,value\n");
    for hour in (0..72).filter(|h| !(30..42).contains(h)) {
        let at = start + chrono::Duration::hours(hour);
        csv.push_str(&format!("{},5\n", at.format("%Y-%m-%dT%H:%M:%SZ")));
    }
    let path = dir.join("gappy.csv");
    std::fs::write(&path, csv).unwrap();
    let run = oracle_json(&["--trace", path.to_str().unwrap(), "--days", "3"]);
    assert_eq!(run["window"]["longest_gap_s"], 13 * 3600, "{run}");
    assert_eq!(run["window"]["longest_gap_from"], "2014-07-02T05:00:00Z");
    assert_eq!(run["window"]["trace_step_s"], 3600);
    let out = smartscale(&["simulate", "--policy", "oracle", "--trace", path.to_str().unwrap(), "--days", "3"], None);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("the trace has no point for 0.54 days from 2014-07-02 05:00 UTC (its step is 3600 s)"),
        "{text}"
    );
}
