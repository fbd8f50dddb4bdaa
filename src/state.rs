//! The only memory rt has of a container: `<root>/<id>/` with `state.json` (written whole and
//! renamed into place, so a reader never sees half of it) and, between create and start,
//! `exec.fifo`. Calls that change a container hold an exclusive `flock` on its directory, and
//! never wait for it longer than [`LOCK_WAIT`].
//!
//! `create` records the container (status `creating`, with its cgroup) before it makes anything
//! else, so that whatever happens to that rt, `state` and `list` show the container and `delete
//! --force` finds what it had made. A record whose status is still `creating` is a create in
//! progress while its rt holds the lock, and a stopped, half-made container once nobody does.
//! A state.json that is damaged all the same (truncated by hand, a crash) is reported as such,
//! and `delete --force` takes what it still says for sure ([`salvage`]).

mod repair;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use repair::{repair, Repaired};

use crate::cgroups::{Cgroup, CgroupDir};
use crate::error::{Context, Error, Result};
use crate::sys;

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";
const STATE_TMP: &str = "state.json.tmp";

/// The version of state.json's layout this rt writes and reads (`stateVersion`; a file without
/// one is version 1). A newer rt that changes the meaning of a field raises it.
pub const STATE_VERSION: u32 = 1;

/// How long a call waits for another one's lock on the same container before it gives up.
/// The longest holders are a `create` (with its hooks) and a `delete` waiting for the init to
/// die (up to 10 s).
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// The longest state.json rt reads: its own are a few KiB (hooks included), and never much
/// more than spec::MAX_CONFIG_BYTES, since a config's annotations and hooks are copied in.
const MAX_STATE_BYTES: u64 = 16 << 20;

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

fn state_version_1() -> u32 {
    1
}

/// What `state.json` holds. What `delete --force` needs to find the container's processes and
/// cgroups comes first, so that a truncated file still has it ([`salvage`]); runc's public
/// fields follow (`state` prints them in runc's order, from [`PublicState`]), then the rest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    #[serde(default = "state_version_1")]
    pub state_version: u32,
    pub id: String,
    /// The init; 0 while the container is `creating`.
    pub pid: i32,
    /// The init's start time (field 22 of /proc/PID/stat): tells the init from a later
    /// process that got the same pid.
    pub init_start_time: u64,
    /// Whether the container made a pid namespace of its own: without one (none, or one it
    /// joined), killing the init does not take the other processes with it.
    pub own_pid_ns: bool,
    pub cgroup: Cgroup,
    /// `--pid-file`, as given to create (absolute): a create killed while writing it leaves
    /// its temporary file beside it, which delete removes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_file: Option<PathBuf>,
    /// The creating rt's executable (device, inode): the init runs it until it executes the
    /// user's program, so an init that still does is one waiting for `start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_exe: Option<(u64, u64)>,
    pub status: Status,
    pub oci_version: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub owner: String,
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

    /// What a state directory without a state.json stands for: a create that had only made the
    /// directory (it is still at it, or it was killed there). It holds nothing else.
    fn half_made(id: &str, created: String) -> State {
        State {
            state_version: STATE_VERSION,
            id: id.to_owned(),
            pid: 0,
            init_start_time: 0,
            own_pid_ns: false,
            cgroup: Cgroup::default(),
            pid_file: None,
            init_exe: None,
            status: Status::Creating,
            oci_version: crate::spec::OCI_VERSION.to_owned(),
            bundle: PathBuf::new(),
            rootfs: PathBuf::new(),
            created,
            annotations: BTreeMap::new(),
            owner: String::new(),
            no_new_keyring: false,
            hooks: Default::default(),
        }
    }
}

/// The longest id rt takes: one path component, with room for a suffix.
const MAX_ID_LEN: usize = 200;

/// runc's rule for ids, so that an id is always a safe single path component (and rt's, not
/// longer than [`MAX_ID_LEN`]).
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty() && id != "." && id != ".." && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if !ok {
        return Err(Error::msg(format!("invalid container ID format: {:?} (allowed: [A-Za-z0-9_+.-], not . or ..)", shorten(id))));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Error::msg(format!("invalid container ID format: {:?} is {} bytes long (at most {MAX_ID_LEN})", shorten(id), id.len())));
    }
    Ok(())
}

/// An id as an error message shows it: the first 40 characters of a long one.
fn shorten(id: &str) -> String {
    match id.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &id[..i]),
        None => id.to_owned(),
    }
}

thread_local! {
    /// The state directories this process holds the lock of: a `creating` record under our own
    /// lock is one whose creator is gone.
    static HELD: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
}

/// A container's state directory, open and locked (the lock goes with the value).
pub struct ContainerDir {
    pub path: PathBuf,
    pub fd: OwnedFd,
}

impl Drop for ContainerDir {
    fn drop(&mut self) {
        HELD.with(|h| {
            let mut h = h.borrow_mut();
            if let Some(i) = h.iter().position(|p| *p == self.path) {
                h.swap_remove(i);
            }
        });
    }
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
            // a read-only or full filesystem under --root: said so, naming --root
            Err(e) => return Err(e).with_ctx(|| format!("--root {}: create state directory {}", root.display(), path.display())),
        }
        let dir = Self::open_path(path.clone(), id).and_then(|d| {
            sys::fchmod(d.fd.as_fd(), 0o711).ctx("chmod state directory")?;
            Ok(d)
        });
        match dir {
            Err(Error::NotExist) => Err(Error::msg(format!("container {id} was deleted while it was being created"))),
            Err(e) => {
                // Nothing is in it yet; left behind, it would hold the id.
                let _ = std::fs::remove_dir(&path);
                Err(e)
            }
            ok => ok,
        }
    }

    /// Opens and locks an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        Self::open_path(root.join(id), id)
    }

    fn open_path(path: PathBuf, id: &str) -> Result<ContainerDir> {
        let fd = match sys::open(&path, libc::O_RDONLY | libc::O_DIRECTORY, 0) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Err(Error::NotExist),
            Err(e) => return Err(e).with_ctx(|| format!("open {}", path.display())),
        };
        lock(&fd, &path, id)?;
        // Removed while we waited (a delete, or the create that failed): gone.
        if sys::fstat(fd.as_fd()).ctx("stat state directory")?.st_nlink == 0 {
            return Err(Error::NotExist);
        }
        HELD.with(|h| h.borrow_mut().push(path.clone()));
        Ok(ContainerDir { path, fd })
    }

    pub fn load(&self) -> Result<State> {
        read_state(&self.path)
    }

    /// The container's status, as [`State::live_status`] says, for a caller holding the lock:
    /// a record still `creating` is then one whose rt is gone (it held the lock throughout).
    pub fn status(&self, st: &State) -> Status {
        st.live_status(&self.path)
    }

    /// Writes state.json whole, then renames it into place.
    pub fn save(&self, st: &State) -> Result<()> {
        let bytes = serde_json::to_vec(st).map_err(|e| Error::msg(format!("encode state: {e}")))?;
        let what = || {
            let root = self.path.parent().unwrap_or(Path::new("/"));
            format!("--root {}: write {}", root.display(), self.path.join(STATE_FILE).display())
        };
        let tmp = Path::new(STATE_TMP);
        let written = sys::openat(Some(self.fd.as_fd()), tmp, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o600)
            .and_then(|f| sys::write_all(f.as_fd(), &bytes))
            .and_then(|()| std::fs::rename(self.path.join(tmp), self.path.join(STATE_FILE)));
        if written.is_err() {
            let _ = sys::unlinkat(Some(self.fd.as_fd()), tmp, 0);
        }
        written.with_ctx(what)
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

/// An exclusive flock on the directory, waited for at most [`LOCK_WAIT`]: the first try costs
/// one call, as a blocking one would; a held lock is tried again at growing intervals (1 ms up
/// to 50 ms), so that a call stuck elsewhere is reported rather than waited for forever.
fn lock(fd: &OwnedFd, path: &Path, id: &str) -> Result<()> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match sys::flock(fd.as_fd(), libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => {}
            Err(e) => return Err(e).with_ctx(|| format!("lock {}", path.display())),
        }
        if start.elapsed() >= LOCK_WAIT {
            return Err(Error::msg(format!(
                "container {id} is busy: another rt call has held its lock ({}) for {} s; nothing was done, try again",
                path.display(),
                LOCK_WAIT.as_secs()
            )));
        }
        nap(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Sleeps (a poll of nothing: an interruption ends the nap early instead of restarting it, so
/// no signal or injected EINTR can keep a waiting loop from reaching its deadline).
pub fn nap(d: Duration) {
    let _ = sys::poll(&mut [], i32::try_from(d.as_millis()).unwrap_or(i32::MAX));
}

/// Whether some process holds the lock of `dir` (this one does not count).
fn locked_by_another(dir: &Path) -> bool {
    if HELD.with(|h| h.borrow().iter().any(|p| p == dir)) {
        return false;
    }
    let Ok(fd) = sys::open(dir, libc::O_RDONLY | libc::O_DIRECTORY, 0) else { return false };
    matches!(sys::flock(fd.as_fd(), libc::LOCK_SH | libc::LOCK_NB), Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK))
}

pub fn ensure_root(root: &Path) -> Result<()> {
    match std::fs::create_dir(root) {
        Ok(()) => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700)).with_ctx(|| format!("--root {}: chmod", root.display()))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // A file, or a symlink to one, cannot hold containers.
            match std::fs::metadata(root) {
                Ok(md) if md.is_dir() => Ok(()),
                Ok(_) => Err(Error::msg(format!("--root {}: not a directory", root.display()))),
                Err(e) => Err(e).with_ctx(|| format!("--root {}", root.display())),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = root.parent() {
                std::fs::create_dir_all(parent).with_ctx(|| format!("--root {}: create {}", root.display(), parent.display()))?;
            }
            ensure_root(root)
        }
        Err(e) => Err(e).with_ctx(|| format!("--root {}: create", root.display())),
    }
}

/// A container's directory and state, read without locking; an unknown id is runc's
/// "container does not exist".
pub fn read_by_id(root: &Path, id: &str) -> Result<(PathBuf, State)> {
    validate_id(id)?;
    let dir = root.join(id);
    let st = read_state(&dir)?;
    Ok((dir, st))
}

/// Reads `<dir>/state.json` without locking: the rename makes every read whole. A directory
/// without one is a create that had only made the directory; a missing directory is runc's
/// "container does not exist"; a state.json that cannot be read says so in one line.
pub fn read_state(dir: &Path) -> Result<State> {
    let p = dir.join(STATE_FILE);
    let id = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match read_capped(&p) {
        Ok(bytes) => parse_state(&bytes, &id).map_err(|why| damaged(&id, &p, &why)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => match std::fs::symlink_metadata(dir) {
            Ok(md) if md.is_dir() => {
                let created = md.modified().map(|t| crate::logging::rfc3339(t, true)).unwrap_or_default();
                Ok(State::half_made(&id, created))
            }
            _ => Err(Error::NotExist),
        },
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Err(Error::NotExist),
        Err(e) => Err(e).with_ctx(|| format!("read {}", p.display())),
    }
}

fn damaged(id: &str, path: &Path, why: &str) -> Error {
    Error::msg(format!("container {id}: {} is damaged: {why} (rt delete --force {id} removes what it still names)", path.display()))
}

fn read_capped(p: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    crate::sys::bounded_eintr(std::fs::File::open(p)?).take(MAX_STATE_BYTES + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// state.json's bytes as a [`State`] of container `id`; the error says why not, in words.
pub fn parse_state(bytes: &[u8], id: &str) -> std::result::Result<State, String> {
    if bytes.is_empty() {
        return Err("it is empty".into());
    }
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return Err(format!("it is larger than {} MiB", MAX_STATE_BYTES >> 20));
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Version {
        #[serde(default = "state_version_1")]
        state_version: u32,
    }
    if let Ok(v) = serde_json::from_slice::<Version>(bytes) {
        if v.state_version > STATE_VERSION {
            return Err(format!("it was written by a newer rt (state version {}; this rt reads {STATE_VERSION})", v.state_version));
        }
    }
    let st: State = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if st.id != id {
        return Err(format!("it is the state of container {:?}", shorten(&st.id)));
    }
    Ok(st)
}

/// What a damaged state.json still says for sure.
#[derive(Debug, Clone)]
pub struct Salvaged {
    /// What could be read, with defaults elsewhere (status `stopped`, no hooks).
    pub state: State,
    /// `pid` and `initStartTime` were both there: the init can be told from another process.
    pub init_known: bool,
    /// Every cgroup directory was there.
    pub cgroup_whole: bool,
    /// The hooks were there whole (only then are the poststop ones run).
    pub hooks_whole: bool,
    /// Why the file did not parse, in words.
    pub why: String,
}

/// What a damaged state.json (`bytes`) of container `id` still says for sure: [`repair`] keeps
/// only complete values; each field is then taken on its own, and a field that is not there
/// whole, or not of its type, is left out. Pure.
pub fn salvage(bytes: &[u8], id: &str) -> Salvaged {
    let why = parse_state(bytes, id).err().unwrap_or_default();
    let repaired = repair(&bytes[..bytes.len().min(MAX_STATE_BYTES as usize)]);
    let (v, cut) = match repaired.and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.json).ok().map(|v| (v, r.cut))) {
        Some((v, cut)) if v.is_object() => (v, cut),
        _ => (serde_json::Value::Null, vec![]),
    };
    let whole = |ptr: &str| v.pointer(ptr).is_some() && !cut.iter().any(|c| c == ptr || c.starts_with(&format!("{ptr}/")));
    let mut st = State::half_made(id, String::new());
    st.status = Status::Stopped;
    if v.get("id").and_then(|i| i.as_str()).is_some_and(|i| i != id) {
        // another container's state: nothing in it is this one's
        return Salvaged { state: st, init_known: false, cgroup_whole: false, hooks_whole: false, why };
    }
    let pid = v.get("pid").and_then(|p| p.as_i64()).and_then(|p| i32::try_from(p).ok()).filter(|&p| p > 0);
    let start = v.get("initStartTime").and_then(|s| s.as_u64()).filter(|&s| s > 0);
    let init_known = pid.is_some() && start.is_some();
    if let (Some(pid), Some(start)) = (pid, start) {
        st.pid = pid;
        st.init_start_time = start;
    }
    st.own_pid_ns = v.get("ownPidNs").and_then(|b| b.as_bool()).unwrap_or(false);
    if let Some(dirs) = v.pointer("/cgroup/dirs").and_then(|d| d.as_array()) {
        for (i, d) in dirs.iter().enumerate() {
            if !whole(&format!("/cgroup/dirs/{i}")) {
                continue;
            }
            if let Ok(d) = serde_json::from_value::<CgroupDir>(d.clone()) {
                if d.path.starts_with(&d.mount) && d.path != d.mount && d.path.is_absolute() {
                    st.cgroup.dirs.push(d);
                }
            }
        }
    }
    let cgroup_whole = whole("/cgroup/dirs") && st.cgroup.dirs.len() == v.pointer("/cgroup/dirs").and_then(|d| d.as_array()).map_or(0, Vec::len);
    let text = |k: &str| if whole(&format!("/{k}")) { v.get(k).and_then(|s| s.as_str()).map(str::to_owned) } else { None };
    st.pid_file = text("pidFile").map(PathBuf::from);
    st.bundle = text("bundle").map(PathBuf::from).unwrap_or_default();
    st.rootfs = text("rootfs").map(PathBuf::from).unwrap_or_default();
    st.created = text("created").unwrap_or_default();
    let hooks = if whole("/hooks") { v.get("hooks").and_then(|h| serde_json::from_value(h.clone()).ok()) } else { None };
    let hooks_whole = hooks.is_some();
    st.hooks = hooks.unwrap_or_default();
    Salvaged { state: st, init_known, cgroup_whole, hooks_whole, why }
}

/// Reads `<dir>/state.json` for [`salvage`].
pub fn salvage_file(dir: &Path, id: &str) -> Result<Salvaged> {
    let p = dir.join(STATE_FILE);
    match read_capped(&p) {
        Ok(bytes) => Ok(salvage(&bytes, id)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(salvage(b"", id)),
        Err(e) => Err(e).with_ctx(|| format!("read {}", p.display())),
    }
}

/// The ids under `root`, sorted (a missing root has none; names that are no valid id, such
/// as a leftover of something else, are not containers).
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e).with_ctx(|| format!("read {}", root.display())),
    };
    let mut ids: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| validate_id(id).is_ok())
        .collect();
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
    if pid <= 0 {
        return None;
    }
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

    /// The status now: from the process, the freezer and the exec fifo, not from the file. A
    /// record still `creating` is a create at work while another process holds the lock, and
    /// a half-made, stopped container otherwise.
    pub fn live_status(&self, dir: &Path) -> Status {
        if self.status == Status::Creating {
            return if locked_by_another(dir) { Status::Creating } else { Status::Stopped };
        }
        if !self.init_alive() {
            return Status::Stopped;
        }
        if self.cgroup.is_frozen() {
            return Status::Paused;
        }
        if dir.join(EXEC_FIFO).exists() && self.init_waits() {
            return Status::Created;
        }
        Status::Running
    }

    /// Whether the init still runs rt (it waits for `start`) rather than the user's program: a
    /// `start` killed after letting it go leaves exec.fifo behind.
    fn init_waits(&self) -> bool {
        let Some(exe) = self.init_exe else { return true };
        match sys::stat(Path::new(&format!("/proc/{}/exe", self.pid))) {
            Ok(st) => (st.st_dev, st.st_ino) == exe,
            Err(_) => true,
        }
    }

    /// The temporary file `--pid-file` is written to before it is renamed into place.
    pub fn pid_file_tmp(&self) -> Option<PathBuf> {
        pid_file_tmp(self.pid_file.as_deref()?)
    }
}

/// The (device, inode) of the running rt's executable, for [`State::init_exe`].
pub fn own_exe() -> Option<(u64, u64)> {
    sys::stat(Path::new("/proc/self/exe")).ok().map(|st| (st.st_dev, st.st_ino))
}

/// `.NAME` beside the pid file NAME: where it is written before the rename (as runc does).
pub fn pid_file_tmp(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    Some(path.with_file_name(format!(".{}", name.to_string_lossy())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "abc-123", "A_b+c.d", "x.y"] {
            validate_id(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b", "ü", "a\n", "../x", "a\0b"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
        validate_id(&"a".repeat(MAX_ID_LEN)).unwrap();
        let e = validate_id(&"a".repeat(1024)).unwrap_err().to_string();
        assert!(e.contains("1024 bytes long") && e.len() < 200, "{e}");
    }

    #[test]
    fn proc_stat_parsing() {
        let s = b"1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 100";
        assert_eq!(parse_proc_stat(s), Some(ProcStat { state: b'S', start_time: 98765 }));
        assert_eq!(parse_proc_stat(b"garbage"), None);
        assert_eq!(proc_stat(0), None);
        assert_eq!(proc_stat(-1), None);
    }

    #[test]
    fn own_process_is_alive() {
        let me = sys::getpid();
        let st = proc_stat(me).unwrap();
        assert!(matches!(st.state, b'R' | b'S'), "{}", st.state as char);
        assert!(st.start_time > 0);
    }

    fn sample() -> State {
        State {
            state_version: STATE_VERSION,
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
            cgroup: Cgroup {
                dirs: vec![
                    CgroupDir { path: "/sys/fs/cgroup/cpu/c1".into(), mount: "/sys/fs/cgroup/cpu".into(), controllers: vec!["cpu".into()], v2: false },
                    CgroupDir { path: "/sys/fs/cgroup/unified/c1".into(), mount: "/sys/fs/cgroup/unified".into(), controllers: vec![], v2: true },
                ],
            },
            pid_file: Some("/run/c1.pid".into()),
            init_exe: Some((1, 2)),
            own_pid_ns: true,
            no_new_keyring: false,
            hooks: Default::default(),
        }
    }

    #[test]
    fn public_state_is_runcs_shape() {
        let st = sample();
        let j = serde_json::to_string(&st.public(Status::Running)).unwrap();
        assert_eq!(
            j,
            r#"{"ociVersion":"1.3.0","id":"c1","pid":42,"status":"running","bundle":"/b","rootfs":"/b/rootfs","created":"2023-11-14T22:13:20.12Z","owner":""}"#
        );
        let j = serde_json::to_string(&st.public(Status::Stopped)).unwrap();
        assert!(j.contains(r#""pid":0"#));
    }

    #[test]
    fn what_delete_needs_comes_first() {
        let j = serde_json::to_string(&sample()).unwrap();
        assert!(j.starts_with(r#"{"stateVersion":1,"id":"c1","pid":42,"initStartTime":1,"ownPidNs":true,"cgroup":{"dirs":[{"path":"#), "{j}");
    }

    #[test]
    fn damaged_state_is_told_in_words() {
        let j = serde_json::to_vec(&sample()).unwrap();
        assert_eq!(parse_state(b"", "c1").unwrap_err(), "it is empty");
        assert!(parse_state(&j[..j.len() / 2], "c1").unwrap_err().contains("EOF"));
        assert!(parse_state(&j, "c2").unwrap_err().contains("state of container \"c1\""));
        let future = String::from_utf8(j.clone()).unwrap().replace(r#""stateVersion":1"#, r#""stateVersion":7"#);
        assert!(parse_state(future.as_bytes(), "c1").unwrap_err().contains("newer rt (state version 7"));
        // an older rt's file, without stateVersion and pidFile, still reads
        let old = String::from_utf8(j).unwrap().replace(r#""stateVersion":1,"#, "").replace(r#","pidFile":"/run/c1.pid""#, "");
        let st = parse_state(old.as_bytes(), "c1").unwrap();
        assert_eq!((st.state_version, st.pid_file), (1, None));
    }

    #[test]
    fn salvage_keeps_only_what_is_whole() {
        let j = serde_json::to_vec(&sample()).unwrap();
        let full = salvage(&j, "c1");
        assert!(full.init_known && full.cgroup_whole && full.hooks_whole, "{full:?}");
        assert_eq!(full.state.cgroup, sample().cgroup);
        for k in 0..j.len() {
            let s = salvage(&j[..k], "c1");
            assert!(s.state.cgroup.dirs.iter().all(|d| sample().cgroup.dirs.contains(d)), "prefix {k}: {:?}", s.state.cgroup);
            assert!(s.state.pid == 0 || (s.state.pid == 42 && s.init_known), "prefix {k}");
            assert!(!s.cgroup_whole || s.state.cgroup == sample().cgroup, "prefix {k}");
            assert!(s.state.pid_file.is_none() || s.state.pid_file == sample().pid_file, "prefix {k}");
            assert!(!s.why.is_empty(), "prefix {k}");
        }
        // the first cgroup directory survives a cut inside the second
        let text = String::from_utf8(j.clone()).unwrap();
        let at = text.find("/sys/fs/cgroup/unified/c1").unwrap() + 5;
        let s = salvage(&j[..at], "c1");
        assert!(s.init_known && !s.cgroup_whole);
        assert_eq!(s.state.cgroup.dirs, sample().cgroup.dirs[..1]);
        // someone else's state, garbage, nothing
        assert_eq!(salvage(&j, "c2").state.pid, 0);
        assert_eq!(salvage(b"\xff\xfe garbage", "c1").state.pid, 0);
        assert_eq!(salvage(b"", "c1").why, "it is empty");
    }

    #[test]
    fn salvage_refuses_a_cgroup_dir_outside_its_mount() {
        let j = r#"{"id":"c1","pid":5,"initStartTime":9,"cgroup":{"dirs":[
            {"path":"/sys/fs/cgroup/cpu","mount":"/sys/fs/cgroup/cpu"},
            {"path":"/etc","mount":"/sys/fs/cgroup/cpu"},
            {"path":"/sys/fs/cgroup/cpu/c1","mount":"/sys/fs/cgroup/cpu"}]}"#;
        let s = salvage(j.as_bytes(), "c1");
        assert_eq!(s.state.cgroup.paths().collect::<Vec<_>>(), [Path::new("/sys/fs/cgroup/cpu/c1")]);
        assert!(s.init_known && !s.cgroup_whole);
    }

    #[test]
    fn pid_file_tmp_is_beside_it() {
        assert_eq!(pid_file_tmp(Path::new("/run/x/c.pid")), Some(PathBuf::from("/run/x/.c.pid")));
        assert_eq!(pid_file_tmp(Path::new("/")), None);
    }
}
