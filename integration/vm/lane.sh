#!/bin/bash
# The cgroup VM lanes: the integration suite's cgroup tests against pure cgroup v2 (or, with
# --layout v1, pure cgroup v1), in ONE VM.
#
# usage: integration/vm/lane.sh [--layout v2|v1] [FILTER...]        (default filter: cgroup)
#
# Everything is built on the host first (rt, the integration test binary, the test rootfs:
# compiling under emulation is hopeless); then integration/vm/run.sh boots one VM and runs the
# already-built test binary there, in the guest's root cgroup, with the filter. The rig makes
# its run cgroup below that (and sits in a leaf of it, for v2's no-internal-processes rule);
# rt enables the controllers it needs in cgroup.subtree_control on the way down.
#
# Environment:
#   RT_V2_THREADS   parallel tests in the guest (default 2: the guest has 2 CPUs)
#   RT_V2_TIMEOUT   limit for boot + tests in seconds (default 900)
#   RT_TEST_RUNTIME another runtime binary (e.g. target/release/rt), passed to the guest
#   RT_VM_*         see integration/vm/run.sh (memory, cpus, kernel, venv)
# Output: the test run's output; the last line gives the lane's wall time. A copy of the
# guest's output is in target/vm/<layout>-lane.log. Exit status: the test binary's (0 = all passed),
# or run.sh's 124 (timeout) / 125 (the lane itself failed).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 125
[ "$(id -u)" = 0 ] || { echo "lane: run as root" >&2; exit 125; }
layout=v2
case ${1:-} in
--layout) layout=${2:?--layout needs v1 or v2}; shift 2 ;;
--layout=*) layout=${1#*=}; shift ;;
esac
filters=("$@")
[ ${#filters[@]} -gt 0 ] || filters=(cgroup)
t0=$(date +%s)

say() { echo "lane ($layout): $*" >&2; }

# --- on the host: the VM tools, the rootfs, the binaries -----------------------------------------
"$here/install.sh" || exit 125
make -s rootfs >/dev/null || { say "make rootfs failed"; exit 125; }
# The test binary's path, from cargo's own report (it also builds the rt binary the tests run).
bin=$(cargo test --test integration --no-run --message-format=json 2>/dev/null |
    jq -r 'select(.reason == "compiler-artifact" and .target.name == "integration" and .executable != null) | .executable' |
    tail -n1)
[ -n "$bin" ] && [ -x "$bin" ] || { say "building the integration tests failed:"; cargo test --test integration --no-run >&2; exit 125; }
built=$(date +%s)
say "built in $((built - t0))s: $bin"

# --- in the guest: the tests ---------------------------------------------------------------------
envs=(--env RT_TEST_TMPDIR=/run/rt-v2-lane --env RUST_BACKTRACE=1)
[ -n "${RT_TEST_RUNTIME:-}" ] && envs+=(--env "RT_TEST_RUNTIME=$(readlink -f "$RT_TEST_RUNTIME")")
mkdir -p target/vm
"$here/run.sh" --layout "$layout" --timeout "${RT_V2_TIMEOUT:-900}" --log "$repo/target/vm/$layout-lane.log" "${envs[@]}" -- \
    "$bin" --test-threads "${RT_V2_THREADS:-2}" "${filters[@]}"
rc=$?
say "exit status $rc; wall time $(($(date +%s) - t0))s (build $((built - t0))s, VM $(($(date +%s) - built))s)"
exit "$rc"
