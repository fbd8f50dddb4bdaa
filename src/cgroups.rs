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
//! - [`Cgroup::update`], [`Cgroup::freeze`]/[`Cgroup::thaw`], [`Cgroup::kill_all`],
//!   [`Cgroup::stats`] and [`Cgroup::oom_watcher`] for the verbs that act on a running container;
//! - a [`Cgroup`] is serde-serialisable: it is stored in the container's state.json, so every
//!   later rt call works from it without looking at the host's layout again.
//!
//! Inside, the work is split the way DESIGN.md asks: pure planning, unit-tested without root
//! ([`layout`] parses mountinfo, [`placement`] picks directories, [`resources`] with [`v1`] and
//! [`v2`] turns `linux.resources` into a list of file writes, [`devices`] builds the v1 rules and
//! the v2 eBPF program, [`stats`] parses the statistics files), and a thin layer that touches the
//! kernel ([`fs`] for files, [`bpf`] for the two bpf(2) calls, [`setup`] for mkdir/rmdir and
//! placement, [`control`] for freeze/kill, [`events`] for OOM notifications).

pub mod apply;
pub mod bpf;
pub mod control;
pub mod devices;
pub mod events;
pub mod fs;
pub mod layout;
pub mod placement;
pub mod resources;
pub mod setup;
pub mod stats;
pub mod v1;
pub mod v2;

#[cfg(test)]
mod host_tests;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub use events::OomWatcher;
pub use layout::{Hierarchy, HierarchyKind, Layout, Mode};
pub use resources::ApplyMode;
pub use stats::Stats;

use crate::error::{Error, Result};

/// One directory of a container's cgroup, in one hierarchy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CgroupDir {
    /// The container's directory, e.g. `/sys/fs/cgroup/memory/process_api/x/ctr`.
    pub path: PathBuf,
    /// Where the hierarchy is mounted: walks up the tree (mkdir -p, cpuset copying, enabling
    /// v2 controllers) stop here.
    pub mount: PathBuf,
    /// v1: the controllers of this hierarchy (`cpu`, `cpu,cpuacct` → both, `name=systemd`).
    /// v2: empty (the controllers are whatever `cgroup.controllers` lists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controllers: Vec<String>,
    /// The cgroup v2 hierarchy (the whole cgroup on a pure v2 host, the `unified` mount on a
    /// hybrid one).
    #[serde(default)]
    pub v2: bool,
}

/// A cgroup filesystem to show at the container's `/sys/fs/cgroup`, one per hierarchy (what
/// rootfs mounts there; same fields as the lifecycle's `rootfs::CgroupMount`, which can become
/// an alias of this type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerMount {
    /// Below the cgroup mount's destination: `memory`, `cpu,cpuacct`, `systemd`, `unified`
    /// (the host's mountpoint names); empty on a pure v2 host (cgroup2 right at the
    /// destination).
    pub dir: String,
    pub fstype: &'static str,
    /// v1: the hierarchy's controllers, or `none,name=systemd` for a named one; v2: empty.
    pub options: String,
    /// The container's cgroup directory in this hierarchy on the host: bound when the
    /// container has no cgroup namespace of its own.
    pub host_dir: PathBuf,
}

/// One container's cgroup: its directory in every hierarchy rt uses.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct Cgroup {
    /// v1 hierarchies first, in the order of /proc/self/cgroup, then the v2 one.
    pub dirs: Vec<CgroupDir>,
}

impl Cgroup {
    /// A relative (or absent) `cgroups_path` nests below rt's own cgroup in each hierarchy; an
    /// absolute one is taken from each hierarchy's root. Absent means `<own cgroup>/<id>`.
    pub fn plan(layout: &Layout, cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup> {
        placement::plan(layout, cgroups_path, id)
    }

    /// mkdir -p in every hierarchy, and what a new cgroup needs before a process can join it
    /// (v1 cpuset: cpus and mems copied from the parent; v2: controllers enabled in the
    /// parent). On failure, removes the directories it made.
    pub fn create(&self) -> Result<()> {
        setup::create(self)
    }

    /// Writes `linux.resources` into the new cgroup (create path: a value of 0 or "" means
    /// "not set", as in runc; nothing that is not set is written). Call it also when the config
    /// has no `linux.resources` (with `LinuxResources::default()`): device access is restricted
    /// to runc's default list even then, as runc does.
    pub fn apply(&self, resources: &LinuxResources) -> Result<()> {
        resources::apply(self, resources, ApplyMode::Create)
    }

    /// [`Cgroup::apply`] for a rootless container: without the device rules.
    pub fn apply_rootless(&self, resources: &LinuxResources) -> Result<()> {
        resources::apply(self, resources, ApplyMode::CreateRootless)
    }

    /// Whether the calling user may make (or use) this cgroup: every directory, or its nearest
    /// ancestor that exists, is writable. A rootless container does without cgroups otherwise.
    pub fn writable(&self) -> bool {
        self.dirs.iter().all(|d| {
            let mut p = d.path.as_path();
            while !p.exists() && p.starts_with(&d.mount) {
                match p.parent() {
                    Some(up) => p = up,
                    None => return false,
                }
            }
            let probe = if p == d.path { d.path.join("cgroup.procs") } else { p.to_path_buf() };
            crate::sys::may_write(&probe)
        })
    }

    /// `rt update`: like [`Cgroup::apply`] on a live container, where zero means "unchanged"
    /// (Docker sends every field, zeros included). Device rules are left as they are, as runc's
    /// update does.
    pub fn update(&self, resources: &LinuxResources) -> Result<()> {
        resources::apply(self, resources, ApplyMode::Update)
    }

    /// Settings of `resources` this host's layout does not implement and rt skips (as runc
    /// does), by field path — for a warning in the log.
    pub fn ignored(&self, resources: &LinuxResources) -> Vec<&'static str> {
        resources::ignored(&resources::Routing::of(self), resources)
    }

    /// An `O_PATH|O_DIRECTORY` fd of the v2 directory, for `clone3(CLONE_INTO_CGROUP)`.
    /// `None` on a pure v1 host. On a hybrid host it is the `unified` directory: the v1
    /// hierarchies still need [`Cgroup::add_pid`].
    pub fn clone_into_fd(&self) -> Result<Option<OwnedFd>> {
        setup::clone_into_fd(self)
    }

    /// Moves `pid` into every hierarchy it is not in yet (`placed_by_clone`: the v2 one was done
    /// by `CLONE_INTO_CGROUP`).
    pub fn add_pid(&self, pid: i32, placed_by_clone: bool) -> Result<()> {
        setup::add_pid(self, pid, placed_by_clone)
    }

    /// The calling (single-threaded) process moves itself into every v1 hierarchy by writing
    /// "0" to `tasks`: moving only the current thread skips the write lock on
    /// cgroup_threadgroup_rwsem that a `cgroup.procs` write takes, and with it the RCU grace
    /// period (~3-18 ms) that lock waits for after it was idle. The init calls this first.
    pub fn place_self(&self) -> Result<()> {
        setup::place_self(self)
    }

    /// Every process in the cgroup and the cgroups below it.
    pub fn pids(&self) -> Result<Vec<i32>> {
        control::pids(self)
    }

    /// Whether the container is paused (v1 `freezer.state` is FROZEN, v2 `cgroup.freeze` is 1).
    /// False when that cannot be read (the cgroup is gone).
    pub fn is_frozen(&self) -> bool {
        control::is_frozen(self)
    }

    /// Whether a process would be frozen in this cgroup now: frozen or freezing, itself or
    /// through an ancestor. `create` refuses such a cgroup, and rt's waits on an init check it.
    pub fn would_freeze(&self) -> bool {
        control::would_freeze(self)
    }

    /// `rt pause`: freezes the cgroup and waits until every task is frozen.
    pub fn freeze(&self) -> Result<()> {
        control::freeze(self)
    }

    /// `rt resume`.
    pub fn thaw(&self) -> Result<()> {
        control::thaw(self)
    }

    /// `kill --all` and `delete --force`: signals every process in the cgroup (v2 SIGKILL: one
    /// write to `cgroup.kill`; otherwise freeze, signal each pid, thaw).
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        control::kill_all(self, signal)
    }

    /// Removes the container's directory (and any cgroups the container made below it) in every
    /// hierarchy, retrying briefly while exiting processes still hold it. Directories that are
    /// already gone are fine. Parents are left alone: other containers may share them.
    pub fn destroy(&self) -> Result<()> {
        setup::destroy(self)
    }

    /// `delete --force`: SIGKILL to everything inside (one write to `cgroup.kill` where the
    /// kernel has it), then [`Cgroup::destroy`], whose retries wait for the killed processes
    /// to leave. The removal is tried even when the kill fails.
    pub fn destroy_forced(&self) -> Result<()> {
        let killed = self.kill_all(libc::SIGKILL);
        self.destroy()?;
        killed
    }

    /// `events --stats`: runc's stats document (`data` of the `stats` event).
    pub fn stats(&self) -> Result<Stats> {
        stats::read(self)
    }

    /// `events`: a pollable notifier of OOM kills in this cgroup.
    pub fn oom_watcher(&self) -> Result<OomWatcher> {
        events::OomWatcher::new(self)
    }

    /// Whether [`Cgroup::add_pid`] still has work after a `CLONE_INTO_CGROUP` clone: the v1
    /// hierarchies (pure v1 and hybrid hosts).
    pub fn needs_pid_writes(&self) -> bool {
        self.dirs.iter().any(|d| !d.v2)
    }

    /// The cgroup filesystems the container sees, in the order of [`Cgroup::dirs`].
    pub fn container_mounts(&self) -> Vec<ContainerMount> {
        let pure_v2 = self.is_pure_v2();
        self.dirs
            .iter()
            .map(|d| {
                let dir = if pure_v2 { String::new() } else { d.mount.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default() };
                let options = if d.v2 {
                    String::new()
                } else if d.controllers.iter().any(|c| c.starts_with("name=")) {
                    format!("none,{}", d.controllers.join(","))
                } else {
                    d.controllers.join(",")
                };
                ContainerMount { dir, fstype: if d.v2 { "cgroup2" } else { "cgroup" }, options, host_dir: d.path.clone() }
            })
            .collect()
    }

    /// The v2 directory (pure v2 or the hybrid `unified` one).
    pub fn v2_dir(&self) -> Option<&CgroupDir> {
        self.dirs.iter().find(|d| d.v2)
    }

    /// The v1 directory of a controller (`memory`, `name=systemd`).
    pub fn v1_dir(&self, controller: &str) -> Option<&CgroupDir> {
        self.dirs.iter().find(|d| !d.v2 && d.controllers.iter().any(|c| c == controller))
    }

    /// Only a v2 hierarchy: all controllers live there.
    pub fn is_pure_v2(&self) -> bool {
        !self.dirs.is_empty() && self.dirs.iter().all(|d| d.v2)
    }

    /// exec's `--cgroup`: the same cgroup with each directory replaced by one of its existing
    /// sub-cgroups. `subs`: (controller, path below the container's cgroup); a controller
    /// names v1 hierarchies that have it, `None` every other directory.
    pub fn sub(&self, subs: &[(Option<String>, PathBuf)]) -> Result<Cgroup> {
        let mut out = self.clone();
        for d in &mut out.dirs {
            let named = subs.iter().find(|(c, _)| c.as_ref().is_some_and(|c| !d.v2 && d.controllers.contains(c)));
            let Some((_, rel)) = named.or_else(|| subs.iter().find(|(c, _)| c.is_none())) else { continue };
            if rel.is_absolute() || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                return Err(Error::spec("--cgroup", format!("{}: must be a path below the container's cgroup, without ..", rel.display())));
            }
            let path = d.path.join(rel);
            if !path.is_dir() {
                return Err(Error::spec("--cgroup", format!("{}: no such sub-cgroup ({})", rel.display(), path.display())));
            }
            d.path = path;
        }
        Ok(out)
    }

    /// Every directory path, in creation order.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.dirs.iter().map(|d| d.path.as_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_mounts_per_layout() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cgroups/testdata");
        let layout = |n: &str| {
            let mi = std::fs::read_to_string(dir.join(format!("{n}.mountinfo"))).unwrap();
            let cg = std::fs::read_to_string(dir.join(format!("{n}.cgroup"))).unwrap();
            Layout::parse(&mi, &cg).unwrap()
        };
        let cg = Cgroup::plan(&layout("hybrid_host"), Some(Path::new("/c")), "c").unwrap();
        assert!(cg.needs_pid_writes());
        let m = cg.container_mounts();
        let short: Vec<(&str, &str, &str)> = m.iter().map(|m| (m.dir.as_str(), m.fstype, m.options.as_str())).collect();
        assert_eq!(short[0], ("cpu", "cgroup", "cpu"));
        assert_eq!(short[8], ("systemd", "cgroup", "none,name=systemd"));
        assert_eq!(short[9], ("unified", "cgroup2", ""));
        assert_eq!(m[3].host_dir, Path::new("/sys/fs/cgroup/memory/c"));
        let cg = Cgroup::plan(&layout("v1_host"), Some(Path::new("/c")), "c").unwrap();
        assert_eq!(cg.container_mounts()[1].dir, "cpu,cpuacct");
        assert_eq!(cg.container_mounts()[1].options, "cpu,cpuacct");
        let cg = Cgroup::plan(&layout("v2_host"), Some(Path::new("/c")), "c").unwrap();
        assert!(!cg.needs_pid_writes());
        assert_eq!(
            cg.container_mounts(),
            [ContainerMount { dir: String::new(), fstype: "cgroup2", options: String::new(), host_dir: "/sys/fs/cgroup/c".into() }]
        );
    }

    #[test]
    fn cgroup_round_trips_through_json() {
        let cg = Cgroup {
            dirs: vec![
                CgroupDir { path: "/sys/fs/cgroup/memory/a".into(), mount: "/sys/fs/cgroup/memory".into(), controllers: vec!["memory".into()], v2: false },
                CgroupDir { path: "/sys/fs/cgroup/unified/a".into(), mount: "/sys/fs/cgroup/unified".into(), controllers: vec![], v2: true },
            ],
        };
        let json = serde_json::to_string(&cg).unwrap();
        let back: Cgroup = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cg);
        assert_eq!(back.v1_dir("memory").unwrap().path, Path::new("/sys/fs/cgroup/memory/a"));
        assert!(back.v2_dir().is_some());
        assert!(!back.is_pure_v2());
    }
}
