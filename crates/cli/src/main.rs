//! `smartscale`: run SmartScale's logic locally, with no AWS account.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use smartscale_core::drain::Snapshot;
use smartscale_core::scenario::Scenario;
use smartscale_core::trace::Trace;
use smartscale_sim::SimConfig;

#[derive(Parser)]
#[command(name = "smartscale", version, about = "SmartScale: a node autoscaler for K3s on AWS")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decide what to do for one scenario (JSON, schema in docs/decide.md) and print the decision.
    Decide {
        /// Scenario file, or `-` for standard input.
        #[arg(long, value_name = "FILE|-")]
        input: PathBuf,
    },
    /// Run SmartScale's real handlers over days of traffic against an in-memory AWS and K3s, and
    /// print cost and shortfall. Work in progress: SmartScale's own policy only.
    Simulate {
        /// A trace to replay (`timestamp,value` CSV); the default is the built-in e-commerce week.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// How many days to simulate.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// When the simulation starts (RFC 3339); default: the trace's start, or Monday 2026-11-23.
        #[arg(long)]
        start: Option<String>,
        /// Nodes' worth of replicas the load's peak needs.
        #[arg(long, default_value_t = 8)]
        peak_nodes: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Explain which node a scale-down would remove from a cluster snapshot (JSON, schema in
    /// docs/drain.md), with every node's verdict and reasons.
    ExplainDrain {
        /// Snapshot file, or `-` for standard input.
        #[arg(long, value_name = "FILE|-")]
        input: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decide { input } => decide(&input),
        Command::ExplainDrain { input } => explain_drain(&input),
        Command::Simulate { trace, days, start, peak_nodes, seed, json } => {
            simulate(trace, days, start, peak_nodes, seed, json)
        }
    };
    match result {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("smartscale: {message}");
            ExitCode::from(2)
        }
    }
}

fn read_input(path: &PathBuf) -> Result<String, String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| format!("cannot read standard input: {e}"))?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

fn decide(input: &PathBuf) -> Result<String, String> {
    let text = read_input(input)?;
    let decision = Scenario::parse(&text).and_then(|s| s.decide()).map_err(|e| e.to_string())?;
    serde_json::to_string_pretty(&decision).map_err(|e| e.to_string())
}

fn explain_drain(input: &PathBuf) -> Result<String, String> {
    let text = read_input(input)?;
    let plan = Snapshot::parse(&text).map_err(|e| e.to_string())?.plan();
    serde_json::to_string_pretty(&plan).map_err(|e| e.to_string())
}

fn simulate(
    trace: Option<PathBuf>,
    days: u32,
    start: Option<String>,
    peak_nodes: u32,
    seed: u64,
    json: bool,
) -> Result<String, String> {
    if days == 0 || days > 366 {
        return Err(format!("--days must be between 1 and 366, got {days}"));
    }
    if peak_nodes == 0 || peak_nodes > 1000 {
        return Err(format!("--peak-nodes must be between 1 and 1000, got {peak_nodes}"));
    }
    let trace = match trace {
        Some(path) => {
            let text = read_input(&path)?;
            Some(Trace::parse(&text, &path.display().to_string()).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let start = match start {
        Some(text) => chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| format!("--start {text:?}: {e}"))?,
        None => trace
            .as_ref()
            .map(|t| t.start())
            .unwrap_or_else(|| "2026-11-23T00:00:00Z".parse().expect("a valid default start")),
    };
    let summary = smartscale_sim::run(SimConfig { start, days, peak_nodes, seed, trace }).map_err(|e| e.to_string())?;
    if json {
        return serde_json::to_string_pretty(&summary).map_err(|e| e.to_string());
    }
    let shortfall = if summary.total_pod_minutes > 0.0 {
        summary.unschedulable_pod_minutes / summary.total_pod_minutes * 100.0
    } else {
        0.0
    };
    Ok([
        format!("policy                     {}", summary.policy),
        format!("days                       {}", summary.days),
        format!(
            "cost                       ${:.2} ({:.2} × the oracle's ${:.2}; {:.1} % below a static {}-node fleet's ${:.2})",
            summary.cost_usd,
            summary.cost_vs_oracle,
            summary.oracle_cost_usd,
            summary.savings_vs_static_pct,
            summary.static_nodes,
            summary.static_cost_usd
        ),
        format!("node-hours                 {:.1}", summary.node_hours),
        format!("max nodes                  {}", summary.max_nodes_seen),
        format!(
            "unschedulable pod-minutes  {:.1} ({shortfall:.3} % of {:.0})",
            summary.unschedulable_pod_minutes, summary.total_pod_minutes
        ),
        format!("longest pending            {} s", summary.max_pending_duration_s),
        format!("scale-ups / scale-downs    {} / {}", summary.scale_ups, summary.scale_downs),
        format!("pdb violations             {}", summary.pdb_violations),
        format!("pods lost                  {}", summary.pods_lost),
        format!("dead-lettered messages     {}", summary.dlq_messages),
    ]
    .join("\n"))
}
