//! The work queue behind the API: each product request enqueues one job (an order event), the
//! queue-growth fault adds more, and a background worker drains a fixed number per second.
//! `app_queue_depth` is its depth.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::App;

pub struct Queue {
    drain_per_s: f64,
    /// Fractional depth, so that slow growth rates still add up between ticks.
    depth: Mutex<f64>,
}

impl Queue {
    pub fn new(drain_per_s: f64) -> Self {
        Queue { drain_per_s, depth: Mutex::new(0.0) }
    }

    pub fn enqueue(&self, jobs: f64) {
        *self.lock() += jobs;
    }

    /// Whole jobs waiting.
    pub fn depth(&self) -> i64 {
        self.lock().floor() as i64
    }

    /// `elapsed` of growth at `growth_per_s` and of draining.
    pub fn advance(&self, elapsed: Duration, growth_per_s: f64) {
        let s = elapsed.as_secs_f64();
        let mut depth = self.lock();
        *depth = (*depth + growth_per_s * s - self.drain_per_s * s).max(0.0);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, f64> {
        self.depth.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Advances the queue every `tick` by the time that really passed, and publishes its depth.
pub async fn run(app: Arc<App>, tick: Duration) {
    let mut last = Instant::now();
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let now = Instant::now();
        app.queue.advance(now - last, app.faults.current().queue_growth_per_s);
        last = now;
        app.metrics.queue_depth.set(app.queue.depth());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_above_the_drain_rate_builds_a_backlog_and_the_drain_clears_it() {
        let q = Queue::new(50.0);
        q.enqueue(10.0);
        q.advance(Duration::from_secs(1), 0.0);
        assert_eq!(q.depth(), 0, "drained, never negative");
        for _ in 0..10 {
            q.advance(Duration::from_millis(100), 550.0);
        }
        assert_eq!(q.depth(), 500);
        q.advance(Duration::from_secs(4), 0.0);
        assert_eq!(q.depth(), 300);
    }
}
