#!/usr/bin/python3
"""The engine lane: containerd, Podman and Docker (Debian packages) drive a runtime binary through
one scenario each. See README.md beside this file.

usage: lane.py RUNTIME [ENGINE...] [--keep-going] [--record] [--logdir DIR] [--keep-tmp]
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import engines  # noqa: E402
import record  # noqa: E402
import sandbox  # noqa: E402
from scenario import Scenario  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
BASE_PACKAGES = ["umoci", "skopeo", "busybox-static"]

# Host paths outside /run (the lane's /run is a private tmpfs) that an engine writes to when not
# told otherwise. None may appear while the lane runs an engine (the lane configures every engine
# away from them).
FOOTPRINT = ["/var/lib/docker", "/var/lib/containerd", "/var/lib/containers", "/opt/containerd", "/root/.docker", "/root/.config/containers",
             "/root/.local/share/containers", "/etc/cni/net.d", "/etc/containers/networks", "/var/lib/cni",
             "/dev/shm/libpod_lock", "/dev/shm/libpod_rootless_lock_0", "/var/tmp/containers", "/var/run/netns"]


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err


class BgProc:
    """A CLI started in the background, its output in files (a container may inherit pipes)."""

    def __init__(self, lane, argv, env, cwd):
        self.lane = lane
        self.fo = tempfile.TemporaryFile(dir=lane.tmp)
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.fo, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        self.argv = argv

    def poll(self):
        return self.p.poll()

    @property
    def returncode(self):
        return self.p.returncode

    def wait(self, timeout):
        return self.p.wait(timeout)

    def output(self):
        self.fo.seek(0)
        return self.fo.read().decode(errors="replace")

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.lane.logcmd(self.argv, self.p.returncode, self.output(), "")
        self.fo.close()


class Lane:
    def __init__(self, args):
        self.args = args
        self.tmp = args.tmp
        self.logdir = args.logdir
        self.log = open(os.path.join(self.logdir, "lane.log"), "a")
        self.seq = 0
        self.image_tar = None

    def note(self, msg):
        self.log.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
        self.log.flush()

    def say(self, msg):
        print(msg, flush=True)
        self.note(msg)

    def logcmd(self, argv, rc, out, err):
        self.note(f"$ {' '.join(argv)}\n  -> {rc}" + (f"\n  out: {out.strip()[-3000:]}" if out.strip() else "")
                  + (f"\n  err: {err.strip()[-3000:]}" if err.strip() else ""))

    def run(self, argv, timeout=60, env=None, input=None, stdin=None, cwd=None):
        with tempfile.TemporaryFile(dir=self.tmp) as fo, tempfile.TemporaryFile(dir=self.tmp) as fe:
            kw = {"input": input.encode() if isinstance(input, str) else input} if input is not None else \
                {"stdin": stdin if stdin is not None else subprocess.DEVNULL}
            try:
                p = subprocess.run(argv, stdout=fo, stderr=fe, env=env, timeout=timeout, cwd=cwd, **kw)
                rc = p.returncode
                if rc < 0:
                    rc = 128 - rc
            except subprocess.TimeoutExpired:
                rc = 124
            fo.seek(0)
            fe.seek(0)
            out, err = fo.read().decode(errors="replace"), fe.read().decode(errors="replace")
            if rc == 124:
                err += f"\n(timed out after {timeout}s)"
        self.logcmd(argv, rc, out, err)
        return Result(rc, out, err)

    def popen(self, argv, env=None, cwd=None):
        self.note(f"$ {' '.join(argv)} &")
        return BgProc(self, argv, env, cwd)

    @staticmethod
    def mounts_below(d):
        d = d.rstrip("/") + "/"
        out = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4].encode().decode("unicode_escape")
                if mp.startswith(d):
                    out.append(mp)
        return out

    @staticmethod
    def sandbox_procs():
        """Every pid in the lane's cgroups (inside the lane's cgroup namespace: every hierarchy)."""
        pids = set()
        for mp in sandbox_mounts():
            for root, _dirs, files in os.walk(mp):
                if "cgroup.procs" in files:
                    try:
                        with open(os.path.join(root, "cgroup.procs")) as f:
                            pids.update(int(x) for x in f.read().split())
                    except OSError:
                        pass
        return pids

    def foreign_procs(self, allow=(), allow_children_of_daemon=False):
        """Processes in the lane's cgroups that are neither the lane nor allowed (nor, optionally,
        descendants of the allowed ones): [(pid, cmdline)]."""
        allow = set(allow) | {os.getpid()}
        left = []
        for p in sorted(self.sandbox_procs()):
            if p in allow or (allow_children_of_daemon and self._descends(p, allow)):
                continue
            left.append((p, cmdline(p)))
        return [x for x in left if x[1] is not None]

    @staticmethod
    def _descends(p, ancestors):
        for _ in range(64):
            try:
                with open(f"/proc/{p}/stat") as f:
                    p = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                return False
            if p in ancestors:
                return True
            if p <= 1:
                return False
        return False


def cmdline(p):
    try:
        with open(f"/proc/{p}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip() or f"[{open(f'/proc/{p}/comm').read().strip()}]"
    except OSError:
        return None


def sandbox_mounts():
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            if post.split()[0] in ("cgroup", "cgroup2"):
                out.append(pre.split()[4])
    return out


# --- packages ------------------------------------------------------------------------------------
def missing_packages(pkgs):
    miss = []
    for p in pkgs:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True)
        if r.returncode != 0 or "install ok installed" not in r.stdout:
            miss.append(p)
    return miss


def install(pkgs):
    miss = missing_packages(pkgs)
    if not miss:
        return
    print(f"lane: installing {' '.join(miss)} (apt)", flush=True)
    # No init system here starts services, but the packages' maintainer scripts try: a
    # policy-rc.d that says no (101) keeps invoke-rc.d from starting dockerd or containerd.
    policy = "/usr/sbin/policy-rc.d"
    made_policy = False
    if not os.path.exists(policy):
        with open(policy, "w") as f:
            f.write("#!/bin/sh\n# written by rt's engine lane for one apt-get run, removed after it\nexit 101\n")
        os.chmod(policy, 0o755)
        made_policy = True
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    before = set(int(p) for p in os.listdir("/proc") if p.isdigit())
    try:
        cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + miss
        if subprocess.run(cmd, env=env).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, check=True)
            subprocess.run(cmd, env=env, check=True)
    finally:
        if made_policy:
            os.unlink(policy)
        # had a maintainer script started a daemon anyway, it is ours (our apt-get started it): stop it
        for p in set(int(p) for p in os.listdir("/proc") if p.isdigit()) - before:
            try:
                with open(f"/proc/{p}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if comm in ("dockerd", "containerd", "docker-proxy", "podman", "conmon") or comm.startswith("containerd-shim"):
                print(f"lane: the package install started {comm} (pid {p}): stopping it", flush=True)
                try:
                    os.kill(p, signal.SIGTERM)
                except ProcessLookupError:
                    pass
    left = missing_packages(miss)
    if left:
        sys.exit(f"lane: still missing after apt-get: {left}")


# --- the image -----------------------------------------------------------------------------------
def build_image(lane):
    """busybox-static (integration/rootfs.sh, no probe) as an OCI image made with umoci, and a
    docker-archive of it made with skopeo: what `podman load`, `ctr images import` and
    `docker load` take. No registry, no network."""
    d = os.path.join(lane.tmp, "image")
    os.makedirs(d)
    layout, bundle = os.path.join(d, "oci"), os.path.join(d, "bundle")
    steps = [
        ["umoci", "init", "--layout", layout],
        ["umoci", "new", "--image", layout + ":busybox"],
        ["umoci", "unpack", "--image", layout + ":busybox", bundle],
        ["rm", "-rf", os.path.join(bundle, "rootfs")],
        ["sh", os.path.join(REPO, "integration", "rootfs.sh"), os.path.join(bundle, "rootfs"), "none"],
        ["umoci", "repack", "--image", layout + ":busybox", bundle],
        ["umoci", "config", "--image", layout + ":busybox", "--config.cmd", "sh", "--config.workingdir", "/",
         "--config.env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        engines.private_var_lib(["skopeo", "copy", "--quiet", "oci:" + layout + ":busybox", "docker-archive:" + os.path.join(d, "busybox.tar") + ":" + engines.IMAGE]),
    ]
    for argv in steps:
        r = lane.run(argv, timeout=180)
        if r.rc != 0:
            raise engines.StepError(f"image: {' '.join(argv)} exited {r.rc}: {(r.err or r.out).strip()[-800:]}")
    lane.image_tar = os.path.join(d, "busybox.tar")


# --- a private /run -----------------------------------------------------------------------------
# Some paths below /run are not configurable: shim sockets go to /run/containerd/s/ whatever
# containerd's config says, dockerd uses a containerd it finds at /run/containerd/containerd.sock,
# and Podman passes no --root, so the runtime keeps its state in its default /run/<name>
# (/run/runc, /run/rt). In the lane's mount namespace a tmpfs covers /run: the engines run as they
# would on their own machine, nothing reaches the host's /run, and what they leave is visible.
def private_run(lane):
    sandbox.mount("lane-run", "/run", "tmpfs", sandbox.MS_NOSUID | sandbox.MS_NODEV, "mode=755")
    os.mkdir("/run/lock")
    os.chmod("/run/lock", 0o1777)
    for d in ("user", "mount"):
        os.mkdir("/run/" + d)
    os.symlink("/dev/shm", "/run/shm")
    lane.run_baseline = set(os.listdir("/run"))
    # dockerd writes /etc/docker/key.json whatever its config says
    if os.path.isdir("/etc/docker"):
        sandbox.mount("lane-etc-docker", "/etc/docker", "tmpfs", sandbox.MS_NOSUID | sandbox.MS_NODEV, "mode=755")


def private_run_left(lane):
    left = []
    for root, dirs, files in os.walk("/run"):
        left += [os.path.join(root, n) for n in files]
        left += [os.path.join(root, n) for n in dirs if os.path.islink(os.path.join(root, n))]
    return [p for p in left if p != "/run/shm"]


def private_run_reset(lane):
    for n in set(os.listdir("/run")) - lane.run_baseline:
        p = "/run/" + n
        if os.path.isdir(p) and not os.path.islink(p):
            umount_below(lane, p)
            rmtree_here(p)
        else:
            os.unlink(p)


# --- one engine ----------------------------------------------------------------------------------
def rmtree_here(path):
    """rm -rf that stays on this file system (never into a mount still there)."""
    if os.path.exists(path):
        subprocess.run(["rm", "-rf", "--one-file-system", path])


def umount_below(lane, d):
    for mp in sorted(lane.mounts_below(d), key=len, reverse=True):
        r = subprocess.run(["umount", "-l", mp], capture_output=True, text=True)
        lane.note(f"umount -l {mp}: {r.returncode} {r.stderr.strip()}")


def remove_cgroups(parent):
    for mp in set(sandbox_mounts()):
        d = mp + parent
        for root, _dirs, _files in os.walk(d, topdown=False):
            try:
                os.rmdir(root)
            except OSError:
                pass


def run_engine(lane, name, runtime):
    cls = engines.ENGINES[name]
    t0 = time.monotonic()
    results = []
    calls_dir = None
    real_runtime = runtime
    if lane.args.record:
        runtime, calls_dir = record.make_wrapper(runtime, os.path.join(lane.tmp, "record-" + name))
    footprint = {p for p in FOOTPRINT if os.path.lexists(p)}
    lane.say(f"== {name}: {real_runtime}" + (" (recorded through a wrapper)" if calls_dir else ""))
    eng = None
    scen = None

    def after(step, ok, msg=""):
        results.append((step, ok, msg))
        lane.note(f"{name}: {'PASS' if ok else 'FAIL'} {step}" + (f": {msg}" if msg else ""))
    try:
        eng = cls(lane, runtime)
        scen = Scenario(lane, eng, lane.args.keep_going)
        if scen.step("engine starts with the runtime", eng.start) and scen.step("image loads", eng.load_image):
            scen.run_all()
    except KeyboardInterrupt:
        lane.say(f"{name}: interrupted, cleaning up")
        raise
    finally:
        results = scen.results if scen else [("engine set-up", False, "failed before the scenario")]
        if eng is not None:
            if scen:
                scen.cleanup_containers()
            try:
                eng.remove_image()
            except Exception as ex:  # noqa: BLE001 - cleanup goes on
                lane.note(f"{name}: remove image: {ex}")
            eng.stop()
            # after the engine stopped: nothing of it may run, be mounted or stay on the host
            left = lane.foreign_procs()
            after("after stop: no process left", not left, f"left: {left}" if left else "")
            for p, _cmd in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5 if left else 0)
            umount_below(lane, eng.dir)
            # the private /run: empty directories (a runtime's --root, containerd's s/ and fifo/)
            # are fine, files (state.json, sockets, fifos, pid files) are not
            left_run = private_run_left(lane)
            after("after stop: nothing left in /run (runtime state, shim sockets)", not left_run,
                  f"left: {left_run[:10]}" if left_run else "")
            private_run_reset(lane)
            new_fp = sorted(p for p in FOOTPRINT if os.path.lexists(p) and p not in footprint)
            after("after stop: nothing new on the host", not new_fp,
                  f"new on the host (not removed: it could be someone else's): {new_fp}" if new_fp else "")
            remove_cgroups(eng.cgroup_parent)
            if calls_dir:
                calls = record.load_calls(calls_dir)
                summ = record.summarize(calls, scen.made if scen else (), lane.tmp)
                fn = os.path.join(lane.logdir, f"invocations-{name}.md")
                with open(fn, "w") as f:
                    record.report(f"{name} ({len(calls)} calls)", summ, f)
                lane.say(f"{name}: {len(calls)} runtime calls, distinct invocations in {fn}")
            if not lane.args.keep_tmp:
                rmtree_here(eng.dir)
    wall = time.monotonic() - t0
    return results, wall


def main_inside(args, sb):
    lane = Lane(args)
    # Ctrl-C (SIGINT, even if the lane was started with it ignored) and SIGTERM unwind the lane
    # through its finally blocks: containers removed, engines stopped by pid, directories removed
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    private_run(lane)
    lane.note(f"lane {os.getpid()}: tmp {lane.tmp}; cgroups {open('/proc/self/cgroup').read()!r}")
    build_image(lane)
    summary = []
    failed_any = False
    for name in args.engines:
        results, wall = run_engine(lane, name, args.runtime)
        npass = sum(1 for _, ok, _ in results if ok is True)
        nna = sum(1 for _, ok, _ in results if ok == "n/a")
        nfail = len(results) - npass - nna
        failed_any = failed_any or nfail > 0
        lines = [f"{name}: {npass} passed, {nfail} failed" + (f", {nna} not applicable" if nna else "") + f" ({wall:.0f}s)"]
        for step, ok, msg in results:
            if ok is not True and ok != "n/a":
                lines.append(f"  FAILED {step}: {msg}")
        for step, ok, msg in results:
            if ok == "n/a":
                lines.append(f"  n/a    {step}: {msg}")
        summary.append("\n".join(lines))
        lane.say(summary[-1])
    print("\n== engine lane: " + os.path.basename(args.runtime) + "\n" + "\n".join(summary), flush=True)
    with open(os.path.join(args.logdir, "summary.txt"), "w") as f:
        f.write("\n".join(summary) + "\n")
    return 1 if failed_any else 0


def main():
    ap = argparse.ArgumentParser(description="containerd, Podman and Docker drive RUNTIME through one scenario each")
    ap.add_argument("runtime", help="the runtime binary (e.g. target/release/rt, /usr/sbin/runc)")
    ap.add_argument("engines", nargs="*", choices=[[]] + list(engines.ENGINES), default=[],
                    help="engines to run (default: containerd podman docker)")
    ap.add_argument("--keep-going", "-k", action="store_true", help="a failed step does not stop the engine's scenario")
    ap.add_argument("--record", action="store_true",
                    help="put a wrapper between engine and runtime that records every call (invocations-ENGINE.md)")
    ap.add_argument("--logdir", default=os.path.join(REPO, "target", "engines"), help="logs and summaries (default target/engines)")
    ap.add_argument("--only", action="append", default=[], metavar="TEXT",
                    help="run only the steps whose name contains TEXT (repeatable; debugging: steps on the "
                         "long-running container need 'detached')")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the engines' directories (debugging)")
    ap.add_argument("--no-install", action="store_true", help="do not apt-get install missing packages")
    args = ap.parse_args()
    args.engines = args.engines or ["containerd", "podman", "docker"]
    if os.geteuid() != 0:
        sys.exit("lane: run as root")
    args.runtime = os.path.abspath(args.runtime)
    if not os.access(args.runtime, os.X_OK):
        sys.exit(f"lane: {args.runtime} is not an executable")
    pkgs = BASE_PACKAGES + [p for e in args.engines for p in engines.ENGINES[e].packages]
    if not args.no_install:
        install(pkgs)
    elif missing_packages(pkgs):
        sys.exit(f"lane: missing packages: {missing_packages(pkgs)}")
    os.makedirs(args.logdir, exist_ok=True)
    for f in os.listdir(args.logdir):
        if f.endswith((".log", ".tty", ".md", ".txt")):
            os.unlink(os.path.join(args.logdir, f))
    base = os.environ.get("ENGINE_TMPDIR", "/tmp")
    args.tmp = os.path.join(base, f"rt-engines-{os.getpid()}")
    os.makedirs(args.tmp, mode=0o711)
    t0 = time.monotonic()
    try:
        rc = sandbox.run_inside("rt-engines", lambda sb: main_inside(args, sb))
    finally:
        # the inner's mounts died with its mount namespace; the directories stay ours to remove
        if not args.keep_tmp:
            rmtree_here(args.tmp)
    print(f"lane: wall time {time.monotonic() - t0:.0f}s, exit status {rc}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
