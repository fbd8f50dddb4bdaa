//! rt's one error type. Every message is one line that names the thing and, where it comes
//! from the config, the field (`mounts[3].destination`), so the user can find it.
//!
//! An [`Error`] is plain data (it derives serde): a child of rt sends its failure over the
//! launch channel as it is, kind, field and errno included, and rt reports exactly that.

use std::fmt::{self, Display};
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An errno value shown as runc shows it: `device or resource busy`, without Rust's
/// `(os error 16)` suffix (the words come from [`crate::sys::errno_word`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Errno(pub i32);

impl Errno {
    /// An io::Error without an OS code comes from std itself (a short write, say); EIO is the
    /// closest errno for "the operation did not happen".
    pub fn from_io(e: &io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::sys::errno_word(self.0))
    }
}

#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize)]
pub enum Error {
    /// The config asks for something invalid, or something this host cannot do:
    /// `field: what is wrong`.
    #[error("{field}: {message}")]
    Spec { field: String, message: String },

    /// A system call failed while doing `what` (which names the field where there is one).
    #[error("{what}: {errno}")]
    Sys { what: String, errno: Errno },

    /// The lifecycle errors, in runc's words: engines match on them.
    #[error("container does not exist")]
    NotExist,
    #[error("container with given ID already exists: {0}")]
    Exists(String),
    #[error("container not running")]
    NotRunning,

    /// The kernel refused a write of a resource value.
    #[error("{field}: writing {value} to {}: {errno}{hint}", .path.display())]
    CgroupWrite { field: String, value: String, path: PathBuf, errno: Errno, hint: String },
    /// Any other file operation on the cgroup filesystem (mkdir, rmdir, open, read).
    #[error("cgroup: {op} {}: {errno}{hint}", .path.display())]
    CgroupFs { op: String, path: PathBuf, errno: Errno, hint: String },
    /// Moving a process into a cgroup failed.
    #[error("cgroup: adding pid {pid} to {}: {errno}{hint}", .path.display())]
    AddPid { pid: i32, path: PathBuf, errno: Errno, hint: String },
    /// `linux.cgroupsPath` cannot be used.
    #[error("linux.cgroupsPath {path:?}: {reason}")]
    CgroupsPath { path: String, reason: String },
    /// /proc/self/mountinfo or /proc/self/cgroup say something rt cannot use.
    #[error("cgroup layout: {0}")]
    CgroupLayout(String),
    /// Loading or attaching the v2 device filter failed.
    #[error("linux.resources.devices: {op} (cgroup {}): {errno}{detail}", .path.display())]
    Bpf { op: String, path: PathBuf, errno: Errno, detail: String },
    /// A cgroup did not do what rt asked (pause/resume did not reach the state, a process
    /// would not leave).
    #[error("cgroup: {0}")]
    Cgroup(String),

    #[error("{0}")]
    Msg(String),
}

impl Error {
    pub fn spec(field: impl Display, message: impl Display) -> Error {
        Error::Spec { field: field.to_string(), message: message.to_string() }
    }

    pub fn msg(m: impl Display) -> Error {
        Error::Msg(m.to_string())
    }

    /// A failed system call: `what` it was doing, and the kernel's errno.
    pub fn sys(what: impl Display, errno: i32) -> Error {
        Error::Sys { what: what.to_string(), errno: Errno(errno) }
    }

    /// An io::Error while doing `what`. One without an errno (std's own, such as invalid
    /// UTF-8) keeps its words.
    pub fn io(what: impl Display, e: io::Error) -> Error {
        match e.raw_os_error() {
            Some(n) => Error::sys(what, n),
            None => Error::Msg(format!("{what}: {e}")),
        }
    }

    /// This error with a prefix (the field, the step) in front of its message, of the same kind.
    pub fn prefixed(self, p: impl Display) -> Error {
        match self {
            Error::Sys { what, errno } => Error::Sys { what: format!("{p}: {what}"), errno },
            Error::Spec { field, message } => Error::Spec { field: format!("{p}: {field}"), message },
            other => Error::Msg(format!("{p}: {other}")),
        }
    }

    /// The errno of a failed system call, if that is what this is.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Sys { errno, .. }
            | Error::CgroupWrite { errno, .. }
            | Error::CgroupFs { errno, .. }
            | Error::AddPid { errno, .. }
            | Error::Bpf { errno, .. } => Some(errno.0),
            _ => None,
        }
    }
}

/// `.ctx("what rt was doing")` on an `io::Result`.
pub trait Context<T> {
    fn ctx(self, what: impl Display) -> Result<T>;
    fn with_ctx<D: Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, what: impl Display) -> Result<T> {
        self.map_err(|e| Error::io(what, e))
    }
    fn with_ctx<D: Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| Error::io(what(), e))
    }
}

/// Puts a prefix (the field, the step) in front of an error's message, keeping its kind.
pub trait Prefix<T> {
    fn prefix<D: Display>(self, p: impl FnOnce() -> D) -> Result<T>;
}

impl<T> Prefix<T> for Result<T> {
    fn prefix<D: Display>(self, p: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| e.prefixed(p()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_reads_like_strerror() {
        assert_eq!(Errno(libc::EBUSY).to_string(), "device or resource busy");
        assert_eq!(Errno(libc::ENOENT).to_string(), "no such file or directory");
    }

    #[test]
    fn io_errors_keep_their_words() {
        let e: Result<()> = Err(io::Error::from_raw_os_error(libc::EACCES)).ctx("open x");
        assert_eq!(e.unwrap_err().to_string(), "open x: permission denied");
        let e: Result<()> = Err(io::Error::new(io::ErrorKind::InvalidData, "stream did not contain valid UTF-8")).ctx("read x");
        assert_eq!(e.unwrap_err().to_string(), "read x: stream did not contain valid UTF-8");
    }

    #[test]
    fn an_error_crosses_the_channel_whole() {
        let e = Error::CgroupWrite {
            field: "linux.resources.memory.limit".into(),
            value: "1".into(),
            path: "/sys/fs/cgroup/memory/x/memory.limit_in_bytes".into(),
            errno: Errno(libc::EBUSY),
            hint: String::new(),
        };
        let back: Error = serde_json::from_slice(&serde_json::to_vec(&e).unwrap()).unwrap();
        assert_eq!(back.to_string(), e.to_string());
        assert_eq!(back.errno(), Some(libc::EBUSY));
        let e = Error::sys("mounts[3] (/data): mount tmpfs", libc::ENODEV).prefixed("setup");
        let back: Error = serde_json::from_slice(&serde_json::to_vec(&e).unwrap()).unwrap();
        assert_eq!(back.to_string(), "setup: mounts[3] (/data): mount tmpfs: no such device");
        assert_eq!(back.errno(), Some(libc::ENODEV));
    }
}
