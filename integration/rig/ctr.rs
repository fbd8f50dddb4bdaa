//! One container of a test: its bundle, id, test cgroup, the runtime verbs, and the guard that
//! cleans up (even when the test panics) and checks that nothing was left behind.

use super::cgroups::TestCgroup;
use super::cmd::{Cmd, Output, Running};
use super::probe::Probe;
use super::{rig, wait_until};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// The default config.json: `runc spec`'s, with terminal off, a writable root, the probe as the
/// process and hostname "rt-test".
pub const DEFAULT_CONFIG: &str = include_str!("default_config.json");

pub struct Ctr {
    pub id: String,
    /// The bundle directory (config.json, rootfs/, and the runtime calls' output files).
    pub dir: PathBuf,
    pub config: Value,
    pub cg: TestCgroup,
    /// The `--root` state dir (the run's, unless [`Ctr::private_root`]).
    pub root: PathBuf,
    pub timeout: Duration,
    /// Written as config.json instead of `config` when set (for malformed configs).
    pub raw_config: Option<String>,
    /// Cgroup names a runtime might wrongly create at a hierarchy's root or at our own cgroup
    /// instead of below the test cgroup (the id, plus what a test adds): checked and removed.
    pub stray_names: Vec<String>,
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "_+.-".contains(c) { c } else { '-' }).collect()
}

impl Ctr {
    /// A container with a fresh bundle and a unique id `<name>-<n>`.
    pub fn new(name: &str) -> Ctr {
        Self::make(name, false)
    }

    /// Like [`Ctr::new`], but every runtime call runs in a cgroup namespace rooted at the test
    /// cgroup with the hierarchies mounted again (see cgroups.rs): for absolute cgroupsPaths.
    pub fn sandboxed(name: &str) -> Ctr {
        Self::make(name, true)
    }

    fn make(name: &str, sandboxed: bool) -> Ctr {
        let r = rig();
        let id = format!("{}-{}", sanitize(name), r.next());
        let dir = r.run_dir.join("bundles").join(&id);
        std::fs::create_dir_all(&dir).unwrap();
        let cp = std::process::Command::new("cp").arg("-a").arg(&r.rootfs).arg(dir.join("rootfs")).status().unwrap();
        assert!(cp.success(), "copying the rootfs template {} failed", r.rootfs.display());
        let cg = TestCgroup::create(&r.cgroup, &id, sandboxed).unwrap_or_else(|e| panic!("creating the test cgroup for {id}: {e}"));
        let config = serde_json::from_str(DEFAULT_CONFIG).unwrap();
        let stray_names = vec![id.clone()];
        Ctr { id, dir, config, cg, root: r.state_root.clone(), timeout: super::cmd::DEFAULT_TIMEOUT, raw_config: None, stray_names }
    }

    /// Use a state dir of this test's own (for `list`, which shows every container of a root):
    /// `<run dir>/roots/<id>`, outside any bundle so that other containers can share it.
    pub fn private_root(&mut self) -> &mut Self {
        self.root = rig().run_dir.join("roots").join(&self.id);
        self
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// The container's state dir.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(&self.id)
    }

    // -----------------------------------------------------------------------------------------
    // config.json edits

    /// Replace the value at JSON pointer PTR ("/process/args"), creating objects on the way.
    pub fn set(&mut self, ptr: &str, v: Value) -> &mut Self {
        let mut cur = &mut self.config;
        for part in ptr.trim_start_matches('/').split('/') {
            let part = part.replace("~1", "/").replace("~0", "~");
            if let Value::Array(a) = cur {
                let i: usize = part.parse().unwrap_or_else(|_| panic!("{ptr}: {part} is not an index"));
                cur = &mut a[i];
                continue;
            }
            if !cur.is_object() {
                *cur = json!({});
            }
            cur = cur.as_object_mut().unwrap().entry(part).or_insert(Value::Null);
        }
        *cur = v;
        self
    }

    /// The value at PTR (Null when absent).
    pub fn get(&self, ptr: &str) -> Value {
        self.config.pointer(ptr).cloned().unwrap_or(Value::Null)
    }

    /// Remove the value at PTR (an object member or an array element).
    pub fn remove(&mut self, ptr: &str) -> &mut Self {
        let (parent, last) = ptr.rsplit_once('/').unwrap();
        if let Some(p) = self.config.pointer_mut(if parent.is_empty() { "" } else { parent }) {
            match p {
                Value::Object(m) => {
                    m.remove(last);
                }
                Value::Array(a) => {
                    if let Ok(i) = last.parse::<usize>() {
                        if i < a.len() {
                            a.remove(i);
                        }
                    }
                }
                _ => {}
            }
        }
        self
    }

    /// Append V to the array at PTR (created if absent).
    pub fn push(&mut self, ptr: &str, v: Value) -> &mut Self {
        if !self.get(ptr).is_array() {
            self.set(ptr, json!([]));
        }
        self.config.pointer_mut(ptr).unwrap().as_array_mut().unwrap().push(v);
        self
    }

    /// process.args
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.set("/process/args", json!(args))
    }

    /// `/bin/sh -c SCRIPT`
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["/bin/sh", "-c", script])
    }

    /// process.args = ["/bin/probe", SUB...]
    pub fn probe_args(&mut self, sub: &[&str]) -> &mut Self {
        let mut a = vec!["/bin/probe"];
        a.extend_from_slice(sub);
        self.args(&a)
    }

    /// Add "K=V" to process.env.
    pub fn env(&mut self, kv: &str) -> &mut Self {
        self.push("/process/env", json!(kv))
    }

    /// Append a mount.
    pub fn mount(&mut self, m: Value) -> &mut Self {
        self.push("/mounts", m)
    }

    /// Index of the mount with DESTINATION in config.mounts.
    pub fn mount_index(&self, destination: &str) -> Option<usize> {
        self.get("/mounts").as_array()?.iter().position(|m| m["destination"] == destination)
    }

    /// Add namespace KIND (or give it PATH), replacing an existing entry of that type.
    pub fn ns(&mut self, kind: &str, path: Option<&str>) -> &mut Self {
        self.no_ns(kind);
        let mut v = json!({ "type": kind });
        if let Some(p) = path {
            v["path"] = json!(p);
        }
        self.push("/linux/namespaces", v)
    }

    /// Remove namespace KIND.
    pub fn no_ns(&mut self, kind: &str) -> &mut Self {
        if let Some(a) = self.config.pointer_mut("/linux/namespaces").and_then(Value::as_array_mut) {
            a.retain(|n| n["type"] != kind);
        }
        self
    }

    /// Set all five capability sets to CAPS.
    pub fn caps(&mut self, caps: &[&str]) -> &mut Self {
        for set in ["bounding", "effective", "permitted", "inheritable", "ambient"] {
            self.set(&format!("/process/capabilities/{set}"), json!(caps));
        }
        self
    }

    pub fn write_config(&self) {
        let text = match &self.raw_config {
            Some(raw) => raw.clone(),
            None => serde_json::to_string_pretty(&self.config).unwrap(),
        };
        std::fs::write(self.dir.join("config.json"), text).unwrap();
    }

    // -----------------------------------------------------------------------------------------
    // runtime calls

    /// The runtime with `--root`, started in this container's test cgroup (and sandbox).
    pub fn cmd(&self) -> Cmd {
        let mut c = Cmd::new(&rig().runtime).arg("--root").arg(&self.root).in_cgroup(self.cg.procs_files()).timeout(self.timeout);
        if self.cg.sandboxed {
            c = c.wrapped(self.cg.sandbox_wrapper());
        }
        c
    }

    /// Run the runtime with ARGS (after `--root`) to completion.
    pub fn rt(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output_in(&self.dir)
    }

    /// Start the runtime with ARGS, not waiting.
    pub fn spawn(&self, args: &[&str]) -> Running {
        self.cmd().args(args).spawn_in(&self.dir)
    }

    fn with_bundle<'a>(&'a self, verb: &'a str, extra: &[&'a str], bundle: &'a str) -> Vec<&'a str> {
        let mut a = vec![verb];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["--bundle", bundle, &self.id]);
        a
    }

    /// `run --bundle DIR ID` in the foreground: the container's exit code and output.
    pub fn run(&self) -> Output {
        self.run_with(&[])
    }

    /// `run EXTRA... --bundle DIR ID`
    pub fn run_with(&self, extra: &[&str]) -> Output {
        self.write_config();
        let b = self.dir.to_string_lossy().into_owned();
        self.rt(&self.with_bundle("run", extra, &b))
    }

    /// `run` in the background (foreground mode, not waited for).
    pub fn spawn_run(&self) -> Running {
        self.write_config();
        let b = self.dir.to_string_lossy().into_owned();
        self.spawn(&self.with_bundle("run", &[], &b))
    }

    /// `create --bundle DIR ID`. The container's stdout/stderr are this call's output files.
    pub fn create(&self) -> Output {
        self.create_with(&[])
    }

    pub fn create_with(&self, extra: &[&str]) -> Output {
        self.write_config();
        let b = self.dir.to_string_lossy().into_owned();
        self.rt(&self.with_bundle("create", extra, &b))
    }

    pub fn start(&self) -> Output {
        self.rt(&["start", &self.id])
    }

    pub fn state(&self) -> Output {
        self.rt(&["state", &self.id])
    }

    /// `state ID` parsed; asserts success.
    #[track_caller]
    pub fn state_json(&self) -> Value {
        let o = self.state();
        o.ok();
        o.json()
    }

    /// The status from `state` ("created", "running", "stopped"), or "" when state fails.
    pub fn status(&self) -> String {
        let o = self.state();
        if o.code != 0 {
            return String::new();
        }
        o.json()["status"].as_str().unwrap_or("").to_string()
    }

    /// Wait until `state` reports STATUS.
    #[track_caller]
    pub fn wait_status(&self, status: &str, timeout: Duration) {
        let mut last = String::new();
        let ok = wait_until(timeout, || {
            last = self.status();
            last == status
        });
        assert!(ok, "{}: status is {last:?}, expected {status:?} within {timeout:?}", self.id);
    }

    /// The init's pid as `state` reports it.
    #[track_caller]
    pub fn pid(&self) -> i32 {
        self.state_json()["pid"].as_i64().unwrap_or(0) as i32
    }

    pub fn kill(&self, sig: &str) -> Output {
        self.rt(&["kill", &self.id, sig])
    }

    pub fn delete(&self) -> Output {
        self.rt(&["delete", &self.id])
    }

    pub fn delete_force(&self) -> Output {
        self.rt(&["delete", "--force", &self.id])
    }

    /// Run the probe (`/bin/probe` with no arguments, unless process.args already starts with
    /// /bin/probe) and parse its report; asserts that the container exits 0.
    #[track_caller]
    pub fn probe(&mut self) -> Probe {
        if self.get("/process/args/0") != "/bin/probe" {
            self.args(&["/bin/probe"]);
        }
        let o = self.run();
        o.ok();
        Probe::new(o.json())
    }

    /// Run `/bin/probe SUB...` and return its JSON whatever the exit code.
    #[track_caller]
    pub fn probe_sub(&mut self, sub: &[&str]) -> Value {
        self.probe_args(sub);
        let o = self.run();
        assert!(o.code == 0 || o.code == 1, "probe {sub:?} failed to run: {o}");
        o.json()
    }

    /// Run several probe subcommands in one container (`sh -c 'probe A; probe B; ...'`) and
    /// return their JSON results in order. The container's exit code is not checked.
    #[track_caller]
    pub fn probe_many(&mut self, cmds: &[&[&str]]) -> Vec<Value> {
        let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let script: Vec<String> = cmds.iter().map(|c| format!("/bin/probe {}", c.iter().map(|a| q(a)).collect::<Vec<_>>().join(" "))).collect();
        self.sh(&script.join("; "));
        let o = self.run();
        let vals: Vec<Value> = o.stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        assert_eq!(vals.len(), cmds.len(), "expected {} probe results: {o}", cmds.len());
        vals
    }

    // -----------------------------------------------------------------------------------------
    // cleanliness

    /// What this container left behind: its state dir, processes or cgroups in its test cgroup,
    /// mounts that mention its bundle.
    pub fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.state_dir().exists() {
            out.push(format!("state dir {} left behind", self.state_dir().display()));
        }
        out.extend(self.cg.leftovers());
        out.extend(self.strays().into_iter().map(|d| format!("cgroup {} made outside the test cgroup", d.display())));
        out.extend(super::leftovers::mounts_under(&self.dir));
        out
    }

    /// Cgroups named after this container at a hierarchy's root or at the suite's own cgroup
    /// (where a runtime that ignores its own cgroup would put them).
    fn strays(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for (h, _) in &self.cg.dirs {
            for base in [h.mount.clone(), h.own_dir()] {
                for n in &self.stray_names {
                    let d = base.join(n);
                    if d.exists() && !out.contains(&d) {
                        out.push(d);
                    }
                }
            }
        }
        out
    }

    /// leftovers(), given up to 3 s to settle (a process killed a moment ago may still be
    /// exiting).
    pub fn settled_leftovers(&self) -> Vec<String> {
        let mut l = self.leftovers();
        let end = std::time::Instant::now() + Duration::from_secs(3);
        while !l.is_empty() && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
            l = self.leftovers();
        }
        l
    }

    /// Assert that nothing was left behind (after a failed create, or after delete).
    #[track_caller]
    pub fn assert_clean(&self) {
        let l = self.settled_leftovers();
        assert!(l.is_empty(), "{} left behind:\n  {}", self.id, l.join("\n  "));
    }

    pub fn host_path(&self, in_rootfs: &str) -> PathBuf {
        self.rootfs().join(in_rootfs.trim_start_matches('/'))
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        // delete --force: a no-op for a container that is gone, else kills and removes it.
        let c = self.cmd().args(&["delete", "--force", &self.id]).timeout(Duration::from_secs(20));
        let mut problems = Vec::new();
        match c.try_spawn_in(&self.dir).map(|r| r.finish()) {
            Ok(Some(_)) => {}
            Ok(None) => problems.push(format!("`{}` timed out", c.display())),
            Err(e) => problems.push(e),
        }
        problems.extend(self.settled_leftovers());
        // clean up regardless (our processes and cgroups, our mounts, our files)
        let mut more = self.cg.remove();
        for d in self.strays() {
            more.extend(super::cgroups::kill_and_remove(&d));
        }
        more.extend(super::leftovers::unmount_under(&self.dir));
        if self.state_dir().exists() {
            let _ = std::fs::remove_dir_all(self.state_dir());
        }
        if std::env::var_os("RT_TEST_KEEP").is_none() {
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                more.push(format!("removing bundle {}: {e}", self.dir.display()));
            }
        }
        if !problems.is_empty() || !more.is_empty() {
            let msg = format!("{} left behind (cleaned up now):\n  {}", self.id, problems.iter().chain(more.iter()).cloned().collect::<Vec<_>>().join("\n  "));
            if std::thread::panicking() {
                eprintln!("{msg}");
            } else {
                panic!("{msg}");
            }
        }
    }
}
