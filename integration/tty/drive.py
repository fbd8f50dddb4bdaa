#!/usr/bin/env python3
"""drive.py: run a command on a real pseudo-terminal and follow a script, as a person would.

    drive.py --script FILE [--rows R --cols C] [--timeout S] -- COMMAND ARG...

Opens a pty (os.openpty), sets its window size (TIOCSWINSZ), starts COMMAND with the slave as
its stdin, stdout and controlling terminal (setsid + TIOCSCTTY; its stderr is ours, so that a
runtime's error messages stay apart from the screen), then follows the script, a JSON list of
steps, each an object:

    {"send": "echo hi\\r"}          bytes typed (a JSON string; "\\u0003" is Ctrl-C, "\\u0004" Ctrl-D)
    {"expect": "REGEX", "timeout": 10}
                                   wait until the screen (what came out since the last match)
                                   matches REGEX; its text and groups are reported
    {"send": "stty size\\r", "expect": "REGEX", "tries": 10, "timeout": 1}
                                   send, expect; again up to TRIES times until it matches
    {"resize": [ROWS, COLS]}       TIOCSWINSZ on the terminal (the kernel sends SIGWINCH to its
                                   foreground process group: the command)
    {"signal": "INT"}              kill(2) the command with a signal
    {"sleep": 0.5}
    {"wait_fg": "sleep", "timeout": 10}
                                   wait until a process of that name, a descendant of the
                                   command, leads the foreground process group of its terminal
                                   (so that a Ctrl-C typed now is its, not its shell's)
    {"wait": 20}                   wait for the command to exit (seconds)

A failed expect or wait ends the script: the command is killed (SIGKILL, by pid) and the
report says so. Without a "wait" step the command is waited for at the end (up to --timeout).

The report (stdout, one JSON object): "steps" (each step with "ok" and what it saw), "screen"
(everything the command wrote), "exit" (its code, null if killed by a signal), "signal",
"termios_before" / "termios_after" (the terminal's settings before the command started and
after it exited: lflag, iflag, oflag, cflag, cc, echo, icanon, isig), "winsize_after", "ok"
(every step passed) and "error". The pty (both ends) is closed and the command reaped before
drive.py exits; it never leaves a process behind.
"""

import argparse
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time


def set_winsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def get_winsize(fd):
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return [rows, cols]


def snapshot(fd):
    """The terminal's settings, comparable before and after."""
    iflag, oflag, cflag, lflag, _ispeed, _ospeed, cc = termios.tcgetattr(fd)
    return {
        "iflag": iflag,
        "oflag": oflag,
        "cflag": cflag,
        "lflag": lflag,
        "cc": [c if isinstance(c, int) else c[0] for c in cc],
        "echo": bool(lflag & termios.ECHO),
        "icanon": bool(lflag & termios.ICANON),
        "isig": bool(lflag & termios.ISIG),
        "opost": bool(oflag & termios.OPOST),
    }


class Session:
    def __init__(self, argv, rows, cols):
        self.master, self.slave = os.openpty()
        os.set_blocking(self.master, False)
        set_winsize(self.master, rows, cols)
        self.before = snapshot(self.slave)
        self.screen = b""
        self.cursor = 0
        slave = self.slave

        def become_terminal_owner():
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

        # Every signal at its default and none blocked, as a shell starts a command.
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=None,
            preexec_fn=become_terminal_owner,
            close_fds=True,
            restore_signals=True,
        )
        self.status = None

    def pump(self, seconds):
        """Read what the command wrote, for up to SECONDS (returns early once nothing more)."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.master], [], [], left)
            if not r:
                return
            try:
                data = os.read(self.master, 65536)
            except BlockingIOError:
                continue
            except OSError:  # EIO: no slave open (we hold one, so not while we live)
                return
            if not data:
                return
            self.screen += data

    def text(self, start=0):
        return self.screen[start:].decode("utf-8", "replace")

    def expect(self, pattern, timeout):
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.text(self.cursor))
            if m:
                # the cursor moves past the match (in bytes of the decoded prefix)
                self.cursor += len(self.text(self.cursor)[: m.end()].encode("utf-8", "replace"))
                return {"ok": True, "match": m.group(0), "groups": list(m.groups())}
            left = end - time.monotonic()
            if left <= 0:
                return {"ok": False, "seen": self.text(self.cursor)[-2000:]}
            self.pump(min(left, 0.1))

    def send(self, data):
        data = data.encode("utf-8")
        while data:
            try:
                n = os.write(self.master, data)
                data = data[n:]
            except BlockingIOError:
                select.select([], [self.master], [], 1)

    def wait(self, timeout):
        end = time.monotonic() + timeout
        while self.status is None:
            self.status = self.proc.poll()
            if self.status is not None:
                break
            if time.monotonic() >= end:
                return False
            self.pump(0.05)
        self.pump(0.2)
        return True

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.status = self.proc.wait()

    def close(self):
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def proc_stat(pid):
    """(comm, ppid, pgrp, tpgid) of a process, from /proc/PID/stat."""
    with open("/proc/%s/stat" % pid) as f:
        text = f.read()
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    # state ppid pgrp session tty_nr tpgid
    return comm, int(fields[1]), int(fields[2]), int(fields[5])


def foreground_descendant(root, name):
    stats = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stats[int(d)] = proc_stat(d)
            except (OSError, ValueError):
                pass
    for pid, (comm, _ppid, pgrp, tpgid) in stats.items():
        if comm != name or tpgid <= 0 or pgrp != tpgid:
            continue
        p, hops = pid, 0
        while p in stats and p != root and hops < 64:
            p, hops = stats[p][1], hops + 1
        if p == root:
            return pid
    return None


def run_step(s, step, report):
    if "send" in step and "expect" in step:
        tries = step.get("tries", 1)
        r = {"ok": False}
        for n in range(tries):
            s.send(step["send"])
            r = s.expect(step["expect"], step.get("timeout", 10))
            r["tries"] = n + 1
            if r["ok"]:
                break
        return r
    if "send" in step:
        s.send(step["send"])
        return {"ok": True}
    if "expect" in step:
        return s.expect(step["expect"], step.get("timeout", 10))
    if "resize" in step:
        rows, cols = step["resize"]
        set_winsize(s.master, rows, cols)
        return {"ok": True}
    if "signal" in step:
        os.kill(s.proc.pid, getattr(signal, "SIG" + step["signal"]))
        return {"ok": True}
    if "sleep" in step:
        s.pump(step["sleep"])
        return {"ok": True}
    if "wait_fg" in step:
        end = time.monotonic() + step.get("timeout", 10)
        while time.monotonic() < end:
            pid = foreground_descendant(s.proc.pid, step["wait_fg"])
            if pid:
                return {"ok": True, "pid": pid}
            s.pump(0.05)
        return {"ok": False}
    if "wait" in step:
        return {"ok": s.wait(step["wait"])}
    return {"ok": False, "error": "unknown step"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--rows", type=int, default=24)
    ap.add_argument("--cols", type=int, default=80)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("argv", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    argv = a.argv[1:] if a.argv[:1] == ["--"] else a.argv
    with open(a.script) as f:
        script = json.load(f)
    report = {"steps": [], "ok": True, "error": None}
    s = Session(argv, a.rows, a.cols)
    try:
        for step in script:
            r = run_step(s, step, report)
            report["steps"].append({"step": step, **r})
            if not r["ok"]:
                report["ok"] = False
                report["error"] = "step %d failed: %s" % (len(report["steps"]) - 1, json.dumps(step))
                break
        if report["ok"] and not s.wait(a.timeout):
            report["ok"] = False
            report["error"] = "the command did not exit within %ss" % a.timeout
    except Exception as e:  # reported, never left running
        report["ok"] = False
        report["error"] = "drive.py: %r" % e
    finally:
        if s.status is None:
            s.kill()
        s.pump(0.1)
        report["exit"] = s.status if s.status >= 0 else None
        report["signal"] = -s.status if s.status < 0 else None
        report["termios_before"] = s.before
        try:
            report["termios_after"] = snapshot(s.slave)
            report["winsize_after"] = get_winsize(s.slave)
        except OSError as e:
            report["termios_after"] = None
            report["error"] = report["error"] or "tcgetattr after: %r" % e
        report["screen"] = s.text()
        s.close()
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
