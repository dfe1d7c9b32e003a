#!/usr/bin/env bash
# Failure scenario: EC2 refuses the launch for quota.
#
# EXPECTED OUTCOME: with INSTANCE_TYPES pointed at a type this account has no quota for
# (QUOTA_TYPE, default p5.48xlarge: 192 vCPUs, zero quota on a new account), every launch fails
# with a quota error. SmartScale publishes ScalingFailures{ErrorType=EC2QuotaExceeded}, sends a
# Slack alert naming the type, launches nothing, leaves no instance behind and releases the
# lock; the pods stay Pending (PodsUnschedulable fires after 15 min). Restoring INSTANCE_TYPES
# lets the next decider run place them.
#
# Run against a live cluster: STACK_NAME=... CLUSTER_ID=... KUBECONFIG=... tests/scenarios/failure-ec2-quota.sh
set -euo pipefail
# shellcheck source=tests/scenarios/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
QUOTA_TYPE=${QUOTA_TYPE:-p5.48xlarge}

fn=$(function_name ScaleUpWorkerFunction)
aws lambda get-function-configuration --function-name "$fn" --query Environment >"${TMPDIR:-/tmp}/scale-up-env.json"
restore() {
    aws lambda update-function-configuration --function-name "$fn" --environment "file://${TMPDIR:-/tmp}/scale-up-env.json" >/dev/null
    delete_pending_pods
}
trap restore EXIT
python3 - "$QUOTA_TYPE" "${TMPDIR:-/tmp}/scale-up-env.json" >"${TMPDIR:-/tmp}/scale-up-env-quota.json" <<'PY'
import json, sys
env = json.load(open(sys.argv[2]))
env["Variables"]["INSTANCE_TYPES"] = sys.argv[1]
print(json.dumps(env))
PY
start=$(date -u +%FT%TZ)
before=$(managed_instances)
aws lambda update-function-configuration --function-name "$fn" --environment "file://${TMPDIR:-/tmp}/scale-up-env-quota.json" >/dev/null
aws lambda wait function-updated --function-name "$fn"
create_pending_pods 2
wait_until 600 "ScalingFailures{EC2QuotaExceeded} published" metric_seen ScalingFailures "$start" Name=ErrorType,Value=EC2QuotaExceeded
[ "$(managed_instances)" -eq "$before" ] || fail "an instance was launched or left behind"
[ "$(pending_pod_count)" -gt 0 ] || fail "the pods were placed without new capacity?"
pass "EC2 quota: failure reported, nothing launched, nothing leaked"
