#!/bin/bash
# Joins this instance to the K3s cluster as a SmartScale worker. EC2 runs it as user data, as
# root, after the launch template's header has exported SMARTSCALE_CLUSTER_ID,
# SMARTSCALE_REGION and SMARTSCALE_K3S_VERSION (infra/template.yaml; infra/sync-userdata copies
# this file there verbatim).
#
# - Idempotent: once joined with the same settings and the agent active, a rerun does nothing.
# - The join token is read from Secrets Manager into memory and handed to the K3s installer in
#   its environment: never echoed, logged, or put on a command line (ps shows argv).
# - Joins with the labels and provider id SmartScale's rules read (stock K3s sets none):
#   topology.kubernetes.io/zone, node.kubernetes.io/instance-type, node.kubernetes.io/lifecycle
#   and provider-id aws:///<az>/<instance-id> (crates/kube/src/convert.rs).
# - Exits non-zero with a log line when the agent is not active afterwards.
set -euo pipefail
umask 077

: "${SMARTSCALE_CLUSTER_ID:?SMARTSCALE_CLUSTER_ID is required (set by the launch template)}"
: "${SMARTSCALE_REGION:?SMARTSCALE_REGION is required (set by the launch template)}"
: "${SMARTSCALE_K3S_VERSION:?SMARTSCALE_K3S_VERSION is required (set by the launch template)}"
# Overridable for the tests only; the defaults are the instance's.
log_file=${SMARTSCALE_LOG_FILE:-/var/log/smartscale-join.log}
state_dir=${SMARTSCALE_STATE_DIR:-/var/lib/smartscale}
imds=${SMARTSCALE_IMDS_URL:-http://169.254.169.254}
attempts=${SMARTSCALE_ATTEMPTS:-30}
retry_delay_s=${SMARTSCALE_RETRY_DELAY_S:-10}
installer_url="https://raw.githubusercontent.com/k3s-io/k3s/${SMARTSCALE_K3S_VERSION}/install.sh"

log() { printf '%s smartscale-worker: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" | tee -a "$log_file" >&2; }
fail() { log "FAILED: $*"; exit 1; }

# retry WHAT COMMAND...: runs COMMAND until it succeeds, $attempts times, $retry_delay_s apart.
retry() {
    local what=$1 n
    shift
    for ((n = 1; n <= attempts; n++)); do
        if "$@"; then return 0; fi
        log "$what: attempt $n of $attempts failed"
        [ "$n" -lt "$attempts" ] && sleep "$retry_delay_s"
    done
    return 1
}

# IMDSv2: a session token first (the launch template requires it), then the path.
imds_get() {
    local session
    session=$(curl -sf -X PUT "$imds/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300") || return 1
    curl -sf -H "X-aws-ec2-metadata-token: $session" "$imds/latest/$1"
}

mkdir -p "$state_dir"
touch "$log_file"

instance_id=$(retry "instance id from IMDS" imds_get meta-data/instance-id) || fail "no instance id from IMDS"
az=$(retry "availability zone from IMDS" imds_get meta-data/placement/availability-zone) || fail "no availability zone from IMDS"
instance_type=$(retry "instance type from IMDS" imds_get meta-data/instance-type) || fail "no instance type from IMDS"
market=$(retry "life cycle from IMDS" imds_get meta-data/instance-life-cycle) || fail "no instance-life-cycle from IMDS"
case "$market" in
    spot) lifecycle=spot ;;
    on-demand | scheduled) lifecycle=on-demand ;;
    *) fail "unexpected instance-life-cycle '$market' from IMDS" ;;
esac

agent_args=(
    agent
    --node-label "topology.kubernetes.io/zone=$az"
    --node-label "node.kubernetes.io/instance-type=$instance_type"
    --node-label "node.kubernetes.io/lifecycle=$lifecycle"
    --kubelet-arg "provider-id=aws:///$az/$instance_id"
)
settings="k3s=$SMARTSCALE_K3S_VERSION cluster=$SMARTSCALE_CLUSTER_ID ${agent_args[*]}"
joined_marker="$state_dir/worker-joined"

if [ -f "$joined_marker" ] && [ "$(cat "$joined_marker")" = "$settings" ] && systemctl is-active --quiet k3s-agent; then
    log "already joined as $instance_id ($az, $instance_type, $lifecycle) and k3s-agent is active; nothing to do"
    exit 0
fi
log "joining cluster $SMARTSCALE_CLUSTER_ID as $instance_id ($az, $instance_type, $lifecycle)"

find_master() {
    local ips
    ips=$(aws ec2 describe-instances --region "$SMARTSCALE_REGION" \
        --filters "Name=tag:Role,Values=k3s-master" "Name=tag:Cluster,Values=$SMARTSCALE_CLUSTER_ID" \
        "Name=instance-state-name,Values=running" \
        --query 'Reservations[].Instances[].PrivateIpAddress' --output text) || return 1
    ips=$(printf '%s\n' "$ips" | tr -s '[:space:]' '\n' | grep -E '^[0-9]+(\.[0-9]+){3}$' | sort) || return 1
    [ -n "$ips" ] || return 1
    printf '%s\n' "$ips" | head -n 1
}
master_ip=$(retry "master tagged Role=k3s-master, Cluster=$SMARTSCALE_CLUSTER_ID" find_master) \
    || fail "no running instance tagged Role=k3s-master and Cluster=$SMARTSCALE_CLUSTER_ID"
log "master is $master_ip"

token_secret="$SMARTSCALE_CLUSTER_ID/k3s-join-token"
read_token() {
    aws secretsmanager get-secret-value --region "$SMARTSCALE_REGION" --secret-id "$token_secret" \
        --query SecretString --output text
}
# The master writes the token once it is up; until then the secret has no value.
join_token=$(retry "join token from Secrets Manager ($token_secret)" read_token) \
    || fail "could not read the join token from Secrets Manager secret $token_secret"
if [ -z "$join_token" ] || [ "$join_token" = None ]; then
    fail "Secrets Manager secret $token_secret is empty"
fi

installer="$state_dir/k3s-install-$SMARTSCALE_K3S_VERSION.sh"
retry "K3s installer $SMARTSCALE_K3S_VERSION" curl -sfL "$installer_url" -o "$installer" \
    || fail "could not download the K3s installer from $installer_url"

log "installing K3s agent $SMARTSCALE_K3S_VERSION: ${agent_args[*]}"
# AL2023 runs SELinux permissive and has no k3s-selinux package for the installer to fetch.
if ! K3S_URL="https://$master_ip:6443" K3S_TOKEN="$join_token" INSTALL_K3S_VERSION="$SMARTSCALE_K3S_VERSION" \
    INSTALL_K3S_SKIP_SELINUX_RPM=true INSTALL_K3S_SELINUX_WARN=true \
    sh "$installer" "${agent_args[@]}" >>"$log_file" 2>&1; then
    unset join_token
    fail "the K3s installer failed (its output is in $log_file)"
fi
unset join_token

active() { systemctl is-active --quiet k3s-agent; }
if ! retry "k3s-agent active" active; then
    systemctl status k3s-agent --no-pager >>"$log_file" 2>&1 || true
    fail "k3s-agent is not active after the install (systemctl status is in $log_file)"
fi
printf '%s' "$settings" >"$joined_marker"
log "joined: k3s-agent is active"
