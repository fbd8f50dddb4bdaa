//! The container process's own attributes — user and groups, capabilities, rlimits,
//! no_new_privs, personality, oom score, environment, cwd — planned from `process` (pure) and
//! applied by the init just before execve.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxCapabilities, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain, PosixRlimitType, Process};

use crate::error::{Context, Error, Result};
use crate::rootfs::paths;
use crate::sys;

pub mod scheduling;

/// The five capability sets as bit masks (bit N = capability N).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: libc::c_int,
    pub soft: u64,
    pub hard: u64,
    /// `process.rlimits[i] (RLIMIT_NOFILE)`, for errors.
    pub field: String,
}

#[derive(Debug, Clone)]
pub struct ProcessPlan {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// runc sets 0022 when the config does not say.
    pub umask: libc::mode_t,
    /// None: the config has no `capabilities`, and rt leaves them as they are.
    pub caps: Option<CapSets>,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
    pub oom_score_adj: Option<i32>,
    pub personality: Option<libc::c_ulong>,
    /// fds 3 .. 3+N the caller passed to rt that the process keeps.
    pub preserve_fds: u32,
    /// The session keyring to join (runc's `_ses.<id>`); None with `--no-new-keyring`.
    pub session_keyring: Option<String>,
    /// (st_dev, st_ino) of rt's binary, which the container must never get to execute.
    pub rt_binary: Option<(u64, u64)>,
    pub scheduling: scheduling::Scheduling,
    /// A missing cwd is made (runc does so for the init; an exec'd process needs one that exists).
    pub create_cwd: bool,
    /// `linux.seccomp`, compiled: the filter this process runs under (exec'd ones too).
    pub seccomp: Option<crate::seccomp::SeccompPlan>,
    /// `process.terminal`: a pty of the container's as stdio, of `process.consoleSize`.
    pub terminal: Option<Option<crate::terminal::Size>>,
    /// AppArmor profile and SELinux label, checked against the host by the caller.
    pub labels: crate::lsm::Labels,
}

/// The caller's socket-activation fds: `LISTEN_FDS`, when `LISTEN_PID` says they were
/// meant for this process (as systemd's protocol and runc have it).
pub fn listen_fds(listen_fds: Option<&str>, listen_pid: Option<&str>, own_pid: sys::Pid) -> Option<u32> {
    if listen_pid?.parse::<sys::Pid>().ok()? != own_pid {
        return None;
    }
    listen_fds?.parse().ok().filter(|&n| n > 0)
}

/// fds 3 .. 3+n, which the container gets, must all be open before rt opens anything that
/// stays open: a gap would be filled by rt's own channel, exec.fifo or a namespace, and that
/// would be passed into the container.
pub fn check_passed_fds(n: u32) -> Result<()> {
    match (3..3 + n).find(|&fd| !sys::fd_is_open(fd as std::os::fd::RawFd)) {
        Some(fd) => Err(Error::msg(format!("--preserve-fds/LISTEN_FDS: fd {fd} is not open, {n} fds from fd 3 on are to be passed"))),
        None => Ok(()),
    }
}

/// What a process gets from its container besides its own `process` object: create and exec
/// plan the same [`Process`] type against it.
#[derive(Debug, Default)]
pub struct ProcessContext<'a> {
    pub personality: Option<&'a LinuxPersonality>,
    pub memory_policy: Option<&'a LinuxMemoryPolicy>,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// The caller's `LISTEN_FDS` (socket activation), passed on as runc does.
    pub listen_fds: Option<u32>,
    pub session_keyring: Option<String>,
    pub seccomp: Option<&'a oci_spec::runtime::LinuxSeccomp>,
}

pub fn plan(p: &Process, ctx: ProcessContext) -> Result<ProcessPlan> {
    let user = p.user();
    let mut env = p.env().clone().unwrap_or_default();
    if let Some(n) = ctx.listen_fds {
        env.push(format!("LISTEN_FDS={n}"));
        env.push("LISTEN_PID=1".to_owned());
    }
    if ctx.personality.and_then(|p| p.flags().as_ref()).is_some_and(|f| !f.is_empty()) {
        return Err(Error::spec("linux.personality.flags", "runtime-spec defines no flags yet"));
    }
    Ok(ProcessPlan {
        args: p.args().clone().unwrap_or_default(),
        env,
        cwd: p.cwd().clone(),
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask().unwrap_or(0o022),
        caps: p.capabilities().as_ref().map(cap_sets).transpose()?,
        rlimits: p.rlimits().iter().flatten().enumerate().map(|(i, r)| rlimit(i, r.typ(), r.soft(), r.hard())).collect(),
        no_new_privileges: p.no_new_privileges().unwrap_or(false),
        oom_score_adj: p.oom_score_adj(),
        personality: ctx.personality.map(|pers| {
            let base = match pers.domain() {
                LinuxPersonalityDomain::PerLinux => 0x0000,
                LinuxPersonalityDomain::PerLinux32 => 0x0008,
            };
            base as libc::c_ulong
        }),
        preserve_fds: ctx.preserve_fds + ctx.listen_fds.unwrap_or(0),
        session_keyring: ctx.session_keyring,
        rt_binary: own_binary(),
        scheduling: scheduling::plan(p, ctx.memory_policy)?,
        create_cwd: true,
        seccomp: ctx.seccomp.map(crate::seccomp::plan).transpose()?,
        terminal: match p.terminal() {
            Some(true) => Some(match p.console_size() {
                Some(b) => crate::terminal::Size::from_console_size(b.height(), b.width())?,
                None => None,
            }),
            _ => None,
        },
        labels: Default::default(),
    })
}

fn rlimit(i: usize, t: PosixRlimitType, soft: u64, hard: u64) -> Rlimit {
    use PosixRlimitType::*;
    let resource = match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    } as libc::c_int;
    Rlimit { resource, soft, hard, field: format!("process.rlimits[{i}] ({t})") }
}

fn mask(set: &Option<oci_spec::runtime::Capabilities>, field: &str) -> Result<u64> {
    let mut m = 0u64;
    for c in set.iter().flatten() {
        let name = format!("CAP_{c}");
        let cap: caps::Capability = name.parse().map_err(|_| Error::spec(format!("process.capabilities.{field}"), format!("unknown capability {name}")))?;
        m |= cap.bitmask();
    }
    Ok(m)
}

fn cap_sets(c: &LinuxCapabilities) -> Result<CapSets> {
    Ok(CapSets {
        bounding: mask(c.bounding(), "bounding")?,
        effective: mask(c.effective(), "effective")?,
        permitted: mask(c.permitted(), "permitted")?,
        inheritable: mask(c.inheritable(), "inheritable")?,
        ambient: mask(c.ambient(), "ambient")?,
    })
}

impl CapSets {
    /// Keeps only what `held` has; returns what was dropped. runtime-spec 1.3: a capability
    /// that cannot be granted is logged as a warning and the runtime SHOULD NOT fail (crun
    /// drops it too). A smaller set is more confinement, never less.
    pub fn restrict_to(&mut self, held: u64) -> u64 {
        let all = self.bounding | self.effective | self.permitted | self.inheritable | self.ambient;
        for s in [&mut self.bounding, &mut self.effective, &mut self.permitted, &mut self.inheritable, &mut self.ambient] {
            *s &= held;
        }
        all & !held
    }

    /// Ambient capabilities must be both permitted and inheritable; runc drops the others
    /// silently rather than failing.
    pub fn raisable_ambient(&self) -> u64 {
        self.ambient & self.permitted & self.inheritable
    }
}

/// What the container's process can be given, as a mask: the capabilities this kernel knows
/// that rt itself holds: its permitted set, or in a new user namespace (where the init starts
/// with every capability) its bounding set, which no process below it can leave.
pub fn grantable(in_new_userns: bool) -> u64 {
    let last = last_cap();
    let known = if last >= 63 { u64::MAX } else { (1u64 << (last + 1)) - 1 };
    let set = if in_new_userns { caps::CapSet::Bounding } else { caps::CapSet::Permitted };
    let held = caps::read(None, set).map(|s| s.iter().fold(0u64, |m, c| m | c.bitmask())).unwrap_or(u64::MAX);
    known & held
}

/// Restricts `c` to [`grantable`], with the warning runtime-spec asks for.
pub fn drop_ungrantable(c: &mut CapSets, in_new_userns: bool) {
    let dropped = c.restrict_to(grantable(in_new_userns));
    if dropped != 0 {
        crate::logging::warn(&format!(
            "process.capabilities: rt cannot grant {}: the process runs without {}",
            cap_names(dropped),
            if dropped.count_ones() == 1 { "it" } else { "them" }
        ));
    }
}

/// `CAP_SYS_RESOURCE, 45`: names where the caps crate knows them, numbers past its table.
fn cap_names(mask: u64) -> String {
    let mut names: Vec<String> = (0..64u32)
        .filter(|i| mask & (1u64 << i) != 0)
        .map(|i| caps::all().into_iter().find(|c| c.index() as u32 == i).map_or_else(|| i.to_string(), |c| c.to_string()))
        .collect();
    names.sort();
    names.join(", ")
}

/// The highest capability this kernel knows.
pub fn last_cap() -> u32 {
    crate::sys::read_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40)
}

/// rlimits, raised or lowered. Raising a hard limit needs CAP_SYS_RESOURCE, which the error
/// says instead of a bare EPERM.
pub fn apply_rlimits(rlimits: &[Rlimit]) -> Result<()> {
    for r in rlimits {
        if let Err(e) = sys::setrlimit(r.resource, r.soft, r.hard) {
            if e.raw_os_error() == Some(libc::EPERM) {
                let (_, cur_hard) = sys::getrlimit(r.resource).unwrap_or((0, 0));
                return Err(Error::msg(format!(
                    "{}: cannot raise the hard limit to {} above the current {cur_hard} without CAP_SYS_RESOURCE",
                    r.field, r.hard
                )));
            }
            return Err(e).with_ctx(|| format!("{}: setrlimit soft {} hard {}", r.field, r.soft, r.hard));
        }
    }
    Ok(())
}

/// Through the host's procfs handle (see launch/child.rs): the container cannot interpose anything.
pub fn write_oom_score_adj(proc_: BorrowedFd, v: i32) -> Result<()> {
    let f =
        sys::openat2(proc_, Path::new("self/oom_score_adj"), libc::O_WRONLY, 0, sys::PROC_RESOLVE).ctx("process.oomScoreAdj: open /proc/self/oom_score_adj")?;
    sys::write_all(f.as_fd(), v.to_string().as_bytes()).with_ctx(|| format!("process.oomScoreAdj: write {v}"))
}

/// A session keyring of the container's own, so that keys of rt's session do not leak in;
/// searchable by its user, as runc leaves it. A kernel without keyrings is not an error.
pub fn join_keyring(name: &str) -> Result<()> {
    let id = match sys::join_session_keyring(name) {
        Ok(id) => id,
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => return Ok(()),
        Err(e) => return Err(e).ctx("join session keyring (use --no-new-keyring to skip)"),
    };
    const KEY_USR_SEARCH: u32 = 0x0008_0000;
    sys::key_add_perm(id, KEY_USR_SEARCH).ctx("set session keyring permissions")
}

/// Bounding set first (it needs CAP_SETPCAP, which the uid change may take), then the ids with
/// the capabilities kept across the change, then the other four sets.
pub fn switch_user(p: &ProcessPlan) -> Result<()> {
    if let Some(c) = &p.caps {
        drop_bounding(c.bounding)?;
    }
    let keep = p.uid != 0 && p.caps.is_some();
    if keep {
        sys::prctl(libc::PR_SET_KEEPCAPS, 1).ctx("prctl(PR_SET_KEEPCAPS)")?;
    }
    match sys::setgroups(&p.additional_gids) {
        // a user namespace whose setgroups is "deny" (made by an unprivileged rt) takes no
        // setgroups at all; with no groups asked for, there is nothing to do
        Err(e) if e.raw_os_error() == Some(libc::EPERM) && p.additional_gids.is_empty() && setgroups_denied() => {}
        other => other.ctx("process.user.additionalGids: setgroups")?,
    }
    sys::setresgid(p.gid).with_ctx(|| format!("process.user.gid: setresgid {}", p.gid))?;
    sys::setresuid(p.uid).with_ctx(|| format!("process.user.uid: setresuid {}", p.uid))?;
    if let Some(c) = &p.caps {
        if let Err(e) = sys::capset(c.effective, c.permitted, c.inheritable) {
            return Err(capset_error(e, c));
        }
        let amb = c.raisable_ambient();
        for i in (0..64).filter(|i| amb & (1u64 << i) != 0) {
            sys::ambient_raise(i).with_ctx(|| format!("process.capabilities.ambient: raise capability {i}"))?;
        }
        if keep {
            sys::prctl(libc::PR_SET_KEEPCAPS, 0).ctx("prctl(PR_SET_KEEPCAPS)")?;
        }
    }
    Ok(())
}

fn setgroups_denied() -> bool {
    crate::sys::read_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

/// A capset refusal names what rt itself lacks: a container cannot get more than its runtime has.
fn capset_error(e: std::io::Error, c: &CapSets) -> Error {
    let held = caps::read(None, caps::CapSet::Permitted).map(|s| s.iter().fold(0u64, |m, c| m | c.bitmask())).unwrap_or(u64::MAX);
    let missing: Vec<String> =
        caps::all().into_iter().filter(|cap| (c.permitted | c.effective) & !held & cap.bitmask() != 0).map(|cap| cap.to_string()).collect();
    if e.raw_os_error() == Some(libc::EPERM) && !missing.is_empty() {
        let mut missing = missing;
        missing.sort();
        return Error::msg(format!("process.capabilities: rt does not hold {} itself, so it cannot give them to the container", missing.join(", ")));
    }
    Error::io("process.capabilities: capset", e)
}

fn drop_bounding(keep: u64) -> Result<()> {
    for i in 0..64u32 {
        if keep & (1u64 << i) != 0 {
            continue;
        }
        match sys::prctl(libc::PR_CAPBSET_DROP, i as libc::c_ulong) {
            Ok(_) => {}
            // past the last capability this kernel has
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(e) => return Err(e).with_ctx(|| format!("process.capabilities.bounding: drop capability {i}")),
        }
    }
    Ok(())
}

/// runc's environment rule: HOME is added when missing, from the container's passwd entry of
/// the user, else `/`. PATH is never added.
pub fn finish_env(env: &mut Vec<String>, uid: u32) {
    if env.iter().any(|e| e.starts_with("HOME=")) {
        return;
    }
    let home = crate::user::by_uid(uid).map(|e| e.home).filter(|h| !h.is_empty()).unwrap_or_else(|| "/".to_owned());
    env.push(format!("HOME={home}"));
}

/// Creates `cwd` inside the (new) root if it is missing, as runc does.
pub fn create_cwd(cwd: &Path) -> Result<()> {
    if cwd == Path::new("/") {
        return Ok(());
    }
    let root = sys::open(Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0).ctx("open /")?;
    paths::create_in_root(root.as_fd(), cwd, paths::Kind::Dir, 0o755).with_ctx(|| format!("process.cwd: create {}", cwd.display()))?;
    Ok(())
}

/// chdir as the container's user, then make sure the result is inside the root: a cwd that
/// leads out through an inherited fd is how CVE-2024-21626 escaped.
pub fn enter_cwd(cwd: &Path) -> Result<()> {
    sys::chdir(cwd).with_ctx(|| format!("process.cwd: chdir to {}", cwd.display()))?;
    check_cwd(cwd)
}

/// The cwd just entered is inside the root (see [`enter_cwd`]); also after a chdir made while
/// the process still had root's access.
pub fn check_cwd(cwd: &Path) -> Result<()> {
    if cwd == Path::new("/") {
        // the process's own root cannot be outside it
        return Ok(());
    }
    let now = std::env::current_dir().with_ctx(|| format!("process.cwd: {} is outside the container", cwd.display()))?;
    if !now.is_absolute() {
        return Err(Error::msg(format!("process.cwd: {} is outside the container", cwd.display())));
    }
    Ok(())
}

/// Go's exec.LookPath, which runc runs before it reports the container created, with its
/// wording (Podman and Docker turn these words into exit codes 127 and 126). As Go's (1.19,
/// runc 1.1's), a file is a candidate when any execute bit is set: the check is one stat,
/// which every seccomp profile allows (without noNewPrivileges the container's filter is
/// already loaded here), where access(2) with AT_EACCESS is faccessat2, which profiles older
/// than it deny; execve has the last word on permissions anyway.
pub fn lookup(name: &str, env: &[String]) -> Result<PathBuf> {
    let check = |p: &Path| -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let md = std::fs::metadata(p)?;
        if md.is_dir() || md.permissions().mode() & 0o111 == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::EACCES));
        }
        Ok(())
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return match check(&p) {
            Ok(()) => Ok(p),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Err(Error::msg(format!("exec: {name:?}: stat {name}: no such file or directory"))),
            Err(e) => Err(Error::msg(format!("exec: {name:?}: {}", sys::errno_text(&e)))),
        };
    }
    let path = env.iter().rev().find_map(|e| e.strip_prefix("PATH=")).unwrap_or("");
    // Go's words stay first (engines turn them into 127); a directory that failed for another
    // reason than not having the file (a filesystem gone: ENOTCONN, ESTALE, EIO) is the real
    // cause, and is said after them.
    let mut broken = None;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let p = Path::new(dir).join(name);
        match check(&p) {
            Ok(()) => return Ok(p),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR | libc::EACCES)) => {}
            Err(e) => {
                broken.get_or_insert_with(|| format!(" (stat {}: {})", p.display(), sys::errno_text(&e)));
            }
        }
    }
    Err(Error::msg(format!("exec: {name:?}: executable file not found in $PATH{}", broken.unwrap_or_default())))
}

/// What the init will execute, opened and checked: exactly these files run, whatever the
/// paths hold by the time of execve.
#[derive(Debug)]
pub struct Executable {
    /// The file execveat runs: the program itself, or for a script its interpreter. None for
    /// a chain of interpreters, which only execve by path can run (checked all the same).
    fd: Option<std::os::fd::OwnedFd>,
    /// argv as the kernel would build it (for a script: interpreter, its argument, the script
    /// path, then the rest of process.args).
    argv: Vec<String>,
    path: PathBuf,
    /// The name the process is known by (`/proc/PID/comm`): the last component of the path it
    /// was looked up as, `sleep` for busybox's `/bin/sleep` link, as execve by path gives it.
    name: String,
    /// Where the file can be given that name at exec time (see [`rename_dir`]).
    rename_dir: Option<std::os::fd::OwnedFd>,
}

impl Executable {
    pub fn with_rename_dir(mut self, dir: Option<std::os::fd::OwnedFd>) -> Self {
        self.rename_dir = dir;
        self
    }
}

/// A tmpfs mounted nowhere, for [`exec`] to give the checked file the name it was started
/// as. Made while the process still may mount (before its capabilities go); None where that
/// fails or the container's /proc, through which it is reached, is not a procfs root.
pub fn rename_dir() -> Option<std::os::fd::OwnedFd> {
    sys::open_proc_root().ok().flatten()?;
    sys::detached_tmpfs().ok()
}

/// The device and inode of rt's own binary.
pub fn own_binary() -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/exe").ok().map(|m| (m.dev(), m.ino()))
}

/// Opens `path` as execve would (following symlinks and magic links) and refuses rt's own
/// binary, directly or as a `#!` interpreter: the init is a copy of rt, so its
/// /proc/self/exe is rt's binary on the host, and a container that gets it run (args[0]
/// `/proc/self/exe`, or an image whose entrypoint says `#!/proc/self/exe`) holds the host's
/// binary to overwrite (CVE-2019-5736).
pub fn open_executable(path: &Path, args: &[String], rt_binary: Option<(u64, u64)>) -> Result<Executable> {
    let refuse = |p: &Path| Error::msg(format!("{}: resolves to rt's own binary, which a container must not run (CVE-2019-5736)", p.display()));
    let open = |p: &Path| -> Result<(std::os::fd::OwnedFd, bool)> {
        // readable: the start of a script can be checked; execute-only: a binary at most.
        // O_NONBLOCK: a FIFO with an x bit must not park the init on its open.
        let (fd, readable) = match sys::open(p, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY, 0) {
            Ok(fd) => (fd, true),
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => (sys::open(p, libc::O_PATH, 0).with_ctx(|| format!("exec {}", p.display()))?, false),
            Err(e) => return Err(e).with_ctx(|| format!("exec {}", p.display())),
        };
        let st = sys::fstat(fd.as_fd()).with_ctx(|| format!("exec {}", p.display()))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            // execve's answer for anything but a regular file
            return Err(std::io::Error::from_raw_os_error(libc::EACCES)).with_ctx(|| format!("exec {}", p.display()));
        }
        if rt_binary == Some((st.st_dev, st.st_ino)) {
            return Err(refuse(p));
        }
        Ok((fd, readable))
    };
    let (fd, readable) = open(path)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut exe = Executable { fd: Some(fd), argv: args.to_vec(), path: path.to_owned(), name: name.clone(), rename_dir: None };
    if !readable {
        return Ok(exe);
    }
    // The kernel follows up to 4 levels of interpreters; each is checked the same way, and the
    // first one is what runs (with the kernel's argv), so it cannot be swapped after the check.
    let mut script = path.to_owned();
    let mut fd_for_check = exe.fd.as_ref().map(|f| f.try_clone()).transpose().ctx("dup")?.ok_or_else(|| Error::msg("no fd"))?;
    for depth in 0..4 {
        let Some((interp, arg)) = shebang(&fd_for_check) else { break };
        let (ifd, ireadable) = open(&interp)?;
        if depth == 0 {
            let mut argv = vec![interp.display().to_string()];
            argv.extend(arg);
            argv.push(script.display().to_string());
            argv.extend(args.iter().skip(1).cloned());
            exe = Executable { fd: Some(ifd.try_clone().ctx("dup")?), argv, path: interp.clone(), name: name.clone(), rename_dir: None };
        } else {
            exe = Executable { fd: None, argv: args.to_vec(), path: path.to_owned(), name: name.clone(), rename_dir: None };
        }
        if !ireadable {
            break;
        }
        script = interp;
        fd_for_check = ifd;
    }
    Ok(exe)
}

/// The interpreter and its optional argument of a `#!` script, as binfmt_script reads them.
fn shebang(fd: &std::os::fd::OwnedFd) -> Option<(PathBuf, Option<String>)> {
    let mut buf = [0u8; 256];
    let n = sys::pread(fd.as_fd(), &mut buf, 0).ok()?;
    let head = buf.get(..n)?;
    let line = head.strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let text = String::from_utf8_lossy(line);
    let text = text.trim_matches(|c| c == ' ' || c == '\t');
    let (interp, arg) = match text.split_once([' ', '\t']) {
        Some((i, a)) => (i, Some(a.trim_matches(|c| c == ' ' || c == '\t').to_owned()).filter(|a| !a.is_empty())),
        None => (text, None),
    };
    (!interp.is_empty()).then(|| (PathBuf::from(interp), arg))
}

/// Replaces the init (or an exec'd process) with the user's process. fds above stdio and the
/// preserved ones are closed on exec; only returns on failure.
pub fn exec(exe: &Executable, p: &ProcessPlan, env: &[String]) -> Error {
    let prepared = (|| -> std::io::Result<(Vec<CString>, Vec<CString>)> {
        sys::cloexec_from(3 + p.preserve_fds)?;
        for fd in 3..3 + p.preserve_fds {
            sys::clear_cloexec(fd as i32)?;
        }
        let argv = exe.argv.iter().map(sys::cstring).collect::<std::io::Result<_>>()?;
        let envp = env.iter().map(sys::cstring).collect::<std::io::Result<_>>()?;
        Ok((argv, envp))
    })();
    let prepared = prepared.and_then(|r| {
        p.labels.apply().map_err(|e| std::io::Error::other(e.to_string()))?;
        if let Some(sc) = p.seccomp.as_ref().filter(|sc| p.no_new_privileges && sc.listener.is_none()) {
            // The last thing before the program: rt's own calls from here are these few.
            sc.install().map_err(|e| std::io::Error::new(e.kind(), format!("linux.seccomp: load the filter: {}", sys::errno_text(&e))))?;
        }
        Ok(r)
    });
    let e = match prepared {
        Ok((argv, envp)) => match (&exe.fd, sys::cpath(&exe.path)) {
            (Some(fd), _) => exec_checked(fd.as_fd(), &exe.name, exe.rename_dir.as_ref(), &argv, &envp),
            (None, Ok(path)) => sys::execve(&path, &argv, &envp),
            (None, Err(e)) => e,
        },
        Err(e) => e,
    };
    Error::msg(format!("exec {}: {}", exe.path.display(), sys::errno_text(&e)))
}

/// Runs exactly the checked file `fd`, known as `name`. execveat on the fd names the process
/// after the file (`busybox`, not the `sleep` it was started as); to be named as execve by
/// path would name it, the file is reached instead through a path that ends in `name` and that
/// nothing else can change: a symlink `name` → `/proc/self/fd/<fd>` on a tmpfs that is mounted
/// nowhere, whose root only this process holds (`/proc/self/fd/<root>/<name>`). That needs the
/// container's /proc to be a procfs root; where it is not, the file runs under its own name.
fn exec_checked(fd: BorrowedFd, name: &str, dir: Option<&std::os::fd::OwnedFd>, argv: &[CString], envp: &[CString]) -> std::io::Error {
    let own = std::fs::read_link(sys::fd_path(fd)).ok();
    let named_right = own.as_deref().and_then(Path::file_name).is_some_and(|n| n == std::ffi::OsStr::new(name));
    let Some(dir) = dir.filter(|_| !named_right && !name.is_empty() && !name.contains('/')) else { return sys::execveat(fd, argv, envp) };
    // Checked again now: nothing in the container may have changed /proc since (that takes
    // CAP_SYS_ADMIN, which this process no longer has, nor do unprivileged containers).
    if sys::open_proc_root().ok().flatten().is_none() {
        return sys::execveat(fd, argv, envp);
    }
    let renamed = (|| -> std::io::Result<CString> {
        sys::symlinkat(&sys::fd_path(fd), dir.as_fd(), Path::new(name))?;
        sys::cstring(format!("/proc/self/fd/{}/{name}", std::os::fd::AsRawFd::as_raw_fd(dir)))
    })();
    match renamed {
        Ok(path) => sys::execve(&path, argv, envp),
        Err(_) => sys::execveat(fd, argv, envp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(v: serde_json::Value) -> Process {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn caps_become_masks() {
        let s = process(serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}, "capabilities": {
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"],
            "effective": ["CAP_KILL"], "ambient": ["CAP_KILL"]}}));
        let p = plan(&s, ProcessContext::default()).unwrap();
        let c = p.caps.unwrap();
        assert_eq!(c.bounding, 0x2000_0420);
        assert_eq!(c.effective, 1 << 5);
        assert_eq!(c.inheritable, 0);
        assert_eq!(c.raisable_ambient(), 0);
    }

    #[test]
    fn caps_rt_cannot_grant_are_dropped_from_every_set() {
        let mut c = CapSets { bounding: (1 << 40) | (1 << 24) | 1, effective: 1 << 40, permitted: (1 << 24) | 1, inheritable: 1 << 24, ambient: 1 << 24 };
        // held: everything up to 39 but CAP_SYS_RESOURCE (24)
        let held = ((1u64 << 40) - 1) & !(1 << 24);
        assert_eq!(c.restrict_to(held), (1 << 40) | (1 << 24));
        assert_eq!(c, CapSets { bounding: 1, permitted: 1, ..Default::default() });
        assert_eq!(cap_names((1 << 40) | (1 << 24) | (1 << 63)), "63, CAP_CHECKPOINT_RESTORE, CAP_SYS_RESOURCE");
    }

    #[test]
    fn defaults() {
        let s = process(serde_json::json!({"cwd": "/", "user": {"uid": 1000, "gid": 100, "additionalGids": [5, 6]}, "args": ["sh"]}));
        let p = plan(&s, ProcessContext { preserve_fds: 2, listen_fds: Some(1), ..Default::default() }).unwrap();
        assert_eq!(p.umask, 0o022);
        assert!(p.caps.is_none());
        assert_eq!(p.additional_gids, vec![5, 6]);
        assert!(!p.no_new_privileges);
        assert_eq!(p.preserve_fds, 3);
        assert_eq!(listen_fds(Some("2"), Some("42"), 42), Some(2));
        assert_eq!(listen_fds(Some("2"), Some("41"), 42), None, "meant for another process");
        assert_eq!(listen_fds(Some("2"), None, 42), None);
        assert_eq!(listen_fds(Some("0"), Some("42"), 42), None);
        assert_eq!(listen_fds(Some("x"), Some("42"), 42), None);
        assert_eq!(p.env[p.env.len() - 2..], ["LISTEN_FDS=1".to_owned(), "LISTEN_PID=1".to_owned()]);
    }

    #[test]
    fn rlimit_fields() {
        let s = process(serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}, "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}]}));
        let p = plan(&s, ProcessContext::default()).unwrap();
        assert_eq!(p.rlimits, vec![Rlimit { resource: libc::RLIMIT_NOFILE as i32, soft: 10, hard: 20, field: "process.rlimits[0] (RLIMIT_NOFILE)".into() }]);
    }

    #[test]
    fn rt_itself_is_refused() {
        let me = own_binary();
        assert!(me.is_some());
        let e = open_executable(Path::new("/proc/self/exe"), &["x".into()], me).unwrap_err();
        assert!(e.to_string().contains("CVE-2019-5736"), "{e}");
        let dir = std::env::temp_dir().join(format!("rt-shebang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("s");
        std::fs::write(&script, "#!/proc/self/exe --flag\n").unwrap();
        let e = open_executable(&script, &["s".into()], me).unwrap_err();
        assert!(e.to_string().starts_with("/proc/self/exe: resolves to rt's own binary"), "{e}");
        std::fs::write(&script, "#! /bin/sh -e\necho hi\n").unwrap();
        let exe = open_executable(&script, &["s".into(), "a1".into()], me).unwrap();
        assert_eq!(exe.argv, vec!["/bin/sh".to_owned(), "-e".into(), script.display().to_string(), "a1".into()]);
        let exe = open_executable(Path::new("/bin/sh"), &["sh".into()], me).unwrap();
        assert_eq!(exe.argv, vec!["sh".to_owned()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn env_home() {
        let mut env = vec!["PATH=/bin".to_owned(), "HOME=/x".to_owned()];
        finish_env(&mut env, 0);
        assert_eq!(env.len(), 2);
    }

    #[test]
    fn lookup_words() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_owned()];
        assert!(lookup("sh", &env).unwrap().ends_with("sh"));
        assert_eq!(lookup("nosuchcmd-xyz", &env).unwrap_err().to_string(), "exec: \"nosuchcmd-xyz\": executable file not found in $PATH");
        assert_eq!(lookup("/nosuch/abs", &env).unwrap_err().to_string(), "exec: \"/nosuch/abs\": stat /nosuch/abs: no such file or directory");
        assert_eq!(lookup("/etc/passwd", &env).unwrap_err().to_string(), "exec: \"/etc/passwd\": permission denied");
        assert_eq!(lookup("/", &env).unwrap_err().to_string(), "exec: \"/\": permission denied");
        assert!(lookup("sh", &[]).is_err());
        // a PATH entry through a file: ENOTDIR, which is only "not there"
        let through_a_file = vec!["PATH=/etc/passwd:/nonexistent".to_owned()];
        assert_eq!(lookup("sh", &through_a_file).unwrap_err().to_string(), "exec: \"sh\": executable file not found in $PATH");
        // a PATH entry too long to stat: that error is the cause, said after Go's words
        let long = vec![format!("PATH={}:/nonexistent", "/x".repeat(3000))];
        let e = lookup("sh", &long).unwrap_err().to_string();
        assert!(e.starts_with("exec: \"sh\": executable file not found in $PATH (stat /x/x/"), "{e}");
        assert!(e.ends_with("/sh: file name too long)"), "{e}");
    }
}
