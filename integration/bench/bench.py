#!/usr/bin/env python3
"""The measurements behind `make bench`: rt, runc and crun side by side on one busybox bundle.

Run it through bench.sh, which installs the tools and puts this program in its own cgroup
namespace (rooted at a fresh cgroup below ours) with the unified mount hidden. README.md says what
each row of the table measures and how. Nothing here is a test: it prints numbers and exits 0
unless the benchmark itself could not run.
"""

import argparse
import ctypes
import datetime
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CGROUP_ROOT = Path("/sys/fs/cgroup")
DEVNULL = subprocess.DEVNULL
PAGE = os.sysconf("SC_PAGE_SIZE")

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
PR_SET_CHILD_SUBREAPER = 36
PTRACE_TRACEME, PTRACE_DETACH, PTRACE_SYSCALL, PTRACE_SETOPTIONS = 0, 17, 24, 0x4200
PTRACE_O_TRACESYSGOOD = 0x1
PTRACE_O_TRACECLONE, PTRACE_O_TRACEEXEC, PTRACE_O_TRACEEXIT = 0x8, 0x10, 0x40
PTRACE_O_EXITKILL = 0x100000
PTRACE_EVENT_EXIT = 6
WALL = 0x40000000
EXEC_SYSCALLS = {59, 322} if platform.machine() == "x86_64" else {221, 281}  # execve, execveat


# ----------------------------------------------------------------------------------------------
# the rows of the table
# ----------------------------------------------------------------------------------------------
class Metric:
    def __init__(self, key, label, unit, scale, target=None, absolute=None):
        self.key, self.label, self.unit, self.scale = key, label, unit, scale
        self.target = target        # rt / base ratio the issue asks for (lower is better)
        self.absolute = absolute    # or an absolute ceiling, in display units

    def show(self, raw):
        v = raw / self.scale
        if self.unit in ("KiB", "calls"):
            return f"{v:.0f}"
        return f"{v:.2f}" if v < 10 else f"{v:.1f}"


METRICS = [
    Metric("run_wall", "run /bin/true: wall (hyperfine)", "ms", 1e-3, target=0.7),
    Metric("run_cpu", "run /bin/true: CPU user+sys, whole tree", "ms", 1e-3, target=0.6),
    Metric("run_cold", "run /bin/true after 100 ms idle: wall", "ms", 1e-3),
    Metric("run_seccomp", "run /bin/true, containers' seccomp profile: wall", "ms", 1e-3,
           target=0.6),
    Metric("create", "create", "ms", 1e-3),
    Metric("start", "start", "ms", 1e-3),
    Metric("delete", "delete (stopped container)", "ms", 1e-3),
    Metric("state", "state (running container)", "ms", 1e-3, target=0.4),
    Metric("list", "list (1 container)", "ms", 1e-3, target=0.4),
    Metric("exec", "exec ID true (running container)", "ms", 1e-3, target=0.5),
    Metric("rss", "peak RSS of the runtime process (run)", "MiB", 1024 * 1024, absolute=2.0),
    Metric("charge_create", "container cgroup charge after create", "KiB", 1024, target=1.0),
    Metric("min_limit", "smallest memory limit that runs /bin/true", "KiB", 1024, target=1.0),
    Metric("concurrent", "N x run at once: total wall (hyperfine)", "ms", 1e-3, target=0.7),
    Metric("syscalls", "syscalls per run (strace -f -c)", "calls", 1, absolute=500),
]
METRIC = {m.key: m for m in METRICS}


class BenchError(Exception):
    pass


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


T0 = time.monotonic()


def median(xs):
    return statistics.median(xs) if xs else None


# ----------------------------------------------------------------------------------------------
# runtimes, bundles, containers
# ----------------------------------------------------------------------------------------------
def run_captured(argv, timeout):
    """subprocess.run with stdout and stderr captured in files, not pipes: a container's init
    inherits the runtime's stdout/stderr and would hold a pipe open for as long as it lives."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.run(argv, stdin=DEVNULL, stdout=out, stderr=err, timeout=timeout)
        out.seek(0)
        err.seek(0)
        p.stdout = out.read().decode(errors="replace")
        p.stderr = err.read().decode(errors="replace")
    return p


class Runtime:
    def __init__(self, name, binary, root):
        self.name, self.binary, self.root = name, binary, root

    def argv(self, *args):
        return [self.binary, "--root", str(self.root), *args]

    def cmd(self, *args):
        return shlex.join(self.argv(*args))

    def call(self, *args, timeout=30, check=False):
        try:
            p = run_captured(self.argv(*args), timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{self.name} {' '.join(args)}: timed out after {timeout}s")
        if check and p.returncode != 0:
            raise BenchError(f"{self.name} {' '.join(args)}: exit {p.returncode}: "
                             f"{(p.stderr or p.stdout).strip()[-600:]}")
        return p

    def version(self):
        try:
            out = subprocess.run([self.binary, "--version"], capture_output=True, text=True,
                                 timeout=10).stdout
            return " ".join(out.split("\n")[0].split()) or "?"
        except OSError:
            return "?"

    def status(self, cid):
        p = self.call("state", cid)
        if p.returncode != 0:
            return None, None
        st = json.loads(p.stdout)
        return st.get("status"), st.get("pid")

    def wait_status(self, cid, want, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            status, pid = self.status(cid)
            if status == want:
                return pid
            time.sleep(0.002)
        raise BenchError(f"{self.name}: container {cid} did not reach '{want}' (last: {status})")


CONTAINERS_PROFILE = Path("/usr/share/containers/seccomp.json")
GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "ppc64le": "ppc64le",
           "s390x": "s390x", "riscv64": "riscv64"}
SCMP_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64",
             "ppc64le": "SCMP_ARCH_PPC64LE", "s390x": "SCMP_ARCH_S390X",
             "riscv64": "SCMP_ARCH_RISCV64"}


def oci_seccomp(profile, caps):
    """The containers-common profile as Podman puts it into config.json for a container with
    CAPS on this machine: rules kept or dropped by their includes/excludes (capabilities,
    architectures, minimum kernel), the native architecture with its sub-architectures."""
    arch = GO_ARCH.get(platform.machine(), platform.machine())
    kernel = tuple(int(x) for x in re.findall(r"\d+", platform.release())[:2])
    caps = set(caps)
    out = {"defaultAction": profile["defaultAction"], "syscalls": []}
    if "defaultErrnoRet" in profile:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    for m in profile.get("archMap") or []:
        if m["architecture"] == SCMP_ARCH.get(platform.machine()):
            out["architectures"] = [m["architecture"]] + (m.get("subArchitectures") or [])
    for r in profile["syscalls"]:
        inc, exc = r.get("includes") or {}, r.get("excludes") or {}
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if inc.get("caps") and not set(inc["caps"]) <= caps:
            continue
        if inc.get("minKernel"):
            want = tuple(int(x) for x in re.findall(r"\d+", inc["minKernel"])[:2])
            if kernel < want:
                continue
        if exc.get("arches") and arch in exc["arches"]:
            continue
        if exc.get("caps") and set(exc["caps"]) & caps:
            continue
        rule = {"names": r["names"], "action": r["action"]}
        if r.get("args"):
            rule["args"] = r["args"]
        if "errnoRet" in r:
            rule["errnoRet"] = r["errnoRet"]
        out["syscalls"].append(rule)
    return out


def spec(args, cgroups_path, rootfs, memory_limit=None, seccomp=False):
    """`runc spec` defaults (pid, net, ipc, uts, mount namespaces; masked and read-only paths),
    with terminal false, the shared busybox rootfs and a relative cgroupsPath."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    s = {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": str(rootfs), "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }
    if memory_limit is not None:
        s["linux"]["resources"]["memory"] = {"limit": memory_limit}
    if seccomp:
        s["linux"]["seccomp"] = oci_seccomp(json.loads(CONTAINERS_PROFILE.read_text()), caps)
    return s


def build_rootfs(rootfs):
    """/bin/busybox (Debian's busybox-static) + one symlink per applet + /etc/passwd, /etc/group."""
    busybox = Path("/bin/busybox")
    stamp = rootfs / ".busybox-stamp"
    want = f"{busybox.stat().st_size} {busybox.stat().st_mtime_ns}"
    if stamp.exists() and stamp.read_text() == want:
        return
    shutil.rmtree(rootfs, ignore_errors=True)
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, rootfs / "bin/busybox")
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for a in applets:
        if a != "busybox" and "/" not in a:
            os.symlink("busybox", rootfs / "bin" / a)
    (rootfs / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (rootfs / "etc/group").write_text("root:x:0:\n")
    stamp.write_text(want)


def memory_cgroup_of(pid):
    """The memory cgroup dir of a pid (paths are relative to our cgroup namespace and so is the
    /sys/fs/cgroup/memory mount bench.sh made)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if "memory" in ctrls.split(","):
            return CGROUP_ROOT / "memory" / path.lstrip("/")
    raise BenchError(f"pid {pid} has no memory cgroup")


def exact_usage(cg):
    """(usage as read, usage with the charge stocks drained) of a v1 memory cgroup, in bytes.
    The kernel charges a cgroup in batches of 64 pages per cpu and keeps what is not used yet in
    a per-cpu stock, so memory.usage_in_bytes of a small cgroup is a multiple of ~256 KiB. Asking
    for a limit one page below the usage makes the kernel drain those stocks (drain_all_stock)
    before it would reclaim anything; the limit is put back at once. If the usage was exact
    already the write fails (EBUSY) after a little reclaim, which is fine: it is exact."""
    usage, limit = cg / "memory.usage_in_bytes", cg / "memory.limit_in_bytes"
    before, old = int(usage.read_text()), limit.read_text().strip()
    try:
        limit.write_text(str(before - PAGE))
    except OSError:
        pass
    time.sleep(0.02)                     # the other cpus drain their stocks in a work item
    after = int(usage.read_text())
    try:
        limit.write_text(old)
    except OSError:
        limit.write_text("-1")
    return before, after


def remove_cgroup(rel):
    """rmdir a container's cgroup in every hierarchy if the runtime left it (empty) behind."""
    for h in CGROUP_ROOT.iterdir():
        d = h / rel
        if d.is_dir():
            try:
                d.rmdir()
            except OSError:
                pass


# ----------------------------------------------------------------------------------------------
# measuring primitives
# ----------------------------------------------------------------------------------------------
def spawn_wait(argv, errfd):
    """Run argv (stdin/stdout /dev/null); return (wall s, user+sys s of the reaped tree, exit
    code). (Its ru_maxrss would be no use: posix_spawn vforks, and the hiwater mark of the
    address space left at execve, ours, is charged to the child.)"""
    acts = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, errfd, 2)]
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=acts)
    _, st, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    return wall, ru.ru_utime + ru.ru_stime, os.waitstatus_to_exitcode(st)


def vm_hwm(tid):
    try:
        for line in Path(f"/proc/{tid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def own_peak_rss(argv):
    """Peak RSS (VmHWM, KiB) of the process argv starts, its own address space only, not its
    children's (/usr/bin/time and wait4 report the max over the reaped children too). It is
    ptraced, with its threads but not its forks, and VmHWM is read where an address space ends:
    at each thread's PTRACE_EVENT_EXIT stop (the mm still exists) and at the entry of execve and
    execveat (crun 1.8 re-executes itself from a sealed copy: both images count).
    Returns (kib, exit code)."""
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open("/dev/null", os.O_RDWR)
            for target in (0, 1, 2):
                os.dup2(fd, target)
            if libc.ptrace(PTRACE_TRACEME, 0, None, None) != 0:
                os._exit(126)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    peak, code, started, mine = 0, None, False, {pid}
    while True:
        try:
            tid, st = os.waitpid(-1, WALL)
        except ChildProcessError:
            break
        if os.WIFEXITED(st) or os.WIFSIGNALED(st):
            if tid == pid:
                code = os.waitstatus_to_exitcode(st)
            continue
        if not os.WIFSTOPPED(st):
            continue
        sig, event = os.WSTOPSIG(st), (st >> 16) & 0xFF
        if tid not in mine:
            if not is_thread_of(tid, pid):      # a child process: not ours to measure
                libc.ptrace(PTRACE_DETACH, tid, None, None)
                continue
            mine.add(tid)
        deliver = 0
        if not started:                         # the SIGTRAP after our execve
            started = True
            libc.ptrace(PTRACE_SETOPTIONS, pid, None, ctypes.c_void_p(
                PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
                PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL))
        elif sig == signal.SIGTRAP | 0x80:      # syscall entry or exit
            if syscall_nr(tid) in EXEC_SYSCALLS:
                peak = max(peak, vm_hwm(tid))
        elif event == PTRACE_EVENT_EXIT:
            peak = max(peak, vm_hwm(tid))
        elif event == 0 and sig != signal.SIGSTOP:
            deliver = sig                       # a real signal: pass it on
        libc.ptrace(PTRACE_SYSCALL, tid, None, ctypes.c_void_p(deliver))
    return peak, code


def syscall_nr(tid):
    try:
        return int(Path(f"/proc/{tid}/syscall").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return -1


def is_thread_of(tid, pid):
    try:
        for line in Path(f"/proc/{tid}/status").read_text().splitlines():
            if line.startswith("Tgid:"):
                return int(line.split()[1]) == pid
    except OSError:
        pass
    return True


def strace_count(argv, out):
    """Total syscalls (all processes) of one run of argv, from `strace -f -c`."""
    p = subprocess.run(["strace", "-f", "-c", "-o", str(out), "--", *argv], stdin=DEVNULL,
                       stdout=DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
    if p.returncode != 0:
        raise BenchError(f"strace {shlex.join(argv)}: exit {p.returncode}: {p.stderr[-400:]}")
    total, rows = 0, []
    for line in out.read_text().splitlines():
        t = line.split()
        if len(t) >= 5 and t[0][0].isdigit() and t[-1] != "total":
            rows.append((t[-1], int(t[3])))
            total += int(t[3])
    return total, sorted(rows, key=lambda r: -r[1])


# ----------------------------------------------------------------------------------------------
# the benchmark
# ----------------------------------------------------------------------------------------------
class Bench:
    def __init__(self, opts, runtimes):
        self.o = opts
        self.rts = runtimes
        self.out = Path(opts.out)
        self.raw = self.out / "raw"
        self.rootfs = self.out / "rootfs"
        self.bundles = self.out / "bundles"
        self.prefix = f"rb{os.getpid()}"
        self.results = {m.key: {} for m in METRICS}   # key -> runtime -> {median, samples,...}
        self.errors = {}                               # (key, runtime) -> message
        self.extra = {}                                # diagnostics for the JSON file
        self.hf_n = 0
        self.errlog = None

    # -- setup ---------------------------------------------------------------------------------
    def cid(self, rt, purpose):
        return f"{self.prefix}-{rt.name}-{purpose}"

    def bundle(self, rt, purpose, args=("/bin/true",), memory_limit=None, seccomp=False):
        """A bundle dir per (runtime, purpose): same rootfs and config, its own cgroupsPath
        (relative: below the bench cgroup) so that no two containers share a cgroup."""
        d = self.bundles / f"{rt.name}-{purpose}"
        d.mkdir(parents=True, exist_ok=True)
        cfg = spec(args, self.cid(rt, purpose), self.rootfs.resolve(), memory_limit, seccomp)
        (d / "config.json").write_text(json.dumps(cfg, indent=1))
        return d

    def setup(self):
        for d in (self.raw, self.bundles):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
        build_rootfs(self.rootfs)
        self.errlog = open(self.raw / "stderr.log", "a")
        for rt in self.rts:
            rt.root.mkdir(parents=True, exist_ok=True)

    def preflight(self):
        """Every runtime must run /bin/true here, and its container's cgroup must be a new one
        below the bench cgroup; a runtime that cannot is dropped (and said so)."""
        ok = []
        for rt in self.rts:
            try:
                b = self.bundle(rt, "pre")
                p = rt.call("run", "--bundle", str(b), self.cid(rt, "pre"), timeout=30)
                if p.returncode != 0:
                    raise BenchError(f"run /bin/true: exit {p.returncode}: {p.stderr.strip()[-600:]}")
                cid = self.cid(rt, "pre")
                rt.call("create", "--bundle", str(b), cid, check=True)
                _, pid = rt.status(cid)
                cg = memory_cgroup_of(pid)
                if cg == CGROUP_ROOT / "memory" or not cg.is_dir():
                    raise BenchError(f"container cgroup is {cg}, not a new cgroup below ours")
                rt.call("delete", "--force", cid, check=True)
                log(f"{rt.name}: {rt.version()} ok (container memory cgroup: <bench>/{cg.name})")
                ok.append(rt)
            except (BenchError, OSError, ValueError, TypeError) as e:
                log(f"{rt.name}: DROPPED, cannot run containers here: {e}")
                self.extra.setdefault("dropped", {})[rt.name] = str(e)
                rt.call("delete", "--force", self.cid(rt, "pre"))
        self.rts = ok
        if not ok:
            raise BenchError("no runtime can run a container here")

    def rounds(self):
        """Rounds of all runtimes, the order rotated each round, so that load from other work on
        this shared machine falls on all runtimes alike."""
        n = len(self.rts)
        for r in range(self.o.rounds):
            yield [self.rts[(i + r) % n] for i in range(n)]

    def record(self, key, rt, samples, **more):
        samples = list(samples)
        self.results[key][rt.name] = {"median": median(samples), "n": len(samples),
                                      "samples": samples, **more}

    def fail(self, key, rt, err):
        self.errors[(key, rt.name)] = str(err)
        log(f"{rt.name}: {key}: FAILED: {err}")

    # -- hyperfine ------------------------------------------------------------------------------
    def hyperfine(self, key, rt, command, runs, prepare=None, warmup=None):
        self.hf_n += 1
        out = self.raw / f"hyperfine-{key}-{rt.name}-{self.hf_n}.json"
        argv = ["hyperfine", "-N", "--style", "none", "--runs", str(runs),
                "--warmup", str(self.o.warmup if warmup is None else warmup),
                "--export-json", str(out)]
        if prepare:
            argv += ["--prepare", prepare]
        argv.append(command)
        p = subprocess.run(argv, stdin=DEVNULL, capture_output=True, text=True,
                           timeout=self.o.timeout)
        if p.returncode != 0:
            # run it once more by hand to show what the runtime said
            try:
                if prepare:
                    run_captured(shlex.split(prepare), 60)
                q = run_captured(shlex.split(command), 60)
                detail = f"exit {q.returncode}: {(q.stderr or q.stdout).strip()[-600:]}"
            except subprocess.TimeoutExpired:
                detail = "timed out"
            raise BenchError(f"hyperfine: {p.stderr.strip()[-300:]} | by hand: {detail}")
        r = json.loads(out.read_text())["results"][0]
        return r["times"], r["user"] + r["system"]

    def timed(self, key, commands, runs=None, warmup=None):
        """commands: runtime -> (command, prepare or None). Pooled hyperfine times over rounds."""
        runs = runs or self.o.runs
        per = max(1, math.ceil(runs / self.o.rounds))
        times = {rt.name: [] for rt in self.rts}
        cpu = {rt.name: [] for rt in self.rts}
        dead = set()
        for order in self.rounds():
            for rt in order:
                if rt.name in dead or rt not in commands:
                    continue
                cmd, prep = commands[rt]
                try:
                    t, c = self.hyperfine(key, rt, cmd, per, prep, warmup)
                    times[rt.name] += t
                    cpu[rt.name].append(c)
                except (BenchError, subprocess.TimeoutExpired) as e:
                    dead.add(rt.name)
                    errs = Path(f"{rt.root}.err")
                    if errs.exists():
                        e = f"{e} | {errs.read_text().strip()[-300:]}"
                    self.fail(key, rt, e)
        for rt in self.rts:
            if rt.name not in dead and times[rt.name]:
                self.record(key, rt, times[rt.name], hyperfine_mean_cpu_s=median(cpu[rt.name]))
        self.summary(key)

    def summary(self, key):
        m = METRIC[key]
        vals = [f"{n} {m.show(r['median'])}" for n, r in self.results[key].items()]
        log(f"  {m.label}: " + ", ".join(vals) + f" {m.unit}")

    # -- the measurements ------------------------------------------------------------------------
    def run_wall(self):
        log("run /bin/true: wall time (hyperfine)")
        cmds = {}
        for rt in self.rts:
            b = self.bundle(rt, "run")
            cmds[rt] = (rt.cmd("run", "--bundle", str(b), self.cid(rt, "run")), None)
        self.timed("run_wall", cmds)

    def run_cold(self):
        """Like run_wall, but each run after 100 ms of quiet: on cgroup v1 the first write to a
        cgroup.procs after the cgroup threadgroup lock has been idle for about a grace period
        waits for an RCU grace period (rcu_sync_enter); back-to-back runs mostly do not."""
        log("run /bin/true after 100 ms idle (hyperfine --prepare 'sleep 0.1')")
        cmds = {}
        for rt in self.rts:
            b = self.bundle(rt, "run")
            cmds[rt] = (rt.cmd("run", "--bundle", str(b), self.cid(rt, "run")), "sleep 0.1")
        self.timed("run_cold", cmds)

    def run_seccomp(self):
        """run_wall with the profile Podman and Docker derive from, as Podman renders it: what
        compiling and loading a real filter adds to the start path."""
        if not CONTAINERS_PROFILE.exists():
            log(f"run with the containers seccomp profile: skipped, {CONTAINERS_PROFILE} missing "
                "(Debian's golang-github-containers-common)")
            return
        log("run /bin/true with the containers seccomp profile (hyperfine)")
        cmds = {}
        for rt in self.rts:
            b = self.bundle(rt, "seccomp", seccomp=True)
            cmds[rt] = (rt.cmd("run", "--bundle", str(b), self.cid(rt, "seccomp")), None)
        self.timed("run_seccomp", cmds)

    def run_cpu(self):
        """user+sys of the whole process tree per run (wait4 rusage: the runtime and everything
        it reaped, the container included), runtimes interleaved run by run."""
        log("run /bin/true: CPU time of the process tree (wait4 rusage)")
        argvs = {rt: rt.argv("run", "--bundle", str(self.bundle(rt, "run")), self.cid(rt, "run"))
                 for rt in self.rts}
        cpu = {rt.name: [] for rt in self.rts}
        wall = {rt.name: [] for rt in self.rts}
        dead = set()
        for i in range(self.o.warmup + self.o.runs):
            for rt in self.rts:
                if rt.name in dead:
                    continue
                w, c, code = spawn_wait(argvs[rt], self.errlog.fileno())
                if code != 0:
                    dead.add(rt.name)
                    self.fail("run_cpu", rt, f"run exit {code} (stderr in raw/stderr.log)")
                elif i >= self.o.warmup:
                    cpu[rt.name].append(c)
                    wall[rt.name].append(w)
        for rt in self.rts:
            if rt.name not in dead:
                self.record("run_cpu", rt, cpu[rt.name], wall_s=wall[rt.name])
        self.summary("run_cpu")

    def lifecycle(self):
        log("create, start, delete separately (hyperfine --prepare)")
        c, s, d = {}, {}, {}
        for rt in self.rts:
            b, cid = str(self.bundle(rt, "cycle")), self.cid(rt, "cycle")
            rm = f"{rt.cmd('delete', '--force', cid)} >/dev/null 2>&1"
            create = rt.cmd("create", "--bundle", b, cid)
            start = rt.cmd("start", cid)
            wait_stopped = f"while {rt.cmd('state', cid)} | grep -q '\"running\"'; do :; done"
            c[rt] = (create, f"sh -c {shlex.quote(rm + '; exit 0')}")
            s[rt] = (start, f"sh -c {shlex.quote(f'{rm}; {create}')}")
            d[rt] = (rt.cmd("delete", cid),
                     f"sh -c {shlex.quote(f'{rm}; {create} && {start} && {wait_stopped}')}")
        self.timed("create", c)
        self.timed("start", s)
        self.timed("delete", d)
        for rt in self.rts:
            rt.call("delete", "--force", self.cid(rt, "cycle"))

    def running(self):
        log("state, list, exec on a running container")
        cmds = {"state": {}, "list": {}, "exec": {}}
        for rt in self.rts:
            cid = self.cid(rt, "svc")
            try:
                b = self.bundle(rt, "svc", args=("/bin/sleep", "100000"))
                rt.call("create", "--bundle", str(b), cid, check=True)
                rt.call("start", cid, check=True)
                rt.wait_status(cid, "running")
            except BenchError as e:
                for k in cmds:
                    self.fail(k, rt, e)
                continue
            cmds["state"][rt] = (rt.cmd("state", cid), None)
            cmds["list"][rt] = (rt.cmd("list"), None)
            p = rt.call("exec", cid, "true", timeout=20)
            if p.returncode == 0:
                cmds["exec"][rt] = (rt.cmd("exec", cid, "true"), None)
            else:
                self.fail("exec", rt, f"exec {cid} true: exit {p.returncode}: "
                                      f"{(p.stderr or p.stdout).strip()[-300:]}")
        try:
            for k in ("state", "list", "exec"):
                self.timed(k, cmds[k])
        finally:
            for rt in self.rts:
                rt.call("kill", self.cid(rt, "svc"), "KILL")
                rt.call("delete", "--force", self.cid(rt, "svc"))

    def syscalls(self):
        log("syscalls per run (strace -f -c)")
        per = {rt.name: [] for rt in self.rts}
        for i in range(self.o.strace_runs):
            for rt in self.rts:
                if rt.name in per:
                    try:
                        argv = rt.argv("run", "--bundle", str(self.bundle(rt, "run")),
                                       self.cid(rt, "run"))
                        per[rt.name].append(strace_count(argv, self.raw / f"strace-{rt.name}-{i}.txt"))
                    except (BenchError, subprocess.TimeoutExpired) as e:
                        self.fail("syscalls", rt, e)
                        del per[rt.name]
        for rt in self.rts:
            if rt.name in per:
                runs = per[rt.name]
                mid = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
                self.record("syscalls", rt, [r[0] for r in runs], top=mid[1][:15])
        self.summary("syscalls")

    def rss(self):
        log("peak RSS of the runtime process itself (ptrace, VmHWM at exit)")
        for rt in self.rts:
            argv = rt.argv("run", "--bundle", str(self.bundle(rt, "run")), self.cid(rt, "run"))
            vals = []
            for _ in range(self.o.small_runs):
                kib, code = own_peak_rss(argv)
                if code != 0 or not kib:
                    self.fail("rss", rt, f"run under ptrace: exit {code}, VmHWM {kib}")
                    break
                vals.append(kib * 1024)
            else:
                self.record("rss", rt, vals)
        self.summary("rss")

    def charge(self):
        """memory.usage_in_bytes of the container's memory cgroup right after create (the init
        parked on exec.fifo), with the per-cpu charge stocks drained first (see exact_usage)."""
        log("container cgroup memory charge after create (memory.usage_in_bytes, stocks drained)")
        exact = {rt.name: [] for rt in self.rts}
        raw = {rt.name: [] for rt in self.rts}
        dead = set()
        for i in range(self.o.small_runs + 1):
            for rt in self.rts:
                if rt.name in dead:
                    continue
                cid = self.cid(rt, f"charge{i}")
                try:
                    b = self.bundle(rt, f"charge{i}")
                    rt.call("create", "--bundle", str(b), cid, check=True)
                    _, pid = rt.status(cid)
                    before, after = exact_usage(memory_cgroup_of(pid))
                    if i > 0:                   # the first one is a warm-up
                        raw[rt.name].append(before)
                        exact[rt.name].append(after)
                except (BenchError, OSError, ValueError, TypeError) as e:
                    dead.add(rt.name)
                    self.fail("charge_create", rt, e)
                finally:
                    rt.call("delete", "--force", cid)
                    remove_cgroup(cid)
        for rt in self.rts:
            if rt.name not in dead:
                self.record("charge_create", rt, exact[rt.name], undrained=raw[rt.name])
        self.summary("charge_create")

    def min_limit(self):
        """Bisect linux.resources.memory.limit (page granularity) for the smallest limit with
        which `run /bin/true` exits 0 twice in a row; near the edge the outcome is a little
        random, so the bisection is repeated (runtimes interleaved) and the median reported."""
        log("smallest memory limit that still runs /bin/true (bisection)")
        n = 0

        def runs_with(rt, limit, trials):
            nonlocal n
            for _ in range(2):
                n += 1
                purpose = f"lim{n}"
                b, cid = self.bundle(rt, purpose, memory_limit=limit), self.cid(rt, purpose)
                try:
                    code = rt.call("run", "--bundle", str(b), cid, timeout=30).returncode
                except BenchError:
                    code = "timeout"
                finally:
                    rt.call("delete", "--force", cid)
                    remove_cgroup(cid)
                    shutil.rmtree(b, ignore_errors=True)
                trials.append((limit, code))
                if code != 0:
                    return False
            return True

        found = {rt.name: [] for rt in self.rts}
        trials = {rt.name: [] for rt in self.rts}
        dead = set()
        for rep in range(self.o.bisections):
            for rt in self.rts:
                if rt.name in dead:
                    continue
                lo, hi = 0, self.o.limit_hi
                if found[rt.name]:              # the repeats search around the first answer
                    first = found[rt.name][0]
                    lo, hi = first // 2 // PAGE * PAGE, min(first * 2, self.o.limit_hi)
                if not runs_with(rt, hi, trials[rt.name]):
                    if hi == self.o.limit_hi:
                        dead.add(rt.name)
                        self.fail("min_limit", rt, f"does not run even with {hi // 1024} KiB")
                        continue
                    lo, hi = hi, self.o.limit_hi
                while hi - lo > PAGE:
                    mid = (lo + hi) // 2 // PAGE * PAGE
                    if runs_with(rt, mid, trials[rt.name]):
                        hi = mid
                    else:
                        lo = mid
                found[rt.name].append(hi)
        for rt in self.rts:
            if rt.name not in dead:
                self.record("min_limit", rt, found[rt.name], trials=trials[rt.name])
        self.summary("min_limit")

    def concurrent(self):
        n = self.o.concurrent
        log(f"{n} x run at once: total wall (hyperfine)")
        script = self.raw / "concurrent.sh"
        script.write_text(
            "#!/bin/sh\n"
            "# concurrent.sh RUNTIME ROOT BUNDLE_PREFIX ID_PREFIX N: start N `run`s at once, wait\n"
            "# for all, exit 1 if any failed\n"
            'rt=$1 root=$2 bp=$3 ip=$4 n=$5 pids="" i=1 rc=0\n'
            'while [ $i -le $n ]; do\n'
            '  "$rt" --root "$root" run --bundle "$bp$i" "$ip$i" </dev/null >/dev/null 2>>"$root.err" &\n'
            '  pids="$pids $!"; i=$((i + 1))\n'
            'done\n'
            'for p in $pids; do wait $p || rc=1; done\n'
            'exit $rc\n')
        cmds = {}
        for rt in self.rts:
            for i in range(1, n + 1):
                self.bundle(rt, f"conc{i}")
            cmds[rt] = (shlex.join(["sh", str(script), rt.binary, str(rt.root),
                                    str(self.bundles / f"{rt.name}-conc"), self.cid(rt, "conc"),
                                    str(n)]), None)
        self.timed("concurrent", cmds, runs=self.o.conc_runs, warmup=1)

    # -- cleanup and report -----------------------------------------------------------------------
    def cleanup(self):
        for rt in self.rts_all:
            # every container is a directory in the runtime's --root (runc, crun and rt alike)
            ids = [d.name for d in rt.root.iterdir() if d.is_dir()] if rt.root.is_dir() else []
            for cid in ids:
                try:
                    rt.call("kill", cid, "KILL", timeout=20)
                    rt.call("delete", "--force", cid, timeout=20)
                except (BenchError, OSError):
                    pass
            shutil.rmtree(rt.root, ignore_errors=True)
            try:
                Path(str(rt.root) + ".err").unlink()
            except OSError:
                pass
        for h in CGROUP_ROOT.iterdir():
            if h.is_dir() and not h.is_symlink():
                for d in sorted(h.glob(f"{self.prefix}-*"), reverse=True):
                    try:
                        d.rmdir()
                    except OSError:
                        pass
        if self.errlog:
            self.errlog.close()


# ----------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------
def machine_info():
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or "?"
    hf = subprocess.run(["hyperfine", "--version"], capture_output=True, text=True).stdout.strip()
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "kernel": platform.release(), "cpu": cpu, "cpus": os.cpu_count(),
            "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
            "rt_commit": commit, "hyperfine": hf}


def table(bench, base):
    names = [rt.name for rt in bench.rts]
    others = [n for n in names if n != base] if base in names else []
    head = ["metric", "unit", *names, *[f"{n}/{base}" for n in others]]
    has_rt = "rt" in names
    if has_rt:
        head.append("rt target")
    rows = []
    for m in METRICS:
        res = bench.results[m.key]
        row = [m.label, m.unit]
        for n in names:
            if n in res:
                row.append(m.show(res[n]["median"]))
            else:
                row.append("n/a" if m.key == "exec" else "fail")
        b = res.get(base, {}).get("median")
        for n in others:
            v = res.get(n, {}).get("median")
            row.append(f"{v / b:.2f}" if v is not None and b else "-")
        if has_rt:
            v = res.get("rt", {}).get("median")
            if m.target is not None:
                goal = f"<= {m.target}x {base}"
                ok = v is not None and b and v / b <= m.target
            elif m.absolute is not None:
                goal = f"<= {m.absolute:g} {m.unit}"
                ok = v is not None and v / m.scale <= m.absolute
            else:
                goal, ok = "", None
            row.append("" if not goal else f"{goal} {'ok' if ok else 'MISSED'}")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    fmt = lambda r: "  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
                              for i, c in enumerate(r)).rstrip()
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def spread(bench):
    """min / median / max of each runtime's samples, to see how noisy a row was."""
    lines = []
    for m in METRICS:
        cells = []
        for rt in bench.rts:
            r = bench.results[m.key].get(rt.name)
            if r and r["n"] > 1:
                s = r["samples"]
                cells.append(f"{rt.name} {m.show(min(s))} / {m.show(r['median'])} / "
                             f"{m.show(max(s))}")
        if cells:
            lines.append(f"  {m.key:<14} {m.unit:<5} " + "   ".join(cells))
    return lines


def cpu_lines(bench):
    """user+sys per command as hyperfine saw it (mean per round, median over the rounds): less
    disturbed by other work on the machine than wall time. For create it leaves out the init,
    which outlives the command."""
    lines = []
    for m in METRICS:
        cells = [f"{n} {m.show(r['hyperfine_mean_cpu_s'])}"
                 for n, r in bench.results[m.key].items() if "hyperfine_mean_cpu_s" in r]
        if cells:
            lines.append(f"  {m.key:<14} {m.unit:<5} " + "   ".join(cells))
    return lines


def report(bench, info, versions, seconds):
    base = bench.o.base
    loads = list(bench.extra.get("loadavg_1min_before", {}).values()) or [0.0]
    lines = [
        f"rt benchmark — {info['date']} — {info['cpus']} x {info['cpu']} — kernel {info['kernel']}",
        "runtimes: " + "; ".join(f"{n}: {v}" for n, v in versions.items()),
        f"rt commit {info['rt_commit']}; {info['hyperfine']}; medians of {bench.o.runs} runs "
        f"({bench.o.rounds} interleaved rounds, warm-up {bench.o.warmup} per round); "
        f"1-min load average before each step {min(loads):.1f}..{max(loads):.1f} "
        f"(2 cores; our own 50 concurrent containers excluded); "
        f"nice {bench.o.nice}; bench took {seconds:.0f} s",
        "",
        table(bench, base),
        "",
        "spread (min / median / max):",
        *spread(bench),
        "",
        "CPU user+sys per command (hyperfine; the concurrent row is the whole batch):",
        *cpu_lines(bench),
    ]
    if bench.errors:
        lines += ["", "failures:"] + [f"  {k[1]} {k[0]}: {v}" for k, v in bench.errors.items()]
    dropped = bench.extra.get("dropped")
    if dropped:
        lines += ["", "runtimes dropped (cannot run a container here):"] + \
                 [f"  {n}: {e}" for n, e in dropped.items()]
    text = "\n".join(lines) + "\n"
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    raw = {"machine": info, "versions": versions, "seconds": seconds, "options": vars(bench.o),
           "results": bench.results, "errors": {f"{k[1]} {k[0]}": v for k, v in bench.errors.items()},
           "extra": bench.extra,
           "units": {m.key: {"label": m.label, "unit": m.unit, "scale": m.scale} for m in METRICS}}
    csv = ["metric,unit,runtime,median,n,min,max"]
    for m in METRICS:
        for n, r in bench.results[m.key].items():
            s = [x / m.scale for x in r["samples"]]
            csv.append(f"{m.key},{m.unit},{n},{r['median'] / m.scale:.4f},{r['n']},"
                       f"{min(s):.4f},{max(s):.4f}")
    hist = bench.out / "history"
    hist.mkdir(parents=True, exist_ok=True)
    for name, content in (("results.txt", text), ("results.json", json.dumps(raw, indent=1)),
                          ("results.csv", "\n".join(csv) + "\n")):
        (bench.out / name).write_text(content)
        (hist / name.replace("results", f"results-{stamp}")).write_text(content)
    return text


# ----------------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------------
def parse_runtimes(spec_text, state_base):
    rts = []
    for item in spec_text.replace(",", " ").split():
        name, _, path = item.partition("=")
        if not path:
            path = os.environ.get("RT", str(REPO / "target/release/rt")) if name == "rt" else name
        binary = shutil.which(path) or (path if os.access(path, os.X_OK) else None)
        if not binary:
            log(f"{name}: {path} not found, skipped")
            continue
        rts.append(Runtime(name, str(Path(binary).resolve()), state_base / name))
    return rts


def options():
    env = os.environ.get
    rt_default = Path(env("RT", str(REPO / "target/release/rt")))
    default_rts = ("rt " if rt_default.exists() else "") + "runc crun"
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runtimes", default=env("BENCH_RUNTIMES", default_rts),
                    help="NAME or NAME=PATH, comma/space separated (env BENCH_RUNTIMES; "
                         "default: rt if target/release/rt (or $RT) exists, runc, crun)")
    ap.add_argument("--base", default=env("BENCH_BASE", "crun"), help="ratios are to this runtime")
    ap.add_argument("--out", default=env("BENCH_OUT", str(REPO / "build/bench")),
                    help="results dir (env BENCH_OUT; default build/bench)")
    ap.add_argument("--runs", type=int, default=int(env("BENCH_RUNS", 30)),
                    help="timed runs per runtime and metric (env BENCH_RUNS, default 30)")
    ap.add_argument("--rounds", type=int, default=int(env("BENCH_ROUNDS", 5)),
                    help="interleaved rounds the runs are split into (default 5)")
    ap.add_argument("--warmup", type=int, default=int(env("BENCH_WARMUP", 2)),
                    help="warm-up runs per runtime per round (default 2)")
    ap.add_argument("--conc-runs", type=int, default=int(env("BENCH_CONC_RUNS", 30)),
                    help="timed runs of the concurrent batch (default 30)")
    ap.add_argument("--concurrent", type=int, default=50, help="containers at once (default 50)")
    ap.add_argument("--strace-runs", type=int, default=3)
    ap.add_argument("--small-runs", type=int, default=5,
                    help="repetitions of the RSS and cgroup charge measurements")
    ap.add_argument("--bisections", type=int, default=3,
                    help="repetitions of the memory limit bisection (default 3)")
    ap.add_argument("--limit-hi", type=int, default=64 << 20,
                    help="upper end of the memory limit bisection (bytes)")
    ap.add_argument("--nice", type=int, default=int(env("BENCH_NICE", 0)),
                    help="run the benchmark at this nice value, e.g. -10 (env BENCH_NICE; "
                         "default 0: other work on a shared machine keeps its share)")
    ap.add_argument("--timeout", type=int, default=600, help="per hyperfine call, seconds")
    ap.add_argument("--quick", action="store_true",
                    help="a fast smoke run: 6 runs, 2 rounds, 1 warm-up, 4 concurrent runs")
    ap.add_argument("--only", default=env("BENCH_ONLY", ""),
                    help="comma-separated steps to run (e.g. run_wall,run_seccomp); default all")
    o = ap.parse_args()
    if o.quick:
        o.runs, o.rounds, o.warmup, o.conc_runs, o.strace_runs, o.small_runs = 6, 2, 1, 4, 1, 2
        o.bisections = 1
    return o


def bench_main():
    o = options()
    if os.geteuid() != 0:
        raise SystemExit("bench.py: must run as root (through bench.sh)")
    own = [l.split(":", 2)[2] for l in Path("/proc/self/cgroup").read_text().splitlines()
           if not l.startswith("0::")]
    if any(p != "/" for p in own) or (CGROUP_ROOT / "unified/cgroup.controllers").exists():
        raise SystemExit("bench.py: run me through bench.sh (own cgroup namespace, unified hidden)")
    if o.nice:
        os.setpriority(os.PRIO_PROCESS, 0, o.nice)
    state_base = Path(f"/run/rt-bench-{os.getpid()}")
    rts = parse_runtimes(o.runtimes, state_base)
    if not rts:
        raise SystemExit("bench.py: no runtimes")
    METRIC["concurrent"].label = f"{o.concurrent} x run at once: total wall (hyperfine)"
    bench = Bench(o, rts)
    bench.rts_all = list(rts)
    info = machine_info()
    started = time.monotonic()
    try:
        bench.setup()
        bench.preflight()
        versions = {rt.name: rt.version() for rt in bench.rts}
        loads = bench.extra.setdefault("loadavg_1min_before", {})
        steps = (bench.run_wall, bench.run_cpu, bench.run_cold, bench.run_seccomp, bench.lifecycle,
                 bench.running, bench.syscalls, bench.rss, bench.charge, bench.min_limit,
                 bench.concurrent)
        only = {x for x in o.only.split(",") if x}
        unknown = only - {f.__name__ for f in steps}
        if unknown:
            raise BenchError(f"--only: no step {', '.join(sorted(unknown))}")
        for step in steps:
            if only and step.__name__ not in only:
                continue
            loads[step.__name__] = float(Path("/proc/loadavg").read_text().split()[0])
            step()
        text = report(bench, info, versions, time.monotonic() - started)
        print()
        print(text, end="")
        log(f"results in {bench.out}/results.{{txt,json,csv}}")
        return 0
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        return 130
    finally:
        bench.cleanup()
        shutil.rmtree(state_base, ignore_errors=True)


def main():
    """Be the subreaper of everything the benchmark starts (PID 1 here does not reap orphans:
    the inits left by `create` would stay zombies), and run the benchmark in a child."""
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    child = os.fork()
    if child == 0:
        def term(*_):
            raise KeyboardInterrupt
        signal.signal(signal.SIGINT, signal.default_int_handler)   # even if started ignoring it
        signal.signal(signal.SIGTERM, term)
        signal.signal(signal.SIGHUP, term)
        code = 1
        try:
            code = bench_main()
        except BenchError as e:
            log(f"bench.py: {e}")
        except SystemExit as e:
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
            code = e.code if isinstance(e.code, int) else 2
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the child cleans up; we keep reaping
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, lambda sig, _f: os.kill(child, sig))
    code = 1
    while True:
        try:
            pid, st = os.wait()
        except ChildProcessError:
            break
        if pid == child:
            code = os.waitstatus_to_exitcode(st)
            break
    while True:                                       # orphans already dead: reap, don't wait
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    sys.exit(code)


if __name__ == "__main__":
    main()
