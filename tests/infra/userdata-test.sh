#!/usr/bin/env bash
# SC2016: `bash -c '...' _ ARGS` checks expand their arguments inside, on purpose.
# shellcheck disable=SC2016
# The worker and master user data (infra/userdata/*.sh), run for real against stub aws, curl,
# systemctl, k3s, htpasswd and K3s installer on PATH (tests/infra/stubs.sh). Prints one line
# per check and, last, "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/infra/stubs.sh
source "$here/stubs.sh"
worker="$root/infra/userdata/worker.sh"
master="$root/infra/userdata/master.sh"
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1)); echo "ok - $name"
    else
        failed=$((failed + 1)); echo "FAILED - $name"
    fi
}
has() { grep -qF -- "$2" "$1"; }
lacks() { ! grep -qF -- "$2" "$1"; }
calls_of() { grep -c -E "^$2 " "$1/calls.log" || true; }

JOIN_TOKEN='K10f00dfeed::server:join-secret-5be6c7'

worker_sandbox() {
    local sb="$tmp/$1"
    make_sandbox "$sb"
    printf '10.0.10.5\n' >"$sb/master-ips"
    printf '%s' "$JOIN_TOKEN" >"$sb/secrets/prod_k3s-join-token"
    touch "$sb/installer-activates"
    echo "$sb"
}

# --- worker: a fresh On-Demand instance joins
sb=$(worker_sandbox worker-join)
run_userdata "$sb" "$worker"; rc=$?
token_sha=$(printf '%s' "$JOIN_TOKEN" | sha256sum | cut -d' ' -f1)
check "worker: joins and exits 0" test "$rc" = 0
check "worker: reads the token from Secrets Manager" has "$sb/calls.log" "aws secretsmanager get-secret-value --region us-east-1 --secret-id prod/k3s-join-token"
check "worker: finds the master by Role=k3s-master and Cluster tags" has "$sb/calls.log" "Name=tag:Role,Values=k3s-master Name=tag:Cluster,Values=prod Name=instance-state-name,Values=running"
check "worker: downloads the pinned installer" has "$sb/calls.log" "https://raw.githubusercontent.com/k3s-io/k3s/v1.31.4+k3s1/install.sh"
check "worker: hands the installer the token (in its environment)" has "$sb/calls.log" "K3S_TOKEN_SHA256=$token_sha"
check "worker: joins the master's API" has "$sb/calls.log" "K3S_URL=https://10.0.10.5:6443 INSTALL_K3S_VERSION=v1.31.4+k3s1"
check "worker: zone label" has "$sb/calls.log" "--node-label topology.kubernetes.io/zone=us-east-1a"
check "worker: instance-type label" has "$sb/calls.log" "--node-label node.kubernetes.io/instance-type=t3.small"
check "worker: lifecycle label on-demand" has "$sb/calls.log" "--node-label node.kubernetes.io/lifecycle=on-demand"
check "worker: provider id aws:///<az>/<instance-id>" has "$sb/calls.log" "--kubelet-arg provider-id=aws:///us-east-1a/i-0abc123def4567890"
check "worker: uses IMDSv2 (session token)" has "$sb/calls.log" "-X PUT http://imds.test/latest/api/token"
check "worker: the token is printed nowhere (outputs, log, stub calls)" nowhere_printed "$sb" "$JOIN_TOKEN"
check "worker: the token is in no file it wrote" bash -c '! grep -rqF -- "$1" "$2"' _ "$JOIN_TOKEN" "$sb/state"

# --- worker: a second run changes nothing
before_calls=$(cat "$sb/calls.log")
before_state=$(cd "$sb/state" && find . -type f -exec sha256sum {} + | sort)
run_userdata "$sb" "$worker"; rc=$?
new_calls=$(diff <(echo "$before_calls") "$sb/calls.log" | grep '^>' || true)
check "worker rerun: exits 0" test "$rc" = 0
check "worker rerun: says there is nothing to do" has "$sb/userdata.log" "nothing to do"
check "worker rerun: no AWS call, no download, no install" bash -c '! grep -qE "^> (aws|installer|curl .*install\.sh)" <<<"$1"' _ "$new_calls"
check "worker rerun: state files unchanged" test "$before_state" = "$(cd "$sb/state" && find . -type f -exec sha256sum {} + | sort)"

# --- worker: a Spot instance says so
sb=$(worker_sandbox worker-spot)
printf 'spot' >"$sb/imds/meta-data/instance-life-cycle"
run_userdata "$sb" "$worker"; rc=$?
check "worker spot: exits 0" test "$rc" = 0
check "worker spot: lifecycle label spot" has "$sb/calls.log" "--node-label node.kubernetes.io/lifecycle=spot"

# --- worker: the agent does not come up
sb=$(worker_sandbox worker-inactive)
rm "$sb/installer-activates"
run_userdata "$sb" "$worker"; rc=$?
check "worker inactive agent: exits non-zero" test "$rc" != 0
check "worker inactive agent: logs why" has "$sb/userdata.log" "FAILED: k3s-agent is not active after the install"
check "worker inactive agent: records no join" test ! -e "$sb/state/worker-joined"
check "worker inactive agent: the token is printed nowhere" nowhere_printed "$sb" "$JOIN_TOKEN"

# --- worker: no master yet (retries, then fails naming the tags)
sb=$(worker_sandbox worker-no-master)
rm "$sb/master-ips"
run_userdata "$sb" "$worker"; rc=$?
check "worker without master: exits non-zero" test "$rc" != 0
check "worker without master: retried" test "$(calls_of "$sb" "aws ec2")" = 2
check "worker without master: logs the tags it looked for" has "$sb/userdata.log" "FAILED: no running instance tagged Role=k3s-master and Cluster=prod"
check "worker without master: never read the token" lacks "$sb/calls.log" "secretsmanager"

# --- worker: the master has not stored the token yet
sb=$(worker_sandbox worker-no-token)
rm "$sb/secrets/prod_k3s-join-token"
run_userdata "$sb" "$worker"; rc=$?
check "worker without token: exits non-zero" test "$rc" != 0
check "worker without token: names the secret" has "$sb/userdata.log" "FAILED: could not read the join token from Secrets Manager secret prod/k3s-join-token"
check "worker without token: did not install" test "$(calls_of "$sb" installer)" = 0

# --- master: a fresh bootstrap
SERVER_TOKEN='K10c0ffee::server:cluster-secret-77aa'
SA_TOKEN='eyJhbGciOiJSUzI1NiJ9.sa-token-for-smartscale-controller'
PROM_PASSWORD='prom-pass-2f9d1c'
GRAFANA_PASSWORD='grafana-pass-8e3b0a'
master_sandbox() {
    local sb="$tmp/$1"
    make_sandbox "$sb"
    printf '%s' "$SERVER_TOKEN" >"$sb/k3s-token"
    printf '%s' "$SA_TOKEN" >"$sb/sa-token"
    printf '{"username": "smartscale", "password": "%s"}' "$PROM_PASSWORD" >"$sb/secrets/prod_prometheus-basic-auth"
    printf '{"username": "admin", "password": "%s"}' "$GRAFANA_PASSWORD" >"$sb/secrets/prod_grafana-admin"
    touch "$sb/installer-activates"
    echo "$sb"
}
sb=$(master_sandbox master)
run_userdata "$sb" "$master"; rc=$?
rbac=$(grep -l 'kind: ClusterRoleBinding' "$sb"/applied/* 2>/dev/null | head -n 1)
check "master: bootstraps and exits 0" test "$rc" = 0
check "master: installs the pinned K3s server" has "$sb/calls.log" "installer server --write-kubeconfig-mode 600"
check "master: server labels and provider id" has "$sb/calls.log" "--kubelet-arg provider-id=aws:///us-east-1a/i-0abc123def4567890"
check "master: stores the join token in Secrets Manager" test "$(cat "$sb/put/prod_k3s-join-token" 2>/dev/null)" = "$SERVER_TOKEN"
check "master: secrets go through file://, never argv" bash -c '! ls "$1"/put | grep -q ARGV' _ "$sb"
check "master: applies the RBAC manifest" test -n "$rbac"
for want in "name: smartscale-system" "kind: ServiceAccount" "kind: ClusterRole" "name: smartscale-controller-token" \
    "type: kubernetes.io/service-account-token" "kubernetes.io/service-account.name: smartscale-controller" \
    "verbs: [get, list, patch, delete]" "resources: [pods/eviction]" "resources: [poddisruptionbudgets]"; do
    check "master: RBAC has '$want'" has "${rbac:-/dev/null}" "$want"
done
kubeconfig="$sb/put/prod_kubeconfig"
check "master: kubeconfig carries the smartscale-controller token" has "$kubeconfig" "token: $SA_TOKEN"
check "master: kubeconfig points at the master's private IP" has "$kubeconfig" "server: https://10.0.10.5:6443"
check "master: kubeconfig carries the cluster CA" has "$kubeconfig" "certificate-authority-data: Q0EtREFUQQ=="
check "master: kubeconfig is not the admin one" lacks "$kubeconfig" "$SERVER_TOKEN"
web=$(grep -l 'web.yml' "$sb"/applied/* 2>/dev/null | head -n 1)
web_yml=$(sed -n 's/^web.yml: //p' "${web:-/dev/null}" | base64 -d 2>/dev/null)
check "master: Prometheus web config has a bcrypt hash" grep -qE '^  smartscale: \$2y\$10\$' <<<"$web_yml"
check "master: Prometheus web config has no plaintext password" bash -c '! grep -qF -- "$1" <<<"$2"' _ "$PROM_PASSWORD" "$web_yml"
check "master: Prometheus basic-auth Secret for the self-scrape and Grafana" bash -c 'grep -l "name: prometheus-basic-auth" "$1"/applied/* | xargs grep -q "password: $2"' _ "$sb" "$(printf '%s' "$PROM_PASSWORD" | base64 -w0)"
check "master: Grafana admin Secret" bash -c 'grep -l "name: grafana-admin" "$1"/applied/* | xargs grep -q "admin-password: $2"' _ "$sb" "$(printf '%s' "$GRAFANA_PASSWORD" | base64 -w0)"
fast_path=$(grep -l "name: smartscale-fast-path" "$sb"/applied/* 2>/dev/null | head -n 1)
check "master: ConfigMap smartscale-fast-path carries the fast-path topic for Alertmanager" \
    has "${fast_path:-/dev/null}" "topic-arn: arn:aws:sns:us-east-1:123456789012:smartscale-prod-FastPathTopic-AbC123"
check "master: ConfigMap smartscale-fast-path carries the region SigV4 signs for" has "${fast_path:-/dev/null}" "region: us-east-1"
for secret in "$SERVER_TOKEN" "$SA_TOKEN" "$PROM_PASSWORD" "$GRAFANA_PASSWORD"; do
    check "master: '${secret:0:12}…' is printed nowhere" nowhere_printed "$sb" "$secret"
done

# --- master: a second run changes nothing
before_calls=$(cat "$sb/calls.log")
before_puts=$(cd "$sb/put" && sha256sum ./* | sort)
run_userdata "$sb" "$master"; rc=$?
new_calls=$(diff <(echo "$before_calls") "$sb/calls.log" | grep '^>' || true)
check "master rerun: exits 0" test "$rc" = 0
check "master rerun: no install, no secret written, nothing applied" bash -c '! grep -qE "^> (installer|aws secretsmanager put-secret-value|k3s kubectl apply)" <<<"$1"' _ "$new_calls"
check "master rerun: secrets unchanged" test "$before_puts" = "$(cd "$sb/put" && sha256sum ./* | sort)"

# --- master: K3s does not come up
sb=$(master_sandbox master-inactive)
rm "$sb/installer-activates"
run_userdata "$sb" "$master"; rc=$?
check "master inactive k3s: exits non-zero" test "$rc" != 0
check "master inactive k3s: logs why" has "$sb/userdata.log" "FAILED: k3s is not active after the install"
check "master inactive k3s: stored nothing" test -z "$(ls "$sb/put")"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
