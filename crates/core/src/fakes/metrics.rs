use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::{lock, Faults, Recorder};
use crate::forecast::{DemandSample, NodeSize};
use crate::metrics::Sample;
use crate::ports::MetricsSource;
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FetchOp;

/// `(start, end, step_s)` of one fetch.
pub type FetchCall = (DateTime<Utc>, DateTime<Utc>, u32);

/// A metrics source holding a series of samples; `fetch` returns those within the range.
#[derive(Debug, Clone, Default)]
pub struct FakeMetrics {
    samples: Arc<Mutex<Series<Sample>>>,
    pub calls: Arc<Recorder<FetchCall>>,
    pub faults: Arc<Faults<FetchOp>>,
    /// Predictive scaling's demand signal (nodes); `None`: this source has no demand history
    /// (the port's default answer, an error).
    demand: Arc<Mutex<Option<Series<DemandSample>>>>,
    pub demand_calls: Arc<Recorder<FetchCall>>,
    pub demand_faults: Arc<Faults<DemandOp>>,
}

/// The demand history query (`MetricsSource::demand`), failed apart from `fetch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DemandOp;

impl FakeMetrics {
    pub fn new(samples: Vec<Sample>) -> Self {
        FakeMetrics { samples: Arc::new(Mutex::new(Series::new(samples))), ..Default::default() }
    }

    pub fn push(&self, sample: Sample) {
        lock(&self.samples).push(sample);
    }

    /// Drops samples older than `before` (a long simulation keeps only what the rules can read).
    pub fn prune_before(&self, before: DateTime<Utc>) {
        lock(&self.samples).prune_before(before);
    }

    /// Every sample held.
    pub fn fetch_all(&self) -> Vec<Sample> {
        lock(&self.samples).items.clone()
    }

    /// Sets the demand history `demand` answers with (nodes; the node size is the caller's).
    pub fn set_demand(&self, samples: Vec<DemandSample>) {
        *lock(&self.demand) = Some(Series::new(samples));
    }

    pub fn push_demand(&self, sample: DemandSample) {
        lock(&self.demand).get_or_insert_with(Series::default).push(sample);
    }

    /// Drops demand samples older than `before`, as a retention limit does (Prometheus keeps
    /// 14 days in the cluster's manifests; the simulator keeps its history bounded the same way).
    pub fn prune_demand_before(&self, before: DateTime<Utc>) {
        if let Some(samples) = lock(&self.demand).as_mut() {
            samples.prune_before(before);
        }
    }

    /// How many demand samples are held (`None`: this source keeps no demand history).
    pub fn demand_len(&self) -> Option<usize> {
        lock(&self.demand).as_ref().map(|s| s.items.len())
    }

    pub fn replace(&self, samples: Vec<Sample>) {
        *lock(&self.samples) = Series::new(samples);
    }
}

/// Something with a time, for [`Series`].
trait Timed: Clone {
    fn at(&self) -> DateTime<Utc>;
}

impl Timed for Sample {
    fn at(&self) -> DateTime<Utc> {
        self.at
    }
}

impl Timed for DemandSample {
    fn at(&self) -> DateTime<Utc> {
        self.at
    }
}

/// Samples in the order they were fed, and whether that is time order. A simulation feeds one
/// per step and reads a window of them at every decider run, so a series in time order is
/// bisected, not scanned (the demand history holds 14 days); one fed out of order, as a test may,
/// is scanned.
#[derive(Debug, Clone)]
struct Series<T> {
    items: Vec<T>,
    in_order: bool,
}

impl<T> Default for Series<T> {
    fn default() -> Self {
        Series { items: Vec::new(), in_order: true }
    }
}

impl<T: Timed> Series<T> {
    fn new(items: Vec<T>) -> Self {
        let in_order = items.is_sorted_by_key(T::at);
        Series { items, in_order }
    }

    fn push(&mut self, item: T) {
        self.in_order &= self.items.last().is_none_or(|last| last.at() <= item.at());
        self.items.push(item);
    }

    fn prune_before(&mut self, before: DateTime<Utc>) {
        if self.in_order {
            let old = self.items.partition_point(|s| s.at() < before);
            self.items.drain(..old);
        } else {
            self.items.retain(|s| s.at() >= before);
        }
    }

    /// The items with `start <= at <= end`, in the order fed.
    fn within(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<T> {
        if self.in_order {
            let from = self.items.partition_point(|s| s.at() < start);
            let to = self.items.partition_point(|s| s.at() <= end).max(from);
            self.items[from..to].to_vec()
        } else {
            self.items.iter().filter(|s| s.at() >= start && s.at() <= end).cloned().collect()
        }
    }
}

impl MetricsSource for FakeMetrics {
    async fn fetch(&self, start: DateTime<Utc>, end: DateTime<Utc>, step_s: u32) -> Result<Vec<Sample>> {
        self.calls.record_with(|| (start, end, step_s));
        self.faults.check(FetchOp)?;
        Ok(lock(&self.samples).within(start, end))
    }

    async fn demand(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_s: u32,
        _node: NodeSize,
    ) -> Result<Vec<DemandSample>> {
        self.demand_calls.record_with(|| (start, end, step_s));
        self.demand_faults.check(DemandOp)?;
        match &*lock(&self.demand) {
            Some(samples) => Ok(samples.within(start, end)),
            None => Err(crate::Error::unavailable("demand history", "this metrics source keeps no demand history")),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[tokio::test]
    async fn a_window_is_the_same_whether_the_samples_came_in_time_order_or_not() {
        let start: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().unwrap();
        let at = |s: i64| start + Duration::seconds(s);
        let in_order = FakeMetrics::new((0..10).map(|i| Sample::at(at(15 * i))).collect());
        let shuffled = FakeMetrics::default();
        for i in [3, 0, 9, 5, 1, 8, 2, 7, 4, 6] {
            shuffled.push(Sample::at(at(15 * i)));
        }
        let times = |samples: Vec<Sample>| {
            let mut t: Vec<_> = samples.iter().map(|s| s.at).collect();
            t.sort();
            t
        };
        // Both ends inclusive, an end between two samples, a window before and after them all.
        for (from, to) in [(30, 90), (31, 89), (-60, -15), (135, 600), (-15, 600)] {
            let a = in_order.fetch(at(from), at(to), 15).await.unwrap();
            let b = shuffled.fetch(at(from), at(to), 15).await.unwrap();
            let expected: Vec<_> = (0..10).map(|i| at(15 * i)).filter(|t| *t >= at(from) && *t <= at(to)).collect();
            assert_eq!(times(a), expected, "in order, [{from}, {to}]");
            assert_eq!(times(b), expected, "out of order, [{from}, {to}]");
        }
        in_order.prune_before(at(50));
        shuffled.prune_before(at(50));
        assert_eq!(times(in_order.fetch_all()), times(shuffled.fetch_all()));
        assert_eq!(in_order.fetch_all().len(), 6);
    }

    #[test]
    fn the_demand_history_is_bounded_by_its_retention() {
        let m = FakeMetrics::default();
        assert_eq!(m.demand_len(), None, "no history until one is fed");
        m.prune_demand_before(Utc::now());
        assert_eq!(m.demand_len(), None);
        let start: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().unwrap();
        for i in 0..10 {
            m.push_demand(DemandSample { at: start + Duration::minutes(5 * i), nodes: i as f64 });
        }
        m.prune_demand_before(start + Duration::minutes(20));
        assert_eq!(m.demand_len(), Some(6));
    }
}
