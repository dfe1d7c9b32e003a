//! The scale-up worker Lambda. A `scale_up_request` becomes EC2 launches (balanced across
//! AZs, On-Demand for the floor and a Spot share above it, falling back pool by pool and then
//! to On-Demand); each launch is then followed by delayed `join_check` messages until the node
//! is Ready or the join deadline passes, when the instance is terminated and the failure
//! reported. No invocation ever waits for a node.

mod config;
mod error;
mod handler;
mod join;
mod launch;
#[cfg(feature = "aws")]
pub mod wiring;

pub use config::ScaleUpConfig;
pub use error::{Error, Result};
pub use handler::{handle, Deps};
