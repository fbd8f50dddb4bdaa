//! Terminals: `process.terminal`, `process.consoleSize` and `--console-socket`, runc's protocol.
//!
//! The pty is allocated inside the container, from the devpts the container mounted at
//! `/dev/pts`, so that it belongs to the container (runc#814): its slave is what the process
//! gets as 0, 1 and 2 and as its controlling terminal, and (for the init) what `/dev/console`
//! is. The master leaves the container over a unix socket with `SCM_RIGHTS`:
//!
//! - with `--console-socket PATH` (`create`, `run -d`, `exec -d`): rt connects to PATH before
//!   the clone, and the container's process sends the master there — one message whose
//!   payload is the master's name and which carries exactly one fd. containerd's shim and
//!   Podman's conmon listen there and own the terminal from then on;
//! - without one (`run`, `exec -t` in the foreground): the master comes back to rt, which
//!   puts its own terminal in raw mode ([`RawMode`]) and [`relay`]s between the two until the
//!   process exits.
//!
//! Where each part runs:
//! - in the container's process (the init after its root is built, or an exec'd process after
//!   it joined the mount namespace), privileged and single-threaded: [`open_pty`],
//!   [`bind_console`] (the init only), [`send_console`] / [`hand_to_rt`], [`make_controlling`];
//! - in rt: [`check_flags`], [`connect_console`], [`RawMode`], [`copy_winsize`],
//!   [`clear_onlcr`], [`relay`].

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};
use crate::sys::tty::{self as systty, Termios, Winsize};
use crate::sys::{self, ExitStatus, Pid, PollFd, PollFlags};
use crate::{logging, signals, user};

/// The container's pty multiplexer: `ptmx` of the devpts instance at `/dev/pts` (rt makes
/// `/dev/ptmx` a symlink to it). Opened by this path, never through `/dev/ptmx`, so that no
/// symlink of the image's or the container's is followed.
pub const PTMX: &str = "/dev/pts/ptmx";

/// runc's limit on the name sent with the master (`MaxNameLen` of its cmsg package): a
/// receiver that uses runc's code refuses a message this long or longer.
pub const MAX_NAME_LEN: usize = 4096;

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub rows: u16,
    pub cols: u16,
}

impl Size {
    /// `process.consoleSize` (`height`, `width`): applied only when both are set and non-zero,
    /// as runc does; a value a terminal cannot have is a config error.
    pub fn from_console_size(height: u64, width: u64) -> Result<Option<Size>> {
        let cell = |v: u64, field: &str| {
            u16::try_from(v).map_err(|_| Error::spec(format!("process.consoleSize.{field}"), format!("{v} is out of range (at most 65535)")))
        };
        let (rows, cols) = (cell(height, "height")?, cell(width, "width")?);
        Ok((rows != 0 && cols != 0).then_some(Size { rows, cols }))
    }

    fn winsize(self) -> Winsize {
        Winsize { ws_row: self.rows, ws_col: self.cols, ws_xpixel: 0, ws_ypixel: 0 }
    }
}

/// runc's rules for the command line (its `checkTerminal`): a terminal for a process rt does
/// not wait for needs a console socket to go to, and a console socket needs a terminal rt
/// does not keep. `detached` is `create`, `run -d` and `exec -d`. The words are runc's.
pub fn check_flags(terminal: bool, detached: bool, console_socket: bool) -> Result<()> {
    if detached && terminal && !console_socket {
        return Err(Error::spec("process.terminal", "cannot allocate tty if runc will detach without setting console socket"));
    }
    if (!detached || !terminal) && console_socket {
        return Err(Error::spec("--console-socket", "cannot use console socket if runc will not detach or allocate tty"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// in the container's process

/// A new pty of the container's devpts.
pub struct Pty {
    /// Goes to the console socket or to rt; close it in the container once it is sent.
    pub master: OwnedFd,
    /// The process's terminal: [`bind_console`], then [`make_controlling`].
    pub slave: OwnedFd,
    /// `/dev/pts/N` as the container names it (what `tty` prints inside); for messages only.
    pub slave_path: PathBuf,
}

/// Allocates the process's pty in the container (whose root and /dev are in place):
///
/// 1. opens [`PTMX`] as an `O_PATH` handle through no symlink, checks that it is a devpts
///    `ptmx` (devpts magic, inode 2, device 5:2) and only then opens it for real, through
///    procfs (the container's /proc if it is a procfs root, else a private detached one);
/// 2. unlocks it and opens the peer with `TIOCGPTPEER`, never by path (CVE-2025-52565);
/// 3. sets `size` (`process.consoleSize`) when given;
/// 4. gives the slave to `uid` (`process.user.uid`), as runc and crun do, and to the
///    container's `tty` group when its `/etc/group` has one. Otherwise the group stays what
///    the kernel gave it, the `gid=` option of the devpts mount (runc's default config says
///    `gid=5`), which is all runc and crun ever use; the mode stays the mount's `mode=`
///    (`0620` in that config). A chown the kernel refuses (`EPERM`, `EINVAL`, `EROFS`: an id
///    not mapped in a user namespace, a read-only /dev) leaves the owner as it is, as runc
///    does.
pub fn open_pty(size: Option<Size>, uid: u32) -> Result<Pty> {
    let master = open_ptmx()?;
    systty::unlockpt(master.as_fd()).ctx("process.terminal: unlockpt")?;
    let slave = systty::open_peer(master.as_fd()).ctx("process.terminal: open the pty's peer (TIOCGPTPEER)")?;
    let slave_path = systty::ptsname(master.as_fd()).ctx("process.terminal: TIOCGPTN")?;
    if let Some(s) = size {
        systty::set_winsize(master.as_fd(), s.winsize()).ctx("process.consoleSize: TIOCSWINSZ")?;
    }
    let group = read_etc_group().map(|text| tty_gid(&text)).unwrap_or(None);
    give_slave(slave.as_fd(), uid, group).with_ctx(|| format!("process.terminal: chown {}", slave_path.display()))?;
    Ok(Pty { master, slave, slave_path })
}

fn open_ptmx() -> Result<OwnedFd> {
    let what = || format!("process.terminal: open {PTMX}");
    let handle = systty::open_in_root(Path::new(PTMX), libc::O_PATH | libc::O_NOFOLLOW, 0, true).with_ctx(what)?;
    let st = sys::fstat(handle.as_fd()).with_ctx(what)?;
    let fs = sys::fs_type(handle.as_fd()).with_ctx(what)?;
    if let Some(problem) = ptmx_problem(fs, st.st_mode, st.st_ino, systty::rdev(&st)) {
        return Err(Error::spec("process.terminal", format!("{PTMX} {problem}: the container needs a devpts (newinstance) at /dev/pts")));
    }
    let proc_ = match sys::open_proc_root().ok().flatten() {
        Some(p) => p,
        None => sys::detached_procfs().ctx("process.terminal: mount a private procfs to open the pty")?,
    };
    sys::reopen(proc_.as_fd(), handle.as_fd(), libc::O_RDWR | libc::O_NOCTTY).with_ctx(what)
}

/// What is wrong with the file opened as `ptmx`, if anything: it must be the `ptmx` node of a
/// devpts filesystem, not a device node of the image's or another filesystem's.
fn ptmx_problem(fs_type: i64, mode: u32, ino: u64, rdev: (u32, u32)) -> Option<String> {
    if mode & libc::S_IFMT == libc::S_IFLNK {
        return Some("is a symbolic link".into());
    }
    if fs_type != systty::DEVPTS_SUPER_MAGIC {
        return Some(format!("is not on a devpts filesystem (filesystem type {fs_type:#x})"));
    }
    if mode & libc::S_IFMT != libc::S_IFCHR || rdev != (systty::PTMX_MAJOR, systty::PTMX_MINOR) || ino != systty::PTMX_INO {
        return Some(format!("is not devpts's ptmx (inode {ino}, device {}:{})", rdev.0, rdev.1));
    }
    None
}

/// The container's /etc/group, if it is a regular file of reasonable size. Opened without
/// following a procfs magic link and non-blocking (a fifo planted there must not park the
/// container's process); any trouble means "no tty group".
fn read_etc_group() -> Option<String> {
    const MAX: u64 = 4 << 20;
    let fd = systty::open_in_root(Path::new("/etc/group"), libc::O_RDONLY | libc::O_NONBLOCK, 0, false).ok()?;
    let st = sys::fstat(fd.as_fd()).ok()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_size as u64 > MAX {
        return None;
    }
    let mut buf = vec![0u8; st.st_size as usize];
    let mut n = 0;
    while n < buf.len() {
        match sys::read(fd.as_fd(), &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    buf.truncate(n);
    String::from_utf8(buf).ok()
}

/// The gid of group `tty` in an /etc/group text, if it has one (the first entry wins, as
/// getgrnam(3) finds it).
pub fn tty_gid(etc_group: &str) -> Option<u32> {
    user::parse_group(etc_group).into_iter().find(|g| g.name == "tty").map(|g| g.gid)
}

/// Who owns the slave once it is the process's: `uid`, and `group` or the gid it has.
fn slave_owner(uid: u32, group: Option<u32>, current_gid: u32) -> (u32, u32) {
    (uid, group.unwrap_or(current_gid))
}

fn give_slave(slave: BorrowedFd, uid: u32, group: Option<u32>) -> std::io::Result<()> {
    let st = sys::fstat(slave)?;
    let (u, g) = slave_owner(uid, group, st.st_gid);
    if (st.st_uid, st.st_gid) == (u, g) {
        return Ok(());
    }
    match sys::fchown(slave, u, g) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EINVAL | libc::EROFS)) => {
            logging::debug(|| format!("pty slave left as it is: chown {u}:{g}: {e}"));
            Ok(())
        }
        other => other,
    }
}

/// Bind-mounts the slave onto `/dev/console` (creating an empty file there first if there is
/// none), so that what the process writes to /dev/console reaches its terminal. For the init
/// only (runc does it for the init and not for exec), in the container's mount namespace after
/// pivot_root, before /dev is made read-only. The source is the slave's fd (`open_tree` of
/// it), not its path in /dev/pts; the target is opened through no symlink.
pub fn bind_console(slave: BorrowedFd) -> Result<()> {
    const CONSOLE: &str = "/dev/console";
    let what = |step: &str| format!("process.terminal: {step} {CONSOLE}");
    let target = match systty::open_in_root(Path::new(CONSOLE), libc::O_PATH | libc::O_NOFOLLOW, 0, true) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            systty::open_in_root(Path::new(CONSOLE), libc::O_RDONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW, 0o666, true).ctx(what("create"))?
        }
        other => other.ctx(what("open"))?,
    };
    let tree = sys::open_tree(Some(slave), Path::new(""), true, false).ctx(what("bind the pty on"))?;
    sys::move_mount(tree.as_fd(), target.as_fd()).ctx(what("bind the pty on"))
}

/// Makes the slave the process's controlling terminal and its stdin, stdout and stderr:
/// `setsid` (unless the process already leads a session), `TIOCSCTTY`, `dup2` onto 0, 1 and 2
/// (the copies survive execve; the original is close-on-exec and closed here).
pub fn make_controlling(slave: OwnedFd) -> Result<()> {
    if !systty::is_session_leader().ctx("process.terminal: getsid")? {
        systty::setsid().ctx("process.terminal: setsid")?;
    }
    systty::set_controlling_terminal(slave.as_fd()).ctx("process.terminal: TIOCSCTTY")?;
    // dup2 onto itself would keep FD_CLOEXEC: a slave that landed on 0..=2 moves up first.
    let slave = if slave.as_raw_fd() <= 2 { systty::dup_above_stdio(slave.as_fd()).ctx("process.terminal: dup the pty")? } else { slave };
    systty::dup_onto_stdio(slave.as_fd()).ctx("process.terminal: dup the pty onto stdio")
}

/// The payload of the console message: the name, as runc sends it (its bytes, no NUL), which
/// a receiver built on runc's code requires to be shorter than [`MAX_NAME_LEN`].
pub fn console_message(name: &str) -> Result<&[u8]> {
    if name.is_empty() || name.len() >= MAX_NAME_LEN || name.contains('\0') {
        return Err(Error::msg(format!("--console-socket: {name:?} cannot be sent as the pty's name")));
    }
    Ok(name.as_bytes())
}

/// Sends the master over the `--console-socket` connection: one message, payload `name` (runc
/// sends the master's name, e.g. [`PTMX`]), the master attached with `SCM_RIGHTS`. The
/// container's process calls it on the socket rt connected before the clone, then closes both.
pub fn send_console(sock: BorrowedFd, master: BorrowedFd, name: &str) -> Result<()> {
    sys::send_with_fds(sock, console_message(name)?, &[master.as_raw_fd()]).ctx("--console-socket: send the pty master")
}

/// The same message to rt itself, over the socket of a foreground `run` or `exec -t` (which
/// then [`relay`]s): the protocol is the console socket's, the error names rt.
pub fn hand_to_rt(sock: BorrowedFd, master: BorrowedFd) -> Result<()> {
    sys::send_with_fds(sock, console_message(PTMX)?, &[master.as_raw_fd()]).ctx("process.terminal: send the pty master to rt")
}

// ---------------------------------------------------------------------------------------------
// in rt

/// Connects to the console socket at `path` (`--console-socket`): an `AF_UNIX` stream socket a
/// listener (the shim, conmon) is waiting on. rt connects before the clone, on the host's
/// paths; the container's process inherits the connection and sends the master on it.
pub fn connect_console(path: &Path) -> Result<OwnedFd> {
    systty::connect_unix(path).with_ctx(|| format!("--console-socket {}: connect", path.display()))
}

/// The first of rt's stdin, stdout and stderr that is a terminal: the one rt puts in raw mode
/// and takes the window size from. runc looks at the same three (stderr first) and then at
/// /dev/tty; rt takes stdin first, where the keystrokes come from, and does without a
/// terminal when it has none (output is relayed, nothing is put in raw mode).
pub fn host_console() -> Option<BorrowedFd<'static>> {
    systty::stdio().into_iter().find(|&fd| systty::is_tty(fd))
}

/// The caller's terminal in raw mode for as long as this lives: keystrokes (Ctrl-C, Ctrl-Z,
/// Ctrl-D included) go to the container's terminal as bytes, whose own line discipline gives
/// them their meaning. The saved settings come back with [`RawMode::restore`] or on drop.
///
/// rt is built with `panic = "abort"`: a panic runs no destructor, so this guard does not
/// restore the terminal after one. There must be no panic on these paths (no `unwrap` on
/// runtime paths); every error path returns through the scope that holds the guard, which
/// restores the terminal before main prints the error.
pub struct RawMode {
    /// A copy of the terminal's fd: tcsetattr on it changes the same terminal.
    fd: OwnedFd,
    saved: Termios,
    active: bool,
}

impl RawMode {
    /// Puts `tty` in raw mode; `None` when it is not a terminal.
    pub fn enter(tty: BorrowedFd) -> Result<Option<RawMode>> {
        if !systty::is_tty(tty) {
            return Ok(None);
        }
        let fd = systty::dup_above_stdio(tty).ctx("terminal: dup")?;
        let saved = systty::tcgetattr(fd.as_fd()).ctx("terminal: tcgetattr")?;
        systty::tcsetattr(fd.as_fd(), &raw_termios(&saved)).ctx("terminal: set raw mode")?;
        Ok(Some(RawMode { fd, saved, active: true }))
    }

    /// Puts the saved settings back now, reporting a failure.
    pub fn restore(mut self) -> Result<()> {
        self.active = false;
        systty::tcsetattr(self.fd.as_fd(), &self.saved).ctx("terminal: restore its settings")
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if self.active {
            let _ = systty::tcsetattr(self.fd.as_fd(), &self.saved);
        }
    }
}

/// Raw mode as runc sets it (containerd's console package): `cfmakeraw` — no echo, no
/// canonical lines, no signals from keys, no input translation, 8 bits, reads of at least one
/// byte — but with output processing left on, so the caller's terminal still turns `\n` into
/// `\r\n` (and rt clears that on the container's side: [`clear_onlcr`]).
pub fn raw_termios(t: &Termios) -> Termios {
    let mut raw = t.clone();
    raw.make_raw();
    raw.output_modes |= rustix::termios::OutputModes::OPOST;
    raw
}

/// Copies the window size of `from` (rt's terminal) to `to` (the pty master), which sends
/// SIGWINCH to the container's foreground process group.
pub fn copy_winsize(from: BorrowedFd, to: BorrowedFd) -> Result<()> {
    let ws = systty::winsize(from).ctx("terminal: TIOCGWINSZ")?;
    systty::set_winsize(to, ws).ctx("terminal: TIOCSWINSZ on the pty")
}

/// Clears `ONLCR` on the container's terminal, as runc does for a terminal it relays itself:
/// rt's own terminal already turns `\n` into `\r\n` ([`raw_termios`] keeps its output
/// processing), and two translations would print `\r\r\n`. Call it on the master as soon as
/// it arrives, before the process is let go, so that its first line is already untranslated
/// (runc does it after, racing the process). Not for a console socket: the receiver decides.
pub fn clear_onlcr(master: BorrowedFd) -> Result<()> {
    let mut t = systty::tcgetattr(master).ctx("terminal: tcgetattr on the pty")?;
    t.output_modes -= rustix::termios::OutputModes::ONLCR;
    systty::tcsetattr(master, &t).ctx("terminal: clear ONLCR on the pty")
}

/// The signals a foreground `run` or `exec -t` with a terminal must block before it clones
/// and read from its signalfd: those it forwards, SIGCHLD, and SIGWINCH.
pub fn relay_signals() -> Vec<i32> {
    let mut v = signals::forwarded();
    v.extend([libc::SIGCHLD, libc::SIGWINCH]);
    v
}

/// What [`relay`] connects the container's terminal to.
pub struct RelayIo<'a> {
    /// What the person types: rt's stdin (a terminal in raw mode, a pipe, /dev/null).
    pub input: BorrowedFd<'a>,
    /// Where the container's output goes: rt's stdout.
    pub output: BorrowedFd<'a>,
    /// The terminal whose window size the container's follows ([`host_console`]), if any.
    pub console: Option<BorrowedFd<'a>>,
    /// A signalfd of [`relay_signals`], blocked since before the clone (so that no SIGCHLD is
    /// lost).
    pub signals: BorrowedFd<'a>,
}

/// The foreground loop of `run` and `exec -t` without a console socket, in the role
/// `Launched::wait` has without a terminal: single-threaded, one `poll` over the signalfd, the
/// pty master and rt's stdin, until `child` (the container's process, rt's child) exits.
///
/// - stdin → master, master → stdout. The master is non-blocking and what stdin gave waits in
///   a buffer until the master takes it, so a process that does not read its input cannot
///   stop its output from being relayed (rt reads no more stdin meanwhile). rt's own stdin
///   and stdout stay blocking: their open file descriptions are shared with the caller.
/// - stdin EOF (or a read error): runc's `io.Copy` just stops reading stdin, and so does rt;
///   nothing is written for it and the master stays open (closing it would hang the
///   container's terminal up and lose its output). A process that waits for more input keeps
///   waiting, as under runc: at a real terminal EOF is Ctrl-D, a byte that reaches the
///   container as it is. (Passing the terminal's VEOF on stdin EOF was tried: busybox's sh
///   switches its terminal out of canonical mode when it reads a command, and a VEOF queued
///   before that is lost, so it did not help the case it was for.)
/// - SIGWINCH: the window size of `console` is copied to the master (also once at the start,
///   as runc does; errors are ignored, as runc ignores them).
/// - SIGCHLD: children are reaped; `child`'s status ends the loop.
/// - every other signal of [`relay_signals`]: sent to `child` itself, as runc does with and
///   without a terminal (not to its process group: a Ctrl-C typed is a byte, and the
///   container's line discipline signals its own foreground group). runc's quirk of exiting 0
///   on a SIGINT of its own (leaving the container running) is not copied.
/// - the master reading EIO (or 0) means every slave fd is closed: rt stops polling it and
///   waits for the child. After the child's exit, what is left in the master is drained to
///   stdout (until EIO, or until nothing more is there when other processes still hold the
///   slave), then its status is returned (`ExitStatus::code` gives the 128+N convention).
/// - a write to stdout that fails (the reader went away) stops the relay's output; the
///   master is still read, so the container is never blocked on a full terminal.
pub fn relay(master: OwnedFd, child: Pid, io: &RelayIo) -> Result<ExitStatus> {
    systty::set_nonblocking(master.as_fd(), true).ctx("terminal: make the pty master non-blocking")?;
    let mut r = Relay { master: master.as_fd(), output: io.output, pending: Vec::new(), input_open: true, master_open: true, output_open: true };
    if let Some(c) = io.console {
        if let Err(e) = copy_winsize(c, r.master) {
            logging::debug(|| format!("relay: initial window size: {e}"));
        }
    }
    let master_fd = r.master;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut fds = vec![PollFd::new(&io.signals, PollFlags::IN)];
        let m = r.master_open.then(|| {
            fds.push(PollFd::new(&master_fd, if r.pending.is_empty() { PollFlags::IN } else { PollFlags::IN | PollFlags::OUT }));
            fds.len() - 1
        });
        // stdin is read only when the last of it has reached the master.
        let i = (r.input_open && r.pending.is_empty()).then(|| {
            fds.push(PollFd::new(&io.input, PollFlags::IN));
            fds.len() - 1
        });
        sys::poll(&mut fds, -1).ctx("terminal: poll")?;
        let ready = |k: Option<usize>| k.map(|k| fds[k].revents()).unwrap_or(PollFlags::empty());
        let (sig_ready, m_ready, i_ready) = (!fds[0].revents().is_empty(), ready(m), ready(i));
        drop(fds);

        if m_ready.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
            r.read_master(&mut buf)?;
        }
        if m_ready.contains(PollFlags::OUT) {
            r.write_master()?;
        }
        if !i_ready.is_empty() {
            match sys::read(io.input, &mut buf) {
                // EOF or an error (EIO: rt's terminal hung up): stdin is done, nothing else is.
                Ok(0) | Err(_) => r.input_open = false,
                Ok(n) => {
                    r.pending.extend_from_slice(&buf[..n]);
                    r.write_master()?;
                }
            }
        }
        if sig_ready {
            let sig = sys::read_signal(io.signals).ctx("terminal: read signalfd")?;
            match sig {
                libc::SIGCHLD => {
                    if let Some(status) = reap(child)? {
                        r.drain(&mut buf)?;
                        return Ok(status);
                    }
                }
                libc::SIGWINCH => {
                    if let Some(c) = io.console {
                        if let Err(e) = copy_winsize(c, r.master) {
                            logging::debug(|| format!("relay: window size: {e}"));
                        }
                    }
                }
                other => {
                    let _ = sys::kill(child, other);
                }
            }
        }
    }
}

struct Relay<'a> {
    master: BorrowedFd<'a>,
    output: BorrowedFd<'a>,
    /// Typed but not yet taken by the master.
    pending: Vec<u8>,
    input_open: bool,
    master_open: bool,
    output_open: bool,
}

impl Relay<'_> {
    /// Everything the master has now, to stdout. EIO (or 0) means the slave side is closed.
    fn read_master(&mut self, buf: &mut [u8]) -> Result<()> {
        loop {
            match sys::read(self.master, buf) {
                Ok(n) if n > 0 => self.write_output(&buf[..n]),
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => return Ok(()),
                // 0 or EIO: no slave fd is open any more
                Ok(_) => {
                    self.master_gone();
                    return Ok(());
                }
                Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                    self.master_gone();
                    return Ok(());
                }
                Err(e) => return Err(Error::io("terminal: read the pty master", e)),
            }
        }
    }

    fn master_gone(&mut self) {
        self.master_open = false;
        self.pending.clear();
    }

    /// As much of the buffered input as the master takes now.
    fn write_master(&mut self) -> Result<()> {
        while !self.pending.is_empty() && self.master_open {
            match systty::write_some(self.master, &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EIO) => self.master_gone(),
                Err(e) => return Err(Error::io("terminal: write to the pty master", e)),
            }
        }
        Ok(())
    }

    fn write_output(&mut self, data: &[u8]) {
        if self.output_open {
            if let Err(e) = sys::write_all(self.output, data) {
                logging::debug(|| format!("relay: stdout: {e}: the container's output is dropped from here on"));
                self.output_open = false;
            }
        }
    }

    /// After the child's exit: what the master still holds, until EIO or nothing more.
    fn drain(&mut self, buf: &mut [u8]) -> Result<()> {
        if self.master_open {
            self.read_master(buf)?;
        }
        Ok(())
    }
}

/// Reaps every child that has exited; `child`'s status once it is among them.
fn reap(child: Pid) -> Result<Option<ExitStatus>> {
    loop {
        match sys::waitpid(-1, libc::WNOHANG) {
            Ok(Some((pid, status))) if pid == child => return Ok(Some(status)),
            Ok(Some(_)) => continue,
            Ok(None) => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => return Err(Error::msg(format!("terminal: process {child} is not rt's child"))),
            Err(e) => return Err(Error::io("waitpid", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::termios::{InputModes, LocalModes, OutputModes, SpecialCodeIndex};

    #[test]
    fn console_size_is_applied_only_when_whole() {
        assert_eq!(Size::from_console_size(24, 80).unwrap(), Some(Size { rows: 24, cols: 80 }));
        assert_eq!(Size::from_console_size(0, 80).unwrap(), None);
        assert_eq!(Size::from_console_size(24, 0).unwrap(), None);
        assert_eq!(Size::from_console_size(65536, 80).unwrap_err().to_string(), "process.consoleSize.height: 65536 is out of range (at most 65535)");
        assert_eq!(Size::from_console_size(1, 70000).unwrap_err().to_string(), "process.consoleSize.width: 70000 is out of range (at most 65535)");
    }

    #[test]
    fn runc_flag_rules() {
        // (terminal, detached, console socket) → ok?
        assert!(check_flags(false, false, false).is_ok());
        assert!(check_flags(true, false, false).is_ok(), "foreground run -t: rt relays");
        assert!(check_flags(true, true, true).is_ok(), "create with a console socket");
        assert!(check_flags(false, true, false).is_ok());
        assert_eq!(
            check_flags(true, true, false).unwrap_err().to_string(),
            "process.terminal: cannot allocate tty if runc will detach without setting console socket"
        );
        for (t, d) in [(false, true), (true, false), (false, false)] {
            assert_eq!(
                check_flags(t, d, true).unwrap_err().to_string(),
                "--console-socket: cannot use console socket if runc will not detach or allocate tty",
                "{t} {d}"
            );
        }
    }

    #[test]
    fn the_tty_group_of_a_container() {
        let debian = "root:x:0:\ndaemon:x:1:\ntty:x:5:\nwheel:x:10:user\n";
        assert_eq!(tty_gid(debian), Some(5));
        assert_eq!(tty_gid("# nixos\nroot:x:0:\ntty:x:3:\ntty:x:7:\n"), Some(3), "the first entry, as getgrnam finds it");
        assert_eq!(tty_gid("root:x:0:\nttys:x:9:\n"), None);
        assert_eq!(tty_gid("tty:x:notanumber:\n"), None);
        assert_eq!(tty_gid(""), None);
    }

    #[test]
    fn the_slave_goes_to_the_process_uid_and_the_tty_group() {
        assert_eq!(slave_owner(1000, Some(5), 0), (1000, 5));
        // no tty group: the gid the devpts mount gave (gid=5 in runc's config) stays
        assert_eq!(slave_owner(1000, None, 5), (1000, 5));
        assert_eq!(slave_owner(0, None, 0), (0, 0));
    }

    #[test]
    fn only_devpts_ptmx_is_a_ptmx() {
        let devpts = systty::DEVPTS_SUPER_MAGIC;
        assert_eq!(ptmx_problem(devpts, libc::S_IFCHR | 0o666, 2, (5, 2)), None);
        let tmpfs = 0x0102_1994;
        assert_eq!(ptmx_problem(tmpfs, libc::S_IFCHR | 0o666, 2, (5, 2)).unwrap(), "is not on a devpts filesystem (filesystem type 0x1021994)");
        // a legacy /dev/ptmx node (5:2) on devpts is still not its ptmx inode
        assert!(ptmx_problem(devpts, libc::S_IFCHR | 0o620, 3, (136, 0)).unwrap().starts_with("is not devpts's ptmx"));
        assert!(ptmx_problem(devpts, libc::S_IFREG | 0o666, 2, (0, 0)).is_some());
        // CVE-2025-52565's shape: /dev/pts/ptmx a symlink to another devpts' ptmx
        assert_eq!(ptmx_problem(tmpfs, libc::S_IFLNK | 0o777, 9, (0, 0)).unwrap(), "is a symbolic link");
    }

    #[test]
    fn console_message_is_the_name() {
        assert_eq!(console_message("/dev/pts/ptmx").unwrap(), b"/dev/pts/ptmx");
        assert!(console_message("").is_err());
        assert!(console_message("a\0b").is_err());
        assert!(console_message(&"x".repeat(MAX_NAME_LEN - 1)).is_ok());
        assert_eq!(console_message(&"x".repeat(MAX_NAME_LEN)).unwrap_err().to_string().split(':').next(), Some("--console-socket"));
    }

    #[test]
    fn raw_mode_is_cfmakeraw_with_output_processing() {
        let host = rustix::pty::openpt(rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY).unwrap();
        let cooked = systty::tcgetattr(host.as_fd()).unwrap();
        assert!(cooked.local_modes.contains(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG));
        let raw = raw_termios(&cooked);
        assert!(!raw.local_modes.intersects(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG | LocalModes::IEXTEN));
        assert!(!raw.input_modes.intersects(InputModes::ICRNL | InputModes::IXON | InputModes::BRKINT | InputModes::ISTRIP));
        assert!(raw.output_modes.contains(OutputModes::OPOST), "output processing stays on");
        assert_eq!(raw.output_modes & OutputModes::ONLCR, cooked.output_modes & OutputModes::ONLCR, "ONLCR as it was");
        assert_eq!((raw.special_codes[SpecialCodeIndex::VMIN], raw.special_codes[SpecialCodeIndex::VTIME]), (1, 0));
        assert_eq!(raw.control_modes & rustix::termios::ControlModes::CSIZE, rustix::termios::ControlModes::CS8);
    }

    /// RawMode on a real pty (the host's devpts; no root needed): raw while it lives, the
    /// saved settings back after restore and after drop.
    #[test]
    fn raw_mode_comes_and_goes() {
        let master = rustix::pty::openpt(rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY | rustix::pty::OpenptFlags::CLOEXEC).unwrap();
        systty::unlockpt(master.as_fd()).unwrap();
        let slave = systty::open_peer(master.as_fd()).unwrap();
        let before = systty::tcgetattr(slave.as_fd()).unwrap();
        let g = RawMode::enter(slave.as_fd()).unwrap().unwrap();
        assert!(!systty::tcgetattr(slave.as_fd()).unwrap().local_modes.contains(LocalModes::ICANON));
        g.restore().unwrap();
        assert_eq!(systty::tcgetattr(slave.as_fd()).unwrap().local_modes, before.local_modes);
        {
            let _g = RawMode::enter(slave.as_fd()).unwrap().unwrap();
            assert!(!systty::tcgetattr(slave.as_fd()).unwrap().local_modes.contains(LocalModes::ECHO));
        }
        let after = systty::tcgetattr(slave.as_fd()).unwrap();
        assert_eq!((after.local_modes, after.input_modes, after.output_modes), (before.local_modes, before.input_modes, before.output_modes));
        // not a terminal: nothing to do
        let null = std::fs::File::open("/dev/null").unwrap();
        assert!(RawMode::enter(null.as_fd()).unwrap().is_none());
    }

    #[test]
    fn winsize_and_onlcr_on_a_pty() {
        let a = rustix::pty::openpt(rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY).unwrap();
        let b = rustix::pty::openpt(rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY).unwrap();
        systty::set_winsize(a.as_fd(), Size { rows: 40, cols: 132 }.winsize()).unwrap();
        copy_winsize(a.as_fd(), b.as_fd()).unwrap();
        let ws = systty::winsize(b.as_fd()).unwrap();
        assert_eq!((ws.ws_row, ws.ws_col), (40, 132));
        clear_onlcr(b.as_fd()).unwrap();
        assert!(!systty::tcgetattr(b.as_fd()).unwrap().output_modes.contains(OutputModes::ONLCR));
    }

    #[test]
    fn relay_blocks_what_it_reads() {
        let s = relay_signals();
        for sig in [libc::SIGCHLD, libc::SIGWINCH, libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            assert!(s.contains(&sig), "{sig}");
        }
        assert!(!s.contains(&libc::SIGKILL));
    }
}
