//! rt's side of a launch: it makes what the container needs on the host (state dir, cgroup),
//! clones the first process of the topology, then walks the topology's stages with each child
//! over its own channel. Whatever step fails, [`Guard`] undoes what was made.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::time::SystemTime;

use oci_spec::runtime::LinuxNamespaceType;

use super::channel::{self, FromChild, ParentEnd, Step, ToChild};
use super::child::{self, Console, ExecContext, InitContext, IntermediateContext};
use super::exec::ExecPlan;
use super::plan::ContainerPlan;
use super::progress;
use super::topology::{self, ExecFacts, Facts, Stage};
use super::Mode;
use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::hooks::{self, HookState, Kind};
use crate::namespaces::IdMaps;
use crate::state::{self, ContainerDir, State, Status};
use crate::sys::{self, ExitStatus, Forked, Pid};
use crate::{logging, namespaces, signals, spec, terminal};

/// A container whose init is set up and waiting (create) or running (run).
pub struct Launched {
    pub init: Pid,
    channel: ParentEnd,
    /// Holds the state directory's lock until rt is done with it (none for exec).
    dir: Option<ContainerDir>,
    /// `run` in the foreground: the signals rt forwards, read from here.
    signals: Option<OwnedFd>,
    /// What rt recorded of a new container (none for exec).
    pub recorded: Option<State>,
    /// The master of the process's pty, when rt relays its terminal.
    console: Option<OwnedFd>,
}

impl Launched {
    /// The parent's part is over: the process goes on alone.
    pub fn finish(self) {
        drop(self.channel);
        drop(self.dir);
    }

    /// Foreground `run` and `exec`: forward signals, reap, return the process's status; with a
    /// terminal, relay it (rt's own terminal in raw mode meanwhile, restored on every path).
    pub fn wait(self) -> Result<ExitStatus> {
        drop(self.dir);
        let sigfd = self.signals.ok_or_else(|| Error::msg("no signalfd"))?;
        if let Some(master) = self.console {
            let host = terminal::host_console();
            let raw = match host {
                Some(tty) => terminal::RawMode::enter(tty)?,
                None => None,
            };
            let [stdin, stdout, _] = crate::sys::tty::stdio();
            let io = terminal::RelayIo { input: stdin, output: stdout, console: host, signals: sigfd.as_fd() };
            let status = terminal::relay(master, self.init, &io);
            if let Some(r) = raw {
                r.restore()?;
            }
            return status;
        }
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

/// Undoes a launch that failed half-way, whatever step it reached.
struct Guard<'a> {
    dir: Option<ContainerDir>,
    cgroup: Option<&'a Cgroup>,
    init: Option<Pid>,
    intermediate: Option<Pid>,
    /// A container that failed is destroyed, and then its poststop hooks run, as for any
    /// other (runtime-spec's lifecycle, steps 12 and 13): (the hooks, the state they read).
    poststop: Option<(&'a hooks::Hooks, String)>,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let pids: Vec<Pid> = [self.intermediate, self.init].into_iter().flatten().collect();
        for &pid in &pids {
            let _ = sys::kill(pid, libc::SIGKILL);
        }
        // A frozen task acts on SIGKILL only once thawed (a create that failed because its
        // cgroup froze); the reaping is bounded all the same, should an ancestor hold it.
        if let Some(cg) = self.cgroup.filter(|cg| !pids.is_empty() && cg.would_freeze()) {
            let _ = cg.thaw();
        }
        for pid in pids {
            reap_within(pid, std::time::Duration::from_secs(5));
        }
        if let Some(cg) = self.cgroup {
            let _ = cg.destroy();
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
        if let Some((h, state)) = &self.poststop {
            for w in hooks::run_all(h, Kind::Poststop, state) {
                logging::warn(&w);
            }
        }
    }
}

/// waitpid, given up after `limit` (with a warning: the killed process is reaped by whoever
/// inherits it).
fn reap_within(pid: Pid, limit: std::time::Duration) {
    let end = std::time::Instant::now() + limit;
    while let Ok(None) = sys::waitpid(pid, libc::WNOHANG) {
        if std::time::Instant::now() > end {
            logging::warn(&format!("container process {pid} did not exit after SIGKILL within {limit:?}"));
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// What the topology is planned from.
fn facts(p: &ContainerPlan, mode: Mode) -> Facts {
    Facts {
        new: p.ns.new,
        joins: p.ns.joins.iter().map(|j| j.typ).collect(),
        v2_dir: p.cgroup.v2_dir().is_some(),
        v1_dirs: p.cgroup.needs_pid_writes(),
        create: mode == Mode::Create,
        hooks_before_pivot: p.hooks.before_pivot(),
        console_to_rt: p.process.terminal.is_some() && p.console_socket.is_none(),
        idmap_mounts: p.root.mounts.iter().any(|m| m.idmap.is_some()),
    }
}

/// Launches the planned container, its state kept under `state_root`.
pub fn launch(state_root: &Path, p: &ContainerPlan, mode: Mode) -> Result<Launched> {
    // From here on rt, and every copy of it the clones make until the user's execve, is not
    // dumpable: nothing in a container can open /proc/PID/exe, fds or memory of a process that
    // holds rt's binary (CVE-2019-5736), not even of a foreground `rt run` that outlives the
    // init's setup, or between a clone and the first thing the copy does. execve makes the
    // user's program dumpable again as usual.
    sys::prctl(libc::PR_SET_DUMPABLE, 0).ctx("prctl(PR_SET_DUMPABLE)")?;
    let topology = topology::plan(&facts(p, mode));
    let dir = ContainerDir::create(state_root, &p.id)?;
    let mut guard = Guard { dir: Some(dir), cgroup: None, init: None, intermediate: None, poststop: None };
    // The container is recorded (status `creating`, with its cgroup) before anything else of
    // it exists: an rt killed from here on leaves a record that `state`, `list` and `delete
    // --force` find. `record` completes it once the init is ready.
    let creating = creating_state(p);
    let (lock_fd, fifo) = {
        let d = guard.dir.as_ref().ok_or_else(|| Error::msg("state dir missing"))?;
        d.save(&creating)?;
        let fifo = match topology.start_by {
            topology::StartBy::Fifo => {
                sys::mkfifoat(d.fd.as_fd(), Path::new(state::EXEC_FIFO), 0o622).ctx("create exec.fifo")?;
                // 0622 whatever the umask: an init running as another user opens it for writing.
                sys::fchmodat(d.fd.as_fd(), Path::new(state::EXEC_FIFO), 0o622).ctx("chmod exec.fifo")?;
                Some(sys::openat(Some(d.fd.as_fd()), Path::new(state::EXEC_FIFO), libc::O_PATH, 0).ctx("open exec.fifo")?)
            }
            topology::StartBy::Go => None,
        };
        (d.fd.as_raw_fd(), fifo)
    };

    p.cgroup.create()?;
    guard.cgroup = Some(&p.cgroup);
    if !p.hooks.poststop.is_empty() {
        guard.poststop = Some((&p.hooks, stopped_state(p)));
    }
    for skipped in p.cgroup.ignored(&p.resources) {
        logging::warn(&format!("{skipped} is not supported on this host's cgroups: ignored"));
    }
    if p.rootless {
        p.cgroup.apply_rootless(&p.resources)?;
    } else {
        p.cgroup.apply(&p.resources)?;
    }
    let cgroup_fd = p.cgroup.clone_into_fd()?;
    if topology.time_namespace {
        namespaces::prepare_time_namespace(p.ns.time_offsets.as_deref().unwrap_or(""))?;
    }

    let console_to_rt = p.process.terminal.is_some() && p.console_socket.is_none();
    let signals = if mode == Mode::RunForeground { Some(forwarding_signalfd(console_to_rt)?) } else { None };
    // The shim or conmon listens there; the init sends the master on this connection.
    let console_sock = p.console_socket.as_deref().map(terminal::connect_console).transpose()?;
    // Only when something is written to /proc: the init's copy is closed after the writes.
    let host_proc = if p.writes_proc() { Some(open_host_proc()?) } else { None };

    let (init_rt, init_end) = channel::pair()?;
    let mid = topology.intermediate().map(|_| channel::pair()).transpose()?;
    let mut close = vec![lock_fd, init_rt.raw()];
    let console = match (&console_sock, p.process.terminal.is_some()) {
        (Some(sock), _) => Console::Socket(sock.as_raw_fd()),
        (None, true) => Console::ToRt,
        (None, false) => Console::None,
    };
    close.extend(
        [mid.as_ref().map(|(rt_end, _)| rt_end.raw()), signals.as_ref().map(|(fd, _)| fd.as_raw_fd()), cgroup_fd.as_ref().map(|f| f.as_raw_fd())]
            .into_iter()
            .flatten(),
    );
    let init_ctx = |close: Vec<i32>| InitContext {
        plan: p,
        step: topology.init(),
        channel: &init_end,
        start_by: topology.start_by,
        fifo: fifo.as_ref().map(|f| f.as_fd()),
        sigmask: signals.as_ref().map(|(_, old)| *old),
        close,
        host_proc: host_proc.as_ref().map(|f| f.as_raw_fd()),
        hooks_stage: topology.stages.contains(&Stage::Hooks),
        console,
        id_maps: topology.stages.contains(&Stage::IdMaps),
    };

    let first = &topology.processes[0];
    logging::debug(|| format!("create {}: {topology:?}", p.id));
    // An unprivileged rt (or newuidmap) can open the init's /proc files only while it is
    // dumpable: it is born so and stops being so as soon as its maps are written. Nothing of the
    // container exists yet that could use the window; rt itself is dumpable again only for the
    // clone.
    let born_dumpable = p.id_maps.is_some() && sys::effective_ids().0 != 0;
    if born_dumpable {
        sys::prctl(libc::PR_SET_DUMPABLE, 1).ctx("prctl(PR_SET_DUMPABLE)")?;
    }
    // Where the init gets to, for the error should it die without a word.
    progress::arm();
    let cloned = sys::clone3(first.clone_flags, if first.into_cgroup { cgroup_fd.as_ref().map(|f| f.as_fd()) } else { None }).ctx("clone");
    if born_dumpable && !matches!(cloned, Ok(Forked::Child)) {
        sys::prctl(libc::PR_SET_DUMPABLE, 0).ctx("prctl(PR_SET_DUMPABLE)")?;
    }
    let cloned = cloned?;
    match (cloned, &mid) {
        (Forked::Child, Some((_, mid_end))) => {
            let mut init_close = close.clone();
            init_close.push(mid_end.raw());
            child::intermediate(&IntermediateContext { step: first, channel: mid_end, close, init: init_ctx(init_close) })
        }
        (Forked::Child, None) => child::init(&init_ctx(close)),
        (Forked::Parent(pid), Some(_)) => guard.intermediate = Some(pid),
        (Forked::Parent(pid), None) => guard.init = Some(pid),
    }
    drop(init_end);
    drop(console_sock);
    let mut mid = mid.map(|(rt_end, child_end)| {
        drop(child_end);
        rt_end
    });
    // A child that cannot go on (its cgroup frozen) ends the waits on it; see `Watch`.
    let watch = |pid| Some(channel::Watch { cgroup: p.cgroup.clone(), pid });
    let mut init_rt = init_rt;
    init_rt.watch(watch(guard.init))?;
    if let Some(m) = mid.as_mut() {
        m.watch(watch(guard.intermediate))?;
    }

    let mut recorded = None;
    let mut master = None;
    for stage in &topology.stages {
        logging::debug(|| format!("create {}: {stage:?}", p.id));
        match stage {
            Stage::InitPid => {
                let pid = receive_init_pid(mid.as_ref(), &mut guard)?;
                init_rt.watch(watch(Some(pid)))?;
            }
            Stage::IdMaps => {
                let pid = guard.init.ok_or_else(|| Error::msg("no init"))?;
                if let Some(m) = &p.id_maps {
                    write_id_maps(pid, m)?;
                }
                let trees = idmapped_trees(p, pid)?;
                let raw: Vec<i32> = trees.iter().map(|t| t.as_raw_fd()).collect();
                init_rt.send_fds(&ToChild::Mapped, &raw)?;
            }
            Stage::Place => {
                let pid = guard.init.ok_or_else(|| Error::msg("no init"))?;
                p.cgroup.add_pid(pid, cgroup_fd.is_some())?;
                init_rt.send(&ToChild::Placed)?;
            }
            Stage::Hooks => {
                let pid = guard.init.ok_or_else(|| Error::msg("no init"))?;
                match init_rt.recv()? {
                    Some((FromChild::Mounted, _)) => {}
                    Some((FromChild::Failed { step, error }, _)) => return Err(child_error(step, error)),
                    _ => {
                        let status = guard.init.take().and_then(|pid| sys::waitpid(pid, 0).ok().flatten()).map(|(_, s)| s);
                        return Err(Error::msg(format!("unable to start container process: {}", died(status, progress::get().words()))));
                    }
                }
                let state = hook_state(p, Kind::Prestart, pid);
                hooks::run(&p.hooks, Kind::Prestart, &state)?;
                hooks::run(&p.hooks, Kind::CreateRuntime, &state)?;
                init_rt.send(&ToChild::Hooks { state })?;
            }
            Stage::Console => master = Some(receive_console(&init_rt)?),
            Stage::Ready => match init_rt.recv()? {
                Some((FromChild::Ready, fds)) => {
                    let pid = guard.init.ok_or_else(|| Error::msg("no init"))?;
                    pass_listener(&p.process, fds, pid, &hook_state(p, Kind::Prestart, pid))?;
                }
                Some((FromChild::Failed { step, error }, _)) => return Err(child_error(step, error)),
                Some((m, _)) => return Err(Error::msg(format!("unable to start container process: unexpected {m:?}"))),
                None => {
                    let pid = guard.init.take().ok_or_else(|| Error::msg("no init"))?;
                    let status = sys::waitpid(pid, 0).ok().flatten().map(|(_, s)| s);
                    return Err(Error::msg(format!("unable to start container process: {}", died(status, progress::get().words()))));
                }
            },
            Stage::Go => {
                let pid = guard.init.ok_or_else(|| Error::msg("no init"))?;
                let dir = guard.dir.as_ref().ok_or_else(|| Error::msg("state dir missing"))?;
                recorded = Some(record(&creating, p, dir, pid)?);
                if let Some(sock) = &p.pidfd_socket {
                    send_pidfd(sock, pid)?;
                }
                let state = (!p.hooks.start_container.is_empty()).then(|| hook_state(p, Kind::StartContainer, pid));
                // Recorded: from here a frozen cgroup is someone's `pause`.
                init_rt.watch(None)?;
                init_rt.send(&ToChild::Go { state })?;
            }
            Stage::Exec => match init_rt.recv()? {
                // a startContainer hook: the container does not start
                Some((FromChild::Failed { step: Step::Start, error }, _)) => return Err(error),
                // the program could not be executed: the container's exit code says 255
                Some((FromChild::Failed { error, .. }, _)) => logging::error(&error.to_string()),
                // the init's end closes on a successful execve
                _ => {}
            },
        }
    }

    let st = recorded.ok_or_else(|| Error::msg("the topology has no Go stage"))?;
    let dir = guard.dir.take().ok_or_else(|| Error::msg("state dir missing"))?;
    guard.cgroup = None;
    guard.init = None;
    guard.poststop = None;
    Ok(Launched { init: st.pid, channel: init_rt, dir: Some(dir), signals: signals.map(|(fd, _)| fd), recorded: Some(st), console: master })
}

/// `exec`: the planned process cloned into the container's cgroup and namespaces; returns
/// once it runs the user's program (or its failure to). `detach`: nobody waits for it.
pub fn launch_exec(p: &ExecPlan, detach: bool) -> Result<Launched> {
    // As for create: no copy of rt in the container is ever dumpable.
    sys::prctl(libc::PR_SET_DUMPABLE, 0).ctx("prctl(PR_SET_DUMPABLE)")?;
    let topology = topology::plan_exec(&ExecFacts {
        joins: p.ns.joins.iter().map(|j| j.typ).collect(),
        v2_dir: p.cgroup.v2_dir().is_some(),
        v1_dirs: p.cgroup.needs_pid_writes(),
        console_to_rt: p.process.terminal.is_some() && p.console_socket.is_none(),
        rt_privileged: sys::effective_ids().0 == 0,
    });
    let step = topology.init();
    let first = &topology.processes[0];
    let cgroup_fd = if first.into_cgroup { p.cgroup.clone_into_fd()? } else { None };
    let console_to_rt = p.process.terminal.is_some() && p.console_socket.is_none();
    let signals = if detach { None } else { Some(forwarding_signalfd(console_to_rt)?) };
    let console_sock = p.console_socket.as_deref().map(terminal::connect_console).transpose()?;
    let console = match (&console_sock, p.process.terminal.is_some()) {
        (Some(sock), _) => Console::Socket(sock.as_raw_fd()),
        (None, true) => Console::ToRt,
        (None, false) => Console::None,
    };
    let host_proc = if p.process.oom_score_adj.is_some() { Some(open_host_proc()?) } else { None };
    let (rt_end, child_end) = channel::pair()?;
    let mid = topology.intermediate().map(|_| channel::pair()).transpose()?;
    let mut close: Vec<i32> =
        [Some(rt_end.raw()), signals.as_ref().map(|(fd, _)| fd.as_raw_fd()), cgroup_fd.as_ref().map(|f| f.as_raw_fd())].into_iter().flatten().collect();
    close.extend(mid.as_ref().map(|(rt_mid, _)| rt_mid.raw()));
    // Where rt's children are born; rt itself stays where it is.
    p.ns.enter(&topology.parent_joins)?;
    logging::debug(|| format!("exec {}: {topology:?}", p.id));
    let ctx = |close: Vec<i32>| ExecContext {
        plan: p,
        step,
        channel: &child_end,
        sigmask: signals.as_ref().map(|(_, old)| *old),
        close,
        host_proc: host_proc.as_ref().map(|f| f.as_raw_fd()),
        console,
    };
    let mut guard = Guard { dir: None, cgroup: None, init: None, intermediate: None, poststop: None };
    match (sys::clone3(first.clone_flags, cgroup_fd.as_ref().map(|f| f.as_fd())).ctx("clone")?, &mid) {
        (Forked::Child, Some((_, mid_end))) => {
            let mut inner = close.clone();
            inner.push(mid_end.raw());
            child::exec_intermediate(first, mid_end, &p.ns, close, &ctx(inner))
        }
        (Forked::Child, None) => child::exec_process(&ctx(close)),
        (Forked::Parent(pid), Some(_)) => guard.intermediate = Some(pid),
        (Forked::Parent(pid), None) => guard.init = Some(pid),
    }
    drop(child_end);
    drop(console_sock);
    let mid = mid.map(|(rt_mid, child_mid)| {
        drop(child_mid);
        rt_mid
    });
    let mut master = None;
    let mut pid = guard.init.unwrap_or(0);
    for stage in &topology.stages {
        logging::debug(|| format!("exec {}: {stage:?}", p.id));
        match stage {
            Stage::InitPid => pid = receive_init_pid(mid.as_ref(), &mut guard)?,
            Stage::Console => master = Some(receive_console(&rt_end)?),
            Stage::Ready => match rt_end.recv()? {
                Some((FromChild::Ready, fds)) => pass_listener(&p.process, fds, pid, &p.container_state)?,
                Some((FromChild::Failed { step, error }, _)) => return Err(child_error(step, error)),
                Some((m, _)) => return Err(Error::msg(format!("unable to start container process: unexpected {m:?}"))),
                None => {
                    guard.init = None;
                    let status = sys::waitpid(pid, 0).ok().flatten().map(|(_, s)| s);
                    return Err(Error::msg(format!("unable to start container process: {}", died(status, "joining the container"))));
                }
            },
            Stage::Go => {
                if let Some(pf) = &p.pid_file {
                    write_pid_file(pf, pid)?;
                }
                if let Some(sock) = &p.pidfd_socket {
                    send_pidfd(sock, pid)?;
                }
                rt_end.send(&ToChild::Go { state: None })?;
            }
            Stage::Exec => {
                if let Some((FromChild::Failed { step, error }, _)) = rt_end.recv()? {
                    guard.init = None;
                    let _ = sys::waitpid(pid, 0);
                    return Err(child_error(step, error));
                }
            }
            Stage::IdMaps | Stage::Place | Stage::Hooks => return Err(Error::msg(format!("exec has no {stage:?} stage"))),
        }
    }
    guard.init = None;
    Ok(Launched { init: pid, channel: rt_end, dir: None, signals: signals.map(|(fd, _)| fd), recorded: None, console: master })
}

/// The master of the child's pty, sent back at the `Console` stage; made not to turn "\n" into
/// "\r\n" (runc's setting) before the program can write anything.
fn receive_console(ch: &ParentEnd) -> Result<OwnedFd> {
    match ch.recv()? {
        Some((FromChild::Console, mut fds)) if fds.len() == 1 => {
            let master = fds.remove(0);
            terminal::clear_onlcr(master.as_fd())?;
            Ok(master)
        }
        Some((FromChild::Failed { step, error }, _)) => Err(child_error(step, error)),
        _ => Err(Error::msg(format!("unable to start container process: {}", died(None, "setting up its terminal")))),
    }
}

/// The signals `run` and `exec` pass on, and SIGCHLD, blocked and readable from a signalfd;
/// with the mask they replaced, which the child restores.
fn forwarding_signalfd(terminal: bool) -> Result<(OwnedFd, libc::sigset_t)> {
    let mut set = if terminal { terminal::relay_signals() } else { signals::forwarded() };
    set.push(libc::SIGCHLD);
    let set = sys::sigset(&set);
    let old = sys::sigprocmask(libc::SIG_BLOCK, &set).ctx("block signals")?;
    Ok((sys::signalfd(&set).ctx("signalfd")?, old))
}

/// A seccomp notify listener that came with `Ready` goes to the agent at `listenerPath`, with
/// runtime-spec's container process state (`pid`: the new process, `state`: its container's).
fn pass_listener(process: &crate::process::ProcessPlan, fds: Vec<OwnedFd>, pid: Pid, container_state: &str) -> Result<()> {
    let (Some(sc), Some(fd)) = (&process.seccomp, fds.first()) else { return Ok(()) };
    let Some(l) = &sc.listener else { return Ok(()) };
    let state: serde_json::Value = serde_json::from_str(container_state).unwrap_or_default();
    let json = crate::seccomp::process_state_json(pid, l.metadata.as_deref(), &state)?;
    crate::seccomp::send_listener(&l.path, &json, fd.as_fd())
}

/// The idmapped mounts' trees, made by rt (idmapping a mount takes privileges over the
/// filesystem, which the init in its user namespace has not): each source cloned detached and
/// given the idmap of the container's user namespace, or of one made for the mount's own
/// mappings; the init attaches them where they go.
fn idmapped_trees(p: &ContainerPlan, init: Pid) -> Result<Vec<OwnedFd>> {
    let mut trees = Vec::new();
    let mut own: Option<OwnedFd> = None;
    for m in p.root.mounts.iter().filter(|m| m.idmap.is_some()) {
        let (Some(idmap), crate::rootfs::mounts::MountKind::Bind { source }) = (&m.idmap, &m.kind) else { continue };
        let userns = match &idmap.maps {
            Some(maps) => userns_with(maps).map_err(|e| e.prefixed(format!("{}: make a user namespace of its mappings", m.field())))?,
            None => match &own {
                Some(fd) => fd.try_clone().ctx("dup")?,
                None => {
                    let fd = sys::open(Path::new(&format!("/proc/{init}/ns/user")), libc::O_RDONLY, 0).ctx("open the container's user namespace")?;
                    own = Some(fd.try_clone().ctx("dup")?);
                    fd
                }
            },
        };
        let tree = sys::open_tree(None, source, true, idmap.recursive || m.opts.flags & libc::MS_REC != 0)
            .with_ctx(|| format!("{}: bind {}", m.field(), source.display()))?;
        let attr = sys::MountAttr { attr_set: sys::MOUNT_ATTR_IDMAP, userns_fd: userns.as_raw_fd() as u64, ..Default::default() };
        sys::mount_setattr(tree.as_fd(), idmap.recursive, &attr).with_ctx(|| format!("{}: idmap {}", m.field(), source.display()))?;
        trees.push(tree);
    }
    Ok(trees)
}

/// A user namespace with these maps, for an idmapped mount: a child of rt is cloned into a new
/// one, rt writes its maps and keeps a handle of it, and the child ends.
fn userns_with(maps: &IdMaps) -> Result<OwnedFd> {
    let (hold, release) = sys::pipe().ctx("pipe")?;
    match sys::clone3(libc::CLONE_NEWUSER as u64, None).ctx("clone")? {
        Forked::Child => {
            drop(release);
            // waits until rt has what it needs, then goes
            let _ = sys::read(hold.as_fd(), &mut [0u8; 1]);
            sys::exit_now(0)
        }
        Forked::Parent(pid) => {
            drop(hold);
            let made =
                write_id_maps(pid, maps).and_then(|()| sys::open(Path::new(&format!("/proc/{pid}/ns/user")), libc::O_RDONLY, 0).ctx("open its user namespace"));
            drop(release);
            let _ = sys::waitpid(pid, 0);
            made
        }
    }
}

/// The maps of the init's new user namespace, written by rt from the parent namespace (as
/// root it may map any range; the init waits meanwhile). As root, gid_map is written with
/// setgroups left allowed. An unprivileged rt may map only its own uid and gid, one line each,
/// and its gid only after setgroups is "deny"; anything more goes through Debian's setuid
/// newuidmap and newgidmap, which check the ranges against /etc/subuid and /etc/subgid.
fn write_id_maps(pid: Pid, m: &IdMaps) -> Result<()> {
    let (uid, gid) = sys::effective_ids();
    if uid != 0 {
        let own = |map: &[crate::namespaces::IdMap], id: u32| map.len() == 1 && map[0].host == id && map[0].size == 1;
        if !(own(&m.uid, uid) && own(&m.gid, gid)) {
            return map_with_helpers(pid, m);
        }
        let path = format!("/proc/{pid}/setgroups");
        let f = sys::open(Path::new(&path), libc::O_WRONLY, 0).with_ctx(|| format!("linux.gidMappings: open {path}"))?;
        sys::write_all(f.as_fd(), b"deny").with_ctx(|| format!("linux.gidMappings: write {path}"))?;
    }
    for (file, map, field) in [("uid_map", &m.uid, "linux.uidMappings"), ("gid_map", &m.gid, "linux.gidMappings")] {
        let path = format!("/proc/{pid}/{file}");
        let f = sys::open(Path::new(&path), libc::O_WRONLY, 0).with_ctx(|| format!("{field}: open {path}"))?;
        // one write: the kernel takes a map whole, once
        sys::write_all(f.as_fd(), IdMaps::text(map).as_bytes()).with_ctx(|| format!("{field}: write {path}"))?;
    }
    Ok(())
}

/// `newuidmap PID C H S ...` and `newgidmap PID C H S ...` (package uidmap).
fn map_with_helpers(pid: Pid, m: &IdMaps) -> Result<()> {
    for (helper, map, field) in [("newuidmap", &m.uid, "linux.uidMappings"), ("newgidmap", &m.gid, "linux.gidMappings")] {
        let mut args = vec![pid.to_string()];
        for l in map {
            args.extend([l.container.to_string(), l.host.to_string(), l.size.to_string()]);
        }
        let out = std::process::Command::new(helper)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::spec(field, format!("more than the own id takes {helper} (Debian's uidmap): {}", sys::errno_text(&e))))?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            return Err(Error::spec(field, format!("{helper} {}: {}", args.join(" "), said.trim())));
        }
    }
    Ok(())
}

/// What the poststop hooks of a container that failed to be created read.
fn stopped_state(p: &ContainerPlan) -> String {
    HookState { oci_version: spec::OCI_VERSION, id: &p.id, status: Kind::Poststop.status(), pid: None, bundle: &p.bundle, annotations: &p.annotations }.json()
}

/// What a hook of `kind` reads on stdin about this container.
fn hook_state(p: &ContainerPlan, kind: Kind, pid: Pid) -> String {
    HookState { oci_version: spec::OCI_VERSION, id: &p.id, status: kind.status(), pid: Some(pid), bundle: &p.bundle, annotations: &p.annotations }.json()
}

/// The record `create` makes first: status `creating`, no init yet.
fn creating_state(p: &ContainerPlan) -> State {
    State {
        state_version: state::STATE_VERSION,
        oci_version: spec::OCI_VERSION.to_owned(),
        id: p.id.clone(),
        pid: 0,
        status: Status::Creating,
        bundle: p.bundle.clone(),
        rootfs: p.rootfs.clone(),
        created: logging::rfc3339(SystemTime::now(), true),
        annotations: p.annotations.clone(),
        owner: String::new(),
        init_start_time: 0,
        cgroup: p.cgroup.clone(),
        own_pid_ns: p.ns.creates(LinuxNamespaceType::Pid),
        no_new_keyring: p.process.session_keyring.is_none(),
        hooks: p.hooks.after_create(),
        pid_file: p.pid_file.as_deref().and_then(|f| std::path::absolute(f).ok()),
        init_exe: state::own_exe(),
    }
}

/// state.json and the pid file, once the init is ready: from here on, the container exists.
fn record(creating: &State, p: &ContainerPlan, dir: &ContainerDir, init: Pid) -> Result<State> {
    let start_time = state::proc_stat(init)
        .map(|s| s.start_time)
        .ok_or_else(|| Error::msg("unable to start container process: container init went away before it was recorded"))?;
    let st = State { pid: init, init_start_time: start_time, status: Status::Created, ..creating.clone() };
    dir.save(&st)?;
    if let Some(pf) = &p.pid_file {
        write_pid_file(pf, init)?;
    }
    Ok(st)
}

/// The host's /proc, checked to be a procfs root and not something mounted in its place.
fn open_host_proc() -> Result<OwnedFd> {
    sys::open_proc_root().ctx("open /proc")?.ok_or_else(|| Error::msg("/proc is not a procfs root"))
}

/// A failure a child reported, with runc's wording in front; its kind stays.
/// The pid the intermediate cloned (the init, or exec's process), recorded in the guard; the
/// intermediate, which exits then, is reaped.
fn receive_init_pid(mid: Option<&ParentEnd>, guard: &mut Guard) -> Result<i32> {
    let ch = mid.ok_or_else(|| Error::msg("no intermediate"))?;
    let pid = match ch.recv()? {
        Some((FromChild::InitPid(pid), _)) => pid,
        Some((FromChild::Failed { step, error }, _)) => return Err(child_error(step, error)),
        _ => return Err(Error::msg("unable to start container process: the intermediate process died")),
    };
    guard.init = Some(pid);
    if let Some(mid_pid) = guard.intermediate.take() {
        let _ = sys::waitpid(mid_pid, 0);
    }
    Ok(pid)
}

fn child_error(step: Step, error: Error) -> Error {
    logging::debug(|| format!("child failed at {step:?}: {error:?}"));
    error.prefixed("unable to start container process")
}

/// Why a child went away without a word.
fn died(status: Option<ExitStatus>, doing: &str) -> String {
    match status {
        Some(ExitStatus::Signaled(n)) => format!("container init was killed by signal {n} ({}) while {doing}", signals::name(n)),
        Some(ExitStatus::Exited(c)) => format!("container init exited with code {c} while {doing}"),
        None => format!("container init went away while {doing}"),
    }
}

/// `--pidfd-socket` (runc 1.2): a pidfd of the new process, sent with `SCM_RIGHTS` over a
/// connection to the AF_UNIX stream socket there, as go-runc receives it.
fn send_pidfd(path: &Path, pid: Pid) -> Result<()> {
    let what = || format!("--pidfd-socket {}", path.display());
    let pidfd = sys::pidfd_open(pid).with_ctx(|| format!("{}: pidfd_open", what()))?;
    let sock = crate::sys::tty::connect_unix(path).with_ctx(|| format!("{}: connect", what()))?;
    sys::send_with_fds(sock.as_fd(), b"pidfd", &[pidfd.as_raw_fd()]).with_ctx(|| format!("{}: send", what()))
}

/// The pid, no newline, written beside the target and renamed over it (as runc does).
pub fn write_pid_file(path: &Path, pid: Pid) -> Result<()> {
    use std::io::Write;
    let path = std::path::absolute(path).with_ctx(|| format!("--pid-file {}", path.display()))?;
    let name = path.file_name().ok_or_else(|| Error::msg(format!("--pid-file {}: not a file name", path.display())))?;
    let tmp = path.with_file_name(format!(".{}", name.to_string_lossy()));
    let mut f = std::fs::File::options().write(true).create(true).truncate(true).open(&tmp).with_ctx(|| format!("--pid-file: create {}", tmp.display()))?;
    let written = f
        .write_all(pid.to_string().as_bytes())
        .with_ctx(|| format!("--pid-file: write {}", tmp.display()))
        .and_then(|()| std::fs::rename(&tmp, &path).with_ctx(|| format!("--pid-file: rename to {}", path.display())));
    // A failed write or rename (ENOSPC, EIO) leaves no temporary file beside the pid file:
    // nothing of a failed create may stay, and delete --force would not know of it.
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_file_that_cannot_be_renamed_leaves_no_temporary() {
        let d = std::env::temp_dir().join(format!("rt-pidfile-{}", std::process::id()));
        let target = d.join("pid");
        // a non-empty directory where the pid file goes: the rename fails (EISDIR/ENOTEMPTY)
        std::fs::create_dir_all(target.join("x")).unwrap();
        let e = write_pid_file(&target, 42).unwrap_err();
        assert!(e.to_string().contains("--pid-file: rename to"), "{e}");
        assert!(!d.join(".pid").exists(), "the temporary pid file stayed");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn deaths_are_told_in_words() {
        assert_eq!(died(Some(ExitStatus::Signaled(9)), "x"), "container init was killed by signal 9 (SIGKILL) while x");
        assert_eq!(died(Some(ExitStatus::Exited(3)), "x"), "container init exited with code 3 while x");
    }
}
