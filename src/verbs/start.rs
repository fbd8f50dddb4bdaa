//! `start`: a created container's init let go to execute the user's process.

use std::os::fd::AsFd;

use super::Global;
use crate::error::{Context, Error, Result};
use crate::hooks::{self, Kind};
use crate::state::{self, ContainerDir, State, Status};
use crate::sys::{self, PollFd, PollFlags};

/// `start`: lets a created container's init run the user's process.
pub fn start(g: &Global, id: &str) -> Result<()> {
    let dir = ContainerDir::open(&g.root, id)?;
    let st = dir.load()?;
    // `created` only while the init still waits on the fifo: one whose start was killed after
    // letting it go runs (and the fifo it left would never be answered).
    match dir.status(&st) {
        Status::Created => {}
        Status::Stopped => return Err(Error::msg("cannot start a container that has stopped")),
        Status::Running => return Err(Error::msg("cannot start an already running container")),
        Status::Paused => return Err(Error::msg("cannot start a container in the paused state")),
        Status::Creating => return Err(Error::msg("cannot start a container that is still being created")),
    }
    // The pidfd first, while the init is still parked (it cannot pass the fifo before we open
    // it), so that it is this init and not a later process with the same pid; after the fifo
    // is open, the init may exec and even exit before we look again.
    let pidfd = sys::pidfd_open(st.pid).ctx("open the init's pidfd")?;
    if !st.init_alive() {
        return Err(Error::msg("cannot start a container that has stopped"));
    }
    let fifo_path = dir.path.join(state::EXEC_FIFO);
    // Non-blocking: opening the read side releases the init, blocked opening the write side;
    // the byte it then writes says it got there. If it dies instead, its pidfd says so.
    let fifo = sys::open(&fifo_path, libc::O_RDONLY | libc::O_NONBLOCK, 0).ctx("open exec.fifo")?;
    // `0`: the startContainer hooks (if any) ran and the program is next; `1` and an error:
    // one of them failed, and the init is ending.
    let mut said = [0u8; 4096];
    let n = loop {
        let mut fds = [PollFd::new(&fifo, PollFlags::IN), PollFd::new(&pidfd, PollFlags::IN)];
        sys::poll(&mut fds, -1).ctx("wait for the init")?;
        let (fifo_ready, init_gone) = (fds[0].revents(), !fds[1].revents().is_empty());
        if fifo_ready.contains(PollFlags::IN) {
            match sys::read(fifo.as_fd(), &mut said) {
                Ok(n) if n > 0 => break n,
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
                _ => return Err(Error::msg("cannot start a container that has stopped")),
            }
        }
        if fifo_ready.contains(PollFlags::HUP) || init_gone {
            return Err(Error::msg("cannot start a container that has stopped"));
        }
    };
    std::fs::remove_file(&fifo_path).ctx("remove exec.fifo")?;
    if said[0] != b'0' {
        return Err(Error::msg(String::from_utf8_lossy(&said[1..n]).into_owned()));
    }
    if st.hooks.poststart.is_empty() {
        return Ok(());
    }
    // The init's end of the fifo closes with its execve: then the program runs.
    let mut fds = [PollFd::new(&fifo, PollFlags::IN)];
    sys::poll(&mut fds, 10_000).ctx("wait for the init's execve")?;
    poststart(&st)
}

/// The poststart hooks, once the user's program runs. One that fails stops the container
/// (runtime-spec 1.3: "generate an error, stop the container"); `delete` then removes it and
/// runs the poststop hooks.
pub(super) fn poststart(st: &State) -> Result<()> {
    if let Err(e) = hooks::run(&st.hooks, Kind::Poststart, &st.hook_state(Kind::Poststart)) {
        let _ = super::delete::stop(st);
        return Err(e);
    }
    Ok(())
}
