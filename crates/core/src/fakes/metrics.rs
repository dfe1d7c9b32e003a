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
    samples: Arc<Mutex<Vec<Sample>>>,
    pub calls: Arc<Recorder<FetchCall>>,
    pub faults: Arc<Faults<FetchOp>>,
    /// Predictive scaling's demand signal (nodes); `None`: this source has no demand history
    /// (the port's default answer, an error).
    demand: Arc<Mutex<Option<Vec<DemandSample>>>>,
    pub demand_calls: Arc<Recorder<FetchCall>>,
    pub demand_faults: Arc<Faults<DemandOp>>,
}

/// The demand history query (`MetricsSource::demand`), failed apart from `fetch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DemandOp;

impl FakeMetrics {
    pub fn new(samples: Vec<Sample>) -> Self {
        FakeMetrics { samples: Arc::new(Mutex::new(samples)), ..Default::default() }
    }

    pub fn push(&self, sample: Sample) {
        lock(&self.samples).push(sample);
    }

    /// Drops samples older than `before` (a long simulation keeps only what the rules can read).
    pub fn prune_before(&self, before: DateTime<Utc>) {
        lock(&self.samples).retain(|s| s.at >= before);
    }

    /// Every sample held.
    pub fn fetch_all(&self) -> Vec<Sample> {
        lock(&self.samples).clone()
    }

    /// Sets the demand history `demand` answers with (nodes; the node size is the caller's).
    pub fn set_demand(&self, samples: Vec<DemandSample>) {
        *lock(&self.demand) = Some(samples);
    }

    pub fn push_demand(&self, sample: DemandSample) {
        lock(&self.demand).get_or_insert_with(Vec::new).push(sample);
    }

    /// Drops demand samples older than `before`, as a retention limit does (Prometheus keeps
    /// 14 days in the cluster's manifests; the simulator keeps its history bounded the same way).
    pub fn prune_demand_before(&self, before: DateTime<Utc>) {
        if let Some(samples) = lock(&self.demand).as_mut() {
            samples.retain(|s| s.at >= before);
        }
    }

    /// How many demand samples are held (`None`: this source keeps no demand history).
    pub fn demand_len(&self) -> Option<usize> {
        lock(&self.demand).as_ref().map(Vec::len)
    }

    pub fn replace(&self, samples: Vec<Sample>) {
        *lock(&self.samples) = samples;
    }
}

impl MetricsSource for FakeMetrics {
    async fn fetch(&self, start: DateTime<Utc>, end: DateTime<Utc>, step_s: u32) -> Result<Vec<Sample>> {
        self.calls.record_with(|| (start, end, step_s));
        self.faults.check(FetchOp)?;
        Ok(lock(&self.samples).iter().filter(|s| s.at >= start && s.at <= end).cloned().collect())
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
            Some(samples) => Ok(samples.iter().filter(|s| s.at >= start && s.at <= end).copied().collect()),
            None => Err(crate::Error::unavailable("demand history", "this metrics source keeps no demand history")),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

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
