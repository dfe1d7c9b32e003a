//! The SmartScale demo app: a small product API that exposes the metrics the decider's
//! app-metric queries read (`http_request_duration_seconds`, `http_requests_total`,
//! `app_queue_depth`) and lets an operator inject the faults that should make it scale:
//! added latency, a share of 500s and a growing work queue.

pub mod config;
mod error;
pub mod faults;
pub mod metrics;
pub mod queue;
mod routes;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use config::DemoConfig;
pub use error::{Error, Result};
pub use faults::{Faults, FaultsPatch};

/// Everything the handlers share.
pub struct App {
    pub metrics: metrics::Metrics,
    pub faults: faults::FaultState,
    pub queue: queue::Queue,
    /// `/ready` answers 503 once this is false (shutting down).
    ready: AtomicBool,
    /// Bearer token for `/admin/*`; the admin routes do not exist without one.
    admin_token: Option<String>,
}

impl App {
    pub fn new(config: &DemoConfig) -> Arc<Self> {
        Arc::new(App {
            metrics: metrics::Metrics::new(),
            faults: faults::FaultState::new(config.faults),
            queue: queue::Queue::new(config.queue_drain_per_s),
            ready: AtomicBool::new(true),
            admin_token: config.admin_token.clone(),
        })
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// The HTTP routes over `app`.
pub fn router(app: Arc<App>) -> axum::Router {
    routes::router(app)
}

/// Serves `app` on `listener` and runs the queue until `shutdown` resolves; then stops taking
/// new connections and lets the ones in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let ticker = tokio::spawn(queue::run(app.clone(), Duration::from_millis(100)));
    let result = axum::serve(listener, router(app)).with_graceful_shutdown(shutdown).await;
    ticker.abort();
    result.map_err(Error::Serve)
}
