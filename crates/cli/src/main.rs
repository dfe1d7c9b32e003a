//! `smartscale`: run SmartScale's logic locally, with no AWS account.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use smartscale_core::drain::Snapshot;
use smartscale_core::scenario::Scenario;

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
