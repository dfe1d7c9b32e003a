//! The demo app is a workload, not part of the autoscaler: neither the core nor the CLI may
//! depend on it or on its web stack.

use std::process::Command;

const FORBIDDEN: &[&str] = &["smartscale-demo-app", "axum", "prometheus-client"];

fn dependency_tree(package: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--locked", "-p", package, "-e", "normal,build", "--prefix", "none"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn core_and_cli_stay_free_of_the_demo_app() {
    for package in ["smartscale-core", "smartscale"] {
        let tree = dependency_tree(package);
        assert!(tree.contains("smartscale-core"), "unexpected cargo tree output: {tree}");
        let offenders: Vec<&str> =
            tree.lines().filter(|line| FORBIDDEN.iter().any(|f| line.starts_with(&format!("{f} ")))).collect();
        assert!(offenders.is_empty(), "{package} depends on {offenders:?}");
    }
    // The check can see the crate at all.
    assert!(dependency_tree("smartscale-demo-app").lines().any(|l| l.starts_with("axum ")));
}
