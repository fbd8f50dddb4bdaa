//! The test rig: what every integration test stands on.
//!
//! - [`Rig`] (one per run, from [`rig()`]): the runtime under test, the rootfs template, the run
//!   directory with the shared `--root` state dir, and the run cgroup.
//! - [`Ctr`]: one container: a fresh bundle (copy of the rootfs template + config.json), a unique
//!   id, its own test cgroup that every runtime call for it starts in, the runtime verbs, and a
//!   Drop guard that deletes it, checks that nothing was left behind and removes the bundle.
//! - [`Probe`]: the parsed JSON report of `/bin/probe` inside a container.
//! - [`Case`]: a named test plus whether it applies to runtimes other than rt.

pub mod cgroups;
pub mod cmd;
pub mod ctr;
pub mod leftovers;
pub mod probe;

pub use cmd::{Cmd, Output};
pub use ctr::Ctr;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Which runtime the suite drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// rt itself: every test applies.
    Rt,
    /// another runtime (runc): rt-only tests are skipped, with their reason shown.
    Other(String),
}

pub struct Rig {
    pub runtime: PathBuf,
    pub kind: Kind,
    /// First line of `--version`.
    pub version: String,
    pub rootfs: PathBuf,
    /// Everything of this run lives here: `state/` (the `--root`), `bundles/`, `misc/`.
    pub run_dir: PathBuf,
    pub state_root: PathBuf,
    pub cgroup: cgroups::RunCgroup,
}

static RIG: OnceLock<Rig> = OnceLock::new();
static SEQ: AtomicU64 = AtomicU64::new(0);

/// A number unique within this run (ids, file names).
pub fn rig_seq() -> u64 {
    SEQ.fetch_add(1, Ordering::SeqCst) + 1
}

/// The run's rig; set up by main before any test runs.
pub fn rig() -> &'static Rig {
    RIG.get().expect("rig not set up")
}

pub fn install(r: Rig) {
    if RIG.set(r).is_err() {
        panic!("rig set up twice");
    }
}

impl Rig {
    /// EXPLICIT: the runtime was named by RT_TEST_RUNTIME (else it is the rt cargo built).
    pub fn new(runtime: PathBuf, explicit: bool, rootfs: PathBuf, run_dir: PathBuf, cgroup: cgroups::RunCgroup) -> Rig {
        let version = Cmd::new(&runtime).arg("--version").timeout(Duration::from_secs(10)).output_in(&run_dir.join("misc")).stdout;
        let first = version.lines().next().unwrap_or("").to_string();
        let kind = if !explicit || first.starts_with("rt version") || runtime.file_name() == Some("rt".as_ref()) {
            Kind::Rt
        } else {
            Kind::Other(first.split_whitespace().next().unwrap_or("unknown").to_string())
        };
        Rig { state_root: run_dir.join("state"), runtime, kind, version: first, rootfs, run_dir, cgroup }
    }

    pub fn is_rt(&self) -> bool {
        self.kind == Kind::Rt
    }

    /// A number unique within this run.
    pub fn next(&self) -> u64 {
        rig_seq()
    }

    pub fn misc_dir(&self) -> PathBuf {
        self.run_dir.join("misc")
    }

    /// The runtime with `--root <state dir>`, not tied to a container (runs in the run cgroup).
    pub fn rt(&self) -> Cmd {
        Cmd::new(&self.runtime).arg("--root").arg(&self.state_root)
    }

    /// Run the runtime with `--root` and ARGS, outside any container's cgroup.
    pub fn rt_out(&self, args: &[&str]) -> Output {
        self.rt().args(args).output_in(&self.misc_dir())
    }
}

/// Whether a test applies to every runtime or only to rt.
#[derive(Clone, Copy, Debug)]
pub enum Only {
    All,
    /// An rt extra that runc does not have (the positional bundle path, `--version` lines,
    /// field-path error messages).
    Rt(&'static str),
    /// Behaviour the issue asks of rt where runc 1.1.5 lacks the feature or is wrong.
    RuncLacks(&'static str),
}

pub struct Case {
    pub name: String,
    pub f: Box<dyn FnOnce() + Send>,
    pub only: Only,
    /// What this host must have for the test to mean anything (a cgroup controller, a kernel
    /// file): checked when the test is about to run; `Some(reason)` skips it with the reason
    /// printed, for every runtime.
    pub host: Option<fn() -> Option<String>>,
}

impl Case {
    pub fn new(module: &str, name: &str, f: fn()) -> Case {
        Self::closure(module, name, f)
    }

    /// A case from a closure (for tests generated from a table).
    pub fn closure(module: &str, name: &str, f: impl FnOnce() + Send + 'static) -> Case {
        let module = module.rsplit("::").next().unwrap_or(module);
        Case { name: format!("{module}::{name}"), f: Box::new(f), only: Only::All, host: None }
    }

    /// Skipped, with the reason CHECK returns, on a host that lacks what the test needs
    /// (`Some("no net_cls controller on this host")`). CHECK runs once the rig is set up, right
    /// before the test.
    pub fn host_skip(mut self, check: fn() -> Option<String>) -> Case {
        self.host = Some(check);
        self
    }

    /// An rt extra: skipped (with REASON shown) when the runtime is not rt.
    pub fn rt_only(mut self, reason: &'static str) -> Case {
        self.only = Only::Rt(reason);
        self
    }

    /// runc 1.1.5 lacks this or gets it wrong: skipped (with REASON shown) when not rt.
    pub fn runc_lacks(mut self, reason: &'static str) -> Case {
        self.only = Only::RuncLacks(reason);
        self
    }

    /// Why this case is skipped for the runtime under test, if it is.
    pub fn skip_reason(&self, kind: &Kind) -> Option<String> {
        if *kind == Kind::Rt || std::env::var_os("RT_TEST_FORCE_ALL").is_some() {
            return None;
        }
        match self.only {
            Only::All => None,
            Only::Rt(r) => Some(format!("rt-only: {r}")),
            Only::RuncLacks(r) => Some(format!("runc lacks: {r}")),
        }
    }
}

/// `case!(f)` names the test `<module>::f`.
#[macro_export]
macro_rules! case {
    ($f:ident) => {
        $crate::rig::Case::new(module_path!(), stringify!($f), $f)
    };
}

/// Poll COND every 20 ms until it returns true or TIMEOUT passes; false on timeout.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Read a file to a string, or "" when it cannot be read.
pub fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Is the process PID alive (and not a zombie)?
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            // state is the field after the parenthesised comm
            let state = s.rsplit_once(')').map(|(_, r)| r.trim_start().chars().next().unwrap_or('?')).unwrap_or('?');
            state != 'Z' && state != 'X'
        }
        Err(_) => false,
    }
}
