//! Control groups: which layout the host has (v1, v2 or hybrid), where a container's cgroup
//! lives in each hierarchy, and the resource limits written there.
//!
//! The lifecycle code uses only this surface (keep it; grow the rest behind it):
//! - [`Layout::detect`] once per rt call that needs cgroups;
//! - [`Cgroup::plan`] turns `linux.cgroupsPath` + the container id into directories;
//! - [`Cgroup::create`] + [`Cgroup::apply`] before the init exists, then the init is placed
//!   either by `clone3(CLONE_INTO_CGROUP)` with [`Cgroup::clone_into_fd`] (v2 hierarchy) or by
//!   [`Cgroup::add_pid`] after the clone (v1 hierarchies);
//! - [`Cgroup::destroy`] on delete, [`Cgroup::pids`] for `kill --all`, [`Cgroup::is_frozen`]
//!   for the `paused` status;
//! - a [`Cgroup`] is serde-serialisable: it is stored in the container's state.json.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroups: {0}")]
    Other(String),
}

/// The cgroup hierarchies mounted on this host.
#[derive(Debug, Clone)]
pub struct Layout {}

impl Layout {
    pub fn detect() -> Result<Layout, CgroupError> {
        Ok(Layout {})
    }
}

/// One container's cgroup: its directory in every hierarchy rt uses.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Cgroup {
    pub dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// A relative (or absent) `cgroups_path` nests below rt's own cgroup in each hierarchy; an
    /// absolute one is taken from each hierarchy's root. Absent means `<own cgroup>/<id>`.
    pub fn plan(_layout: &Layout, _cgroups_path: Option<&Path>, _id: &str) -> Result<Cgroup, CgroupError> {
        Ok(Cgroup::default())
    }
    pub fn create(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn apply(&self, _resources: &LinuxResources) -> Result<(), CgroupError> {
        Ok(())
    }
    /// An `O_PATH|O_DIRECTORY` fd of the v2 directory, for `clone3(CLONE_INTO_CGROUP)`.
    pub fn clone_into_fd(&self) -> Result<Option<OwnedFd>, CgroupError> {
        Ok(None)
    }
    /// Moves `pid` into every hierarchy it is not in yet (`placed_by_clone`: the v2 one was done
    /// by `CLONE_INTO_CGROUP`).
    pub fn add_pid(&self, _pid: i32, _placed_by_clone: bool) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        Ok(vec![])
    }
    pub fn is_frozen(&self) -> bool {
        false
    }
    pub fn destroy(&self) -> Result<(), CgroupError> {
        Ok(())
    }
}
