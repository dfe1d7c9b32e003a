//! The spot-interruption handler Lambda: EC2 Spot interruption warnings, rebalance
//! recommendations, instance state changes and AWS Health scheduled changes, delivered directly
//! by EventBridge or wrapped in SQS records, become a cordon, a drain with a 90 s deadline and
//! a replacement request, once per event id.

mod config;
mod error;
pub mod events;
mod handler;
#[cfg(feature = "aws")]
pub mod wiring;

pub use config::{RebalanceAction, SpotConfig};
pub use error::{Error, Result};
pub use handler::{handle, handle_event, Deps, Handled};
