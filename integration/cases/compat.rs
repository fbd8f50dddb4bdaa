//! Behaving like runc where its users depend on it (issue 15): setups that real workloads build
//! (pod cgroups made by hand, images with odd /dev, /proc, /sys and /tmp, `--no-pivot`, a
//! cgroup shared by two containers, frozen cgroups), each asserting what the container's
//! process (or the caller) sees. runc 1.1.15 is the reference; where Debian's runc 1.1.5
//! differs, the test says so.

use crate::case;
use crate::rig::{Case, Ctr};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;

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
        case!(list_json_keys_in_runcs_order),
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
