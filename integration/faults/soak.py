#!/usr/bin/env python3
"""The soak: N cycles of create, start, exec or kill, delete, and nothing may grow.

    integration/faults/soak.py [--cycles N] [--rt PATH] [--rootfs DIR] [--report FILE] [--keep]

A cycle: `rt create` (a bundle with a bind mount, a tmpfs, a cgroup with limits and a pid
file), `rt start`, then on even cycles `rt exec ID /bin/true` and `rt delete --force`, on odd
ones `rt kill ID KILL`, `rt state` until stopped, and `rt delete`. Every call must succeed.

Fails on anything left (state dir, cgroup in any hierarchy, mount, process, pid file), on fds
that grow (this process's, and the container init's: each init must hold as many as the
first), on host mounts that grow, and on growth beyond noise from the first thousand cycles
(the first tenth, for fewer than 10,000) to the last: rt's peak RSS (ru_maxrss of every call)
by more than 10% + 1 MiB, the median cycle time by more than 50% + 5 ms. Prints one line of
figures per thousand cycles (per tenth for fewer)."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import log  # noqa: E402


def call(run, *args):
    """One rt call: (rc, stderr, peak RSS in KiB)."""
    errf = os.path.join(run.dir, "err")
    with open(errf, "wb") as err:
        p = subprocess.Popen(run.rt_argv(*args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(errf, "rb") as f:
        text = f.read().decode(errors="replace")
    return p.returncode, text, ru.ru_maxrss


def host_mounts():
    with open("/proc/self/mountinfo") as f:
        return sum(1 for _ in f)


def fds(pid="self"):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=int(os.environ.get("SOAK_CYCLES", "10000")))
    ap.add_argument("--rt", default=os.path.join(lib.REPO, "target/release/rt"))
    ap.add_argument("--rootfs", default=os.path.join(lib.REPO, "build/rootfs"))
    ap.add_argument("--tmpdir", default=os.environ.get("TMPDIR", "/tmp"))
    ap.add_argument("--report", help="write the figures and problems as JSON here")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    lib.need_root()
    run = lib.Run("rt-soak", a.rt, a.rootfs, a.tmpdir)
    b = run.bundle("soak", ["/bin/sleep", "3600"], cgroups_path=None)
    # No cgroupsPath: rt's default, a cgroup of its own per container below the run cgroup.
    with open(os.path.join(b, "config.json")) as f:
        c = json.load(f)
    c["linux"].pop("cgroupsPath", None)
    with open(os.path.join(b, "config.json"), "w") as f:
        json.dump(c, f, indent=1)

    n = a.cycles
    block = 1000 if n >= 10000 else max(1, n // 10)
    problems = []
    rows = []
    times, rss = [], []
    init_fds = None
    mounts0, fds0 = host_mounts(), fds()
    t_all = time.monotonic()
    try:
        for i in range(n):
            id = f"soak-{i}"
            pid_file = os.path.join(run.pids, "pid")
            t = time.monotonic()
            peak = 0
            steps = [("create", "--bundle", b, "--pid-file", pid_file, id), ("start", id)]
            for s in steps:
                rc, err, m = call(run, *s)
                peak = max(peak, m)
                if rc != 0:
                    problems.append(f"cycle {i}: {s[0]}: exit {rc}: {err.strip()[:300]}")
                    break
            else:
                with open(pid_file) as f:
                    init = int(f.read())
                # start returns once the init is let go (as runc's): its fds are counted
                # once it runs the program, whose fds are all it should hold.
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    try:
                        st = os.stat(f"/proc/{init}/exe")
                    except OSError:
                        break
                    if (st.st_ino, st.st_dev) != run.rt_ino:
                        break
                    time.sleep(0.0005)
                k = fds(init)
                if init_fds is None:
                    init_fds = k
                elif k != init_fds and k >= 0:
                    problems.append(f"cycle {i}: the init holds {k} fds, the first held {init_fds}")
                if i % 2 == 0:
                    ends = [("exec", id, "/bin/true"), ("delete", "--force", id)]
                else:
                    ends = [("kill", id, "KILL"), None, ("delete", id)]
                for s in ends:
                    if s is None:
                        # the init is ours to reap (subreaper), then it is stopped
                        deadline = time.monotonic() + 10
                        while lib.pid_alive(init) and time.monotonic() < deadline:
                            lib.reap()
                            time.sleep(0.001)
                        continue
                    rc, err, m = call(run, *s)
                    peak = max(peak, m)
                    if rc != 0:
                        problems.append(f"cycle {i}: {s[0]}: exit {rc}: {err.strip()[:300]}")
                        break
            lib.reap()
            times.append(time.monotonic() - t)
            rss.append(peak)
            try:
                os.unlink(pid_file)
            except FileNotFoundError:
                pass
            if problems and len(problems) > 20:
                break
            if (i + 1) % block == 0 or i + 1 == n:
                left = run.settle(wait=5)
                problems += [f"after cycle {i}: {x}" for x in left]
                if left:
                    run.clean()
                bt, br = times[-block:], rss[-block:]
                row = {
                    "cycles": i + 1,
                    "median_ms": round(statistics.median(bt) * 1000, 2),
                    "p95_ms": round(sorted(bt)[int(len(bt) * 0.95) - 1 if len(bt) > 1 else 0] * 1000, 2),
                    "rt_peak_rss_kib": max(br),
                    "lane_fds": fds(),
                    "host_mounts": host_mounts(),
                }
                rows.append(row)
                log(
                    f"cycles {row['cycles']:>6}: median {row['median_ms']:7.2f} ms  p95 {row['p95_ms']:7.2f} ms  "
                    f"rt peak RSS {row['rt_peak_rss_kib']:6d} KiB  lane fds {row['lane_fds']}  host mounts {row['host_mounts']}"
                )
                if row["lane_fds"] > fds0:
                    problems.append(f"after cycle {i}: this process holds {row['lane_fds']} fds, {fds0} at the start")
                if row["host_mounts"] > mounts0:
                    problems.append(f"after cycle {i}: {row['host_mounts']} host mounts, {mounts0} at the start")
    finally:
        run.remove(keep=a.keep)
    secs = time.monotonic() - t_all
    if len(rows) >= 2 and len(times) == n:
        first, last = rows[0], rows[-1]
        if last["rt_peak_rss_kib"] > first["rt_peak_rss_kib"] * 1.1 + 1024:
            problems.append(f"rt's peak RSS grew: {first['rt_peak_rss_kib']} KiB in the first {block} cycles, {last['rt_peak_rss_kib']} in the last")
        if last["median_ms"] > first["median_ms"] * 1.5 + 5:
            problems.append(f"the cycle time grew: median {first['median_ms']} ms in the first {block} cycles, {last['median_ms']} in the last")
    for p in problems:
        log(f"  PROBLEM {p}")
    log(f"soak: {len(times)} cycles in {secs:.0f} s, {len(problems)} problem(s)")
    if a.report:
        with open(a.report, "w") as f:
            json.dump({"cycles": len(times), "seconds": round(secs, 1), "rows": rows, "problems": problems}, f, indent=1)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
