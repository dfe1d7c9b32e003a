//! What every SmartScale Lambda handler shares: per-message SQS batch handling, the
//! runtime's error classification, and notifications that never fail the work.

#[cfg(feature = "fakes")]
mod fake_deps;
#[cfg(feature = "fakes")]
pub use fake_deps::{sqs_event, FakeWorkerDeps};

use std::future::Future;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use smartscale_core::emf::{Metric, MetricBatch};
use smartscale_core::messages::WorkMessage;
use smartscale_core::notification::{FailureType, Notification, NotificationEvent};
use smartscale_core::ports::{Clock, Cluster, Fleet, MetricsSink, Notifier, StateStore, WorkQueue};
use smartscale_core::{Error, Result};
use tracing::{error, info_span, Instrument};

/// A worker's ports as one bound, so handler code names `W: Worker<Config = …>` instead of
/// seven type parameters.
pub trait Worker: Send + Sync {
    type Config;
    type Fleet: Fleet;
    type Cluster: Cluster;
    type State: StateStore;
    type Queue: WorkQueue;
    type Notifier: Notifier;
    type Clock: Clock;
    type Sink: MetricsSink;

    fn config(&self) -> &Self::Config;
    fn fleet(&self) -> &Self::Fleet;
    fn cluster(&self) -> &Self::Cluster;
    fn state(&self) -> &Self::State;
    fn queue(&self) -> &Self::Queue;
    fn notifier(&self) -> &Self::Notifier;
    fn clock(&self) -> &Self::Clock;
    fn sink(&self) -> &Self::Sink;
}

impl<Config, F, K8s, S, Q, N, C, M> Worker for WorkerDeps<Config, F, K8s, S, Q, N, C, M>
where
    Config: Send + Sync,
    F: Fleet,
    K8s: Cluster,
    S: StateStore,
    Q: WorkQueue,
    N: Notifier,
    C: Clock,
    M: MetricsSink,
{
    type Config = Config;
    type Fleet = F;
    type Cluster = K8s;
    type State = S;
    type Queue = Q;
    type Notifier = N;
    type Clock = C;
    type Sink = M;

    fn config(&self) -> &Config {
        &self.config
    }
    fn fleet(&self) -> &F {
        &self.fleet
    }
    fn cluster(&self) -> &K8s {
        &self.cluster
    }
    fn state(&self) -> &S {
        &self.state
    }
    fn queue(&self) -> &Q {
        &self.queue
    }
    fn notifier(&self) -> &N {
        &self.notifier
    }
    fn clock(&self) -> &C {
        &self.clock
    }
    fn sink(&self) -> &M {
        &self.sink
    }
}

/// The error every SmartScale Lambda handler returns to the runtime: a core error, reported
/// with an `errorType` that says what kind of failure it was.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Core(#[from] Error),
}

pub type HandlerResult<T, E = HandlerError> = std::result::Result<T, E>;

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        let HandlerError::Core(core) = &error;
        lambda_runtime::Diagnostic { error_type: error_type(core).into(), error_message: error.to_string() }
    }
}

/// The ports a worker Lambda (scale-up, drain, spot) works through, with its configuration.
pub struct WorkerDeps<Config, F, K8s, S, Q, N, C, M> {
    pub config: Config,
    pub fleet: F,
    pub cluster: K8s,
    pub state: S,
    pub queue: Q,
    pub notifier: N,
    pub clock: C,
    pub sink: M,
}

/// The `errorType` Lambda reports for a failed invocation.
pub fn error_type(error: &Error) -> &'static str {
    match error {
        Error::Config { .. } => "Config",
        Error::Invalid { .. } => "InvalidInput",
        Error::UnsupportedVersion { .. } | Error::UnknownKind { .. } => "UnsupportedMessage",
        Error::Unavailable { .. } => "DependencyUnavailable",
        Error::Rejected { .. } => "DependencyRejected",
        Error::NotFound { .. } => "NotFound",
        Error::RejectedMessage { .. } => "RejectedMessage",
    }
}

/// Refuses a message addressed to another cluster before any work is done.
pub fn ensure_own_cluster(message: &WorkMessage, cluster_id: &str) -> Result<()> {
    if message.cluster_id() == cluster_id {
        return Ok(());
    }
    Err(Error::rejected_message(
        "cluster_id",
        format!("the message is for cluster {:?}; this worker serves {cluster_id:?}", message.cluster_id()),
    ))
}

/// Logs a refused message and counts it as `ScalingFailures{ErrorType=RejectedMessage}`, then
/// hands the error back: the caller fails the message, so SQS dead-letters it after its retries
/// and a person can read it there. Nothing was done on its behalf.
pub fn refused<W: Worker>(deps: &W, cluster_id: &str, error: Error) -> Error {
    tracing::warn!(%error, "refusing a message the world does not bear out; nothing was done");
    let mut emf = MetricBatch::new(cluster_id, deps.clock().now());
    emf.put_with("ErrorType", FailureType::RejectedMessage.as_str(), Metric::ScalingFailures, 1.0);
    deps.sink().emit(&emf);
    error
}

/// Whether an error is one no retry fixes by itself, so that a person must hear of it before
/// the message is retried into the dead-letter queue. Adapters map exactly those failures to
/// `Rejected` (refused credentials or permissions, a launch template or AMI that does not
/// exist, HTTP 4xx from the K3s API); `Unavailable` is transient and retried in silence.
pub fn needs_a_person(error: &Error) -> bool {
    matches!(error, Error::Rejected { .. } | Error::Config { .. })
}

/// How long one escalation silences the same failure of the same decision: SQS retries the
/// message several times, and a person needs one message, not five.
const ESCALATION_TTL_S: u32 = 3600;

/// Tells a person about an error [`needs_a_person`] before the message fails: a critical
/// notification (once per decision and failure, claimed in the state store) and
/// `ScalingFailures{ErrorType=Misconfigured}` on every attempt. Returns the error unchanged.
pub async fn escalate<W: Worker>(deps: &W, cluster_id: &str, decision_id: Option<&str>, error: Error) -> Error {
    if !needs_a_person(&error) {
        return error;
    }
    let now = deps.clock().now();
    let mut emf = MetricBatch::new(cluster_id, now);
    emf.put_with("ErrorType", FailureType::Misconfigured.as_str(), Metric::ScalingFailures, 1.0);
    deps.sink().emit(&emf);
    let episode = format!("escalated:{}:{}", decision_id.unwrap_or("-"), error_type(&error));
    match deps.state().claim_event(cluster_id, &episode, now, ESCALATION_TTL_S).await {
        Ok(false) => return error,
        Ok(true) => {}
        // Better a second message than none.
        Err(e) => tracing::warn!(error = %e, "could not record the escalation; notifying anyway"),
    }
    let event = NotificationEvent::ScalingFailure {
        decision_id: decision_id.map(str::to_string),
        error_type: FailureType::Misconfigured,
        message: error.to_string(),
        recommendation: Some(
            "a retry will not fix this: check the launch template, the AMI, the Lambda's IAM role and the \
             kubeconfig secret; the message goes to the dead-letter queue after its retries"
                .into(),
        ),
    };
    notify(deps.notifier(), cluster_id, now, event).await;
    error
}

/// Handles each SQS record on its own: a record whose body is not a valid work message, or
/// whose handling fails, is reported as a batch item failure (so SQS retries it alone and, after
/// `maxReceiveCount`, moves it to the dead-letter queue) and logged with the reason.
pub async fn process_messages<F, Fut>(event: SqsEvent, mut handle: F) -> SqsBatchResponse
where
    F: FnMut(WorkMessage) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    process_records(event, |body| {
        let decoded = WorkMessage::decode(&body);
        let handled = decoded.map(|message| {
            let span = info_span!("message", kind = message.kind(), decision_id = message.decision_id());
            handle(message).instrument(span)
        });
        async move {
            match handled {
                Ok(work) => work.await,
                Err(e) => Err(e),
            }
        }
    })
    .await
}

/// [`process_messages`] for a worker of `cluster_id`: a message addressed to another cluster is
/// refused before `handle` sees it, and a failure no retry fixes is told to a person
/// ([`escalate`]) before the message goes back to SQS.
pub async fn process_work<W, F, Fut>(deps: &W, cluster_id: &str, event: SqsEvent, mut handle: F) -> SqsBatchResponse
where
    W: Worker,
    F: FnMut(WorkMessage) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    process_messages(event, |message| {
        let decision_id = message.decision_id().to_string();
        let work = ensure_own_cluster(&message, cluster_id).map(|()| handle(message));
        async move {
            let result = match work {
                Ok(work) => work.await,
                Err(e) => Err(refused(deps, cluster_id, e)),
            };
            match result {
                Ok(()) => Ok(()),
                Err(e) => Err(escalate(deps, cluster_id, Some(&decision_id), e).await),
            }
        }
    })
    .await
}

/// Publishes `event` once per `key`, for the announcements that end a chain of checks: a step
/// that stopped after announcing and runs again must not announce twice. The key is recorded
/// after the message went out, so a step stopped in between announces again rather than never:
/// a second message is better than none. A state store that cannot answer does not hold the
/// message back either.
pub async fn notify_once<W: Worker>(deps: &W, cluster_id: &str, key: &str, event: NotificationEvent) -> bool {
    let now = deps.clock().now();
    match deps.state().event_seen(cluster_id, key).await {
        Ok(true) => {
            tracing::info!(key, "already announced");
            return false;
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(key, error = %e, "could not look the announcement up; sending it"),
    }
    let sent = notify(deps.notifier(), cluster_id, now, event).await;
    if sent {
        if let Err(e) = deps.state().claim_event(cluster_id, key, now, DONE_TTL_S).await {
            tracing::warn!(key, error = %e, "could not record the announcement; a retry may repeat it");
        }
    }
    sent
}

/// How long a finished check stays remembered: longer than any chain of checks lives.
const DONE_TTL_S: u32 = 86_400;

/// Runs one step of a chain of delayed checks (a join check, a drain check) at most once: SQS
/// may deliver a message again, and a second copy of a step would start a second chain (two
/// timeouts, two alerts, a refusal once the first chain has moved on). The step is recorded
/// only after it succeeded, so a failed one is retried in full.
pub async fn once<W, Fut>(deps: &W, cluster_id: &str, step: &str, work: Fut) -> Result<()>
where
    W: Worker,
    Fut: Future<Output = Result<()>>,
{
    if deps.state().event_seen(cluster_id, step).await? {
        tracing::info!(step, "a copy of a step already done; dropped");
        return Ok(());
    }
    work.await?;
    deps.state().claim_event(cluster_id, step, deps.clock().now(), DONE_TTL_S).await?;
    Ok(())
}

/// Deletes Node objects whose instance is gone (a Spot reclaim, a manual termination): the
/// node's `spec.providerID` names an instance managed for this cluster that EC2 reports
/// shutting down or terminated. Any worker run that has both lists calls it; a node whose
/// instance EC2 does not describe at all is left alone (it may not be ours). Returns the names
/// deleted; a failure is logged, never raised, so tidying never fails the work.
pub async fn delete_nodes_of_gone_instances<K: Cluster>(
    cluster: &K,
    nodes: &[smartscale_core::ports::Node],
    instances: &[smartscale_core::ports::Instance],
) -> Vec<String> {
    use smartscale_core::ports::InstanceState;
    let mut deleted = Vec::new();
    for node in nodes.iter().filter(|n| !n.is_control_plane()) {
        let Some(id) = node.declared_instance_id() else { continue };
        let gone = instances
            .iter()
            .any(|i| i.instance_id == id && matches!(i.state, InstanceState::ShuttingDown | InstanceState::Terminated));
        if !gone {
            continue;
        }
        match cluster.delete_node(&node.name).await {
            Ok(_) => {
                tracing::info!(node = %node.name, instance_id = id, "deleted the Node of an instance that is gone");
                deleted.push(node.name.clone());
            }
            Err(e) => tracing::warn!(node = %node.name, error = %e, "could not delete the Node of a gone instance"),
        }
    }
    deleted
}

/// Like [`process_messages`] for bodies of any format: `handle` gets each record's body.
pub async fn process_records<F, Fut>(event: SqsEvent, mut handle: F) -> SqsBatchResponse
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let receive_count = record.attributes.get("ApproximateReceiveCount").cloned().unwrap_or_default();
        let span = info_span!("record", message_id = %id, receive_count = %receive_count);
        let result = match record.body {
            None => Err(Error::invalid("body", "the SQS record has no body")),
            Some(body) => handle(body).instrument(span).await,
        };
        if let Err(e) = result {
            error!(message_id = %id, receive_count = %receive_count, error = %e, error_type = error_type(&e), "message failed; SQS will retry it, then dead-letter it");
            response.add_failure(id);
        }
    }
    response
}

/// Publishes a notification; a failure is logged and reported as `false`, never raised, so an
/// alert that cannot go out never undoes or repeats scaling work.
pub async fn notify<N: Notifier>(notifier: &N, cluster_id: &str, at: DateTime<Utc>, event: NotificationEvent) -> bool {
    let kind = event.kind();
    match notifier.publish(&Notification::new(cluster_id, at, event)).await {
        Ok(()) => true,
        Err(e) => {
            error!(kind, error = %e, "could not publish the notification");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use smartscale_core::fakes::{FakeClock, FakeQueue};
    use smartscale_core::messages::DrainRequest;

    use super::*;

    fn event(bodies: &[(&str, Option<&str>)]) -> SqsEvent {
        let records: Vec<serde_json::Value> = bodies
            .iter()
            .map(|(id, body)| serde_json::json!({"messageId": id, "body": body, "attributes": {"ApproximateReceiveCount": "1"}}))
            .collect();
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    #[tokio::test]
    async fn bad_records_fail_alone() {
        let good = WorkMessage::DrainRequest(DrainRequest {
            decision_id: "d".into(),
            cluster_id: "c".into(),
            lock_token: None,
            node: None,
            reason: "r".into(),
            requested_at: "2026-11-23T12:00:00Z".parse().unwrap(),
            deadline: None,
            spot_reclaim: false,
        })
        .encode();
        let unknown_version = good.replace("\"version\":1", "\"version\":9");
        let failing = good.replace("\"decision_id\":\"d\"", "\"decision_id\":\"boom\"");
        let event = event(&[
            ("ok", Some(&good)),
            ("garbage", Some("{not json")),
            ("v9", Some(&unknown_version)),
            ("empty", None),
            ("boom", Some(&failing)),
        ]);
        let queue = FakeQueue::new(FakeClock::new("2026-11-23T12:00:00Z".parse().unwrap()));
        let mut handled = Vec::new();
        let response = process_messages(event, |m| {
            handled.push(m.decision_id().to_string());
            let queue = queue.clone();
            async move {
                if m.decision_id() == "boom" {
                    return Err(Error::unavailable("ec2", "throttled"));
                }
                use smartscale_core::ports::WorkQueue;
                queue.send(&m, 0).await
            }
        })
        .await;
        let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(failed, vec!["garbage", "v9", "empty", "boom"]);
        assert_eq!(handled, vec!["d", "boom"]);
        assert_eq!(queue.queued().len(), 1);
    }
}
