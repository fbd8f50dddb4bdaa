//! `delete`: a stopped (or created) container removed, its cgroup and state dir with it;
//! `--force` kills a running one first, and also removes what a damaged state.json still names.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::kill::signal_init;
use super::Global;
use crate::cgroups::{Cgroup, CgroupDir, HierarchyKind, Layout};
use crate::error::{Error, Result};
use crate::hooks::{self, Kind};
use crate::logging;
use crate::state::{self, ContainerDir, State, Status};

/// `delete`: removes a stopped (or created) container; `force` kills a running one first.
pub fn delete(g: &Global, id: &str, force: bool) -> Result<()> {
    let dir = match ContainerDir::open(&g.root, id) {
        Ok(d) => d,
        Err(Error::NotExist) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let st = match dir.load() {
        Ok(st) => st,
        Err(Error::NotExist) if force => return Ok(()),
        Err(e @ Error::NotExist) => return Err(e),
        Err(e) if force => return delete_damaged(dir, id, e),
        Err(e) => return Err(e),
    };
    // A record still `creating` under our lock: its create was killed (it held the lock
    // throughout). It is stopped, and whatever it had made goes.
    match dir.status(&st) {
        Status::Stopped => {}
        Status::Created => stop(&st)?,
        status @ (Status::Running | Status::Paused | Status::Creating) => {
            if !force {
                return Err(Error::msg(format!("cannot delete container {id} that is not stopped: {status}")));
            }
            stop(&st)?;
        }
    }
    destroy(dir, &st)
}

/// How long `delete` waits for a killed init to be gone.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// SIGKILL to the init (and, without a pid namespace of its own, to the rest of the cgroup),
/// then up to 10 s for it to be gone.
pub(super) fn stop(st: &State) -> Result<()> {
    if st.own_pid_ns {
        let _ = st.cgroup.thaw();
        match signal_init(st, libc::SIGKILL) {
            Ok(()) | Err(Error::NotRunning) => {}
            Err(e) => return Err(e),
        }
    } else {
        st.kill_all(libc::SIGKILL)?;
    }
    wait_gone(st)
}

fn wait_gone(st: &State) -> Result<()> {
    let deadline = Instant::now() + STOP_WAIT;
    let mut pause = Duration::from_millis(1);
    while st.init_alive() {
        if Instant::now() > deadline {
            return Err(Error::msg(format!("container init (pid {}) is still there {} s after SIGKILL", st.pid, STOP_WAIT.as_secs())));
        }
        state::nap(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    Ok(())
}

/// Removes what a container leaves, its cgroup and its state directory, then runs its
/// poststop hooks: their failures are warnings, and the container is gone all the same. So is
/// a cgroup that cannot be removed (shared with another container, as runc warns at create):
/// the container's state goes, and what stays is named in a warning, as with runc.
pub(super) fn destroy(dir: ContainerDir, st: &State) -> Result<()> {
    let removed = if st.own_pid_ns && st.status != Status::Creating {
        st.cgroup.destroy()
    } else {
        // Without a pid namespace of its own, processes outlive the init: SIGKILL what is left
        // in the cgroup first (cgroup.kill on v2), as runc's destroy does. A create that was
        // killed may have left its init (or one about to exit) in the cgroup too.
        st.cgroup.destroy_forced()
    };
    if let Err(e) = removed {
        logging::warn(&e.to_string());
    }
    remove_pid_file_tmp(st);
    dir.remove()?;
    for w in hooks::run_all(&st.hooks, Kind::Poststop, &st.hook_state(Kind::Poststop)) {
        logging::warn(&w);
    }
    Ok(())
}

/// A create killed while writing `--pid-file` leaves its temporary file (`.NAME`) beside it.
fn remove_pid_file_tmp(st: &State) {
    if let Some(tmp) = st.pid_file_tmp() {
        let _ = std::fs::remove_file(tmp);
    }
}

/// `delete --force` of a container whose state.json cannot be read: what it still says for
/// sure is removed (the init, checked by its start time; the cgroup directories it names
/// whole, and those of the live init's cgroup when it names only some), then the state
/// directory, with a warning that says what could not be known. A newer rt's state is left
/// alone.
fn delete_damaged(dir: ContainerDir, id: &str, damage: Error) -> Result<()> {
    let s = state::salvage_file(&dir.path, id)?;
    if s.why.contains("newer rt") {
        return Err(damage);
    }
    let mut st = s.state;
    let init = s.init_known && st.init_alive();
    if init && !s.cgroup_whole {
        if let Some(more) = cgroup_of_init(&st) {
            for d in more.dirs {
                if !st.cgroup.dirs.iter().any(|x| x.path == d.path) {
                    st.cgroup.dirs.push(d);
                }
            }
        }
    }
    if init {
        let _ = st.cgroup.thaw();
        match signal_init(&st, libc::SIGKILL) {
            Ok(()) | Err(Error::NotRunning) => {}
            Err(e) => return Err(e),
        }
    }
    st.cgroup.destroy_forced()?;
    if init {
        wait_gone(&st)?;
    }
    remove_pid_file_tmp(&st);
    dir.remove()?;
    let mut found = Vec::new();
    if init {
        found.push(format!("its init (pid {})", st.pid));
    }
    if !st.cgroup.dirs.is_empty() {
        found.push(format!("{} cgroup directories", st.cgroup.dirs.len()));
    }
    let found = if found.is_empty() { "nothing of it could be found but its state directory".to_owned() } else { format!("removed {}", found.join(" and ")) };
    let mut unknown = Vec::new();
    if !s.init_known {
        unknown.push("its processes");
    }
    if !s.cgroup_whole && !init {
        unknown.push("some of its cgroups");
    }
    let unknown = if unknown.is_empty() { String::new() } else { format!("; {} may be left", unknown.join(" and ")) };
    logging::warn(&format!("container {id}: its state.json was damaged ({}): {found}{unknown}", s.why));
    if s.hooks_whole {
        for w in hooks::run_all(&st.hooks, Kind::Poststop, &st.hook_state(Kind::Poststop)) {
            logging::warn(&w);
        }
    } else {
        logging::warn(&format!("container {id}: its poststop hooks, if it had any, were not run (the state that names them is damaged)"));
    }
    Ok(())
}

/// The cgroup of a live init, from its /proc/PID/cgroup, for a damaged state.json that names
/// only some of the container's cgroup directories. Trusted only when it agrees with every
/// directory the state does name, and never rt's own cgroup or one above it.
fn cgroup_of_init(st: &State) -> Option<Cgroup> {
    if st.cgroup.dirs.is_empty() {
        return None;
    }
    let proc_cgroup = crate::sys::read_string(format!("/proc/{}/cgroup", st.pid)).ok()?;
    let mountinfo = crate::sys::read_string("/proc/self/mountinfo").ok()?;
    let of_init = Layout::parse(&mountinfo, &proc_cgroup).ok()?;
    let mine = Layout::detect().ok()?;
    let mut dirs: Vec<CgroupDir> = of_init
        .hierarchies
        .iter()
        .filter_map(|h| {
            let (controllers, v2) = match &h.kind {
                HierarchyKind::V1 { controllers } => (controllers.clone(), false),
                HierarchyKind::V2 => (vec![], true),
            };
            Some(CgroupDir { path: h.own_dir()?, mount: h.mountpoint.clone(), controllers, v2 })
        })
        .collect();
    if !st.cgroup.dirs.iter().all(|d| dirs.iter().any(|x| x.path == d.path)) {
        return None;
    }
    let own: Vec<PathBuf> = mine.hierarchies.iter().filter_map(|h| h.own_dir()).collect();
    dirs.retain(|d| d.path != d.mount && !own.iter().any(|o| o.starts_with(&d.path)));
    Some(Cgroup { dirs })
}
