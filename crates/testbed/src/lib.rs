//! Test support shared by the integration tests: where the local stand-ins are, a synthetic
//! Prometheus history with known answers, and moto_server fixtures.
//!
//! The stand-ins are started by `scripts/test`. A test that needs one and does not find it
//! fails loudly: skipping is not passing.

pub mod backfill;
pub mod cluster_history;
pub mod moto;

/// The moto_server URL exported by `scripts/test`.
pub fn moto_url() -> String {
    stand_in("SMARTSCALE_TEST_MOTO_URL", "moto_server")
}

/// The backfilled Prometheus URL exported by `scripts/test`.
pub fn prometheus_url() -> String {
    stand_in("SMARTSCALE_TEST_PROMETHEUS_URL", "prometheus")
}

fn stand_in(var: &str, what: &str) -> String {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!("{var} is not set: this test needs {what}; run the suite with scripts/test, which starts it"),
    }
}

/// A loopback URL where nothing listens: a stopped server.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A name unique within this test process and across runs against the same moto server.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}
