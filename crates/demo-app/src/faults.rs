//! Injected faults: added latency, a share of errors, queue growth.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

const MAX_LATENCY_MS: u64 = 60_000;
const MAX_QUEUE_GROWTH_PER_S: f64 = 1e6;

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Faults {
    /// Added to every `/api/products` request.
    pub latency_ms: u64,
    /// Share (0–1) of `/api/products` requests answered 500.
    pub error_share: f64,
    /// Jobs added to the work queue per second, on top of one per request.
    pub queue_growth_per_s: f64,
}

/// A partial update: only the fields given change.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsPatch {
    pub latency_ms: Option<u64>,
    pub error_share: Option<f64>,
    pub queue_growth_per_s: Option<f64>,
}

impl Faults {
    /// `self` with `patch` applied, or the first out-of-range field and why.
    pub fn patched(&self, patch: &FaultsPatch) -> Result<Faults, (&'static str, String)> {
        let mut next = *self;
        if let Some(ms) = patch.latency_ms {
            if ms > MAX_LATENCY_MS {
                return Err(("latency_ms", format!("must be at most {MAX_LATENCY_MS}, got {ms}")));
            }
            next.latency_ms = ms;
        }
        if let Some(share) = patch.error_share {
            if !(0.0..=1.0).contains(&share) {
                return Err(("error_share", format!("must be a share between 0 and 1, got {share}")));
            }
            next.error_share = share;
        }
        if let Some(growth) = patch.queue_growth_per_s {
            if !(0.0..=MAX_QUEUE_GROWTH_PER_S).contains(&growth) {
                return Err((
                    "queue_growth_per_s",
                    format!("must be between 0 and {MAX_QUEUE_GROWTH_PER_S}, got {growth}"),
                ));
            }
            next.queue_growth_per_s = growth;
        }
        Ok(next)
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms)
    }
}

/// The faults in force, and the error credit that spreads injected errors evenly: with a share
/// of 0.1, exactly one request in ten fails, so a test's error rate is what it asked for.
pub struct FaultState {
    inner: Mutex<(Faults, f64)>,
}

impl FaultState {
    pub fn new(faults: Faults) -> Self {
        FaultState { inner: Mutex::new((faults, 0.0)) }
    }

    pub fn current(&self) -> Faults {
        self.lock().0
    }

    pub fn apply(&self, patch: &FaultsPatch) -> Result<Faults, (&'static str, String)> {
        let mut inner = self.lock();
        let next = inner.0.patched(patch)?;
        if next.error_share != inner.0.error_share {
            inner.1 = 0.0;
        }
        inner.0 = next;
        Ok(next)
    }

    /// Whether this request is one of the injected errors.
    pub fn next_request_fails(&self) -> bool {
        let mut inner = self.lock();
        let share = inner.0.error_share;
        inner.1 += share;
        if inner.1 >= 1.0 - 1e-9 {
            inner.1 -= 1.0;
            true
        } else {
            false
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Faults, f64)> {
        // A panic while holding this lock cannot leave the two numbers inconsistent.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_share_fails_exactly_that_share_of_requests() {
        for (share, of_100) in [(0.0, 0), (0.1, 10), (0.25, 25), (1.0, 100)] {
            let state = FaultState::new(Faults { error_share: share, ..Faults::default() });
            let failed = (0..100).filter(|_| state.next_request_fails()).count();
            assert_eq!(failed, of_100, "share {share}");
        }
    }

    #[test]
    fn a_patch_changes_only_its_fields_and_refuses_out_of_range_values() {
        let start = Faults { latency_ms: 10, error_share: 0.5, queue_growth_per_s: 3.0 };
        let next = start.patched(&FaultsPatch { latency_ms: Some(2500), ..FaultsPatch::default() }).unwrap();
        assert_eq!(next, Faults { latency_ms: 2500, ..start });
        for (patch, field) in [
            (FaultsPatch { latency_ms: Some(60_001), ..Default::default() }, "latency_ms"),
            (FaultsPatch { error_share: Some(1.5), ..Default::default() }, "error_share"),
            (FaultsPatch { error_share: Some(f64::NAN), ..Default::default() }, "error_share"),
            (FaultsPatch { queue_growth_per_s: Some(-1.0), ..Default::default() }, "queue_growth_per_s"),
        ] {
            assert_eq!(start.patched(&patch).unwrap_err().0, field, "{patch:?}");
        }
    }
}
