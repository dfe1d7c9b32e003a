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
    let cluster_id = &deps.config().cluster_id;
    Ok(smartscale_lambda::process_work(deps, cluster_id, event.payload, |message| handle_message(deps, message)).await)
}

async fn handle_message<W: Worker<Config = ScaleUpConfig>>(
    deps: &W,
    message: WorkMessage,
) -> smartscale_core::Result<()> {
    match message {
        // Boxed: each path's future holds the state store's and the fleet's futures, too large
        // to nest on a 2 MiB thread stack (tokio's workers' and the test harness's) unboxed.
        WorkMessage::ScaleUpRequest(request) => Box::pin(launch::launch(deps, &request)).await,
        WorkMessage::JoinCheck(check) => {
            let step = format!("join-check:{}:{}", check.decision_id, check.attempt);
            Box::pin(smartscale_lambda::once(deps, &deps.config().cluster_id, &step, join::check(deps, &check))).await
        }
        other => Err(Error::invalid("kind", format!("{} does not belong on the scale-up queue", other.kind()))),
    }
}
