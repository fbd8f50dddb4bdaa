#!/bin/bash
# The OCI runtime-tools validation suite against a runtime (issue 13): `make conformance`.
#
# usage: integration/conformance/run.sh RUNTIME [NAME]
#
#   RUNTIME  path of the runtime binary (runc-compatible CLI with a global --root)
#   NAME     results name (default: basename of RUNTIME)
#
# The suite is not part of this repository and this script does not build it: point
# RUNTIME_TOOLS_DIR at a checkout of github.com/opencontainers/runtime-tools in which
# `make runtimetest validation-executables` has been run (integration/conformance/README.md).
# Every validation/*/*.t file runs on its own, sequentially, under cgroup-sandbox (the suite uses
# absolute cgroup paths), with cwd = a suite dir holding runtimetest and rootfs-amd64.tar.gz
# (busybox, made by rootfs.sh), RUNTIME= a wrapper that adds `--root $STATE` (so /run/runc,
# /run/crun, /run/rt are never touched), TMPDIR= a fresh directory (bundles land there), and a
# timeout. Raw TAP (stdout) -> RESULTS/NAME/<file>.tap, stderr -> .err, table ->
# RESULTS/NAME/summary.txt (also printed).
#
# Env:
#   RUNTIME_TOOLS_DIR  the built runtime-tools checkout (required)
#   CGROUP_SANDBOX     the sandbox tool (default ../shared/tools/cgroup-sandbox next to the repo)
#   RESULTS            default <repo>/build/conformance
#   CONFORMANCE_WORK   where the state dirs and bundles go (default RESULTS/work; it must take
#                      fifos: not 9p, so a tmpfs in the VM lanes)
#   TIMEOUT=600        seconds per file
#   HIDE_UNIFIED=1     hide /sys/fs/cgroup/unified (tmpfs over it, in a private mount ns) — crun
#                      1.8.1 refuses the hybrid layout otherwise. Default: 1 if NAME is crun*.
#   ONLY="a b"         run only these test names (e.g. ONLY="hooks linux_uid_mappings")
#   COUNT_ONLY=1       do not run anything: recount and reprint the table from RESULTS/NAME
#
# Counting: every line of a file's TAP output that starts with "ok" or "not ok" is one assertion.
# "ok ... # SKIP" counts as skipped, "... # TODO" as todo, other "ok" as passed, other "not ok"
# as failed. A file with no assertion at all counts as ONE failure if it could not run or reported
# an error: exit status != 0 (crash, util.Fatal, timeout) or a YAML "error" diagnostic (how the
# lifecycle/hook tests report failure). A file with no assertion, exit 0 and no error diagnostic
# counts 0/0 ("no assertions, clean"): that is how the hook tests ("1..0") and the *_fail tests
# (empty output) report success. Exit status != 0 next to assertions is noted ("exit says FAIL").
# Leftovers (runtime state in --root, bundles in TMPDIR) are noted, listed in
# RESULTS/NAME/leftovers.txt, and removed.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ $# -ge 1 ] || { sed -n '2,38p' "$0"; exit 2; }
[ "$(id -u)" = 0 ] || { echo "conformance: must run as root" >&2; exit 2; }
REAL=$(readlink -f "$(command -v "$1")") || { echo "conformance: $1 not found" >&2; exit 2; }
NAME=${2:-$(basename "$REAL")}
TIMEOUT=${TIMEOUT:-600}
RT_TOOLS=${RUNTIME_TOOLS_DIR:-}
[ -n "$RT_TOOLS" ] || { echo "conformance: set RUNTIME_TOOLS_DIR to a runtime-tools checkout built with 'make runtimetest validation-executables'" >&2; exit 2; }
RT_TOOLS=$(readlink -f "$RT_TOOLS")
TESTS=$RT_TOOLS/validation
[ -x "$RT_TOOLS/runtimetest" ] && compgen -G "$TESTS/*/*.t" >/dev/null ||
    { echo "conformance: $RT_TOOLS has no runtimetest or validation/*/*.t: run 'make runtimetest validation-executables' there first" >&2; exit 2; }
RESULTS=${RESULTS:-$repo/build/conformance}
SANDBOX=${CGROUP_SANDBOX:-$(readlink -f "$repo/../shared/tools/cgroup-sandbox")}
[ -x "$SANDBOX" ] || { echo "conformance: no cgroup-sandbox at $SANDBOX (set CGROUP_SANDBOX)" >&2; exit 2; }
case $NAME in crun*) HIDE_UNIFIED=${HIDE_UNIFIED:-1} ;; *) HIDE_UNIFIED=${HIDE_UNIFIED:-0} ;; esac
SUITE=$RESULTS/suite
if [ "${COUNT_ONLY:-0}" != 1 ]; then
    mkdir -p "$SUITE"
    install -m 755 "$RT_TOOLS/runtimetest" "$SUITE/runtimetest"
    [ -f "$SUITE/rootfs-amd64.tar.gz" ] || sh "$here/rootfs.sh" "$SUITE/rootfs-amd64.tar.gz" >&2 || exit 2
fi

OUT=$RESULTS/$NAME
WORK=${CONFORMANCE_WORK:-$RESULTS/work}/$NAME
STATE=$WORK/state
WRAP=$WORK/bin/$(basename "$REAL")
if [ "${COUNT_ONLY:-0}" != 1 ]; then
    rm -rf --one-file-system "$OUT" "$WORK"
    mkdir -p "$OUT" "$WORK/bin" "$STATE" "$WORK/tmp"
    printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$REAL" "$STATE" > "$WRAP"
    chmod 755 "$WRAP"
    : > "$OUT/leftovers.txt"
    {
        echo "# runtime: $REAL ($("$REAL" --version 2>&1 | head -1)); name: $NAME; hide unified: $HIDE_UNIFIED; timeout: ${TIMEOUT}s"
        echo "# date: $(date -u +%FT%TZ); suite: $TESTS"
    } > "$OUT/header.txt"
fi
[ -d "$OUT" ] || { echo "conformance: no results in $OUT" >&2; exit 2; }

# run one file: raw TAP -> $OUT/$base.tap, stderr -> .err, exit status -> .rc, seconds -> .secs
run_file() {
    local t=$1 base=$2 tmp=$WORK/tmp/$2 start rc d id st
    mkdir -p "$tmp"
    start=$(date +%s)
    (
        cd "$SUITE" || exit 99
        export RUNTIME=$WRAP TMPDIR=$tmp SANDBOX_TAG=conf-$NAME
        # Inside the sandbox: on a pure v2 host the sandbox root must hold no process to hand
        # controllers to the suite's cgroups (no-internal-processes rule), so the suite runs in
        # a leaf of its own and the root enables what it has.
        exec timeout -k 15 "$TIMEOUT" "$SANDBOX" unshare -m --propagation private -- sh -c '
            if [ "$0" = 1 ]; then
                mount -t tmpfs -o size=16k,mode=755 hide-unified /sys/fs/cgroup/unified || exit 94
            fi
            if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
                mkdir -p /sys/fs/cgroup/conformance-suite &&
                    echo $$ > /sys/fs/cgroup/conformance-suite/cgroup.procs || exit 95
                for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
                    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control
                done
            fi
            exec "$@"' "$HIDE_UNIFIED" "$t"
    ) > "$OUT/$base.tap" 2> "$OUT/$base.err" < /dev/null
    rc=$?
    echo "$rc" > "$OUT/$base.rc"
    echo $(( $(date +%s) - start )) > "$OUT/$base.secs"
    # leftovers: containers still in the runtime's --root, bundles still in TMPDIR
    : > "$OUT/$base.left"
    for d in "$STATE"/*/; do
        [ -d "$d" ] || continue
        id=$(basename "$d")
        st=$("$WRAP" state "$id" 2>&1 | tr -d '\n' | grep -o '"status": *"[a-z]*"')
        echo "$base: state $id ${st:-?}" >> "$OUT/leftovers.txt"; echo state >> "$OUT/$base.left"
        "$WRAP" delete --force "$id" >/dev/null 2>&1 || true
        [ -d "$d" ] && rm -rf --one-file-system "$d"
    done
    for d in "$tmp"/*; do
        [ -e "$d" ] || continue
        echo "$base: tmp $(basename "$d")" >> "$OUT/leftovers.txt"; echo tmp >> "$OUT/$base.left"
    done
    rm -rf --one-file-system "$tmp"
}

# count one file's results; prints "passed failed skipped_todo notes"
count_file() {
    local base=$1 rc secs p f s td plans n notes
    rc=$(cat "$OUT/$base.rc" 2>/dev/null || echo '?')
    secs=$(cat "$OUT/$base.secs" 2>/dev/null || echo '?')
    read -r p f s td plans < <(awk '
        /^ok/ || /^not ok/ {
            dir = tolower($0); sub(/^[^#]*/, "", dir)
            if (dir ~ /^# *skip/) s++
            else if (dir ~ /^# *todo/) td++
            else if (/^ok/) p++
            else f++
        }
        /^1\.\.[0-9]+/ { sub(/^1\.\./, ""); sub(/[^0-9].*/, ""); plans = plans (plans == "" ? "" : ",") $0 }
        END { printf "%d %d %d %d %s\n", p, f, s, td, (plans == "" ? "-" : plans) }' "$OUT/$base.tap")
    notes="rc=$rc ${secs}s"
    { [ "$rc" = 124 ] || [ "$rc" = 137 ]; } && notes="$notes TIMEOUT"
    n=$((p + f + s + td))
    if [ "$n" = 0 ]; then
        if [ "$rc" != 0 ] || grep -q '^ *"error":' "$OUT/$base.tap"; then
            f=1
            if grep -q '^ *"error":' "$OUT/$base.tap"; then
                notes="$notes FAIL(no assertions, error: $(grep -m1 '^ *"error":' "$OUT/$base.tap" | sed 's/^ *"error": *"//; s/\\n.*//; s/",*$//' | cut -c1-70))"
            else
                e=$(grep -m1 'level=error' "$OUT/$base.err" ||
                    awk '/^failed to (create|start|delete)/ {getline; print; exit}' "$OUT/$base.err" | grep . ||
                    grep -v '^$' "$OUT/$base.err" | tail -1)
                notes="$notes FAIL(no assertions: $(echo "$e" | sed 's/^time="[^"]*" level=error msg="//; s/"$//' | cut -c1-100))"
            fi
        else
            notes="$notes no assertions, clean (${plans/-/empty output})"
            w=$(grep -m1 WARNING "$OUT/$base.err")
            [ -n "$w" ] && notes="$notes; stderr: $w"
        fi
    else
        case ",$plans," in *",$n,"*) ;; *) notes="$notes plan=$plans got=$n" ;; esac
        [ "$rc" != 0 ] && [ "$f" = 0 ] && notes="$notes exit says FAIL: $(grep -v '^$' "$OUT/$base.err" | tail -1 | cut -c1-70)"
    fi
    [ "$td" -gt 0 ] && notes="$notes todo=$td"
    [ -s "$OUT/$base.left" ] && notes="$notes LEFTOVER($(sort "$OUT/$base.left" | uniq -c | awk '{printf "%s%s x%d", (NR>1?",":""), $2, $1}'))"
    echo "$p $f $((s + td)) $notes"
}

{
    cat "$OUT/header.txt"
    printf '%-32s %6s %6s %6s  %s\n' file passed failed skp/td notes
} | tee "$OUT/summary.txt"
TP=0 TF=0 TS=0 NFILES=0
for t in "$TESTS"/*/*.t; do
    base=$(basename "$t" .t)
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $base "* ]]; then continue; fi
    if [ "${COUNT_ONLY:-0}" != 1 ]; then
        run_file "$t" "$base"
    elif [ ! -f "$OUT/$base.tap" ]; then
        continue
    fi
    NFILES=$((NFILES + 1))
    read -r p f s notes < <(count_file "$base")
    TP=$((TP + p)); TF=$((TF + f)); TS=$((TS + s))
    printf '%-32s %6d %6d %6d  %s\n' "$base" "$p" "$f" "$s" "$notes" | tee -a "$OUT/summary.txt"
done
printf '%-32s %6d %6d %6d  %s\n' "TOTAL ($NFILES files)" "$TP" "$TF" "$TS" "(TAP assertions: passed / failed / skipped+todo)" | tee -a "$OUT/summary.txt"
if [ "${COUNT_ONLY:-0}" != 1 ]; then
    rmdir "$STATE" 2>/dev/null || echo "conformance: WARNING: $STATE not empty" >&2
    rm -rf "$WORK/tmp"
fi
