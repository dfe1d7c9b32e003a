//! The simulator: the real decider, scale-up worker, drain worker, spot handler and Slack
//! forwarder, driven over days of traffic against the core's in-memory fakes of EC2, K3s,
//! DynamoDB, SQS and SNS. Only the adapters differ from production; every decision and workflow
//! line is shared. Baselines (`reactive-seed`, `ca-like`, `static`, `oracle`) run in the same
//! world so that `compare` sets them side by side.

mod ca_like;
mod demand;
mod fast_path;
pub mod faults;
mod forecast_tally;
pub mod history;
pub mod invoke;
mod metrics;
mod model;
mod ports;
mod references;
pub mod report;
pub mod scrape;
mod settings;
mod svg;
mod timeline;
pub mod trace;
mod windows;
mod workload;
mod world;

pub use demand::{Demand, Window};
pub use faults::{FaultKind, FaultPlan};
pub use forecast_tally::{FitScore, ForecastTally};
pub use model::{MetricsModel, PolicyName, SimConfig, Summary, DEFAULT_SPOT_SHARE};
pub use references::References;
pub use settings::check_settings;
pub use timeline::{Event, EventKind, Point, Timeline};
pub use windows::{WindowWait, WARM_UP_DAYS};
pub use world::{Run, WeeklyReport};

use smartscale_core::Result;

/// Runs `config.policy`. `progress` hears the share done, 0–1, now and then.
pub fn run(config: &SimConfig, progress: &mut dyn FnMut(f64)) -> Result<Run> {
    config.validate()?;
    let demand = Demand::of(config)?;
    let references = References::of(config, &demand)?;
    run_policy(config, &demand, &references, progress)
}

/// Runs every policy on the same demand, in [`PolicyName::ALL`]'s order.
pub fn compare(config: &SimConfig, progress: &mut dyn FnMut(f64)) -> Result<Vec<Run>> {
    config.validate()?;
    compare_on(config, &Demand::of(config)?, progress)
}

/// Every policy on a demand already built (from a trace, the synthetic week or a cluster's history).
pub(crate) fn compare_on(config: &SimConfig, demand: &Demand, progress: &mut dyn FnMut(f64)) -> Result<Vec<Run>> {
    let references = References::of(config, demand)?;
    let total = PolicyName::ALL.len() as f64;
    PolicyName::ALL
        .iter()
        .enumerate()
        .map(|(i, policy)| {
            let config = SimConfig { policy: *policy, ..config.clone() };
            run_policy(&config, demand, &references, &mut |share| progress((i as f64 + share) / total))
        })
        .collect()
}

fn run_policy(
    config: &SimConfig,
    demand: &Demand,
    references: &References,
    progress: &mut dyn FnMut(f64),
) -> Result<Run> {
    if config.policy == PolicyName::Oracle {
        progress(1.0);
        return Ok(references.oracle_run(config, demand));
    }
    let mut world = world::World::new(config, demand, references)?;
    let steps = config.steps();
    for step in 0..steps {
        world.step(step)?;
        if step % 2880 == 0 {
            progress(step as f64 / steps as f64);
        }
    }
    progress(1.0);
    Ok(world.finish())
}
