#!/usr/bin/env bash
# Scenario: scale-up on unschedulable pods.
#
# EXPECTED OUTCOME: 8 pause pods of 500m each that fit on no current worker go Pending. Within
# 2 decider runs (pending > 1 min, runs every 2 min) SmartScale requests as many nodes as their
# requests need (capped by MAX_NODES), the instances join as Ready workers within JOIN_TIMEOUT_S
# (300 s), every pod is Running within 12 minutes, ScaleUpEvents{Reason} counts the request and
# Slack shows "scale-up started" and "nodes joined". No managed instance is left that never
# joined.
#
# Run against a live cluster: STACK_NAME=... CLUSTER_ID=... KUBECONFIG=... tests/scenarios/scale-up.sh
# Optional load on top: k6 run -e BASE_URL=http://<node>:30080 tests/load/load-test.js
set -euo pipefail
# shellcheck source=tests/scenarios/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap delete_pending_pods EXIT

start=$(date -u +%FT%TZ)
before=$(worker_count)
say "workers before: $before"
create_pending_pods 8
wait_until 120 "pods are unschedulable" some_pods_pending
more_workers() { [ "$(worker_count)" -gt "$before" ]; }
wait_until 480 "SmartScale launched workers" more_workers
wait_until 720 "every pending pod is Running" no_pods_pending
[ "$(managed_instances)" -eq "$(worker_count)" ] || fail "managed instances ($(managed_instances)) != worker nodes ($(worker_count)): an instance did not join"
ups=$(metric_sum_since ScaleUpEvents "$start" "Name=Reason,Value=pending_pods")
say "ScaleUpEvents{Reason=pending_pods} since start: $ups"
pass "scale-up: $before -> $(worker_count) workers, all pods Running"
