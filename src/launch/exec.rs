//! `exec`'s plan: a new process for a running (or created) container, decided before anything
//! is cloned. The process comes from `--process FILE` as it is, or from the container's own
//! `process` (its config.json, re-read as runc does) with the command line's changes; the
//! namespaces to join are those of the container's init that are not rt's own.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Capability, LinuxCapabilities, LinuxNamespaceType, Process};

use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::namespaces::{Join, NamespacePlan, JOIN_ORDER};
use crate::process::{self, ProcessContext, ProcessPlan};
use crate::spec;
use crate::state::{self, Status};
use crate::sys::{self, Pid};

/// exec's flags, as runc has them.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// `--process FILE`: the whole process, nothing else from the command line but stdio flags.
    pub process_file: Option<PathBuf>,
    /// The command and its arguments.
    pub args: Vec<String>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
    pub cwd: Option<PathBuf>,
    /// `KEY=value`, replacing the container's KEY or added to its env.
    pub env: Vec<String>,
    /// `uid[:gid]`.
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    /// Capabilities added to the bounding, effective and permitted sets (and ambient, where
    /// the process has inheritable ones), as runc's `--cap`.
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
    pub ignore_paused: bool,
    /// `[controller:]path` of an existing sub-cgroup.
    pub cgroup: Vec<String>,
    pub pidfd_socket: Option<PathBuf>,
}

pub struct ExecPlan {
    pub id: String,
    /// The container's init, whose namespaces the process joins.
    pub init: Pid,
    /// The init's namespaces that are not rt's, opened through /proc/PID/ns while it was
    /// checked to be the init.
    pub ns: NamespacePlan,
    pub cgroup: Cgroup,
    pub process: ProcessPlan,
    pub pid_file: Option<PathBuf>,
    /// runtime-spec's state of the container (`running`), for a seccomp notify agent.
    pub container_state: String,
    pub console_socket: Option<PathBuf>,
    pub pidfd_socket: Option<PathBuf>,
}

pub fn plan(root: &Path, id: &str, o: &ExecOptions) -> Result<ExecPlan> {
    let (dir, st) = state::read_by_id(root, id)?;
    match st.live_status(&dir) {
        Status::Stopped => return Err(Error::msg("cannot exec in a stopped container")),
        Status::Paused if !o.ignore_paused => return Err(Error::msg("cannot exec in a paused container (use --ignore-paused to override)")),
        _ => {}
    }
    let config = spec::load(&st.bundle)?;
    let (process, at) = match &o.process_file {
        Some(f) => {
            let bytes = crate::sys::read_file(f).with_ctx(|| format!("--process {}", f.display()))?;
            let name = f.display().to_string();
            (spec::parse_process(&bytes, &name)?, name)
        }
        None => (from_flags(config.process().clone().ok_or_else(|| Error::spec("process", "missing"))?, o)?, "process".to_owned()),
    };
    spec::validate_process(&process, &at)?;
    crate::terminal::check_flags(process.terminal().unwrap_or(false), o.detach, o.console_socket.is_some())?;
    process::check_passed_fds(o.preserve_fds)?;
    let ctx = ProcessContext {
        preserve_fds: o.preserve_fds,
        session_keyring: (!st.no_new_keyring).then(|| format!("_ses.{id}")),
        // the container's filter, as runc's exec applies it
        seccomp: config.linux().as_ref().and_then(|l| l.seccomp().as_ref()),
        ..Default::default()
    };
    let labels = crate::lsm::plan(&process, &at, crate::lsm::Host::detect())?;
    let mut process = process::plan(&process, ctx)?;
    process.labels = labels;
    // An exec'd process is not the container's first: its cwd must exist.
    process.create_cwd = false;
    let ns = join_init(st.pid)?;
    if let Some(c) = process.caps.as_mut() {
        process::drop_ungrantable(c, ns.has(LinuxNamespaceType::User));
    }
    // The namespaces are the init's only if the init is still the one recorded: a pid reused
    // between the read of state.json and the opens would have handed us a stranger's.
    if !st.init_alive() {
        return Err(Error::msg("cannot exec in a stopped container"));
    }
    let cgroup = if o.cgroup.is_empty() { st.cgroup.clone() } else { st.cgroup.sub(&parse_cgroup_flags(&o.cgroup)?)? };
    let container_state = st.hook_state(crate::hooks::Kind::Poststart);
    Ok(ExecPlan {
        id: id.to_owned(),
        init: st.pid,
        ns,
        cgroup,
        process,
        pid_file: o.pid_file.clone(),
        container_state,
        console_socket: o.console_socket.clone(),
        pidfd_socket: o.pidfd_socket.clone(),
    })
}

/// The container's process with the command line's changes, as runc's exec makes it.
fn from_flags(mut p: Process, o: &ExecOptions) -> Result<Process> {
    if o.args.is_empty() {
        return Err(Error::msg("exec: a command is needed (or --process FILE)"));
    }
    p.set_args(Some(o.args.clone()));
    p.set_terminal(Some(o.tty));
    if let Some(cwd) = &o.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for e in &o.env {
        let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        env.retain(|old| old.split_once('=').map_or(old.as_str(), |(k, _)| k) != key);
        env.push(e.clone());
    }
    p.set_env(Some(env));
    let mut user = p.user().clone();
    if let Some(u) = &o.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        let num = |v: &str, what: &str| v.parse::<u32>().map_err(|_| Error::spec("--user", format!("parsing {v} as int for {what} failed")));
        user.set_uid(num(uid, "uid")?);
        if let Some(g) = gid {
            user.set_gid(num(g, "gid")?);
        }
    }
    if !o.additional_gids.is_empty() {
        user.set_additional_gids(Some(o.additional_gids.clone()));
    }
    p.set_user(user);
    if !o.caps.is_empty() {
        let mut c = p.capabilities().clone().unwrap_or_else(LinuxCapabilities::default_empty);
        for name in &o.caps {
            let cap: Capability =
                serde_json::from_value(serde_json::Value::from(name.as_str())).map_err(|_| Error::spec("--cap", format!("unknown capability {name:?}")))?;
            let add = |set: &Option<oci_spec::runtime::Capabilities>| {
                let mut s = set.clone().unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            c.set_bounding(add(c.bounding()));
            c.set_effective(add(c.effective()));
            c.set_permitted(add(c.permitted()));
            // Ambient needs inheritable, which --cap does not add: only where there is some.
            if c.inheritable().as_ref().is_some_and(|i| !i.is_empty()) {
                c.set_ambient(add(c.ambient()));
            }
        }
        p.set_capabilities(Some(c));
    }
    if o.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(a) = &o.apparmor {
        p.set_apparmor_profile(Some(a.clone()));
    }
    if let Some(l) = &o.process_label {
        p.set_selinux_label(Some(l.clone()));
    }
    Ok(p)
}

/// The empty capability sets, for `--cap` on a process that had none.
trait DefaultEmpty {
    fn default_empty() -> Self;
}

impl DefaultEmpty for LinuxCapabilities {
    fn default_empty() -> Self {
        // oci-spec's Default holds runc's three default capabilities, not none.
        let mut c = LinuxCapabilities::default();
        c.set_bounding(Some(Default::default()));
        c.set_effective(Some(Default::default()));
        c.set_permitted(Some(Default::default()));
        c.set_inheritable(Some(Default::default()));
        c.set_ambient(Some(Default::default()));
        c
    }
}

/// `--cgroup [controller:]path`, repeatable.
fn parse_cgroup_flags(flags: &[String]) -> Result<Vec<(Option<String>, PathBuf)>> {
    flags
        .iter()
        .map(|f| match f.split_once(':') {
            Some((c, p)) if !c.is_empty() => Ok((Some(c.to_owned()), PathBuf::from(p))),
            Some((_, p)) => Ok((None, PathBuf::from(p))),
            None if f.is_empty() => Err(Error::spec("--cgroup", "empty")),
            None => Ok((None, PathBuf::from(f))),
        })
        .collect()
}

/// Every namespace of `pid` that differs from rt's own, opened for setns.
fn join_init(pid: Pid) -> Result<NamespacePlan> {
    let mut ns = NamespacePlan::default();
    for typ in JOIN_ORDER {
        let name = proc_ns_name(typ);
        let path = PathBuf::from(format!("/proc/{pid}/ns/{name}"));
        let theirs = match sys::open(&path, libc::O_RDONLY, 0) {
            Ok(fd) => fd,
            // a kernel without this namespace type
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e).with_ctx(|| format!("open {}", path.display())),
        };
        let ours = sys::stat(Path::new(&format!("/proc/self/ns/{name}"))).ok();
        let st = sys::fstat(std::os::fd::AsFd::as_fd(&theirs)).with_ctx(|| format!("stat {}", path.display()))?;
        if ours.is_some_and(|o| (o.st_dev, o.st_ino) == (st.st_dev, st.st_ino)) {
            continue;
        }
        ns.joins.push(Join { typ, path, index: None, fd: Some(theirs) });
    }
    Ok(ns)
}

fn proc_ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Network => "net",
        other => spec::ns_name(other),
    }
}
