//! Thin, safe wrappers over the raw system calls rt makes. Each returns `io::Result` with the
//! kernel's errno; callers add the context (which step, which config field).
//!
//! Everything that is opened here is `O_CLOEXEC`: the container's process must inherit only
//! what it is meant to (CVE-2024-21626).

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub type Pid = libc::pid_t;

pub use rustix::event::{PollFd, PollFlags};
pub use rustix::fs::Stat;
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::thread::LinkNameSpaceType;

fn rpid(pid: Pid) -> io::Result<rustix::process::Pid> {
    rustix::process::Pid::from_raw(pid).ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))
}

/// Any signal number: the kernel judges it (rt's `kill` passes numbers through, as runc does).
fn signal(sig: i32) -> io::Result<rustix::process::Signal> {
    if !(1..=64).contains(&sig) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: a number in 1..=64 is a valid signal number for the kernel, reserved or not;
    // rt only passes it on to the kill syscalls.
    Ok(unsafe { rustix::process::Signal::from_raw_unchecked(sig) })
}

fn uid_of(uid: u32) -> rustix::process::Uid {
    rustix::process::Uid::from_raw(uid)
}

fn gid_of(gid: u32) -> rustix::process::Gid {
    rustix::process::Gid::from_raw(gid)
}

/// Turns a `-1` return into the current errno.
fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn check_int(ret: libc::c_int) -> io::Result<libc::c_int> {
    check(ret as libc::c_long).map(|r| r as libc::c_int)
}

/// Retries a call that the kernel interrupted with `EINTR`.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    // A signal interrupts a call now and then; a call that fails with EINTR every time (a
    // fault injected, a signal storm) is reported after a while, not retried forever.
    for _ in 0..EINTR_RETRIES {
        match f() {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            other => return other,
        }
    }
    f()
}

const EINTR_RETRIES: u32 = 1000;

/// A reader whose EINTRs are retried a bounded number of times: std's `read_to_end` retries
/// an interrupted read for ever, so a read that fails with EINTR every time (a signal storm,
/// an injected fault) would hang rt. After [`EINTR_RETRIES`] in a row it is an error.
pub struct BoundedEintr<R> {
    inner: R,
    interrupted: u32,
}

impl<R: io::Read> io::Read for BoundedEintr<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                self.interrupted += 1;
                if self.interrupted > EINTR_RETRIES {
                    // not of kind Interrupted, so that std's loops give up
                    return Err(io::Error::other(format!("read interrupted {EINTR_RETRIES} times in a row (EINTR)")));
                }
                Err(e)
            }
            other => {
                self.interrupted = 0;
                other
            }
        }
    }
}

/// `std::fs::read`, with EINTR retried a bounded number of times, and in fewer calls for the
/// small files rt reads (/proc, cgroup files): reads of 8 KiB until one returns 0, no stat.
pub fn read_file(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let mut f = bounded_eintr(std::fs::File::open(path)?);
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match io::Read::read(&mut f, &mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// `std::fs::read_to_string`, as [`read_file`].
pub fn read_string(path: impl AsRef<Path>) -> io::Result<String> {
    String::from_utf8(read_file(path)?).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

/// Wraps a reader so that its EINTRs are retried a bounded number of times.
pub fn bounded_eintr<R: io::Read>(inner: R) -> BoundedEintr<R> {
    BoundedEintr { inner, interrupted: 0 }
}

/// A fresh shared anonymous mapping of `len` bytes, readable and writable, shared with the
/// children forked or cloned after it (never unmapped by rt).
pub fn mmap_shared_anon(len: usize) -> io::Result<*mut libc::c_void> {
    // SAFETY: a new anonymous mapping at an address of the kernel's choosing touches no
    // existing memory; the result is checked.
    let m = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0) };
    if m == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(m)
}

pub fn cstring(s: impl AsRef<OsStr>) -> io::Result<CString> {
    CString::new(s.as_ref().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

pub fn cpath(p: &Path) -> io::Result<CString> {
    cstring(p.as_os_str())
}

/// Takes ownership of a raw fd the kernel just returned.
fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful syscall that creates a new descriptor,
    // nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

// ---------------------------------------------------------------------------------------------
// processes

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// What `clone3` returned: which side of the fork this is.
pub enum Forked {
    Parent(Pid),
    Child,
}

/// `clone3` without a new stack: the child continues here like after `fork`, in the namespaces
/// `flags` asks for and, with `cgroup`, already in that v2 cgroup (`CLONE_INTO_CGROUP`).
///
/// rt is single-threaded, so the child is a complete copy and may allocate and run any code;
/// it must leave through `_exit` or `execve`, never by returning into the caller's caller.
pub fn clone3(flags: u64, cgroup: Option<BorrowedFd>) -> io::Result<Forked> {
    // With CLONE_PARENT the child reports to rt as the caller does, and clone3 wants no exit
    // signal of its own.
    let exit_signal = if flags & libc::CLONE_PARENT as u64 != 0 { 0 } else { libc::SIGCHLD as u64 };
    let mut args = CloneArgs { flags, exit_signal, ..Default::default() };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // Anything buffered now would be written twice, once by each side.
    flush_stdio();
    // SAFETY: `args` is a valid clone_args of the size passed; no stack is given, so the child
    // runs on a copy of this stack, as with fork(2).
    let ret = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, std::mem::size_of::<CloneArgs>()) };
    match check(ret)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as Pid)),
    }
}

pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

fn flush_stdio() {
    use std::io::Write;
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
}

/// Leaves a cloned child without running the parent's exit handlers or flushing its buffers.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no user-space state.
    unsafe { libc::_exit(code) }
}

pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

pub fn getpid() -> Pid {
    rustix::process::getpid().as_raw_nonzero().get()
}

/// The status of a child as `waitpid` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

impl ExitStatus {
    /// The shell's convention, which runc follows: the code, or 128+N for signal N.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

pub fn waitpid(pid: Pid, flags: libc::c_int) -> io::Result<Option<(Pid, ExitStatus)>> {
    let mut status = 0;
    // SAFETY: status is a valid out-pointer.
    let ret = retry(|| check_int(unsafe { libc::waitpid(pid, &mut status, flags) }))?;
    if ret == 0 {
        return Ok(None);
    }
    let st = if libc::WIFEXITED(status) { ExitStatus::Exited(libc::WEXITSTATUS(status)) } else { ExitStatus::Signaled(libc::WTERMSIG(status)) };
    Ok(Some((ret, st)))
}

pub fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    Ok(rustix::process::pidfd_open(rpid(pid)?, rustix::process::PidfdFlags::empty())?)
}

/// Raw: signal 0 (`kill ID 0`, a liveness check) has no rustix `Signal`.
pub fn pidfd_send_signal(pidfd: BorrowedFd, sig: i32) -> io::Result<()> {
    // SAFETY: a null siginfo is allowed and means "as kill(2) would send it".
    check(unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), sig, std::ptr::null::<u8>(), 0) })?;
    Ok(())
}

pub fn kill(pid: Pid, sig: i32) -> io::Result<()> {
    match sig {
        0 => Ok(rustix::process::test_kill_process(rpid(pid)?)?),
        _ => Ok(rustix::process::kill_process(rpid(pid)?, signal(sig)?)?),
    }
}

/// A signal to every process of a process group.
pub fn kill_group(pgid: Pid, sig: i32) -> io::Result<()> {
    Ok(rustix::process::kill_process_group(rpid(pgid)?, signal(sig)?)?)
}

pub fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> io::Result<libc::c_int> {
    // SAFETY: the prctl options rt uses take integer arguments only.
    check_int(unsafe { libc::prctl(option, arg2, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong) })
}

/// Closes an fd this process got as a copy of its parent's and must not keep. Errors mean it
/// was not open, which is what was wanted.
pub fn close_inherited(fd: RawFd) {
    // SAFETY: the fd is a copy of the parent's; nothing in this process uses it or owns it.
    unsafe { libc::close(fd) };
}

/// These signals end the process with 128+N (the handler only calls _exit); execve resets it.
pub fn exit_on_signals(signals: &[i32]) {
    extern "C" fn exit_on_signal(sig: libc::c_int) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + sig) }
    }
    for &sig in signals {
        // SAFETY: the handler only calls _exit, which is async-signal-safe.
        unsafe { libc::signal(sig, exit_on_signal as *const () as libc::sighandler_t) };
    }
}

/// A command whose child starts with no signal blocked, whatever rt blocked for itself.
pub fn unblock_signals_in_child(cmd: &mut std::process::Command) {
    // SAFETY: the closure runs between fork and exec and only calls sigprocmask, which is
    // async-signal-safe; it allocates nothing.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, || {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            Ok(())
        });
    }
}

/// write_all to a pipe whose reader may be gone (a hook that does not read its stdin): EPIPE
/// comes back as an error instead of a SIGPIPE that would end rt.
pub fn write_all_no_sigpipe(fd: BorrowedFd, buf: &[u8]) -> io::Result<()> {
    // SAFETY: ignoring SIGPIPE for the duration of the write; rt is single-threaded and forks
    // nothing meanwhile, so no other code sees the changed disposition.
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let r = write_all(fd, buf);
    // SAFETY: putting back what was there.
    unsafe { libc::signal(libc::SIGPIPE, old) };
    r
}

/// These signals back to their default disposition.
pub fn default_signals(signals: &[i32]) {
    for &sig in signals {
        // SAFETY: restoring the default disposition.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

pub fn set_child_subreaper() -> io::Result<()> {
    prctl(libc::PR_SET_CHILD_SUBREAPER, 1).map(drop)
}

/// Replaces this process image. Returns only on failure.
pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: path, argv and envp are NUL-terminated strings in NULL-terminated arrays that
    // outlive the call.
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    io::Error::last_os_error()
}

// ---------------------------------------------------------------------------------------------
// signals

pub fn sigset(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for &s in signals {
        // SAFETY: valid pointer; an invalid signal number only makes the call fail.
        unsafe { libc::sigaddset(&mut set, s) };
    }
    set
}

pub fn sigprocmask(how: libc::c_int, set: &libc::sigset_t) -> io::Result<libc::sigset_t> {
    // SAFETY: sigset_t is plain data.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid sigset_t.
    check_int(unsafe { libc::sigprocmask(how, set, &mut old) })?;
    Ok(old)
}

pub fn signalfd(set: &libc::sigset_t) -> io::Result<OwnedFd> {
    // SAFETY: valid sigset pointer; -1 asks for a new fd.
    let fd = check_int(unsafe { libc::signalfd(-1, set, libc::SFD_CLOEXEC) })?;
    Ok(owned(fd as libc::c_long))
}

/// Reads one signal number from a signalfd.
pub fn read_signal(fd: BorrowedFd) -> io::Result<i32> {
    // SAFETY: signalfd_siginfo is plain data.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: the buffer is exactly one signalfd_siginfo.
    retry(|| check(unsafe { libc::read(fd.as_raw_fd(), &mut info as *mut _ as *mut libc::c_void, size) } as libc::c_long))?;
    Ok(info.ssi_signo as i32)
}

// ---------------------------------------------------------------------------------------------
// files

pub fn open(path: &Path, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    openat(None, path, flags, mode)
}

pub fn openat(dir: Option<BorrowedFd>, path: &Path, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    let dir = dir.unwrap_or(rustix::fs::CWD);
    let flags = OFlags::from_bits_retain((flags | libc::O_CLOEXEC) as u32);
    retry(|| Ok(rustix::fs::openat(dir, path, flags, Mode::from_raw_mode(mode))?))
}

pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

/// Within a procfs handle, on its own mount, through no magic link.
pub const PROC_RESOLVE: u64 = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

/// `openat2(2)`: with `RESOLVE_IN_ROOT` every `..` and absolute symlink stays below `dir`.
pub fn openat2(dir: BorrowedFd, path: &Path, flags: libc::c_int, mode: libc::mode_t, resolve: u64) -> io::Result<OwnedFd> {
    let flags = OFlags::from_bits_retain((flags | libc::O_CLOEXEC) as u32);
    let resolve = rustix::fs::ResolveFlags::from_bits_retain(resolve);
    retry(|| Ok(rustix::fs::openat2(dir, path, flags, Mode::from_raw_mode(mode), resolve)?))
}

pub fn stat(path: &Path) -> io::Result<Stat> {
    Ok(rustix::fs::stat(path)?)
}

pub fn fstat(fd: BorrowedFd) -> io::Result<Stat> {
    Ok(rustix::fs::fstat(fd)?)
}

pub fn mkdirat(dir: BorrowedFd, name: &Path, mode: libc::mode_t) -> io::Result<()> {
    Ok(rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(mode))?)
}

pub fn mknodat(dir: BorrowedFd, name: &Path, mode: libc::mode_t, dev: libc::dev_t) -> io::Result<()> {
    let kind = rustix::fs::FileType::from_raw_mode(mode);
    Ok(rustix::fs::mknodat(dir, name, kind, Mode::from_raw_mode(mode & 0o7777), dev)?)
}

pub fn mkfifoat(dir: BorrowedFd, name: &Path, mode: libc::mode_t) -> io::Result<()> {
    Ok(rustix::fs::mkfifoat(dir, name, Mode::from_raw_mode(mode))?)
}

pub fn symlinkat(target: &Path, dir: BorrowedFd, name: &Path) -> io::Result<()> {
    Ok(rustix::fs::symlinkat(target, dir, name)?)
}

pub fn unlinkat(dir: Option<BorrowedFd>, name: &Path, flags: libc::c_int) -> io::Result<()> {
    let dir = dir.unwrap_or(rustix::fs::CWD);
    Ok(rustix::fs::unlinkat(dir, name, AtFlags::from_bits_retain(flags as u32))?)
}

/// Changes owner without following a final symlink; an empty `name` means `dir` itself.
pub fn fchownat(dir: BorrowedFd, name: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let flags = AtFlags::SYMLINK_NOFOLLOW | if name.as_os_str().is_empty() { AtFlags::EMPTY_PATH } else { AtFlags::empty() };
    Ok(rustix::fs::chownat(dir, name, Some(uid_of(uid)), Some(gid_of(gid)), flags)?)
}

pub fn fchmod(fd: BorrowedFd, mode: libc::mode_t) -> io::Result<()> {
    Ok(rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))?)
}

pub fn fchmodat(dir: BorrowedFd, name: &Path, mode: libc::mode_t) -> io::Result<()> {
    Ok(rustix::fs::chmodat(dir, name, Mode::from_raw_mode(mode), AtFlags::empty())?)
}

pub fn fchdir(fd: BorrowedFd) -> io::Result<()> {
    Ok(rustix::process::fchdir(fd)?)
}

pub fn chdir(path: &Path) -> io::Result<()> {
    Ok(rustix::process::chdir(path)?)
}

pub fn chroot(path: &Path) -> io::Result<()> {
    Ok(rustix::process::chroot(path)?)
}

pub fn flock(fd: BorrowedFd, op: libc::c_int) -> io::Result<()> {
    use rustix::fs::FlockOperation as F;
    let op = match op {
        libc::LOCK_EX => F::LockExclusive,
        libc::LOCK_SH => F::LockShared,
        libc::LOCK_UN => F::Unlock,
        x if x == libc::LOCK_EX | libc::LOCK_NB => F::NonBlockingLockExclusive,
        x if x == libc::LOCK_SH | libc::LOCK_NB => F::NonBlockingLockShared,
        _ => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
    };
    retry(|| Ok(rustix::fs::flock(fd, op)?))
}

pub fn write_all(fd: BorrowedFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = retry(|| Ok(rustix::io::write(fd, buf)?))?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

pub fn read(fd: BorrowedFd, buf: &mut [u8]) -> io::Result<usize> {
    retry(|| Ok(rustix::io::read(fd, &mut *buf)?))
}

/// Marks every fd from `first` up close-on-exec (`CLOSE_RANGE_CLOEXEC`), so that only the
/// preserved ones and stdio reach the container's process.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: plain syscall with integer arguments.
    match check(unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) }) {
        Ok(_) => Ok(()),
        // Without noNewPrivileges the container's filter is loaded by now, and a profile older
        // than close_range answers ENOSYS, or EPERM when it names a newer call (runtime-tools'
        // has landlock): one fd at a time then, with calls every profile allows.
        Err(_) => {
            let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
            for fd in fds.into_iter().filter(|&fd| fd >= first as RawFd) {
                // SAFETY: F_SETFD on a number; one that is not open (the directory's own fd,
                // closed by now) just fails.
                unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            }
            Ok(())
        }
    }
}

/// Clears `FD_CLOEXEC`, for an fd that must survive execve.
pub fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: the caller names an fd it knows to be open (a preserved one) for this one call.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    Ok(rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?)
}

// ---------------------------------------------------------------------------------------------
// mounts

pub fn mount(source: Option<&Path>, target: &Path, fstype: Option<&str>, flags: libc::c_ulong, data: Option<&str>) -> io::Result<()> {
    let src = source.map(cpath).transpose()?;
    let tgt = cpath(target)?;
    let typ = fstype.map(cstring).transpose()?;
    let dat = data.map(cstring).transpose()?;
    let p = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is a NUL-terminated string or null, as mount(2) allows.
    check_int(unsafe { libc::mount(p(&src), tgt.as_ptr(), p(&typ), flags, p(&dat) as *const libc::c_void) })?;
    Ok(())
}

pub fn umount2(target: &Path, flags: libc::c_int) -> io::Result<()> {
    Ok(rustix::mount::unmount(target, rustix::mount::UnmountFlags::from_bits_retain(flags as u32))?)
}

pub fn pivot_root(new_root: &Path, put_old: &Path) -> io::Result<()> {
    Ok(rustix::process::pivot_root(new_root, put_old)?)
}

/// The path through which the kernel reaches the object behind `fd` (procfs magic link); used
/// as a mount source or target so that the mount lands on exactly the inode rt resolved.
pub fn fd_path(fd: BorrowedFd) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x01;
pub const MOUNT_ATTR_NOSUID: u64 = 0x02;
pub const MOUNT_ATTR_NODEV: u64 = 0x04;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x08;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x00;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

#[repr(C)]
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// `mount_setattr(2)` on the mount `fd` is the root of (`recursive`: and every mount below).
pub fn mount_setattr(fd: BorrowedFd, recursive: bool, attr: &MountAttr) -> io::Result<()> {
    let empty = c"";
    let flags = libc::AT_EMPTY_PATH as libc::c_uint | if recursive { libc::AT_RECURSIVE as libc::c_uint } else { 0 };
    // SAFETY: empty path with AT_EMPTY_PATH acts on fd; attr is a valid mount_attr of the size passed.
    check(unsafe {
        libc::syscall(libc::SYS_mount_setattr, fd.as_raw_fd(), empty.as_ptr(), flags, attr as *const MountAttr, std::mem::size_of::<MountAttr>())
    })?;
    Ok(())
}

pub fn setns(fd: BorrowedFd, nstype: libc::c_int) -> io::Result<()> {
    // LinkNameSpaceType's values are the CLONE_NEW* flags; 0 would accept any type.
    let t = [
        (libc::CLONE_NEWNS, LinkNameSpaceType::Mount),
        (libc::CLONE_NEWCGROUP, LinkNameSpaceType::ControlGroup),
        (libc::CLONE_NEWUTS, LinkNameSpaceType::HostNameAndNISDomainName),
        (libc::CLONE_NEWIPC, LinkNameSpaceType::InterProcessCommunication),
        (libc::CLONE_NEWUSER, LinkNameSpaceType::User),
        (libc::CLONE_NEWPID, LinkNameSpaceType::ProcessID),
        (libc::CLONE_NEWNET, LinkNameSpaceType::Network),
        (0x80, LinkNameSpaceType::Time),
    ]
    .into_iter()
    .find(|&(f, _)| f == nstype)
    .map(|(_, t)| t);
    Ok(rustix::thread::move_into_link_name_space(fd, t)?)
}

pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: rt is single-threaded, and no flag it passes (CLONE_FILES/FS/VM/SIGHAND are
    // never among them) unshares state that Rust or the C library relies on being shared.
    Ok(unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::from_bits_retain(flags as u32)) }?)
}

/// The namespace type of an nsfs fd (`NS_GET_NSTYPE`), to check a `path` names what it claims.
pub fn ns_type(fd: BorrowedFd) -> io::Result<libc::c_int> {
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
    // SAFETY: the ioctl takes no argument and returns the type.
    check_int(unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) })
}

pub fn sethostname(name: &str) -> io::Result<()> {
    Ok(rustix::system::sethostname(name.as_bytes())?)
}

pub fn setdomainname(name: &str) -> io::Result<()> {
    Ok(rustix::system::setdomainname(name.as_bytes())?)
}

/// Brings the loopback interface of the current network namespace up.
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: plain socket creation.
    let s = check_int(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    let sock = owned(s as libc::c_long);
    // SAFETY: ifreq is plain data.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    // SAFETY: valid socket and ifreq; SIOCSIFFLAGS reads the name and flags.
    check_int(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req) })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// credentials

pub fn setgroups(groups: &[u32]) -> io::Result<()> {
    let groups: Vec<rustix::process::Gid> = groups.iter().map(|&g| gid_of(g)).collect();
    Ok(rustix::thread::set_thread_groups(&groups)?)
}

/// The raw syscall, not glibc's wrapper: glibc would broadcast to threads (there are none) and
/// the raw call changes exactly this task.
pub fn setresgid(gid: u32) -> io::Result<()> {
    let g = gid_of(gid);
    Ok(rustix::thread::set_thread_res_gid(g, g, g)?)
}

pub fn setresuid(uid: u32) -> io::Result<()> {
    let u = uid_of(uid);
    Ok(rustix::thread::set_thread_res_uid(u, u, u)?)
}

pub fn umask(mask: libc::mode_t) -> libc::mode_t {
    rustix::process::umask(Mode::from_raw_mode(mask)).as_raw_mode()
}

pub fn personality(persona: libc::c_ulong) -> io::Result<()> {
    // SAFETY: plain syscall.
    check_int(unsafe { libc::personality(persona) })?;
    Ok(())
}

/// The kernel's `struct sched_attr` (SCHED_ATTR_SIZE_VER1: with the utilization clamps).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

pub fn sched_setattr(attr: &SchedAttr) -> io::Result<()> {
    let attr = SchedAttr { size: std::mem::size_of::<SchedAttr>() as u32, ..*attr };
    // SAFETY: a valid sched_attr whose size field matches the struct; pid 0 is this thread.
    check(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) })?;
    Ok(())
}

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, ioprio)`: this process.
pub fn ioprio_set(ioprio: u16) -> io::Result<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, libc::c_int::from(ioprio)) })?;
    Ok(())
}

/// `set_mempolicy(mode, nodemask, maxnode)`; `mode` carries the MPOL_F_* flags.
pub fn set_mempolicy(mode: i32, nodemask: &[libc::c_ulong]) -> io::Result<()> {
    let (ptr, maxnode) = match nodemask {
        [] => (std::ptr::null(), 0),
        // One more than the bits: the kernel reads maxnode - 1 of them (as numactl passes it).
        m => (m.as_ptr(), (m.len() * libc::c_ulong::BITS as usize + 1) as libc::c_ulong),
    };
    // SAFETY: `ptr` is null with maxnode 0, or points at the `maxnode - 1` bits the kernel reads.
    check(unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) })?;
    Ok(())
}

pub fn getrlimit(resource: libc::c_int) -> io::Result<(u64, u64)> {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: valid out-pointer.
    check_int(unsafe { libc::getrlimit(resource as _, &mut r) })?;
    Ok((r.rlim_cur, r.rlim_max))
}

pub fn setrlimit(resource: libc::c_int, soft: u64, hard: u64) -> io::Result<()> {
    let r = libc::rlimit { rlim_cur: soft, rlim_max: hard };
    // SAFETY: valid pointer.
    check_int(unsafe { libc::setrlimit(resource as _, &r) })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// sockets

/// A pipe, both ends close-on-exec: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}

pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    Ok(rustix::net::socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)?)
}

/// A receive on `sock` gives up with `EAGAIN` after `timeout` without data (SO_RCVTIMEO).
pub fn set_recv_timeout(sock: BorrowedFd, timeout: std::time::Duration) -> io::Result<()> {
    Ok(rustix::net::sockopt::set_socket_timeout(sock, rustix::net::sockopt::Timeout::Recv, Some(timeout))?)
}

/// Sends one datagram, with `fds` attached as `SCM_RIGHTS`.
pub fn send_with_fds(sock: BorrowedFd, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    // SAFETY: the caller passes fds it holds open across this call.
    let fds: Vec<BorrowedFd> = fds.iter().map(|&fd| unsafe { BorrowedFd::borrow_raw(fd) }).collect();
    let mut space = [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    retry(|| Ok(rustix::net::sendmsg(sock, &[io::IoSlice::new(data)], &mut control, SendFlags::NOSIGNAL)?))?;
    Ok(())
}

/// Receives one datagram and the fds that came with it. An empty result means the peer closed.
pub fn recv_with_fds(sock: BorrowedFd, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut space = [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let n = retry(|| Ok(rustix::net::recvmsg(sock, &mut [io::IoSliceMut::new(&mut *buf)], &mut control, RecvFlags::CMSG_CLOEXEC)?.bytes))?;
    let mut fds = Vec::new();
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(r) = msg {
            fds.extend(r);
        }
    }
    Ok((n, fds))
}

/// The errno's text the way runc (Go) prints it: lower-case, "no such file or directory".
/// Engines match on these words (Podman maps "no such file or directory" to exit code 127), so
/// they come from this table, not from the C library (musl words several differently).
pub fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_word(n),
        None => e.to_string(),
    }
}

/// [`errno_text`] of an errno value.
pub fn errno_word(n: i32) -> String {
    let known = match n {
        libc::EPERM => "operation not permitted",
        libc::ENOENT => "no such file or directory",
        libc::ESRCH => "no such process",
        libc::EINTR => "interrupted system call",
        libc::EIO => "input/output error",
        libc::ENXIO => "no such device or address",
        libc::E2BIG => "argument list too long",
        libc::ENOEXEC => "exec format error",
        libc::EBADF => "bad file descriptor",
        libc::ECHILD => "no child processes",
        libc::EAGAIN => "resource temporarily unavailable",
        libc::ENOMEM => "cannot allocate memory",
        libc::EACCES => "permission denied",
        libc::EFAULT => "bad address",
        libc::EBUSY => "device or resource busy",
        libc::EEXIST => "file exists",
        libc::EXDEV => "invalid cross-device link",
        libc::ENODEV => "no such device",
        libc::ENOTDIR => "not a directory",
        libc::EISDIR => "is a directory",
        libc::EINVAL => "invalid argument",
        libc::ENFILE => "too many open files in system",
        libc::EMFILE => "too many open files",
        libc::ENOTTY => "inappropriate ioctl for device",
        libc::ETXTBSY => "text file busy",
        libc::EFBIG => "file too large",
        libc::ENOSPC => "no space left on device",
        libc::EROFS => "read-only file system",
        libc::EMLINK => "too many links",
        libc::EPIPE => "broken pipe",
        libc::ERANGE => "numerical result out of range",
        libc::ENAMETOOLONG => "file name too long",
        libc::ENOSYS => "function not implemented",
        libc::ENOTEMPTY => "directory not empty",
        libc::ELOOP => "too many levels of symbolic links",
        libc::EOPNOTSUPP => "operation not supported",
        libc::ENOTCONN => "transport endpoint is not connected",
        libc::ESTALE => "stale file handle",
        libc::ECONNREFUSED => "connection refused",
        libc::ECONNRESET => "connection reset by peer",
        libc::ETIMEDOUT => "connection timed out",
        libc::EOVERFLOW => "value too large for defined data type",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    // SAFETY: strerror returns a pointer to a string that lives at least until the next call.
    let s = unsafe { CStr::from_ptr(libc::strerror(n)) }.to_string_lossy().into_owned();
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// `open_tree(2)`: with `OPEN_TREE_CLONE`, a detached copy of the mount at `path` (relative to
/// `dir`, or `dir` itself when `path` is empty), and with `recursive` of those below it too.
pub fn open_tree(dir: Option<BorrowedFd>, path: &Path, clone: bool, recursive: bool) -> io::Result<OwnedFd> {
    use rustix::mount::OpenTreeFlags as F;
    let mut flags = F::OPEN_TREE_CLOEXEC;
    if clone {
        flags |= F::OPEN_TREE_CLONE;
    }
    if recursive {
        flags |= F::AT_RECURSIVE;
    }
    if path.as_os_str().is_empty() {
        flags |= F::AT_EMPTY_PATH;
    }
    Ok(rustix::mount::open_tree(dir.unwrap_or(rustix::fs::CWD), path, flags)?)
}

/// Attaches the detached mount `from` on top of the object `to` refers to.
pub fn move_mount(from: BorrowedFd, to: BorrowedFd) -> io::Result<()> {
    use rustix::mount::MoveMountFlags as F;
    Ok(rustix::mount::move_mount(from, "", to, "", F::MOVE_MOUNT_F_EMPTY_PATH | F::MOVE_MOUNT_T_EMPTY_PATH)?)
}

/// Attaches the detached mount `from` on `name` below the directory `dir`.
pub fn move_mount_at(from: BorrowedFd, dir: BorrowedFd, name: &Path) -> io::Result<()> {
    Ok(rustix::mount::move_mount(from, "", dir, name, rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH)?)
}

/// Sets the effective, permitted and inheritable capability sets in one `capset(2)`.
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let hdr = Header { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let lo = |v: u64| v as u32;
    let hi = |v: u64| (v >> 32) as u32;
    let data = [
        Data { effective: lo(effective), permitted: lo(permitted), inheritable: lo(inheritable) },
        Data { effective: hi(effective), permitted: hi(permitted), inheritable: hi(inheritable) },
    ];
    // SAFETY: a v3 header and the two data words it requires.
    check(unsafe { libc::syscall(libc::SYS_capset, &hdr as *const Header, data.as_ptr()) })?;
    Ok(())
}

/// Whether this process may write `path` (as its effective ids).
pub fn may_write(path: &Path) -> bool {
    rustix::fs::accessat(rustix::fs::CWD, path, rustix::fs::Access::WRITE_OK, AtFlags::EACCESS).is_ok()
}

/// poll(2) over several fds; returns how many reported something.
pub fn poll(fds: &mut [PollFd], timeout_ms: i32) -> io::Result<usize> {
    let timeout = (timeout_ms >= 0).then(|| rustix::time::Timespec { tv_sec: (timeout_ms / 1000).into(), tv_nsec: ((timeout_ms % 1000) * 1_000_000).into() });
    retry(|| Ok(rustix::event::poll(&mut *fds, timeout.as_ref())?))
}

const KEYCTL_DESCRIBE: libc::c_int = 6;
const KEYCTL_SETPERM: libc::c_int = 5;
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;

/// Joins (creating it if needed) the session keyring `name`; returns its serial.
pub fn join_session_keyring(name: &str) -> io::Result<i32> {
    let c = cstring(name)?;
    // SAFETY: valid NUL-terminated name.
    let id = check(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, c.as_ptr()) })?;
    Ok(id as i32)
}

/// Adds permission bits to a key: its description says what they are now.
pub fn key_add_perm(id: i32, add: u32) -> io::Result<()> {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for its length.
    let n = check(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_DESCRIBE, id, buf.as_mut_ptr(), buf.len()) })? as usize;
    // "type;uid;gid;perm;description"
    let desc = String::from_utf8_lossy(&buf[..n.min(buf.len())]);
    let perm = desc
        .split(';')
        .nth(3)
        .and_then(|p| u32::from_str_radix(p.trim_end_matches('\0'), 16).ok())
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: integer arguments only.
    check(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, id, perm | add) })?;
    Ok(())
}

pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// The filesystem type of what `fd` refers to (`statfs.f_type`).
pub fn fs_type(fd: BorrowedFd) -> io::Result<i64> {
    Ok(rustix::fs::fstatfs(fd)?.f_type as i64)
}

/// Whether `fd` is the root directory of a procfs mount: where rt writes to /proc, it goes
/// through such a handle, never through a path the container could have redirected.
pub fn is_procfs_root(fd: BorrowedFd) -> io::Result<bool> {
    const PROC_ROOT_INO: u64 = 1;
    Ok(fs_type(fd)? == PROC_SUPER_MAGIC && fstat(fd)?.st_ino == PROC_ROOT_INO)
}

/// This mount namespace's `/proc`, if it is a procfs root (not a directory, a symlink or
/// another filesystem in its place).
pub fn open_proc_root() -> io::Result<Option<OwnedFd>> {
    let fd = open(Path::new("/proc"), libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)?;
    Ok(is_procfs_root(std::os::fd::AsFd::as_fd(&fd))?.then_some(fd))
}

/// The target of a symlink; an empty `name` reads the link `dir` itself is an `O_PATH` fd of.
pub fn readlinkat(dir: BorrowedFd, name: &Path) -> io::Result<std::path::PathBuf> {
    let target = rustix::fs::readlinkat(dir, name, Vec::new())?;
    Ok(std::path::PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(target.into_bytes())))
}

pub fn fchown(fd: BorrowedFd, uid: u32, gid: u32) -> io::Result<()> {
    Ok(rustix::fs::fchown(fd, Some(uid_of(uid)), Some(gid_of(gid)))?)
}

/// Reopens what an `O_PATH` fd refers to with real access flags, through procfs `proc` (a
/// handle rt checked with [`is_procfs_root`]): the same inode, whatever the path now holds.
pub fn reopen(proc_root: BorrowedFd, fd: BorrowedFd, flags: libc::c_int) -> io::Result<OwnedFd> {
    openat(Some(proc_root), Path::new(&format!("thread-self/fd/{}", fd.as_raw_fd())), flags, 0)
}

/// execveat(fd, "", AT_EMPTY_PATH): runs exactly the file rt checked. Returns only on failure.
pub fn execveat(fd: BorrowedFd, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    let empty = c"";
    // SAFETY: NUL-terminated arrays of NUL-terminated strings that outlive the call.
    unsafe { libc::syscall(libc::SYS_execveat, fd.as_raw_fd(), empty.as_ptr(), a.as_ptr(), e.as_ptr(), libc::AT_EMPTY_PATH) };
    io::Error::last_os_error()
}

/// An empty tmpfs that is mounted nowhere: its root, which only the holder of this fd reaches.
pub fn detached_tmpfs() -> io::Result<OwnedFd> {
    use rustix::mount::{fsconfig_create, fsconfig_set_string, fsmount, fsopen, FsMountFlags, FsOpenFlags, MountAttrFlags};
    let fs = fsopen("tmpfs", FsOpenFlags::FSOPEN_CLOEXEC)?;
    fsconfig_set_string(&fs, "size", "4k")?;
    fsconfig_create(&fs)?;
    Ok(fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::MOUNT_ATTR_NODEV | MountAttrFlags::MOUNT_ATTR_NOSUID)?)
}

/// A procfs instance of the caller's pid namespace that is mounted nowhere (fsopen + fsmount,
/// never attached): nothing in the container can have put anything over or into it.
pub fn detached_procfs() -> io::Result<OwnedFd> {
    use rustix::mount::{fsconfig_create, fsmount, fsopen, FsMountFlags, FsOpenFlags, MountAttrFlags};
    let fs = fsopen("proc", FsOpenFlags::FSOPEN_CLOEXEC)?;
    fsconfig_create(&fs)?;
    Ok(fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())?)
}

// ---------------------------------------------------------------------------------------------
// odds and ends the other modules need

/// rt's effective uid and gid.
pub fn effective_ids() -> (u32, u32) {
    (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw())
}

/// Raises capability `cap` in the ambient set (it must be permitted and inheritable).
pub fn ambient_raise(cap: u32) -> io::Result<()> {
    // SAFETY: integer-only prctl.
    check_int(unsafe {
        libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, cap as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong)
    })?;
    Ok(())
}

/// Reads at `offset` without moving the file position.
pub fn pread(fd: BorrowedFd, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    retry(|| Ok(rustix::io::pread(fd, &mut *buf, offset)?))
}

/// A non-blocking eventfd, for cgroup v1 notifications.
pub fn eventfd() -> io::Result<OwnedFd> {
    use rustix::event::EventfdFlags;
    Ok(rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?)
}

/// A non-blocking inotify fd watching `path` for changes.
pub fn inotify_modify(path: &Path) -> io::Result<OwnedFd> {
    use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
    let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
    inotify::add_watch(&fd, path, WatchFlags::MODIFY)?;
    Ok(fd)
}

/// `bpf(2)`.
///
/// # Safety
/// `attr` must be a live, initialised `#[repr(C)]` prefix of `union bpf_attr` for `cmd`, whose
/// pointers (instructions, license, log buffer) are valid for what the kernel reads and writes
/// through them during the call.
pub unsafe fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: the caller's promise above; the exact size of `attr` is passed.
    check(unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>()) })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// A reader interrupted every time: std's read_to_end alone would loop for ever.
    struct AlwaysEintr(u32);
    impl std::io::Read for AlwaysEintr {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            self.0 += 1;
            Err(std::io::Error::from_raw_os_error(libc::EINTR))
        }
    }

    #[test]
    fn eintr_for_ever_ends_a_read_with_an_error() {
        use std::io::Read;
        let mut r = super::bounded_eintr(AlwaysEintr(0));
        let mut out = Vec::new();
        let e = r.read_to_end(&mut out).unwrap_err();
        assert!(e.to_string().contains("interrupted"), "{e}");
        assert_eq!(r.inner.0, super::EINTR_RETRIES + 1);
    }

    /// Pure functions of the libc crate (no system call behind them) that any module may use.
    const PURE: [&str; 3] = ["makedev", "major", "minor"];

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// One way to call the kernel: a `libc::f(` outside sys.rs (and sys/) is a raw call that
    /// should be a wrapper here. Test code is exempt: it may poke the kernel however it likes.
    #[test]
    fn raw_libc_calls_only_in_the_syscall_layer() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut found = Vec::new();
        for f in files {
            let rel = f.strip_prefix(&src).unwrap();
            if rel == Path::new("sys.rs") || rel.starts_with("sys") || rel.ends_with("host_tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for (n, line) in code.lines().enumerate() {
                let mut rest = line;
                while let Some(i) = rest.find("libc::") {
                    rest = &rest[i + 6..];
                    let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    let called = rest[name.len()..].trim_start().starts_with('(');
                    if called && name.starts_with(|c: char| c.is_ascii_lowercase()) && !PURE.contains(&name.as_str()) {
                        found.push(format!("{}:{}: libc::{name}", rel.display(), n + 1));
                    }
                }
            }
        }
        assert!(found.is_empty(), "raw libc calls outside src/sys.rs:\n{}", found.join("\n"));
    }
}
pub mod seccomp;
pub mod tty;
