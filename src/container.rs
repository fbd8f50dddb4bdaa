//! The lifecycle verbs: create, start, run, state, list, kill, delete. Each is one function
//! that main.rs calls; the clone and the handshake with the init are in [`launch`].

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::cgroups::{Cgroup, Layout};
use crate::channel::{Channel, Msg};
use crate::error::{Context, Error, Result};
use crate::init::{self, InitPlan, StartBy};
use crate::namespaces::{self, NamespacePlan};
use crate::state::{self, ContainerDir, State, Status};
use crate::sys::{self, ExitStatus, Forked, Pid};
use crate::{logging, process, rootfs, signals, spec};

/// Global flags every verb sees.
#[derive(Debug, Clone)]
pub struct Global {
    pub root: PathBuf,
    pub systemd_cgroup: bool,
}

#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
}

/// `create`: the container set up and its init waiting on exec.fifo.
pub fn create(g: &Global, id: &str, o: &CreateOptions) -> Result<()> {
    let launched = launch(g, id, o, Mode::Create)?;
    launched.finish();
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
    let launched = launch(g, id, o, mode)?;
    if mode == Mode::RunDetached {
        launched.finish();
        return Ok(0);
    }
    let (cgroup, own_pid_ns) = (launched.cgroup.clone(), launched.own_pid_ns);
    let status = launched.wait()?;
    if !keep {
        if let Ok(dir) = ContainerDir::open(&g.root, id) {
            // What rt made itself; state.json says the same, no need to read it back.
            destroy_parts(dir, &cgroup, own_pid_ns)?;
        }
    }
    Ok(status.code())
}

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
        let mut fds = [
            libc::pollfd { fd: std::os::fd::AsRawFd::as_raw_fd(&fifo), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: std::os::fd::AsRawFd::as_raw_fd(&pidfd), events: libc::POLLIN, revents: 0 },
        ];
        sys::poll(&mut fds, -1).ctx("wait for the init")?;
        if fds[0].revents & libc::POLLIN != 0 {
            let mut b = [0u8; 1];
            match sys::read(fifo.as_fd(), &mut b) {
                Ok(1) => break,
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
                _ => return Err(Error::msg("cannot start a container that has stopped")),
            }
        }
        if fds[0].revents & libc::POLLHUP != 0 || fds[1].revents != 0 {
            return Err(Error::msg("cannot start a container that has stopped"));
        }
    }
    std::fs::remove_file(&fifo_path).ctx("remove exec.fifo")?;
    Ok(())
}

/// `state`: runc's JSON, two-space indented, no trailing newline.
pub fn state(g: &Global, id: &str) -> Result<String> {
    let (dir, st) = state::read_by_id(&g.root, id)?;
    let status = st.live_status(&dir);
    serde_json::to_string_pretty(&st.public(status)).map_err(|e| Error::msg(format!("encode state: {e}")))
}

/// `list`: a table like runc's (Go tabwriter, min width 12, padding 3), JSON, or ids only.
pub fn list(g: &Global, format: ListFormat, quiet: bool) -> Result<String> {
    state::ensure_root(&g.root)?;
    let mut rows = Vec::new();
    for id in state::list_ids(&g.root)? {
        let dir = g.root.join(&id);
        match state::read_state(&dir) {
            Ok(st) => {
                let status = st.live_status(&dir);
                rows.push((st, status, owner_of(&dir)));
            }
            Err(e) if e.errno() == Some(libc::ENOENT) => {}
            Err(e) => eprintln!("load container {id}: {e}"),
        }
    }
    if quiet {
        return Ok(rows.iter().map(|(st, _, _)| format!("{}\n", st.id)).collect());
    }
    match format {
        ListFormat::Json => {
            if rows.is_empty() {
                return Ok("null\n".into());
            }
            let items: Vec<serde_json::Value> = rows
                .iter()
                .map(|(st, status, owner)| {
                    let mut v = serde_json::to_value(st.public(*status)).unwrap_or_default();
                    v["owner"] = owner.clone().into();
                    v
                })
                .collect();
            Ok(format!("{}\n", serde_json::Value::Array(items)))
        }
        ListFormat::Table => {
            let mut cells = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from).to_vec()];
            for (st, status, owner) in &rows {
                let pid = if *status == Status::Stopped { 0 } else { st.pid };
                cells.push(vec![st.id.clone(), pid.to_string(), status.to_string(), st.bundle.display().to_string(), st.created.clone(), owner.clone()]);
            }
            Ok(tabwrite(&cells))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

/// Go's text/tabwriter with (minwidth 12, padding 3): every column but the last is as wide as
/// its longest cell plus 3, at least 12.
fn tabwrite(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols).map(|c| rows.iter().map(|r| r[c].chars().count() + 3).max().unwrap_or(0).max(12)).collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == cols {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push('\n');
    }
    out
}

/// The state directory owner's user name on the host, or `#uid`.
fn owner_of(dir: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = std::fs::metadata(dir) else { return String::new() };
    let uid = md.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    crate::user::parse_passwd(&passwd).into_iter().find(|e| e.uid == uid).map_or_else(|| format!("#{uid}"), |e| e.name)
}

/// `kill`: a signal to the init, or with `all` to every process in the container's cgroup.
pub fn kill(g: &Global, id: &str, signal: &str, all: bool) -> Result<()> {
    let sig = signals::parse(signal)?;
    let dir = ContainerDir::open(&g.root, id)?;
    let st = dir.load()?;
    // With `all`, whatever is still in the cgroup, also after the init is gone (a container
    // without its own pid namespace leaves its other processes there), as runc does.
    if all {
        return Ok(st.cgroup.kill_all(sig)?);
    }
    if st.live_status(&dir.path) == Status::Stopped {
        return Err(Error::NotRunning);
    }
    signal_init(&st, sig)
}

/// Signals the recorded init through a pidfd, after checking that the pid still belongs to it.
fn signal_init(st: &State, sig: i32) -> Result<()> {
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

/// `delete`: removes a stopped (or created) container; `force` kills a running one first.
pub fn delete(g: &Global, id: &str, force: bool) -> Result<()> {
    let dir = match ContainerDir::open(&g.root, id) {
        Ok(d) => d,
        Err(Error::NotExist) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    let st = match dir.load() {
        Ok(st) => st,
        Err(Error::NotExist) => {
            // A create that died half-way: nothing to stop, only the directory to remove.
            dir.remove()?;
            return if force { Ok(()) } else { Err(Error::NotExist) };
        }
        Err(e) => return Err(e),
    };
    match st.live_status(&dir.path) {
        Status::Stopped => {}
        Status::Created => stop(&st)?,
        status @ (Status::Running | Status::Paused | Status::Creating) => {
            if !force {
                return Err(Error::msg(format!("cannot delete container {id} that is not stopped: {status}")));
            }
            stop(&st)?;
        }
    }
    destroy(dir, &st)
}

/// SIGKILL to the init (and, without a pid namespace of its own, to the rest of the cgroup),
/// then up to 10 s for it to be gone.
fn stop(st: &State) -> Result<()> {
    if st.own_pid_ns {
        let _ = st.cgroup.thaw();
        match signal_init(st, libc::SIGKILL) {
            Ok(()) | Err(Error::NotRunning) => {}
            Err(e) => return Err(e),
        }
    } else {
        st.cgroup.kill_all(libc::SIGKILL)?;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while st.init_alive() {
        if Instant::now() > deadline {
            return Err(Error::msg("container init still running"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Removes what a container leaves: its cgroup and its state directory.
fn destroy(dir: ContainerDir, st: &State) -> Result<()> {
    destroy_parts(dir, &st.cgroup, st.own_pid_ns)
}

fn destroy_parts(dir: ContainerDir, cgroup: &Cgroup, own_pid_ns: bool) -> Result<()> {
    if own_pid_ns {
        cgroup.destroy()?;
    } else {
        // Without a pid namespace of its own, processes outlive the init: SIGKILL what is left
        // in the cgroup first (cgroup.kill on v2), as runc's destroy does.
        cgroup.destroy_forced()?;
    }
    dir.remove()
}

// ---------------------------------------------------------------------------------------------
// create and run

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    RunDetached,
    RunForeground,
}

/// A container whose init is set up and waiting (create) or running (run).
struct Launched {
    init: Pid,
    channel: Channel,
    /// Holds the state directory's lock until rt is done with it.
    dir: ContainerDir,
    /// `run` in the foreground: the signals rt forwards, read from here.
    signals: Option<OwnedFd>,
    cgroup: Cgroup,
    own_pid_ns: bool,
}

impl Launched {
    /// The parent's part is over: the init goes on alone.
    fn finish(self) {
        drop(self.channel);
        drop(self.dir);
    }

    /// Foreground `run`: forward signals, reap, return the init's status.
    fn wait(self) -> Result<ExitStatus> {
        drop(self.dir);
        let sigfd = self.signals.ok_or_else(|| Error::msg("no signalfd"))?;
        loop {
            let sig = sys::read_signal(sigfd.as_fd()).ctx("read signalfd")?;
            if sig == libc::SIGCHLD {
                while let Some((pid, status)) = sys::waitpid(-1, libc::WNOHANG).ctx("waitpid")? {
                    if pid == self.init {
                        return Ok(status);
                    }
                }
            } else {
                let _ = sys::kill(self.init, sig);
            }
        }
    }
}

/// Undoes a create that failed half-way, whatever step it reached.
struct CreateGuard<'a> {
    dir: Option<ContainerDir>,
    cgroup: Option<&'a Cgroup>,
    init: Option<Pid>,
    intermediate: Option<Pid>,
}

impl Drop for CreateGuard<'_> {
    fn drop(&mut self) {
        for pid in [self.intermediate, self.init].into_iter().flatten() {
            let _ = sys::kill(pid, libc::SIGKILL);
            let _ = sys::waitpid(pid, 0);
        }
        if let Some(cg) = self.cgroup {
            let _ = cg.destroy();
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
    }
}

/// Everything decided before the clone.
struct Plan {
    spec: Spec,
    bundle: PathBuf,
    rootfs: PathBuf,
    ns: NamespacePlan,
    cgroup: Cgroup,
    process: process::ProcessPlan,
    rootfs_plan: rootfs::RootfsPlan,
}

fn plan(g: &Global, id: &str, o: &CreateOptions) -> Result<Plan> {
    state::validate_id(id)?;
    if g.systemd_cgroup {
        return Err(Error::msg("--systemd-cgroup: rt has no systemd cgroup driver yet"));
    }
    let bundle = std::path::absolute(&o.bundle).with_ctx(|| format!("bundle {}", o.bundle.display()))?;
    let spec = spec::load(&bundle)?;
    spec::validate(&spec)?;
    let rootfs = spec::rootfs_path(&spec, &bundle)?;
    let linux = spec.linux().as_ref().ok_or_else(|| Error::spec("linux", "missing"))?;
    let proc_ = spec.process().as_ref().ok_or_else(|| Error::spec("process", "missing"))?;
    if proc_.terminal().unwrap_or(false) {
        return Err(Error::spec("process.terminal", "terminals are not supported yet"));
    }
    if o.console_socket.is_some() {
        return Err(Error::msg("--console-socket: terminals are not supported yet"));
    }
    let ignored = spec::not_applied(&spec);
    if !ignored.is_empty() {
        logging::warn(&format!("not supported yet, the container runs without: {}", ignored.join(", ")));
    }
    let ns = namespaces::plan(linux)?;
    if !ns.has(LinuxNamespaceType::Mount) {
        let skipped = rootfs::needs_mount_namespace(&spec);
        if !skipped.is_empty() {
            logging::warn(&format!("no mount namespace: {} ignored (they would change the host's mounts)", skipped.join(", ")));
        }
    }
    if ns.has(LinuxNamespaceType::User) {
        return Err(Error::spec("linux.namespaces", "user namespaces are not supported yet"));
    }
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !ns.has(LinuxNamespaceType::Uts) {
        return Err(Error::spec("hostname", "unable to set hostname without a private UTS namespace"));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !ns.has(LinuxNamespaceType::Uts) {
        return Err(Error::spec("domainname", "unable to set domainname without a private UTS namespace"));
    }
    let layout = Layout::detect()?;
    let cgroup = Cgroup::plan(&layout, linux.cgroups_path().as_deref(), id)?;
    let listen_fds = process::listen_fds(std::env::var("LISTEN_FDS").ok().as_deref(), std::env::var("LISTEN_PID").ok().as_deref(), sys::getpid());
    process::check_passed_fds(o.preserve_fds + listen_fds.unwrap_or(0))?;
    let keyring = (!o.no_new_keyring).then(|| format!("_ses.{id}"));
    let mut process = process::plan(&spec, o.preserve_fds, listen_fds, keyring)?;
    if let Some(c) = process.caps.as_mut() {
        if (c.bounding | c.effective | c.permitted | c.inheritable | c.ambient) >> 38 != 0 {
            let unknown = c.limit_to(process::last_cap());
            if !unknown.is_empty() {
                logging::warn(&format!("ignoring capabilities this kernel does not have: {unknown:?}"));
            }
        }
    }
    let own_cgroup_ns = ns.has(LinuxNamespaceType::Cgroup);
    // On a hybrid host the container sees the v1 hierarchies, as with runc.
    let pure_v2 = cgroup.is_pure_v2();
    let cgroup_mounts = cgroup.container_mounts().into_iter().filter(|m| pure_v2 || m.fstype == "cgroup").collect();
    let rootfs_plan = rootfs::plan(&spec, &bundle, &rootfs, o.no_pivot, cgroup_mounts, own_cgroup_ns)?;
    Ok(Plan { spec, bundle, rootfs, ns, cgroup, process, rootfs_plan })
}

fn launch(g: &Global, id: &str, o: &CreateOptions, mode: Mode) -> Result<Launched> {
    let mut p = plan(g, id, o)?;
    // From here on rt, and every copy of it the clones make until the user's execve, is not
    // dumpable: nothing in a container can open /proc/PID/exe, fds or memory of a process that
    // holds rt's binary (CVE-2019-5736), not even of a foreground `rt run` that outlives the
    // init's setup, or between a clone and the first thing the copy does. execve makes the
    // user's program dumpable again as usual.
    sys::prctl(libc::PR_SET_DUMPABLE, 0).ctx("prctl(PR_SET_DUMPABLE)")?;
    let dir = ContainerDir::create(&g.root, id)?;
    let mut guard = CreateGuard { dir: None, cgroup: None, init: None, intermediate: None };
    guard.dir = Some(dir);
    let (lock_fd, fifo) = {
        let d = guard.dir.as_ref().ok_or_else(|| Error::msg("state dir missing"))?;
        // The init gets a handle of the fifo alone, not of the state directory: nothing of the
        // host's tree stays open in a parked container.
        let fifo = if mode == Mode::Create {
            sys::mkfifoat(d.fd.as_fd(), Path::new(state::EXEC_FIFO), 0o622).ctx("create exec.fifo")?;
            // 0622 whatever the umask: an init running as another user opens it for writing.
            sys::fchmodat(d.fd.as_fd(), Path::new(state::EXEC_FIFO), 0o622).ctx("chmod exec.fifo")?;
            Some(sys::openat(Some(d.fd.as_fd()), Path::new(state::EXEC_FIFO), libc::O_PATH, 0).ctx("open exec.fifo")?)
        } else {
            None
        };
        (d.fd.as_raw_fd(), fifo)
    };

    p.cgroup.create()?;
    guard.cgroup = Some(&p.cgroup);
    // Even without `resources`: the device rules start from "deny all" plus the defaults.
    let default_resources = oci_spec::runtime::LinuxResources::default();
    let res = p.spec.linux().as_ref().and_then(|l| l.resources().as_ref()).unwrap_or(&default_resources);
    for skipped in p.cgroup.ignored(res) {
        logging::warn(&format!("{skipped} is not supported on this host's cgroups: ignored"));
    }
    p.cgroup.apply(res)?;
    let cgroup_fd = p.cgroup.clone_into_fd()?;
    p.ns.open_joins()?;

    // v1 hierarchies need the pid written after the clone; until then the init waits, and a
    // cgroup namespace can only be made once it is in place.
    let needs_placement = p.cgroup.needs_pid_writes();
    // The init places itself, unless an intermediate has taken it into a mount namespace
    // where the host's /sys/fs/cgroup is not to be seen.
    let self_placement = needs_placement && !(p.ns.needs_intermediate() && p.ns.joins(LinuxNamespaceType::Mount));
    let mut clone_flags = p.ns.new & !namespaces::CLONE_NEWTIME;
    let unshare_cgroupns = needs_placement && p.ns.creates(LinuxNamespaceType::Cgroup);
    if unshare_cgroupns {
        clone_flags &= !libc::CLONE_NEWCGROUP;
    }
    if p.ns.creates(LinuxNamespaceType::Time) {
        namespaces::prepare_time_namespace(p.ns.time_offsets.as_deref().unwrap_or(""))?;
    }

    let signals = if mode == Mode::RunForeground {
        let mut set = signals::forwarded();
        set.push(libc::SIGCHLD);
        let set = sys::sigset(&set);
        let old = sys::sigprocmask(libc::SIG_BLOCK, &set).ctx("block signals")?;
        Some((sys::signalfd(&set).ctx("signalfd")?, old))
    } else {
        None
    };

    // Only when something is written to /proc: the init's copy is closed after the writes.
    let needs_proc = p.process.oom_score_adj.is_some() || p.spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()).is_some_and(|s| !s.is_empty());
    let host_proc = if needs_proc { Some(open_host_proc()?) } else { None };

    let (parent_end, child_end) = Channel::pair()?;
    // The init waits for rt's go-ahead when rt places it in v1 cgroups, and when an
    // intermediate clones it: its messages share the channel with the intermediate's, and
    // rt has to know the init's pid before the first of them.
    let init_waits = (needs_placement && !self_placement) || p.ns.needs_intermediate();
    let init_plan = InitPlan {
        spec: &p.spec,
        ns: &p.ns,
        rootfs: &p.rootfs_plan,
        process: &p.process,
        channel: &child_end,
        wait_placed: init_waits,
        place_in: self_placement.then_some(&p.cgroup),
        unshare_cgroupns,
        start_by: match &fifo {
            Some(f) => StartBy::Fifo(f.as_fd()),
            None => StartBy::Channel,
        },
        sigmask: signals.as_ref().map(|(_, old)| *old),
        joined_in_intermediate: p.ns.needs_intermediate(),
        close_in_child: [Some(lock_fd), Some(parent_end.raw()), signals.as_ref().map(|(fd, _)| fd.as_raw_fd()), cgroup_fd.as_ref().map(|f| f.as_raw_fd())]
            .into_iter()
            .flatten()
            .collect(),
        host_proc: host_proc.as_ref().map(|f| f.as_raw_fd()),
    };

    logging::debug(|| {
        format!("create {id}: clone flags {clone_flags:#x}, intermediate {}, placement after clone {needs_placement}", p.ns.needs_intermediate())
    });
    let init_pid = if p.ns.needs_intermediate() {
        match sys::clone3(0, cgroup_fd.as_ref().map(|f| f.as_fd())).ctx("clone")? {
            Forked::Child => init::intermediate(&init_plan, clone_flags as u64),
            Forked::Parent(pid) => {
                guard.intermediate = Some(pid);
                drop(child_end);
                let pid = match parent_end.recv()? {
                    Some((Msg::InitPid(pid), _)) => pid,
                    Some((Msg::Failed { message }, _)) => return Err(start_error(Error::Msg(message))),
                    _ => return Err(Error::msg("unable to start container process: the intermediate process died")),
                };
                guard.init = Some(pid);
                let _ = sys::waitpid(guard.intermediate.take().unwrap_or(pid), 0);
                pid
            }
        }
    } else {
        match sys::clone3(clone_flags as u64, cgroup_fd.as_ref().map(|f| f.as_fd())).ctx("clone")? {
            Forked::Child => init::run(&init_plan),
            Forked::Parent(pid) => {
                drop(child_end);
                guard.init = Some(pid);
                pid
            }
        }
    };

    logging::debug(|| format!("create {id}: init is pid {init_pid}"));
    if needs_placement && !self_placement {
        p.cgroup.add_pid(init_pid, cgroup_fd.is_some())?;
    }
    if init_waits {
        parent_end.send(&Msg::Placed)?;
    }
    match parent_end.recv()? {
        Some((Msg::Ready, _)) => {}
        Some((Msg::Failed { message }, _)) => return Err(start_error(Error::Msg(message))),
        Some((m, _)) => return Err(Error::msg(format!("unable to start container process: unexpected {m:?}"))),
        None => {
            let status = sys::waitpid(init_pid, 0).ok().flatten().map(|(_, s)| s);
            guard.init = None;
            return Err(Error::msg(format!("unable to start container process: container init died ({status:?})")));
        }
    }

    logging::debug(|| format!("create {id}: init ready"));
    let start_time = state::proc_stat(init_pid).map(|s| s.start_time).ok_or_else(|| Error::msg("container init died"))?;
    let st = State {
        oci_version: spec::OCI_VERSION.to_owned(),
        id: id.to_owned(),
        pid: init_pid,
        status: Status::Created,
        bundle: p.bundle.clone(),
        rootfs: p.rootfs.clone(),
        created: logging::rfc3339(SystemTime::now(), true),
        annotations: p.spec.annotations().clone().unwrap_or_default().into_iter().collect(),
        owner: String::new(),
        init_start_time: start_time,
        cgroup: p.cgroup.clone(),
        own_pid_ns: p.ns.creates(LinuxNamespaceType::Pid),
    };
    let dir = guard.dir.as_ref().ok_or_else(|| Error::msg("state dir missing"))?;
    dir.save(&st)?;
    if let Some(pf) = &o.pid_file {
        write_pid_file(pf, init_pid)?;
    }

    if mode != Mode::Create {
        parent_end.send(&Msg::Start)?;
        // The init's end closes on a successful execve; a failure is reported first.
        if let Some((Msg::Failed { message }, _)) = parent_end.recv()? {
            logging::error(&message);
        }
    }

    let dir = guard.dir.take().ok_or_else(|| Error::msg("state dir missing"))?;
    guard.cgroup = None;
    guard.init = None;
    Ok(Launched { init: init_pid, channel: parent_end, dir, signals: signals.map(|(fd, _)| fd), cgroup: st.cgroup, own_pid_ns: st.own_pid_ns })
}

/// The host's /proc, checked to be a procfs root and not something mounted in its place.
fn open_host_proc() -> Result<OwnedFd> {
    sys::open_proc_root().ctx("open /proc")?.ok_or_else(|| Error::msg("/proc is not a procfs root"))
}

/// A failure the init reported: runc's wording in front.
fn start_error(e: Error) -> Error {
    Error::msg(format!("unable to start container process: {e}"))
}

/// The pid, no newline, written beside the target and renamed over it (as runc does).
fn write_pid_file(path: &Path, pid: Pid) -> Result<()> {
    let path = std::path::absolute(path).with_ctx(|| format!("--pid-file {}", path.display()))?;
    let name = path.file_name().ok_or_else(|| Error::msg(format!("--pid-file {}: not a file name", path.display())))?;
    let tmp = path.with_file_name(format!(".{}", name.to_string_lossy()));
    let mut f = std::fs::File::options().write(true).create(true).truncate(true).open(&tmp).with_ctx(|| format!("--pid-file: create {}", tmp.display()))?;
    f.write_all(pid.to_string().as_bytes()).with_ctx(|| format!("--pid-file: write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_ctx(|| format!("--pid-file: rename to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabwriter_matches_runc() {
        let rows = vec![
            ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from).to_vec(),
            ["t1", "9477", "created", "/tmp/rcc/b/t1", "2026-11-23T08:46:46.671236684Z", "root"].map(String::from).to_vec(),
        ];
        assert_eq!(
            tabwrite(&rows),
            "ID          PID         STATUS      BUNDLE          CREATED                          OWNER\n\
             t1          9477        created     /tmp/rcc/b/t1   2026-11-23T08:46:46.671236684Z   root\n"
        );
        let empty = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from).to_vec()];
        assert_eq!(tabwrite(&empty), "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n");
    }
}
