//! The core and the CLI (and so the simulator) must never pull in the AWS SDK or kube: a fresh
//! machine must reach its first `smartscale` result in a couple of minutes, not after an
//! eight-minute SDK build.

use std::process::Command;

const FORBIDDEN: &[&str] = &["aws-sdk-", "aws-config", "aws-smithy", "kube", "k8s-openapi"];

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
fn core_and_cli_stay_free_of_aws_sdk_and_kube() {
    for package in ["smartscale-core", "smartscale"] {
        let tree = dependency_tree(package);
        assert!(tree.contains("smartscale-core"), "unexpected cargo tree output: {tree}");
        let offenders: Vec<&str> = tree.lines().filter(|line| FORBIDDEN.iter().any(|f| line.starts_with(f))).collect();
        assert!(offenders.is_empty(), "{package} depends on {offenders:?}");
    }
}
