#!/bin/bash
# Proof of the cgroup v2 lane with a real runtime: a busybox container with a cgroupsPath, a 32M
# memory limit and a pids limit of 10; the limits are read back from the VM's side of
# /sys/fs/cgroup, shown to be enforced, and the cgroup is gone after delete. Run it in the VM:
#
#   integration/vm/run.sh -- integration/vm/smoke.sh
#
# RUNTIME=/path/to/runtime tries another runc-compatible runtime (default: runc).
# Ends with the line "smoke: N passed, M failed"; exit status 0 only if nothing failed.
set -uo pipefail

runtime=${RUNTIME:-runc}
if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
    echo "smoke: /sys/fs/cgroup is not cgroup v2: run me inside integration/vm/run.sh" >&2
    exit 2
fi
command -v "$runtime" >/dev/null || { echo "smoke: no runtime $runtime" >&2; exit 2; }

passed=0 failed=0 t0=$(date +%s.%N)
since() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%5.1fs", b - a}'; }
check() { # check DESCRIPTION EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        echo "ok   $(since) $1: $3"; passed=$((passed + 1))
    else
        echo "FAIL $(since) $1: expected '$2', got '$3'"; failed=$((failed + 1))
    fi
}

id=smoke-$$
cgpath=/rt-smoke-$$
cg=/sys/fs/cgroup$cgpath
work=$(mktemp -d /tmp/rt-smoke.XXXXXX)
bundle=$work/bundle
state=$work/state
rt() { "$runtime" --root "$state" "$@"; }
cleanup() {
    rt delete --force "$id" >/dev/null 2>&1
    rmdir "$cg" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# The bundle: a static busybox with its applet links, and runc's default spec edited.
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/etc" "$state"
cp /bin/busybox "$bundle/rootfs/bin/"
# One process for ~400 links: under emulation every fork+exec costs ~0.1 s.
/bin/busybox --list | D="$bundle/rootfs/bin" perl -ne \
    'chomp; $_ eq "busybox" or symlink("busybox", "$ENV{D}/$_") or die "$_: $!\n"'
echo 'root:x:0:0:root:/:/bin/sh' >"$bundle/rootfs/etc/passwd"
echo 'root:x:0:' >"$bundle/rootfs/etc/group"
(cd "$bundle" && "$runtime" spec) || { echo "smoke: $runtime spec failed" >&2; exit 1; }
jq --arg cg "$cgpath" '
    .process.terminal = false
  | .process.args = ["sh", "-c", "sleep 600 & wait"]
  | .linux.cgroupsPath = $cg
  | .linux.resources.memory = {"limit": 33554432}
  | .linux.resources.pids = {"limit": 10}
' "$bundle/config.json" >"$work/config.json" && mv "$work/config.json" "$bundle/config.json"

echo "smoke: $("$runtime" --version | head -n1), cgroupsPath $cgpath, bundle ready after $(since)"
rt create --bundle "$bundle" "$id" </dev/null >"$work/init.out" 2>&1
check "create" 0 $?
pid=$(rt state "$id" | jq -r .pid)
check "status after create" created "$(rt state "$id" | jq -r .status)"
check "init's cgroup" "0::$cgpath" "$(cat /proc/"$pid"/cgroup)"
check "$cg/cgroup.procs" "$pid" "$(cat "$cg/cgroup.procs")"
check "$cg/memory.max" 33554432 "$(cat "$cg/memory.max")"
check "$cg/pids.max" 10 "$(cat "$cg/pids.max")"
echo "     root cgroup.subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"

rt start "$id"
check "start" 0 $?
check "status after start" running "$(rt state "$id" | jq -r .status)"
for _ in $(seq 100); do # the init shell forks its sleep
    [ "$(cat "$cg/pids.current")" = 2 ] && break
    sleep 0.1
done
check "pids.current after start" 2 "$(cat "$cg/pids.current")"
keep=" $(tr '\n' ' ' <"$cg/cgroup.procs")"

# pids.max is enforced: 12 background sleeps cannot all fork.
# Detached: a foreground exec would return only once the sleeps are gone.
rt exec -d "$id" sh -c 'for i in $(seq 12); do sleep 30 & done 2>/dev/null' >/dev/null 2>&1
for _ in $(seq 100); do
    awk '$1 == "max" && $2 > 0 {f = 1} END {exit !f}' "$cg/pids.events" && break
    sleep 0.1
done
check "pids.events counts refused forks" yes "$(awk '$1 == "max" && $2 > 0 {print "yes"}' "$cg/pids.events")"
check "pids.current stays within pids.max" yes "$([ "$(cat "$cg/pids.current")" -le 10 ] && echo yes || echo no)"
# Free the pids again: kill everything in the cgroup but the init (a shell, so it reaps the
# orphans: zombies count in pids.current) and its own sleep, from the VM's side.
for p in $(cat "$cg/cgroup.procs"); do
    case $keep in *" $p "*) ;; *) kill -KILL "$p" 2>/dev/null ;; esac
done
for _ in $(seq 100); do
    [ "$(cat "$cg/pids.current")" = 2 ] && break
    sleep 0.1
done
check "pids.current after killing the extra sleeps" 2 "$(cat "$cg/pids.current")"

# memory.max is enforced: a 64M buffer in a 32M cgroup (no swap here) is OOM-killed.
rt exec "$id" dd if=/dev/zero of=/dev/null bs=64M count=1 >/dev/null 2>&1
check "64M dd in 32M cgroup dies of SIGKILL" 137 $?
check "memory.events counts the OOM kill" yes "$(awk '$1 == "oom_kill" && $2 > 0 {print "yes"}' "$cg/memory.events")"

rt kill "$id" KILL
for _ in $(seq 50); do
    [ "$(rt state "$id" | jq -r .status)" = stopped ] && break
    sleep 0.1
done
check "status after kill" stopped "$(rt state "$id" | jq -r .status)"
rt delete "$id"
check "delete" 0 $?
check "cgroup removed" gone "$([ -e "$cg" ] && echo present || echo gone)"
echo "smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
