//! Running the runtime (or anything else) with a timeout.
//!
//! stdout and stderr go to files, not pipes: a container started by `create` or `run --detach`
//! inherits them and may hold them open long after the runtime exits, so the rig waits for the
//! runtime process itself and reads the files afterwards. A command that outlives its timeout is
//! killed (by pid; it is our child) and reported.

use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    timeout: Duration,
    /// cgroup.procs files (one per hierarchy) the child moves itself into before exec.
    cgroup_procs: Vec<PathBuf>,
    /// Prefix: run through this wrapper (program + args) after the cgroup move.
    wrapper: Vec<OsString>,
}

impl Cmd {
    pub fn new(program: impl AsRef<Path>) -> Cmd {
        Cmd { program: program.as_ref().to_path_buf(), args: vec![], env: vec![], cwd: None, timeout: DEFAULT_TIMEOUT, cgroup_procs: vec![], wrapper: vec![] }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    pub fn args<S: AsRef<OsStr>>(mut self, a: &[S]) -> Cmd {
        self.args.extend(a.iter().map(|s| s.as_ref().to_os_string()));
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Cmd {
        self.env.push((k.as_ref().to_os_string(), v.as_ref().to_os_string()));
        self
    }

    pub fn cwd(mut self, d: impl AsRef<Path>) -> Cmd {
        self.cwd = Some(d.as_ref().to_path_buf());
        self
    }

    pub fn timeout(mut self, t: Duration) -> Cmd {
        self.timeout = t;
        self
    }

    pub fn in_cgroup(mut self, procs: Vec<PathBuf>) -> Cmd {
        self.cgroup_procs = procs;
        self
    }

    pub fn wrapped(mut self, wrapper: Vec<OsString>) -> Cmd {
        self.wrapper = wrapper;
        self
    }

    /// The command line as a person would type it (for messages).
    pub fn display(&self) -> String {
        let mut parts: Vec<String> = vec![self.program.display().to_string()];
        parts.extend(self.args.iter().map(|a| {
            let s = a.to_string_lossy();
            if s.is_empty() || s.contains(' ') {
                format!("'{s}'")
            } else {
                s.into_owned()
            }
        }));
        parts.join(" ")
    }

    fn command(&self) -> Command {
        let mut c = if self.wrapper.is_empty() {
            let mut c = Command::new(&self.program);
            c.args(&self.args);
            c
        } else {
            let mut c = Command::new(&self.wrapper[0]);
            c.args(&self.wrapper[1..]).arg(&self.program).args(&self.args);
            c
        };
        c.stdin(Stdio::null());
        c.env_remove("NOTIFY_SOCKET");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        if let Some(d) = &self.cwd {
            c.current_dir(d);
        }
        // The runtime starts the way a shell or an engine starts it: every signal at its
        // default and none blocked (this test process ignores some), so that what a container
        // sees of its signal state is the runtime's doing.
        // SAFETY: the closure runs between fork and exec and only calls signal and
        // sigprocmask, which are async-signal-safe.
        unsafe {
            c.pre_exec(|| {
                // the raw call: glibc's signal() refuses its own signals 32 and 33
                #[repr(C)]
                struct KernelSigaction {
                    handler: usize,
                    flags: u64,
                    restorer: usize,
                    mask: u64,
                }
                let dfl = KernelSigaction { handler: libc::SIG_DFL, flags: 0, restorer: 0, mask: 0 };
                for sig in 1..=64 {
                    if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                        libc::syscall(libc::SYS_rt_sigaction, sig, &dfl as *const KernelSigaction, std::ptr::null_mut::<KernelSigaction>(), 8);
                    }
                }
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                Ok(())
            });
        }
        if !self.cgroup_procs.is_empty() {
            let files: Vec<CString> = self.cgroup_procs.iter().map(|p| CString::new(p.as_os_str().as_bytes()).unwrap()).collect();
            // SAFETY: the closure runs between fork and exec; it only calls open/write/close
            // (async-signal-safe) on paths prepared before the fork.
            unsafe {
                c.pre_exec(move || {
                    for f in &files {
                        let fd = libc::open(f.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                        if fd < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        // "0" moves the writing process itself
                        let n = libc::write(fd, b"0".as_ptr().cast(), 1);
                        let e = std::io::Error::last_os_error();
                        libc::close(fd);
                        if n != 1 {
                            return Err(e);
                        }
                    }
                    Ok(())
                });
            }
        }
        c
    }

    /// Start the command with stdout/stderr going to fresh files in DIR.
    pub fn spawn_in(&self, dir: &Path) -> Running {
        self.try_spawn_in(dir).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like spawn_in, never panics.
    pub fn try_spawn_in(&self, dir: &Path) -> Result<Running, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let n = super::rig_seq();
        let out_path = dir.join(format!("cmd{n}.out"));
        let err_path = dir.join(format!("cmd{n}.err"));
        let mut c = self.command();
        c.stdout(File::create(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?);
        c.stderr(File::create(&err_path).map_err(|e| format!("{}: {e}", err_path.display()))?);
        let child = c.spawn().map_err(|e| format!("cannot start `{}`: {e}", self.display()))?;
        Ok(Running { child: Some(child), cmdline: self.display(), out_path, err_path, started: Instant::now(), timeout: self.timeout })
    }

    /// Run to completion (or timeout), output files in DIR.
    pub fn output_in(&self, dir: &Path) -> Output {
        self.spawn_in(dir).wait()
    }
}

/// A command that is running; killed (by pid) if dropped while still running.
pub struct Running {
    child: Option<Child>,
    pub cmdline: String,
    pub out_path: PathBuf,
    pub err_path: PathBuf,
    started: Instant,
    timeout: Duration,
}

impl Running {
    /// Wait for the command, up to its timeout from when it started.
    pub fn wait(mut self) -> Output {
        let deadline = self.started + self.timeout;
        self.wait_until(deadline)
    }

    pub fn wait_for(mut self, t: Duration) -> Output {
        let deadline = Instant::now() + t;
        self.wait_until(deadline)
    }

    /// Wait up to the timeout; never panics (for Drop guards). None on timeout (then killed).
    pub fn finish(mut self) -> Option<Output> {
        let deadline = self.started + self.timeout;
        let mut child = self.child.take()?;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(self.output(status)),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
    }

    /// What the finished command left: its status and its captured output.
    fn output(&self, status: ExitStatus) -> Output {
        Output {
            cmdline: self.cmdline.clone(),
            code: status.code().unwrap_or(-1),
            signal: status.signal(),
            stdout: std::fs::read_to_string(&self.out_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.err_path).unwrap_or_default(),
            out_path: self.out_path.clone(),
            err_path: self.err_path.clone(),
        }
    }

    fn wait_until(&mut self, deadline: Instant) -> Output {
        let mut child = self.child.take().expect("waited twice");
        let mut timed_out = false;
        let status: ExitStatus = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() >= deadline => {
                    timed_out = true;
                    let _ = child.kill();
                    break child.wait().unwrap();
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("waiting for `{}`: {e}", self.cmdline),
            }
        };
        let out = self.output(status);
        if timed_out {
            panic!("timed out after {:?}, killed: {out}", self.timeout);
        }
        out
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Ok(None) = c.try_wait() {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

/// What a finished command left.
#[derive(Clone, Debug)]
pub struct Output {
    pub cmdline: String,
    /// The exit code, or -1 when killed by a signal.
    pub code: i32,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub out_path: PathBuf,
    pub err_path: PathBuf,
}

impl Output {
    /// Assert exit 0.
    #[track_caller]
    pub fn ok(&self) -> &Output {
        assert_eq!(self.code, 0, "expected success: {self}");
        self
    }

    /// Assert exit CODE.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Output {
        assert_eq!(self.code, code, "expected exit code {code}: {self}");
        self
    }

    /// Assert exit 1 (a failed command) with something on stderr.
    #[track_caller]
    pub fn failed(&self) -> &Output {
        assert_eq!(self.code, 1, "expected the command to fail with exit code 1: {self}");
        assert!(!self.stderr.trim().is_empty(), "expected an error message on stderr: {self}");
        self
    }

    /// Assert that stderr contains S (case-sensitive).
    #[track_caller]
    pub fn stderr_has(&self, s: &str) -> &Output {
        assert!(self.stderr.contains(s), "expected stderr to contain {s:?}: {self}");
        self
    }

    /// The content of the stdout file now (a container started by `create` keeps writing there).
    pub fn stdout_now(&self) -> String {
        std::fs::read_to_string(&self.out_path).unwrap_or_default()
    }

    /// stdout parsed as JSON (the last line that parses, for probe output after other text).
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        parse_json(&self.stdout).unwrap_or_else(|| panic!("expected JSON on stdout: {self}"))
    }

    /// The non-empty lines of stderr.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| !l.trim().is_empty()).collect()
    }
}

pub fn parse_json(s: &str) -> Option<serde_json::Value> {
    if let Ok(v) = serde_json::from_str(s.trim()) {
        return Some(v);
    }
    s.lines().rev().find_map(|l| serde_json::from_str(l.trim()).ok())
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match self.signal {
            Some(s) => format!("killed by signal {s}"),
            None => format!("exited {}", self.code),
        };
        write!(f, "`{}` {how}\n--- stdout ---\n{}\n--- stderr ---\n{}", self.cmdline, clip(&self.stdout), clip(&self.stderr))
    }
}

fn clip(s: &str) -> String {
    if s.len() > 4000 {
        format!("{}... ({} bytes)", &s[..s.char_indices().take_while(|(i, _)| *i < 4000).last().map(|(i, _)| i).unwrap_or(0)], s.len())
    } else {
        s.to_string()
    }
}
