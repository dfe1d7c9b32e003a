use std::time::Duration;

use smartscale_core::config::EnvConfig;
use smartscale_demo_app::{serve, App, DemoConfig, Error};
use tracing::{error, info};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_target(false).init();
    if let Err(e) = run().await {
        error!("{e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Error> {
    let config = DemoConfig::from_config(&EnvConfig)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Bind { addr: config.listen.to_string(), source })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind { addr: config.listen.to_string(), source })?;
    info!(%addr, faults = ?config.faults, admin = config.admin_token.is_some(), "demo app listening");
    let app = App::new(&config);
    let shutdown = shutdown_signal(app.clone(), config.shutdown_grace);
    serve(listener, app, shutdown).await
}

/// On SIGTERM or Ctrl-C: report not-ready for the grace period (the Service stops routing here),
/// then stop accepting and finish the requests in flight.
async fn shutdown_signal(app: std::sync::Arc<App>, grace: Duration) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    info!(?grace, "shutting down: not ready, then draining");
    app.set_ready(false);
    tokio::time::sleep(grace).await;
}
