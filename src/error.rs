//! The errors rt reports. Every message is one line that names the thing and, where it comes
//! from the config, the field (`mounts[3].destination`), so the user can find it.

use std::fmt::Display;
use std::io;

use crate::cgroups::CgroupError;
use crate::sys::errno_text;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config asks for something invalid: `field: what is wrong`.
    #[error("{field}: {message}")]
    Spec { field: String, message: String },

    /// A system call failed while doing `what` (which names the field where there is one).
    #[error("{what}: {}", errno_text(.source))]
    Sys { what: String, source: io::Error },

    /// The lifecycle errors, in runc's words: engines match on them.
    #[error("container does not exist")]
    NotExist,
    #[error("container with given ID already exists: {0}")]
    Exists(String),
    #[error("container not running")]
    NotRunning,

    #[error(transparent)]
    Cgroup(#[from] CgroupError),

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

    /// This error with a prefix (the field, the step) in front of its message, of the same kind.
    pub fn prefixed(self, p: impl Display) -> Error {
        match self {
            Error::Sys { what, source } => Error::Sys { what: format!("{p}: {what}"), source },
            Error::Spec { field, message } => Error::Spec { field: format!("{p}: {field}"), message },
            other => Error::Msg(format!("{p}: {other}")),
        }
    }

    /// The errno of a failed system call, if that is what this is.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Sys { source, .. } => source.raw_os_error(),
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
        self.map_err(|source| Error::Sys { what: what.to_string(), source })
    }
    fn with_ctx<D: Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|source| Error::Sys { what: what().to_string(), source })
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
