//! cgroups of the test run, always below the test process's own cgroup.
//!
//! At start the run creates `rt-it-<pid>` below its own cgroup in every mounted hierarchy (each
//! v1 controller, name=systemd, and the cgroup2 dir) and moves itself in. Each container then
//! gets a *test cgroup* `rt-it-<pid>/<id>` that every runtime call for it starts in (the child
//! moves itself there between fork and exec), so that a relative or absent `cgroupsPath` lands
//! at `rt-it-<pid>/<id>/<path>`, and after the test that subtree must be empty again.
//!
//! A sandboxed test cgroup additionally runs each runtime call in a new cgroup namespace rooted
//! at the test cgroup, with the hierarchies mounted again on a private tmpfs over /sys/fs/cgroup
//! (as ../../shared/tools/cgroup-sandbox does): there an absolute `cgroupsPath` "/x" lands at
//! `<test cgroup>/x`, and the runtime itself runs one level down, in `<test cgroup>/inner`, so a
//! relative path ("inner/x") is told apart from an absolute one.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Hierarchy {
    /// Where it is mounted, e.g. /sys/fs/cgroup/cpu.
    pub mount: PathBuf,
    pub v2: bool,
    /// v1: the controllers and name= of the hierarchy ("cpu", "name=systemd"); v2: empty.
    pub controllers: Vec<String>,
    /// Our own cgroup in it, from /proc/self/cgroup ("/" or "/process_api/<id>").
    pub own: String,
}

impl Hierarchy {
    /// A short name: "cpu", "name=systemd", "unified" (the cgroup2 mount).
    pub fn key(&self) -> String {
        if self.v2 {
            "unified".into()
        } else {
            self.controllers.join(",")
        }
    }

    pub fn own_dir(&self) -> PathBuf {
        join(&self.mount, &self.own)
    }
}

/// `base` + an absolute cgroup path.
pub fn join(base: &Path, cg: &str) -> PathBuf {
    let rel = cg.trim_start_matches('/');
    if rel.is_empty() {
        base.to_path_buf()
    } else {
        base.join(rel)
    }
}

/// The cgroup hierarchies mounted below /sys/fs/cgroup and our place in each.
pub fn discover() -> io::Result<Vec<Hierarchy>> {
    let known: Vec<String> = fs::read_to_string("/proc/cgroups")?.lines().skip(1).filter_map(|l| l.split_whitespace().next().map(str::to_string)).collect();
    let own_lines = fs::read_to_string("/proc/self/cgroup")?;
    let mut out = Vec::new();
    for line in fs::read_to_string("/proc/self/mountinfo")?.lines() {
        let Some((pre, post)) = line.split_once(" - ") else { continue };
        let f: Vec<&str> = pre.split(' ').collect();
        let p: Vec<&str> = post.split(' ').collect();
        if f.len() < 5 || p.len() < 3 {
            continue;
        }
        let (root, mp, fstype, sopts) = (f[3], f[4], p[0], p[2]);
        if !mp.starts_with("/sys/fs/cgroup") || (fstype != "cgroup" && fstype != "cgroup2") {
            continue;
        }
        if root != "/" {
            return Err(io::Error::other(format!("cgroup mount {mp} has root {root}: run the suite outside a cgroup namespace")));
        }
        let v2 = fstype == "cgroup2";
        let mut controllers: Vec<String> =
            if v2 { vec![] } else { sopts.split(',').filter(|o| o.starts_with("name=") || known.iter().any(|k| k == o)).map(str::to_string).collect() };
        controllers.sort();
        let own = own_lines
            .lines()
            .find_map(|l| {
                let mut it = l.splitn(3, ':');
                let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
                let mut c: Vec<&str> = ctrls.split(',').filter(|s| !s.is_empty()).collect();
                c.sort();
                let matches = if v2 { ctrls.is_empty() } else { !c.is_empty() && c.join(",") == controllers.join(",") };
                matches.then(|| path.to_string())
            })
            .ok_or_else(|| io::Error::other(format!("no line for the hierarchy at {mp} in /proc/self/cgroup")))?;
        out.push(Hierarchy { mount: PathBuf::from(mp), v2, controllers, own });
    }
    if out.is_empty() {
        return Err(io::Error::other("no cgroup hierarchy mounted below /sys/fs/cgroup"));
    }
    Ok(out)
}

/// mkdir DIR; on a v1 cpuset hierarchy copy cpuset.cpus/mems from the parent (a new cpuset
/// cgroup starts empty and takes no processes).
fn make_cgroup(dir: &Path) -> io::Result<()> {
    fs::create_dir(dir).map_err(|e| io::Error::new(e.kind(), format!("mkdir {}: {e}", dir.display())))?;
    let cpus = dir.join("cpuset.cpus");
    if cpus.exists() && !dir.join("cgroup.controllers").exists() {
        let parent = dir.parent().unwrap();
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let v = fs::read_to_string(parent.join(f))?;
            fs::write(dir.join(f), v.trim()).map_err(|e| io::Error::new(e.kind(), format!("write {}/{f}: {e}", dir.display())))?;
        }
    }
    Ok(())
}

fn procs(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// The sub-directories below DIR, deepest first.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(subdirs(&e.path()));
                out.push(e.path());
            }
        }
    }
    out
}

fn describe_pid(pid: i32) -> String {
    let cmd = fs::read(format!("/proc/{pid}/cmdline")).map(|b| String::from_utf8_lossy(&b).replace('\0', " ").trim().to_string()).unwrap_or_default();
    format!("pid {pid} ({cmd})")
}

/// Kill (SIGKILL, by pid) every process in DIR and below, thawing v1 freezer cgroups first,
/// then remove the directories bottom-up. Returns what could not be removed.
pub fn kill_and_remove(dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    if !dir.exists() {
        return problems;
    }
    let mut all = subdirs(dir);
    all.push(dir.to_path_buf());
    for round in 0..50 {
        let mut any = false;
        for d in &all {
            let st = d.join("freezer.state");
            if st.exists() {
                let _ = fs::write(&st, "THAWED");
            }
            for pid in procs(d) {
                if pid != std::process::id() as i32 {
                    any = true;
                    // SAFETY: plain kill of a pid found in a cgroup this run created.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        if !any || round == 49 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for d in &all {
        for _ in 0..50 {
            match fs::remove_dir(d) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
        if d.exists() {
            problems.push(format!("could not remove cgroup {}", d.display()));
        }
    }
    problems
}

/// What is in DIR's subtree that should not be: processes and directories not in ALLOWED.
fn leftovers_in(dir: &Path, allowed: &[PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    let me = std::process::id() as i32;
    for pid in procs(dir) {
        if pid != me {
            out.push(format!("{} still in cgroup {}", describe_pid(pid), dir.display()));
        }
    }
    for d in subdirs(dir) {
        if allowed.iter().any(|a| a == &d) {
            for pid in procs(&d).into_iter().filter(|&p| p != me) {
                out.push(format!("{} still in cgroup {}", describe_pid(pid), d.display()));
            }
            continue;
        }
        let ps: Vec<String> = procs(&d).into_iter().filter(|&p| p != me).map(describe_pid).collect();
        out.push(format!("cgroup {} left behind{}", d.display(), if ps.is_empty() { String::new() } else { format!(" with {}", ps.join(", ")) }));
    }
    out
}

/// Remove what earlier runs that were killed (Ctrl-C, a closed pipe) left: `<prefix><pid>`
/// cgroups below our own cgroup whose pid is gone, killing the processes in them (containers
/// those runs started). Returns what was cleaned.
pub fn clean_stale_runs(prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(hiers) = discover() else { return out };
    for h in &hiers {
        for e in fs::read_dir(h.own_dir()).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(prefix).and_then(|p| p.parse::<i32>().ok()) else { continue };
            if Path::new(&format!("/proc/{pid}")).exists() {
                continue; // a run in progress
            }
            let problems = kill_and_remove(&e.path());
            out.push(format!("stale cgroup {}{}", e.path().display(), if problems.is_empty() { String::new() } else { format!(": {}", problems.join("; ")) }));
        }
    }
    out
}

/// The run's own cgroup, `rt-it-<pid>` below ours in every hierarchy.
///
/// On a pure cgroup v2 host this process sits in the leaf `rt-it-<pid>/runner` instead of
/// `rt-it-<pid>` itself: v2's no-internal-processes rule allows controllers to be enabled in a
/// cgroup's `cgroup.subtree_control` only while no process is in it, and the containers'
/// cgroups below `rt-it-<pid>` need them.
pub struct RunCgroup {
    pub name: String,
    pub hiers: Vec<Hierarchy>,
}

/// The leaf the runner sits in on a pure v2 host (see [`RunCgroup`]).
pub const RUNNER_LEAF: &str = "runner";

/// Only a cgroup2 hierarchy is mounted (the v2 VM lane; most current distributions).
pub fn pure_v2(hiers: &[Hierarchy]) -> bool {
    hiers.iter().all(|h| h.v2)
}

impl RunCgroup {
    /// Create the run cgroup everywhere and move this process into it.
    pub fn create(name: &str) -> io::Result<RunCgroup> {
        let hiers = discover()?;
        let rc = RunCgroup { name: name.to_string(), hiers };
        for h in &rc.hiers {
            let d = rc.dir(h);
            if d.exists() {
                // a leftover of an earlier run with the same pid: clean it
                kill_and_remove(&d);
            }
            if let Err(e) = make_cgroup(&d) {
                rc.remove();
                return Err(e);
            }
        }
        for h in &rc.hiers {
            let home = rc.home(h);
            if home != rc.dir(h) {
                if let Err(e) = make_cgroup(&home) {
                    rc.remove();
                    return Err(e);
                }
            }
            let procs = home.join("cgroup.procs");
            if let Err(e) = fs::write(&procs, std::process::id().to_string()) {
                rc.remove();
                return Err(io::Error::new(e.kind(), format!("moving the test process into {}: {e}", procs.display())));
            }
        }
        Ok(rc)
    }

    pub fn dir(&self, h: &Hierarchy) -> PathBuf {
        h.own_dir().join(&self.name)
    }

    /// Where this process sits in hierarchy H: the run cgroup, or its runner leaf on pure v2.
    pub fn home(&self, h: &Hierarchy) -> PathBuf {
        if pure_v2(&self.hiers) {
            self.dir(h).join(RUNNER_LEAF)
        } else {
            self.dir(h)
        }
    }

    /// Processes and cgroups left in the run cgroup (other than this process).
    pub fn leftovers(&self) -> Vec<String> {
        self.hiers
            .iter()
            .flat_map(|h| {
                let home = self.home(h);
                let allowed = if home != self.dir(h) { vec![home] } else { vec![] };
                leftovers_in(&self.dir(h), &allowed)
            })
            .collect()
    }

    /// Move this process back to where it was, kill what is left inside, remove the cgroups.
    pub fn remove(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for h in &self.hiers {
            let _ = fs::write(h.own_dir().join("cgroup.procs"), std::process::id().to_string());
        }
        for h in &self.hiers {
            problems.extend(kill_and_remove(&self.dir(h)));
        }
        problems
    }
}

/// The cgroup of one container's test: every runtime call for it starts here.
pub struct TestCgroup {
    /// (hierarchy, directory) pairs.
    pub dirs: Vec<(Hierarchy, PathBuf)>,
    /// Sandboxed: runtime calls run in a cgroup namespace rooted here, from `inner/`.
    pub sandboxed: bool,
}

impl TestCgroup {
    pub fn create(run: &RunCgroup, name: &str, sandboxed: bool) -> io::Result<TestCgroup> {
        let mut tc = TestCgroup { dirs: vec![], sandboxed };
        for h in &run.hiers {
            let d = run.dir(h).join(name);
            make_cgroup(&d)?;
            tc.dirs.push((h.clone(), d.clone()));
            if sandboxed {
                make_cgroup(&d.join("inner"))?;
            }
        }
        Ok(tc)
    }

    /// The cgroup.procs files a runtime call writes itself into before exec.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|(_, d)| d.join("cgroup.procs")).collect()
    }

    /// The test cgroup's directory in the hierarchy with controller CTRL ("memory", "pids",
    /// "name=systemd", or "unified" for the cgroup2 mount).
    pub fn dir(&self, ctrl: &str) -> PathBuf {
        self.dirs
            .iter()
            .find(|(h, _)| if ctrl == "unified" { h.v2 } else { h.controllers.iter().any(|c| c == ctrl) })
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("no cgroup hierarchy with {ctrl}"))
    }

    pub fn has(&self, ctrl: &str) -> bool {
        self.dirs.iter().any(|(h, _)| if ctrl == "unified" { h.v2 } else { h.controllers.iter().any(|c| c == ctrl) })
    }

    /// What the runtime left in the test cgroup's subtree.
    pub fn leftovers(&self) -> Vec<String> {
        self.dirs
            .iter()
            .flat_map(|(_, d)| {
                let allowed = if self.sandboxed { vec![d.join("inner")] } else { vec![] };
                leftovers_in(d, &allowed)
            })
            .collect()
    }

    /// Kill whatever is left (our processes), remove the cgroups.
    pub fn remove(&self) -> Vec<String> {
        self.dirs.iter().flat_map(|(_, d)| kill_and_remove(d)).collect()
    }

    /// The wrapper that runs a runtime call in the sandbox: new cgroup + mount namespaces
    /// (unshare), the hierarchies mounted again on a private tmpfs, then into `inner/`.
    pub fn sandbox_wrapper(&self) -> Vec<OsString> {
        let mut script = String::from("set -e\nmount -t tmpfs -o mode=755,nosuid,nodev,noexec rt-it-cgroups /sys/fs/cgroup\n");
        for (h, _) in &self.dirs {
            let mp = h.mount.display();
            if h.v2 {
                script += &format!("mkdir -p {mp}\nmount -t cgroup2 -o nosuid,nodev,noexec cgroup2 {mp}\n");
            } else {
                let mut opts = h.controllers.clone();
                if opts.iter().all(|o| o.starts_with("name=")) {
                    opts.insert(0, "none".into());
                }
                script += &format!("mkdir -p {mp}\nmount -t cgroup -o nosuid,nodev,noexec,{} cgroup {mp}\n", opts.join(","));
            }
        }
        for (h, _) in &self.dirs {
            script += &format!("echo $$ > {}/inner/cgroup.procs\n", h.mount.display());
        }
        script += "exec \"$@\"\n";
        ["unshare", "--cgroup", "--mount", "--propagation", "private", "/bin/sh", "-c", &script, "sh"].iter().map(OsString::from).collect()
    }
}
