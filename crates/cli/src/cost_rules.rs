//! `smartscale cost-rules`: the cluster side's Prometheus recording rules for cost, generated
//! from the decider's own price table and baseline ([`CostConfig`]), so that Grafana's cost
//! and the decider's `FleetCostPerHour` come from the same prices (docs/cost.md).
//!
//! The rules come in three groups, each reading only raw series and the groups before it
//! (scripts/check-k8s backfills them in that order: a backfilled rule sees no other rule's
//! output of the same pass):
//! 1. `smartscale-cost-prices`: one `smartscale:instance_price_usd_per_hour` rule per price
//!    table entry and lifecycle (`vector(price)` with `instance_type` and `lifecycle` labels),
//!    the baseline's cost, and the worker counts from kube-state-metrics' node labels (the
//!    `node.kubernetes.io/lifecycle` and `node.kubernetes.io/instance-type` labels the workers'
//!    user data sets at join).
//! 2. `smartscale-cost-nodes`: each worker node's price, and the workers no entry prices.
//! 3. `smartscale-cost-totals`: cost by lifecycle and type, the fleet's cost, savings.
//!
//! Unknown is never zero: the fleet's total and savings are absent while any worker is
//! unpriced (as the decider then publishes no `FleetCostPerHour`), and the unpriced count is
//! 0 only while kube-state-metrics reports workers.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use smartscale_core::config::MapConfig;
use smartscale_core::cost::CostConfig;
use smartscale_core::ports::Lifecycle;

/// Worker nodes as kube-state-metrics exports them, with the labels renamed to the price
/// rules' `instance_type` and `lifecycle`. The master has no lifecycle label and is left out.
const WORKERS: &str = r#"label_replace(label_replace(kube_node_labels{label_node_kubernetes_io_lifecycle=~"spot|on-demand"}, "instance_type", "$1", "label_node_kubernetes_io_instance_type", "(.*)"), "lifecycle", "$1", "label_node_kubernetes_io_lifecycle", "(.*)")"#;

#[derive(Debug, Args)]
pub struct CostRulesArgs {
    /// A price table as `PRICE_TABLE_JSON` takes it (a file); default: the built-in table.
    #[arg(long, value_name = "FILE")]
    price_table: Option<PathBuf>,
    /// `COST_BASELINE_NODES`: the On-Demand nodes savings are measured against (default 5).
    #[arg(long, value_name = "N")]
    baseline_nodes: Option<String>,
    /// `COST_BASELINE_INSTANCE_TYPE` (default t3.small).
    #[arg(long, value_name = "TYPE")]
    baseline_instance_type: Option<String>,
    /// Write the rules here instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Do not write: fail when FILE differs from what would be written.
    #[arg(long, value_name = "FILE", conflicts_with = "output")]
    check: Option<PathBuf>,
}

pub fn run(args: &CostRulesArgs) -> Result<(), String> {
    let mut config = MapConfig::new();
    if let Some(path) = &args.price_table {
        let json = std::fs::read_to_string(path).map_err(|e| format!("--price-table {}: {e}", path.display()))?;
        config = config.with("PRICE_TABLE_JSON", &json);
    }
    if let Some(n) = &args.baseline_nodes {
        config = config.with("COST_BASELINE_NODES", n);
    }
    if let Some(t) = &args.baseline_instance_type {
        config = config.with("COST_BASELINE_INSTANCE_TYPE", t);
    }
    let cost = CostConfig::from_config(&config).map_err(|e| {
        // The flags stand for the variables the Lambdas read; say which flag it was.
        e.to_string()
            .replace("PRICE_TABLE_JSON", "--price-table (PRICE_TABLE_JSON)")
            .replace("COST_BASELINE_NODES", "--baseline-nodes (COST_BASELINE_NODES)")
            .replace("COST_BASELINE_INSTANCE_TYPE", "--baseline-instance-type (COST_BASELINE_INSTANCE_TYPE)")
    })?;
    let rules = rules_yaml(&cost, &command_line(args));
    match (&args.output, &args.check) {
        (_, Some(path)) => {
            let committed = std::fs::read_to_string(path).map_err(|e| format!("--check {}: {e}", path.display()))?;
            if committed != rules {
                let line = committed
                    .lines()
                    .zip(rules.lines())
                    .position(|(a, b)| a != b)
                    .map_or_else(|| committed.lines().count().min(rules.lines().count()) + 1, |i| i + 1);
                return Err(format!(
                    "{} differs from what `{}` writes (first at line {line}): regenerate it with --output",
                    path.display(),
                    command_line(args)
                ));
            }
            Ok(())
        }
        (Some(path), None) => std::fs::write(path, rules).map_err(|e| format!("--output {}: {e}", path.display())),
        (None, None) => {
            print!("{rules}");
            Ok(())
        }
    }
}

/// The command that regenerates the file, as its header says (without --output/--check).
fn command_line(args: &CostRulesArgs) -> String {
    let mut line = "smartscale cost-rules".to_string();
    if let Some(p) = &args.price_table {
        let _ = write!(line, " --price-table {}", p.display());
    }
    if let Some(n) = &args.baseline_nodes {
        let _ = write!(line, " --baseline-nodes {n}");
    }
    if let Some(t) = &args.baseline_instance_type {
        let _ = write!(line, " --baseline-instance-type {t}");
    }
    line
}

/// A YAML double-quoted scalar (PromQL and label values hold `"`, `$` and `\`).
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The rules file (see the module's documentation). Prices are written as Rust prints them,
/// the shortest text that reads back as the same f64 the decider multiplies by.
pub fn rules_yaml(cost: &CostConfig, command: &str) -> String {
    let prices = &cost.prices;
    let baseline = &cost.baseline;
    let mut out = String::new();
    let _ = writeln!(out, "# GENERATED by `{command}` from the decider's price table");
    let _ = writeln!(
        out,
        "# ({}) and baseline ({} On-Demand {}). Do not edit:",
        prices.describe(),
        baseline.nodes,
        baseline.instance_type
    );
    let _ =
        writeln!(out, "# scripts/check-k8s fails when this file differs from what the generator writes. docs/cost.md.");
    out.push_str("groups:\n");
    out.push_str("  - name: smartscale-cost-prices\n    rules:\n");
    let mut types: Vec<&String> = prices.on_demand.keys().collect();
    types.sort();
    for instance_type in types {
        for lifecycle in [Lifecycle::OnDemand, Lifecycle::Spot] {
            let Some(price) = prices.per_hour(instance_type, lifecycle) else { continue };
            let _ = write!(
                out,
                "      - record: smartscale:instance_price_usd_per_hour\n        expr: vector({price})\n        labels:\n          instance_type: {}\n          lifecycle: {}\n          region: {}\n",
                quoted(instance_type),
                quoted(lifecycle.as_str()),
                quoted(&prices.region),
            );
        }
    }
    let _ = write!(
        out,
        "      - record: smartscale:baseline_cost_usd_per_hour\n        expr: vector({})\n        labels:\n          baseline: {}\n",
        cost.baseline_per_hour(),
        quoted(&format!("{} x {} on-demand", baseline.nodes, baseline.instance_type)),
    );
    rule(
        &mut out,
        "smartscale:worker_nodes:by_lifecycle_instance_type",
        &format!("count by (lifecycle, instance_type) ({WORKERS})"),
    );
    // Spot share of the workers, as the decider's SpotShare (Spot nodes over all workers).
    rule(
        &mut out,
        "smartscale:spot_share:ratio",
        r#"count(kube_node_labels{label_node_kubernetes_io_lifecycle="spot"}) / count(kube_node_labels{label_node_kubernetes_io_lifecycle=~"spot|on-demand"}) or (0 * count(kube_node_labels{label_node_kubernetes_io_lifecycle=~"spot|on-demand"}))"#,
    );

    out.push_str("  - name: smartscale-cost-nodes\n    rules:\n");
    rule(
        &mut out,
        "smartscale:node_cost_usd_per_hour",
        &format!(
            "max by (node, instance_type, lifecycle) ({WORKERS}) * on (instance_type, lifecycle) group_left (region) smartscale:instance_price_usd_per_hour"
        ),
    );
    rule(
        &mut out,
        "smartscale:unpriced_worker_nodes",
        &format!(
            "count(max by (node, instance_type, lifecycle) ({WORKERS}) unless on (instance_type, lifecycle) smartscale:instance_price_usd_per_hour) or (0 * count({WORKERS}))"
        ),
    );

    out.push_str("  - name: smartscale-cost-totals\n    rules:\n");
    rule(
        &mut out,
        "smartscale:cost_usd_per_hour:by_lifecycle_instance_type",
        "sum by (lifecycle, instance_type) (smartscale:node_cost_usd_per_hour)",
    );
    rule(
        &mut out,
        "smartscale:cost_usd_per_hour:by_lifecycle",
        "sum by (lifecycle) (smartscale:node_cost_usd_per_hour)",
    );
    // Absent while a worker is unpriced: a partial sum would read as a cheaper fleet.
    rule(
        &mut out,
        "smartscale:cost_usd_per_hour",
        "sum(smartscale:node_cost_usd_per_hour) unless on () (smartscale:unpriced_worker_nodes > 0)",
    );
    rule(
        &mut out,
        "smartscale:savings_usd_per_hour",
        "smartscale:baseline_cost_usd_per_hour - on () (sum(smartscale:node_cost_usd_per_hour) unless on () (smartscale:unpriced_worker_nodes > 0))",
    );
    rule(
        &mut out,
        "smartscale:savings:ratio",
        "1 - (sum(smartscale:node_cost_usd_per_hour) unless on () (smartscale:unpriced_worker_nodes > 0)) / on () smartscale:baseline_cost_usd_per_hour",
    );
    out
}

fn rule(out: &mut String, record: &str, expr: &str) {
    let _ = write!(out, "      - record: {record}\n        expr: {}\n", quoted(expr));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_price_rule_per_entry_and_lifecycle_from_the_decider_s_table() {
        let cost = CostConfig::from_config(&MapConfig::new()).unwrap();
        let yaml = rules_yaml(&cost, "smartscale cost-rules");
        let prices = yaml.matches("record: smartscale:instance_price_usd_per_hour").count();
        assert_eq!(prices, 2 * cost.prices.on_demand.len());
        // The same f64s the decider multiplies by: On-Demand as listed, Spot by the discount.
        assert!(yaml.contains("expr: vector(0.0208)\n        labels:\n          instance_type: \"t3.small\"\n          lifecycle: \"on-demand\""));
        let spot = cost.prices.per_hour("t3.small", Lifecycle::Spot).unwrap();
        assert!(yaml.contains(&format!("expr: vector({spot})\n        labels:\n          instance_type: \"t3.small\"\n          lifecycle: \"spot\"")));
        assert!(yaml.contains("expr: vector(0.104)\n        labels:\n          baseline: \"5 x t3.small on-demand\""));
        assert!(yaml.contains("(us-east-1, prices as of 2026-11-01)"));
    }

    #[test]
    fn another_table_and_baseline_give_their_own_rules() {
        let table = r#"{"region": "eu-west-1", "as_of": "2026-11-01", "on_demand": {"t3.small": 0.0228}, "spot": {"t3.small": 0.0071}}"#;
        let cost =
            CostConfig::from_config(&MapConfig::new().with("PRICE_TABLE_JSON", table).with("COST_BASELINE_NODES", "3"))
                .unwrap();
        let yaml = rules_yaml(&cost, "x");
        assert_eq!(yaml.matches("record: smartscale:instance_price_usd_per_hour").count(), 2);
        assert!(yaml.contains("vector(0.0071)") && yaml.contains("region: \"eu-west-1\""));
        assert!(yaml.contains(&format!("vector({})", 3.0 * 0.0228)));
    }
}
