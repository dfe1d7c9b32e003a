//! The Slack forwarder Lambda: each SNS record (one of our notifications, or a CloudWatch
//! alarm state change) becomes a Block Kit message posted to a Slack webhook. A message that
//! cannot be delivered fails its record, so SNS's retry and dead-letter path keeps it.

mod config;
mod error;
mod handler;
mod retry;
#[cfg(feature = "aws")]
pub mod webhook;
#[cfg(feature = "aws")]
pub mod wiring;

pub use config::ForwarderConfig;
pub use error::{Error, Result};
pub use handler::{handle, message_for, Deps, RecordingSlack, SlackSink};
pub use retry::{RetryBudget, MARGIN};
