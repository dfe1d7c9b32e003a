# shellcheck shell=bash
# Sourced by scripts/test, scripts/check-predictive and scripts/check-cost-observed, which set
# `cache` (their .cache directory): installs and starts the local stand-ins for
# AWS (moto_server) and Prometheus (Debian's, with the synthetic backfill), installs Debian's
# chromium for the report's render test, exports their URLs and paths,
# and stops them on exit. Fails loudly when one cannot start: skipping is not passing.

: "${cache:?scripts/stand-ins.sh: the sourcing script sets cache, its .cache directory}"

MOTO_VERSION=5.2.5
MOTO_EXTRAS="server,ec2,dynamodb,sqs,sns,secretsmanager"

log() { echo "stand-ins: $*" >&2; }

# shellcheck source=scripts/debian.sh
source "$(dirname "${BASH_SOURCE[0]}")/debian.sh"

install_prometheus() {
    if command -v prometheus >/dev/null && command -v promtool >/dev/null; then return; fi
    apt_install prometheus
    # The package may start its own service; ours runs on its own port and data directory.
}

# Headless Chromium renders the simulator's HTML report in its test.
install_chromium() {
    if ! command -v chromium >/dev/null; then
        apt_install chromium
    fi
    export SMARTSCALE_TEST_CHROMIUM
    SMARTSCALE_TEST_CHROMIUM=$(command -v chromium)
}

install_moto() {
    moto_venv="$cache/moto-venv-$MOTO_VERSION"
    if [ -x "$moto_venv/bin/moto_server" ]; then return; fi
    log "installing moto $MOTO_VERSION into $moto_venv"
    rm -rf "$moto_venv"
    python3 -m venv "$moto_venv"
    "$moto_venv/bin/pip" install -q --disable-pip-version-check "moto[$MOTO_EXTRAS]==$MOTO_VERSION"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for URL PID NAME LOG: polls until URL answers 200, or fails with the log's tail.
wait_for() {
    local url=$1 pid=$2 name=$3 logfile=$4
    for _ in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited during start-up:"; tail -n 30 "$logfile" >&2; return 1
        fi
        if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    log "$name did not answer at $url within 20 s:"; tail -n 30 "$logfile" >&2; return 1
}

stop_stand_ins() {
    if [ -n "${moto_pid:-}" ]; then kill "$moto_pid" 2>/dev/null || true; fi
    if [ -n "${prometheus_pid:-}" ]; then kill "$prometheus_pid" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    [ -n "${run_dir:-}" ] && rm -rf "$run_dir"
}

# start_stand_ins TESTBED_BIN: the testbed binary prints the synthetic backfill.
start_stand_ins() {
    local testbed=$1
    install_prometheus
    install_moto
    install_chromium
    run_dir=$(mktemp -d)
    trap stop_stand_ins EXIT

    local moto_port prometheus_port
    moto_port=$(free_port)
    "$moto_venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$run_dir/moto.log" 2>&1 &
    moto_pid=$!
    wait_for "http://127.0.0.1:$moto_port/moto-api/" "$moto_pid" moto_server "$run_dir/moto.log"

    "$testbed" openmetrics >"$run_dir/backfill.om"
    promtool tsdb create-blocks-from openmetrics "$run_dir/backfill.om" "$run_dir/prometheus-data" >"$run_dir/promtool.log" 2>&1 \
        || { log "promtool backfill failed:"; tail -n 30 "$run_dir/promtool.log" >&2; return 1; }
    printf 'global:\n  scrape_interval: 1m\nscrape_configs: []\n' >"$run_dir/prometheus.yml"
    prometheus_port=$(free_port)
    prometheus --config.file="$run_dir/prometheus.yml" --storage.tsdb.path="$run_dir/prometheus-data" \
        --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$prometheus_port" >"$run_dir/prometheus.log" 2>&1 &
    prometheus_pid=$!
    wait_for "http://127.0.0.1:$prometheus_port/-/ready" "$prometheus_pid" prometheus "$run_dir/prometheus.log"

    export SMARTSCALE_TEST_MOTO_URL="http://127.0.0.1:$moto_port"
    export SMARTSCALE_TEST_PROMETHEUS_URL="http://127.0.0.1:$prometheus_port"
    log "moto_server $MOTO_VERSION at $SMARTSCALE_TEST_MOTO_URL, prometheus at $SMARTSCALE_TEST_PROMETHEUS_URL"
}
