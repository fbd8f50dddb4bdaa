#!/usr/bin/env bash
# fuzz/run.sh [--build] RUNS [TARGET...]: each target (default: all) for RUNS executions, one
# job, one at a time; new inputs go to fuzz/corpus/TARGET (not committed), crashes to
# fuzz/artifacts/TARGET/. Prints one line per target: executions, seconds, corpus size, and
# fails (exit 1) on any crash, timeout (a hang: 10 s for one input) or out-of-memory (1 GiB).
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`); `--build` builds
# the targets first (without a sanitizer: rt's parsers are safe Rust, and panics, hangs and
# memory are what is looked for).
set -uo pipefail
cd "$(dirname "$0")"
if [ "${1:-}" = --build ]; then
    shift
    cargo +nightly fuzz build -s none -O >&2 || exit 2
fi
RUNS=${1:?usage: fuzz/run.sh [--build] RUNS [TARGET...]}
shift
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(config mount_options cgroup_resources signals update_resources exec_process state_json seccomp)
BIN=target/x86_64-unknown-linux-gnu/release
fail=0
for t in "${TARGETS[@]}"; do
    [ -x "$BIN/$t" ] || { echo "fuzz: $BIN/$t missing (run with --build)" >&2; exit 2; }
    mkdir -p "corpus/$t" "artifacts/$t" logs
    log="logs/$t.log"
    start=$(date +%s.%N)
    "$BIN/$t" "corpus/$t" "seeds/$t" -runs="$RUNS" -timeout=10 -rss_limit_mb=1024 -max_len=65536 \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
    rss=$(awk '/stat::peak_rss_mb/ {print $2}' "$log")
    printf '%-18s %12s executions %8.1f s  peak %4s MB  corpus %5s  exit %s\n' "$t" "${execs:-?}" "$secs" "${rss:-?}" "$(ls "corpus/$t" | wc -l)" "$rc"
    if [ $rc -ne 0 ] || ls "artifacts/$t" | grep -q .; then
        echo "fuzz: $t failed; see fuzz/$log and fuzz/artifacts/$t/" >&2
        grep -E "panicked|ERROR|SUMMARY" "$log" | head -5 >&2
        fail=1
    fi
done
exit $fail
