"""The lane's cgroup sandbox: a fresh cgroup below the lane's OWN cgroup in every hierarchy, and a
cgroup + mount namespace rooted there, so that an engine's absolute cgroup parent ("/rt-lane-docker")
lands below our own cgroup on the host whatever the host's layout (here the memory controller has
us at /process_api/<id>, the others at /).

Shape (as ../../../shared/tools/cgroup-sandbox, but self-contained):
  outer (the supervisor, stays on the host's view)
    creates <mountpoint><own>/rt-engines-<pid> in every hierarchy under /sys/fs/cgroup, forks
  inner
    joins them, unshare(CLONE_NEWCGROUP | CLONE_NEWNS), makes every mount private, covers
    /sys/fs/cgroup with a tmpfs and mounts the same hierarchies again there (rooted at the sandbox
    cgroups), moves itself into a leaf "lane" (cgroup v2's no-internal-processes rule), runs the lane
  outer, afterwards (however the inner ended)
    thaws and kills by pid whatever is still in the sandbox cgroups (only processes the lane
    started can be there), removes the cgroups bottom-up.
Host mounts are never unmounted or remounted: the inner's mounts live and die with its namespace.
"""

import ctypes
import os
import signal
import sys
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def mount(src, target, fstype, flags=0, data=None):
    _check(_libc.mount(src.encode() if src else None, target.encode(), fstype.encode() if fstype else None,
                       flags, data.encode() if data else None), f"mount {fstype or ''} {target}")


def unshare(flags):
    _check(_libc.unshare(flags), "unshare")


def _controllers():
    with open("/proc/cgroups") as f:
        return {line.split()[0] for line in f if not line.startswith("#")}


def hierarchies():
    """[(type, mountpoint, key)] for the cgroup mounts under /sys/fs/cgroup. key is the sorted
    controller list as /proc/self/cgroup names it ("cpu", "name=systemd"), "" for cgroup2."""
    ctl = _controllers()
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            pre, post = pre.split(), post.split()
            root, mp, typ, sopts = pre[3], pre[4], post[0], post[2]
            if typ not in ("cgroup", "cgroup2"):
                continue
            if not (mp.startswith("/sys/fs/cgroup/") or (mp == "/sys/fs/cgroup" and typ == "cgroup2")):
                continue
            if root != "/":
                raise RuntimeError(f"cgroup mount {mp} has root {root}: already in a cgroup namespace?")
            if typ == "cgroup2":
                key = ""
            else:
                key = ",".join(sorted(o for o in sopts.split(",") if o in ctl or o.startswith("name=")))
            out.append((typ, mp, key))
    if not out:
        raise RuntimeError("no cgroup hierarchies under /sys/fs/cgroup")
    return out


def own_cgroups():
    """key -> own path, from /proc/self/cgroup ("" is the cgroup2 line)."""
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            num, ctl, path = line.rstrip("\n").split(":", 2)
            own["" if num == "0" else ",".join(sorted(ctl.split(",")))] = path
    return own


class Sandbox:
    def __init__(self, tag):
        self.name = f"{tag}-{os.getpid()}"
        self.hier = []  # (type, mountpoint, key, host dir of the sandbox cgroup)

    def create(self):
        own = own_cgroups()
        for typ, mp, key in hierarchies():
            if key not in own:
                raise RuntimeError(f"no line for {mp} ({key or 'cgroup2'}) in /proc/self/cgroup")
            d = mp + own[key].rstrip("/") + "/" + self.name
            os.mkdir(d)
            self.hier.append((typ, mp, key, d))
            if typ == "cgroup" and os.path.exists(d + "/cpuset.cpus"):  # a new v1 cpuset starts empty
                for f in ("cpuset.cpus", "cpuset.mems"):
                    with open(os.path.dirname(d) + "/" + f) as src, open(d + "/" + f, "w") as dst:
                        dst.write(src.read())

    def enter(self):
        """In the inner process: join, unshare, remount. Afterwards /proc/self/cgroup says "/"
        (the cgroup2 line "/lane") and /sys/fs/cgroup shows only the sandbox subtrees."""
        for _typ, _mp, _key, d in self.hier:
            with open(d + "/cgroup.procs", "w") as f:
                f.write(str(os.getpid()))
        links = {}
        for e in os.listdir("/sys/fs/cgroup"):
            p = "/sys/fs/cgroup/" + e
            if os.path.islink(p):
                links[e] = os.readlink(p)
        unshare(CLONE_NEWCGROUP | CLONE_NEWNS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        v2_alone = any(mp == "/sys/fs/cgroup" for _t, mp, _k, _d in self.hier)
        fl = MS_NOSUID | MS_NODEV | MS_NOEXEC
        if v2_alone:
            mount("lane-sandbox", "/sys/fs/cgroup", "tmpfs", fl, "size=64k,mode=755")
            mount("cgroup2", "/sys/fs/cgroup", "cgroup2", fl)
        else:
            mount("lane-sandbox", "/sys/fs/cgroup", "tmpfs", fl, "mode=755")
            for typ, mp, key, _d in self.hier:
                os.makedirs(mp, exist_ok=True)
                if typ == "cgroup2":
                    mount("cgroup2", mp, "cgroup2", fl)
                else:
                    opts = key if any(not k.startswith("name=") for k in key.split(",")) else "none," + key
                    mount("cgroup", mp, "cgroup", fl, opts)
            for name, target in links.items():
                if not os.path.lexists("/sys/fs/cgroup/" + name):
                    os.symlink(target, "/sys/fs/cgroup/" + name)
        for typ, mp, _key, _d in self.hier:
            if typ == "cgroup2":
                os.makedirs(mp + "/lane", exist_ok=True)
                with open(mp + "/lane/cgroup.procs", "w") as f:
                    f.write(str(os.getpid()))
        with open("/proc/self/cgroup") as f:
            bad = [line for line in f if line.rstrip("\n").split(":", 2)[2] not in ("/", "/lane")]
        if bad:
            raise RuntimeError("cgroup namespace not rooted at the sandbox: " + "".join(bad))

    def procs(self):
        """Every pid in the sandbox cgroups (host view)."""
        pids = set()
        for _typ, _mp, _key, d in self.hier:
            for root, _dirs, files in os.walk(d):
                if "cgroup.procs" in files:
                    try:
                        with open(root + "/cgroup.procs") as f:
                            pids.update(int(x) for x in f.read().split())
                    except OSError:
                        pass
        return pids

    def destroy(self, log=sys.stderr):
        """Thaw, kill by pid what is left inside, remove the cgroups bottom-up."""
        me = os.getpid()
        for rnd in range(8):
            for _typ, _mp, _key, d in self.hier:
                for root, _dirs, files in os.walk(d):
                    for fn, val in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                        if fn in files:
                            try:
                                with open(root + "/" + fn, "w") as f:
                                    f.write(val)
                            except OSError:
                                pass
            for p in sorted(self.procs() - {me}):
                try:
                    with open(f"/proc/{p}/cmdline", "rb") as f:
                        cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
                except OSError:
                    cmd = "?"
                print(f"lane: sandbox: killing leftover pid {p} ({cmd})", file=log)
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.3 if rnd == 0 else 1)
            left = False
            for _typ, _mp, _key, d in self.hier:
                for root, _dirs, _files in os.walk(d, topdown=False):
                    try:
                        os.rmdir(root)
                    except OSError:
                        pass
                left = left or os.path.isdir(d)
            if not left:
                return True
        for _typ, _mp, _key, d in self.hier:
            if os.path.isdir(d):
                print(f"lane: sandbox: WARNING: could not remove {d}", file=log)
        return False


def run_inside(tag, body):
    """Runs body() (returns an exit status) in a fresh sandbox; returns its exit status.
    SIGINT/SIGTERM reach the inner (its own handlers clean up); the outer then cleans the rest."""
    sb = Sandbox(tag)
    sb.create()
    try:
        pid = os.fork()
        if pid == 0:
            rc = 125
            try:
                sb.enter()
                rc = body(sb)
            except KeyboardInterrupt:
                rc = 130
            except BaseException as e:  # noqa: BLE001 - report and exit, never fall back into the outer
                import traceback
                traceback.print_exc()
                print(f"lane: {e}", file=sys.stderr)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(rc)

        def forward(sig, _frame):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        # Ctrl-C in a terminal reaches the whole process group, the inner included: the outer
        # ignores SIGINT and only forwards SIGTERM/SIGHUP.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGHUP, forward)
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    finally:
        sb.destroy()
