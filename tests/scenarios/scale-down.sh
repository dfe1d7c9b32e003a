#!/usr/bin/env bash
# Scenario: scale-down of an idle cluster.
#
# EXPECTED OUTCOME: with the scenario load removed and the cluster quiet (CPU < 30 % and memory
# < 50 % for 10 min, no pending pods, queue < 100, last hour's peak fits on one node fewer),
# SmartScale removes ONE node per decision, at most one every 10 minutes, each by cordon, evict
# (PDBs respected: the demo app keeps >= 1 pod Ready throughout), terminate; it stops at
# MIN_NODES (2) workers. ScaleDownEvents counts each removal; no pod of the demo app is ever
# without a Ready replica.
#
# Run after scale-up.sh: STACK_NAME=... CLUSTER_ID=... KUBECONFIG=... tests/scenarios/scale-down.sh
set -euo pipefail
# shellcheck source=tests/scenarios/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MIN_NODES=${MIN_NODES:-2}

delete_pending_pods
before=$(worker_count)
say "workers before: $before (floor $MIN_NODES)"
[ "$before" -gt "$MIN_NODES" ] || fail "nothing to remove: run scale-up.sh first"
deadline=$((SECONDS + 3600 + 900 * (before - MIN_NODES)))
last=$before
last_change=$SECONDS
while [ "$(worker_count)" -gt "$MIN_NODES" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "still $(worker_count) workers after $((SECONDS / 60)) min"
    ready=$(kubectl -n demo get deploy smartscale-demo-app -o jsonpath='{.status.readyReplicas}')
    [ "${ready:-0}" -ge 1 ] || fail "the demo app had no Ready replica during scale-down"
    now=$(worker_count)
    if [ "$now" -lt "$last" ]; then
        [ $((last - now)) -eq 1 ] || fail "$((last - now)) nodes removed at once"
        [ "$last" -eq "$before" ] || [ $((SECONDS - last_change)) -ge 540 ] || fail "two removals within 9 minutes"
        say "removed one node: $now workers"
        last=$now
        last_change=$SECONDS
    fi
    sleep 30
done
[ "$(worker_count)" -eq "$MIN_NODES" ] || fail "went below MIN_NODES: $(worker_count)"
pass "scale-down: $before -> $MIN_NODES workers, one at a time, the demo app always served"
