//! The simulator: the real decider, scale-up worker and drain worker handlers, driven over days
//! of traffic against the core's in-memory fakes of EC2, K3s, DynamoDB, SQS and SNS. Only the
//! adapters differ from production; every decision and workflow line is shared.
//!
//! Work in progress towards the simulator issue: one policy (SmartScale's own), the synthetic
//! week or a trace, and a summary. Baselines, spot interruptions and the report are not here yet.

mod model;
mod world;

pub use model::{SimConfig, Summary};
pub use world::run;
