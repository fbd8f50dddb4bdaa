//! seccomp(2) and the unix-socket connect the notify listener needs.
//!
//! The filter goes in with the raw seccomp(2) call, not prctl(PR_SET_SECCOMP) and not
//! seccompiler's `apply_filter`, which sets no_new_privs first: a container with
//! `noNewPrivileges: false` keeps setuid binaries working. Without no_new_privs the kernel
//! wants CAP_SYS_ADMIN, which rt (root) has until it execs the container's process.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use seccompiler::sock_filter;

use super::{check, check_int, owned, retry};

pub const FILTER_FLAG_TSYNC: u32 = 1 << 0;
pub const FILTER_FLAG_LOG: u32 = 1 << 1;
pub const FILTER_FLAG_SPEC_ALLOW: u32 = 1 << 2;
pub const FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;
pub const FILTER_FLAG_TSYNC_ESRCH: u32 = 1 << 4;
pub const FILTER_FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;

/// `struct sock_fprog`, over seccompiler's instruction type (the kernel's layout).
#[repr(C)]
struct Fprog {
    len: libc::c_ushort,
    filter: *const sock_filter,
}

/// Loads `prog` for this thread (all threads with TSYNC). With `FILTER_FLAG_NEW_LISTENER`,
/// returns the notify listener (close-on-exec, as the kernel makes it).
///
/// Allocates nothing, so it may run in a child forked from a threaded process.
pub fn set_mode_filter(flags: u32, prog: &[sock_filter]) -> io::Result<Option<OwnedFd>> {
    let len = libc::c_ushort::try_from(prog.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let fprog = Fprog { len, filter: prog.as_ptr() };
    // SAFETY: fprog points at `len` instructions of the kernel's sock_filter layout, which
    // outlive the call; the kernel copies them.
    let ret = check(unsafe { libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags as libc::c_ulong, &fprog as *const Fprog) })?;
    Ok((flags & FILTER_FLAG_NEW_LISTENER != 0).then(|| owned(ret)))
}

/// Whether this kernel knows `flag`, asked the way libseccomp asks: with no program, a known
/// flag fails on copying the program (EFAULT), an unknown one on the flags (EINVAL). Loads
/// nothing and needs no privilege.
pub fn filter_flag_supported(flag: u32) -> bool {
    // The kernel takes WAIT_KILLABLE_RECV only together with a listener.
    let flags = if flag == FILTER_FLAG_WAIT_KILLABLE_RECV { flag | FILTER_FLAG_NEW_LISTENER } else { flag };
    // SAFETY: a null program makes the call fail before anything is loaded.
    let ret = unsafe { libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags as libc::c_ulong, std::ptr::null::<Fprog>()) };
    ret == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

/// A connected `AF_UNIX` `SOCK_STREAM` socket (close-on-exec) to the listener at `path`.
pub fn connect_unix_stream(path: &Path) -> io::Result<OwnedFd> {
    // SAFETY: sockaddr_un is plain data.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: plain syscall with integer arguments.
    let sock = owned(check_int(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })? as libc::c_long);
    let len = (std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
    // SAFETY: addr is a sockaddr_un whose first `len` bytes are initialised.
    retry(|| check_int(unsafe { libc::connect(sock.as_raw_fd(), &addr as *const libc::sockaddr_un as *const libc::sockaddr, len) }))?;
    Ok(sock)
}

/// The supervisor's side of a notify listener, for the tests' agent.
#[cfg(test)]
pub mod notif {
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd};

    use super::super::check_int;

    /// Waits for the next notification.
    pub fn recv(listener: BorrowedFd) -> io::Result<libc::seccomp_notif> {
        // SAFETY: seccomp_notif is plain data; the kernel wants it zeroed.
        let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: the ioctl fills a seccomp_notif.
        check_int(unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV as _, &mut n as *mut libc::seccomp_notif) })?;
        Ok(n)
    }

    /// Answers notification `id`: the call returns `val`, or fails with `error` (an errno).
    pub fn send(listener: BorrowedFd, id: u64, val: i64, error: i32) -> io::Result<()> {
        let mut r = libc::seccomp_notif_resp { id, val, error: -error, flags: 0 };
        // SAFETY: the ioctl reads a seccomp_notif_resp.
        check_int(unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND as _, &mut r as *mut libc::seccomp_notif_resp) })?;
        Ok(())
    }
}
