#!/bin/bash
# The cgroup VM lanes: boot a Debian kernel under qemu (virtme-ng, software emulation) on this
# machine's own root filesystem and run one command in it as root, where /sys/fs/cgroup is a
# pure cgroup v2 hierarchy with every controller, or (--layout v1) only cgroup v1 hierarchies,
# one per controller. See integration/vm/README.md.
#
# usage: integration/vm/run.sh [OPTIONS] [--] CMD [ARG...]
#
#   --rwdir DIR      host directory the guest may write, at the same path (repeatable). The first
#                    one is the results dir, $RT_VM_RESULTS in the guest. Default: <repo>/target/vm
#   --overlay DIR    guest-writable copy-on-write view of DIR; the host copy is never changed
#                    (repeatable; e.g. --overlay "$PWD/target" to let cargo take its locks)
#   --cgroup PATH    run CMD in /sys/fs/cgroup/PATH (created, every controller enabled above it)
#                    instead of the root cgroup (v2 only)
#   --layout v2|v1   the guest's cgroups (default v2): v1 unmounts the cgroup2 hierarchy before
#                    any controller is enabled in it and mounts each controller as a v1
#                    hierarchy under /sys/fs/cgroup/<name>, as pure v1 hosts have them
#   --env NAME[=VAL] pass an environment variable to CMD (repeatable); PATH, RUST_BACKTRACE,
#                    RUST_LOG, RUST_TEST_THREADS, CI, TERM pass by default
#   --timeout SECS   wall-clock limit for boot + CMD (default $RT_VM_TIMEOUT or 900)
#   --memory SIZE    guest memory (default $RT_VM_MEMORY or 1G)
#   --cpus N         guest CPUs (default $RT_VM_CPUS or 2)
#   --log FILE       also write CMD's output there (default <results dir>/vm-run.log, truncated)
#   --quiet          print the guest's cgroup report only when the check fails
#   --verbose        show the guest kernel's console and virtme-ng's own messages
#   --kvm            use KVM (off by default: nested KVM does not work on these machines)
#
# CMD runs in the guest from the caller's working directory, stdin /dev/null, stdout and stderr
# passed through. The exit status is CMD's own (128+N if it died of signal N), 124 if the
# timeout hit, 125 if the lane itself failed (not installed, guest not in the layout, CMD's
# working directory missing in the guest, or the VM died without reporting a status).
# Environment: RT_VM_VENV (virtme-ng venv, default /opt/vng-venv), RT_VM_KERNEL (kernel release,
# default the newest installed /boot/vmlinuz-*-amd64 with 9p).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv=${RT_VM_VENV:-/opt/vng-venv}
timeout_s=${RT_VM_TIMEOUT:-900}
memory=${RT_VM_MEMORY:-1G}
cpus=${RT_VM_CPUS:-2}
kernel=${RT_VM_KERNEL:-}
rwdirs=() overlays=() envs=() cgroup='' log='' quiet='' verbose='' kvm=${RT_VM_KVM:-} layout=v2

die() { echo "vm: $*" >&2; exit 125; }
usage() { sed -n '5,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit "$1"; }

while [ $# -gt 0 ]; do
    case $1 in
    --rwdir) rwdirs+=("${2:?--rwdir needs DIR}"); shift 2 ;;
    --rwdir=*) rwdirs+=("${1#*=}"); shift ;;
    --overlay) overlays+=("${2:?--overlay needs DIR}"); shift 2 ;;
    --overlay=*) overlays+=("${1#*=}"); shift ;;
    --cgroup) cgroup=${2:?--cgroup needs PATH}; shift 2 ;;
    --cgroup=*) cgroup=${1#*=}; shift ;;
    --layout) layout=${2:?--layout needs v1 or v2}; shift 2 ;;
    --layout=*) layout=${1#*=}; shift ;;
    --env) envs+=("${2:?--env needs NAME[=VALUE]}"); shift 2 ;;
    --env=*) envs+=("${1#*=}"); shift ;;
    --timeout) timeout_s=${2:?}; shift 2 ;;
    --timeout=*) timeout_s=${1#*=}; shift ;;
    --memory) memory=${2:?}; shift 2 ;;
    --memory=*) memory=${1#*=}; shift ;;
    --cpus) cpus=${2:?}; shift 2 ;;
    --cpus=*) cpus=${1#*=}; shift ;;
    --log) log=${2:?}; shift 2 ;;
    --log=*) log=${1#*=}; shift ;;
    --quiet | -q) quiet=1; shift ;;
    --verbose | -v) verbose=1; shift ;;
    --kvm) kvm=1; shift ;;
    -h | --help) usage 0 ;;
    --) shift; break ;;
    -*) echo "vm: unknown option $1" >&2; usage 125 >&2 ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || usage 125 >&2
[ "$(id -u)" = 0 ] || die "run as root"
case $layout in v1 | v2) ;; *) die "--layout $layout: v1 or v2" ;; esac
[ "$layout" = v2 ] || [ -z "$cgroup" ] || die "--cgroup is for the v2 layout"

# --- the host side: tools, kernel, directories ------------------------------------------------
[ -x "$venv/bin/vng" ] || die "virtme-ng not found in $venv: run integration/vm/install.sh"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: run integration/vm/install.sh"
if [ -z "$kernel" ]; then
    # Newest plain -amd64 Debian kernel whose modules include 9p (the -cloud flavour has none).
    for k in $(ls /boot/vmlinuz-*-amd64 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -rV); do
        case $k in *-cloud-amd64) continue ;; esac
        if [ -d "/lib/modules/$k/kernel/fs/9p" ]; then kernel=$k; break; fi
    done
fi
[ -n "$kernel" ] && [ -r "/boot/vmlinuz-$kernel" ] || die "no usable kernel in /boot: run integration/vm/install.sh"

# Paths go on the guest kernel's command line, so no whitespace in them.
abspath() {
    local d=$1
    mkdir -p -- "$d" || die "cannot create $d"
    d=$(cd -- "$d" && pwd -P) || die "cannot resolve $d"
    case $d in *[[:space:]]* | *=* | *,*) die "unsupported path (whitespace, = or ,): $d" ;; esac
    printf '%s' "$d"
}
[ ${#rwdirs[@]} -gt 0 ] || rwdirs=("$repo/target/vm")
for i in "${!rwdirs[@]}"; do rwdirs[$i]=$(abspath "${rwdirs[$i]}") || exit 125; done
for i in "${!overlays[@]}"; do
    [ -d "${overlays[$i]}" ] || die "--overlay ${overlays[$i]}: no such directory"
    overlays[$i]=$(abspath "${overlays[$i]}") || exit 125
done
results=${rwdirs[0]}
log=${log:-$results/vm-run.log}
: >"$log" || die "cannot write $log"
cwd=$(pwd -P)

# A per-run control dir, shared read-write with the guest: the command script goes in, the
# exit status comes out (virtme-ng turns a guest death by signal into 255, so we keep our own).
ctl=$(mktemp -d /tmp/rt-vm.XXXXXX) || die "mktemp failed"
vpid='' opid='' epid=''
cleanup() {
    [ -n "$vpid" ] && kill -TERM "$vpid" 2>/dev/null
    rm -rf -- "$ctl"
}
trap cleanup EXIT
for sig in INT:130 TERM:143 HUP:129; do
    # shellcheck disable=SC2064 # the status is meant to be expanded now
    trap "echo 'vm: interrupted' >&2; exit ${sig#*:}" "${sig%:*}"
done

# --- the guest side: report the cgroup layout, check it, run CMD -------------------------------
q() { printf '%q ' "$@"; }
{
    echo '#!/bin/bash'
    echo "ctl=$(q "$ctl")"
    echo 'exec </dev/null'
    echo 'st() { echo "$1" >"$ctl/status"; exit "$1"; }'
    echo "quiet=$quiet"
    if [ "$layout" = v1 ]; then
        cat <<'GUEST'
# Pure v1: nothing has enabled a controller in the cgroup2 hierarchy yet, so each one can still
# be mounted as a v1 hierarchy once cgroup2 is out of the way (co-mounted as distributions do).
boot=$(cut -d' ' -f1 /proc/uptime)
umount /sys/fs/cgroup && mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup || { echo "vm: cannot replace the cgroup2 mount" >&2; st 125; }
ok=1 mounted=
for h in cpuset cpu,cpuacct blkio memory devices freezer net_cls,net_prio perf_event hugetlb pids rdma misc; do
    first=${h%%,*}
    awk -v c="$first" '$1 == c && $4 == 1 {f=1} END {exit !f}' /proc/cgroups || continue
    mkdir -p "/sys/fs/cgroup/$h" && mount -t cgroup -o "$h" cgroup "/sys/fs/cgroup/$h" || { ok= ; echo "vm: cannot mount the v1 $h hierarchy" >&2; continue; }
    mounted="$mounted $h"
    case $h in *,*) for c in ${h//,/ }; do ln -s "$h" "/sys/fs/cgroup/$c"; done ;; esac
done
# and systemd's named hierarchy, as v1 distributions have it
mkdir -p /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd && mounted="$mounted name=systemd" || ok=
grep -q ' cgroup2 ' /proc/mounts && ok=
for c in cpuset cpu memory devices freezer pids; do case " ${mounted//,/ } " in *" $c "*) ;; *) ok= ;; esac; done
if [ -z "$quiet" ] || [ -z "$ok" ]; then
    {
        echo "vm: kernel $(uname -r), $(nproc) cpus, $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) MiB, command started ${boot}s after boot"
        echo "vm: v1 hierarchies:$mounted"
        echo "vm: /proc/self/cgroup: $(tr '\n' ' ' </proc/self/cgroup)"
        if [ -n "$ok" ]; then echo "vm: pure cgroup v1: yes"; else echo "vm: pure cgroup v1: NO"; fi
    } >&2
fi
[ -n "$ok" ] || st 125
GUEST
    else
        cat <<'GUEST'
boot=$(cut -d' ' -f1 /proc/uptime)
want="cpuset cpu io memory hugetlb pids rdma misc"
have=$(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null)
ok=1 missing=
[ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ] || ok=
grep -q '^[^ ]* [^ ]* cgroup ' /proc/mounts && ok=   # any cgroup v1 mount
for c in $want; do case " $have " in *" $c "*) ;; *) ok= missing="$missing $c" ;; esac; done
if [ -z "$quiet" ] || [ -z "$ok" ]; then
    {
        echo "vm: kernel $(uname -r), $(nproc) cpus, $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) MiB, command started ${boot}s after boot"
        echo "vm: /proc/self/cgroup: $(cat /proc/self/cgroup)"
        echo "vm: cgroup.controllers: $have"
        echo "vm: cgroup.subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
        grep cgroup /proc/mounts | sed 's/^/vm: mount: /'
        if [ -n "$ok" ]; then echo "vm: pure cgroup v2 with $want: yes"
        else echo "vm: pure cgroup v2 with $want: NO${missing:+ (missing:$missing)}"; fi
    } >&2
fi
[ -n "$ok" ] || st 125
GUEST
    fi
    if [ -n "$cgroup" ]; then
        echo "cg=$(q "${cgroup#/}")"
        cat <<'GUEST'
# Create /sys/fs/cgroup/$cg, enabling every controller in each ancestor on the way down.
dir=/sys/fs/cgroup
for part in ${cg//\// }; do
    ctrls=$(sed 's/\([^ ]*\)/+\1/g' "$dir/cgroup.controllers")
    [ -z "$ctrls" ] || echo "$ctrls" >"$dir/cgroup.subtree_control" || { echo "vm: cannot enable controllers in $dir" >&2; st 125; }
    dir=$dir/$part
    mkdir -p "$dir" || st 125
done
echo $$ >"$dir/cgroup.procs" || { echo "vm: cannot move into $dir" >&2; st 125; }
[ -n "$quiet" ] || echo "vm: running in cgroup $(cut -d: -f3 /proc/self/cgroup)" >&2
GUEST
    fi
    echo "cd -- $(q "$cwd") || { echo \"vm: no $(q "$cwd") in the guest\" >&2; st 125; }"
    for v in PATH RUST_BACKTRACE RUST_LOG RUST_TEST_THREADS CI TERM; do
        [ -n "${!v+x}" ] && echo "export $v=$(q "${!v}")"
    done
    for e in "${envs[@]}"; do
        case $e in
        *=*) echo "export $(q "$e")" ;;
        *) [ -n "${!e+x}" ] && echo "export $e=$(q "${!e}")" ;;
        esac
    done
    echo "export RT_VM=1 RT_VM_RESULTS=$(q "$results")"
    echo "$(q "$@")"
    echo 'st $?'
} >"$ctl/cmd.sh"

# --- boot ----------------------------------------------------------------------------------------
vng=(vng --run "$kernel" --force-9p --memory "$memory" --cpus "$cpus")
[ -n "$kvm" ] || vng+=(--disable-kvm)
[ -n "$verbose" ] && vng+=(--verbose)
for d in "${rwdirs[@]}" "$ctl"; do vng+=(--rwdir "$d"); done
for d in "${overlays[@]}"; do vng+=(--overlay-rwdir "$d"); done
vng+=(--exec "/bin/bash $ctl/cmd.sh")

# qemu opens /proc/self/fd/1 and /proc/self/fd/2 with O_TRUNC: were they regular files, the
# caller's earlier output would be wiped. So they are always fifos, copied out by tee.
mkfifo "$ctl/out" "$ctl/err"
tee -a "$log" <"$ctl/out" & opid=$!
tee -a "$log" <"$ctl/err" >&2 & epid=$!
start=$(date +%s)
(cd / && PATH="$venv/bin:$PATH" exec timeout --kill-after=20 "$timeout_s" "${vng[@]}") \
    </dev/null >"$ctl/out" 2>"$ctl/err" &
vpid=$!
wait "$vpid"
rc=$?
vpid=
wait "$opid" "$epid"
elapsed=$(($(date +%s) - start))

if [ -s "$ctl/status" ]; then
    status=$(cat "$ctl/status")
    [ -n "$quiet" ] || echo "vm: exit status $status, ${elapsed}s in all" | tee -a "$log" >&2
    exit "$status"
fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "vm: timed out after ${timeout_s}s" | tee -a "$log" >&2
    exit 124
fi
echo "vm: the VM ended without the command's status (vng exit $rc after ${elapsed}s; kernel panic or boot failure? try --verbose)" | tee -a "$log" >&2
exit 125
