#!/usr/bin/env python3
"""console_socket.py: the receiving end of --console-socket, as containerd's shim or conmon is.

    console_socket.py --socket PATH --script FILE [--timeout S] [--linger S]

Listens on a unix stream socket at PATH (it creates it; "listening" on its stderr once it
does), accepts one connection, receives one message with SCM_RIGHTS, and checks what came:
how many fds, the message's payload (runc sends the pty master's name), whether the fd is a
terminal (os.isatty), its window size (TIOCGWINSZ), its pty number (TIOCGPTN: the container
sees its peer as /dev/pts/N) and its device. Then it follows the script on the master, the
steps of drive.py: {"send": ...}, {"expect": REGEX, "timeout": S}, {"send"+"expect"+"tries"},
{"resize": [R, C]}, {"sleep": S}; and finally reads until the container's side is closed
(EIO: no slave fd open any more), for up to --linger seconds.

The report (stdout, one JSON object): "fds" (how many came), "name", "isatty", "winsize",
"pty_number", "rdev" ([major, minor]), "steps", "screen" (everything read), "closed" (EIO
seen), "ok", "error". The socket file is removed and every fd closed before it exits, also
on a timeout or an error.
"""

import argparse
import array
import fcntl
import json
import os
import re
import select
import socket
import struct
import sys
import termios
import time

TIOCGPTN = 0x80045430  # _IOR("T", 0x30, unsigned int); not in the termios module


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--script", required=True)
    ap.add_argument("--timeout", type=float, default=30, help="for the connection")
    ap.add_argument("--linger", type=float, default=10, help="for the container to close its end")
    a = ap.parse_args()
    with open(a.script) as f:
        script = json.load(f)
    report = {"ok": True, "error": None, "steps": [], "fds": 0, "screen": "", "closed": False}
    fds = []
    screen = b""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        srv.bind(a.socket)
        srv.listen(1)
        sys.stderr.write("listening\n")
        sys.stderr.flush()
        srv.settimeout(a.timeout)
        conn, _ = srv.accept()
        with conn:
            conn.settimeout(a.timeout)
            fdbuf = array.array("i")
            msg, anc, _flags, _addr = conn.recvmsg(4096, socket.CMSG_SPACE(16 * fdbuf.itemsize))
            for level, typ, data in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fdbuf.frombytes(data[: len(data) - (len(data) % fdbuf.itemsize)])
            fds = list(fdbuf)
        report["fds"] = len(fds)
        report["name"] = msg.decode("utf-8", "replace")
        if len(fds) != 1:
            raise RuntimeError("expected exactly one fd, got %d" % len(fds))
        m = fds[0]
        report["isatty"] = os.isatty(m)
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(m, termios.TIOCGWINSZ, b"\0" * 8))
        report["winsize"] = [rows, cols]
        report["pty_number"] = struct.unpack("I", fcntl.ioctl(m, TIOCGPTN, b"\0" * 4))[0]
        st = os.fstat(m)
        report["rdev"] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
        os.set_blocking(m, False)
        cursor = 0

        def pump(seconds):
            nonlocal screen
            end = time.monotonic() + seconds
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    return True
                r, _, _ = select.select([m], [], [], left)
                if not r:
                    return True
                try:
                    data = os.read(m, 65536)
                except BlockingIOError:
                    continue
                except OSError:  # EIO: the container's side is closed
                    report["closed"] = True
                    return False
                if not data:
                    report["closed"] = True
                    return False
                screen += data

        def expect(pattern, timeout):
            nonlocal cursor
            rx = re.compile(pattern)
            end = time.monotonic() + timeout
            while True:
                text = screen[cursor:].decode("utf-8", "replace")
                hit = rx.search(text)
                if hit:
                    cursor += len(text[: hit.end()].encode("utf-8", "replace"))
                    return {"ok": True, "match": hit.group(0), "groups": list(hit.groups())}
                left = end - time.monotonic()
                if left <= 0 or (report["closed"] and not pump(0)):
                    return {"ok": False, "seen": text[-2000:]}
                pump(min(left, 0.1))

        def send(data):
            data = data.encode("utf-8")
            while data:
                try:
                    data = data[os.write(m, data) :]
                except BlockingIOError:
                    select.select([], [m], [], 1)

        for step in script:
            if "send" in step and "expect" in step:
                r = {"ok": False}
                for n in range(step.get("tries", 1)):
                    send(step["send"])
                    r = expect(step["expect"], step.get("timeout", 10))
                    r["tries"] = n + 1
                    if r["ok"]:
                        break
            elif "send" in step:
                send(step["send"])
                r = {"ok": True}
            elif "expect" in step:
                r = expect(step["expect"], step.get("timeout", 10))
            elif "resize" in step:
                fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", step["resize"][0], step["resize"][1], 0, 0))
                r = {"ok": True}
            elif "sleep" in step:
                pump(step["sleep"])
                r = {"ok": True}
            else:
                r = {"ok": False, "error": "unknown step"}
            report["steps"].append({"step": step, **r})
            if not r["ok"]:
                report["ok"] = False
                report["error"] = "step %d failed: %s" % (len(report["steps"]) - 1, json.dumps(step))
                break
        end = time.monotonic() + a.linger
        while not report["closed"] and time.monotonic() < end:
            pump(min(0.2, end - time.monotonic()))
    except Exception as e:
        report["ok"] = False
        report["error"] = "console_socket.py: %r" % e
    finally:
        report["screen"] = screen.decode("utf-8", "replace")
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        srv.close()
        try:
            os.unlink(a.socket)
        except FileNotFoundError:
            pass
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
