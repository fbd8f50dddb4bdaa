//! The processes rt clones, from the clone to the execve of the user's process. They run in a
//! copy of rt (no re-exec), so their plans are already in memory; each follows its entry of
//! the topology and reports to rt over its own channel, a failure as the typed error it is.
//!
//! The init's order (runc's, with everything that touches /proc done before pivot_root through
//! the host's /proc): placement in the cgroups → namespaces → hostname, loopback, sysctl,
//! oom_score_adj → rootfs → rlimits, personality, scheduler/ioPriority/memoryPolicy, keyring,
//! user, capabilities, no_new_privs, cwd → executable lookup → `Ready` → `Go` → exec.fifo
//! (`create`) → execve.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use oci_spec::runtime::LinuxNamespaceType;

use super::channel::{ChildEnd, FromChild, Step, ToChild};
use super::exec::ExecPlan;
use super::plan::ContainerPlan;
use super::progress::{self, Doing};
use super::topology::{Placement, ProcessStep, StartBy};
use crate::error::{Context, Error, Prefix, Result};
use crate::hooks::{self, Kind};
use crate::process::{self, Executable};
use crate::sys::{self, Forked};
use crate::{rootfs, terminal};

/// What the init works from.
pub struct InitContext<'a> {
    pub plan: &'a ContainerPlan,
    /// The init's entry of the topology.
    pub step: &'a ProcessStep,
    pub channel: &'a ChildEnd,
    pub start_by: StartBy,
    /// `create`: an `O_PATH` handle of exec.fifo (not of the state directory: nothing of the
    /// host's tree stays open in a parked container).
    pub fifo: Option<BorrowedFd<'a>>,
    /// The signal mask to restore (rt blocked signals to forward them in `run`).
    pub sigmask: Option<libc::sigset_t>,
    /// rt's own fds the clone copied: the state directory's lock (held while it is open
    /// anywhere), rt's ends of the channels (a child would never see rt go away), the
    /// signalfd, the cgroup directory of CLONE_INTO_CGROUP, the intermediate's channel.
    pub close: Vec<RawFd>,
    /// The host's procfs, opened by rt before any namespace was joined and checked to be a
    /// procfs root: sysctl and oom_score_adj are written through it, never through a /proc
    /// that a joined mount namespace could have redirected (CVE-2025-52881). Closed after use.
    pub host_proc: Option<RawFd>,
    /// The topology has the `Hooks` stage: stop before pivot_root for rt's hooks, then run the
    /// createContainer ones.
    pub hooks_stage: bool,
    /// Where the master of the process's pty goes, with `process.terminal`.
    pub console: Console,
    /// The topology has the `IdMaps` stage: the init waits for its maps before anything.
    pub id_maps: bool,
}

/// Where a terminal's master goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// No terminal asked for.
    None,
    /// The `--console-socket` connection rt made before the clone.
    Socket(RawFd),
    /// Back to rt over the channel (`Console` stage), which relays.
    ToRt,
}

/// What the intermediate works from.
pub struct IntermediateContext<'a> {
    pub step: &'a ProcessStep,
    pub channel: &'a ChildEnd,
    /// As the init's, less this channel (which the init closes).
    pub close: Vec<RawFd>,
    pub init: InitContext<'a>,
}

/// The process between rt and the init, for joins that only affect children (pid, time): it
/// enters the namespaces, clones the init as rt's child, reports its pid and exits.
pub fn intermediate(c: &IntermediateContext) -> ! {
    close_fds(&c.close);
    let result = (|| -> Result<()> {
        c.init.plan.ns.enter(&c.step.joins)?;
        match sys::clone3(c.init.step.clone_flags | libc::CLONE_PARENT as u64, None).ctx("clone init")? {
            Forked::Child => init(&c.init),
            Forked::Parent(pid) => c.channel.send(&FromChild::InitPid(pid)),
        }
    })();
    if let Err(e) = result {
        c.channel.fail(Step::Intermediate, e);
        sys::exit_now(1);
    }
    sys::exit_now(0)
}

/// The init's whole life. Never returns.
pub fn init(c: &InitContext) -> ! {
    close_fds(&c.close);
    let Prepared { exe, env, fifo_proc, listener } = match setup(c) {
        Ok(r) => r,
        Err(e) => {
            c.channel.fail(Step::Setup, e);
            sys::exit_now(1);
        }
    };
    progress::set(Doing::Ready);
    if ready(c.channel, listener).is_err() {
        sys::exit_now(1);
    }
    let go = c.channel.expect_with("Go", |m| match m {
        ToChild::Go { state } => Some(state),
        _ => None,
    });
    progress::set(Doing::WaitingForStart);
    // Held open until execve closes it: `start` sees its end close once the program runs.
    let _fifo = match go.and_then(|state| wait_for_start(c, fifo_proc, state.as_deref())) {
        Ok(f) => f,
        Err(e) => {
            c.channel.fail(Step::Start, e);
            sys::exit_now(1);
        }
    };
    progress::set(Doing::Exec);
    let e = process::exec(&exe, &c.plan.process, &env);
    // runc's words on the container's own stderr, and for `run` to rt as well.
    eprintln!("{e}");
    c.channel.fail(Step::Exec, e);
    sys::exit_now(255)
}

/// `process.terminal`: a pty of the container's devpts becomes the process's stdio and
/// controlling terminal (and, for the init, `/dev/console`); its master goes to the console
/// socket or to rt. Done while the process still has its privileges (the slave is chowned to
/// its user, the console bound).
fn set_up_terminal(proc_: &process::ProcessPlan, console: Console, channel: &ChildEnd, init: bool) -> Result<()> {
    let Some(size) = proc_.terminal else { return Ok(()) };
    let pty = terminal::open_pty(size, proc_.uid)?;
    if init {
        terminal::bind_console(pty.slave.as_fd())?;
    }
    match console {
        Console::Socket(fd) => {
            // SAFETY: rt connected this socket for the process and nothing else here uses it;
            // it is closed right after.
            let sock = unsafe { BorrowedFd::borrow_raw(fd) };
            let sent = terminal::send_console(sock, pty.master.as_fd(), terminal::PTMX);
            sys::close_inherited(fd);
            sent?;
        }
        Console::ToRt => channel.send_fds(&FromChild::Console, &[std::os::fd::AsRawFd::as_raw_fd(&pty.master)])?,
        Console::None => return Err(Error::spec("process.terminal", "no console socket to send the terminal to")),
    }
    drop(pty.master);
    terminal::make_controlling(pty.slave)
}

/// `Ready`, with the seccomp notify listener for rt to pass on, if there is one.
fn ready(channel: &ChildEnd, listener: Option<OwnedFd>) -> Result<()> {
    match listener {
        Some(fd) => channel.send_fds(&FromChild::Ready, &[std::os::fd::AsRawFd::as_raw_fd(&fd)]),
        None => channel.send(&FromChild::Ready),
    }
}

fn close_fds(fds: &[RawFd]) {
    for &fd in fds {
        sys::close_inherited(fd);
    }
}

/// Everything up to the point of no return. Gives the checked executable and the final
/// environment; with `create`, also a procfs handle through which exec.fifo is reopened for
/// writing (taken now, while the init still has the privileges to mount a procfs of its own).
fn setup(c: &InitContext) -> Result<Prepared> {
    let p = c.plan;
    progress::set(Doing::Starting);
    if let Some(mask) = &c.sigmask {
        sys::sigprocmask(libc::SIG_SETMASK, mask).ctx("restore signal mask")?;
    }
    // Born dumpable when an unprivileged rt writes the maps (see parent.rs); no longer.
    let unprivileged_maps = c.id_maps && sys::effective_ids().0 != 0 && p.id_maps.is_some();
    // with the maps, the idmapped trees rt made for the idmapped mounts
    let idmapped = if c.id_maps { c.channel.expect_fds(ToChild::Mapped)? } else { vec![] };
    if unprivileged_maps {
        sys::prctl(libc::PR_SET_DUMPABLE, 0).ctx("prctl(PR_SET_DUMPABLE)")?;
    }
    if p.ns.has(LinuxNamespaceType::User) {
        // Root of its user namespace from here on (created or joined, it was nobody there).
        sys::setresgid(0).ctx("linux.gidMappings: become the container's root group")?;
        sys::setresuid(0).ctx("linux.uidMappings: become the container's root")?;
    }
    match c.step.placement {
        Placement::None => {}
        Placement::SelfWrite => p.cgroup.place_self()?,
        Placement::ByRt => c.channel.expect(ToChild::Placed)?,
    }
    if c.step.unshare_after_placement != 0 {
        sys::unshare(c.step.unshare_after_placement as i32).ctx("linux.namespaces: unshare cgroup namespace")?;
    }
    progress::set(Doing::Namespaces);
    p.ns.enter(&c.step.joins)?;
    // Nodes and directories rt makes get exactly the modes the config asks for.
    sys::umask(0);

    if p.ns.creates(LinuxNamespaceType::Network) {
        sys::loopback_up().ctx("linux.namespaces (network): bring up lo")?;
    }
    progress::set(Doing::Sysctls);
    if let Some(h) = &p.hostname {
        sys::sethostname(h).ctx("hostname: sethostname")?;
    }
    if let Some(d) = &p.domainname {
        sys::setdomainname(d).ctx("domainname: setdomainname")?;
    }
    if let Some(raw) = c.host_proc {
        // SAFETY: rt opened this fd for the init and nothing else in this process uses it; it
        // is closed right below.
        let proc_ = unsafe { BorrowedFd::borrow_raw(raw) };
        let written = write_sysctls(&p.sysctls, proc_).and_then(|()| match p.process.oom_score_adj {
            Some(v) => process::write_oom_score_adj(proc_, v),
            None => Ok(()),
        });
        sys::close_inherited(raw);
        written?;
    }

    if p.ns.has(LinuxNamespaceType::Mount) {
        progress::set(Doing::Root);
        rootfs::build(&p.root, idmapped)?;
        if c.hooks_stage {
            progress::set(Doing::CreateContainerHooks);
            c.channel.send(&FromChild::Mounted)?;
            let state = c.channel.expect_with("Hooks", |m| match m {
                ToChild::Hooks { state } => Some(state),
                _ => None,
            })?;
            hooks::run(&p.hooks, Kind::CreateContainer, &state)?;
        }
        progress::set(Doing::PivotRoot);
        rootfs::switch(&p.root)?;
    } else {
        progress::set(Doing::PivotRoot);
        rootfs::enter_without_mount_namespace(&p.root)?;
    }
    progress::set(Doing::Terminal);
    set_up_terminal(&p.process, c.console, c.channel, true)?;

    // A container without a /proc of its own needs a private procfs to reopen exec.fifo: it
    // has to be mounted now, before the capabilities go.
    let fifo_proc = match c.start_by {
        StartBy::Fifo if container_procfs().is_none() => Some(sys::detached_procfs().ctx("mount a private procfs")?),
        _ => None,
    };
    progress::set(Doing::Process);
    let (exe, env, listener) = become_process(&p.process)?;
    Ok(Prepared { exe, env, fifo_proc, listener })
}

/// What the init's setup leaves for its last steps.
struct Prepared {
    exe: Executable,
    env: Vec<String>,
    /// A procfs of its own to reopen exec.fifo through, where the container has none.
    fifo_proc: Option<OwnedFd>,
    /// The seccomp notify listener, for rt.
    listener: Option<OwnedFd>,
}

/// The part of the setup that is the process's own, the same for the init and an exec'd
/// process, once it is in the container's namespaces and root: rlimits, personality,
/// scheduling, keyring, user and capabilities, no_new_privs, cwd, and the executable, looked up
/// and checked. Gives it with the final environment.
///
/// The seccomp filter goes on as late as it can: without no_new_privs it needs CAP_SYS_ADMIN,
/// so before the user switch; with it, right before execve (see `process::exec`), unless a rule
/// notifies: then before `Ready`, whose message takes the listener to rt.
fn become_process(proc_: &process::ProcessPlan) -> Result<(Executable, Vec<String>, Option<OwnedFd>)> {
    if proc_.create_cwd {
        process::create_cwd(&proc_.cwd)?;
    }
    process::apply_rlimits(&proc_.rlimits)?;
    if let Some(pers) = proc_.personality {
        sys::personality(pers).ctx("linux.personality")?;
    }
    proc_.scheduling.apply()?;
    if let Some(name) = &proc_.session_keyring {
        process::join_keyring(name)?;
    }
    let mut env = proc_.env.clone();
    process::finish_env(&mut env, proc_.uid);
    let rename_dir = process::rename_dir();
    let install = |sc: &crate::seccomp::SeccompPlan| sc.install().ctx("linux.seccomp: load the filter");
    let mut listener = None;
    if let Some(sc) = proc_.seccomp.as_ref().filter(|_| !proc_.no_new_privileges) {
        listener = install(sc)?;
    }
    // runc's order: the cwd is entered while the process still has root's access (a 0700
    // /root for uid 42 works), and again as the user only if that was refused (a directory
    // that only the user may enter, on a volume chowned to it).
    let entered = match sys::chdir(&proc_.cwd) {
        Ok(()) => true,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => false,
        Err(e) => return Err(e).with_ctx(|| format!("process.cwd: chdir to {}", proc_.cwd.display())),
    };
    process::switch_user(proc_)?;
    if proc_.no_new_privileges {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1).ctx("process.noNewPrivileges")?;
    }
    if entered {
        process::check_cwd(&proc_.cwd)?;
    } else {
        process::enter_cwd(&proc_.cwd)?;
    }
    let path = process::lookup(&proc_.args[0], &env).prefix(|| "process.args[0]")?;
    let exe = process::open_executable(&path, &proc_.args, proc_.rt_binary).prefix(|| "process.args[0]")?.with_rename_dir(rename_dir);
    sys::umask(proc_.umask);
    if let Some(sc) = proc_.seccomp.as_ref().filter(|sc| proc_.no_new_privileges && sc.listener.is_some()) {
        listener = install(sc)?;
    }
    Ok((exe, env, listener))
}

/// What an exec'd process works from.
pub struct ExecContext<'a> {
    pub plan: &'a ExecPlan,
    pub step: &'a ProcessStep,
    pub channel: &'a ChildEnd,
    pub sigmask: Option<libc::sigset_t>,
    pub close: Vec<RawFd>,
    /// As the init's: for `process.oomScoreAdj`.
    pub host_proc: Option<RawFd>,
    pub console: Console,
}

/// exec's intermediate (an unprivileged rt): joins the init's namespaces, user first, then
/// clones the process (as rt's child), which is then in its pid namespace too.
pub fn exec_intermediate(step: &ProcessStep, channel: &ChildEnd, ns: &crate::namespaces::NamespacePlan, close: Vec<RawFd>, process: &ExecContext) -> ! {
    close_fds(&close);
    let result = (|| -> Result<()> {
        if step.placement == Placement::SelfWrite {
            process.plan.cgroup.place_self()?;
        }
        ns.enter(&step.joins)?;
        match sys::clone3(libc::CLONE_PARENT as u64, None).ctx("clone")? {
            Forked::Child => exec_process(process),
            Forked::Parent(pid) => channel.send(&FromChild::InitPid(pid)),
        }
    })();
    if let Err(e) = result {
        channel.fail(Step::Intermediate, e);
        sys::exit_now(1);
    }
    sys::exit_now(0)
}

/// `exec`'s process: into the cgroup, the init's namespaces (rt already put it in the pid and
/// time ones), then the same steps as the init's own process. Never returns.
pub fn exec_process(c: &ExecContext) -> ! {
    close_fds(&c.close);
    let prepared = (|| -> Result<(Executable, Vec<String>, Option<OwnedFd>)> {
        if let Some(mask) = &c.sigmask {
            sys::sigprocmask(libc::SIG_SETMASK, mask).ctx("restore signal mask")?;
        }
        if c.step.placement == Placement::SelfWrite {
            c.plan.cgroup.place_self()?;
        }
        if let Some(raw) = c.host_proc {
            // SAFETY: rt opened this fd for this process, which closes it right below.
            let proc_ = unsafe { BorrowedFd::borrow_raw(raw) };
            let written = match c.plan.process.oom_score_adj {
                Some(v) => process::write_oom_score_adj(proc_, v),
                None => Ok(()),
            };
            sys::close_inherited(raw);
            written?;
        }
        // With the mount namespace comes the container's root (setns puts root and cwd there).
        c.plan.ns.enter(&c.step.joins)?;
        set_up_terminal(&c.plan.process, c.console, c.channel, false)?;
        become_process(&c.plan.process)
    })();
    let (exe, env, listener) = match prepared {
        Ok(r) => r,
        Err(e) => {
            c.channel.fail(Step::Setup, e);
            sys::exit_now(1);
        }
    };
    if ready(c.channel, listener).is_err() {
        sys::exit_now(1);
    }
    if let Err(e) = c.channel.expect(ToChild::Go { state: None }) {
        c.channel.fail(Step::Start, e);
        sys::exit_now(1);
    }
    // rt reports the failure (runc's "exec failed: ..."), not the process.
    let e = process::exec(&exe, &c.plan.process, &env);
    c.channel.fail(Step::Exec, e);
    sys::exit_now(255)
}

/// The container's /proc, if it is a procfs root (rt mounted it; nothing may be mounted in it
/// but lxcfs files).
fn container_procfs() -> Option<OwnedFd> {
    sys::open_proc_root().ok().flatten()
}

/// `linux.sysctl`, through the host's procfs: the init is already in its own namespaces, and
/// /proc/sys resolves per namespace of the writer, so this changes the container's values.
fn write_sysctls(sysctls: &[(String, String)], proc_: BorrowedFd) -> Result<()> {
    for (k, v) in sysctls {
        let path = Path::new("sys").join(k.replace('.', "/"));
        let f = sys::openat2(proc_, &path, libc::O_WRONLY, 0, sys::PROC_RESOLVE | sys::RESOLVE_NO_SYMLINKS)
            .with_ctx(|| format!("linux.sysctl.{k}: open /proc/{}", path.display()))?;
        sys::write_all(f.as_fd(), v.as_bytes()).with_ctx(|| format!("linux.sysctl.{k}: write /proc/{}", path.display()))?;
    }
    Ok(())
}

/// `create`: block opening exec.fifo for writing until `start` opens it, run the
/// startContainer hooks, then tell `start` how they went: `0`, or `1` and the error. `run`:
/// the hooks only. `state` is what the hooks read (rt sends it when there are any).
fn wait_for_start(c: &InitContext, proc_: Option<OwnedFd>, state: Option<&str>) -> Result<Option<OwnedFd>> {
    let start_hooks = || match state {
        Some(s) => hooks::run(&c.plan.hooks, Kind::StartContainer, s),
        None => Ok(()),
    };
    let (StartBy::Fifo, Some(fifo_path)) = (c.start_by, c.fifo) else {
        start_hooks()?;
        return Ok(None);
    };
    // TERM, INT and HUP end a container that was never started (runc's Go init dies of them);
    // execve resets the handler.
    sys::exit_on_signals(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP]);
    let fifo = match proc_ {
        Some(private) => sys::reopen(private.as_fd(), fifo_path, libc::O_WRONLY).ctx("open exec.fifo")?,
        None => {
            // Checked, then opened by path: the open blocks until `start`, and a parked init
            // holds no directory meanwhile. No process of the container exists yet to change
            // /proc in between.
            container_procfs().ok_or_else(|| Error::msg("exec.fifo: the container's /proc is not a procfs"))?;
            let path = format!("/proc/thread-self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fifo_path));
            sys::open(Path::new(&path), libc::O_WRONLY, 0).ctx("open exec.fifo")?
        }
    };
    if let Err(e) = start_hooks() {
        let _ = sys::write_all(fifo.as_fd(), format!("1{e}").as_bytes());
        return Err(e);
    }
    sys::write_all(fifo.as_fd(), b"0").ctx("write exec.fifo")?;
    sys::default_signals(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP]);
    Ok(Some(fifo))
}
