//! `--report` renders in a real browser: Debian's headless Chromium, installed by scripts/test.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> String {
    match std::env::var("SMARTSCALE_TEST_CHROMIUM") {
        Ok(path) if !path.is_empty() => path,
        _ => panic!("SMARTSCALE_TEST_CHROMIUM is not set: this test needs Debian's chromium; run the suite with scripts/test, which installs it"),
    }
}

fn headless(profile: &Path) -> Command {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

#[test]
fn the_report_renders_in_headless_chromium() {
    let dir = std::env::temp_dir().join(format!("smartscale-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report: PathBuf = dir.join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_smartscale"))
        .args(["compare", "--days", "2", "--report", report.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let url = format!("file://{}", report.display());

    // The DOM Chromium built holds every chart.
    let dom = headless(&dir.join("profile-dom")).arg("--dump-dom").arg(&url).output().unwrap();
    assert!(dom.status.success(), "{}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8_lossy(&dom.stdout);
    for id in [
        "chart-cumulative-cost",
        "chart-pending-pods",
        "chart-capacity-smartscale",
        "chart-capacity-ca-like",
        "summary",
    ] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "the rendered DOM lacks {id}");
    }

    // And it paints: a 1280×900 screenshot with far more in it than a blank page.
    let png = dir.join("report.png");
    let shot =
        headless(&dir.join("profile-shot")).arg(format!("--screenshot={}", png.display())).arg(&url).output().unwrap();
    assert!(shot.status.success(), "{}", String::from_utf8_lossy(&shot.stderr));
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert_eq!(&bytes[1..4], b"PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 900));
    assert!(bytes.len() > 30_000, "the screenshot is nearly blank: {} bytes", bytes.len());
    let _ = std::fs::remove_dir_all(&dir);
}
