//! Configuration from the environment (through [`ConfigSource`], so tests never set variables).

use std::net::SocketAddr;
use std::time::Duration;

use smartscale_core::config::{self, ConfigSource};
use smartscale_core::Error;

use crate::faults::{Faults, FaultsPatch};
use crate::Result;

#[derive(Debug, Clone, PartialEq)]
pub struct DemoConfig {
    pub listen: SocketAddr,
    /// The faults in force at start; `/admin/faults` changes them at run time.
    pub faults: Faults,
    /// Jobs the background worker takes off the queue per second.
    pub queue_drain_per_s: f64,
    /// Enables `/admin/faults`, which then requires `Authorization: Bearer <token>`.
    pub admin_token: Option<String>,
    /// Between SIGTERM and closing the listener, `/ready` answers 503 so that the Service
    /// stops routing here before connections are refused.
    pub shutdown_grace: Duration,
}

impl DemoConfig {
    /// `DEMO_LISTEN_ADDR` (`0.0.0.0:8080`), `DEMO_LATENCY_MS` (0), `DEMO_ERROR_SHARE` (0, a
    /// share 0–1 of `/api/products` answered 500), `DEMO_QUEUE_GROWTH_PER_S` (0, jobs added per
    /// second on top of one per request), `DEMO_QUEUE_DRAIN_PER_S` (50), `DEMO_ADMIN_TOKEN`
    /// (unset: no admin routes), `DEMO_SHUTDOWN_GRACE_S` (5).
    pub fn from_config(source: &dyn ConfigSource) -> Result<Self> {
        let listen_raw = config::optional(source, "DEMO_LISTEN_ADDR").unwrap_or_else(|| "0.0.0.0:8080".into());
        let listen = listen_raw.parse::<SocketAddr>().map_err(|e| {
            Error::config(
                "DEMO_LISTEN_ADDR",
                format!("must be host:port such as 0.0.0.0:8080, got {listen_raw:?}: {e}"),
            )
        })?;
        let patch = FaultsPatch {
            latency_ms: config::parsed(source, "DEMO_LATENCY_MS")?,
            error_share: config::parsed(source, "DEMO_ERROR_SHARE")?,
            queue_growth_per_s: config::parsed(source, "DEMO_QUEUE_GROWTH_PER_S")?,
        };
        let faults = Faults::default().patched(&patch).map_err(|(field, message)| {
            let var = match field {
                "latency_ms" => "DEMO_LATENCY_MS",
                "error_share" => "DEMO_ERROR_SHARE",
                _ => "DEMO_QUEUE_GROWTH_PER_S",
            };
            Error::config(var, message)
        })?;
        let queue_drain_per_s: f64 = config::parsed(source, "DEMO_QUEUE_DRAIN_PER_S")?.unwrap_or(50.0);
        if !queue_drain_per_s.is_finite() || !(0.0..=1e6).contains(&queue_drain_per_s) {
            return Err(Error::config(
                "DEMO_QUEUE_DRAIN_PER_S",
                format!("must be 0 to 1000000, got {queue_drain_per_s}"),
            )
            .into());
        }
        let admin_token = config::optional(source, "DEMO_ADMIN_TOKEN");
        if admin_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(Error::config("DEMO_ADMIN_TOKEN", "must be at least 16 characters").into());
        }
        let grace_s: u64 = config::parsed(source, "DEMO_SHUTDOWN_GRACE_S")?.unwrap_or(5);
        if grace_s > 120 {
            return Err(Error::config("DEMO_SHUTDOWN_GRACE_S", format!("must be at most 120, got {grace_s}")).into());
        }
        Ok(DemoConfig { listen, faults, queue_drain_per_s, admin_token, shutdown_grace: Duration::from_secs(grace_s) })
    }
}
