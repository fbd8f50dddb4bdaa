"""What the fault, race and soak lanes share: a run directory and a run cgroup of their own, a
bundle, runtime calls with timeouts, and the leftover check (state dirs, cgroups in every
hierarchy, processes, mounts, stray files). Python 3 standard library only; needs root.

Every cgroup is made below the caller's own cgroup (`<own>/<name>` in each hierarchy, the lane
itself moved in), and a container's relative `cgroupsPath` lands below that. Processes are only
ever killed by pid, and only those found in the run's own cgroups or running the run's own rt
binary."""

import argparse
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36


def log(*a):
    print(*a, flush=True)


def become_subreaper():
    """Orphaned container inits come back to this process (as they do to a shim or conmon),
    which reaps them: `reap()` between runtime calls."""
    LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Result:
    def __init__(self, argv, rc, out, err, secs, timed_out):
        self.argv, self.rc, self.out, self.err, self.secs, self.timed_out = argv, rc, out, err, secs, timed_out

    def lines(self):
        """stderr's lines that are not warnings."""
        return [l for l in self.err.splitlines() if l.strip() and "level=warning" not in l]

    def __repr__(self):
        return f"rc={self.rc}{' (timed out)' if self.timed_out else ''} {self.secs:.2f}s err={self.err.strip()[:300]!r}"


def run(argv, timeout=30, stdin=subprocess.DEVNULL, preexec=None, env=None, cwd=None):
    """Runs argv with a timeout; on timeout the process is killed (by pid) and reaped. Its
    stdout and stderr are files, not pipes: a container it creates inherits them and keeps
    them open."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=err, preexec_fn=preexec, env=env, cwd=cwd, start_new_session=True)
        try:
            p.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            timed_out = True
        out.seek(0)
        err.seek(0)
        o, e = out.read(), err.read()
    return Result(argv, p.returncode, o.decode(errors="replace"), e.decode(errors="replace"), time.monotonic() - start, timed_out)


def ensure_tool(cmd, package):
    if shutil.which(cmd):
        return
    log(f"installing {package} (for {cmd})")
    subprocess.run(["apt-get", "install", "-y", "-qq", package], stdout=subprocess.DEVNULL, check=False)
    if not shutil.which(cmd):
        subprocess.run(["apt-get", "update", "-qq"], stdout=subprocess.DEVNULL, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], stdout=subprocess.DEVNULL, check=True)


def mountinfo():
    with open("/proc/self/mountinfo") as f:
        return [l.split() for l in f]


class Hierarchy:
    def __init__(self, mount, v2, key, own):
        self.mount, self.v2, self.key, self.own = mount, v2, key, own

    def dir(self, name):
        return os.path.join(self.mount, self.own.lstrip("/"), name)


def hierarchies():
    """The cgroup hierarchies mounted below /sys/fs/cgroup, with our own cgroup in each."""
    with open("/proc/cgroups") as f:
        known = {l.split()[0] for l in f.readlines()[1:]}
    own = {}
    with open("/proc/self/cgroup") as f:
        for l in f:
            _, ctrls, path = l.rstrip("\n").split(":", 2)
            own[",".join(sorted(c for c in ctrls.split(",") if c))] = path
    out = []
    for f in mountinfo():
        sep = f.index("-")
        fstype, opts, mp = f[sep + 1], f[sep + 3], f[4]
        if not mp.startswith("/sys/fs/cgroup") or fstype not in ("cgroup", "cgroup2"):
            continue
        if fstype == "cgroup2":
            key = ""
        else:
            key = ",".join(sorted(o for o in opts.split(",") if o in known or o.startswith("name=")))
        if key in own:
            out.append(Hierarchy(mp, fstype == "cgroup2", key, own[key]))
    return out


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def procs(d):
    try:
        with open(os.path.join(d, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def subdirs(d):
    """Every cgroup below d, deepest first."""
    out = []
    for root, dirs, _ in os.walk(d, topdown=False):
        for x in dirs:
            out.append(os.path.join(root, x))
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


class RunCgroup:
    """`<own>/<name>` in every hierarchy, with this process moved in; on a pure v2 host the
    process sits in `<name>/runner` (no processes in a cgroup that hands out controllers)."""

    def __init__(self, name):
        self.name = name
        self.hier = hierarchies()
        self.pure_v2 = all(h.v2 for h in self.hier)
        self.dirs = []
        for h in self.hier:
            d = h.dir(name)
            os.makedirs(d, exist_ok=True)
            if not h.v2 and os.path.exists(os.path.join(d, "cpuset.cpus")):
                for f in ("cpuset.cpus", "cpuset.mems"):
                    with open(os.path.join(os.path.dirname(d), f)) as src:
                        v = src.read().strip()
                    with open(os.path.join(d, f), "w") as dst:
                        dst.write(v)
            self.dirs.append(d)
        self.enter()

    def runner(self, d):
        return os.path.join(d, "runner") if self.pure_v2 else d

    def enter(self):
        for d in self.dirs:
            r = self.runner(d)
            os.makedirs(r, exist_ok=True)
            with open(os.path.join(r, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    def leave(self):
        for h in self.hier:
            with open(os.path.join(h.mount, h.own.lstrip("/"), "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    def allowed(self, d):
        return self.pure_v2 and os.path.basename(d) == "runner" and os.path.dirname(d) in self.dirs

    def leftovers(self, ignore_pids=()):
        """cgroups below the run cgroup, and processes in it that are not ours."""
        out = []
        me = {os.getpid(), *ignore_pids}
        for d in self.dirs:
            for s in subdirs(d):
                if self.allowed(s):
                    continue
                out.append(f"cgroup left behind: {s}" + "".join(f" (pid {p}: {cmdline(p)})" for p in procs(s)))
            for s in [d, self.runner(d)]:
                for p in procs(s):
                    if p not in me and pid_alive(p):
                        out.append(f"process {p} ({cmdline(p)}) left in {s}")
        return sorted(set(out))

    def clean(self):
        """Kills (by pid) what is in the run cgroups' subtrees and removes the sub-cgroups."""
        me = os.getpid()
        for _ in range(50):
            any_ = False
            for d in self.dirs:
                for s in subdirs(d) + [d]:
                    fz = os.path.join(s, "freezer.state")
                    if os.path.exists(fz):
                        try:
                            with open(fz, "w") as f:
                                f.write("THAWED")
                        except OSError:
                            pass
                    for p in procs(s):
                        if p != me and pid_alive(p):
                            any_ = True
                            try:
                                os.kill(p, signal.SIGKILL)
                            except ProcessLookupError:
                                pass
            reap()
            if not any_:
                break
            time.sleep(0.02)
        for d in self.dirs:
            for s in subdirs(d):
                if self.allowed(s):
                    continue
                for _ in range(50):
                    try:
                        os.rmdir(s)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.02)

    def remove(self):
        self.clean()
        self.leave()
        for d in self.dirs:
            for s in subdirs(d) + [d]:
                try:
                    os.rmdir(s)
                except OSError:
                    pass


def clean_stale(tmpdir, prefix):
    """What earlier runs of a lane that were killed left: their run cgroups and directories
    (`<prefix>-<pid>` whose pid is gone)."""
    for h in hierarchies():
        base = os.path.join(h.mount, h.own.lstrip("/"))
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for n in names:
            if n.startswith(prefix + "-") and n[len(prefix) + 1 :].isdigit() and not os.path.exists(f"/proc/{n[len(prefix) + 1:]}"):
                d = os.path.join(base, n)
                for s in subdirs(d) + [d]:
                    for p in procs(s):
                        try:
                            os.kill(p, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                time.sleep(0.1)
                for s in subdirs(d) + [d]:
                    try:
                        os.rmdir(s)
                    except OSError:
                        pass
    for n in os.listdir(tmpdir):
        if n.startswith(prefix + "-") and n[len(prefix) + 1 :].isdigit() and not os.path.exists(f"/proc/{n[len(prefix) + 1:]}"):
            d = os.path.join(tmpdir, n)
            unmount_under(d)
            shutil.rmtree(d, ignore_errors=True)


def mounts_under(d):
    out = []
    for f in mountinfo():
        if f[4] == d or f[4].startswith(d + "/") or f[3].startswith(d + "/"):
            out.append(f"mount left behind: {' '.join(f[:6])}")
    return out


def unmount_under(d):
    points = sorted({f[4] for f in mountinfo() if f[4] == d or f[4].startswith(d + "/")}, key=len, reverse=True)
    for p in points:
        subprocess.run(["umount", "-l", p], stderr=subprocess.DEVNULL, check=False)


def config(base, args, cgroups_path, extra_mounts=(), resources=None):
    with open(os.path.join(REPO, "integration/rig/default_config.json")) as f:
        c = json.load(f)
    c["process"]["args"] = args
    c["mounts"].extend(extra_mounts)
    c["linux"]["cgroupsPath"] = cgroups_path
    if resources:
        c["linux"]["resources"].update(resources)
    return c


class Run:
    """A run directory `$TMPDIR/<prefix>-<pid>/`: `state/` (the --root), `bundles/`, `pids/`,
    `data/` (a bind source), and the run cgroup of the same name."""

    def __init__(self, prefix, rt, rootfs, tmpdir="/tmp"):
        self.rt = os.path.abspath(rt)
        self.rt_ino = os.stat(self.rt).st_ino, os.stat(self.rt).st_dev
        self.name = f"{prefix}-{os.getpid()}"
        clean_stale(tmpdir, prefix)
        self.dir = os.path.join(tmpdir, self.name)
        os.makedirs(self.dir)
        self.state = os.path.join(self.dir, "state")
        self.bundles = os.path.join(self.dir, "bundles")
        self.pids = os.path.join(self.dir, "pids")
        self.data = os.path.join(self.dir, "data")
        for d in (self.bundles, self.pids, self.data):
            os.makedirs(d)
        with open(os.path.join(self.data, "hello"), "w") as f:
            f.write("hello\n")
        self.rootfs = rootfs
        self.cg = RunCgroup(self.name)
        become_subreaper()

    def bundle(self, name, args, resources=None, mounts=None, cgroups_path=None):
        """A bundle with the rootfs template copied in, a bind mount of data/ (read-only), a
        tmpfs, and a cgroup with limits."""
        b = os.path.join(self.bundles, name)
        if not os.path.exists(b):
            os.makedirs(b)
            subprocess.run(["cp", "-a", self.rootfs, os.path.join(b, "rootfs")], check=True)
        if mounts is None:
            mounts = [
                {"destination": "/data", "type": "bind", "source": self.data, "options": ["rbind", "ro"]},
                {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "nosuid"]},
            ]
        if resources is None:
            resources = {"memory": {"limit": 64 << 20}, "pids": {"limit": 64}, "cpu": {"shares": 512}}
        c = config(b, args, cgroups_path or name, mounts, resources)
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(c, f, indent=1)
        return b

    def set_cgroups_path(self, bundle, path):
        p = os.path.join(bundle, "config.json")
        with open(p) as f:
            c = json.load(f)
        c["linux"]["cgroupsPath"] = path
        with open(p, "w") as f:
            json.dump(c, f, indent=1)

    def rt_argv(self, *args, root=None):
        return [self.rt, "--root", root or self.state, *args]

    def call(self, *args, timeout=30, root=None, **kw):
        r = run(self.rt_argv(*args, root=root), timeout=timeout, **kw)
        reap()
        return r

    def rt_processes(self):
        """Processes running this run's rt binary on this run's state root (copies of rt before
        their execve: an init that was never let go, an rt that hangs)."""
        out = []
        for n in os.listdir("/proc"):
            if not n.isdigit() or int(n) == os.getpid():
                continue
            try:
                st = os.stat(f"/proc/{n}/exe")
            except OSError:
                continue
            if (st.st_ino, st.st_dev) == self.rt_ino and pid_alive(int(n)) and self.state in cmdline(int(n)):
                out.append(int(n))
        return out

    def container_processes(self):
        """Processes whose root is inside one of the run's bundles."""
        out = []
        for n in os.listdir("/proc"):
            if not n.isdigit():
                continue
            try:
                root = os.readlink(f"/proc/{n}/root")
            except OSError:
                continue
            if root.startswith(self.bundles + "/") and pid_alive(int(n)):
                out.append(int(n))
        return out

    def leftovers(self, allowed_pid_files=()):
        out = []
        if os.path.isdir(self.state):
            for n in os.listdir(self.state):
                out.append(f"state left behind: {os.path.join(self.state, n)} ({', '.join(sorted(os.listdir(os.path.join(self.state, n)))) if os.path.isdir(os.path.join(self.state, n)) else 'file'})")
        out.extend(self.cg.leftovers())
        out.extend(mounts_under(self.dir))
        for p in self.rt_processes():
            out.append(f"rt process {p} ({cmdline(p)}) left")
        for p in self.container_processes():
            out.append(f"container process {p} ({cmdline(p)}) left")
        for n in os.listdir(self.pids):
            if n not in allowed_pid_files:
                out.append(f"file left behind: {os.path.join(self.pids, n)}")
        return sorted(set(out))

    def settle(self, allowed_pid_files=(), wait=3.0):
        """The leftovers, given exiting processes up to `wait` seconds to be gone."""
        end = time.monotonic() + wait
        while True:
            reap()
            left = self.leftovers(allowed_pid_files)
            if not left or time.monotonic() > end:
                return left
            time.sleep(0.02)

    def clean(self):
        """Puts the run back to empty after a trial that left something (so the next one
        starts clean): delete --force of every id, then by hand."""
        if os.path.isdir(self.state):
            for n in os.listdir(self.state):
                self.call("delete", "--force", n, timeout=30)
        for p in self.rt_processes() + self.container_processes():
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.cg.clean()
        unmount_under(self.bundles)
        if os.path.isdir(self.state):
            shutil.rmtree(self.state, ignore_errors=True)
        for n in os.listdir(self.pids):
            os.unlink(os.path.join(self.pids, n))
        reap()

    def remove(self, keep=False):
        self.clean()
        self.cg.remove()
        unmount_under(self.dir)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def one_clear_line(r):
    """An error as rt must give it: exit 1, one line on stderr (warnings aside), no panic."""
    problems = []
    if r.timed_out:
        problems.append(f"hung: {' '.join(r.argv[3:])} still running after {r.secs:.0f} s")
        return problems
    if "panicked" in r.err or r.rc not in (0, 1):
        problems.append(f"{' '.join(r.argv[3:])}: exit {r.rc}, panic or signal: {r.err.strip()[:300]!r}")
    elif r.rc == 1 and len(r.lines()) != 1:
        problems.append(f"{' '.join(r.argv[3:])}: exit 1 with {len(r.lines())} lines on stderr: {r.err.strip()[:300]!r}")
    return problems


def fmt_table(rows, head):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(head, widths))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def need_root():
    if os.geteuid() != 0:
        sys.exit("this lane needs root")


def lane_args(doc, quick_help, sections):
    """The arguments every lane shares: the rt under test, the rootfs, where runs go, a JSON
    report, and the sections to run (--only)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--rt", default=os.path.join(REPO, "target/release/rt"))
    ap.add_argument("--rootfs", default=os.path.join(REPO, "build/rootfs"))
    ap.add_argument("--tmpdir", default=os.environ.get("TMPDIR", "/tmp"))
    ap.add_argument("--only", nargs="*", choices=sections)
    ap.add_argument("--report", help="write the numbers and problems as JSON here")
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    return ap
