//! `delete`: a stopped (or created) container removed, its cgroup and state dir with it;
//! `--force` kills a running one first.

use std::time::{Duration, Instant};

use super::kill::signal_init;
use super::Global;
use crate::error::{Error, Result};
use crate::hooks::{self, Kind};
use crate::logging;
use crate::state::{ContainerDir, State, Status};

/// `delete`: removes a stopped (or created) container; `force` kills a running one first.
pub fn delete(g: &Global, id: &str, force: bool) -> Result<()> {
    let dir = match ContainerDir::open(&g.root, id) {
        Ok(d) => d,
        Err(Error::NotExist) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let st = match dir.load() {
        Ok(st) => st,
        Err(Error::NotExist) => {
            // A create that died half-way: nothing to stop, only the directory to remove.
            dir.remove()?;
            return if force { Ok(()) } else { Err(Error::NotExist) };
        }
        Err(e) => return Err(e),
    };
    match st.live_status(&dir.path) {
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
    let deadline = Instant::now() + Duration::from_secs(10);
    while st.init_alive() {
        if Instant::now() > deadline {
            return Err(Error::msg("container init still running"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Removes what a container leaves, its cgroup and its state directory, then runs its
/// poststop hooks: their failures are warnings, and the container is gone all the same. So is
/// a cgroup that cannot be removed (shared with another container, as runc warns at create):
/// the container's state goes, and what stays is named in a warning, as with runc.
pub(super) fn destroy(dir: ContainerDir, st: &State) -> Result<()> {
    let removed = if st.own_pid_ns {
        st.cgroup.destroy()
    } else {
        // Without a pid namespace of its own, processes outlive the init: SIGKILL what is left
        // in the cgroup first (cgroup.kill on v2), as runc's destroy does.
        st.cgroup.destroy_forced()
    };
    if let Err(e) = removed {
        logging::warn(&e.to_string());
    }
    dir.remove()?;
    for w in hooks::run_all(&st.hooks, Kind::Poststop, &st.hook_state(Kind::Poststop)) {
        logging::warn(&w);
    }
    Ok(())
}
