# shellcheck shell=bash
# Sourced by the user-data tests: a sandbox with stub aws, curl, systemctl, k3s, htpasswd and
# a fake K3s installer on PATH. Every stub appends its argv (never a secret: the installer
# logs a hash of K3S_TOKEN) to $sandbox/calls.log; the fixtures are files under $sandbox.

# make_sandbox DIR: writes the stubs and default fixtures into DIR.
make_sandbox() {
    local sb=$1
    mkdir -p "$sb/bin" "$sb/imds/meta-data/placement" "$sb/secrets" "$sb/put" "$sb/active" "$sb/state" "$sb/k3s-data" "$sb/applied"
    : >"$sb/calls.log"
    printf 'i-0abc123def4567890' >"$sb/imds/meta-data/instance-id"
    printf 'us-east-1a' >"$sb/imds/meta-data/placement/availability-zone"
    printf 't3.small' >"$sb/imds/meta-data/instance-type"
    printf 'on-demand' >"$sb/imds/meta-data/instance-life-cycle"
    printf '10.0.10.5' >"$sb/imds/meta-data/local-ipv4"

    cat >"$sb/bin/curl" <<'STUB'
#!/bin/bash
# IMDS at $SMARTSCALE_IMDS_URL (fixtures in $SANDBOX/imds) and the K3s installer download.
echo "curl $*" >>"$SANDBOX/calls.log"
out="" url="" method=GET
while [ $# -gt 0 ]; do
    case "$1" in
        -o) out=$2; shift 2 ;;
        -X) method=$2; shift 2 ;;
        -H) shift 2 ;;
        -*) shift ;;
        *) url=$1; shift ;;
    esac
done
case "$url" in
    "$SMARTSCALE_IMDS_URL/latest/api/token")
        [ "$method" = PUT ] || exit 22
        printf 'imds-session-token' ;;
    "$SMARTSCALE_IMDS_URL/latest/"*)
        f="$SANDBOX/imds/${url#"$SMARTSCALE_IMDS_URL/latest/"}"
        [ -f "$f" ] || exit 22
        cat "$f" ;;
    */install.sh)
        [ -n "$out" ] || exit 2
        cp "$SANDBOX/fake-installer" "$out" ;;
    *) exit 6 ;;
esac
STUB

    cat >"$sb/fake-installer" <<'STUB'
#!/bin/sh
# The K3s installer stand-in: records what it was given, "starts" the unit if told to.
token_sha=none
[ -n "${K3S_TOKEN:-}" ] && token_sha=$(printf '%s' "$K3S_TOKEN" | sha256sum | cut -d' ' -f1)
echo "installer $* | K3S_URL=${K3S_URL:-} INSTALL_K3S_VERSION=${INSTALL_K3S_VERSION:-} K3S_TOKEN_SHA256=$token_sha" >>"$SANDBOX/calls.log"
echo "[INFO]  Using $INSTALL_K3S_VERSION as release"
unit=k3s-agent
[ "$1" = server ] && unit=k3s
if [ "$1" = server ]; then
    mkdir -p "$SMARTSCALE_K3S_DATA_DIR/server"
    cp "$SANDBOX/k3s-token" "$SMARTSCALE_K3S_DATA_DIR/server/token"
fi
[ -f "$SANDBOX/installer-activates" ] && touch "$SANDBOX/active/$unit"
exit 0
STUB

    cat >"$sb/bin/aws" <<'STUB'
#!/bin/bash
echo "aws $*" >>"$SANDBOX/calls.log"
service=$1 op=$2; shift 2
secret_id="" secret_string=""
while [ $# -gt 0 ]; do
    case "$1" in
        --secret-id) secret_id=$2; shift 2 ;;
        --secret-string) secret_string=$2; shift 2 ;;
        *) shift ;;
    esac
done
key=${secret_id//\//_}
case "$service $op" in
    "ec2 describe-instances")
        [ -f "$SANDBOX/master-ips" ] && cat "$SANDBOX/master-ips"
        exit 0 ;;
    "secretsmanager get-secret-value")
        if [ -f "$SANDBOX/secrets/$key" ]; then cat "$SANDBOX/secrets/$key"; echo; exit 0; fi
        echo "An error occurred (ResourceNotFoundException) when calling the GetSecretValue operation: Secrets Manager can't find the specified secret value for staging label: AWSCURRENT" >&2
        exit 254 ;;
    "secretsmanager put-secret-value")
        case "$secret_string" in
            file://*) cp "${secret_string#file://}" "$SANDBOX/put/$key" ;;
            *) echo "stub aws: a secret on the command line" >&2; cp /dev/null "$SANDBOX/put/ARGV-$key"; exit 1 ;;
        esac
        echo "version-1" ;;
    *) echo "stub aws: unexpected call $service $op" >&2; exit 2 ;;
esac
STUB

    cat >"$sb/bin/systemctl" <<'STUB'
#!/bin/bash
echo "systemctl $*" >>"$SANDBOX/calls.log"
case "$1" in
    is-active) unit=${*: -1}; [ -f "$SANDBOX/active/$unit" ] && exit 0; exit 3 ;;
    status) echo "${*: -1}.service - inactive (dead)"; exit 3 ;;
    *) exit 0 ;;
esac
STUB

    cat >"$sb/bin/k3s" <<'STUB'
#!/bin/bash
# `k3s kubectl`: the calls the master bootstrap makes, answered from fixtures.
echo "k3s $*" >>"$SANDBOX/calls.log"
[ "$1" = kubectl ] || exit 2
shift
n=$(find "$SANDBOX/applied" -type f | wc -l)
case "$*" in
    "get --raw=/readyz") echo ok ;;
    "apply -f -") cat >"$SANDBOX/applied/$n-stdin.yaml"; echo "applied" ;;
    "apply -f "*) cp "$3" "$SANDBOX/applied/$n-file.yaml"; echo "applied" ;;
    *"get secret smartscale-controller-token -o jsonpath={.data.token}")
        [ -f "$SANDBOX/sa-token" ] && base64 -w0 <"$SANDBOX/sa-token" ;;
    *"get secret smartscale-controller-token -o jsonpath={.data.ca\\.crt}") printf 'Q0EtREFUQQ==' ;;
    "create namespace monitoring --dry-run=client -o yaml") printf 'kind: Namespace\nname: monitoring\n' ;;
    *"create configmap "*)
        printf 'kind: ConfigMap\n'
        for arg in "$@"; do
            case "$arg" in
                --from-literal=*) kv=${arg#--from-literal=}; printf '%s: %s\n' "${kv%%=*}" "${kv#*=}" ;;
                -n | monitoring | create | configmap | --dry-run=client | -o | yaml) ;;
                *) printf 'name: %s\n' "$arg" ;;
            esac
        done ;;
    *"create secret generic "*)
        printf 'kind: Secret\n'
        for arg in "$@"; do
            case "$arg" in
                --from-file=*) kv=${arg#--from-file=}; printf '%s: %s\n' "${kv%%=*}" "$(base64 -w0 <"${kv#*=}")" ;;
                -n | monitoring | create | secret | generic | --dry-run=client | -o | yaml) ;;
                *) printf 'name: %s\n' "$arg" ;;
            esac
        done ;;
    *) echo "stub k3s: unexpected kubectl $*" >&2; exit 2 ;;
esac
STUB

    cat >"$sb/bin/htpasswd" <<'STUB'
#!/bin/bash
# htpasswd -niBC 10 USER: the password on stdin, a stand-in bcrypt line out.
echo "htpasswd $*" >>"$SANDBOX/calls.log"
[ "$1" = -niBC ] || exit 2
printf '%s:$2y$10$stubhash%s\n' "$3" "$(sha256sum | cut -c1-20)"
STUB
    chmod +x "$sb"/bin/* "$sb/fake-installer"
}

# run_userdata SANDBOX SCRIPT: runs SCRIPT as the instance would, stdout/stderr kept in the sandbox.
run_userdata() {
    local sb=$1 script=$2
    SANDBOX="$sb" PATH="$sb/bin:$PATH" \
        SMARTSCALE_CLUSTER_ID=prod SMARTSCALE_REGION=us-east-1 SMARTSCALE_K3S_VERSION=v1.31.4+k3s1 \
        SMARTSCALE_FAST_PATH_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:smartscale-prod-FastPathTopic-AbC123 \
        SMARTSCALE_IMDS_URL=http://imds.test SMARTSCALE_STATE_DIR="$sb/state" SMARTSCALE_LOG_FILE="$sb/userdata.log" \
        SMARTSCALE_K3S_DATA_DIR="$sb/k3s-data" SMARTSCALE_ATTEMPTS=2 SMARTSCALE_RETRY_DELAY_S=0 \
        bash "$script" >>"$sb/stdout" 2>>"$sb/stderr"
}

# nowhere_printed SANDBOX SECRET: SECRET is in none of the outputs, logs or stub call logs.
nowhere_printed() {
    local sb=$1 secret=$2
    ! grep -rqF -- "$secret" "$sb/stdout" "$sb/stderr" "$sb/userdata.log" "$sb/calls.log"
}
