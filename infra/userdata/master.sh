#!/bin/bash
# Bootstraps the K3s master of a SmartScale cluster. EC2 runs it as user data, as root, after
# the launch template's header has exported SMARTSCALE_CLUSTER_ID, SMARTSCALE_REGION,
# SMARTSCALE_K3S_VERSION and SMARTSCALE_FAST_PATH_TOPIC_ARN (infra/template.yaml;
# infra/sync-userdata copies this file there).
#
# 1. installs the pinned K3s server (with the labels and provider id workers get too);
# 2. stores the join token in Secrets Manager (<cluster>/k3s-join-token);
# 3. creates the Lambdas' identity: namespace smartscale-system, ServiceAccount, ClusterRole and
#    ClusterRoleBinding smartscale-controller, token Secret smartscale-controller-token (the
#    same names as k8s/infrastructure/smartscale-rbac/);
# 4. writes a kubeconfig with that account's token, never the admin one, to <cluster>/kubeconfig;
# 5. copies <cluster>/prometheus-basic-auth (bcrypt-hashed) and <cluster>/grafana-admin into the
#    monitoring namespace's Secrets prometheus-web-config, prometheus-basic-auth and grafana-admin;
# 6. writes ConfigMap monitoring/smartscale-fast-path (topic-arn, region), from which
#    Alertmanager's render-config init container fills in its fast-path receiver.
# Each step is skipped when its recorded fingerprint matches, so a rerun changes nothing.
# Secret values go to AWS through file:// (never argv) and are never logged.
set -euo pipefail
umask 077

: "${SMARTSCALE_CLUSTER_ID:?SMARTSCALE_CLUSTER_ID is required (set by the launch template)}"
: "${SMARTSCALE_REGION:?SMARTSCALE_REGION is required (set by the launch template)}"
: "${SMARTSCALE_K3S_VERSION:?SMARTSCALE_K3S_VERSION is required (set by the launch template)}"
: "${SMARTSCALE_FAST_PATH_TOPIC_ARN:?SMARTSCALE_FAST_PATH_TOPIC_ARN is required (set by the launch template)}"
# Overridable for the tests only; the defaults are the instance's.
log_file=${SMARTSCALE_LOG_FILE:-/var/log/smartscale-master.log}
state_dir=${SMARTSCALE_STATE_DIR:-/var/lib/smartscale}
k3s_data_dir=${SMARTSCALE_K3S_DATA_DIR:-/var/lib/rancher/k3s}
imds=${SMARTSCALE_IMDS_URL:-http://169.254.169.254}
attempts=${SMARTSCALE_ATTEMPTS:-60}
retry_delay_s=${SMARTSCALE_RETRY_DELAY_S:-5}
installer_url="https://raw.githubusercontent.com/k3s-io/k3s/${SMARTSCALE_K3S_VERSION}/install.sh"

log() { printf '%s smartscale-master: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" | tee -a "$log_file" >&2; }
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

imds_get() {
    local session
    session=$(curl -sf -X PUT "$imds/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300") || return 1
    curl -sf -H "X-aws-ec2-metadata-token: $session" "$imds/latest/$1"
}

# done_before STEP FINGERPRINT: whether STEP last completed with this fingerprint.
done_before() { [ -f "$state_dir/master-$1" ] && [ "$(cat "$state_dir/master-$1")" = "$2" ]; }
record() { printf '%s' "$2" >"$state_dir/master-$1"; }
fingerprint() { sha256sum | cut -d' ' -f1; }

# put_secret NAME FILE: the file's content becomes the secret's current value.
put_secret() {
    aws secretsmanager put-secret-value --region "$SMARTSCALE_REGION" --secret-id "$1" \
        --secret-string "file://$2" --output text --query VersionId >/dev/null
}
get_secret() {
    aws secretsmanager get-secret-value --region "$SMARTSCALE_REGION" --secret-id "$1" \
        --query SecretString --output text
}
kubectl() { k3s kubectl "$@"; }

mkdir -p "$state_dir"
touch "$log_file"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

instance_id=$(retry "instance id from IMDS" imds_get meta-data/instance-id) || fail "no instance id from IMDS"
az=$(retry "availability zone from IMDS" imds_get meta-data/placement/availability-zone) || fail "no availability zone from IMDS"
instance_type=$(retry "instance type from IMDS" imds_get meta-data/instance-type) || fail "no instance type from IMDS"
private_ip=$(retry "private IP from IMDS" imds_get meta-data/local-ipv4) || fail "no local-ipv4 from IMDS"

# 1. K3s server
server_args=(
    server
    --write-kubeconfig-mode 600
    --node-label "topology.kubernetes.io/zone=$az"
    --node-label "node.kubernetes.io/instance-type=$instance_type"
    --kubelet-arg "provider-id=aws:///$az/$instance_id"
)
# No node.kubernetes.io/lifecycle label on the master: the cluster side counts workers by it
# (smartscale:worker_nodes:count, the Spot-share panels, the demo StatefulSet's affinity).
server_settings="k3s=$SMARTSCALE_K3S_VERSION ${server_args[*]}"
if done_before server "$server_settings" && systemctl is-active --quiet k3s; then
    log "K3s server $SMARTSCALE_K3S_VERSION already installed and active"
else
    installer="$state_dir/k3s-install-$SMARTSCALE_K3S_VERSION.sh"
    retry "K3s installer $SMARTSCALE_K3S_VERSION" curl -sfL "$installer_url" -o "$installer" \
        || fail "could not download the K3s installer from $installer_url"
    log "installing K3s server $SMARTSCALE_K3S_VERSION: ${server_args[*]}"
    # AL2023 runs SELinux permissive and has no k3s-selinux package for the installer to fetch.
    INSTALL_K3S_VERSION="$SMARTSCALE_K3S_VERSION" INSTALL_K3S_SKIP_SELINUX_RPM=true INSTALL_K3S_SELINUX_WARN=true \
        sh "$installer" "${server_args[@]}" >>"$log_file" 2>&1 \
        || fail "the K3s installer failed (its output is in $log_file)"
    active() { systemctl is-active --quiet k3s; }
    retry "k3s active" active || fail "k3s is not active after the install"
    record server "$server_settings"
fi
api_ready() { kubectl get --raw=/readyz >/dev/null 2>&1; }
retry "K3s API ready" api_ready || fail "the K3s API did not become ready"

# 2. join token
token_file="$k3s_data_dir/server/token"
retry "join token file $token_file" test -s "$token_file" || fail "K3s wrote no token at $token_file"
token_print=$(fingerprint <"$token_file")
if done_before join-token "$token_print"; then
    log "join token already stored in $SMARTSCALE_CLUSTER_ID/k3s-join-token"
else
    retry "storing the join token" put_secret "$SMARTSCALE_CLUSTER_ID/k3s-join-token" "$token_file" \
        || fail "could not store the join token in Secrets Manager ($SMARTSCALE_CLUSTER_ID/k3s-join-token)"
    record join-token "$token_print"
    log "join token stored in $SMARTSCALE_CLUSTER_ID/k3s-join-token"
fi

# 3. the Lambdas' identity in the cluster (verbs: docs/DEPLOYMENT_GUIDE.md, contract)
cat >"$work/rbac.yaml" <<'MANIFEST'
apiVersion: v1
kind: Namespace
metadata:
  name: smartscale-system
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: smartscale-controller
  namespace: smartscale-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: smartscale-controller
rules:
  - apiGroups: [""]
    resources: [nodes]
    verbs: [get, list, patch, delete]
  - apiGroups: [""]
    resources: [pods]
    verbs: [get, list]
  - apiGroups: [""]
    resources: [pods/eviction]
    verbs: [create]
  - apiGroups: [policy]
    resources: [poddisruptionbudgets]
    verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: smartscale-controller
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: smartscale-controller
subjects:
  - kind: ServiceAccount
    name: smartscale-controller
    namespace: smartscale-system
---
apiVersion: v1
kind: Secret
metadata:
  name: smartscale-controller-token
  namespace: smartscale-system
  annotations:
    kubernetes.io/service-account.name: smartscale-controller
type: kubernetes.io/service-account-token
MANIFEST
rbac_print=$(fingerprint <"$work/rbac.yaml")
if done_before rbac "$rbac_print"; then
    log "smartscale-controller RBAC already applied"
else
    retry "applying the smartscale-controller RBAC" kubectl apply -f "$work/rbac.yaml" >>"$log_file" \
        || fail "could not apply the smartscale-controller ServiceAccount and RBAC"
    record rbac "$rbac_print"
    log "smartscale-controller ServiceAccount, ClusterRole, ClusterRoleBinding and token Secret applied"
fi

# 4. the Lambdas' kubeconfig, from the ServiceAccount's token (the token controller fills it in)
sa_field() {
    kubectl -n smartscale-system get secret smartscale-controller-token -o "jsonpath={.data.$1}"
}
read_sa_token() { local v; v=$(sa_field token) && [ -n "$v" ] && printf '%s' "$v"; }
sa_token_b64=$(retry "smartscale-controller token" read_sa_token) \
    || fail "the token controller did not fill in smartscale-system/smartscale-controller-token"
ca_b64=$(sa_field 'ca\.crt') || fail "no ca.crt in smartscale-controller-token"
{
    printf 'apiVersion: v1\nkind: Config\n'
    printf 'clusters:\n  - name: %s\n    cluster:\n      server: https://%s:6443\n' "$SMARTSCALE_CLUSTER_ID" "$private_ip"
    printf '      certificate-authority-data: %s\n' "$ca_b64"
    printf 'users:\n  - name: smartscale-controller\n    user:\n      token: %s\n' "$(printf '%s' "$sa_token_b64" | base64 -d)"
    printf 'contexts:\n  - name: smartscale\n    context:\n      cluster: %s\n      user: smartscale-controller\n' "$SMARTSCALE_CLUSTER_ID"
    printf 'current-context: smartscale\n'
} >"$work/kubeconfig"
unset sa_token_b64
kubeconfig_print=$(fingerprint <"$work/kubeconfig")
if done_before kubeconfig "$kubeconfig_print"; then
    log "the Lambdas' kubeconfig is already stored in $SMARTSCALE_CLUSTER_ID/kubeconfig"
else
    retry "storing the Lambdas' kubeconfig" put_secret "$SMARTSCALE_CLUSTER_ID/kubeconfig" "$work/kubeconfig" \
        || fail "could not store the kubeconfig in Secrets Manager ($SMARTSCALE_CLUSTER_ID/kubeconfig)"
    record kubeconfig "$kubeconfig_print"
    log "the Lambdas' kubeconfig (smartscale-controller, https://$private_ip:6443) stored in $SMARTSCALE_CLUSTER_ID/kubeconfig"
fi

# 5. monitoring credentials into the cluster
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]], end="")' "$1"; }
monitoring_secrets() {
    local prom grafana
    prom=$(get_secret "$SMARTSCALE_CLUSTER_ID/prometheus-basic-auth") || return 1
    grafana=$(get_secret "$SMARTSCALE_CLUSTER_ID/grafana-admin") || return 1
    printf '%s' "$prom" | json_field username >"$work/prometheus-user"
    printf '%s' "$prom" | json_field password >"$work/prometheus-password"
    printf '%s' "$grafana" | json_field username >"$work/admin-user"
    printf '%s' "$grafana" | json_field password >"$work/admin-password"
}
retry "monitoring credentials from Secrets Manager" monitoring_secrets \
    || fail "could not read $SMARTSCALE_CLUSTER_ID/prometheus-basic-auth and $SMARTSCALE_CLUSTER_ID/grafana-admin"
monitoring_print=$(cat "$work/prometheus-user" "$work/prometheus-password" "$work/admin-user" "$work/admin-password" | fingerprint)
if done_before monitoring "$monitoring_print"; then
    log "monitoring credentials already in the cluster"
else
    command -v htpasswd >/dev/null || dnf install -y -q httpd-tools >>"$log_file" 2>&1 \
        || fail "htpasswd (httpd-tools) is needed to bcrypt the Prometheus password"
    # htpasswd -i reads the password from stdin: it never reaches argv.
    hash_line=$(htpasswd -niBC 10 "$(cat "$work/prometheus-user")" <"$work/prometheus-password") \
        || fail "htpasswd could not hash the Prometheus password"
    printf 'basic_auth_users:\n  %s: %s\n' "${hash_line%%:*}" "${hash_line#*:}" >"$work/web.yml"
    kubectl create namespace monitoring --dry-run=client -o yaml | kubectl apply -f - >>"$log_file"
    kubectl -n monitoring create secret generic prometheus-web-config --from-file=web.yml="$work/web.yml" \
        --dry-run=client -o yaml | kubectl apply -f - >>"$log_file" \
        || fail "could not create monitoring/prometheus-web-config"
    kubectl -n monitoring create secret generic grafana-admin --from-file=admin-user="$work/admin-user" \
        --from-file=admin-password="$work/admin-password" --dry-run=client -o yaml | kubectl apply -f - >>"$log_file" \
        || fail "could not create monitoring/grafana-admin"
    # The plain credentials that Prometheus' self-scrape and Grafana's data source send.
    kubectl -n monitoring create secret generic prometheus-basic-auth --from-file=username="$work/prometheus-user" \
        --from-file=password="$work/prometheus-password" --dry-run=client -o yaml | kubectl apply -f - >>"$log_file" \
        || fail "could not create monitoring/prometheus-basic-auth"
    record monitoring "$monitoring_print"
    log "monitoring/prometheus-web-config, prometheus-basic-auth and grafana-admin created"
fi

# 6. the fast path's topic for Alertmanager (an ARN and a region, nothing secret)
fast_path_print=$(printf '%s %s' "$SMARTSCALE_FAST_PATH_TOPIC_ARN" "$SMARTSCALE_REGION" | fingerprint)
if done_before fast-path "$fast_path_print"; then
    log "monitoring/smartscale-fast-path already in the cluster"
else
    kubectl create namespace monitoring --dry-run=client -o yaml | kubectl apply -f - >>"$log_file"
    kubectl -n monitoring create configmap smartscale-fast-path --from-literal=topic-arn="$SMARTSCALE_FAST_PATH_TOPIC_ARN" \
        --from-literal=region="$SMARTSCALE_REGION" --dry-run=client -o yaml | kubectl apply -f - >>"$log_file" \
        || fail "could not create monitoring/smartscale-fast-path"
    record fast-path "$fast_path_print"
    log "monitoring/smartscale-fast-path created (topic $SMARTSCALE_FAST_PATH_TOPIC_ARN)"
fi
log "master bootstrap complete"
