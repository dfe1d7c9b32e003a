#!/usr/bin/env bash
# Failure scenario: a drain that cannot finish in time (the slow-shutdown StatefulSet).
#
# EXPECTED OUTCOME: the drain worker is asked to remove the worker that runs slow-shutdown-0, a
# pod that takes 14 minutes to stop after SIGTERM. It cordons the node and evicts the pod; the
# pod stays Terminating past DRAIN_TIMEOUT_S (300 s). At the deadline the drain worker gives up:
# it uncordons the node (back in service), does NOT terminate the instance, publishes
# ScalingFailures{ErrorType=DrainFailed}, alerts Slack and releases the lock.
#
# Run against a live cluster: STACK_NAME=... CLUSTER_ID=... KUBECONFIG=... tests/scenarios/failure-drain-timeout.sh
set -euo pipefail
# shellcheck source=tests/scenarios/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

kubectl -n demo rollout status statefulset slow-shutdown --timeout=300s
node=$(kubectl -n demo get pod slow-shutdown-0 -o jsonpath='{.spec.nodeName}')
instance=$(kubectl get node "$node" -o jsonpath='{.spec.providerID}' | awk -F/ '{print $NF}')
say "slow-shutdown-0 runs on $node ($instance)"
queue=$(stack_output DrainQueueUrl)
start=$(date -u +%FT%TZ)
decision="scenario-drain-timeout-$(date +%s)"
# A drain request as the decider sends it (crates/core/src/messages.rs, version 1), naming the node.
body=$(printf '{"version":1,"kind":"drain_request","decision_id":"%s","cluster_id":"%s","lock_token":null,"node":"%s","reason":"scenario: drain timeout","requested_at":"%s","deadline":null}' \
    "$decision" "$CLUSTER_ID" "$node" "$start")
aws sqs send-message --queue-url "$queue" --message-body "$body" >/dev/null
cordoned() { [ "$(kubectl get node "$node" -o jsonpath='{.spec.unschedulable}')" = true ]; }
uncordoned() { ! cordoned; }
terminating() { [ -n "$(kubectl -n demo get pod slow-shutdown-0 -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)" ]; }
wait_until 120 "$node is cordoned" cordoned
wait_until 120 "slow-shutdown-0 is Terminating" terminating
wait_until 600 "the drain gave up and uncordoned $node" uncordoned
state=$(aws ec2 describe-instances --instance-ids "$instance" --query 'Reservations[0].Instances[0].State.Name' --output text)
[ "$state" = running ] || fail "$instance is $state: a timed-out drain must not terminate"
wait_until 300 "ScalingFailures{DrainFailed} published" metric_seen ScalingFailures "$start" Name=ErrorType,Value=DrainFailed
pass "drain timeout: gave up at the deadline, node back in service, instance kept"
