#!/bin/bash
# integration/bench/bench.sh [bench.py options] — benchmark rt, runc and crun side by side.
#
# This wrapper only prepares the ground; the measurements are in bench.py (see README.md):
#   1. installs what the benchmark needs (hyperfine, strace, time, busybox-static, runc, crun)
#      with apt when it is missing;
#   2. creates one cgroup "rt-bench-<pid>" below this process's OWN cgroup in every v1 hierarchy
#      mounted under /sys/fs/cgroup and moves the benchmark into it;
#   3. enters a new cgroup namespace and a private mount namespace
#      (`unshare --cgroup --mount --propagation private`), mounts a fresh tmpfs on /sys/fs/cgroup,
#      mounts the same v1 hierarchies again on it (they are then rooted at the rt-bench cgroups),
#      and covers /sys/fs/cgroup/unified with a small empty tmpfs: crun 1.8.1 refuses this hybrid
#      layout otherwise, and runc and rt then see the same pure-v1 layout;
#   4. runs bench.py there, and afterwards (also on Ctrl-C) kills what is left in the rt-bench
#      cgroups, by pid, and removes them bottom-up.
# The cgroup namespace is what keeps every container cgroup inside our subtree for all three
# runtimes: crun resolves a relative cgroupsPath from the hierarchy root ("/" + path), runc and rt
# from their own cgroup; inside the namespace both are the rt-bench cgroup.
# Host cgroup mounts are never unmounted or remounted; /run/runc and /run/crun are never used
# (bench.py passes its own --root to every runtime).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"

# --------------------------------------------------------------------------------------------
# inner part: first process of the new cgroup + mount namespaces
# --------------------------------------------------------------------------------------------
if [ "${_RTBENCH_INNER:-}" = 1 ]; then
    unset _RTBENCH_INNER
    mount -t tmpfs -o size=64k,mode=755,nosuid,nodev,noexec rt-bench /sys/fs/cgroup || exit 90
    while read -r mp opts _sb; do
        mkdir -p "$mp" && mount -t cgroup -o "nosuid,nodev,noexec,$opts" cgroup "$mp" || exit 91
    done < "$_RTBENCH_HIER"
    mkdir -p /sys/fs/cgroup/unified &&
        mount -t tmpfs -o size=16m,mode=755,nosuid,nodev,noexec rt-bench-hide-unified /sys/fs/cgroup/unified || exit 92
    if grep -v '^0::' /proc/self/cgroup | grep -qv ':/$'; then
        echo "bench.sh: cgroup namespace not rooted at the bench cgroups:" >&2; cat /proc/self/cgroup >&2
        exit 93
    fi
    unset _RTBENCH_HIER
    exec python3 "$HERE/bench.py" "$@"
fi

# --------------------------------------------------------------------------------------------
# outer part
# --------------------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || { echo "bench.sh: must run as root" >&2; exit 2; }

need=()
for t in hyperfine:hyperfine strace:strace /usr/bin/time:time /bin/busybox:busybox-static \
         runc:runc crun:crun python3:python3 unshare:util-linux; do
    command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "bench.sh: installing ${need[*]}" >&2
    { apt-get install -y "${need[@]}" || { apt-get update && apt-get install -y "${need[@]}"; }; } >&2 ||
        { echo "bench.sh: could not install ${need[*]}" >&2; exit 2; }
fi

NAME=rt-bench-$$
HIER=$(mktemp "${TMPDIR:-/tmp}/rt-bench-hier.XXXXXX") || exit 2   # "mountpoint options bench-cgroup"

cleanup() {
    local mp opts sb d p f round left
    [ -f "$HIER" ] || return 0
    for round in 1 2 3 4 5; do
        left=0
        while read -r mp opts sb; do
            [ -d "$sb" ] || continue
            for f in $(find "$sb" -name freezer.state 2>/dev/null); do echo THAWED > "$f" 2>/dev/null; done
            for d in $(find "$sb" -depth -type d); do
                for p in $(cat "$d/cgroup.procs" 2>/dev/null); do
                    echo "bench.sh: killing leftover pid $p ($(tr '\0' ' ' < /proc/"$p"/cmdline 2>/dev/null)) in $d" >&2
                    kill -9 "$p" 2>/dev/null
                done
            done
        done < "$HIER"
        sleep 0.2
        while read -r mp opts sb; do
            [ -d "$sb" ] || continue
            find "$sb" -depth -type d -exec rmdir {} \; 2>/dev/null
            [ -d "$sb" ] && left=1
        done < "$HIER"
        [ $left = 0 ] && break
        sleep 0.5
    done
    while read -r mp opts sb; do
        [ -d "$sb" ] && echo "bench.sh: WARNING: could not remove cgroup $sb" >&2
    done < "$HIER"
    rm -f "$HIER"
}
fail() { echo "bench.sh: $*" >&2; cleanup; exit 2; }

# one bench cgroup per v1 hierarchy below our own cgroup there ("/" in most, /process_api/<id> in
# memory here). The v2 (unified) hierarchy is left alone: it is hidden inside.
while read -r line; do
    root=$(awk '{print $4}' <<< "$line")
    mp=$(awk '{print $5}' <<< "$line")
    post=${line#* - }
    sopts=$(awk '{print $3}' <<< "$post")
    case "$mp" in /sys/fs/cgroup/*) ;; *) continue ;; esac
    [ "$root" = / ] || fail "cgroup mount $mp has root $root (already in a cgroup namespace?)"
    # the mount's controllers (+ name=...), as /proc/self/cgroup names the hierarchy
    opts=$(tr ',' '\n' <<< "$sopts" | grep -E "^name=|^($(awk 'NR > 1 {printf "%s%s", s, $1; s="|"}' /proc/cgroups))\$" | paste -sd,)
    [ -n "$opts" ] || continue
    own=$(awk -F: -v o="$opts" '$1 != "0" {
              n = split($2, a, ","); m = split(o, b, ","); if (n != m) next
              for (i = 1; i <= n; i++) { f = 0; for (j = 1; j <= m; j++) if (a[i] == b[j]) f = 1; if (!f) next }
              print $3 }' /proc/self/cgroup)
    [ -n "$own" ] || fail "own cgroup for $mp ($opts) not found in /proc/self/cgroup"
    sb="$mp${own%/}/$NAME"
    mkdir "$sb" || fail "mkdir $sb"
    echo "$mp $opts $sb" >> "$HIER"
    if [ -f "$sb/cpuset.cpus" ]; then   # a new v1 cpuset cgroup starts empty
        cat "$(dirname "$sb")/cpuset.cpus" > "$sb/cpuset.cpus"
        cat "$(dirname "$sb")/cpuset.mems" > "$sb/cpuset.mems"
    fi
done < <(grep -E ' - cgroup ' /proc/self/mountinfo)
[ -s "$HIER" ] || fail "no cgroup v1 hierarchies under /sys/fs/cgroup"

trap cleanup EXIT
trap 'exit 130' INT TERM HUP

(
    for sb in $(awk '{print $3}' "$HIER"); do echo "$BASHPID" > "$sb/cgroup.procs" || exit 94; done
    exec env _RTBENCH_INNER=1 _RTBENCH_HIER="$HIER" \
        unshare --cgroup --mount --propagation private -- bash "$SELF" "$@"
)
exit $?
