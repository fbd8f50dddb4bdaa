"""A real pseudo-terminal for an engine's `-it`: the engine's CLI runs on the slave side as the
session leader with the slave as its controlling terminal; the lane types on the master side and
reads the screen back, sets the window size with TIOCSWINSZ (which makes the kernel send SIGWINCH
to the terminal's foreground process group, i.e. the CLI) and sends Ctrl-C as the byte 0x03 (the
CLI has the terminal in raw mode and forwards it to the container's terminal)."""

import fcntl
import os
import re
import select
import signal
import struct
import termios
import time


class PtyTimeout(Exception):
    pass


class PtySession:
    def __init__(self, argv, env=None, rows=24, cols=80, log=None, cwd=None):
        self.master, slave = os.openpty()
        self.set_size(rows, cols, fd=slave)
        self.buf = b""
        self.log = log
        pid = os.fork()
        if pid == 0:
            try:
                os.close(self.master)
                os.setsid()
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for fd in (0, 1, 2):
                    os.dup2(slave, fd)
                if slave > 2:
                    os.close(slave)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                if cwd:
                    os.chdir(cwd)
                os.execvpe(argv[0], argv, env if env is not None else os.environ)
            except BaseException:  # noqa: BLE001
                os._exit(127)
        os.close(slave)
        self.pid = pid
        self.status = None

    def set_size(self, rows, cols, fd=None):
        fcntl.ioctl(self.master if fd is None else fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        if self.log:
            self.log.write(b"\n<<< " + data + b"\n")
        os.write(self.master, data)

    def _read_some(self, timeout):
        r, _, _ = select.select([self.master], [], [], max(0.0, timeout))
        if not r:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every slave fd closed (the CLI exited)
            data = b""
        if not data:
            raise EOFError
        if self.log:
            self.log.write(data)
        self.buf += data
        return True

    def expect(self, pattern, timeout=15):
        """Waits until the output since the last match contains pattern (a regex on bytes);
        returns the match and consumes the output up to its end."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = end - time.monotonic()
            if left <= 0:
                raise PtyTimeout(f"no {pattern!r} within {timeout}s; screen tail: {self.screen_tail()!r}")
            try:
                self._read_some(min(left, 0.5))
            except EOFError:
                m = rx.search(self.buf)
                if m:
                    self.buf = self.buf[m.end():]
                    return m
                raise PtyTimeout(f"the CLI closed the terminal before {pattern!r}; screen tail: {self.screen_tail()!r}")

    def screen_tail(self, n=300):
        return self.buf[-n:].decode(errors="replace")

    def drain(self, t=0.3):
        end = time.monotonic() + t
        try:
            while self._read_some(end - time.monotonic()):
                pass
        except EOFError:
            pass

    def wait(self, timeout=30):
        """The CLI's exit status (128+N for a signal), reading the terminal meanwhile."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(st)
                if self.status < 0:
                    self.status = 128 - self.status
                self.drain(0.2)
                return self.status
            try:
                self._read_some(0.2)
            except EOFError:
                time.sleep(0.1)
        raise PtyTimeout(f"the CLI did not exit within {timeout}s; screen tail: {self.screen_tail()!r}")

    def close(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.status = -1
        try:
            os.close(self.master)
        except OSError:
            pass
