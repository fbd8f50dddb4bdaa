//! `kill`: a signal to the container's init, or with `--all` to every process in its cgroup.

use std::os::fd::AsFd;

use super::Global;
use crate::error::{Context, Error, Result};
use crate::state::{ContainerDir, State, Status};
use crate::{signals, sys};

/// `kill`: a signal to the init, or with `all` to every process in the container's cgroup.
pub fn kill(g: &Global, id: &str, signal: &str, all: bool) -> Result<()> {
    let sig = signals::parse(signal)?;
    let dir = ContainerDir::open(&g.root, id)?;
    let st = dir.load()?;
    // With `all`, whatever is still in the cgroup, also after the init is gone (a container
    // without its own pid namespace leaves its other processes there), as runc does.
    if all {
        return st.kill_all(sig);
    }
    // A record still `creating` under our lock is a create that was killed: stopped.
    if dir.status(&st) == Status::Stopped {
        return Err(Error::NotRunning);
    }
    signal_init(&st, sig)
}

/// Signals the recorded init through a pidfd, after checking that the pid still belongs to it.
pub(super) fn signal_init(st: &State, sig: i32) -> Result<()> {
    if st.pid <= 0 {
        return Err(Error::NotRunning);
    }
    let pidfd = match sys::pidfd_open(st.pid) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Err(Error::NotRunning),
        Err(e) => return Err(e).ctx("unable to signal init"),
    };
    if !st.init_alive() {
        return Err(Error::NotRunning);
    }
    sys::pidfd_send_signal(pidfd.as_fd(), sig).ctx("unable to signal init")
}
