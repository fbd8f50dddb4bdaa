#!/usr/bin/env python3
"""The fault lane: rt killed at every step, out of resources, its stdio closed.

    integration/faults/faults.py [--quick] [--rt PATH] [--rootfs DIR] [--only SECTION...]
                                 [--report FILE] [--keep]

Sections (all by default):
  kill    SIGKILL to rt at each of its system calls in turn, for create, start, run -d, run (in
          the foreground), kill, delete and delete --force (strace -e inject=SYSCALL:
          signal=KILL:when=K, one trial per call rt made in an unhurt run), then strace's own
          walk, -e inject=all:signal=KILL:when=N for N = 1, 2, ... until rt gets through.
  init    the same with -f, at each call of the container's init (and what else rt clones)
          during create and run -d: the init dies, rt must report it in words and undo all.
  errors  failing calls injected the same way: ENOSPC on the state dir and state.json, EMFILE
          on every open, ENOMEM and EAGAIN on the clone, EBUSY on every cgroup rmdir (once, and
          always), EINTR once on each call where it can come and always on the blocking ones.
  root    --root on a read-only and on a full filesystem, a file, a symlink.
  stdio   rt's stdin, stdout and stderr closed, or a pipe nobody reads any more.

After every trial: `rt state ID` and `rt list` answer (a half-made container is `creating` or
`stopped`, never an error), `rt delete --force ID` exits 0, and then nothing is left: no state
dir, no cgroup (every hierarchy), mount, process (init, rt copy or container process), fifo or
temporary pid file; a create killed before its state dir existed, or one that failed, leaves
nothing without any delete. A failed call says what failed in one line and exits 1.

--quick (CI) samples the kill points (about 30 a verb) and the error points; the full run
tries every one. Needs root, strace (installed if missing) and the test rootfs (`make
rootfs`). Exit status 1 if any trial found a problem; the report lists them all."""

import collections
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import log  # noqa: E402

STATUSES = {"creating", "created", "running", "paused", "stopped"}
# What a killed call may leave a container as (nobody is creating it any more).
AFTER_KILL = {"created", "running", "stopped"}
SYSCALL = re.compile(r"^(?:(\d+) +)?([a-z0-9_]+)\(")


class Lane:
    def __init__(self, args):
        self.a = args
        self.run = lib.Run("rt-faults", args.rt, args.rootfs, args.tmpdir)
        self.b = self.run.bundle("sleeper", ["/bin/sleep", "3600"])
        self.bt = self.run.bundle("quick", ["/bin/true"])
        for b in (self.b, self.bt):
            self.no_cgroups_path(b)
        self.n = collections.Counter()
        self.problems = []
        self.stats = collections.OrderedDict()
        self.messages = collections.Counter()
        self.trace = os.path.join(self.run.dir, "trace")

    @staticmethod
    def no_cgroups_path(b):
        # Without cgroupsPath, rt's default: <its own cgroup>/<id>, a cgroup per container,
        # below the run cgroup.
        p = os.path.join(b, "config.json")
        with open(p) as f:
            c = json.load(f)
        c["linux"].pop("cgroupsPath", None)
        with open(p, "w") as f:
            json.dump(c, f, indent=1)

    def new_id(self, verb):
        self.n[verb] += 1
        return f"{verb}-{self.n[verb]}"

    def pid_file(self, id):
        return os.path.join(self.run.pids, f"{id}.pid")

    # --- the verbs, each with what it needs to have happened before --------------------------

    def verbs(self):
        b, bt = self.b, self.bt
        return collections.OrderedDict(
            [
                ("create", ([], lambda i: ["create", "--bundle", b, "--pid-file", self.pid_file(i), i])),
                ("start", (["create"], lambda i: ["start", i])),
                ("run", ([], lambda i: ["run", "--detach", "--bundle", b, "--pid-file", self.pid_file(i), i])),
                ("run-fg", ([], lambda i: ["run", "--bundle", bt, i])),
                ("kill", (["create", "start"], lambda i: ["kill", i, "KILL"])),
                ("delete", (["create", "start", "stop"], lambda i: ["delete", i])),
                ("delete-force", (["create", "start"], lambda i: ["delete", "--force", i])),
            ]
        )

    def prepare(self, steps, id):
        for s in steps:
            if s == "create":
                r = self.run.call("create", "--bundle", self.b, "--pid-file", self.pid_file(id), id)
            elif s == "start":
                r = self.run.call("start", id)
            elif s == "stop":
                r = self.run.call("kill", id, "KILL")
                end = time.monotonic() + 10
                while time.monotonic() < end and json.loads(self.run.call("state", id).out or "{}").get("status") != "stopped":
                    time.sleep(0.01)
            if r.rc != 0:
                raise RuntimeError(f"preparing {id}: {s}: {r}")

    # --- strace ---------------------------------------------------------------------------

    def baseline(self, verb, follow):
        """The calls of an unhurt run of `verb`: [(pid role, syscall, k, line)], k counting
        per syscall and process, as strace's `when` does."""
        steps, argv = self.verbs()[verb]
        id = self.new_id(verb)
        self.prepare(steps, id)
        cmd = ["strace", "-o", self.trace, "-s", "256"] + (["-f", "-I1"] if follow else []) + self.run.rt_argv(*argv(id))
        r = self.traced(cmd, follow, timeout=30)
        for _ in range(2):
            if r.rc == 0:
                break
            # again, on a new id: an unhurt run that fails three times is the lane's failure
            try:
                with open(self.trace) as f:
                    tail = f.read()[-600:].splitlines()
            except OSError:
                tail = []
            log(f"baseline {verb} failed ({r}); trace ends: " + " | ".join(tail)[:1500] + "; trying again")
            self.cleanup(id, verb)
            id = self.new_id(verb)
            self.prepare(steps, id)
            cmd = ["strace", "-o", self.trace, "-s", "256"] + (["-f", "-I1"] if follow else []) + self.run.rt_argv(*argv(id))
            r = self.traced(cmd, follow, timeout=30)
        if r.rc != 0:
            raise RuntimeError(f"baseline {verb}: {r}")
        calls = []
        count = collections.defaultdict(collections.Counter)
        roles = {}
        with open(self.trace) as f:
            for line in f:
                m = SYSCALL.match(line)
                if not m or "resumed>" in line:
                    continue
                pid = m.group(1) or "rt"
                roles.setdefault(pid, "rt" if not roles else "child")
                count[pid][m.group(2)] += 1
                calls.append((roles[pid], m.group(2), count[pid][m.group(2)], line.strip()))
        self.cleanup(id, verb)
        return calls

    def traced(self, cmd, follow, timeout=60):
        """Runs rt under strace. With -f, strace would wait for the init too: once rt itself
        has exited, strace is told to let go (SIGTERM with -I1 detaches)."""
        # The last trial's trace must not be read as this one's (its rt "exited" at once).
        try:
            os.unlink(self.trace)
        except FileNotFoundError:
            pass
        if not follow:
            r = lib.run(cmd, timeout=timeout)
            lib.reap()
            return r
        start = time.monotonic()
        outf, errf = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=outf, stderr=errf, start_new_session=True)
        # rt's end is the line strace writes for it (its first pid); then strace is told to let
        # go of the init. This trial's trace file is a fresh one (see above).
        rt_pid, rc, timed_out = None, None, False
        while True:
            try:
                with open(self.trace) as f:
                    text = f.read()
            except FileNotFoundError:
                text = ""
            if rt_pid is None:
                m = re.match(r"(\d+) ", text)
                rt_pid = m and m.group(1)
            if rt_pid and re.search(rf"^{rt_pid}\s+\+\+\+ (exited with|killed by)", text, re.M):
                break
            if p.poll() is not None:
                break
            if time.monotonic() - start > timeout:
                timed_out = True
                break
            time.sleep(0.005)
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
        p.wait()
        try:
            with open(self.trace) as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        first = re.match(r"(\d+) ", text)
        m = first and re.search(rf"^{first.group(1)}\s+\+\+\+ (exited with (\d+)|killed by SIG(\w+))", text, re.M)
        if m:
            rc = int(m.group(2)) if m.group(2) is not None else -getattr(signal, "SIG" + m.group(3))
        elif not timed_out:
            rc = p.returncode
        outf.seek(0)
        errf.seek(0)
        out, err = outf.read(), errf.read()
        outf.close()
        errf.close()
        lib.reap()
        return lib.Result(cmd, rc, out.decode(errors="replace"), err.decode(errors="replace"), time.monotonic() - start, timed_out)

    def killed_roles(self, follow):
        """Who the injection killed: 'rt', 'child', or nobody."""
        with open(self.trace) as f:
            text = f.read()
        if not follow:
            return {"rt"} if "+++ killed by SIGKILL +++" in text else set()
        first = re.match(r"(\d+) ", text)
        out = set()
        for m in re.finditer(r"^(\d+)\s+\+\+\+ killed by SIGKILL", text, re.M):
            out.add("rt" if first and m.group(1) == first.group(1) else "child")
        return out

    # --- the checks after a trial -------------------------------------------------------------

    def look(self, id, what, expect=AFTER_KILL):
        """`state` and `list` answer, in time, and agree; the status is one of `expect`."""
        probs = []
        st = self.run.call("state", id, timeout=15)
        # `creating` while a child of the killed rt still holds the lock (an init that sees
        # its channel close and exits): it must become something else within 2 s.
        end = time.monotonic() + 2
        while st.rc == 0 and '"creating"' in st.out and "creating" not in expect and time.monotonic() < end:
            time.sleep(0.02)
            st = self.run.call("state", id, timeout=15)
        exists = os.path.isdir(os.path.join(self.run.state, id))
        status = None
        if st.timed_out or "panicked" in st.err:
            probs.append(f"{what}: state hung or panicked: {st}")
        elif st.rc == 0:
            try:
                status = json.loads(st.out)["status"]
            except (ValueError, KeyError):
                probs.append(f"{what}: state printed no state: {st.out[:200]!r}")
            if status is not None and status not in expect:
                probs.append(f"{what}: state says {status!r} (expected one of {sorted(expect)})")
        elif not (st.rc == 1 and "does not exist" in st.err and not exists):
            probs.append(f"{what}: state failed: {st}")
        ls = self.run.call("list", "--format", "json", timeout=15)
        if ls.timed_out or ls.rc != 0 or "panicked" in ls.err:
            probs.append(f"{what}: list failed: {ls}")
        else:
            rows = json.loads(ls.out) or []
            mine = [r for r in rows if r.get("id") == id]
            if exists and not mine:
                probs.append(f"{what}: list does not show {id}, whose state dir exists")
            # list runs after state: a container may have moved on in between (an init that
            # a killed `kill` had signalled dies), never back.
            order = ["creating", "created", "running", "paused", "stopped"]
            later = mine and status in order and mine[0]["status"] in order and order.index(mine[0]["status"]) >= order.index(status)
            if mine and status and mine[0]["status"] != status and not later:
                probs.append(f"{what}: list says {mine[0]['status']}, state {status}")
        tbl = self.run.call("list", timeout=15)
        if tbl.rc != 0 or "panicked" in tbl.err:
            probs.append(f"{what}: list (table) failed: {tbl}")
        return probs, status

    def finish(self, id, what, allowed=()):
        """delete --force, then nothing may be left."""
        probs = []
        d = self.run.call("delete", "--force", id, timeout=60)
        if d.rc != 0 or d.timed_out or "panicked" in d.err:
            probs.append(f"{what}: delete --force failed: {d}")
        left = self.run.settle(allowed_pid_files=allowed)
        probs += [f"{what}: {x}" for x in left]
        return probs

    def cleanup(self, id, verb):
        self.run.call("delete", "--force", id, timeout=60)
        if self.run.settle(allowed_pid_files=(os.path.basename(self.pid_file(id)),)):
            self.run.clean()
        for f in os.listdir(self.run.pids):
            os.unlink(os.path.join(self.run.pids, f))

    def record(self, section, verb, probs, **counts):
        key = (section, verb)
        s = self.stats.setdefault(key, collections.Counter())
        s["tried"] += 1
        for k, v in counts.items():
            s[k] += v
        if probs:
            s["failed"] += 1
            self.problems.extend(f"[{section} {verb}] {p}" for p in probs)
            for p in probs[:3]:
                log(f"  PROBLEM [{section} {verb}] {p}")
        if self.run.leftovers():
            self.run.clean()
        for f in os.listdir(self.run.pids):
            os.unlink(os.path.join(self.run.pids, f))

    def message(self, r):
        for l in r.lines():
            m = re.sub(r"\b\d{3,}\b", "N", re.sub(r'^time="[^"]*" level=error msg=', "", l))
            self.messages[m[:240]] += 1
        if "Some(" in r.err or "Signaled(" in r.err or "Exited(" in r.err:
            return [f"an error not in words: {r.err.strip()[:200]!r}"]
        return []

    # --- sections ---------------------------------------------------------------------------

    def sample(self, points, quota):
        if not self.a.quick or len(points) <= quota:
            return points
        step = len(points) / quota
        picked = {int(i * step) for i in range(quota)}
        # and the calls that change things, wherever they are
        keen = {"mkdir", "rmdir", "rename", "clone3", "mknodat", "flock", "unlinkat", "unlink", "pidfd_send_signal", "kill", "sendmsg", "write"}
        seen = collections.Counter()
        for i, p in enumerate(points):
            if p[1] in keen and seen[p[1]] < 2:
                seen[p[1]] += 1
                picked.add(i)
        return [points[i] for i in sorted(picked)]

    def kill_trial(self, section, verb, inject, follow):
        steps, argv = self.verbs()[verb]
        id = self.new_id(verb)
        self.prepare(steps, id)
        what = f"{id} {inject}"
        sc = inject.split(":")[0]
        # strace injects only into calls it traces; fewer traced, faster (execve names rt's pid)
        trace = [] if sc == "all" else ["-e", f"trace={sc},execve" if follow else f"trace={sc}"]
        cmd = ["strace", "-o", self.trace] + (["-f", "-I1"] if follow else []) + trace + ["-e", f"inject={inject}"] + self.run.rt_argv(*argv(id))
        r = self.traced(cmd, follow)
        probs = []
        if r.timed_out:
            probs.append(f"{what}: rt hung: {r}")
        roles = self.killed_roles(follow)
        if "rt" not in roles:
            probs += self.message(r)
            if r.rc not in (0, 1) or "panicked" in r.err:
                probs.append(f"{what}: rt ended badly: {r}")
        has_dir = os.path.isdir(os.path.join(self.run.state, id))
        if verb in ("create", "run", "run-fg") and not has_dir and (roles or r.rc != 0):
            # killed (or failed) before the state dir existed, or undone: nothing at all
            probs += [f"{what}: before any delete: {x}" for x in self.run.settle()]
        p2, status = self.look(id, what)
        probs += p2
        probs += self.finish(id, what, allowed=(os.path.basename(self.pid_file(id)),))
        self.record(section, verb, probs, **{f"killed_{x}": 1 for x in roles}, not_reached=int(not roles))
        return roles

    def kill_section(self):
        for verb in self.verbs():
            calls = [c for c in self.baseline(verb, follow=False) if c[0] == "rt" and c[1] not in ("exit_group", "exit")]
            points = self.sample(calls, 30)
            log(f"kill {verb}: {len(calls)} calls in an unhurt run, {len(points)} kill points")
            for _, sc, k, _ in points:
                self.kill_trial("kill", verb, f"{sc}:signal=KILL:when={k}", False)
            # strace's own walk: the N-th call of any one syscall
            for n in range(1, 200):
                roles = self.kill_trial("kill-when", verb, f"all:signal=KILL:when={n}", False)
                if "rt" not in roles:
                    break

    def init_section(self):
        for verb in ("create", "run"):
            calls = self.baseline(verb, follow=True)
            rt_count = collections.Counter(c[1] for c in calls if c[0] == "rt")
            child = [c for c in calls if c[0] == "child" and c[1] not in ("exit_group", "exit", "execve")]
            # rt's k-th call of the same name would come first: those are rt's own kill points
            reach = [c for c in child if rt_count[c[1]] < c[2]]
            points = self.sample(reach, 30)
            log(f"init {verb}: {len(child)} calls of the init, {len(reach)} reachable by strace's counter, {len(points)} kill points")
            self.stats.setdefault(("init", verb), collections.Counter())["init_calls"] = len(child)
            for _, sc, k, _ in points:
                self.kill_trial("init", verb, f"{sc}:signal=KILL:when={k}", True)

    # errors: (verb, syscall, errno, which calls: a regex on the unhurt run's line, or None for
    # all; always: every call from the first chosen one on; rc0: rt must get through)
    ERRORS = [
        ("create", "mkdir", "ENOSPC", r"/state/", False, False),
        ("create", "mkdir", "ENOSPC", r"/sys/fs/cgroup/", False, False),
        ("create", "write", "ENOSPC", r"stateVersion", False, False),
        ("create", "mknodat", "ENOSPC", None, False, False),
        ("create", "rename", "EIO", None, False, False),
        ("create", "open", "EMFILE", None, False, False),
        ("create", "openat", "EMFILE", None, False, False),
        ("create", "socketpair", "EMFILE", None, False, False),
        ("create", "clone3", "ENOMEM", None, False, False),
        ("create", "clone3", "EAGAIN", None, False, False),
        ("run", "clone3", "EAGAIN", None, False, False),
        ("run", "openat", "EMFILE", None, False, False),
        ("start", "openat", "EMFILE", None, False, False),
        ("start", "open", "EMFILE", None, False, False),
        ("kill", "pidfd_open", "EMFILE", None, False, False),
        ("delete", "rmdir", "EBUSY", None, False, True),
        ("delete", "rmdir", "EBUSY", None, True, False),
        ("delete-force", "rmdir", "EBUSY", None, True, False),
        ("delete-force", "unlink", "EBUSY", None, True, False),
        # EINTR once, wherever it comes: retried, the call gets through
        ("create", "flock", "EINTR", None, False, True),
        ("create", "recvmsg", "EINTR", None, False, True),
        ("create", "sendmsg", "EINTR", None, False, True),
        ("create", "write", "EINTR", None, False, True),
        ("create", "openat", "EINTR", None, False, True),
        ("create", "open", "EINTR", None, False, True),
        ("create", "read", "EINTR", None, False, True),
        ("start", "ppoll", "EINTR", None, False, True),
        ("start", "poll", "EINTR", None, False, True),
        ("start", "read", "EINTR", None, False, True),
        ("run-fg", "read", "EINTR", None, False, True),
        ("run-fg", "wait4", "EINTR", None, False, True),
        ("delete-force", "wait4", "EINTR", None, False, True),
        ("delete-force", "ppoll", "EINTR", None, False, True),
        # EINTR for ever on the calls that block: a clear error in bounded time, nothing left
        ("create", "recvmsg", "EINTR", None, True, False),
        ("create", "flock", "EINTR", None, True, False),
        ("start", "ppoll", "EINTR", None, True, False),
        ("start", "poll", "EINTR", None, True, False),
        ("kill", "flock", "EINTR", None, True, False),
        ("run-fg", "wait4", "EINTR", None, True, False),
        ("run-fg", "read", "EINTR", None, True, False),
    ]

    def errors_section(self):
        base = {}
        for verb, sc, err, pick, always, rc0 in self.ERRORS:
            if verb not in base:
                base[verb] = [c for c in self.baseline(verb, follow=False) if c[0] == "rt"]
            ks = [c[2] for c in base[verb] if c[1] == sc and (pick is None or re.search(pick, c[3]))]
            if not ks:
                log(f"errors {verb}: rt makes no {sc}{' matching ' + pick if pick else ''} call: skipped")
                continue
            if always:
                ks = ks[:1]
            elif self.a.quick and len(ks) > 4:
                ks = [ks[int(i * len(ks) / 4)] for i in range(4)]
            log(f"errors {verb}: {sc} {err} {'from the first call on' if always else f'at {len(ks)} calls'}")
            for k in ks:
                self.error_trial(verb, f"{sc}:error={err}:when={k}{'+' if always else ''}", rc0)

    def error_trial(self, verb, inject, rc0):
        steps, argv = self.verbs()[verb]
        id = self.new_id(verb)
        self.prepare(steps, id)
        what = f"{id} {inject}"
        cmd = ["strace", "-o", self.trace, "-e", f"trace={inject.split(':')[0]}", "-e", f"inject={inject}"] + self.run.rt_argv(*argv(id))
        r = self.traced(cmd, False, timeout=90)
        probs = lib.one_clear_line(r) + self.message(r)
        if rc0 and r.rc != 0:
            probs.append(f"{what}: a single {inject.split(':')[1]} should have been retried: {r}")
        has_dir = os.path.isdir(os.path.join(self.run.state, id))
        if r.rc == 1 and verb in ("create", "run", "run-fg"):
            left = self.run.settle(allowed_pid_files=(os.path.basename(self.pid_file(id)),))
            probs += [f"{what}: a failed {verb} left: {x}" for x in left]
        if r.rc == 1 and verb.startswith("delete") and not has_dir:
            probs.append(f"{what}: a failed delete removed the state dir (and cannot be retried)")
        p2, _ = self.look(id, what, expect=STATUSES - {"creating"})
        probs += p2
        after = self.finish(id, what, allowed=(os.path.basename(self.pid_file(id)),))
        if inject.startswith("rmdir:error=EBUSY") and inject.endswith("+"):
            # A cgroup that can never be removed stays (nothing can remove it): rt must say so,
            # naming it, and remove the rest. The lane removes it itself afterwards.
            def named_by_rt(x):
                m = re.search(r"cgroup left behind: (\S+)", x)
                return m is not None and m.group(1) in r.err

            named = [x for x in after if named_by_rt(x)]
            after = [x for x in after if x not in named]
            self.run.clean()
        probs += after
        self.record("errors", verb, probs, failed_clearly=int(r.rc == 1), got_through=int(r.rc == 0))

    def root_section(self):
        d = os.path.join(self.run.dir, "roots")
        os.makedirs(d)
        cases = []
        ro = os.path.join(d, "ro")
        os.makedirs(ro)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", ro], check=True)
        cases.append(("read-only filesystem, root missing", os.path.join(ro, "state"), "read-only file system"))
        ro2 = os.path.join(d, "ro2")
        os.makedirs(ro2)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", ro2], check=True)
        os.makedirs(os.path.join(ro2, "state"))
        subprocess.run(["mount", "-o", "remount,ro", ro2], check=True)
        cases.append(("read-only filesystem, root there", os.path.join(ro2, "state"), "read-only file system"))
        full = os.path.join(d, "full")
        os.makedirs(full)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", full], check=True)
        os.makedirs(os.path.join(full, "state"))
        # unbuffered: a buffered file would fail again at its close
        fd = os.open(os.path.join(full, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"x" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        cases.append(("full filesystem", os.path.join(full, "state"), "no space left on device"))
        inodes = os.path.join(d, "inodes")
        os.makedirs(inodes)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=2", "tmpfs", inodes], check=True)
        os.makedirs(os.path.join(inodes, "state"))
        cases.append(("filesystem out of inodes", os.path.join(inodes, "state"), "no space left on device"))
        afile = os.path.join(d, "afile")
        open(afile, "w").close()
        cases.append(("a file", afile, "not a directory"))
        link = os.path.join(d, "link-to-file")
        os.symlink(afile, link)
        cases.append(("a symlink to a file", link, "not a directory"))
        for name, root, words in cases:
            id = self.new_id("root")
            r = self.run.call("create", "--bundle", self.b, id, root=root)
            probs = lib.one_clear_line(r) + self.message(r)
            if r.rc != 1 or words not in r.err or "--root" not in r.err:
                probs.append(f"--root on {name}: expected exit 1 naming --root and {words!r}: {r}")
            # the lane's own filesystems under roots/ are no leftovers
            probs += [f"--root on {name}: {x}" for x in self.run.settle() if not ("mount left behind" in x and d + "/" in x)]
            for verb in (["list"], ["state", id], ["delete", "--force", id]):
                v = self.run.call(*verb, root=root)
                if "panicked" in v.err or v.rc not in (0, 1) or v.timed_out:
                    probs.append(f"--root on {name}: {verb[0]}: {v}")
            self.record("root", name, probs)
            log(f"root {name}: {r.err.strip()}")
        lib.unmount_under(d)

    def stdio_section(self):
        def closed(fds, ignore_pipe=False):
            def pre():
                if ignore_pipe:
                    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
                for fd in fds:
                    os.close(fd)

            return pre

        id = self.new_id("stdio")
        # create with all three closed: works, and the init has /dev/null there
        argv = self.run.rt_argv("create", "--bundle", self.b, "--pid-file", self.pid_file(id), id)
        p = subprocess.run(argv, preexec_fn=closed([0, 1, 2]), timeout=30)
        lib.reap()
        probs = []
        if p.returncode != 0:
            probs.append(f"create with stdin, stdout and stderr closed: exit {p.returncode}")
        else:
            with open(self.pid_file(id)) as f:
                pid = int(f.read())
            for fd in (0, 1, 2):
                t = os.readlink(f"/proc/{pid}/fd/{fd}") if os.path.exists(f"/proc/{pid}/fd/{fd}") else "closed"
                if t != "/dev/null":
                    probs.append(f"create with stdio closed: the init's fd {fd} is {t}")
        p2, _ = self.look(id, "stdio closed", expect={"created"})
        probs += p2
        with open(os.path.join(self.run.state, id, "state.json"), "rb") as f:
            try:
                json.load(f)
            except ValueError as e:
                probs.append(f"create with stdio closed: its state.json is damaged: {e}")
        # the read-only verbs, with stdout closed, or a pipe whose reader is gone
        for verb in (["state", id], ["list"], ["list", "-f", "json"], ["ps", id], ["events", "--stats", id], ["features"]):
            for how in ("closed", "broken pipe, SIGPIPE ignored", "broken pipe"):
                if how == "closed":
                    r = subprocess.run(self.run.rt_argv(*verb), preexec_fn=closed([1]), stderr=subprocess.PIPE, timeout=30)
                else:
                    rfd, wfd = os.pipe()
                    os.close(rfd)
                    r = subprocess.run(self.run.rt_argv(*verb), stdout=wfd, stderr=subprocess.PIPE, timeout=30, preexec_fn=closed([], how.endswith("ignored")))
                    os.close(wfd)
                err = r.stderr.decode(errors="replace")
                if "panicked" in err or (r.returncode not in (0, 1) and not (how == "broken pipe" and r.returncode == -signal.SIGPIPE)):
                    probs.append(f"{' '.join(verb)} with stdout {how}: exit {r.returncode}: {err.strip()[:200]!r}")
                if r.returncode == 1 and len([l for l in err.splitlines() if l.strip()]) != 1:
                    probs.append(f"{' '.join(verb)} with stdout {how}: {err.strip()[:200]!r}")
        # update reading the resources from a closed stdin
        r = subprocess.run(self.run.rt_argv("update", "--resources", "-", id), preexec_fn=closed([0]), stderr=subprocess.PIPE, timeout=30)
        err = r.stderr.decode(errors="replace")
        if r.returncode != 1 or len(err.strip().splitlines()) != 1:
            probs.append(f"update -r - with stdin closed: exit {r.returncode}: {err.strip()[:200]!r}")
        # stderr a broken pipe, and an error to report there
        rfd, wfd = os.pipe()
        os.close(rfd)
        r = subprocess.run(self.run.rt_argv("start", "no-such-container"), stderr=wfd, timeout=30, preexec_fn=closed([], True))
        os.close(wfd)
        if r.returncode != 1:
            probs.append(f"start with stderr a broken pipe (SIGPIPE ignored): exit {r.returncode}")
        probs += self.finish(id, "stdio", allowed=(os.path.basename(self.pid_file(id)),))
        # run -d with stdout a pipe nobody reads: the container's business; rt is fine
        first_pid_file = os.path.basename(self.pid_file(id))
        id = self.new_id("stdio")
        rfd, wfd = os.pipe()
        os.close(rfd)
        # stderr a file: the detached container inherits it and keeps it open (a pipe's EOF
        # would never come)
        with tempfile.TemporaryFile() as errf:
            r = subprocess.run(self.run.rt_argv("run", "-d", "--bundle", self.b, id), stdout=wfd, stderr=errf, timeout=30, preexec_fn=closed([], True))
            errf.seek(0)
            err = errf.read().decode(errors="replace")
        os.close(wfd)
        lib.reap()
        if r.returncode != 0:
            probs.append(f"run -d with stdout a broken pipe: exit {r.returncode}: {err.strip()[:200]!r}")
        probs += self.finish(id, "stdio run -d", allowed=(first_pid_file,))
        self.record("stdio", "all", probs)

    def main(self):
        sections = self.a.only or ["kill", "init", "errors", "root", "stdio"]
        t0 = time.monotonic()
        for s in sections:
            t = time.monotonic()
            getattr(self, f"{s}_section")()
            log(f"--- {s}: {time.monotonic() - t:.0f} s")
        rows = []
        for (section, verb), c in self.stats.items():
            rows.append([section, verb, c["tried"], c.get("killed_rt", ""), c.get("killed_child", ""), c.get("not_reached", ""), c.get("failed_clearly", ""), c.get("got_through", ""), c["failed"]])
        log(lib.fmt_table(rows, ["section", "verb", "trials", "killed rt", "killed init", "not reached", "failed clearly", "got through", "PROBLEMS"]))
        log("error messages seen:")
        for m, n in self.messages.most_common():
            log(f"  {n:4d}  {m}")
        log(f"{sum(c['tried'] for c in self.stats.values())} trials in {time.monotonic() - t0:.0f} s, {len(self.problems)} problems")
        if self.a.report:
            with open(self.a.report, "w") as f:
                json.dump({"stats": [[s, v, dict(c)] for (s, v), c in self.stats.items()], "problems": self.problems, "messages": dict(self.messages)}, f, indent=1)
        return 1 if self.problems else 0


def main():
    ap = lib.lane_args(__doc__, "CI: a sample of the kill and error points", ["kill", "init", "errors", "root", "stdio"])
    a = ap.parse_args()
    lib.need_root()
    lib.ensure_tool("strace", "strace")
    if not os.path.isdir(a.rootfs):
        sys.exit(f"no rootfs at {a.rootfs}: make rootfs")
    lane = Lane(a)
    code = 2
    try:
        code = lane.main()
    finally:
        lane.run.remove(keep=a.keep)
    sys.exit(code)


if __name__ == "__main__":
    main()
