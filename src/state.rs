//! The only memory rt has of a container: `<root>/<id>/` with `state.json` (written whole and
//! renamed into place, so a reader never sees half of it) and, between create and start,
//! `exec.fifo`. Calls that change a container hold an exclusive `flock` on its directory.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::sys;

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What `state.json` holds: runc's public fields first, then what rt needs to act on the
/// container later.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub owner: String,
    /// The init's start time (field 22 of /proc/PID/stat): tells the init from a later
    /// process that got the same pid.
    pub init_start_time: u64,
    pub cgroup: Cgroup,
    /// Whether the container made a pid namespace of its own: without one (none, or one it
    /// joined), killing the init does not take the other processes with it.
    pub own_pid_ns: bool,
    /// `--no-new-keyring`: exec'd processes do not join the container's session keyring either.
    #[serde(default)]
    pub no_new_keyring: bool,
    /// The hooks `start` and `delete` run (poststart, poststop), as config.json had them at
    /// create: later changes to it must not affect the container.
    #[serde(default)]
    pub hooks: crate::hooks::Hooks,
}

/// The public view, in runc's field order, as `state` prints it and hooks receive it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: Status,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
    pub owner: &'a str,
}

impl State {
    pub fn public(&self, status: Status) -> PublicState<'_> {
        PublicState {
            oci_version: &self.oci_version,
            id: &self.id,
            pid: if status == Status::Stopped { 0 } else { self.pid },
            status,
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            annotations: &self.annotations,
            owner: &self.owner,
        }
    }
}

/// runc's rule for ids, so that an id is always a safe single path component.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty() && id != "." && id != ".." && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::msg(format!("invalid container ID format: {id:?} (allowed: [A-Za-z0-9_+.-], not . or ..)")))
    }
}

/// A container's state directory, open (and locked, when changing the container).
pub struct ContainerDir {
    pub path: PathBuf,
    pub fd: OwnedFd,
}

impl ContainerDir {
    /// Makes `<root>/<id>` for a new container and locks it. An id in use fails here, atomically.
    pub fn create(root: &Path, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        ensure_root(root)?;
        let path = root.join(id);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(Error::Exists(id.to_owned())),
            Err(e) => return Err(e).with_ctx(|| format!("create state directory {}", path.display())),
        }
        let dir = Self::open_path(path.clone()).and_then(|d| {
            sys::fchmod(d.fd.as_fd(), 0o711).ctx("chmod state directory")?;
            Ok(d)
        });
        if dir.is_err() {
            // Nothing is in it yet; left behind, it would hold the id.
            let _ = std::fs::remove_dir(&path);
        }
        dir
    }

    /// Opens and locks an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        let path = root.join(id);
        match Self::open_path(path) {
            Err(e) if e.errno() == Some(libc::ENOENT) => Err(Error::NotExist),
            other => other,
        }
    }

    fn open_path(path: PathBuf) -> Result<ContainerDir> {
        let fd = sys::open(&path, libc::O_RDONLY | libc::O_DIRECTORY, 0).with_ctx(|| format!("open {}", path.display()))?;
        sys::flock(fd.as_fd(), libc::LOCK_EX).with_ctx(|| format!("lock {}", path.display()))?;
        Ok(ContainerDir { path, fd })
    }

    pub fn load(&self) -> Result<State> {
        match read_state(&self.path) {
            // A directory without state.json is a create that failed half-way or is still
            // running; to the user it does not exist.
            Err(e) if e.errno() == Some(libc::ENOENT) => Err(Error::NotExist),
            other => other,
        }
    }

    /// Writes state.json whole, then renames it into place.
    pub fn save(&self, st: &State) -> Result<()> {
        let bytes = serde_json::to_vec(st).map_err(|e| Error::msg(format!("encode state: {e}")))?;
        let tmp = Path::new("state.json.tmp");
        let f = sys::openat(Some(self.fd.as_fd()), tmp, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o600).ctx("write state.json")?;
        sys::write_all(f.as_fd(), &bytes).ctx("write state.json")?;
        drop(f);
        std::fs::rename(self.path.join(tmp), self.path.join(STATE_FILE)).ctx("write state.json")
    }

    /// Removes the directory and everything in it.
    pub fn remove(self) -> Result<()> {
        // Usually state.json is all there is (exec.fifo went at start): two syscalls instead
        // of remove_dir_all's ten.
        let _ = sys::unlinkat(Some(self.fd.as_fd()), Path::new(STATE_FILE), 0);
        if sys::unlinkat(None, &self.path, libc::AT_REMOVEDIR).is_ok() {
            return Ok(());
        }
        match std::fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e).with_ctx(|| format!("remove {}", self.path.display())),
            _ => Ok(()),
        }
    }
}

pub fn ensure_root(root: &Path) -> Result<()> {
    match std::fs::create_dir(root) {
        Ok(()) => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700)).with_ctx(|| format!("chmod {}", root.display()))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = root.parent() {
                std::fs::create_dir_all(parent).with_ctx(|| format!("create {}", parent.display()))?;
            }
            ensure_root(root)
        }
        Err(e) => Err(e).with_ctx(|| format!("create {}", root.display())),
    }
}

/// A container's directory and state, read without locking; an unknown id is runc's
/// "container does not exist".
pub fn read_by_id(root: &Path, id: &str) -> Result<(PathBuf, State)> {
    validate_id(id)?;
    let dir = root.join(id);
    match read_state(&dir) {
        Ok(st) => Ok((dir, st)),
        Err(e) if e.errno() == Some(libc::ENOENT) => Err(Error::NotExist),
        Err(e) => Err(e),
    }
}

/// Reads `<dir>/state.json` without locking: the rename makes every read whole.
pub fn read_state(dir: &Path) -> Result<State> {
    let p = dir.join(STATE_FILE);
    let bytes = std::fs::read(&p).with_ctx(|| format!("read {}", p.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::msg(format!("{}: {e}", p.display())))
}

/// The ids under `root`, sorted (a missing root has none).
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e).with_ctx(|| format!("read {}", root.display())),
    };
    let mut ids: Vec<String> =
        rd.filter_map(|e| e.ok()).filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).filter_map(|e| e.file_name().into_string().ok()).collect();
    ids.sort();
    Ok(ids)
}

/// What /proc/PID/stat says about a process: its state letter and start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub state: u8,
    pub start_time: u64,
}

pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    // One read: std::fs::read sees size 0 and reads in growing steps. The line is well under
    // 2 KiB (52 numbers and a 16-byte name).
    let f = sys::open(Path::new(&format!("/proc/{pid}/stat")), libc::O_RDONLY, 0).ok()?;
    let mut buf = [0u8; 2048];
    let n = sys::read(f.as_fd(), &mut buf).ok()?;
    parse_proc_stat(&buf[..n])
}

/// The command name (field 2) may hold spaces and parentheses: fields are counted after the
/// last ')'.
pub fn parse_proc_stat(s: &[u8]) -> Option<ProcStat> {
    let close = s.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&s[close + 1..]).ok()?;
    let mut f = rest.split_ascii_whitespace();
    let state = f.next()?.bytes().next()?;
    // fields 4..=21 come before starttime (22); `state` was field 3
    let start_time = f.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_time })
}

impl State {
    /// The state a hook of `kind` reads on stdin (runtime-spec's, with that point's status).
    pub fn hook_state(&self, kind: crate::hooks::Kind) -> String {
        let pid = (kind != crate::hooks::Kind::Poststop).then_some(self.pid);
        crate::hooks::HookState {
            oci_version: &self.oci_version,
            id: &self.id,
            status: kind.status(),
            pid,
            bundle: &self.bundle,
            annotations: &self.annotations,
        }
        .json()
    }

    /// Whether the init recorded here is still that process and not dead (a zombie is dead).
    pub fn init_alive(&self) -> bool {
        self.pid > 0 && proc_stat(self.pid).is_some_and(|st| st.start_time == self.init_start_time && st.state != b'Z' && st.state != b'X')
    }

    /// Every process of the container: its cgroup's, or for a rootless container without a
    /// cgroup, every process in the init's pid namespace (only the init when it shares rt's).
    pub fn pids(&self) -> Result<Vec<i32>> {
        if !self.cgroup.dirs.is_empty() {
            return self.cgroup.pids();
        }
        if !self.init_alive() {
            return Ok(vec![]);
        }
        let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
        let Some(init_ns) = ns(&self.pid.to_string()) else { return Ok(vec![]) };
        if ns("self").as_ref() == Some(&init_ns) {
            return Ok(vec![self.pid]);
        }
        let mut out: Vec<i32> = std::fs::read_dir("/proc")
            .ctx("/proc")?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|p| ns(&p.to_string()).as_ref() == Some(&init_ns))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// `kill --all` and `delete --force`: through the cgroup, else to each of [`State::pids`].
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        if !self.cgroup.dirs.is_empty() {
            return self.cgroup.kill_all(signal);
        }
        for pid in self.pids()? {
            if let Err(e) = sys::kill(pid, signal) {
                if e.raw_os_error() != Some(libc::ESRCH) {
                    return Err(Error::msg(format!("signalling pid {pid}: {e}")));
                }
            }
        }
        Ok(())
    }

    /// `pause`: only with a cgroup to freeze.
    pub fn freeze(&self) -> Result<()> {
        if self.cgroup.dirs.is_empty() {
            return Err(Error::msg("container has no cgroup to freeze (rootless, and its cgroup was not writable): cannot pause it"));
        }
        self.cgroup.freeze()
    }

    /// The status now: from the process, the freezer and the exec fifo, not from the file.
    pub fn live_status(&self, dir: &Path) -> Status {
        if !self.init_alive() {
            return Status::Stopped;
        }
        if self.cgroup.is_frozen() {
            return Status::Paused;
        }
        if dir.join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        Status::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "abc-123", "A_b+c.d", "x.y"] {
            validate_id(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b", "ü", "a\n", "../x"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn proc_stat_parsing() {
        let s = b"1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 100";
        assert_eq!(parse_proc_stat(s), Some(ProcStat { state: b'S', start_time: 98765 }));
        assert_eq!(parse_proc_stat(b"garbage"), None);
    }

    #[test]
    fn own_process_is_alive() {
        let me = sys::getpid();
        let st = proc_stat(me).unwrap();
        assert!(matches!(st.state, b'R' | b'S'), "{}", st.state as char);
        assert!(st.start_time > 0);
    }

    #[test]
    fn public_state_is_runcs_shape() {
        let st = State {
            oci_version: "1.3.0".into(),
            id: "c1".into(),
            pid: 42,
            status: Status::Created,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2023-11-14T22:13:20.12Z".into(),
            annotations: BTreeMap::new(),
            owner: "".into(),
            init_start_time: 1,
            cgroup: Cgroup::default(),
            own_pid_ns: true,
            no_new_keyring: false,
            hooks: Default::default(),
        };
        let j = serde_json::to_string(&st.public(Status::Running)).unwrap();
        assert_eq!(
            j,
            r#"{"ociVersion":"1.3.0","id":"c1","pid":42,"status":"running","bundle":"/b","rootfs":"/b/rootfs","created":"2023-11-14T22:13:20.12Z","owner":""}"#
        );
        let j = serde_json::to_string(&st.public(Status::Stopped)).unwrap();
        assert!(j.contains(r#""pid":0"#));
    }
}
