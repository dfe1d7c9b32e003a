//! The weekly cost report Lambda. EventBridge Scheduler invokes it every Monday at 09:00 in the
//! configured time zone; it reads the savings ledger of the week behind it, the fleet as it
//! stands, and the week's cluster CPU, builds the report (`smartscale_core::cost_report`) and
//! publishes it to the notifications topic, whose Slack forwarder renders it as Block Kit.
//!
//! Why through SNS and the forwarder rather than a webhook of its own: one place holds the
//! webhook secret and the Slack retry budget, and SNS's retries and dead-letter queue keep a
//! report Slack refused, as they keep every other notification.

mod config;
mod error;
mod handler;
#[cfg(feature = "aws")]
pub mod wiring;

pub use config::CostReportConfig;
pub use error::{Error, Result};
pub use handler::{handle, run, Deps, RecordingPublisher, ReportEvent, ReportPublisher};
