//! Worker dependencies on the core's in-memory fakes, for handler tests and the simulator.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use smartscale_core::fakes::{
    FakeClock, FakeCluster, FakeFleet, FakeMetricsSink, FakeNotifier, FakeQueue, FakeStateStore,
};

use crate::WorkerDeps;

pub type FakeWorkerDeps<Config> =
    WorkerDeps<Config, FakeFleet, FakeCluster, FakeStateStore, FakeQueue, FakeNotifier, FakeClock, FakeMetricsSink>;

impl<Config> FakeWorkerDeps<Config> {
    /// Fresh, empty fakes for `cluster_id`, all on `clock`.
    pub fn fakes(config: Config, cluster_id: &str, clock: FakeClock) -> Self {
        WorkerDeps {
            config,
            fleet: FakeFleet::new(cluster_id, clock.clone()),
            cluster: FakeCluster::new(clock.clone()),
            state: FakeStateStore::new(),
            queue: FakeQueue::new(clock.clone()),
            notifier: FakeNotifier::new(),
            clock,
            sink: FakeMetricsSink::new(),
        }
    }

    /// The same fakes under another configuration: several handlers acting on one world.
    pub fn sharing<Other>(&self, config: Other) -> FakeWorkerDeps<Other> {
        WorkerDeps {
            config,
            fleet: self.fleet.clone(),
            cluster: self.cluster.clone(),
            state: self.state.clone(),
            queue: self.queue.clone(),
            notifier: self.notifier.clone(),
            clock: self.clock.clone(),
            sink: self.sink.clone(),
        }
    }
}

/// An SQS batch as the event source mapping delivers it: one record per body, ids `m-0`, `m-1`,
/// …, each on its first receive.
pub fn sqs_event(bodies: impl IntoIterator<Item = String>) -> lambda_runtime::LambdaEvent<SqsEvent> {
    let mut event = SqsEvent::default();
    for (i, body) in bodies.into_iter().enumerate() {
        let mut message = SqsMessage::default();
        message.message_id = Some(format!("m-{i}"));
        message.body = Some(body);
        message.attributes.insert("ApproximateReceiveCount".into(), "1".into());
        event.records.push(message);
    }
    lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default())
}
