#!/usr/bin/env bash
# Failure scenario: the scale-up worker Lambda times out mid-scaling.
#
# EXPECTED OUTCOME: with the worker's timeout cut to 3 s, its first attempts are killed by the
# Lambda runtime mid-way. The scale-up request is redelivered by SQS after the visibility
# timeout; the launch is idempotent (one client token per decision), so no duplicate instances
# are started for one decision; the 5-minute lock expires so the decider can act again; once the
# timeout is restored the pending pods are placed. At the end: managed instances == worker
# nodes (nothing leaked), all pods Running.
#
# Run against a live cluster: STACK_NAME=... CLUSTER_ID=... KUBECONFIG=... tests/scenarios/failure-lambda-timeout.sh
set -euo pipefail
# shellcheck source=tests/scenarios/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

fn=$(function_name ScaleUpWorkerFunction)
original=$(aws lambda get-function-configuration --function-name "$fn" --query Timeout --output text)
restore() {
    aws lambda update-function-configuration --function-name "$fn" --timeout "$original" >/dev/null
    delete_pending_pods
}
trap restore EXIT

say "cutting $fn's timeout from ${original}s to 3s"
aws lambda update-function-configuration --function-name "$fn" --timeout 3 >/dev/null
aws lambda wait function-updated --function-name "$fn"
before_instances=$(managed_instances)
create_pending_pods 4
sleep 420
during=$(managed_instances)
say "managed instances: $before_instances before, $during after 7 min of timeouts"
say "restoring the timeout to ${original}s"
aws lambda update-function-configuration --function-name "$fn" --timeout "$original" >/dev/null
aws lambda wait function-updated --function-name "$fn"
wait_until 1200 "every pending pod is Running" no_pods_pending
wait_until 600 "every managed instance is a worker node" instances_match_workers
pass "lambda timeout: recovered, no leaked instances"
