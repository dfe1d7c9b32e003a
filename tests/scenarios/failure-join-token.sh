#!/usr/bin/env bash
# Failure scenario: a new worker cannot join (bad K3s join token).
#
# EXPECTED OUTCOME: with <ClusterId>/k3s-join-token overwritten by a wrong token, the launched
# instances boot but their k3s agent is refused by the server. After JOIN_TIMEOUT_S (300 s) the
# scale-up worker's join check terminates every instance that never registered a node,
# publishes ScalingFailures{ErrorType=NodeJoinTimeout}, alerts Slack and releases the lock. No
# instance is left running. The original token is restored on exit.
#
# Run against a live cluster: STACK_NAME=... CLUSTER_ID=... KUBECONFIG=... tests/scenarios/failure-join-token.sh
set -euo pipefail
# shellcheck source=tests/scenarios/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

secret="$CLUSTER_ID/k3s-join-token"
original=$(aws secretsmanager get-secret-value --secret-id "$secret" --query SecretString --output text)
restore() {
    aws secretsmanager put-secret-value --secret-id "$secret" --secret-string "$original" >/dev/null
    delete_pending_pods
}
trap restore EXIT

start=$(date -u +%FT%TZ)
before=$(managed_instances)
more_instances() { [ "$(managed_instances)" -gt "$before" ]; }
instances_back() { [ "$(managed_instances)" -eq "$before" ]; }
aws secretsmanager put-secret-value --secret-id "$secret" --secret-string "K10-not-this-cluster::server:wrong" >/dev/null
create_pending_pods 2
wait_until 480 "an instance was launched" more_instances
wait_until 900 "ScalingFailures{NodeJoinTimeout} published" metric_seen ScalingFailures "$start" Name=ErrorType,Value=NodeJoinTimeout
wait_until 300 "the instances that never joined are terminated" instances_back
pass "join failure: timed out, terminated, reported"
