//! Behaving like runc where its users depend on it (issue 15): setups that real workloads build
//! (pod cgroups made by hand, images with odd /dev, /proc, /sys and /tmp, `--no-pivot`, a
//! cgroup shared by two containers, frozen cgroups), each asserting what the container's
//! process (or the caller) sees. runc 1.1.15 is the reference; where Debian's runc 1.1.5
//! differs, the test says so.

use super::cgroups_util::{dir, is_v2, v2_path};
use crate::case;
use crate::rig::{read, rig, Case, Ctr};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        case!(sys_symlink_in_the_image_is_refused),
        case!(proc_symlink_in_the_image_is_refused),
        case!(readonly_dev_tmpfs_is_filled_then_readonly),
        case!(readonly_tmpfs_is_readonly_and_copied_up),
        case!(tmpfs_keeps_the_mode_of_the_covered_directory),
        case!(tmpfs_mode_option_wins_over_the_covered_directory)
            .runc_lacks("runc 1.1.5 chmods the tmpfs to the covered directory's mode after mounting, even over mode="),
        case!(tmpfs_on_a_new_directory_is_1777).runc_lacks("runc 1.1.5 creates the directory 0755 first and then gives the tmpfs that mode"),
        case!(cwd_the_user_cannot_reach_is_entered_before_the_user_switch),
        case!(exec_cwd_the_user_cannot_reach_is_entered_before_the_user_switch),
        case!(no_pivot_userns_cannot_mount_procfs_or_sysfs),
        case!(no_pivot_leaves_only_the_mounts_the_rootfs_sits_on)
            .host_skip(no_listmount)
            .runc_lacks("runc 1.1.5 detaches only the host's procfs and sysfs under --no-pivot; the rest of the old root stays in the namespace, hidden"),
        case!(list_json_keys_in_runcs_order),
        case!(cgroup_v1_cpuset_parents_made_by_hand_are_filled).host_skip(no_v1_cpuset),
        case!(cgroup_shared_with_another_container_warns_and_deletes),
        case!(cgroup_frozen_before_create_is_refused).host_skip(no_freezer),
        case!(cgroup_frozen_through_its_parent_is_refused)
            .host_skip(no_freezer)
            .runc_lacks("runc 1.1.5 counts a cgroup frozen through its parent as thawed, then waits forever on the frozen init"),
        case!(cgroup_frozen_during_create_ends_it_in_bounded_time)
            .host_skip(no_freezer)
            .runc_lacks("runc 1.1.5 waits forever on an init frozen after its check"),
    ]
}

/// The rootfs's DIR replaced by a symlink to a real directory next to it.
fn symlink_in_image(c: &Ctr, name: &str) {
    let p = c.host_path(name);
    if p.exists() {
        std::fs::remove_dir_all(&p).unwrap();
    }
    std::fs::create_dir_all(c.host_path(&format!("real{name}"))).unwrap();
    std::os::unix::fs::symlink(format!("real{name}"), &p).unwrap();
}

/// An image whose /sys is a symlink: runc refuses to mount sysfs through it (it used to be a
/// way to mount sysfs, or procfs, somewhere the masks do not reach).
fn sys_symlink_in_the_image_is_refused() {
    let mut c = Ctr::new("syslink");
    symlink_in_image(&c, "sys");
    c.args(&["/bin/true"]);
    let o = c.run();
    // logfmt escapes the quotes: `filesystem \"sysfs\" must be ...`
    o.failed().stderr_has(r#"filesystem \"sysfs\" must be mounted on ordinary directory"#);
    assert!(std::fs::read_dir(c.host_path("realsys")).unwrap().next().is_none(), "something was mounted at the symlink's target");
    c.assert_clean();
}

/// The same for /proc.
fn proc_symlink_in_the_image_is_refused() {
    let mut c = Ctr::new("proclink");
    symlink_in_image(&c, "proc");
    c.args(&["/bin/true"]);
    let o = c.run();
    o.failed().stderr_has(r#"filesystem \"proc\" must be mounted on ordinary directory"#);
    c.assert_clean();
}

/// `"options": ["ro", ...]` on the /dev tmpfs: the default nodes, /dev/pts, /dev/shm,
/// /dev/mqueue and the links are all there, and /dev itself is read-only once the process
/// runs (the mounts below it keep their own flags).
fn readonly_dev_tmpfs_is_filled_then_readonly() {
    let mut c = Ctr::new("rodev");
    let i = c.mount_index("/dev").expect("no /dev mount in the default config");
    let mut opts: Vec<Value> = c.get(&format!("/mounts/{i}/options")).as_array().cloned().unwrap_or_default();
    opts.insert(0, json!("ro"));
    c.set(&format!("/mounts/{i}/options"), Value::Array(opts));
    let r = c.probe_many(&[&["info"], &["write", "/dev/new-file"], &["write", "/dev/shm/x"]]);
    let mounts = r[0]["mounts"].as_array().unwrap();
    let at = |mp: &str| mounts.iter().rev().find(|m| m["mount_point"] == mp).unwrap_or_else(|| panic!("no mount at {mp}: {mounts:?}"));
    assert!(at("/dev")["options"].as_array().unwrap().contains(&json!("ro")), "/dev is not read-only: {}", at("/dev"));
    for sub in ["/dev/pts", "/dev/shm", "/dev/mqueue"] {
        assert!(at(sub)["options"].as_array().unwrap().contains(&json!("rw")), "{sub}: {}", at(sub));
    }
    let dev = r[0]["dev"].to_string();
    for node in ["null", "zero", "full", "random", "urandom", "tty", "ptmx", "fd", "stdin"] {
        assert!(dev.contains(&format!("\"/dev/{node}\"")), "/dev/{node} missing: {dev}");
    }
    assert_eq!(r[1]["error"], "EROFS", "{}", r[1]);
    assert!(r[2].get("error").is_none(), "/dev/shm should stay writable: {}", r[2]);
}

/// A read-only tmpfs elsewhere, with tmpcopyup (Podman's volumes): filled with the image's
/// files first, read-only once the process runs.
fn readonly_tmpfs_is_readonly_and_copied_up() {
    let mut c = Ctr::new("rotmpfs");
    std::fs::create_dir_all(c.host_path("data")).unwrap();
    std::fs::write(c.host_path("data/kept"), "from the image").unwrap();
    c.mount(json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "nosuid", "tmpcopyup"]}));
    let r = c.probe_many(&[&["read", "/data/kept"], &["write", "/data/new"]]);
    assert_eq!(r[0]["content"], "from the image", "{}", r[0]);
    assert_eq!(r[1]["error"], "EROFS", "{}", r[1]);
}

/// The mode of what each path is in the container, by `probe stat`.
fn modes(c: &mut Ctr, paths: &[&str]) -> Vec<String> {
    let mut args = vec!["stat"];
    args.extend_from_slice(paths);
    let v = c.probe_sub(&args);
    v.as_array().unwrap_or_else(|| panic!("{v}")).iter().map(|s| s["mode"].as_str().unwrap_or_else(|| panic!("{s}")).to_string()).collect()
}

/// An image directory of the given mode.
fn image_dir(c: &Ctr, name: &str, mode: u32) {
    let p = c.host_path(name);
    std::fs::create_dir_all(&p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A tmpfs without `mode=` over a directory of the image keeps that directory's mode, special
/// bits included (a `drwsrwsrwt` /tmp stays so, a 0710 directory stays 0710).
fn tmpfs_keeps_the_mode_of_the_covered_directory() {
    let mut c = Ctr::new("tmpfsmode");
    image_dir(&c, "tmp", 0o7777);
    image_dir(&c, "private", 0o710);
    c.mount(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}));
    c.mount(json!({"destination": "/private", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}));
    assert_eq!(modes(&mut c, &["/tmp", "/private"]), ["7777", "0710"]);
}

/// With `mode=`, the option wins (runc 1.1.15).
fn tmpfs_mode_option_wins_over_the_covered_directory() {
    let mut c = Ctr::new("tmpfsmodeopt");
    image_dir(&c, "private", 0o710);
    c.mount(json!({"destination": "/private", "type": "tmpfs", "source": "tmpfs", "options": ["mode=755"]}));
    assert_eq!(modes(&mut c, &["/private"]), ["0755"]);
}

/// A destination the image lacks gets a tmpfs of tmpfs's own default mode (runc 1.1.15).
fn tmpfs_on_a_new_directory_is_1777() {
    let mut c = Ctr::new("tmpfsnew");
    c.mount(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs"}));
    assert_eq!(modes(&mut c, &["/scratch"]), ["1777"]);
}

/// `list --format json`: each container's keys in runc's order (ociVersion, id, pid, status,
/// bundle, rootfs, created, annotations, owner), the order `state` has; scripts match the line.
fn list_json_keys_in_runcs_order() {
    let mut c = Ctr::new("listorder");
    c.private_root();
    c.set("/annotations", json!({"b": "2", "a": "1"}));
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    let o = c.rt(&["list", "--format", "json"]);
    o.ok();
    let line = o.stdout.trim();
    let keys = ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "annotations", "owner"];
    let at: Vec<usize> = keys.iter().map(|k| line.find(&format!("\"{k}\":")).unwrap_or_else(|| panic!("no {k}: {line}"))).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "keys out of runc's order: {line}");
    assert!(line.starts_with(r#"[{"ociVersion":"#), "{line}");
    let v: Value = serde_json::from_str(line).unwrap();
    assert_eq!(v[0]["id"], c.id.as_str());
    assert_eq!(v[0]["owner"], "root");
    c.delete_force().ok();
    c.assert_clean();
}

/// The image's /root, 0700 and root's.
fn private_root_dir(c: &Ctr) {
    image_dir(c, "root", 0o700);
}

/// `process.cwd` that the process's user may not enter (uid 42, `/root` 0700): runc enters it
/// before switching to the user (and again after only if that was refused), so the process
/// starts there, and finds out only when it reads it.
fn cwd_the_user_cannot_reach_is_entered_before_the_user_switch() {
    let mut c = Ctr::new("cwdroot");
    private_root_dir(&c);
    c.set("/process/cwd", json!("/root"));
    c.set("/process/user", json!({"uid": 42, "gid": 42}));
    let r = c.probe_many(&[&["info"], &["ls", "."]]);
    assert_eq!(r[0]["cwd"], "/root", "{}", r[0]);
    assert_eq!(r[0]["uid"]["effective"], 42);
    assert_eq!(r[1]["error"], "EACCES", "{}", r[1]);
}

/// The same for `exec --cwd --user`.
fn exec_cwd_the_user_cannot_reach_is_entered_before_the_user_switch() {
    let mut c = Ctr::new("execcwdroot");
    private_root_dir(&c);
    c.args(&["/bin/sleep", "60"]);
    c.run_with(&["--detach"]).ok();
    let o = c.rt(&["exec", "--cwd", "/root", "--user", "42:42", &c.id, "/bin/probe"]);
    o.ok();
    let p = o.json();
    assert_eq!(p["cwd"], "/root", "{p}");
    assert_eq!(p["uid"]["effective"], 42);
}

/// A process in the container makes a user namespace of its own (CAP_SETFCAP is what lets it
/// map root in there, since Linux 5.12) and asks for a fresh procfs and sysfs. The kernel
/// allows that only where a full one is visible in the mount namespace already; the
/// container's own are masked, so under pivot_root both fail with EPERM. With `--no-pivot`
/// the host's mounts must not stay in the namespace either (runc 1.1.5 detaches the host's
/// procfs and sysfs there).
fn no_pivot_userns_cannot_mount_procfs_or_sysfs() {
    for flags in [&[][..], &["--no-pivot"][..]] {
        let mut c = Ctr::new(if flags.is_empty() { "userns-pivot" } else { "userns-nopivot" });
        c.caps(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP"]);
        c.sh("unshare -mrf true && echo USERNS-OK; \
              unshare -mrpf sh -c 'mount -t proc none /proc' && echo PROC-MOUNTED; \
              unshare -mrnf sh -c 'mount -t sysfs none /sys' && echo SYSFS-MOUNTED; true");
        let o = c.run_with(flags);
        o.ok();
        assert!(o.stdout.contains("USERNS-OK"), "{flags:?}: no user namespace could be made, the test means nothing: {o}");
        assert!(!o.stdout.contains("PROC-MOUNTED"), "{flags:?}: a user namespace in the container mounted a fresh procfs: {o}");
        assert!(!o.stdout.contains("SYSFS-MOUNTED"), "{flags:?}: a user namespace in the container mounted a fresh sysfs: {o}");
        assert!(o.stderr.contains("permission denied"), "{flags:?}: {o}");
    }
}

/// listmount(2) and statmount(2) (Linux 6.8; the namespace id, 6.11): every mount of a mount
/// namespace, reachable from its processes or not, as (old mount id, mount point relative to
/// the namespace's root, filesystem type).
fn all_mounts_of(pid: i32) -> std::io::Result<Vec<(u32, String, String)>> {
    use std::os::fd::AsRawFd;
    const NS_GET_MNTNS_ID: libc::c_ulong = 0x8008_b705;
    const LSMT_ROOT: u64 = u64::MAX;
    const STATMOUNT_MNT_BASIC: u64 = 0x2;
    const STATMOUNT_MNT_POINT: u64 = 0x10;
    const STATMOUNT_FS_TYPE: u64 = 0x20;
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))?;
    let mut ns_id = 0u64;
    // SAFETY: the ioctl writes one u64 through the pointer, which outlives the call.
    if unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_MNTNS_ID, &mut ns_id) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // struct mnt_id_req (MNT_ID_REQ_SIZE_VER1): size, spare, mnt_id, param, mnt_ns_id
    let req = |id: u64, param: u64| -> [u64; 4] { [32, id, param, ns_id] };
    let mut ids = vec![0u64; 4096];
    let r = req(LSMT_ROOT, 0);
    // SAFETY: the request and the id buffer are live for the call; the length is the buffer's.
    let n = unsafe { libc::syscall(458, r.as_ptr(), ids.as_mut_ptr(), ids.len(), 0) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16384];
    for &id in &ids[..n as usize] {
        let r = req(id, STATMOUNT_MNT_BASIC | STATMOUNT_MNT_POINT | STATMOUNT_FS_TYPE);
        // SAFETY: as above; the kernel writes at most buf.len() bytes.
        if unsafe { libc::syscall(457, r.as_ptr(), buf.as_mut_ptr(), buf.len(), 0) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let u32_at = |off: usize| u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap());
        // strings live after the 512-byte fixed part, each named by its offset
        let str_at = |off: u32| {
            let s = &buf[512 + off as usize..];
            String::from_utf8_lossy(&s[..s.iter().position(|&b| b == 0).unwrap_or(0)]).into_owned()
        };
        out.push((u32_at(56), str_at(u32_at(108)), str_at(u32_at(36))));
    }
    Ok(out)
}

/// listmount/statmount on a foreign namespace need Linux 6.11.
fn no_listmount() -> Option<String> {
    all_mounts_of(std::process::id() as i32).err().map(|e| format!("listmount/statmount of a namespace by id: {e} (Linux 6.11+)"))
}

/// What stays of the host's mount tree in a `--no-pivot` container's namespace: only the
/// mounts its rootfs sits on (the host's / and, say, /tmp), covered by it. Every other one is
/// detached before the move; the host side lists the whole namespace (listmount), the ones
/// the container can reach are in its mountinfo.
fn no_pivot_leaves_only_the_mounts_the_rootfs_sits_on() {
    let mut c = Ctr::new("nopivotmnt");
    c.args(&["/bin/sleep", "60"]);
    c.run_with(&["--detach", "--no-pivot"]).ok();
    let pid = c.pid();
    let visible: Vec<u32> = read(format!("/proc/{pid}/mountinfo")).lines().filter_map(|l| l.split(' ').next()?.parse().ok()).collect();
    let all = all_mounts_of(pid).unwrap();
    assert!(all.len() > visible.len() / 2, "listmount saw {} mounts, the container {}", all.len(), visible.len());
    let rootfs = std::fs::canonicalize(c.rootfs()).unwrap();
    let hidden: Vec<&(u32, String, String)> = all.iter().filter(|(id, _, _)| !visible.contains(id)).collect();
    let stray: Vec<_> = hidden.iter().filter(|(_, mp, _)| !rootfs.starts_with(mp)).collect();
    assert!(stray.is_empty(), "mounts of the host left in the container's namespace: {stray:?}");
    assert!(!hidden.is_empty(), "the host's / should still be under the rootfs");
    c.delete_force().ok();
    c.assert_clean();
}

fn no_v1_cpuset() -> Option<String> {
    let v1 = rig().cgroup.hiers.iter().any(|h| !h.v2 && h.controllers.iter().any(|c| c == "cpuset"));
    (!v1).then(|| "no v1 cpuset hierarchy on this host".into())
}

/// A pod cgroup made with a plain mkdir in a v1 cpuset hierarchy has empty `cpuset.cpus` and
/// `cpuset.mems`, and then no child can have any: runc fills every empty directory on the way
/// down from the nearest ancestor that has them, before making the container's.
fn cgroup_v1_cpuset_parents_made_by_hand_are_filled() {
    let mut c = Ctr::new("cgcpusetpod");
    let base = c.cg.dir("cpuset");
    let pod = base.join("pod");
    std::fs::create_dir_all(pod.join("sub")).unwrap();
    assert_eq!(read(pod.join("cpuset.cpus")).trim(), "", "a new cpuset cgroup should start empty");
    c.set("/linux/cgroupsPath", json!("pod/sub/ctr"));
    c.sh("cat /proc/self/cgroup");
    let o = c.run();
    o.ok();
    assert!(o.stdout.lines().any(|l| l.ends_with("/pod/sub/ctr") && l.contains(":cpuset:")), "{o}");
    for d in [&pod, &pod.join("sub")] {
        for f in ["cpuset.cpus", "cpuset.mems"] {
            assert_eq!(read(d.join(f)).trim(), read(base.join(f)).trim(), "{}/{f}", d.display());
        }
    }
    // what the runtimes leave of the parents (runc too) is the test's to remove
    for (_, d) in &c.cg.dirs {
        for sub in ["pod/sub/ctr", "pod/sub", "pod"] {
            let _ = std::fs::remove_dir(d.join(sub));
        }
    }
    c.assert_clean();
}

/// Two containers in one cgroup (both calls made from the first one's test cgroup, with the
/// same relative cgroupsPath; on pure v2 one absolute path): the second's create warns, as
/// runc does, and its `delete --force` returns at once, exit 0, with the container gone and a
/// warning that its cgroup could not be removed; the first one runs on.
fn cgroup_shared_with_another_container_warns_and_deletes() {
    let mut a = Ctr::new("cgshared-a");
    let mut b = Ctr::new("cgshared-b");
    let path = if is_v2() { v2_path(&a) } else { "shared".to_string() };
    for c in [&mut a, &mut b] {
        c.set("/linux/cgroupsPath", json!(path));
        c.args(&["/bin/sleep", "60"]);
        c.write_config();
    }
    let run = |c: &Ctr| a.cmd().args(&["run", "--detach", "--bundle", &c.dir.to_string_lossy(), &c.id]).output_in(&c.dir);
    run(&a).ok();
    let o = run(&b);
    o.ok().stderr_has("container's cgroup is not empty");
    let t = Instant::now();
    let o = b.delete_force();
    let took = t.elapsed();
    o.ok().stderr_has("device or resource busy");
    assert!(took < Duration::from_secs(3), "delete --force took {took:?}: {o}");
    assert_ne!(b.state().code, 0, "the container is still known after delete --force");
    assert_eq!(a.status(), "running", "deleting the other container stopped this one");
    a.delete_force().ok();
    b.assert_clean();
    a.assert_clean();
}

fn no_freezer() -> Option<String> {
    let v1 = rig().cgroup.hiers.iter().any(|h| !h.v2 && h.controllers.iter().any(|c| c == "freezer"));
    (!v1 && !is_v2()).then(|| "no v1 freezer and not pure cgroup v2".into())
}

/// The freezer file of cgroup DIR (v1 freezer hierarchy or pure v2) and its frozen and thawed
/// values.
fn freezer_file(dir: &std::path::Path) -> (PathBuf, &'static str, &'static str) {
    if is_v2() {
        (dir.join("cgroup.freeze"), "1", "0")
    } else {
        (dir.join("freezer.state"), "FROZEN", "THAWED")
    }
}

/// A cgroup the test made and froze, thawed and removed when dropped.
struct Frozen(PathBuf);

impl Frozen {
    fn make(dir: PathBuf) -> Frozen {
        std::fs::create_dir_all(&dir).unwrap();
        let (f, on, _) = freezer_file(&dir);
        std::fs::write(&f, on).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        Frozen(dir)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let (f, _, off) = freezer_file(&self.0);
        let _ = std::fs::write(f, off);
        // a runtime may have left a child in it (rt never does: the test's checks say so)
        if let Ok(rd) = std::fs::read_dir(&self.0) {
            for e in rd.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
                let _ = std::fs::remove_dir(e.path());
            }
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// The container's cgroup exists and is FROZEN (v1 freezer.state; v2 cgroup.freeze 1):
/// create fails at once with runc's words and leaves nothing behind, not even a process
/// frozen in it; the cgroup the test made is left as it was.
fn cgroup_frozen_before_create_is_refused() {
    let mut c = super::cgroups_util::ctr("cgfrozen");
    c.args(&["/bin/sleep", "60"]);
    let frozen = Frozen::make(dir(&c, "freezer"));
    c.timeout = Duration::from_secs(30);
    let t = Instant::now();
    let o = c.create();
    o.failed().stderr_has("container's cgroup unexpectedly frozen");
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
    assert!(frozen.0.is_dir(), "the cgroup the test made was removed");
    assert_eq!(read(frozen.0.join("cgroup.procs")).trim(), "", "a process was left in the frozen cgroup");
    drop(frozen);
    c.assert_clean();
}

/// The same when the container's cgroup is new but its parent (a pod's) is frozen: the init
/// could not run there either.
fn cgroup_frozen_through_its_parent_is_refused() {
    let mut c = super::cgroups_util::ctr("cgfrozenpod");
    c.args(&["/bin/sleep", "60"]);
    let pod = if is_v2() {
        let p = PathBuf::from(format!("{}-pod", v2_path(&c)));
        c.set("/linux/cgroupsPath", json!(p.join("ctr")));
        let mount = &rig().cgroup.hiers.iter().find(|h| h.v2).unwrap().mount;
        mount.join(p.strip_prefix("/").unwrap())
    } else {
        c.set("/linux/cgroupsPath", json!("pod/ctr"));
        c.cg.dir("freezer").join("pod")
    };
    let frozen = Frozen::make(pod);
    c.timeout = Duration::from_secs(30);
    let o = c.create();
    o.failed().stderr_has("container's cgroup unexpectedly frozen");
    assert!(!frozen.0.join("ctr").exists(), "the container's cgroup was left below the frozen one");
    drop(frozen);
    for (_, d) in &c.cg.dirs {
        let _ = std::fs::remove_dir(d.join("pod"));
    }
    c.assert_clean();
}

/// The cgroup is frozen while the init is being set up (by a prestart hook, which runs while
/// the init waits for rt): rt's wait on the init is bounded, it notices the freezer and fails
/// with runc's words, and the frozen init is killed and its cgroup removed.
fn cgroup_frozen_during_create_ends_it_in_bounded_time() {
    let mut c = super::cgroups_util::ctr("cgfreezeinhook");
    c.args(&["/bin/sleep", "60"]);
    let (f, on, _) = freezer_file(&dir(&c, "freezer"));
    c.set("/hooks/prestart", json!([{"path": "/bin/sh", "args": ["sh", "-c", format!("echo {on} > {}", f.display())]}]));
    c.timeout = Duration::from_secs(60);
    let t = Instant::now();
    let o = c.create();
    let took = t.elapsed();
    o.failed().stderr_has("container's cgroup unexpectedly frozen");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    c.assert_clean();
}
