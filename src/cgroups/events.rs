//! OOM notifications for `rt events`: a descriptor to poll, and a count of the OOM kills seen
//! since the last look.
//!
//! - v1: an eventfd registered through `cgroup.event_control` on `memory.oom_control`; the kernel
//!   signals it on every OOM in the cgroup (and once when the cgroup goes away).
//! - v2: inotify on `memory.events`, whose `oom_kill` counter is compared with the last value.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::stats::parse_kv;
use super::{fs, Cgroup};
use crate::error::{Errno, Error, Result};
use crate::sys;

pub struct OomWatcher {
    kind: Kind,
}

enum Kind {
    V1 {
        eventfd: OwnedFd,
        /// Kept open: the registration lives as long as this fd.
        _oom_control: OwnedFd,
        dir: PathBuf,
    },
    V2 {
        inotify: OwnedFd,
        events: PathBuf,
        last: u64,
    },
}

fn os_err(op: &'static str, path: &Path, e: &std::io::Error) -> Error {
    Error::CgroupFs { op: op.into(), path: path.to_owned(), errno: Errno::from_io(e), hint: String::new() }
}

/// `oom_kill N` of a v2 memory.events text.
pub fn oom_kills(memory_events: &str) -> u64 {
    parse_kv(memory_events).get("oom_kill").copied().unwrap_or(0)
}

impl OomWatcher {
    pub fn new(cg: &Cgroup) -> Result<OomWatcher> {
        if let Some(d) = cg.v1_dir("memory") {
            let dir = d.path.clone();
            let oc_path = dir.join("memory.oom_control");
            let oc = std::fs::File::open(&oc_path).map_err(|e| Error::CgroupFs {
                op: "opening".into(),
                path: oc_path.clone(),
                errno: Errno::from_io(&e),
                hint: String::new(),
            })?;
            let eventfd = sys::eventfd().map_err(|e| os_err("creating an eventfd for", &oc_path, &e))?;
            let ctl = dir.join("cgroup.event_control");
            fs::write(&ctl, &format!("{} {}", eventfd.as_raw_fd(), oc.as_raw_fd())).map_err(|e| Error::CgroupFs {
                op: "registering for OOM events in".into(),
                path: ctl,
                errno: e,
                hint: String::new(),
            })?;
            return Ok(OomWatcher { kind: Kind::V1 { eventfd, _oom_control: oc.into(), dir } });
        }
        let Some(d) = cg.v2_dir() else {
            return Err(Error::Cgroup("this cgroup has no memory controller to watch for OOM kills".into()));
        };
        let events = d.path.join("memory.events");
        let inotify = sys::inotify_modify(&events).map_err(|e| os_err("watching", &events, &e))?;
        let last = fs::read(&events).map(|t| oom_kills(&t)).unwrap_or(0);
        Ok(OomWatcher { kind: Kind::V2 { inotify, events, last } })
    }

    /// Readable (POLLIN) when there may be news; then call [`OomWatcher::take`].
    pub fn fd(&self) -> BorrowedFd<'_> {
        match &self.kind {
            Kind::V1 { eventfd, .. } => eventfd.as_fd(),
            Kind::V2 { inotify, .. } => inotify.as_fd(),
        }
    }

    /// OOM kills since the last call (never blocks).
    pub fn take(&mut self) -> Result<u64> {
        match &mut self.kind {
            Kind::V1 { eventfd, dir, .. } => {
                let mut n = [0u8; 8];
                if !matches!(sys::read(eventfd.as_fd(), &mut n), Ok(8)) {
                    return Ok(0);
                }
                let n = u64::from_ne_bytes(n);
                // The eventfd also fires when the cgroup is removed: that is not an OOM.
                Ok(if dir.join("cgroup.event_control").exists() { n } else { 0 })
            }
            Kind::V2 { inotify, events, last } => {
                let mut buf = [0u8; 4096];
                // Drained: only the wake-up matters, not what the events say.
                while matches!(sys::read(inotify.as_fd(), &mut buf), Ok(n) if n > 0) {}
                let now = fs::read(events).map(|t| oom_kills(&t)).unwrap_or(*last);
                let new = now.saturating_sub(*last);
                *last = now;
                Ok(new)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_events_oom_kill() {
        assert_eq!(oom_kills("low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n"), 2);
        assert_eq!(oom_kills(""), 0);
    }
}
