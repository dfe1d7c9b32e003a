# Shared by the scenario scripts: the live cluster and stack they act on, and small waits.
# Needs kubectl (the admin kubeconfig of the K3s master, KUBECONFIG), the aws CLI with
# credentials for the stack's account, and python3. Every wait has a deadline and fails loudly.
# shellcheck shell=bash

: "${STACK_NAME:?set STACK_NAME to the SmartScale CloudFormation stack}"
: "${CLUSTER_ID:?set CLUSTER_ID to the ClusterId parameter of the stack}"
export AWS_PAGER=""

say() { echo "[$(date -u +%H:%M:%S)] $*"; }
fail() { say "FAIL: $*"; exit 1; }
pass() { say "PASS: $*"; }

stack_output() {
    aws cloudformation describe-stacks --stack-name "$STACK_NAME" \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

function_name() {
    aws cloudformation describe-stack-resource --stack-name "$STACK_NAME" --logical-resource-id "$1" \
        --query StackResourceDetail.PhysicalResourceId --output text
}

# Worker nodes: the ones SmartScale launched carry node.kubernetes.io/lifecycle.
worker_count() { kubectl get nodes -l node.kubernetes.io/lifecycle --no-headers 2>/dev/null | wc -l; }
ready_worker_count() {
    kubectl get nodes -l node.kubernetes.io/lifecycle --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l
}

# Running SmartScale-managed instances of this cluster (tags from crates/core/src/tags.rs).
managed_instances() {
    aws ec2 describe-instances \
        --filters "Name=tag:ManagedBy,Values=Lambda" "Name=tag:Cluster,Values=$CLUSTER_ID" \
        "Name=instance-state-name,Values=pending,running" \
        --query 'Reservations[].Instances[].InstanceId' --output text | wc -w
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls every 15 s until COMMAND succeeds.
wait_until() {
    local timeout=$1 what=$2
    shift 2
    local deadline=$((SECONDS + timeout))
    until "$@"; do
        if [ "$SECONDS" -ge "$deadline" ]; then fail "$what: not within ${timeout}s"; fi
        sleep 15
    done
    say "$what (after $((SECONDS - deadline + timeout))s)"
}

# The sum of a SmartScale CloudWatch metric since START (ISO time), 0 when none was published.
metric_sum_since() {
    local metric=$1 start=$2 dimensions="Name=ClusterId,Value=$CLUSTER_ID${3:+ $3}"
    # shellcheck disable=SC2086 # the dimensions are separate words
    aws cloudwatch get-metric-statistics --namespace SmartScale --metric-name "$metric" \
        --dimensions $dimensions --start-time "$start" --end-time "$(date -u +%FT%TZ)" \
        --period 60 --statistics Sum --query 'sum(Datapoints[].Sum)' --output text | sed 's/None/0/'
}

# Unschedulable load: pause pods whose requests no current node has room for.
PENDING_DEPLOYMENT=smartscale-scenario-pending
create_pending_pods() {
    local replicas=$1
    kubectl -n demo apply -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $PENDING_DEPLOYMENT
  namespace: demo
spec:
  replicas: $replicas
  selector:
    matchLabels: {app.kubernetes.io/name: $PENDING_DEPLOYMENT}
  template:
    metadata:
      labels: {app.kubernetes.io/name: $PENDING_DEPLOYMENT}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions: [{key: node.kubernetes.io/lifecycle, operator: Exists}]
      containers:
        - name: pause
          image: registry.k8s.io/pause:3.10
          resources:
            requests: {cpu: 500m, memory: 256Mi}
            limits: {cpu: 500m, memory: 256Mi}
YAML
}
delete_pending_pods() { kubectl -n demo delete deployment "$PENDING_DEPLOYMENT" --ignore-not-found; }
# Predicates for wait_until.
some_pods_pending() { [ "$(pending_pod_count)" -gt 0 ]; }
no_pods_pending() {
    [ "$(kubectl -n demo get pods -l "app.kubernetes.io/name=$PENDING_DEPLOYMENT" --field-selector=status.phase!=Running \
        --no-headers 2>/dev/null | wc -l)" -eq 0 ]
}
instances_match_workers() { [ "$(managed_instances)" -eq "$(worker_count)" ]; }
# metric_seen METRIC START [DIMENSION]: the metric was published with a positive sum.
metric_seen() { metric_sum_since "$@" | awk '{ exit !($1 > 0) }'; }
pending_pod_count() {
    kubectl -n demo get pods -l "app.kubernetes.io/name=$PENDING_DEPLOYMENT" --field-selector=status.phase=Pending \
        --no-headers 2>/dev/null | wc -l
}
