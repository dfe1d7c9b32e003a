//! SmartScale core: pure decision logic, the state and message types, and the ports
//! (traits) that the AWS, Kubernetes and Prometheus adapters implement.
//!
//! Nothing in this crate performs I/O. The `fakes` feature adds stateful in-memory
//! implementations of every port, used by handler tests and by the simulator.

pub mod config;
pub mod cost;
pub mod cost_ledger;
pub mod cost_report;
pub mod decide;
pub mod drain;
pub mod emf;
pub mod error;
pub mod forecast;
pub mod messages;
pub mod metrics;
pub mod notification;
pub mod placement;
pub mod policy;
pub mod ports;
pub mod pricing;
pub mod slack;
pub mod state;
pub mod tags;
mod timefmt;

#[cfg(feature = "fakes")]
pub mod fakes;

pub use decide::{decide, Action, BlockedBy, Decision, DecisionState, Trigger};
pub use error::{Error, Result};
pub use metrics::Sample;
pub use policy::Policy;
