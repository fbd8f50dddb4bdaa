"""The scenario every engine runs (issue 12), as named steps. A step passes or fails with a message;
with --keep-going a failed step does not stop the rest (later steps that need what it made say so).

Host-side checks read the container's cgroup files through the lane's own cgroup mounts (the
sandbox's view of the host hierarchies: the same files), found from /proc/<init pid>/cgroup."""

import os
import re
import signal
import subprocess
import time

from engines import NotApplicable, StepError
from ptyrun import PtySession, PtyTimeout

MiB = 1024 * 1024
# The long-running container: TERM is trapped (a container's PID 1 has no default signal
# dispositions, so an untrapped SIGTERM would be ignored and `stop` would end in SIGKILL).
MAIN_CMD = ["sh", "-c", 'trap "echo got-term; exit 143" TERM; echo ready; while true; do sleep 1 & wait $!; done']
PROMPT = r"# $|# \x1b|\$ $"


class Failed(Exception):
    pass


def require(cond, msg):
    if not cond:
        raise Failed(msg)


# --- cgroup files on the host side --------------------------------------------------------------
def _mounts():
    """controller -> mountpoint (v1), and "" -> the cgroup2 mountpoint."""
    m = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            mp, (typ, _src, sopts) = pre.split()[4], post.split()[:3]
            if typ == "cgroup":
                for o in sopts.split(","):
                    m.setdefault(o, mp)
            elif typ == "cgroup2":
                m.setdefault("", mp)
    return m


def cgroup_dir(pid, controller):
    """The directory of pid's cgroup for controller (v1), or its cgroup2 dir if the controller is
    on the unified hierarchy (pure v2)."""
    mounts = _mounts()
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [ln.rstrip("\n").split(":", 2) for ln in f]
    for num, ctls, path in lines:
        if num != "0" and controller in ctls.split(","):
            return mounts[controller] + path
    for num, _ctls, path in lines:
        if num == "0" and "" in mounts:
            d = mounts[""] + path
            try:
                with open(mounts[""] + "/cgroup.controllers") as f:
                    if controller in f.read().split() or controller == "freezer":
                        return d
            except OSError:
                pass
    raise Failed(f"no {controller} cgroup for pid {pid}")


def read_cg(pid, controller, v1file, v2file):
    d = cgroup_dir(pid, controller)
    for fn in (v1file, v2file):
        p = os.path.join(d, fn)
        if os.path.exists(p):
            with open(p) as f:
                return p, f.read().strip()
    raise Failed(f"neither {v1file} nor {v2file} in {d}")


def freezer_state(pid):
    p, v = read_cg(pid, "freezer", "freezer.state", "cgroup.freeze")
    return {"1": "FROZEN", "0": "THAWED"}.get(v, v), p


# --- the steps ----------------------------------------------------------------------------------
class Scenario:
    def __init__(self, lane, eng, keep_going):
        self.lane, self.e, self.keep_going = lane, eng, keep_going
        self.results = []  # (name, ok, message); ok is True, False, or "n/a"
        self.made = set()  # container ids to remove at the end
        self.pfx = f"rtlane-{eng.name}"
        self.stopped = False

    def cid(self, what):
        c = f"{self.pfx}-{what}"
        self.made.add(c)
        return c

    def selected(self, name):
        """--only: whether this step is one to run (set-up and leftover checks always are)."""
        return not self.lane.args.only or name.startswith(("engine starts", "image loads", "afterwards")) \
            or any(o in name for o in self.lane.args.only)

    def step(self, name, fn, *args, force=False):
        """Runs one step and records its result; returns its value (True for None) or None when it
        failed, was not applicable or did not run. After a failure without --keep-going the
        following steps are recorded as not run."""
        if not force and not self.selected(name):
            return None
        if self.stopped:
            self.results.append((name, None, "not run (an earlier step failed; --keep-going runs all)"))
            return None
        t0 = time.monotonic()
        try:
            v = fn(*args)
            self.results.append((name, True, f"{time.monotonic() - t0:.1f}s"))
            self.lane.note(f"{self.e.name}: PASS {name}")
            return v if v is not None else True
        except NotApplicable as ex:
            self.results.append((name, "n/a", str(ex)))
            self.lane.note(f"{self.e.name}: N/A {name}: {ex}")
            return None
        except (Failed, StepError, PtyTimeout, OSError, ValueError, KeyError, IndexError, subprocess.TimeoutExpired) as ex:
            msg = str(ex).strip() or type(ex).__name__
            self.results.append((name, False, msg))
            self.lane.note(f"{self.e.name}: FAIL {name}: {msg}")
            if not self.keep_going:
                self.stopped = True
            return None

    def run(self, argv, timeout=60, **kw):
        return self.lane.run(argv, timeout=timeout, env=self.e.env, stdin=subprocess.DEVNULL, cwd=self.e.dir, **kw)

    # --- foreground runs ------------------------------------------------------------------------
    def s_run_echo(self):
        r = self.run(self.e.run_argv(self.cid("echo"), ["echo", "hello-from", self.e.name]))
        require(r.rc == 0, f"exit {r.rc}: {(r.err or r.out).strip()[-600:]}")
        require(f"hello-from {self.e.name}" in r.out, f"output {r.out!r}, stderr {r.err.strip()[-400:]!r}")

    def s_exit(self, code):
        cmd = ["true"] if code == 0 else ["sh", "-c", f"exit {code}"]
        r = self.run(self.e.run_argv(self.cid(f"exit{code}"), cmd))
        require(r.rc == code, f"exit {r.rc}, wanted {code}: {(r.err or r.out).strip()[-600:]}")

    def s_exit_killed(self):
        """The container's process dies of SIGKILL (sent from the host to its pid): the
        foreground run exits 137."""
        c = self.cid("exit137")
        p = self.lane.popen(self.e.run_argv(c, ["sleep", "300"]), env=self.e.env, cwd=self.e.dir)
        try:
            pid = self._wait_pid(c, p)
            os.kill(pid, signal.SIGKILL)
            rc = p.wait(60)
            require(rc == 137, f"exit {rc}, wanted 137: {p.output().strip()[-600:]}")
        finally:
            p.stop()

    def _wait_pid(self, c, p=None, timeout=60):
        end = time.monotonic() + timeout
        last = ""
        while time.monotonic() < end:
            if p is not None and p.poll() is not None:
                raise Failed(f"the run exited {p.returncode} early: {p.output().strip()[-600:]}")
            try:
                pid = self.e.init_pid(c)
                if pid > 0 and self.e.status(c) == "running":
                    return pid
            except (StepError, KeyError, ValueError) as ex:
                last = str(ex)
            time.sleep(0.3)
        raise Failed(f"{c} not running after {timeout}s {last}")

    def s_seccomp(self):
        r = self.run(self.e.run_argv(self.cid("seccomp"), ["grep", "Seccomp:", "/proc/self/status"]))
        require(r.rc == 0, f"exit {r.rc}: {(r.err or r.out).strip()[-600:]}")
        require(re.search(r"Seccomp:\s+2", r.out), f"/proc/self/status says {r.out.strip()!r}, wanted 'Seccomp: 2'")

    def s_privileged(self):
        """--privileged asks for every capability the kernel knows; what the host's root lacks
        (CAP_SYS_RESOURCE on the test machine) is dropped with a warning, the rest granted."""
        r = self.run(self.e.run_argv(self.cid("priv"), ["grep", "-E", "^Cap(Eff|Bnd):", "/proc/self/status"], privileged=True))
        require(r.rc == 0, f"exit {r.rc}: {(r.err or r.out).strip()[-600:]}")
        want = 0
        for line in open("/proc/self/status"):
            if line.startswith("CapBnd:"):
                want = int(line.split()[1], 16)
        got = {k: int(v, 16) for k, v in re.findall(r"^(CapEff|CapBnd):\s+([0-9a-f]+)", r.out, re.M)}
        # engines ask for the capabilities they know (Docker 20.10: up to CAP_AUDIT_READ, 37)
        base = want & ((1 << 38) - 1)
        eff, bnd = got.get("CapEff"), got.get("CapBnd")
        require(eff == bnd and eff is not None and eff & ~want == 0 and eff & base == base,
                f"container: {r.out.strip()!r}, wanted CapEff = CapBnd, at least {base:016x} and within "
                f"{want:016x} (the lane's own bounding set)")

    # --- a terminal -----------------------------------------------------------------------------
    def tty_session(self, argv, tag):
        log = open(os.path.join(self.lane.logdir, f"{self.e.name}-{tag}.tty"), "wb")
        s = PtySession(argv, env=self.e.env, rows=33, cols=111, log=log, cwd=self.e.dir)
        s.logfile = log
        return s

    def s_tty(self):
        """run -it sh: typed line echoed back, window size, resize, Ctrl-C, exit code."""
        steps = [("tty: prompt", None), ("tty: typed line read back", self._tty_echo),
                 ("tty: window size (stty size)", lambda s: self._tty_size(s, 33, 111)),
                 ("tty: resize (TIOCSWINSZ, SIGWINCH)", self._tty_resize),
                 ("tty: Ctrl-C interrupts the foreground job", self._tty_ctrl_c),
                 ("tty: exit code through the terminal", lambda s: self._tty_exit(s, 7))]
        if self.stopped or not any(self.selected(n) for n, _ in steps):
            for name, _ in steps:
                self.step(name, None)
            return
        c = self.cid("tty")
        s = self.tty_session(self.e.run_argv(c, ["sh"], tty=True), "run-it")
        try:
            if not self.step(steps[0][0], s.expect, PROMPT, 60, force=True):
                for name, _ in steps[1:]:
                    self.results.append((name, False, "not run: no shell prompt on the terminal"))
                return
            for name, fn in steps[1:]:
                self.step(name, fn, s)
        finally:
            s.close()
            s.logfile.close()

    def _tty_echo(self, s):
        s.send("echo ab''cd-$((6*7))\r")
        s.expect(r"abcd-42\r*\n", 15)

    def _tty_size(self, s, rows, cols):
        # engines size the container's terminal asynchronously after start: ask until it matches
        end = time.monotonic() + 10
        seen = []
        while True:
            s.send("stty size\r")
            m = s.expect(r"\n(\d+ \d+)\r*\n", 10)
            got = m.group(1).decode()
            seen.append(got)
            if got == f"{rows} {cols}":
                return
            if time.monotonic() > end:
                raise Failed(f"stty size said {seen}, wanted '{rows} {cols}'")
            time.sleep(0.5)

    def _tty_resize(self, s):
        s.set_size(44, 122)
        time.sleep(0.3)
        self._tty_size(s, 44, 122)

    def _tty_ctrl_c(self, s):
        s.send("sleep 60\r")
        time.sleep(1.0)
        t0 = time.monotonic()
        s.send("\x03")
        s.send("echo aft''er-$((2*21))\r")
        s.expect(r"after-42\r*\n", 15)
        require(time.monotonic() - t0 < 15, "sleep was not interrupted")

    def _tty_exit(self, s, code):
        s.send(f"exit {code}\r")
        rc = s.wait(30)
        require(rc == code, f"the CLI exited {rc}, wanted {code}")

    # --- the long-running container -------------------------------------------------------------
    def s_detached(self):
        c = self.main = self.cid("main")
        r = self.run(self.e.run_argv(c, MAIN_CMD, rm=False, detach=True, memory=96 * MiB, pids=77))
        require(r.rc == 0, f"exit {r.rc}: {(r.err or r.out).strip()[-600:]}")
        self.main_pid = self._wait_pid(c)

    def s_prestart_hook(self):
        self.e.check_prestart_hook(self.main, self.main_pid)

    def s_exec(self):
        r = self.run(self.e.exec_argv(self.main, ["echo", "exec-ok"]))
        require(r.rc == 0 and "exec-ok" in r.out, f"exit {r.rc}, out {r.out.strip()!r}, err {r.err.strip()[-600:]!r}")

    def s_exec_code(self):
        r = self.run(self.e.exec_argv(self.main, ["sh", "-c", "exit 5"]))
        require(r.rc == 5, f"exit {r.rc}, wanted 5: {(r.err or r.out).strip()[-600:]}")

    def s_exec_tty(self):
        s = self.tty_session(self.e.exec_argv(self.main, ["sh"], tty=True), "exec-it")
        try:
            s.expect(PROMPT, 60)
            s.send("echo ex''ec-$((6*7)); tty\r")
            s.expect(r"exec-42\r*\n", 15)
            s.expect(r"/dev/pts/\d+", 10)
            s.set_size(40, 100)
            time.sleep(0.3)
            self._tty_size(s, 40, 100)
            s.send("exit 4\r")
            rc = s.wait(30)
            require(rc == 4, f"exec -it exited {rc}, wanted 4")
        finally:
            s.close()
            s.logfile.close()

    def s_top(self):
        out = self.e.top(self.main)
        require(str(self.main_pid) in out.split() or "sleep" in out, f"neither the init pid {self.main_pid} nor sleep in: {out.strip()[-600:]!r}")

    def s_limit_memory(self):
        pid = self.main_pid
        p, v = read_cg(pid, "memory", "memory.limit_in_bytes", "memory.max")
        require(v == str(96 * MiB), f"{p} = {v}, wanted {96 * MiB}")
        rel = cgroup_dir(pid, "memory")
        require(self.e.cgroup_parent + "/" in rel, f"memory cgroup {rel} is not below the cgroup parent {self.e.cgroup_parent}")

    def s_limit_pids(self):
        if not self.e.pids_at_run:
            raise NotApplicable(self.e.pids_at_run_why)
        p, v = read_cg(self.main_pid, "pids", "pids.max", "pids.max")
        require(v == "77", f"{p} = {v}, wanted 77")

    def s_pause(self):
        self.e.pause(self.main)
        st, p = freezer_state(self.main_pid)
        require(st == "FROZEN", f"{p} = {st} after pause")
        status = self.e.status(self.main)
        require(status == "paused", f"engine says {status!r} after pause")

    def s_unpause(self):
        self.e.unpause(self.main)
        st, p = freezer_state(self.main_pid)
        require(st == "THAWED", f"{p} = {st} after unpause")
        status = self.e.status(self.main)
        require(status == "running", f"engine says {status!r} after unpause")

    def s_exec_works(self, what):
        r = self.run(self.e.exec_argv(self.main, ["echo", what]), timeout=30)
        require(r.rc == 0 and what in r.out, f"exec: exit {r.rc}: {(r.err or r.out).strip()[-600:]}")

    def s_update(self):
        self.e.update_memory(self.main, 128 * MiB)
        p, v = read_cg(self.main_pid, "memory", "memory.limit_in_bytes", "memory.max")
        require(v == str(128 * MiB), f"{p} = {v} after update, wanted {128 * MiB}")

    def s_stop(self):
        t0 = time.monotonic()
        self.e.stop_ctr(self.main, 30)
        took = time.monotonic() - t0
        code = self.e.exit_code(self.main)
        require(code == 143, f"exit code {code} after stop, wanted 143 (the TERM trap's)")
        require(took < 20, f"stop took {took:.1f}s: SIGTERM was not delivered (the engine waited for its timeout)")
        require(not os.path.exists(f"/proc/{self.main_pid}"), f"init pid {self.main_pid} still exists")

    def s_restart(self):
        self.e.start_ctr(self.main)
        pid = self._wait_pid(self.main)
        require(pid != self.main_pid, f"the same init pid {pid} after restart")
        self.main_pid = pid

    def s_kill(self):
        self.e.kill_ctr(self.main)
        code = self.e.wait_exit(self.main, 30)
        require(code == 137, f"exit code {code} after kill, wanted 137")

    def s_logs(self):
        out = self.e.logs(self.main)
        require(out.count("ready") >= 2 and "got-term" in out,
                f"logs should hold 'ready' twice (run, restart) and 'got-term' (stop): {out.strip()[-600:]!r}")

    def s_rm(self):
        self.e.rm(self.main)
        ids = self.e.list_ids()
        require(self.main not in ids, f"{self.main} still listed after rm: {ids}")

    def s_rm_force(self):
        c = self.cid("rmf")
        r = self.run(self.e.run_argv(c, ["sleep", "300"], rm=False, detach=True))
        require(r.rc == 0, f"run -d exited {r.rc}: {(r.err or r.out).strip()[-600:]}")
        pid = self._wait_pid(c)
        self.e.rm(c, force=True)
        require(c not in self.e.list_ids(), f"{c} still listed after rm -f")
        end = time.monotonic() + 10
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < end:
            time.sleep(0.2)
        require(not os.path.exists(f"/proc/{pid}"), f"init pid {pid} still exists after rm -f")

    def s_oom(self):
        c = self.cid("oom")
        if hasattr(self.e, "watch_events"):
            self.e.watch_events()
            time.sleep(0.5)
        since = time.time()
        # a second of life first: the engine's OOM watch is set up once the container runs
        cmd = ["sh", "-c", "sleep 1; exec dd if=/dev/zero of=/dev/null bs=256M count=1"]
        r = self.e.run_oom(c, cmd, 32 * MiB)
        require(r.rc == 137, f"exit {r.rc}, wanted 137 (OOM kill): {(r.err or r.out).strip()[-600:]}")
        ok, what = self.e.oom_evidence(c, since)
        require(ok, f"no OOM report from the engine: {what}")

    # --- nothing left ---------------------------------------------------------------------------
    def cleanup_containers(self):
        """Removes what the scenario made (not a step: also after failures)."""
        for c in sorted(self.made):
            try:
                if c in self.e.list_ids() or f"task:{c}" in self.e.list_ids():
                    self.e.rm(c, force=True)
            except (StepError, subprocess.TimeoutExpired, OSError) as ex:
                self.lane.note(f"{self.e.name}: cleanup of {c}: {ex}")

    def s_no_containers(self):
        ids = self.e.list_ids()
        require(not ids, f"still listed: {ids}")

    def s_no_runtime_state(self):
        left = []
        for d in self.e.runtime_state_dirs():
            for root, dirs, files in os.walk(d):
                for n in dirs + files:
                    p = os.path.join(root, n)
                    if not os.path.isdir(p) or not os.listdir(p):
                        left.append(p)
        left = [p for p in left if not self._state_ok(p)]
        require(not left, f"runtime state left: {left[:10]}")

    def _state_ok(self, p):
        # an empty per-namespace directory (containerd: <runc-root>/<ns>, docker: .../moby) and
        # podman's own bookkeeping files are not container state
        return os.path.isdir(p) and not os.listdir(p) or "/libpod-tmp/" in p and not re.search(r"/[0-9a-f]{64}", p)

    def s_no_cgroups(self):
        left = []
        for mp in sorted(set(_mounts().values())):
            keep = {mp + c for c in self.e.expected_cgroups()}
            for root, dirs, _files in os.walk(mp + self.e.cgroup_parent):
                for n in dirs:
                    p = os.path.join(root, n)
                    if p not in keep:
                        left.append(p)
                    else:
                        with open(p + "/cgroup.procs") as f:
                            if f.read().split():
                                left.append(p + " (with processes)")
        require(not left, f"cgroups left below {self.e.cgroup_parent}: {left[:10]}")

    def s_no_mounts(self):
        left = [mp for mp in self.lane.mounts_below(self.e.dir) if mp not in self.e.expected_mounts()]
        require(not left, f"mounts left: {left[:10]}")

    def s_no_processes(self):
        left = self.lane.foreign_procs(allow=self.e.daemon_pids(), allow_children_of_daemon=True)
        require(not left, f"processes left: {left[:10]}")

    # --- the whole scenario ---------------------------------------------------------------------
    def run_all(self):
        S = self.step
        S("run and echo", self.s_run_echo)
        for code in (0, 3):
            S(f"exit code {code}", self.s_exit, code)
        S("exit code 137 (SIGKILL from the host)", self.s_exit_killed)
        S("seccomp: Seccomp: 2 in the container", self.s_seccomp)
        S("privileged: every capability the host's root holds", self.s_privileged)
        self.s_tty()
        detached = S("detached run (memory 96 MiB, pids 77)", self.s_detached)
        if detached or self.stopped or (self.lane.args.only and not self.results[-1][0].startswith("detached")):
            if hasattr(self.e, "check_prestart_hook"):
                S("prestart hook ran (libnetwork-setkey: the sandbox key is the container's netns)", self.s_prestart_hook)
            S("exec", self.s_exec)
            S("exec exit code 5", self.s_exec_code)
            S("exec -it (terminal, size, exit code 4)", self.s_exec_tty)
            S("ps/top", self.s_top)
            S("memory limit on the host side", self.s_limit_memory)
            S("pids limit on the host side", self.s_limit_pids)
            S("pause: frozen on the host", self.s_pause)
            S("unpause: thawed on the host, running", self.s_unpause)
            S("unpause: exec works again", self.s_exec_works, "thawed")
            S("update --memory 128 MiB on the host side", self.s_update)
            S("stop: SIGTERM, exit 143", self.s_stop)
            S("restart: running again, new pid", self.s_restart)
            S("restart: exec works", self.s_exec_works, "restarted")
            S("kill: exit 137", self.s_kill)
            S("logs", self.s_logs)
            S("rm", self.s_rm)
        else:
            for n in ("exec", "exec exit code 5", "exec -it", "ps/top", "memory limit", "pids limit", "pause", "unpause",
                      "unpause: exec", "update --memory", "stop", "restart", "restart: exec", "kill", "logs", "rm"):
                self.results.append((n, False, "not run: the detached run failed"))
        S("rm -f of a running container", self.s_rm_force)
        S("OOM kill: exit 137 and the engine reports OOM", self.s_oom)
        self.stopped = False  # the leftover checks always run
        self.cleanup_containers()
        if hasattr(self.e, "stop_events"):
            self.e.stop_events()
        S("afterwards: no containers listed", self.s_no_containers)
        S("afterwards: no runtime state", self.s_no_runtime_state)
        S("afterwards: no cgroups", self.s_no_cgroups)
        S("afterwards: no container mounts", self.s_no_mounts)
        S("afterwards: no container processes", self.s_no_processes)
