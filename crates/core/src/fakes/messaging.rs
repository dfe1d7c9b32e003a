use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use super::{lock, FakeClock, Faults, Recorder};
use crate::emf::{Metric, MetricBatch};
use crate::messages::{QueueName, WorkMessage};
use crate::notification::Notification;
use crate::ports::{Clock, MetricsSink, Notifier, WorkQueue};
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SendOp;

/// A message on a fake queue, as its encoded body (so the wire format is exercised).
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedMessage {
    pub queue: QueueName,
    pub body: String,
    pub visible_at: DateTime<Utc>,
    pub delay_s: u32,
}

impl QueuedMessage {
    pub fn message(&self) -> WorkMessage {
        WorkMessage::decode(&self.body).expect("fake queue holds only encoded work messages")
    }
}

/// SQS in memory: messages become visible after their delay on the fake clock.
#[derive(Debug, Clone)]
pub struct FakeQueue {
    clock: FakeClock,
    messages: Arc<Mutex<Vec<QueuedMessage>>>,
    pub calls: Arc<Recorder<QueuedMessage>>,
    pub faults: Arc<Faults<SendOp>>,
}

impl FakeQueue {
    pub fn new(clock: FakeClock) -> Self {
        FakeQueue { clock, messages: Arc::default(), calls: Arc::default(), faults: Arc::default() }
    }

    /// Every message still on the queues, visible or not.
    pub fn queued(&self) -> Vec<QueuedMessage> {
        lock(&self.messages).clone()
    }

    /// Removes and returns the messages on `queue` that are visible now.
    pub fn take_visible(&self, queue: QueueName) -> Vec<QueuedMessage> {
        let now = self.clock.now();
        let mut messages = lock(&self.messages);
        // Most steps deliver nothing: leave the queue as it is then.
        if !messages.iter().any(|m| m.queue == queue && m.visible_at <= now) {
            return Vec::new();
        }
        let (due, rest): (Vec<_>, Vec<_>) = messages.drain(..).partition(|m| m.queue == queue && m.visible_at <= now);
        *messages = rest;
        due
    }

    /// Puts a received message back, visible at `visible_at`: SQS redelivering it after its
    /// visibility timeout, or delivering it twice (at-least-once).
    pub fn redeliver(&self, message: QueuedMessage, visible_at: DateTime<Utc>) {
        lock(&self.messages).push(QueuedMessage { visible_at, ..message });
    }
}

impl WorkQueue for FakeQueue {
    async fn send(&self, message: &WorkMessage, delay_s: u32) -> Result<()> {
        let queued = QueuedMessage {
            queue: message.queue(),
            body: message.encode(),
            visible_at: self.clock.now() + Duration::seconds(i64::from(delay_s)),
            delay_s,
        };
        self.calls.record_with(|| queued.clone());
        self.faults.check(SendOp)?;
        lock(&self.messages).push(queued);
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublishOp;

/// SNS in memory: keeps every published notification.
#[derive(Debug, Clone, Default)]
pub struct FakeNotifier {
    published: Arc<Mutex<Vec<Notification>>>,
    pub faults: Arc<Faults<PublishOp>>,
}

impl FakeNotifier {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn published(&self) -> Vec<Notification> {
        lock(&self.published).clone()
    }

    /// The notifications after the first `seen`, for a consumer that reads as they arrive.
    pub fn published_since(&self, seen: usize) -> Vec<Notification> {
        lock(&self.published).iter().skip(seen).cloned().collect()
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        lock(&self.published).iter().map(|n| n.event.kind()).collect()
    }
}

impl Notifier for FakeNotifier {
    async fn publish(&self, notification: &Notification) -> Result<()> {
        self.faults.check(PublishOp)?;
        // Round-trip through the wire format so a subscriber could read what we record.
        let decoded = Notification::decode(&notification.encode())?;
        lock(&self.published).push(decoded);
        Ok(())
    }
}

/// Keeps every metric batch emitted.
#[derive(Debug, Clone, Default)]
pub struct FakeMetricsSink {
    batches: Arc<Recorder<MetricBatch>>,
}

impl FakeMetricsSink {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn batches(&self) -> Vec<MetricBatch> {
        self.batches.calls()
    }

    /// The sum of `metric` over every batch emitted.
    pub fn total(&self, metric: Metric) -> f64 {
        self.batches.calls().iter().filter_map(|b| b.value(metric)).sum()
    }

    /// How many EMF lines carry `metric` with the dimension `name` = `value`, over every batch.
    pub fn count_with(&self, metric: Metric, name: &str, value: &str) -> usize {
        let dimension = format!(r#""{name}":"{value}""#);
        let metric = format!(r#""{}":"#, metric.name());
        self.batches
            .calls()
            .iter()
            .flat_map(|b| b.lines())
            .filter(|l| l.contains(&dimension) && l.contains(&metric))
            .count()
    }

    /// Stops keeping batches (a long simulation never reads them).
    pub fn turn_off(&self) {
        self.batches.turn_off();
    }
}

impl MetricsSink for FakeMetricsSink {
    fn emit(&self, batch: &MetricBatch) {
        self.batches.record_with(|| batch.clone());
    }
}
