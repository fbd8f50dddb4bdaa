//! runtime-spec's hooks: planned (checked) with the rest of the config, then run at their
//! points of the lifecycle — `prestart` and `createRuntime` by rt once the container's
//! namespaces and mounts exist, `createContainer` by the init in the container's mount
//! namespace before pivot_root, `startContainer` by the init just before the user's program,
//! `poststart` by rt once that program runs, `poststop` by rt after delete. Each gets the
//! container's state (runtime-spec's `state`, with the status of that point) on stdin, its own
//! `args` and `env` (nothing of rt's), and is killed after its `timeout`.

use std::io::Read;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::state::Status;
use crate::sys::{self, PollFd, PollFlags};

/// The six points, in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    /// Its name in config.json.
    pub fn field(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    /// The status the state a hook of this kind reads says. runtime-spec's lifecycle: the
    /// environment is made at step 2 (`creating`), "after step 2" the container is `created`,
    /// and prestart, createRuntime and createContainer are steps 3 to 5 (as crun and
    /// runtime-tools read it; runc 1.1 says `creating` there).
    pub fn status(self) -> Status {
        match self {
            Kind::Prestart | Kind::CreateRuntime | Kind::CreateContainer | Kind::StartContainer => Status::Created,
            Kind::Poststart => Status::Running,
            Kind::Poststop => Status::Stopped,
        }
    }

    pub const ALL: [Kind; 6] = [Kind::Prestart, Kind::CreateRuntime, Kind::CreateContainer, Kind::StartContainer, Kind::Poststart, Kind::Poststop];
}

/// One hook, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub path: PathBuf,
    /// argv, `args[0]` included; `[path]` when the config gives none.
    pub args: Vec<String>,
    pub env: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// Every hook of a container, by kind. Kept in state.json too: `start` runs poststart and
/// `delete` poststop from there, since config.json may have changed since create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hooks {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prestart: Vec<Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_runtime: Vec<Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_container: Vec<Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub start_container: Vec<Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststart: Vec<Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststop: Vec<Hook>,
}

impl Hooks {
    pub fn of(&self, kind: Kind) -> &[Hook] {
        match kind {
            Kind::Prestart => &self.prestart,
            Kind::CreateRuntime => &self.create_runtime,
            Kind::CreateContainer => &self.create_container,
            Kind::StartContainer => &self.start_container,
            Kind::Poststart => &self.poststart,
            Kind::Poststop => &self.poststop,
        }
    }

    fn of_mut(&mut self, kind: Kind) -> &mut Vec<Hook> {
        match kind {
            Kind::Prestart => &mut self.prestart,
            Kind::CreateRuntime => &mut self.create_runtime,
            Kind::CreateContainer => &mut self.create_container,
            Kind::StartContainer => &mut self.start_container,
            Kind::Poststart => &mut self.poststart,
            Kind::Poststop => &mut self.poststop,
        }
    }

    /// Whether the init stops before pivot_root for rt's hooks and then runs its own.
    pub fn before_pivot(&self) -> bool {
        !(self.prestart.is_empty() && self.create_runtime.is_empty() && self.create_container.is_empty())
    }

    /// Only what `start` and `delete` still need: what state.json keeps.
    pub fn after_create(&self) -> Hooks {
        Hooks { poststart: self.poststart.clone(), poststop: self.poststop.clone(), ..Default::default() }
    }
}

/// `hooks` of config.json, checked: `path` absolute, `timeout` greater than zero.
pub fn plan(hooks: Option<&oci_spec::runtime::Hooks>) -> Result<Hooks> {
    let mut out = Hooks::default();
    let Some(h) = hooks else { return Ok(out) };
    #[allow(deprecated)]
    let lists = [
        (Kind::Prestart, h.prestart()),
        (Kind::CreateRuntime, h.create_runtime()),
        (Kind::CreateContainer, h.create_container()),
        (Kind::StartContainer, h.start_container()),
        (Kind::Poststart, h.poststart()),
        (Kind::Poststop, h.poststop()),
    ];
    for (kind, list) in lists {
        for (i, hk) in list.iter().flatten().enumerate() {
            let field = format!("hooks.{}[{i}]", kind.field());
            let path = hk.path().clone();
            if !path.is_absolute() {
                return Err(Error::spec(format!("{field}.path"), format!("{:?} is not an absolute path", path)));
            }
            let timeout_secs = match hk.timeout() {
                None => None,
                Some(t) if t > 0 => Some(t as u64),
                Some(t) => return Err(Error::spec(format!("{field}.timeout"), format!("{t}: must be greater than zero"))),
            };
            let args = match hk.args() {
                Some(a) if !a.is_empty() => a.clone(),
                _ => vec![path.display().to_string()],
            };
            out.of_mut(kind).push(Hook { path, args, env: hk.env().clone().unwrap_or_default(), timeout_secs });
        }
    }
    Ok(out)
}

/// runtime-spec's `state`, as hooks read it on stdin.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub status: Status,
    /// The init as the host sees it; left out once the container is stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    pub bundle: &'a std::path::Path,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: &'a std::collections::BTreeMap<String, String>,
}

impl HookState<'_> {
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The hooks of `kind`, in order; the first that fails ends it with an error that names it
/// (`hooks.createRuntime[1] (/usr/bin/x): exit status 3: <its last line on stderr>`).
pub fn run(hooks: &Hooks, kind: Kind, state: &str) -> Result<()> {
    for (i, h) in hooks.of(kind).iter().enumerate() {
        run_one(h, state).map_err(|why| Error::msg(format!("hooks.{}[{i}] ({}): {why}", kind.field(), h.path.display())))?;
    }
    Ok(())
}

/// The poststop way: every hook runs; the failures come back, to be warned about.
pub fn run_all(hooks: &Hooks, kind: Kind, state: &str) -> Vec<String> {
    hooks
        .of(kind)
        .iter()
        .enumerate()
        .filter_map(|(i, h)| run_one(h, state).err().map(|why| format!("hooks.{}[{i}] ({}): {why}", kind.field(), h.path.display())))
        .collect()
}

/// What a hook may print that rt keeps: enough for its last lines.
const KEEP: usize = 16 * 1024;

fn run_one(h: &Hook, state: &str) -> std::result::Result<(), String> {
    let mut cmd = Command::new(&h.path);
    if let Some((argv0, rest)) = h.args.split_first() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, argv0);
        cmd.args(rest);
    }
    cmd.env_clear().envs(h.env.iter().filter_map(|kv| kv.split_once('='))).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // rt may have signals blocked (to forward them): a hook starts with none blocked. In a
    // process group of its own, so that a timeout ends what it started too.
    sys::unblock_signals_in_child(&mut cmd);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| sys::errno_text(&e))?;
    // Written whole before anything is read: the state is small, far below a pipe's buffer,
    // and a hook that does not read it must not make rt wait.
    if let Some(stdin) = child.stdin.take() {
        let _ = sys::write_all_no_sigpipe(stdin.as_fd(), state.as_bytes());
    }
    let deadline = h.timeout_secs.map(|s| Instant::now() + Duration::from_secs(s));
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let mut err_text = Vec::new();
    let mut buf = [0u8; 4096];
    while out.is_some() || err.is_some() {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Err(timed_out(&mut child, h));
        }
        let ms = left.map_or(-1, |l| i32::try_from(l.as_millis().max(1)).unwrap_or(i32::MAX));
        let (out_ready, err_ready) = {
            let mut fds: Vec<PollFd> = Vec::with_capacity(2);
            if let Some(o) = &out {
                fds.push(PollFd::from_borrowed_fd(o.as_fd(), PollFlags::IN));
            }
            if let Some(e) = &err {
                fds.push(PollFd::from_borrowed_fd(e.as_fd(), PollFlags::IN));
            }
            sys::poll(&mut fds, ms).map_err(|e| sys::errno_text(&e))?;
            let ready = |i: usize| fds.get(i).is_some_and(|f| !f.revents().is_empty());
            match (&out, &err) {
                (Some(_), Some(_)) => (ready(0), ready(1)),
                (Some(_), None) => (ready(0), false),
                _ => (false, ready(0)),
            }
        };
        if out_ready {
            if let Some(o) = out.as_mut() {
                // what a hook prints on stdout is its own business: drained, not kept
                if matches!(o.read(&mut buf), Ok(0) | Err(_)) {
                    out = None;
                }
            }
        }
        if err_ready {
            if let Some(e) = err.as_mut() {
                match e.read(&mut buf) {
                    Ok(0) | Err(_) => err = None,
                    Ok(n) => {
                        err_text.extend_from_slice(&buf[..n]);
                        if err_text.len() > KEEP {
                            err_text.drain(..err_text.len() - KEEP);
                        }
                    }
                }
            }
        }
    }
    // Its pipes are closed; it may still run (a daemonizing hook keeps none of them open).
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if deadline.is_some_and(|d| Instant::now() >= d) => return Err(timed_out(&mut child, h)),
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(sys::errno_text(&e)),
        }
    };
    if status.success() {
        return Ok(());
    }
    let why = match (status.code(), std::os::unix::process::ExitStatusExt::signal(&status)) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s} ({})", crate::signals::name(s)),
        _ => "failed".to_owned(),
    };
    let text = String::from_utf8_lossy(&err_text);
    match text.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        Some(last) => Err(format!("{why}: {last}")),
        None => Err(why),
    }
}

/// SIGKILL to the hook's process group (itself and what it started), reaped.
fn timed_out(child: &mut std::process::Child, h: &Hook) -> String {
    let pid = child.id() as i32;
    let _ = sys::kill_group(pid, libc::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
    format!("killed after its timeout of {}s", h.timeout_secs.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks(v: serde_json::Value) -> Result<Hooks> {
        plan(Some(&serde_json::from_value(v).unwrap()))
    }

    fn hook(script: &str, timeout: Option<u64>) -> Hooks {
        Hooks {
            create_runtime: vec![Hook {
                path: "/bin/sh".into(),
                args: vec!["sh".into(), "-c".into(), script.into()],
                env: vec!["A=1".into()],
                timeout_secs: timeout,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn planned_and_checked() {
        let h = hooks(
            serde_json::json!({"prestart": [{"path": "/bin/true"}], "poststop": [{"path": "/bin/echo", "args": ["echo", "x"], "env": ["K=v"], "timeout": 3}]}),
        )
        .unwrap();
        assert_eq!(h.prestart[0].args, ["/bin/true"]);
        assert_eq!(h.poststop[0], Hook { path: "/bin/echo".into(), args: vec!["echo".into(), "x".into()], env: vec!["K=v".into()], timeout_secs: Some(3) });
        assert!(h.before_pivot());
        assert_eq!(h.after_create().prestart.len(), 0);
        let e = hooks(serde_json::json!({"createRuntime": [{"path": "/bin/true"}, {"path": "bin/x"}]})).unwrap_err().to_string();
        assert_eq!(e, "hooks.createRuntime[1].path: \"bin/x\" is not an absolute path");
        let e = hooks(serde_json::json!({"poststart": [{"path": "/bin/true", "timeout": 0}]})).unwrap_err().to_string();
        assert_eq!(e, "hooks.poststart[0].timeout: 0: must be greater than zero");
        assert!(!hooks(serde_json::json!({"poststart": [{"path": "/bin/true"}]})).unwrap().before_pivot());
    }

    #[test]
    fn a_hook_reads_the_state_and_only_its_env() {
        let dir = std::env::temp_dir().join(format!("rt-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("seen");
        let h = hook(&format!("cat > {0}; echo >> {0}; env >> {0}", out.display()), Some(5));
        run(&h, Kind::CreateRuntime, "{\"id\":\"c1\"}").unwrap();
        let seen = std::fs::read_to_string(&out).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(seen.starts_with("{\"id\":\"c1\"}\n"), "{seen}");
        assert!(seen.contains("A=1"), "{seen}");
        assert!(!seen.contains("HOME="), "rt's environment leaked into the hook: {seen}");
    }

    #[test]
    fn failures_name_the_hook_and_its_last_words() {
        let e = run(&hook("echo first >&2; echo 'no network for you' >&2; exit 3", None), Kind::CreateRuntime, "{}").unwrap_err().to_string();
        assert_eq!(e, "hooks.createRuntime[0] (/bin/sh): exit status 3: no network for you");
        let e = run(&hook("kill -9 $$", None), Kind::CreateRuntime, "{}").unwrap_err().to_string();
        assert_eq!(e, "hooks.createRuntime[0] (/bin/sh): killed by signal 9 (SIGKILL)");
        let missing =
            Hooks { poststop: vec![Hook { path: "/nonexistent/hook".into(), args: vec!["x".into()], env: vec![], timeout_secs: None }], ..Default::default() };
        assert_eq!(run_all(&missing, Kind::Poststop, "{}"), ["hooks.poststop[0] (/nonexistent/hook): no such file or directory"]);
    }

    #[test]
    fn a_hook_past_its_timeout_is_killed() {
        let started = Instant::now();
        let e = run(&hook("sleep 30", Some(1)), Kind::CreateRuntime, "{}").unwrap_err().to_string();
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert_eq!(e, "hooks.createRuntime[0] (/bin/sh): killed after its timeout of 1s");
        // one that closes its stdio and goes on is still timed
        let e = run(&hook("exec >/dev/null 2>&1; sleep 30", Some(1)), Kind::CreateRuntime, "{}").unwrap_err().to_string();
        assert!(e.ends_with("killed after its timeout of 1s"), "{e}");
    }

    #[test]
    fn state_shape() {
        let ann = std::collections::BTreeMap::new();
        let s = HookState { oci_version: "1.3.0", id: "c", status: Status::Creating, pid: Some(7), bundle: std::path::Path::new("/b"), annotations: &ann };
        assert_eq!(s.json(), r#"{"ociVersion":"1.3.0","id":"c","status":"creating","pid":7,"bundle":"/b"}"#);
    }
}
