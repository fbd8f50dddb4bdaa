//! The typed message channel between rt and the processes it clones: one `SOCK_SEQPACKET`
//! socketpair, one JSON-encoded [`Msg`] per datagram, fds passed with `SCM_RIGHTS`.
//!
//! The child is a copy of rt (no re-exec), so it already holds the whole plan in memory; the
//! channel only carries the synchronisation points and the errors.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};
use crate::sys;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    /// parent → child: the child is in its cgroups (and, later, its id maps are written).
    Placed,
    /// intermediate → parent: the pid of the init it cloned.
    InitPid(i32),
    /// child → parent: set up, waiting to be started.
    Ready,
    /// parent → child (`run`): start the user process now.
    Start,
    /// child → parent: a step failed. `message` names the step and the config field.
    Failed { message: String },
}

/// One end of the channel.
pub struct Channel {
    sock: OwnedFd,
}

impl Channel {
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = sys::seqpacket_pair().ctx("socketpair")?;
        Ok((Channel { sock: a }, Channel { sock: b }))
    }

    pub fn send(&self, msg: &Msg) -> Result<()> {
        self.send_fds(msg, &[])
    }

    pub fn send_fds(&self, msg: &Msg, fds: &[RawFd]) -> Result<()> {
        let bytes = serde_json::to_vec(msg).map_err(|e| Error::msg(format!("encode message: {e}")))?;
        sys::send_with_fds(self.sock.as_fd(), &bytes, fds).ctx("send to peer")
    }

    /// The next message, or `None` when the peer is gone (exited, or exec'd: its end is
    /// close-on-exec).
    pub fn recv(&self) -> Result<Option<(Msg, Vec<OwnedFd>)>> {
        // On the stack: a heap buffer is allocated and zeroed for every message, in rt and in
        // the init, where it is charged to the container's memory cgroup. Messages are small.
        let mut buf = [0u8; 16 * 1024];
        let (n, fds) = match sys::recv_with_fds(self.sock.as_fd(), &mut buf) {
            Ok(r) => r,
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => return Ok(None),
            Err(e) => return Err(e).ctx("receive from peer"),
        };
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n]).map_err(|e| Error::msg(format!("decode message: {e}")))?;
        Ok(Some((msg, fds)))
    }

    /// Waits for exactly `want`; a `Failed` from the peer becomes this side's error.
    pub fn expect(&self, want: &Msg) -> Result<()> {
        match self.recv()? {
            Some((m, _)) if &m == want => Ok(()),
            Some((Msg::Failed { message }, _)) => Err(Error::Msg(message)),
            Some((m, _)) => Err(Error::msg(format!("protocol error: expected {want:?}, got {m:?}"))),
            None => Err(Error::sys(format!("peer closed while rt waited for {want:?}"), libc::EPIPE)),
        }
    }

    pub fn raw(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

/// The report a child sends for an error.
pub fn report(e: &Error) -> Msg {
    Msg::Failed { message: e.to_string() }
}
