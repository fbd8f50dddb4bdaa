//! The verbs, a file each (or one for a small group), each a few functions that main.rs calls
//! with plain values. The lifecycle: [`create`] (create, run), [`start`], [`state`] (state,
//! list), [`kill`], [`delete`]; the verbs that act on a live container through its cgroup:
//! [`pause`] (pause, resume), [`update`], [`events`], [`ps`]; and [`spec`], [`features`].

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod pause;
pub mod ps;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use std::path::PathBuf;

/// The global flags every verb sees.
#[derive(Debug, Clone)]
pub struct Global {
    pub root: PathBuf,
    pub systemd_cgroup: bool,
}
