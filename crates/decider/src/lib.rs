//! The decider Lambda: on each EventBridge schedule tick it loads the state, reconciles the
//! node count against EC2, reads the metrics, runs `smartscale_core::decide`, and when there is
//! something to do takes the lock and hands the work to a worker over SQS. Alertmanager's
//! `UnschedulablePods` alert, through the fast-path SNS topic, runs the same decision between
//! two ticks (`fast_path`, `handle_fast_path`); `handle_event` dispatches on the event's shape.
//!
//! The handler is generic over the core ports; `main.rs` wires the AWS and Prometheus adapters,
//! and the simulator wires the in-memory ones.

mod config;
mod error;
pub mod fast_path;
mod handler;
pub mod predictive;
#[cfg(feature = "aws")]
pub mod wiring;

pub use config::DeciderConfig;
pub use error::{Error, Result};
pub use handler::{
    handle, handle_event, handle_fast_path, Deps, FastPathOutcome, MetricsOrigin, Outcome, Taken, Trigger,
};

/// The scheduled event the decider is invoked with.
pub type ScheduledEvent = aws_lambda_events::event::eventbridge::EventBridgeEvent<serde_json::Value>;
