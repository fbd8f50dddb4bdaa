//! seccomp: `linux.seccomp` (runtime-spec 1.3) compiled to one BPF program, and the calls that
//! load it and hand its notify listener to the agent.
//!
//! [`plan`] is pure and runs in rt before anything exists, so a profile that cannot be built
//! fails `create` naming its field. [`SeccompPlan::install`] runs in the container's process,
//! as late as possible before execve (every syscall rt makes after it goes through the
//! filter). With a `SCMP_ACT_NOTIFY` rule it returns the listener fd, which rt passes on with
//! [`send_listener`] to the agent at `listenerPath`.
//!
//! The program covers the x86_64 host's three ABIs (x86_64, x86, x32); `abi` has the syscall
//! tables, `rules` reads the profile as runc does, `bpf` lays the program out (argument
//! comparisons from seccompiler).

mod abi;
mod bpf;
mod rules;

#[cfg(test)]
mod host_tests;
#[cfg(test)]
mod interp;
#[cfg(test)]
mod tests;

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag as Flag};
use seccompiler::BpfProgram;

use crate::error::{Context, Error, Result};
use crate::sys::seccomp as sys;

/// A filter ready for seccomp(2), and what goes with it.
#[derive(Debug, Clone)]
pub struct SeccompPlan {
    /// The whole program (at most 4096 instructions).
    pub program: BpfProgram,
    /// `SECCOMP_FILTER_FLAG_*` for seccomp(2), NEW_LISTENER included when a rule notifies.
    pub flags: u32,
    /// SPEC_ALLOW was not asked for but implied: the profile has no `flags`, and runc and crun
    /// then disable the speculative-store-bypass mitigation. Dropped where the kernel lacks it.
    pub implied_spec_allow: bool,
    /// Where the listener goes, when a rule notifies.
    pub listener: Option<Listener>,
    /// Names no syscall table of the filter's ABIs knows: skipped, as runc does (for a debug line).
    pub unknown_names: Vec<String>,
}

/// `listenerPath` and `listenerMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub path: PathBuf,
    pub metadata: Option<String>,
}

/// Compiles `linux.seccomp`; errors name the field (`linux.seccomp.syscalls[12].errnoRet`).
pub fn plan(seccomp: &LinuxSeccomp) -> Result<SeccompPlan> {
    if !cfg!(target_arch = "x86_64") {
        return Err(Error::spec("linux.seccomp", "rt has the syscall tables of x86_64 hosts only"));
    }
    let c = rules::compile(seccomp)?;
    let program = bpf::program(&c.groups, rules::RET_BAD_ARCH).map_err(|e| Error::spec("linux.seccomp", e))?;
    if program.len() > bpf::MAX_INSNS {
        return Err(Error::spec("linux.seccomp", format!("the filter takes {} BPF instructions, the kernel at most {}", program.len(), bpf::MAX_INSNS)));
    }
    let mut flags = 0;
    for flag in seccomp.flags().iter().flatten() {
        flags |= match flag {
            Flag::SeccompFilterFlagTsync => sys::FILTER_FLAG_TSYNC,
            Flag::SeccompFilterFlagLog => sys::FILTER_FLAG_LOG,
            Flag::SeccompFilterFlagSpecAllow => sys::FILTER_FLAG_SPEC_ALLOW,
            Flag::SeccompFilterFlagWaitKillableRecv => sys::FILTER_FLAG_WAIT_KILLABLE_RECV,
        };
    }
    let implied_spec_allow = seccomp.flags().is_none();
    if implied_spec_allow {
        flags |= sys::FILTER_FLAG_SPEC_ALLOW;
    }
    if c.notify {
        flags |= sys::FILTER_FLAG_NEW_LISTENER;
        // With a listener the return value is the fd, so TSYNC must report failure as ESRCH.
        if flags & sys::FILTER_FLAG_TSYNC != 0 {
            flags |= sys::FILTER_FLAG_TSYNC_ESRCH;
        }
    } else {
        // Only means something with a listener, and the kernel refuses it without one
        // (libseccomp leaves it out the same way).
        flags &= !sys::FILTER_FLAG_WAIT_KILLABLE_RECV;
    }
    let listener = match (c.notify, seccomp.listener_path()) {
        (true, Some(path)) => Some(Listener { path: path.clone(), metadata: seccomp.listener_metadata().clone() }),
        _ => None,
    };
    Ok(SeccompPlan { program, flags, implied_spec_allow, listener, unknown_names: c.unknown })
}

impl SeccompPlan {
    /// Loads the filter into this process with seccomp(2) (never setting no_new_privs; without
    /// it the caller needs CAP_SYS_ADMIN). Returns the notify listener when a rule notifies.
    /// Allocates nothing.
    pub fn install(&self) -> io::Result<Option<OwnedFd>> {
        match sys::set_mode_filter(self.flags, &self.program) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && self.implied_spec_allow => {
                sys::set_mode_filter(self.flags & !sys::FILTER_FLAG_SPEC_ALLOW, &self.program)
            }
            other => other,
        }
    }
}

/// runtime-spec's "container process state" for the agent: the container's process `pid` (as
/// rt sees it), `metadata` (listenerMetadata), `state` (the container's state, as `rt state`
/// prints it), and the name of the one fd that comes with it.
pub fn process_state_json(pid: i32, metadata: Option<&str>, state: &impl serde::Serialize) -> Result<Vec<u8>> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ProcessState<'a, S> {
        oci_version: &'a str,
        fds: [&'a str; 1],
        pid: i32,
        #[serde(skip_serializing_if = "Option::is_none")]
        metadata: Option<&'a str>,
        state: &'a S,
    }
    let ps = ProcessState { oci_version: crate::spec::OCI_VERSION, fds: [oci_spec::runtime::SECCOMP_FD_NAME], pid, metadata, state };
    serde_json::to_vec(&ps).map_err(|e| Error::msg(format!("seccomp process state: {e}")))
}

/// Connects to the agent at `path` (`AF_UNIX`, `SOCK_STREAM`), sends `process_state_json` with
/// the listener `fd` attached (`SCM_RIGHTS`) in one message, and closes the connection, as
/// runtime-spec asks: one state per connection.
pub fn send_listener(path: &Path, process_state_json: &[u8], fd: BorrowedFd) -> Result<()> {
    let field = || format!("linux.seccomp.listenerPath ({})", path.display());
    let sock = sys::connect_unix_stream(path).with_ctx(|| format!("{}: connect", field()))?;
    // One sendmsg: the state is far smaller than a socket buffer, so it goes in one piece.
    crate::sys::send_with_fds(std::os::fd::AsFd::as_fd(&sock), process_state_json, &[fd.as_raw_fd()])
        .with_ctx(|| format!("{}: sending the listener", field()))?;
    Ok(())
}

/// For `rt features`: what rt recognises, in runtime-spec's names.
pub fn features() -> oci_spec::runtime::Seccomp {
    use LinuxSeccompAction::*;
    let known = known_flags();
    let supported = [sys::FILTER_FLAG_TSYNC, sys::FILTER_FLAG_SPEC_ALLOW, sys::FILTER_FLAG_LOG, sys::FILTER_FLAG_WAIT_KILLABLE_RECV];
    let supported_flags = known.iter().zip(supported).filter(|(_, f)| sys::filter_flag_supported(*f)).map(|(n, _)| n.to_string()).collect();
    let mut s = oci_spec::runtime::Seccomp::default();
    s.set_enabled(Some(true));
    s.set_actions(Some(vec![
        ScmpActAllow,
        ScmpActErrno,
        ScmpActKill,
        ScmpActKillProcess,
        ScmpActKillThread,
        ScmpActLog,
        ScmpActNotify,
        ScmpActTrace,
        ScmpActTrap,
    ]));
    s.set_operators(Some(OPERATORS.map(String::from).to_vec()));
    s.set_archs(Some(vec![Arch::ScmpArchX32, Arch::ScmpArchX86, Arch::ScmpArchX86_64]));
    s.set_known_flags(Some(known.map(String::from).to_vec()));
    s.set_supported_flags(Some(supported_flags));
    s
}

const OPERATORS: [&str; 7] = ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"];

/// runc's list and order.
fn known_flags() -> [&'static str; 4] {
    ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
}
