//! Stateful in-memory fakes of every port, in the manner of Karpenter's cloudprovider fake:
//! they keep state, record their calls, can be told to fail the next call of an operation,
//! and read time from a steppable [`FakeClock`]. Each fake is a cheap clonable handle on
//! shared state, so a test keeps one handle while the handler under test owns another.

mod cluster;
mod fleet;
mod messaging;
mod metrics;
mod state;

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};

pub use cluster::{ClusterCall, ClusterOp, FakeCluster};
pub use fleet::{FakeFleet, FleetCall, FleetOp};
pub use messaging::{FakeMetricsSink, FakeNotifier, FakeQueue, PublishOp, QueuedMessage, SendOp};
pub use metrics::{DemandOp, FakeMetrics, FetchOp};
pub use state::{FakeStateStore, StateCall, StateOp};

use crate::ports::Clock;
use crate::{Error, Result};

/// A clock that moves only when told to.
#[derive(Debug, Clone)]
pub struct FakeClock(Arc<Mutex<DateTime<Utc>>>);

impl FakeClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        FakeClock(Arc::new(Mutex::new(start)))
    }

    pub fn advance(&self, seconds: i64) {
        *lock(&self.0) += Duration::seconds(seconds);
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *lock(&self.0) = to;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.0)
    }
}

/// Calls a fake has seen, in order. A long simulation, which never reads them, turns
/// recording off so that memory does not grow with every call.
#[derive(Debug)]
pub struct Recorder<C> {
    calls: Mutex<Vec<C>>,
    off: std::sync::atomic::AtomicBool,
}

impl<C: Clone> Recorder<C> {
    pub fn record(&self, call: C) {
        self.record_with(|| call);
    }

    /// Records the call `make` builds, building it only while recording is on: a long run
    /// would otherwise clone every request and update just to drop it.
    pub fn record_with(&self, make: impl FnOnce() -> C) {
        if !self.off.load(std::sync::atomic::Ordering::Relaxed) {
            lock(&self.calls).push(make());
        }
    }

    pub fn calls(&self) -> Vec<C> {
        lock(&self.calls).clone()
    }

    /// Stops recording and forgets what was recorded.
    pub fn turn_off(&self) {
        self.off.store(true, std::sync::atomic::Ordering::Relaxed);
        lock(&self.calls).clear();
    }
}

impl<C> Default for Recorder<C> {
    fn default() -> Self {
        Recorder { calls: Mutex::new(Vec::new()), off: std::sync::atomic::AtomicBool::new(false) }
    }
}

/// Errors queued per operation: the next call of that operation fails with the next error.
/// A *sticky* error fails every call until cleared (a dependency that is down).
#[derive(Debug)]
pub struct Faults<Op> {
    next: Mutex<HashMap<Op, VecDeque<Error>>>,
    sticky: Mutex<HashMap<Op, Error>>,
    stop: Mutex<Option<StopAfter>>,
}

impl<Op> Default for Faults<Op> {
    fn default() -> Self {
        Faults { next: Mutex::new(HashMap::new()), sticky: Mutex::new(HashMap::new()), stop: Mutex::new(None) }
    }
}

/// A budget of port calls shared by several fakes: once spent, every further call of every
/// fake holding it fails. This is a Lambda stopped by its timeout between two calls: what it
/// did before stays done, nothing after happens.
#[derive(Debug, Clone)]
pub struct StopAfter {
    remaining: Arc<std::sync::atomic::AtomicU32>,
    error: Error,
}

impl StopAfter {
    pub fn new(calls: u32, error: Error) -> StopAfter {
        StopAfter { remaining: Arc::new(std::sync::atomic::AtomicU32::new(calls)), error }
    }

    /// Whether the budget ran out (the invocation was stopped).
    pub fn spent(&self) -> bool {
        self.remaining.load(std::sync::atomic::Ordering::Relaxed) == 0
    }

    fn spend(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        match self.remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)) {
            Ok(_) => Ok(()),
            Err(_) => Err(self.error.clone()),
        }
    }
}

impl<Op: Eq + Hash + Copy> Faults<Op> {
    pub fn fail_next(&self, op: Op, error: Error) {
        lock(&self.next).entry(op).or_default().push_back(error);
    }

    pub fn fail_always(&self, op: Op, error: Error) {
        lock(&self.sticky).insert(op, error);
    }

    pub fn clear(&self, op: Op) {
        lock(&self.sticky).remove(&op);
        lock(&self.next).remove(&op);
    }

    /// Every call fails once `budget` is spent, until [`Faults::resume`].
    pub fn stop_after(&self, budget: &StopAfter) {
        *lock(&self.stop) = Some(budget.clone());
    }

    pub fn resume(&self) {
        *lock(&self.stop) = None;
    }

    /// `Err` if a failure is due for `op`.
    pub fn check(&self, op: Op) -> Result<()> {
        if let Some(budget) = lock(&self.stop).as_ref() {
            budget.spend()?;
        }
        if let Some(error) = lock(&self.next).get_mut(&op).and_then(VecDeque::pop_front) {
            return Err(error);
        }
        match lock(&self.sticky).get(&op) {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }
}

/// Locks a fake's mutex. A poisoned mutex means a test already panicked; carry on with its data.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_fire_once_or_until_cleared() {
        let faults: Faults<&str> = Faults::default();
        faults.fail_next("op", Error::unavailable("svc", "once"));
        assert!(faults.check("op").is_err());
        assert!(faults.check("op").is_ok());
        faults.fail_always("op", Error::unavailable("svc", "down"));
        assert!(faults.check("op").is_err());
        assert!(faults.check("op").is_err());
        faults.clear("op");
        assert!(faults.check("op").is_ok());
    }

    #[test]
    fn a_shared_budget_stops_every_fake_holding_it() {
        let (kube, ec2): (Faults<&str>, Faults<&str>) = (Faults::default(), Faults::default());
        let budget = StopAfter::new(2, Error::unavailable("lambda", "timed out"));
        kube.stop_after(&budget);
        ec2.stop_after(&budget);
        assert!(kube.check("list").is_ok());
        assert!(!budget.spent());
        assert!(ec2.check("describe").is_ok());
        assert!(budget.spent());
        assert!(kube.check("list").is_err());
        assert!(ec2.check("terminate").is_err());
        assert!(budget.spent());
        kube.resume();
        assert!(kube.check("list").is_ok());
    }

    #[test]
    fn clock_steps() {
        let clock = FakeClock::new("2026-11-23T10:00:00Z".parse().unwrap());
        clock.advance(90);
        assert_eq!(clock.now(), "2026-11-23T10:01:30Z".parse::<DateTime<Utc>>().unwrap());
    }
}
