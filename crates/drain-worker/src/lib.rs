//! The drain worker Lambda. A `drain_request` picks the safest node (or takes the one named),
//! cordons it and evicts its pods through the Eviction API, which enforces every
//! PodDisruptionBudget; delayed `drain_check` messages then watch the node empty. Only an
//! empty node's instance is terminated; at the deadline the drain is abandoned, the node
//! uncordoned and the failure reported. No invocation ever waits.

mod config;
mod drain;
mod error;
mod handler;
#[cfg(feature = "aws")]
pub mod wiring;

pub use config::DrainConfig;
pub use error::{Error, Result};
pub use handler::{handle, Deps};
