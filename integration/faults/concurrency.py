#!/usr/bin/env python3
"""The concurrency lane: many rt calls at once on one id, on one container, and on many.

    integration/faults/concurrency.py [--quick] [--rt PATH] [--rootfs DIR] [--only SECTION...]
                                      [--report FILE] [--keep]

Sections (all by default):
  create  100 `rt create` of one id at once (5 rounds; 2 with --quick): exactly one exits 0,
          every other exits 1 with one line saying the id is in use (runc's "already exists"),
          and once the winner is deleted nothing is left.
  storm   one running container, and at once: state (x4), list, kill 0, kill SIGUSR1 (ignored
          by the init), pause, resume, update --pids-limit, ps and delete --force; 100 rounds
          (20 with --quick). Every call exits 0 or 1 with one line, never panics or hangs;
          state.json, read while they run, is always whole JSON; after the round, nothing left.
  many    200 containers created, started and deleted --force, 50 calls at a time (100 with
          --quick): all succeed, and then nothing is left.
  lock    the container's lock held by someone else: `kill` gives up after rt's bound (30 s)
          with one clear line, and `state` and `list` answer at once all the while.

Needs root and the test rootfs (`make rootfs`). Exit status 1 if any check failed."""

import collections
import concurrent.futures
import fcntl
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import log  # noqa: E402


class Lane:
    def __init__(self, args):
        self.a = args
        self.run = lib.Run("rt-conc", args.rt, args.rootfs, args.tmpdir)
        self.b = self.run.bundle("sleeper", ["/bin/sleep", "3600"])
        # No cgroupsPath: a cgroup of its own per container (rt's default, <own>/<id>). With
        # one shared by all, each create rewrites the devices rules of the others' inits while
        # they make their /dev nodes, and some mknod fails: that is the shared cgroup's doing.
        p = os.path.join(self.b, "config.json")
        with open(p) as f:
            c = json.load(f)
        c["linux"].pop("cgroupsPath", None)
        with open(p, "w") as f:
            json.dump(c, f, indent=1)
        self.problems = []
        self.numbers = collections.OrderedDict()

    def problem(self, what, p):
        log(f"  PROBLEM [{what}] {p}")
        self.problems.append(f"[{what}] {p}")

    def settle(self, what):
        left = self.run.settle(wait=5)
        for x in left:
            self.problem(what, x)
        if left:
            self.run.clean()

    def spawn_all(self, argvs, timeout=60):
        """Starts every call at once (each in its own thread) and returns their results."""
        barrier = threading.Barrier(len(argvs))

        def one(argv):
            barrier.wait()
            return lib.run(self.run.rt_argv(*argv), timeout=timeout)

        with concurrent.futures.ThreadPoolExecutor(len(argvs)) as ex:
            out = list(ex.map(one, argvs))
        lib.reap()
        return out

    def check_calls(self, what, results):
        for r in results:
            for p in lib.one_clear_line(r):
                self.problem(what, p)

    # --- create: one id, 100 at once ---------------------------------------------------------
    def create_section(self):
        rounds = 2 if self.a.quick else 5
        calls = 0
        for n in range(rounds):
            id = f"same-{n}"
            rs = self.spawn_all([["create", "--bundle", self.b, id] for _ in range(100)])
            calls += len(rs)
            won = [r for r in rs if r.rc == 0]
            lost = [r for r in rs if r.rc != 0]
            if len(won) != 1:
                self.problem("create", f"{id}: {len(won)} of 100 creates succeeded")
            self.check_calls("create", lost)
            for r in lost:
                if r.rc == 1 and "already exists" not in r.err:
                    self.problem("create", f"{id}: a losing create says {r.err.strip()[:200]!r}")
            st = self.run.call("state", id)
            if st.rc != 0 or json.loads(st.out or "{}").get("status") != "created":
                self.problem("create", f"{id}: the winner is not created: {st}")
            d = self.run.call("delete", "--force", id)
            if d.rc != 0:
                self.problem("create", f"{id}: delete --force: {d}")
            self.settle("create")
        self.numbers["create"] = {"rounds": rounds, "creates": calls}
        log(f"create: {rounds} rounds of 100 creates of one id")

    # --- storm: every verb at once on one container ------------------------------------------
    def storm_section(self):
        rounds = 20 if self.a.quick else 100
        outcomes = collections.Counter()
        reads = torn = 0
        for n in range(rounds):
            id = f"storm-{n}"
            r = self.run.call("run", "--detach", "--bundle", self.b, id)
            if r.rc != 0:
                self.problem("storm", f"{id}: run: {r}")
                continue
            stop = threading.Event()
            seen = collections.Counter()

            def reader():
                # state.json is replaced by rename: whoever reads it sees a whole document.
                p = os.path.join(self.run.state, id, "state.json")
                while not stop.is_set():
                    try:
                        with open(p, "rb") as f:
                            data = f.read()
                    except OSError:
                        continue
                    seen["reads"] += 1
                    try:
                        json.loads(data)
                    except ValueError:
                        seen["torn"] += 1

            t = threading.Thread(target=reader)
            t.start()
            argvs = [["state", id]] * 4 + [
                ["list"],
                ["kill", id, "0"],
                ["kill", id, "USR1"],
                ["pause", id],
                ["resume", id],
                ["update", "--pids-limit", "100", id],
                ["ps", id],
                ["delete", "--force", id],
            ]
            rs = self.spawn_all(argvs)
            stop.set()
            t.join()
            reads += seen["reads"]
            torn += seen["torn"]
            if seen["torn"]:
                self.problem("storm", f"{id}: state.json read torn {seen['torn']} times")
            self.check_calls("storm", rs)
            for argv, r in zip(argvs, rs):
                outcomes[(argv[0], r.rc)] += 1
                if argv[0] in ("list", "delete") and r.rc != 0:
                    self.problem("storm", f"{id}: {' '.join(argv)} failed: {r}")
            # delete --force went through: the container is gone (a resume or pause after it
            # finds nothing), and so is everything it had.
            st = self.run.call("state", id)
            if st.rc != 1 or "does not exist" not in st.err:
                self.problem("storm", f"{id}: still there after delete --force: {st}")
            self.settle("storm")
        self.numbers["storm"] = {"rounds": rounds, "calls": rounds * 12, "state_json_reads": reads, "torn": torn, "outcomes": {f"{v} rc={rc}": c for (v, rc), c in sorted(outcomes.items())}}
        log(f"storm: {rounds} rounds of 12 calls at once; state.json read {reads} times, torn {torn}")
        log("  " + ", ".join(f"{v} rc={rc}: {c}" for (v, rc), c in sorted(outcomes.items())))

    # --- many: 200 containers at once ---------------------------------------------------------
    def many_section(self):
        n = 100 if self.a.quick else 200
        ids = [f"many-{i}" for i in range(n)]
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(50) as ex:
            for verb, argv in (
                ("create", lambda i: ["create", "--bundle", self.b, i]),
                ("start", lambda i: ["start", i]),
            ):
                rs = list(ex.map(lambda i: lib.run(self.run.rt_argv(*argv(i)), timeout=120), ids))
                lib.reap()
                bad = [(i, r) for i, r in zip(ids, rs) if r.rc != 0]
                for i, r in bad[:5]:
                    self.problem("many", f"{verb} {i}: {r}")
                if bad:
                    self.problem("many", f"{len(bad)} of {n} {verb}s failed")
            ls = self.run.call("list", "--format", "json")
            running = sum(1 for x in json.loads(ls.out or "[]") or [] if x.get("status") == "running")
            if running != n:
                self.problem("many", f"{running} of {n} running")
            rs = list(ex.map(lambda i: lib.run(self.run.rt_argv("delete", "--force", i), timeout=120), ids))
            lib.reap()
            for i, r in zip(ids, rs):
                if r.rc != 0:
                    self.problem("many", f"delete --force {i}: {r}")
        secs = time.monotonic() - start
        self.settle("many")
        self.numbers["many"] = {"containers": n, "seconds": round(secs, 1)}
        log(f"many: {n} containers created, started and deleted 50 at a time in {secs:.1f} s")

    # --- lock: a lock that is never let go ------------------------------------------------------
    def lock_section(self):
        id = "locked"
        r = self.run.call("create", "--bundle", self.b, id)
        if r.rc != 0:
            self.problem("lock", f"create: {r}")
            return
        fd = os.open(os.path.join(self.run.state, id), os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            start = time.monotonic()
            k = lib.run(self.run.rt_argv("kill", id, "KILL"), timeout=90)
            secs = time.monotonic() - start
            for p in lib.one_clear_line(k):
                self.problem("lock", p)
            if k.rc != 1 or "busy" not in k.err:
                self.problem("lock", f"kill on a held lock: {k}")
            if not 25 <= secs <= 40:
                self.problem("lock", f"kill gave up after {secs:.1f} s (rt's bound is 30 s)")
            t = time.monotonic()
            st = self.run.call("state", id)
            ls = self.run.call("list")
            if st.rc != 0 or ls.rc != 0 or time.monotonic() - t > 5:
                self.problem("lock", f"state/list while the lock is held: {st} {ls}")
            log(f"lock: kill gave up after {secs:.1f} s: {k.err.strip()}")
            self.numbers["lock"] = {"kill_gave_up_after_s": round(secs, 1)}
        finally:
            os.close(fd)
        d = self.run.call("delete", "--force", id)
        if d.rc != 0:
            self.problem("lock", f"delete --force: {d}")
        self.settle("lock")

    def main(self):
        sections = self.a.only or ["create", "storm", "many", "lock"]
        try:
            for s in sections:
                t = time.monotonic()
                getattr(self, f"{s}_section")()
                log(f"--- {s}: {time.monotonic() - t:.0f} s")
        finally:
            self.run.remove(keep=self.a.keep)
        if self.a.report:
            with open(self.a.report, "w") as f:
                json.dump({"numbers": self.numbers, "problems": self.problems}, f, indent=1)
        log(f"concurrency: {len(self.problems)} problem(s)")
        return 1 if self.problems else 0


def main():
    ap = lib.lane_args(__doc__, "CI: fewer rounds", ["create", "storm", "many", "lock"])
    a = ap.parse_args()
    lib.need_root()
    sys.exit(Lane(a).main())


if __name__ == "__main__":
    main()
