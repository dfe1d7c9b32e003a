//! `smartscale invoke cost-report`: the weekly report on the recorded week
//! (events/cost-report-ledger.json) and the scheduler's input (events/scheduler-cost-report.json).

use std::process::Command;

use serde_json::Value;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_smartscale")).args(args).output().unwrap()
}

fn event(name: &str) -> String {
    format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_report_adds_up_the_recorded_week_and_posts_it_to_slack() {
    let out = run(&["invoke", "cost-report", "--event", &event("scheduler-cost-report")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &done["response"];
    // The seeded fleet (2 On-Demand and 1 Spot t3.small) all week, plus the ledger's changes.
    assert_eq!(r["on_demand"]["node_hours"], 360.0, "{r}");
    assert_eq!(r["spot"]["node_hours"], 264.0, "{r}");
    let on_demand = 360.0 * 0.0208;
    // The seeded Spot node all week, the ledger's t3.small Spot for a day, its t3a.small for three.
    let spot = 168.0 * 0.00728 + 24.0 * 0.00728 + 72.0 * 0.00658;
    let exact = r["cost_usd"].as_f64().unwrap();
    assert!((r["on_demand"]["cost_usd"].as_f64().unwrap() - on_demand).abs() < 1e-9, "{r}");
    assert!((exact - (on_demand + spot)).abs() < 1e-6, "{exact} vs {}", on_demand + spot);
    assert_eq!(
        (r["scale_ups"].as_u64(), r["scale_downs"].as_u64(), r["interruptions"].as_u64()),
        (Some(2), Some(2), Some(1))
    );
    assert_eq!(r["spot_fallbacks"], 1);
    assert_eq!(r["hours_at_max"], 0.0);
    // Fifteen minutes of CPU is not a week of it: no CPU recommendation.
    assert!(r["cpu_coverage"].as_f64().unwrap() < 0.02);

    let slack = &done["slack_messages"];
    assert_eq!(slack.as_array().unwrap().len(), 1, "{done}");
    let text = slack[0].to_string();
    assert!(text.contains(&format!("${:.2}", exact)), "rounded for people: {text}");
    assert!(!text.contains(&exact.to_string()), "the exact figure stays in the JSON");
    assert!(text.contains("Weekly cost report: prod saved 46%"), "{text}");
    assert!(text.contains("0.0 h at max") && !text.contains("-0.0 h"), "{text}");
}

#[test]
fn a_bad_event_fails_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("cost-report-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.json");
    std::fs::write(&path, r#"{"days": 365}"#).unwrap();
    let out = run(&["invoke", "cost-report", "--event", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("days") && all.contains("1 to 31"), "{all}");
}
