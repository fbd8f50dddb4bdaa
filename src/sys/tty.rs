//! Terminal system calls: pseudo-terminals, termios, window sizes, sessions and the console
//! socket's connection. All over rustix; each returns `io::Result` with the kernel's errno and
//! the caller (`crate::terminal`) adds what it was doing. Every fd made here is `O_CLOEXEC`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::termios::OptionalActions;
pub use rustix::termios::{Termios, Winsize};

/// `statfs.f_type` of a devpts filesystem.
pub const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;
/// `/dev/pts/ptmx` of every devpts instance: inode 2, character device 5:2 (TTYAUX_MAJOR,
/// minor 2; fs/devpts/inode.c).
pub const PTMX_INO: u64 = 2;
pub const PTMX_MAJOR: u32 = 5;
pub const PTMX_MINOR: u32 = 2;

/// `unlockpt(3)`: lets the pty's peer be opened (`TIOCSPTLCK` 0).
pub fn unlockpt(master: BorrowedFd) -> io::Result<()> {
    Ok(rustix::pty::unlockpt(master)?)
}

/// `TIOCGPTPEER`: opens the pty's peer (the slave) from the master itself, `O_RDWR |
/// O_NOCTTY | O_CLOEXEC`, without a path: no lookup in a /dev/pts that the container could
/// have filled with symlinks (CVE-2025-52565). Linux 4.13; rt needs 5.6 (openat2) anyway.
pub fn open_peer(master: BorrowedFd) -> io::Result<OwnedFd> {
    use rustix::pty::OpenptFlags;
    Ok(rustix::pty::ioctl_tiocgptpeer(master, OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?)
}

/// The peer's path as the container names it (`/dev/pts/N`, from `TIOCGPTN`). For messages
/// and for what `tty` prints inside; rt never opens this path.
pub fn ptsname(master: BorrowedFd) -> io::Result<PathBuf> {
    let name = rustix::pty::ptsname(master, Vec::new())?;
    let name: std::ffi::OsString = std::os::unix::ffi::OsStringExt::from_vec(name.into_bytes());
    Ok(PathBuf::from(name))
}

/// rt's stdin, stdout and stderr.
pub fn stdio() -> [BorrowedFd<'static>; 3] {
    [rustix::stdio::stdin(), rustix::stdio::stdout(), rustix::stdio::stderr()]
}

/// One `write(2)`: how much of `data` the fd took (on a non-blocking fd, maybe less, or
/// `EAGAIN`).
pub fn write_some(fd: BorrowedFd, data: &[u8]) -> io::Result<usize> {
    retry(|| Ok(rustix::io::write(fd, data)?))
}

/// Whether `fd` is a terminal (`TCGETS` succeeds).
pub fn is_tty(fd: BorrowedFd) -> bool {
    rustix::termios::isatty(fd)
}

pub fn tcgetattr(fd: BorrowedFd) -> io::Result<Termios> {
    Ok(rustix::termios::tcgetattr(fd)?)
}

/// `tcsetattr(fd, TCSANOW, t)`: at once, as runc's console package sets and resets them.
pub fn tcsetattr(fd: BorrowedFd, t: &Termios) -> io::Result<()> {
    retry(|| Ok(rustix::termios::tcsetattr(fd, OptionalActions::Now, t)?))
}

/// `TIOCGWINSZ`.
pub fn winsize(fd: BorrowedFd) -> io::Result<Winsize> {
    Ok(rustix::termios::tcgetwinsize(fd)?)
}

/// `TIOCSWINSZ`. On a pty master it resizes the pair and sends SIGWINCH to the slave's
/// foreground process group.
pub fn set_winsize(fd: BorrowedFd, ws: Winsize) -> io::Result<()> {
    Ok(rustix::termios::tcsetwinsize(fd, ws)?)
}

/// Whether this process leads its session (`getsid(0) == getpid()`).
pub fn is_session_leader() -> io::Result<bool> {
    Ok(rustix::process::getsid(None)? == rustix::process::getpid())
}

/// `setsid(2)`: a new session without a controlling terminal, this process its leader.
pub fn setsid() -> io::Result<()> {
    rustix::process::setsid()?;
    Ok(())
}

/// `TIOCSCTTY` (argument 0: never steal a terminal another session holds): `fd`'s terminal
/// becomes the controlling terminal of this process's session. The caller leads the session.
pub fn set_controlling_terminal(fd: BorrowedFd) -> io::Result<()> {
    Ok(rustix::process::ioctl_tiocsctty(fd)?)
}

/// `dup2` of `fd` onto 0, 1 and 2. The copies are without `FD_CLOEXEC` (dup2 clears it), so
/// they survive the execve; `fd` itself must not be one of them (see [`dup_above_stdio`]).
pub fn dup_onto_stdio(fd: BorrowedFd) -> io::Result<()> {
    if fd.as_raw_fd() <= 2 {
        // dup2(n, n) is a no-op that would leave FD_CLOEXEC set on n.
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    rustix::stdio::dup2_stdin(fd)?;
    rustix::stdio::dup2_stdout(fd)?;
    rustix::stdio::dup2_stderr(fd)?;
    Ok(())
}

/// A close-on-exec copy of `fd` numbered 3 or above.
pub fn dup_above_stdio(fd: BorrowedFd) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, 3)?)
}

/// Sets or clears `O_NONBLOCK` on `fd`'s open file description. Only for descriptions rt owns
/// alone (a pty master it received): the caller's stdin and stdout are shared with its shell.
pub fn set_nonblocking(fd: BorrowedFd, on: bool) -> io::Result<()> {
    use rustix::fs::OFlags;
    let flags = rustix::fs::fcntl_getfl(fd)?;
    let flags = if on { flags | OFlags::NONBLOCK } else { flags - OFlags::NONBLOCK };
    Ok(rustix::fs::fcntl_setfl(fd, flags)?)
}

/// A connected `AF_UNIX` `SOCK_STREAM` socket (close-on-exec) to the listener at `path`.
pub fn connect_unix(path: &Path) -> io::Result<OwnedFd> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let addr = SocketAddrUnix::new(path)?;
    let sock = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    retry(|| Ok(rustix::net::connect(sock.as_fd(), &addr)?))?;
    Ok(sock)
}

/// Opens an absolute `path` of this process's root through no symlink (`RESOLVE_NO_SYMLINKS`
/// with `no_symlinks`) and no procfs magic link, close-on-exec.
pub fn open_in_root(path: &Path, flags: libc::c_int, mode: libc::mode_t, no_symlinks: bool) -> io::Result<OwnedFd> {
    let resolve = super::RESOLVE_NO_MAGICLINKS | if no_symlinks { super::RESOLVE_NO_SYMLINKS } else { 0 };
    super::openat2(rustix::fs::CWD, path, flags, mode, resolve)
}

/// The device number of a character or block special file, as (major, minor).
pub fn rdev(st: &super::Stat) -> (u32, u32) {
    (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev))
}

fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pty of the host's devpts (any user may open /dev/ptmx): peer, name, size, termios.
    #[test]
    fn a_host_pty_end_to_end() {
        let master = rustix::pty::openpt(rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY | rustix::pty::OpenptFlags::CLOEXEC).unwrap();
        unlockpt(master.as_fd()).unwrap();
        let slave = open_peer(master.as_fd()).unwrap();
        assert!(is_tty(slave.as_fd()));
        let name = ptsname(master.as_fd()).unwrap();
        assert!(name.starts_with("/dev/pts/"), "{}", name.display());
        let st = super::super::fstat(slave.as_fd()).unwrap();
        assert_eq!(rdev(&st).0, 136, "a Unix98 pty slave's major");
        set_winsize(master.as_fd(), Winsize { ws_row: 33, ws_col: 101, ws_xpixel: 0, ws_ypixel: 0 }).unwrap();
        let ws = winsize(slave.as_fd()).unwrap();
        assert_eq!((ws.ws_row, ws.ws_col), (33, 101));
        assert!(tcgetattr(master.as_fd()).unwrap().local_modes.contains(rustix::termios::LocalModes::ICANON), "a new pty is canonical");
        let high = dup_above_stdio(slave.as_fd()).unwrap();
        assert!(high.as_raw_fd() > 2);
        assert_eq!(dup_onto_stdio(rustix::stdio::stdout()).unwrap_err().raw_os_error(), Some(libc::EBADF));
    }
}
