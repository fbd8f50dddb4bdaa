//! rt: an OCI runtime. `main.rs` is the command line; everything it calls lives here.

pub mod arena;
pub mod cgroups;
pub mod error;
pub mod hooks;
pub mod launch;
pub mod logging;
pub mod lsm;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod seccomp;
pub mod signals;
pub mod spec;
pub mod state;
pub mod sys;
pub mod terminal;
pub mod user;
pub mod verbs;
