//! `smartscale`: run SmartScale's logic locally, with no AWS account.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::scenario::Scenario;
use clap::{Parser, Subcommand};
use smartscale_sim::invoke::HandlerName;
use smartscale_sim::{PolicyName, Run, SimConfig};

mod backtest;
mod backtest_history;
mod backtest_http;
mod cost_rules;
mod forecast;
mod forecast_trace;
mod progress;
mod scenario;
mod sim_args;
mod snapshot_check;
mod strict_json;

use progress::Progress;
use sim_args::SimArgs;

#[derive(Parser)]
#[command(name = "smartscale", version, about = "SmartScale: a node autoscaler for K3s on AWS")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decide what to do for one scenario (JSON, schema in docs/SCALING_ALGORITHM.md) and print the decision.
    Decide {
        /// Scenario file, or `-` for standard input.
        #[arg(long, value_name = "FILE|-")]
        input: PathBuf,
    },
    /// Run one policy over days of traffic against an in-memory AWS and K3s, with SmartScale's
    /// real handlers, and print cost, shortfall and safety figures.
    Simulate {
        #[command(flatten)]
        args: SimArgs,
        /// smartscale, predictive, reactive-seed, ca-like, static, static-5 or oracle.
        #[arg(long, default_value = "smartscale")]
        policy: String,
        /// Time this many runs and print the wall-clock figures instead of the summary.
        #[arg(long, value_name = "RUNS")]
        bench: Option<u32>,
    },
    /// Run one real handler in-process on a recorded event (see events/) against a small
    /// simulated cluster, and print what it did: calls, messages, notifications, state.
    Invoke {
        /// decider, scale-up, drain, spot, slack or cost-report.
        handler: String,
        /// The Lambda event, as JSON; `-` for standard input.
        #[arg(long, value_name = "FILE|-")]
        event: PathBuf,
        /// The time of the invocation (RFC 3339); default: the event's `time`, or 2026-11-23T12:00:00Z.
        #[arg(long)]
        at: Option<String>,
        /// Also print the handler's log lines (debug and up) on standard error.
        #[arg(long)]
        verbose: bool,
    },
    /// Run every policy on the same traffic and print them side by side.
    Compare {
        #[command(flatten)]
        args: SimArgs,
    },
    /// Forecast demand from a trace's (or the synthetic week's) own history: the chosen period
    /// and profile, the next 24 h, and the back-test score against reactive scaling.
    Forecast {
        #[command(flatten)]
        args: forecast::ForecastArgs,
    },
    /// Read a cluster's own history from its Prometheus and run every policy on it, beside what
    /// the cluster actually ran (docs/backtest.md).
    Backtest {
        #[command(flatten)]
        args: backtest::BacktestArgs,
    },
    /// Write the cluster side's Prometheus cost rules from the decider's price table (docs/cost.md).
    CostRules {
        #[command(flatten)]
        args: cost_rules::CostRulesArgs,
    },
    /// Explain which node a scale-down would remove from a cluster snapshot (JSON, schema in
    /// docs/drain.md), with every node's verdict and reasons.
    ExplainDrain {
        /// Snapshot file, or `-` for standard input.
        #[arg(long, value_name = "FILE|-")]
        input: PathBuf,
    },
}

/// Exit status when a command could not run (bad flags or input, unreadable files).
const EXIT_USAGE: u8 = 2;
/// Exit status of `invoke` when the handler itself failed: it returned an error, or failed
/// messages of its batch (which SQS would redeliver and finally dead-letter).
const EXIT_HANDLER_FAILED: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decide { input } => decide(&input),
        Command::ExplainDrain { input } => explain_drain(&input),
        Command::Simulate { args, policy, bench: None } => simulate(&args, &policy),
        Command::Simulate { args, policy, bench: Some(runs) } => bench(&args, &policy, runs),
        Command::Compare { args } => compare(&args),
        Command::Forecast { args } => forecast::run(&args),
        Command::Backtest { args } => backtest::backtest(&args),
        Command::CostRules { args } => {
            return cost_rules::run(&args).map_or_else(
                |message| {
                    eprintln!("smartscale: {message}");
                    ExitCode::FAILURE
                },
                |()| ExitCode::SUCCESS,
            )
        }
        Command::Invoke { handler, event, at, verbose } => {
            if verbose {
                log_to_stderr();
            }
            return match invoke(&handler, &event, at.as_deref()) {
                Ok((output, failure)) => {
                    println!("{output}");
                    match failure {
                        None => ExitCode::SUCCESS,
                        Some(failure) => {
                            eprintln!("smartscale: the {handler} handler failed: {failure}");
                            ExitCode::from(EXIT_HANDLER_FAILED)
                        }
                    }
                }
                Err(message) => {
                    eprintln!("smartscale: {message}");
                    ExitCode::from(EXIT_USAGE)
                }
            };
        }
    };
    match result {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("smartscale: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// The handlers' `tracing` events, as a Lambda's log would show them, on standard error so
/// that standard output stays the invocation's JSON.
fn log_to_stderr() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::DEBUG)
        .with_target(false)
        .init();
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
    // The strict read refuses trailing data and arrays for objects; `parse` then checks the values.
    strict_json::from_str::<Scenario>(&text).map_err(|e| e.to_string())?;
    let decision = Scenario::parse(&text).and_then(|s| s.decide()).map_err(|e| e.to_string())?;
    serde_json::to_string_pretty(&decision).map_err(|e| e.to_string())
}

fn explain_drain(input: &PathBuf) -> Result<String, String> {
    let text = read_input(input)?;
    let plan = snapshot_check::parse(&text).map_err(|e| e.to_string())?.plan();
    serde_json::to_string_pretty(&plan).map_err(|e| e.to_string())
}

/// The invocation's JSON, and why the handler failed if it did.
fn invoke(handler: &str, event: &PathBuf, at: Option<&str>) -> Result<(String, Option<String>), String> {
    let handler: HandlerName = handler.parse().map_err(|e: smartscale_core::Error| e.to_string())?;
    let text = read_input(event)?;
    let event: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", event.display()))?;
    let at = match at.or_else(|| event.get("time").and_then(|t| t.as_str())) {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| format!("--at {text:?}: {e}"))?,
        None => "2026-11-23T12:00:00Z".parse().expect("a valid default time"),
    };
    let done = smartscale_sim::invoke::invoke(handler, event, at).map_err(|e| e.to_string())?;
    let output = serde_json::to_string_pretty(&done).map_err(|e| e.to_string())?;
    Ok((output, done.failure()))
}

fn write_report(args: &SimArgs, config: &SimConfig, runs: &[Run]) -> Result<(), String> {
    if let Some(path) = &args.report {
        let html = smartscale_sim::report::render(&args.describe(config), runs);
        std::fs::write(path, html).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("smartscale: report written to {}", path.display());
    }
    Ok(())
}

fn simulate(args: &SimArgs, policy: &str) -> Result<String, String> {
    let policy: PolicyName = policy.parse().map_err(|e: smartscale_core::Error| e.to_string())?;
    let config = args.config(policy)?;
    let mut progress = Progress::new();
    let run = smartscale_sim::run(&config, &mut |share| progress.update(share)).map_err(|e| e.to_string())?;
    if args.report.is_some() && policy != PolicyName::Oracle {
        // The oracle is the yardstick the report's cost chart needs beside the policy.
        let oracle = smartscale_sim::run(&SimConfig { policy: PolicyName::Oracle, ..config.clone() }, &mut |_| {})
            .map_err(|e| e.to_string())?;
        write_report(args, &config, &[run.clone(), oracle])?;
    } else {
        write_report(args, &config, std::slice::from_ref(&run))?;
    }
    if args.json {
        return serde_json::to_string_pretty(&run.summary).map_err(|e| e.to_string());
    }
    let mut out = sim_args::summary_table(&run.summary);
    if let Some(weekly) = run.cost_reports.last() {
        out.push_str(&sim_args::cost_report_text(weekly));
    }
    Ok(out)
}

fn compare(args: &SimArgs) -> Result<String, String> {
    let config = args.config(PolicyName::Smartscale)?;
    let mut progress = Progress::new();
    let runs = smartscale_sim::compare(&config, &mut |share| progress.update(share)).map_err(|e| e.to_string())?;
    write_report(args, &config, &runs)?;
    let summaries: Vec<&smartscale_sim::Summary> = runs.iter().map(|r| &r.summary).collect();
    if args.json {
        return serde_json::to_string_pretty(&summaries).map_err(|e| e.to_string());
    }
    Ok(sim_args::compare_table(&summaries))
}

/// Wall-clock time of whole runs, handlers included: the speed goal's measurement.
fn bench(args: &SimArgs, policy: &str, runs: u32) -> Result<String, String> {
    let policy: PolicyName = policy.parse().map_err(|e: smartscale_core::Error| e.to_string())?;
    let config = args.config(policy)?;
    if runs == 0 {
        return Err("--bench needs at least 1 run".into());
    }
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = std::time::Instant::now();
        smartscale_sim::run(&config, &mut |_| {}).map_err(|e| e.to_string())?;
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let steps = config.steps() as f64;
    Ok(format!(
        "{} days of {} at 15 s steps, {runs} runs: min {:.3} s, median {:.3} s, max {:.3} s ({:.0} steps/s at the median){}",
        config.days,
        policy.as_str(),
        times[0],
        median,
        times[times.len() - 1],
        steps / median,
        if cfg!(debug_assertions) { " [debug build: use --release for the speed goal]" } else { "" }
    ))
}
