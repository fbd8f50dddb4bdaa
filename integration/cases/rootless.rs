//! Rootless: the runtime run by an ordinary user, without capabilities (setpriv drops them with
//! the uid), on a config from `spec --rootless`. The containers' state is under the user's
//! `$XDG_RUNTIME_DIR/<runtime>` (no `--root`), as runc's is.

use super::userns::status_ids;
use crate::case;
use crate::rig::cgroups::pure_v2;
use crate::rig::cmd::{Cmd, Output};
use crate::rig::{read, rig, wait_until, Case, Ctr};
use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub fn cases() -> Vec<Case> {
    vec![
        case!(rootless_lifecycle_as_an_ordinary_user),
        case!(rootless_with_subordinate_ids_through_newuidmap).host_skip(no_uidmap_tools),
        case!(rootless_limits_it_cannot_apply_are_refused_naming_the_field),
        case!(rootless_delegated_cgroup_v2_subtree_gets_the_limits).host_skip(not_pure_v2),
    ]
}

fn no_uidmap_tools() -> Option<String> {
    // the VM lanes' /etc (the host's, through 9p) does not take useradd's writes to /etc/shadow
    if std::env::var_os("RT_VM").is_some() {
        return Some("no test account in the VM lanes (their /etc cannot take useradd's writes)".into());
    }
    ["/usr/bin/newuidmap", "/usr/bin/newgidmap", "/usr/sbin/useradd"]
        .iter()
        .find(|p| !Path::new(p).exists())
        .map(|p| format!("{p} is missing (Debian's uidmap and passwd packages)"))
}

fn not_pure_v2() -> Option<String> {
    (!pure_v2(&rig().cgroup.hiers)).then(|| "a delegated subtree needs a pure cgroup v2 host (the v2 VM lane)".into())
}

/// /etc/passwd, /etc/subuid and /etc/subgid are edited by one test at a time.
static ETC: Mutex<()> = Mutex::new(());

/// An ordinary user for one test: a uid nobody else uses, its own `$XDG_RUNTIME_DIR`, and for
/// [`User::with_subordinate_ids`] an account with /etc/subuid and /etc/subgid ranges.
/// Everything is removed again on drop.
struct User {
    uid: u32,
    name: Option<String>,
    subordinate: Option<u32>,
    xdg: PathBuf,
}

impl User {
    /// A bare uid (no account): enough for the one-id mapping rt writes itself.
    fn numeric() -> User {
        let _g = ETC.lock().unwrap_or_else(|e| e.into_inner());
        let passwd = read("/etc/passwd");
        let taken: Vec<u32> = passwd.lines().filter_map(|l| l.split(':').nth(2)?.parse().ok()).collect();
        let uid = (61000 + (rig().next() as u32 % 900)..61999).find(|u| !taken.contains(u) && !uid_has_processes(*u)).expect("a free uid in 61000..61999");
        User::with_dir(uid, None, None)
    }

    /// An account `rt-it-<uid>` (useradd) with 65536 subordinate uids and gids.
    fn with_subordinate_ids() -> User {
        let mut u = User::numeric();
        let _g = ETC.lock().unwrap_or_else(|e| e.into_inner());
        let name = format!("rt-it-{}", u.uid);
        // newuidmap insists that the caller's gid is the account's, which setpriv makes the uid
        let id = u.uid.to_string();
        let st = std::process::Command::new("groupadd").args(["--gid", &id, &name]).status().unwrap();
        assert!(st.success(), "groupadd {name}");
        u.name = Some(name.clone());
        let st = std::process::Command::new("useradd")
            .args(["--no-create-home", "--gid", &id, "--shell", "/usr/sbin/nologin", "--uid", &id, &name])
            .status()
            .unwrap();
        assert!(st.success(), "useradd {name}");
        let start = 400000 + (u.uid - 61000) * 65536;
        for f in ["/etc/subuid", "/etc/subgid"] {
            let mut t = read(f);
            if !t.is_empty() && !t.ends_with('\n') {
                t.push('\n');
            }
            t += &format!("{name}:{start}:65536\n");
            std::fs::write(f, t).unwrap();
        }
        u.subordinate = Some(start);
        u
    }

    fn with_dir(uid: u32, name: Option<String>, subordinate: Option<u32>) -> User {
        let xdg = rig().run_dir.join("misc").join(format!("xdg-{uid}"));
        std::fs::create_dir_all(&xdg).unwrap();
        std::os::unix::fs::chown(&xdg, Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700)).unwrap();
        User { uid, name, subordinate, xdg }
    }

    /// The runtime's default state root for this user.
    fn state_root(&self) -> PathBuf {
        self.xdg.join(rig().runtime.file_name().unwrap())
    }

    /// The runtime as this user, started in C's test cgroup, with no `--root`.
    fn cmd(&self, c: &Ctr) -> Cmd {
        self.cmd_in(c, c.cg.procs_files())
    }

    fn cmd_in(&self, c: &Ctr, procs: Vec<PathBuf>) -> Cmd {
        let id = self.uid.to_string();
        Cmd::new(runtime_copy())
            .wrapped(["setpriv", "--reuid", &id, "--regid", &id, "--clear-groups"].iter().map(std::ffi::OsString::from).collect())
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .env("HOME", &self.xdg)
            .in_cgroup(procs)
            .timeout(c.timeout)
    }

    fn rt(&self, c: &Ctr, args: &[&str]) -> Output {
        self.cmd(c).args(args).output_in(&c.dir)
    }

    /// `spec --rootless` as this user: the config runc's users start from.
    fn rootless_spec(&self, c: &Ctr) -> Value {
        let o = self.cmd(c).args(&["spec", "--rootless"]).cwd(&self.xdg).output_in(&c.dir);
        o.ok();
        let p = self.xdg.join("config.json");
        let v = serde_json::from_str(&read(&p)).unwrap_or_else(|e| panic!("spec --rootless wrote no JSON: {e}"));
        std::fs::remove_file(p).unwrap();
        v
    }

    /// A container of this user's: its rootfs is the user's (as an image they unpacked), its
    /// config `spec --rootless`'s with only the process changed, its state the user's.
    fn container(&self, name: &str, args: &[&str]) -> Ctr {
        let mut c = Ctr::new(name);
        c.config = self.rootless_spec(&c);
        c.set("/process/terminal", json!(false));
        c.args(args);
        c.root = self.state_root();
        c.write_config();
        let st = std::process::Command::new("chown").args(["-R", &format!("{0}:{0}", self.uid)]).arg(c.rootfs()).status().unwrap();
        assert!(st.success());
        c
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.xdg);
        if let Some(name) = &self.name {
            let _g = ETC.lock().unwrap_or_else(|e| e.into_inner());
            for f in ["/etc/subuid", "/etc/subgid"] {
                let t: String = read(f).lines().filter(|l| !l.starts_with(&format!("{name}:"))).map(|l| format!("{l}\n")).collect();
                let _ = std::fs::write(f, t);
            }
            let _ = std::process::Command::new("userdel").arg(name).status();
            let _ = std::process::Command::new("groupdel").arg(name).status();
        }
    }
}

fn uid_has_processes(uid: u32) -> bool {
    std::fs::read_dir("/proc")
        .map(|d| d.flatten().any(|e| e.metadata().is_ok_and(|m| m.is_dir() && m.uid() == uid && e.file_name().to_string_lossy().parse::<u32>().is_ok())))
        .unwrap_or(false)
}

/// The runtime binary, copied where any user may run it (the build tree may be below a
/// directory only root can enter).
fn runtime_copy() -> PathBuf {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| {
        let p = rig().run_dir.join("misc").join("rootless-bin").join(rig().runtime.file_name().unwrap());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(&rig().runtime, &p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    })
    .clone()
}

fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

fn state_of(u: &User, c: &Ctr) -> Value {
    let o = u.rt(c, &["state", &c.id]);
    o.ok();
    o.json()
}

fn rootless_lifecycle_as_an_ordinary_user() {
    let u = User::numeric();
    let c = u.container("rootless", &["/bin/sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/setgroups; grep CapEff /proc/self/status; sleep 1000"]);
    let o = u.rt(&c, &["run", "--detach", "--bundle", &c.dir.display().to_string(), &c.id]);
    o.ok();
    assert!(o.stderr.trim().is_empty(), "a rootless run without limits says nothing about cgroups: {o}");
    assert!(wait_until(Duration::from_secs(5), || o.stdout_now().lines().count() >= 4), "{}", o.stdout_now());
    let out = o.stdout_now();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "the user is root inside: {out}");
    assert_eq!(words(lines[1]), ["0", &u.uid.to_string(), "1"], "its own uid mapped to 0: {out}");
    assert_eq!(lines[2], "deny", "setgroups is denied when an unprivileged user writes the gid map: {out}");

    let st = state_of(&u, &c);
    assert_eq!(st["status"], "running");
    let pid = st["pid"].as_i64().unwrap() as i32;
    assert_eq!(status_ids(pid, "Uid:"), [u.uid; 4], "from the host the init is the user");
    let dir = u.state_root().join(&c.id);
    let m = std::fs::metadata(&dir).unwrap_or_else(|e| panic!("state under $XDG_RUNTIME_DIR: {}: {e}", dir.display()));
    assert_eq!(m.uid(), u.uid, "the state dir is the user's");

    let o = u.rt(&c, &["list"]);
    o.ok();
    let row = o.stdout.lines().find(|l| l.starts_with(&c.id)).unwrap_or_else(|| panic!("list lacks {}: {o}", c.id));
    assert_eq!(words(row)[2], "running", "{row}");
    assert_eq!(words(row).last().copied(), Some(format!("#{}", u.uid).as_str()), "owner of a uid without an account: {row}");

    let o = u.rt(&c, &["exec", &c.id, "/bin/sh", "-c", "id -u; readlink /proc/self/ns/user; readlink /proc/self/ns/pid"]);
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "0", "{o}");
    for (i, ns) in ["user", "pid"].iter().enumerate() {
        assert_eq!(lines[1 + i], std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap().display().to_string(), "exec joins the init's {ns} namespace");
    }
    u.rt(&c, &["exec", "--detach", &c.id, "/bin/sleep", "1000"]).ok();
    let o = u.rt(&c, &["ps", "--format", "json", &c.id]);
    o.ok();
    let pids: Vec<i64> = serde_json::from_str(o.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {o}"));
    assert_eq!(pids.len(), 2, "ps finds the init and the exec'd process without a cgroup: {o}");
    assert!(pids.contains(&(pid as i64)));
    let o = u.rt(&c, &["pause", &c.id]);
    o.failed().stderr_has("cgroup");

    u.rt(&c, &["delete", "--force", &c.id]).ok();
    assert!(!dir.exists(), "delete removed the state dir");
    assert!(wait_until(Duration::from_secs(5), || !crate::rig::pid_alive(pid)), "delete --force killed the init");
    c.assert_clean();
}

fn rootless_with_subordinate_ids_through_newuidmap() {
    let u = User::with_subordinate_ids();
    let sub = u.subordinate.unwrap();
    let mut c =
        u.container("rootless-subids", &["/bin/sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; touch /f; chown 1000:1000 /f"]);
    let map = json!([{"containerID": 0, "hostID": u.uid, "size": 1}, {"containerID": 1, "hostID": sub, "size": 65536}]);
    c.set("/linux/uidMappings", map.clone());
    c.set("/linux/gidMappings", map);
    c.set("/root/readonly", json!(false));
    c.caps(&["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"]);
    c.write_config();
    let o = u.rt(&c, &["run", "--bundle", &c.dir.display().to_string(), &c.id]);
    o.ok();
    let lines: Vec<Vec<&str>> = o.stdout.lines().map(words).collect();
    let uid = u.uid.to_string();
    let sub_s = sub.to_string();
    assert_eq!(lines[0], ["0", uid.as_str(), "1"], "{o}");
    assert_eq!(lines[1], ["1", sub_s.as_str(), "65536"], "the subordinate range, written by newuidmap: {o}");
    assert_eq!(lines[2], ["0", uid.as_str(), "1"], "the user's own gid (setpriv --regid) as 0: {o}");
    assert_eq!(lines[3], ["1", sub_s.as_str(), "65536"], "written by newgidmap: {o}");
    assert_eq!(lines[4], ["allow"], "newgidmap leaves setgroups allowed: {o}");
    let f = std::fs::metadata(c.rootfs().join("f")).unwrap();
    assert_eq!((f.uid(), f.gid()), (sub + 999, sub + 999), "chown 1000 inside is subordinate id 999 outside");
    assert!(!u.state_root().join(&c.id).exists(), "run removed its state");
    c.assert_clean();
}

fn rootless_limits_it_cannot_apply_are_refused_naming_the_field() {
    let u = User::numeric();
    let mut c = u.container("rootless-limits", &["/bin/true"]);
    c.set("/linux/resources/memory", json!({"limit": 64 << 20}));
    c.write_config();
    let o = u.rt(&c, &["create", "--bundle", &c.dir.display().to_string(), &c.id]);
    o.failed().stderr_has("linux.resources.memory");
    if rig().is_rt() {
        assert_eq!(o.stderr_lines().len(), 1, "one line: {o}");
    }
    assert!(!u.state_root().join(&c.id).exists(), "no state dir after the refusal");
    c.assert_clean();
}

/// A user that was delegated a cgroup v2 subtree (chowned, as systemd does for user@.service)
/// gets its container's limits applied there.
fn rootless_delegated_cgroup_v2_subtree_gets_the_limits() {
    let u = User::numeric();
    let mut c = u.container("rootless-delegated", &["/bin/sh", "-c", "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /proc/self/cgroup"]);
    let tc = c.cg.dir("unified");
    let delegated = tc.join("delegated");
    let leaf = delegated.join("runtime");
    for d in [&delegated, &leaf] {
        std::fs::create_dir(d).unwrap();
    }
    let _undo = Undelegate { tc: tc.clone(), delegated: delegated.clone() };
    let mount = c.cg.dirs.iter().find(|(h, _)| h.v2).unwrap().0.mount.clone();
    // root enables the controllers from the top down to the subtree; the user owns it from there
    let mut d = mount.clone();
    for part in delegated.strip_prefix(&mount).unwrap().components() {
        std::fs::write(d.join("cgroup.subtree_control"), "+memory +pids").unwrap_or_else(|e| panic!("enabling memory and pids in {}: {e}", d.display()));
        d.push(part);
    }
    std::fs::write(delegated.join("cgroup.subtree_control"), "+memory +pids").unwrap();
    for p in [
        delegated.clone(),
        delegated.join("cgroup.procs"),
        delegated.join("cgroup.subtree_control"),
        delegated.join("cgroup.threads"),
        leaf.clone(),
        leaf.join("cgroup.procs"),
    ] {
        std::os::unix::fs::chown(&p, Some(u.uid), Some(u.uid)).unwrap();
    }
    let rel = Path::new("/").join(delegated.strip_prefix(&mount).unwrap()).join("ctr");
    c.set("/linux/cgroupsPath", json!(rel));
    c.set("/linux/resources", json!({"memory": {"limit": 64 << 20}, "pids": {"limit": 50}}));
    c.write_config();
    let o = u.cmd_in(&c, vec![leaf.join("cgroup.procs")]).args(&["run", "--bundle", &c.dir.display().to_string(), &c.id]).output_in(&c.dir);
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], (64u64 << 20).to_string(), "memory.max inside: {o}");
    assert_eq!(lines[1], "50", "pids.max inside: {o}");
    assert!(lines[2].ends_with("/delegated/ctr") || lines[2] == "0::/", "{o}");
    assert!(!delegated.join("ctr").exists(), "run removed the container's cgroup after it exited");
}

/// Takes the delegated subtree away again before the container's own cleanup, which starts the
/// runtime in the test cgroup (not possible while controllers are enabled below it).
struct Undelegate {
    tc: PathBuf,
    delegated: PathBuf,
}

impl Drop for Undelegate {
    fn drop(&mut self) {
        for d in [self.delegated.join("ctr"), self.delegated.join("runtime"), self.delegated.clone()] {
            if d.exists() {
                crate::rig::cgroups::kill_and_remove(&d);
            }
        }
        let _ = std::fs::write(self.tc.join("cgroup.subtree_control"), "-memory -pids");
    }
}
