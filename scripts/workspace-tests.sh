# shellcheck shell=bash
# Sourced by the check scripts: build the workspace once and run its test binaries by name.
#
# Why not `cargo test -p X` or `cargo build -p X`: cargo resolves features for the packages a
# command selects, so each different selection (`-p smartscale`, `-p smartscale-aws`, a build
# without --all-targets) compiled its own copy of aws-sdk-ec2 and everything under it, about
# 800 MB each. Six copies filled CI's disk. Every check now uses the one build scripts/test makes
# first (`--workspace --all-features --all-targets`) and runs the test binaries it produced.
# Doc tests are left to the final `cargo test --workspace` in scripts/test.

_workspace_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The index of test binaries, made at the first use in this script and shared with the
# subshells (`out=$(workspace_test …)`) that use it after: they see the file, not a variable.
_workspace_tests="${CARGO_TARGET_DIR:-$_workspace_root/target}/workspace-tests.index"
rm -f "$_workspace_tests"

# build_workspace: the one build every check shares (a no-op when scripts/test has already run it).
build_workspace() {
    (cd "$_workspace_root" && cargo build --workspace --all-features --all-targets --locked -q)
}

# The test binaries of that build, one "package kind name manifest_dir executable" line each.
_workspace_test_index() {
    [ -s "$_workspace_tests" ] && return
    mkdir -p "$(dirname "$_workspace_tests")"
    if ! (cd "$_workspace_root" && cargo test --workspace --all-features --locked --no-run --message-format=json \
        2>"$_workspace_tests.log") >"$_workspace_tests.json"; then
        echo "workspace-tests: cargo test --no-run failed:" >&2
        tail -n 20 "$_workspace_tests.log" >&2
        return 1
    fi
    python3 -c '
import json, os, sys
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("profile", {}).get("test") or not m.get("executable"):
        continue
    t = m["target"]
    # "path+file:///…/crates/cli#smartscale@0.1.0", or "…/crates/foo#0.1.0" when the directory gives the name
    source, _, tail = m["package_id"].partition("#")
    package = tail.split("@")[0] if "@" in tail else os.path.basename(source)
    kind = "lib" if t["kind"][0] in ("lib", "rlib", "cdylib", "staticlib", "proc-macro") else t["kind"][0]
    print(package, kind, t["name"], os.path.dirname(m["manifest_path"]), m["executable"])
' "$_workspace_tests.json" >"$_workspace_tests"
    rm -f "$_workspace_tests.json" "$_workspace_tests.log"
    [ -s "$_workspace_tests" ] || { echo "workspace-tests: cargo test --no-run listed no test binaries" >&2; return 1; }
}

# run_test_binary PACKAGE KIND NAME [ARGS...]: run one test binary (KIND lib, bin or test; NAME
# '*' for the package's one lib) with the test harness's ARGS (filters, -q, --include-ignored),
# from the package's directory as `cargo test` does.
run_test_binary() {
    local package=$1 kind=$2 name=$3 line dir exe
    shift 3
    _workspace_test_index || return 1
    line=$(awk -v p="$package" -v k="$kind" -v n="$name" '$1 == p && $2 == k && ($3 == n || n == "*")' "$_workspace_tests" | head -n 1)
    [ -n "$line" ] || { echo "workspace-tests: no $kind test target '$name' in package $package" >&2; return 1; }
    dir=$(echo "$line" | awk '{print $4}')
    exe=$(echo "$line" | awk '{print $5}')
    echo "     Running $kind $name of $package ($exe)"
    (cd "$dir" && CARGO_MANIFEST_DIR="$dir" CARGO_PKG_NAME="$package" "$exe" "$@")
}

# run_package_tests PACKAGE [ARGS...]: every test binary of one package, like `cargo test -p`.
run_package_tests() {
    local package=$1 rc=0 kind name
    shift
    _workspace_test_index || return 1
    grep -q "^$package " "$_workspace_tests" ||
        { echo "workspace-tests: package $package has no test binaries" >&2; return 1; }
    while read -r kind name; do
        run_test_binary "$package" "$kind" "$name" "$@" || rc=$?
    done < <(awk -v p="$package" '$1 == p { print $2, $3 }' "$_workspace_tests")
    return "$rc"
}

# workspace_test ARGS...: `cargo test`'s own arguments for one package, run on the shared build:
#   -p PACKAGE [--lib] [--test NAME]... [--bin NAME]... [FILTER...] [-- HARNESS-ARGS...]
# With no target flag it runs every test binary of the package. --all-features, --locked and
# --no-fail-fast are accepted and implied; anything else is refused, naming it.
workspace_test() {
    local package="" targets=() harness=() target kind name rc=0
    while [ $# -gt 0 ]; do
        case $1 in
            -p | --package) package=$2; shift 2 ;;
            --lib) targets+=("lib *"); shift ;;
            --test | --bin) targets+=("${1#--} $2"); shift 2 ;;
            -q | --quiet) harness+=(-q); shift ;;
            --all-features | --locked | --no-fail-fast) shift ;;
            --) shift; harness+=("$@"); break ;;
            -*) echo "workspace_test: unsupported cargo test flag '$1'" >&2; return 2 ;;
            *) harness+=("$1"); shift ;;
        esac
    done
    [ -n "$package" ] || { echo "workspace_test: -p PACKAGE is required" >&2; return 2; }
    if [ "${#targets[@]}" -eq 0 ]; then
        run_package_tests "$package" "${harness[@]}"
        return
    fi
    for target in "${targets[@]}"; do
        read -r kind name <<<"$target"
        run_test_binary "$package" "$kind" "$name" "${harness[@]}" || rc=$?
    done
    return "$rc"
}
