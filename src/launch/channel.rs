//! The channel between rt and one of the processes it clones: a `SOCK_SEQPACKET` socketpair,
//! one JSON-encoded message per datagram, fds passed with `SCM_RIGHTS`. Each child has a
//! channel of its own, and each end is typed by what it sends and what it receives, so rt
//! cannot send a child's message and a child cannot send rt's.
//!
//! The child is a copy of rt (no re-exec), so it already holds its whole plan in memory; the
//! channel only carries the handshake of the topology ([`super::topology::Stage`]) and failures.

use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};
use crate::sys;

/// rt → a child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToChild {
    /// The child's new user namespace has its id maps: it is someone now.
    Mapped,
    /// The child is in its cgroups.
    Placed,
    /// rt ran the prestart and createRuntime hooks; the init runs createContainer's with this
    /// state (runtime-spec's, status `created`: see `hooks::Kind::status`).
    Hooks { state: String },
    /// The container is recorded: go on (wait for `start`, or execute the user's process).
    /// With startContainer hooks, the state they read (status `created`).
    Go { state: Option<String> },
}

/// A child → rt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FromChild {
    /// intermediate: the pid of the init it cloned.
    InitPid(i32),
    /// init: the root is built, pivot_root is next; rt runs its hooks now.
    Mounted,
    /// the pty master comes with this message (`run`, `exec -t` in the foreground).
    Console,
    /// init: set up, waiting for `Go`.
    Ready,
    /// A step failed; the error is the child's own, kind, field and errno included.
    Failed { step: Step, error: Error },
}

/// Where in its life a child failed, for the log (the error itself names the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// The intermediate joining namespaces or cloning the init.
    Intermediate,
    /// The init setting up the container, before `Ready`.
    Setup,
    /// The init waiting for `Go` or for `start`.
    Start,
    /// The execve of the user's process.
    Exec,
}

/// One end of a channel: sends `S`, receives `R`.
pub struct End<S, R> {
    sock: OwnedFd,
    _types: PhantomData<fn(S) -> R>,
}

/// rt's end of a child's channel.
pub type ParentEnd = End<ToChild, FromChild>;
/// The child's end.
pub type ChildEnd = End<FromChild, ToChild>;

/// A new channel for one child: (rt's end, the child's end).
pub fn pair() -> Result<(ParentEnd, ChildEnd)> {
    let (a, b) = sys::seqpacket_pair().ctx("socketpair")?;
    Ok((End { sock: a, _types: PhantomData }, End { sock: b, _types: PhantomData }))
}

impl<S: Serialize, R: DeserializeOwned> End<S, R> {
    pub fn send(&self, msg: &S) -> Result<()> {
        self.send_fds(msg, &[])
    }

    pub fn send_fds(&self, msg: &S, fds: &[RawFd]) -> Result<()> {
        let bytes = serde_json::to_vec(msg).map_err(|e| Error::msg(format!("encode message: {e}")))?;
        sys::send_with_fds(self.sock.as_fd(), &bytes, fds).ctx("send to peer")
    }

    /// The next message, or `None` when the peer is gone (exited, or exec'd: its end is
    /// close-on-exec).
    pub fn recv(&self) -> Result<Option<(R, Vec<OwnedFd>)>> {
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

    pub fn raw(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl ChildEnd {
    /// Waits for exactly `want` from rt. rt gone is an error too: the child must not go on
    /// with a container nobody recorded.
    pub fn expect(&self, want: ToChild) -> Result<()> {
        self.expect_with(&format!("{want:?}"), |m| (m == want).then_some(()))
    }

    /// Waits for exactly `want` and gives the fds that came with it.
    pub fn expect_fds(&self, want: ToChild) -> Result<Vec<OwnedFd>> {
        match self.recv()? {
            Some((m, fds)) if m == want => Ok(fds),
            Some((m, _)) => Err(Error::msg(format!("protocol error: expected {want:?}, got {m:?}"))),
            None => Err(Error::sys(format!("rt went away while the child waited for {want:?}"), libc::EPIPE)),
        }
    }

    /// Waits for the message `take` accepts, and gives what it takes out of it.
    pub fn expect_with<T>(&self, what: &str, take: impl FnOnce(ToChild) -> Option<T>) -> Result<T> {
        match self.recv()? {
            Some((m, _)) => {
                let shown = format!("{m:?}");
                take(m).ok_or_else(|| Error::msg(format!("protocol error: expected {what}, got {shown}")))
            }
            None => Err(Error::sys(format!("rt went away while the child waited for {what}"), libc::EPIPE)),
        }
    }

    /// Reports a failure; if even that fails, rt is gone and nobody is left to tell.
    pub fn fail(&self, step: Step, error: Error) {
        let _ = self.send(&FromChild::Failed { step, error });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_both_ways_and_errors_whole() {
        let (rt, child) = pair().unwrap();
        child.send(&FromChild::InitPid(42)).unwrap();
        assert!(matches!(rt.recv().unwrap(), Some((FromChild::InitPid(42), _))));
        rt.send(&ToChild::Placed).unwrap();
        child.expect(ToChild::Placed).unwrap();
        child.fail(Step::Setup, Error::sys("mounts[2] (/x): mount tmpfs", libc::ENODEV));
        match rt.recv().unwrap() {
            Some((FromChild::Failed { step, error }, _)) => {
                assert_eq!(step, Step::Setup);
                assert_eq!(error.errno(), Some(libc::ENODEV));
                assert_eq!(error.to_string(), "mounts[2] (/x): mount tmpfs: no such device");
            }
            other => panic!("{other:?}"),
        }
        rt.send(&ToChild::Go { state: None }).unwrap();
        assert!(child.expect(ToChild::Placed).unwrap_err().to_string().starts_with("protocol error"));
        rt.send(&ToChild::Hooks { state: "{}".into() }).unwrap();
        let state = child.expect_with("Hooks", |m| match m {
            ToChild::Hooks { state } => Some(state),
            _ => None,
        });
        assert_eq!(state.unwrap(), "{}");
        drop(rt);
        assert_eq!(child.expect(ToChild::Placed).unwrap_err().errno(), Some(libc::EPIPE));
    }
}
