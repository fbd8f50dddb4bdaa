//! The channel between rt and one of the processes it clones: a `SOCK_SEQPACKET` socketpair,
//! one JSON-encoded message per datagram, fds passed with `SCM_RIGHTS`. Each child has a
//! channel of its own, and each end is typed by what it sends and what it receives, so rt
//! cannot send a child's message and a child cannot send rt's.
//!
//! The child is a copy of rt (no re-exec), so it already holds its whole plan in memory; the
//! channel only carries the handshake of the topology ([`super::topology::Stage`]) and failures.

use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::sys::{self, Pid};

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
    /// rt's end, while the container is being created: what to look at when the child says
    /// nothing for a while.
    watch: Option<Watch>,
    _types: PhantomData<fn(S) -> R>,
}

/// While rt waits on a child that is setting a container up, it wakes after every
/// [`WATCH_EVERY`] of silence (SO_RCVTIMEO: nothing is spent while messages come) and looks
/// whether the child can still make progress. It cannot in a frozen cgroup (that ends the wait
/// with runc's words), nor once stopped (SIGSTOP) for [`STOPPED_CHECKS`] looks in a row.
/// Anything else may take its time: a hook, a mount over a slow network, a large tmpcopyup.
#[derive(Debug, Clone)]
pub struct Watch {
    pub cgroup: Cgroup,
    /// The child, when rt knows its pid.
    pub pid: Option<Pid>,
}

const WATCH_EVERY: Duration = if cfg!(test) { Duration::from_millis(50) } else { Duration::from_secs(1) };
const STOPPED_CHECKS: u32 = 10;

impl Watch {
    /// `stopped`: how many looks in a row found the child stopped.
    fn still_going(&self, stopped: &mut u32) -> Result<()> {
        if self.cgroup.would_freeze() {
            return Err(Error::msg("container's cgroup unexpectedly frozen (while the container's init was being set up)"));
        }
        match self.pid.and_then(crate::state::proc_stat) {
            Some(st) if st.state == b'T' => *stopped += 1,
            _ => *stopped = 0,
        }
        if *stopped >= STOPPED_CHECKS {
            let pid = self.pid.unwrap_or_default();
            return Err(Error::msg(format!("container init {pid} is stopped and made no progress for {:?}", WATCH_EVERY * STOPPED_CHECKS)));
        }
        Ok(())
    }
}

/// rt's end of a child's channel.
pub type ParentEnd = End<ToChild, FromChild>;
/// The child's end.
pub type ChildEnd = End<FromChild, ToChild>;

/// A new channel for one child: (rt's end, the child's end).
pub fn pair() -> Result<(ParentEnd, ChildEnd)> {
    let (a, b) = sys::seqpacket_pair().ctx("socketpair")?;
    Ok((End { sock: a, watch: None, _types: PhantomData }, End { sock: b, watch: None, _types: PhantomData }))
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
        let mut stopped = 0;
        let (n, fds) = loop {
            match sys::recv_with_fds(self.sock.as_fd(), &mut buf) {
                Ok(r) => break r,
                Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => return Ok(None),
                // the receive timeout of a watched end (see `Watch`)
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                    if let Some(w) = &self.watch {
                        w.still_going(&mut stopped)?;
                    }
                }
                Err(e) => return Err(e).ctx("receive from peer"),
            }
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

impl ParentEnd {
    /// Watches the child while rt waits on it (see [`Watch`]), or no more (`None`: once the
    /// container is recorded, a frozen cgroup is someone's `pause`).
    pub fn watch(&mut self, watch: Option<Watch>) -> Result<()> {
        if watch.is_some() && self.watch.is_none() {
            sys::set_recv_timeout(self.sock.as_fd(), WATCH_EVERY).ctx("set the channel's receive timeout")?;
        }
        self.watch = watch;
        Ok(())
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

    /// A cgroup made of files, v2-style, frozen or not.
    fn fake_cgroup(tag: &str, frozen: bool) -> (std::path::PathBuf, Cgroup) {
        let d = std::env::temp_dir().join(format!("rt-watch-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("cgroup.freeze"), if frozen { "1\n" } else { "0\n" }).unwrap();
        std::fs::write(d.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        let dir = crate::cgroups::CgroupDir { path: d.clone(), mount: d.clone(), controllers: vec![], v2: true };
        (d, Cgroup { dirs: vec![dir] })
    }

    #[test]
    fn a_watched_wait_ends_when_the_cgroup_is_frozen() {
        let (d, cg) = fake_cgroup("frozen", true);
        let (mut rt, _child) = pair().unwrap();
        rt.watch(Some(Watch { cgroup: cg, pid: None })).unwrap();
        let e = rt.recv().unwrap_err();
        assert!(e.to_string().starts_with("container's cgroup unexpectedly frozen"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_watched_wait_goes_on_while_the_child_can_and_after_unwatch() {
        let (d, cg) = fake_cgroup("thawed", false);
        let (mut rt, child) = pair().unwrap();
        rt.watch(Some(Watch { cgroup: cg.clone(), pid: Some(std::process::id() as i32) })).unwrap();
        let late = std::thread::spawn(move || {
            std::thread::sleep(WATCH_EVERY * 4);
            child.send(&FromChild::Ready).unwrap();
            child
        });
        assert!(matches!(rt.recv().unwrap(), Some((FromChild::Ready, _))));
        let child = late.join().unwrap();
        // no longer watched: a frozen cgroup is a pause now, and the wait goes on
        std::fs::write(d.join("cgroup.freeze"), "1\n").unwrap();
        rt.watch(None).unwrap();
        let late = std::thread::spawn(move || {
            std::thread::sleep(WATCH_EVERY * 3);
            child.send(&FromChild::Mounted).unwrap();
        });
        assert!(matches!(rt.recv().unwrap(), Some((FromChild::Mounted, _))));
        late.join().unwrap();
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_stopped_child_ends_a_watched_wait() {
        let (d, cg) = fake_cgroup("stopped", false);
        let mut sleeper = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = sleeper.id() as i32;
        sys::kill(pid, libc::SIGSTOP).unwrap();
        let (mut rt, _child) = pair().unwrap();
        rt.watch(Some(Watch { cgroup: cg, pid: Some(pid) })).unwrap();
        let e = rt.recv().unwrap_err();
        let _ = sleeper.kill();
        let _ = sleeper.wait();
        assert!(e.to_string().contains("is stopped and made no progress"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }
}
