#!/usr/bin/env bash
# SC2016: `bash -c '...' _ ARGS` checks expand their arguments inside, on purpose.
# shellcheck disable=SC2016
# scripts/deploy's refusals and its --check plan (no build, no AWS). Prints one line per check
# and, last, "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
deploy="$root/scripts/deploy"
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect NAME WANT_RC NEEDLE CONFIG_TEXT: runs deploy --check on the config; checks the exit
# code is WANT_RC (0 or "fail") and the output contains NEEDLE.
expect() {
    local name=$1 want=$2 needle=$3 config="$tmp/$1.toml" out rc
    printf '%s\n' "$4" >"$config"
    out=$("$deploy" --check --config-file "$config" 2>&1); rc=$?
    if { [ "$want" = 0 ] && [ "$rc" = 0 ]; } || { [ "$want" = fail ] && [ "$rc" != 0 ]; }; then
        if grep -qF -- "$needle" <<<"$out"; then
            passed=$((passed + 1)); echo "ok - deploy: $name"; return
        fi
    fi
    failed=$((failed + 1)); echo "FAILED - deploy: $name (rc=$rc): $out"
}

head='version = 0.1
[default.deploy.parameters]
stack_name = "smartscale-prod"
region = "eu-central-1"
resolve_s3 = true
capabilities = "CAPABILITY_IAM"'
complete="$head"'
parameter_overrides = ["ClusterId=prod", "AlarmEmail=oncall@example.com", "SlackWebhookSecretId=prod/slack-webhook"]'

expect "complete config passes --check" 0 "is complete for stack smartscale-prod" "$complete"
expect "--check prints the arm64 cargo-lambda build of the five Lambdas" 0 \
    "cargo lambda build --release --arm64 --locked -p smartscale-decider -p smartscale-scale-up-worker -p smartscale-drain-worker -p smartscale-spot-handler -p smartscale-slack-forwarder -p smartscale-cost-report" "$complete"
expect "--check prints sam deploy with the config file" 0 "sam deploy --template-file $root/infra/template.yaml --config-file $tmp/" "$complete"
expect "string parameter_overrides form" 0 "is complete" "$head"'
parameter_overrides = "ClusterId=prod AlarmEmail=oncall@example.com SlackWebhookSecretId=prod/slack"'
expect "missing ClusterId is named" fail "required parameter ClusterId is missing" "$head"'
parameter_overrides = ["AlarmEmail=oncall@example.com", "SlackWebhookSecretId=prod/slack"]'
expect "missing AlarmEmail is named" fail "required parameter AlarmEmail is missing" "$head"'
parameter_overrides = ["ClusterId=prod", "SlackWebhookSecretId=prod/slack"]'
expect "empty value counts as missing" fail "required parameter SlackWebhookSecretId is missing" "$head"'
parameter_overrides = ["ClusterId=prod", "AlarmEmail=a@b.co", "SlackWebhookSecretId="]'
expect "own network needs VpcId" fail "required parameter VpcId is missing from parameter_overrides (CreateNetwork=false" "$head"'
parameter_overrides = ["ClusterId=prod", "AlarmEmail=a@b.co", "SlackWebhookSecretId=s", "CreateNetwork=false"]'
expect "own network with a master needs its security group" fail "required parameter MasterSecurityGroupId is missing" "$head"'
parameter_overrides = ["ClusterId=prod", "AlarmEmail=a@b.co", "SlackWebhookSecretId=s", "CreateNetwork=false", "VpcId=vpc-0123456789abcdef0", "LambdaSubnetIds=subnet-01234567", "WorkerSubnets=subnet-01234567:eu-central-1a", "LambdaSecurityGroupId=sg-01234567", "WorkerSecurityGroupId=sg-01234568"]'
expect "own master needs PrometheusUrl" fail "required parameter PrometheusUrl is missing" "$head"'
parameter_overrides = ["ClusterId=prod", "AlarmEmail=a@b.co", "SlackWebhookSecretId=s", "CreateMaster=false"]'
expect "placeholder is refused, named" fail "parameter ClusterId is still the placeholder" "$head"'
parameter_overrides = ["ClusterId=REPLACE_ME", "AlarmEmail=a@b.co", "SlackWebhookSecretId=s"]'
expect "unknown parameter (typo) is refused, named" fail "parameter MaxNode is not a parameter of infra/template.yaml" "$head"'
parameter_overrides = ["ClusterId=prod", "AlarmEmail=a@b.co", "SlackWebhookSecretId=s", "MaxNode=5"]'
expect "missing region is refused" fail "region is missing" "$(grep -v '^region' <<<"$complete")"
expect "missing CAPABILITY_IAM is refused" fail "capabilities must include CAPABILITY_IAM" "$(grep -v '^capabilities' <<<"$complete")"
expect "wrong environment table is refused" fail "no [default.deploy.parameters] table" 'version = 0.1
[prod.deploy.parameters]
stack_name = "x"'
expect "the example config is refused until filled in" fail "is still the placeholder" "$(cat "$root/infra/samconfig.example.toml")"
expect "the example config, filled in, passes" 0 "is complete for stack smartscale-prod" "$(sed \
    -e 's/smartscale-REPLACE_ME/smartscale-prod/' -e 's/region = "REPLACE_ME"/region = "eu-central-1"/' \
    -e 's/ClusterId=REPLACE_ME/ClusterId=prod/' -e 's/AlarmEmail=REPLACE_ME/AlarmEmail=oncall@example.com/' \
    -e 's/SlackWebhookSecretId=REPLACE_ME/SlackWebhookSecretId=prod\/slack-webhook/' "$root/infra/samconfig.example.toml")"

out=$("$deploy" --check --config-file "$tmp/does-not-exist.toml" 2>&1); rc=$?
if [ "$rc" != 0 ] && grep -qF "copy infra/samconfig.example.toml" <<<"$out"; then
    passed=$((passed + 1)); echo "ok - deploy: a missing config file is refused with what to do"
else
    failed=$((failed + 1)); echo "FAILED - deploy: missing config file (rc=$rc): $out"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
