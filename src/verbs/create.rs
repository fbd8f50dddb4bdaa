//! `create` and `run`: a new container from a bundle, through the launch path
//! ([`crate::launch`]); `run` also starts it and, in the foreground, waits for it.

use super::delete::destroy;
use super::start::poststart;
use super::Global;
use crate::error::{Context, Error, Result};
use crate::launch::{self, CreateOptions, Mode};
use crate::logging;
use crate::state::{self, ContainerDir};
use crate::sys;

/// `create`: the container set up and its init waiting on exec.fifo.
pub fn create(g: &Global, id: &str, o: &CreateOptions) -> Result<()> {
    launch_new(g, id, o, Mode::Create)?.finish();
    Ok(())
}

/// `run`: create and start; in the foreground, wait and return the container's exit code.
pub fn run(g: &Global, id: &str, o: &CreateOptions, detach: bool, keep: bool) -> Result<i32> {
    let mode = if detach { Mode::RunDetached } else { Mode::RunForeground };
    if mode == Mode::RunForeground {
        // Orphans of a container without its own pid namespace come back to rt, not to
        // the host's init, and are reaped here.
        sys::set_child_subreaper().ctx("prctl(PR_SET_CHILD_SUBREAPER)")?;
    }
    let launched = launch_new(g, id, o, mode)?;
    let st = launched.recorded.clone().ok_or_else(|| Error::msg("run: the container was not recorded"))?;
    if let Err(e) = poststart(&st) {
        // Stopped by poststart(); removed here, as run removes every container it ran (the
        // launch's hold on the state dir goes first).
        launched.finish();
        if let (false, Ok(dir)) = (keep, ContainerDir::open(&g.root, id)) {
            let _ = destroy(dir, &st);
        }
        return Err(e);
    }
    if mode == Mode::RunDetached {
        launched.finish();
        return Ok(0);
    }
    let status = match launched.wait() {
        Ok(s) => s,
        Err(e) => {
            // rt can no longer wait for it (wait4 or the signalfd failing for good): the
            // container is stopped and removed all the same, not left running with its cgroup
            // and nobody to report its end.
            if let (false, Ok(dir)) = (keep, ContainerDir::open(&g.root, id)) {
                if let Err(stop_err) = super::delete::stop(&st) {
                    logging::warn(&stop_err.to_string());
                }
                let _ = destroy(dir, &st);
            }
            return Err(e);
        }
    };
    if !keep {
        if let Ok(dir) = ContainerDir::open(&g.root, id) {
            // What rt made itself; state.json says the same, no need to read it back.
            destroy(dir, &st)?;
        }
    }
    Ok(status.code())
}

fn launch_new(g: &Global, id: &str, o: &CreateOptions, mode: Mode) -> Result<launch::Launched> {
    state::validate_id(id)?;
    if g.systemd_cgroup {
        return Err(Error::msg("--systemd-cgroup: rt has no systemd cgroup driver yet"));
    }
    let o = CreateOptions { detached: mode != Mode::RunForeground, rootless: g.rootless, ..o.clone() };
    let plan = launch::plan(id, &o)?;
    launch::launch(&g.root, &plan, mode)
}
