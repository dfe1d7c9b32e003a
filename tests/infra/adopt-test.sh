#!/usr/bin/env bash
# SC2016: `bash -c '...' _ ARGS` checks expand their arguments inside, on purpose.
# shellcheck disable=SC2016
# scripts/adopt against moto_server: a cluster of 5 untagged workers, its master and another
# cluster's worker. Needs MOTO_SERVER and AWS_CLI_BIN_DIR (scripts/check-infra sets them).
# Prints one line per check and, last, "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${MOTO_SERVER:?MOTO_SERVER (path of moto_server) is required}"
: "${AWS_CLI_BIN_DIR:?AWS_CLI_BIN_DIR (directory of the pinned aws CLI) is required}"
passed=0 failed=0
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
"$MOTO_SERVER" -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null; wait "$moto_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
export PATH="$AWS_CLI_BIN_DIR:$PATH" AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-central-1
unset AWS_PROFILE AWS_SESSION_TOKEN
for _ in $(seq 1 100); do
    curl -sf "$AWS_ENDPOINT_URL/moto-api/" >/dev/null 2>&1 && break
    kill -0 "$moto_pid" 2>/dev/null || { cat "$tmp/moto.log"; echo "0 passed, 1 failed"; exit 1; }
    sleep 0.2
done

check() {
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok - adopt: $name"
    else failed=$((failed + 1)); echo "FAILED - adopt: $name"; fi
}
has() { grep -qF -- "$2" <<<"$1"; }
run() { aws ec2 run-instances --image-id ami-12c6146b --instance-type t3.small --count "$1" \
    --tag-specifications "ResourceType=instance,Tags=[$2]" "${@:3}" --query 'Instances[].InstanceId' --output text; }
count_managed() {
    aws ec2 describe-instances --filters Name=tag:ManagedBy,Values=Lambda Name=tag:Cluster,Values=prod \
        --query 'length(Reservations[].Instances[])' --output text
}
adopt() { "$root/scripts/adopt" --cluster-id prod --region eu-central-1 "$@" 2>&1; }

# A stub kubectl: `get nodes -o json` answers the cluster's Nodes (stock K3s: providerID
# k3s://, InternalIP = the instance's private IP), `label node` records the call and updates them.
mkdir -p "$tmp/bin"
cat >"$tmp/bin/kubectl" <<'STUB'
#!/usr/bin/env python3
import json, os, sys
state = os.environ["KUBECTL_STUB_NODES"]
args = sys.argv[1:]
nodes = json.load(open(state))
if args[:2] == ["get", "nodes"]:
    print(json.dumps({"items": nodes}))
elif args[:2] == ["label", "node"]:
    with open(state + ".calls", "a") as log:
        log.write(" ".join(args) + "\n")
    key, value = args[3].split("=", 1)
    for n in nodes:
        if n["metadata"]["name"] == args[2]:
            n["metadata"].setdefault("labels", {})[key] = value
    json.dump(nodes, open(state, "w"))
else:
    sys.exit(f"kubectl stub: unexpected {args}")
STUB
chmod +x "$tmp/bin/kubectl"
export PATH="$tmp/bin:$PATH" KUBECTL_STUB_NODES="$tmp/nodes.json"

workers=$(run 4 '{Key=Name,Value=k3s-worker}')
read -ra worker_ids <<<"$workers"
spot_worker=$(run 1 '{Key=Name,Value=k3s-worker}' --instance-market-options 'MarketType=spot')
master=$(run 1 '{Key=Name,Value=k3s-master},{Key=Role,Value=k3s-master},{Key=Cluster,Value=prod}')
other=$(run 1 '{Key=Name,Value=staging-worker},{Key=Cluster,Value=staging}')
select=(--filter "Name=tag:Name,Values=k3s-worker")
# Every worker but the Spot one has joined (the Spot one shows how an unjoined worker is told).
aws ec2 describe-instances --instance-ids "${worker_ids[@]}" --query 'Reservations[].Instances[].[InstanceId,PrivateIpAddress]' \
    --output text | python3 -c '
import json, sys
nodes = [{"metadata": {"name": f"worker-{i}", "labels": {}}, "spec": {"providerID": f"k3s://worker-{i}"},
          "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}
         for i, (iid, ip) in enumerate(line.split() for line in sys.stdin if line.strip())]
json.dump(nodes, open(sys.argv[1], "w"))' "$tmp/nodes.json"

out=$(adopt "${select[@]}"); rc=$?
check "dry run exits 0" test "$rc" = 0
check "dry run lists the 5 workers it would tag" test "$(grep -c '^would tag: i-' <<<"$out")" = 5
check "dry run says nothing was tagged" has "$out" "dry run, nothing tagged. 5 worker(s) would be adopted"
check "dry run tags nothing" test "$(count_managed)" = 0

out=$(adopt --apply --filter Name=tag:Name,Values=k3s-worker,staging-worker); rc=$?
check "another cluster's worker is refused" test "$rc" != 0
check "... naming it and its cluster" has "$out" "$other belongs to cluster 'staging'"
check "... and nothing is tagged" test "$(count_managed)" = 0

out=$(adopt --apply --instance-ids "$(echo "$workers" | tr '\t' ','),$master"); rc=$?
check "the master is refused" test "$rc" != 0
check "... by name" has "$out" "$master is the master (Role=k3s-master)"
check "... and nothing is tagged" test "$(count_managed)" = 0

out=$(adopt --apply); rc=$?
check "no selection is refused" test "$rc" != 0
out=$(adopt --apply --filter Name=tag:Name,Values=nothing-by-this-name); rc=$?
check "an empty selection is refused" bash -c '[ "$1" != 0 ] && grep -qF "matches no pending or running instance" <<<"$2"' _ "$rc" "$out"

out=$(adopt --apply --environment staging-eu "${select[@]}"); rc=$?
check "apply exits 0" test "$rc" = 0
for id in "${worker_ids[@]}" "$spot_worker"; do
    check "apply says it tagged $id" has "$out" "tagged: $id"
done
check "the 5 workers are now managed for cluster prod" test "$(count_managed)" = 5
tags=$(aws ec2 describe-instances --instance-ids "${worker_ids[@]}" --query 'Reservations[].Instances[].Tags[]' --output json)
for kv in Project=SmartScale ScalingGroup=k3s-workers Lifecycle=on-demand Environment=staging-eu; do
    n=$(python3 -c 'import json,sys; k,v=sys.argv[1].split("="); print(sum(1 for t in json.load(sys.stdin) if t["Key"]==k and t["Value"]==v))' "$kv" <<<"$tags")
    check "the 4 On-Demand workers carry $kv" test "$n" = 4
done
spot_lifecycle=$(aws ec2 describe-instances --instance-ids "$spot_worker" --query 'Reservations[].Instances[].Tags[?Key==`Lifecycle`].Value[]' --output text)
check "the Spot worker is tagged Lifecycle=spot" test "$spot_lifecycle" = spot
master_tags=$(aws ec2 describe-instances --instance-ids "$master" --query 'Reservations[].Instances[].Tags[?Key==`ManagedBy`].Value[]' --output text)
check "the master is still unmanaged" test -z "$master_tags"
check "the 4 joined workers' Nodes are labelled with their instance ids" \
    test "$(grep -c '^label node worker-[0-9] smartscale.io/instance-id=i-' "$tmp/nodes.json.calls")" = 4
for id in "${worker_ids[@]}"; do
    check "a Node carries smartscale.io/instance-id=$id" grep -qF "\"smartscale.io/instance-id\": \"$id\"" "$tmp/nodes.json"
done
check "the unjoined Spot worker is named, with the command to label it" has "$out" "warning: $spot_worker has no Node"

out=$(adopt --apply --environment staging-eu "${select[@]}"); rc=$?
check "a second apply exits 0" test "$rc" = 0
check "... and has nothing to do" has "$out" "already carry cluster prod's tags; nothing to do"
check "... and labels no node again" test "$(wc -l <"$tmp/nodes.json.calls")" = 4
out=$(adopt --environment staging-eu "${select[@]}")
check "a dry run labels nothing" test "$(wc -l <"$tmp/nodes.json.calls")" = 4

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
