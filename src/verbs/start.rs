//! `start`: a created container's init let go to execute the user's process.

use std::os::fd::AsFd;

use super::Global;
use crate::error::{Context, Error, Result};
use crate::state::{self, ContainerDir, Status};
use crate::sys::{self, PollFd, PollFlags};

/// `start`: lets a created container's init run the user's process.
pub fn start(g: &Global, id: &str) -> Result<()> {
    let dir = ContainerDir::open(&g.root, id)?;
    let st = dir.load()?;
    match st.live_status(&dir.path) {
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
    loop {
        let mut fds = [PollFd::new(&fifo, PollFlags::IN), PollFd::new(&pidfd, PollFlags::IN)];
        sys::poll(&mut fds, -1).ctx("wait for the init")?;
        let (fifo_ready, init_gone) = (fds[0].revents(), !fds[1].revents().is_empty());
        if fifo_ready.contains(PollFlags::IN) {
            let mut b = [0u8; 1];
            match sys::read(fifo.as_fd(), &mut b) {
                Ok(1) => break,
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
                _ => return Err(Error::msg("cannot start a container that has stopped")),
            }
        }
        if fifo_ready.contains(PollFlags::HUP) || init_gone {
            return Err(Error::msg("cannot start a container that has stopped"));
        }
    }
    std::fs::remove_file(&fifo_path).ctx("remove exec.fifo")?;
    Ok(())
}
