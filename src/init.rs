//! The container's init, from the clone to the execve of the user's process. It runs in a copy
//! of rt (no re-exec), so the whole plan is already in its memory; it reports each failure to
//! rt over the channel, naming the step and the config field, and exits.
//!
//! Order (runc's, with everything that touches /proc done before pivot_root through the
//! host's /proc): placement in the cgroups → namespaces → hostname, loopback, sysctl,
//! oom_score_adj → rootfs → rlimits, personality, scheduler/ioPriority/memoryPolicy, user, capabilities, no_new_privs, cwd →
//! executable lookup → ready → wait for start → execve.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::channel::{self, Channel, Msg};
use crate::error::{Context, Error, Prefix, Result};
use crate::namespaces::NamespacePlan;
use crate::process::{self, ProcessPlan};
use crate::rootfs::{self, RootfsPlan};
use crate::sys::{self, Forked};

/// How the init learns that it may start the user's process.
#[derive(Debug, Clone, Copy)]
pub enum StartBy<'a> {
    /// `create`: opening exec.fifo (this `O_PATH` handle of it) for writing blocks until
    /// `start` opens it for reading.
    Fifo(BorrowedFd<'a>),
    /// `run`: a `Start` message on the channel.
    Channel,
}

pub struct InitPlan<'a> {
    pub spec: &'a Spec,
    pub ns: &'a NamespacePlan,
    pub rootfs: &'a RootfsPlan,
    pub process: &'a ProcessPlan,
    pub channel: &'a Channel,
    /// Wait for rt's go-ahead (`Placed`) before doing anything: rt writes the pid into v1
    /// cgroups first when the init cannot see the host's cgroup paths itself, and has to have
    /// the intermediate's report of the init's pid before the init's own messages.
    pub wait_placed: bool,
    /// v1 cgroups the init moves itself into before doing anything.
    pub place_in: Option<&'a crate::cgroups::Cgroup>,
    /// The cgroup namespace is made here, after placement (v1), not by the clone.
    pub unshare_cgroupns: bool,
    pub start_by: StartBy<'a>,
    /// The signal mask to restore (rt blocked signals to forward them in `run`).
    pub sigmask: Option<libc::sigset_t>,
    /// The joins were done by an intermediate process already.
    pub joined_in_intermediate: bool,
    /// rt's own fds the clone copied: the state directory's lock (held while it is open
    /// anywhere), rt's end of the channel (the init would never see rt go away), the cgroup
    /// directory of CLONE_INTO_CGROUP.
    pub close_in_child: Vec<RawFd>,
    /// The host's procfs, opened by rt before any namespace was joined and checked to be a
    /// procfs root: sysctl and oom_score_adj are written through it, never through a /proc
    /// that a joined mount namespace could have redirected (CVE-2025-52881). Closed after use.
    pub host_proc: Option<RawFd>,
}

/// The process between rt and the init, for joins that only affect children (pid, time) and
/// for user namespaces: it enters the namespaces, clones the init as rt's child, reports its
/// pid and exits.
pub fn intermediate(p: &InitPlan, clone_flags: u64) -> ! {
    close_parent_fds(p);
    let result = (|| -> Result<()> {
        p.ns.enter(&crate::namespaces::JOIN_ORDER)?;
        match sys::clone3(clone_flags | libc::CLONE_PARENT as u64, None).ctx("clone init")? {
            Forked::Child => run(p),
            Forked::Parent(pid) => p.channel.send(&Msg::InitPid(pid)),
        }
    })();
    if let Err(e) = result {
        let _ = p.channel.send(&channel::report(&e));
        sys::exit_now(1);
    }
    sys::exit_now(0)
}

/// The init's whole life. Never returns.
pub fn run(p: &InitPlan) -> ! {
    close_parent_fds(p);
    let (exe, env, proc_) = match setup(p) {
        Ok(r) => r,
        Err(e) => {
            let _ = p.channel.send(&channel::report(&e));
            sys::exit_now(1);
        }
    };
    if p.channel.send(&Msg::Ready).is_err() {
        sys::exit_now(1);
    }
    if let Err(e) = wait_for_start(p, proc_) {
        let _ = p.channel.send(&channel::report(&e));
        sys::exit_now(1);
    }
    let e = process::exec(&exe, p.process, &env);
    // runc's words on the container's own stderr, and for `run` to rt as well.
    eprintln!("{e}");
    let _ = p.channel.send(&channel::report(&e));
    sys::exit_now(255)
}

fn close_parent_fds(p: &InitPlan) {
    for &fd in &p.close_in_child {
        // SAFETY: these fds belong to rt's half of the fork; in this copy nothing uses them.
        unsafe { libc::close(fd) };
    }
}

/// Everything up to the point of no return. Gives the checked executable and the final
/// environment; with `create`, also a procfs handle through which exec.fifo is reopened for
/// writing (taken now, while the init still has the privileges to mount a procfs of its own).
fn setup(p: &InitPlan) -> Result<(process::Executable, Vec<String>, Option<OwnedFd>)> {
    if let Some(mask) = &p.sigmask {
        sys::sigprocmask(libc::SIG_SETMASK, mask).ctx("restore signal mask")?;
    }
    if p.wait_placed {
        p.channel.expect(&Msg::Placed)?;
    }
    if let Some(cg) = p.place_in {
        cg.place_self()?;
    }
    if p.unshare_cgroupns {
        sys::unshare(libc::CLONE_NEWCGROUP).ctx("linux.namespaces: unshare cgroup namespace")?;
    }
    if !p.joined_in_intermediate {
        p.ns.enter(&[LinuxNamespaceType::Ipc, LinuxNamespaceType::Uts, LinuxNamespaceType::Network, LinuxNamespaceType::Cgroup, LinuxNamespaceType::Mount])?;
    }
    // Nodes and directories rt makes get exactly the modes the config asks for.
    sys::umask(0);

    if p.ns.creates(LinuxNamespaceType::Network) {
        sys::loopback_up().ctx("linux.namespaces (network): bring up lo")?;
    }
    if let Some(h) = p.spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        sys::sethostname(h).ctx("hostname: sethostname")?;
    }
    if let Some(d) = p.spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        sys::setdomainname(d).ctx("domainname: setdomainname")?;
    }
    if let Some(raw) = p.host_proc {
        // SAFETY: rt opened this fd for the init and nothing else in this process uses it; it
        // is closed right below.
        let proc_ = unsafe { BorrowedFd::borrow_raw(raw) };
        let written = write_sysctls(p.spec, proc_).and_then(|()| match p.process.oom_score_adj {
            Some(v) => process::write_oom_score_adj(proc_, v),
            None => Ok(()),
        });
        // SAFETY: the last use of this fd was just above.
        unsafe { libc::close(raw) };
        written?;
    }

    if p.ns.has(LinuxNamespaceType::Mount) {
        rootfs::setup(p.rootfs, p.spec)?;
    } else {
        rootfs::enter_without_mount_namespace(p.rootfs)?;
    }

    let proc_ = p.process;
    process::create_cwd(&proc_.cwd)?;
    process::apply_rlimits(&proc_.rlimits)?;
    if let Some(pers) = proc_.personality {
        sys::personality(pers).ctx("linux.personality")?;
    }
    proc_.scheduling.apply()?;
    if let Some(name) = &proc_.session_keyring {
        process::join_keyring(name)?;
    }
    // A container without a /proc of its own needs a private procfs to reopen exec.fifo: it
    // has to be mounted now, before the capabilities go.
    let fifo_proc = match p.start_by {
        StartBy::Fifo(_) if container_procfs().is_none() => Some(sys::detached_procfs().ctx("mount a private procfs")?),
        _ => None,
    };
    let mut env = proc_.env.clone();
    process::finish_env(&mut env, proc_.uid);
    process::switch_user(proc_)?;
    if proc_.no_new_privileges {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1).ctx("process.noNewPrivileges")?;
    }
    process::enter_cwd(&proc_.cwd)?;
    let path = process::lookup(&proc_.args[0], &env).prefix(|| "process.args[0]")?;
    let exe = process::open_executable(&path, &proc_.args, proc_.rt_binary).prefix(|| "process.args[0]")?;
    sys::umask(proc_.umask);
    Ok((exe, env, fifo_proc))
}

/// The container's /proc, if it is a procfs root (rt mounted it; nothing may be mounted in it
/// but lxcfs files).
fn container_procfs() -> Option<OwnedFd> {
    sys::open_proc_root().ok().flatten()
}

/// `linux.sysctl`, through the host's procfs: the init is already in its own namespaces, and
/// /proc/sys resolves per namespace of the writer, so this changes the container's values.
fn write_sysctls(spec: &Spec, proc_: BorrowedFd) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else { return Ok(()) };
    let mut keys: Vec<_> = sysctl.keys().collect();
    keys.sort();
    for k in keys {
        let path = Path::new("sys").join(k.replace('.', "/"));
        let f = sys::openat2(proc_, &path, libc::O_WRONLY, 0, PROC_RESOLVE | sys::RESOLVE_NO_SYMLINKS)
            .with_ctx(|| format!("linux.sysctl.{k}: open /proc/{}", path.display()))?;
        sys::write_all(f.as_fd(), sysctl[k].as_bytes()).with_ctx(|| format!("linux.sysctl.{k}: write /proc/{}", path.display()))?;
    }
    Ok(())
}

/// Within the procfs handle, on its own mount, through no magic link.
pub const PROC_RESOLVE: u64 = sys::RESOLVE_BENEATH | sys::RESOLVE_NO_MAGICLINKS | sys::RESOLVE_NO_XDEV;

/// `create`: block opening exec.fifo for writing until `start` opens it, then write the byte
/// `start` waits for. `run`: wait for rt's `Start`.
fn wait_for_start(p: &InitPlan, proc_: Option<OwnedFd>) -> Result<()> {
    match p.start_by {
        StartBy::Fifo(fifo_path) => {
            // TERM, INT and HUP end a container that was never started (runc's Go init dies of
            // them); the handler is reset by execve.
            for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
                // SAFETY: the handler only calls _exit, which is async-signal-safe.
                unsafe { libc::signal(sig, exit_on_signal as *const () as libc::sighandler_t) };
            }
            let fifo = match proc_ {
                Some(private) => sys::reopen(private.as_fd(), fifo_path, libc::O_WRONLY).ctx("open exec.fifo")?,
                None => {
                    // Checked, then opened by path: the open blocks until `start`, and a parked
                    // init holds no directory meanwhile. No process of the container exists
                    // yet to change /proc in between.
                    container_procfs().ok_or_else(|| Error::msg("exec.fifo: the container's /proc is not a procfs"))?;
                    let path = format!("/proc/thread-self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fifo_path));
                    sys::open(Path::new(&path), libc::O_WRONLY, 0).ctx("open exec.fifo")?
                }
            };
            sys::write_all(fifo.as_fd(), b"0").ctx("write exec.fifo")?;
            for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
                // SAFETY: restoring the default disposition.
                unsafe { libc::signal(sig, libc::SIG_DFL) };
            }
            Ok(())
        }
        StartBy::Channel => p.channel.expect(&Msg::Start),
    }
}

extern "C" fn exit_on_signal(sig: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(128 + sig) }
}
