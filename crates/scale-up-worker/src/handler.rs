use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use smartscale_core::messages::WorkMessage;
use smartscale_core::Error;
use smartscale_lambda::Worker;
use tracing::instrument;

use crate::{join, launch, Result, ScaleUpConfig};

/// The ports the worker works through.
pub type Deps<F, K8s, S, Q, N, C, M> = smartscale_lambda::WorkerDeps<ScaleUpConfig, F, K8s, S, Q, N, C, M>;

/// Handles a batch from the scale-up queue; each message succeeds or fails on its own.
#[instrument(skip_all, fields(cluster_id = %deps.config().cluster_id, records = event.payload.records.len()))]
pub async fn handle<W: Worker<Config = ScaleUpConfig>>(
    event: LambdaEvent<SqsEvent>,
    deps: &W,
) -> Result<SqsBatchResponse> {
    Ok(smartscale_lambda::process_messages(event.payload, |message| async move {
        let decision_id = message.decision_id().to_string();
        match handle_message(deps, message).await {
            Ok(()) => Ok(()),
            Err(e) => Err(smartscale_lambda::escalate(deps, &deps.config().cluster_id, Some(&decision_id), e).await),
        }
    })
    .await)
}

async fn handle_message<W: Worker<Config = ScaleUpConfig>>(
    deps: &W,
    message: WorkMessage,
) -> smartscale_core::Result<()> {
    let cluster_id = &deps.config().cluster_id;
    if let Err(e) = smartscale_lambda::ensure_own_cluster(&message, cluster_id) {
        return Err(smartscale_lambda::refused(deps, cluster_id, e));
    }
    match message {
        WorkMessage::ScaleUpRequest(request) => launch::launch(deps, &request).await,
        WorkMessage::JoinCheck(check) => join::check(deps, &check).await,
        other => Err(Error::invalid("kind", format!("{} does not belong on the scale-up queue", other.kind()))),
    }
}
