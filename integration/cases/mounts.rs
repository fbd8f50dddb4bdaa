//! The root filesystem: mounts (bind/rbind, ro, propagation, tmpfs options, flags, recursive
//! r* options), destinations created inside the rootfs, symlink escapes, root.readonly,
//! readonlyPaths, maskedPaths, rootfsPropagation.

use crate::case;
use crate::rig::{Case, Ctr};
use serde_json::{json, Value};
use std::ffi::CString;
use std::path::{Path, PathBuf};

pub fn cases() -> Vec<Case> {
    vec![
        case!(bind_mount_is_read_write),
        case!(bind_mount_read_only),
        case!(bind_vs_rbind_submounts),
        case!(recursive_read_only_rro),
        case!(mount_propagation_flags),
        case!(rootfs_propagation_private),
        case!(rootfs_through_a_symlink_on_another_mount).runc_lacks("runc refuses a root.path that goes through a symlink"),
        case!(rootfs_propagation_shared).runc_lacks("runc 1.1.5 applies rootfsPropagation to the parent mount: the container's / never shows shared"),
        case!(tmpfs_options),
        case!(tmpfs_copy_up),
        case!(mount_flags),
        case!(destination_created_inside_rootfs),
        case!(bind_file_destination_created),
        case!(symlink_escape_absolute),
        case!(symlink_escape_relative),
        case!(root_readonly),
        case!(readonly_paths),
        case!(masked_paths),
    ]
}

/// A mount made on the host (in this test's bundle dir), unmounted when dropped. Declare it
/// after the Ctr so that it goes first (the Ctr's guard checks for mounts under the bundle).
struct HostMount(PathBuf);

impl HostMount {
    fn tmpfs(at: &Path) -> HostMount {
        std::fs::create_dir_all(at).unwrap();
        let t = CString::new(at.to_string_lossy().as_bytes()).unwrap();
        // SAFETY: valid NUL-terminated strings; a tmpfs on a directory of this test.
        let rc = unsafe { libc::mount(c"rt-it".as_ptr(), t.as_ptr(), c"tmpfs".as_ptr(), 0, c"size=1m".as_ptr().cast()) };
        assert_eq!(rc, 0, "mount tmpfs on {}: {}", at.display(), std::io::Error::last_os_error());
        HostMount(at.to_path_buf())
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let t = CString::new(self.0.to_string_lossy().as_bytes()).unwrap();
        // SAFETY: unmounting the mount this guard made.
        unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) };
    }
}

/// A host directory of this test with a file "hello" in it.
fn src_dir(c: &Ctr) -> PathBuf {
    let src = c.dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("hello"), "hello from the host\n").unwrap();
    src
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn err(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

fn bind_mount_is_read_write() {
    let mut c = Ctr::new("bindrw");
    let src = src_dir(&c);
    c.mount(json!({ "destination": "/mnt/data", "type": "bind", "source": s(&src), "options": ["bind"] }));
    let r = c.probe_many(&[&["read", "/mnt/data/hello"], &["write", "/mnt/data/new", "from the container"]]);
    assert_eq!(r[0]["content"], json!("hello from the host\n"), "{r:?}");
    assert_eq!(r[1]["ok"], json!(true), "{r:?}");
    assert_eq!(std::fs::read_to_string(src.join("new")).unwrap(), "from the container");
}

fn bind_mount_read_only() {
    let mut c = Ctr::new("bindro");
    let src = src_dir(&c);
    c.mount(json!({ "destination": "/mnt/data", "type": "bind", "source": s(&src), "options": ["bind", "ro"] }));
    let r = c.probe_many(&[&["read", "/mnt/data/hello"], &["write", "/mnt/data/new"], &["info"]]);
    assert_eq!(r[0]["content"], json!("hello from the host\n"));
    assert_eq!(err(&r[1]), "EROFS", "{r:?}");
    let m = r[2]["mounts"].as_array().unwrap().iter().rev().find(|m| m["mount_point"] == "/mnt/data").unwrap();
    assert!(m["options"].as_array().unwrap().contains(&json!("ro")), "{m}");
    assert!(!src.join("new").exists());
}

/// bind takes the source mount alone; rbind takes its submounts too.
fn bind_vs_rbind_submounts() {
    let mut c = Ctr::new("rbind");
    let src = src_dir(&c);
    let _sub = HostMount::tmpfs(&src.join("sub"));
    std::fs::write(src.join("sub/inner"), "in the submount\n").unwrap();
    c.mount(json!({ "destination": "/mnt/bind", "type": "bind", "source": s(&src), "options": ["bind"] }));
    c.mount(json!({ "destination": "/mnt/rbind", "type": "bind", "source": s(&src), "options": ["rbind"] }));
    let r = c.probe_many(&[&["read", "/mnt/rbind/sub/inner"], &["ls", "/mnt/bind/sub"]]);
    assert_eq!(r[0]["content"], json!("in the submount\n"), "rbind lost the submount: {r:?}");
    assert_eq!(r[1]["names"], json!([]), "bind took the submount along: {r:?}");
}

/// rro (mount_setattr AT_RECURSIVE) makes the submounts read-only too; plain ro does not.
fn recursive_read_only_rro() {
    let mut c = Ctr::new("rro");
    let src = src_dir(&c);
    let _sub = HostMount::tmpfs(&src.join("sub"));
    c.mount(json!({ "destination": "/mnt/rro", "type": "bind", "source": s(&src), "options": ["rbind", "rro"] }));
    c.mount(json!({ "destination": "/mnt/ro", "type": "bind", "source": s(&src), "options": ["rbind", "ro"] }));
    let r = c.probe_many(&[&["write", "/mnt/rro/x"], &["write", "/mnt/rro/sub/x"], &["write", "/mnt/ro/x"], &["write", "/mnt/ro/sub/y"]]);
    assert_eq!(err(&r[0]), "EROFS", "{r:?}");
    assert_eq!(err(&r[1]), "EROFS", "rro did not reach the submount: {r:?}");
    assert_eq!(err(&r[2]), "EROFS", "{r:?}");
    assert_eq!(r[3]["ok"], json!(true), "plain ro must not reach the submount: {r:?}");
}

fn propagation_of<'a>(info: &'a Value, mp: &str) -> Vec<&'a str> {
    let m = info["mounts"].as_array().unwrap().iter().rev().find(|m| m["mount_point"] == mp).unwrap_or_else(|| panic!("no mount at {mp}"));
    m["propagation"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
}

fn mount_propagation_flags() {
    let mut c = Ctr::new("propagation");
    let src = src_dir(&c);
    c.mount(json!({ "destination": "/m/shared", "type": "bind", "source": s(&src), "options": ["bind", "shared"] }));
    c.mount(json!({ "destination": "/m/private", "type": "bind", "source": s(&src), "options": ["bind", "private"] }));
    c.mount(json!({ "destination": "/m/unbindable", "type": "bind", "source": s(&src), "options": ["bind", "unbindable"] }));
    c.mount(json!({ "destination": "/m/rshared", "type": "tmpfs", "source": "tmpfs", "options": ["rshared"] }));
    let p = c.probe();
    let sh = propagation_of(&p.0, "/m/shared");
    assert!(sh.len() == 1 && sh[0].starts_with("shared:"), "shared: {sh:?}");
    assert_eq!(propagation_of(&p.0, "/m/private"), Vec::<&str>::new());
    assert_eq!(propagation_of(&p.0, "/m/unbindable"), ["unbindable"]);
    assert!(propagation_of(&p.0, "/m/rshared").iter().any(|t| t.starts_with("shared:")));
}

/// rootfsPropagation "shared" makes the container's / shared.
fn rootfs_propagation_shared() {
    let mut c = Ctr::new("rootprop");
    c.set("/linux/rootfsPropagation", json!("shared"));
    let p = c.probe();
    let root = propagation_of(&p.0, "/");
    assert!(root.iter().any(|t| t.starts_with("shared:")), "/ propagation {root:?}");
}

/// A root.path through a symlink that lives on another mount (/dev/shm): rt works from the
/// real path, so the right parent mount is made private for pivot_root with a shared root.
fn rootfs_through_a_symlink_on_another_mount() {
    let mut c = Ctr::new("rootlink");
    let link = std::path::PathBuf::from(format!("/dev/shm/{}-rootfs", c.id));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(c.rootfs(), &link).unwrap();
    struct Unlink(std::path::PathBuf);
    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _unlink = Unlink(link.clone());
    c.set("/root/path", json!(link));
    c.set("/linux/rootfsPropagation", json!("shared"));
    let p = c.probe();
    assert_eq!(p.pid(), 1);
    assert!(propagation_of(&p.0, "/").iter().any(|t| t.starts_with("shared:")), "/ is not shared");
}

/// "private" (and the default, rslave of this host's private /) leave no propagation tag.
fn rootfs_propagation_private() {
    let mut d = Ctr::new("rootprivate");
    d.set("/linux/rootfsPropagation", json!("private"));
    let p = d.probe();
    assert_eq!(propagation_of(&p.0, "/"), Vec::<&str>::new());
    let mut e = Ctr::new("rootdefault");
    let p = e.probe();
    assert_eq!(propagation_of(&p.0, "/"), Vec::<&str>::new());
}

fn tmpfs_options() {
    let mut c = Ctr::new("tmpfsopts");
    c.mount(json!({ "destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "noexec", "mode=1770", "size=1m", "uid=1000", "gid=1000"] }));
    let r = c.probe_many(&[&["info"], &["stat", "/mnt/t"]]);
    let m = r[0]["mounts"].as_array().unwrap().iter().rev().find(|m| m["mount_point"] == "/mnt/t").unwrap();
    assert_eq!(m["fs_type"], json!("tmpfs"));
    let opts = m["options"].as_array().unwrap();
    for o in ["nosuid", "nodev", "noexec", "rw"] {
        assert!(opts.contains(&json!(o)), "{o} missing: {m}");
    }
    let sup = m["super_options"].as_array().unwrap();
    for o in ["size=1024k", "mode=1770", "uid=1000", "gid=1000"] {
        assert!(sup.contains(&json!(o)), "{o} missing: {m}");
    }
    let st = &r[1][0];
    assert_eq!((st["mode"].as_str(), st["uid"].as_u64(), st["gid"].as_u64()), (Some("1770"), Some(1000), Some(1000)), "{st}");
}

/// Each mount flag shows in the per-mount options of mountinfo.
/// runc's `tmpcopyup` extension (Podman's default for tmpfs mounts): the new tmpfs starts with
/// what the image had at the destination, owners, modes and links included.
fn tmpfs_copy_up() {
    let mut c = Ctr::new("tmpcopyup");
    let seed = c.rootfs().join("srv/data");
    std::fs::create_dir_all(seed.join("sub")).unwrap();
    std::fs::write(seed.join("sub/file"), "from the image").unwrap();
    std::os::unix::fs::symlink("sub/file", seed.join("link")).unwrap();
    std::os::unix::fs::chown(seed.join("sub/file"), Some(1000), Some(1000)).unwrap();
    c.mount(json!({ "destination": "/srv/data", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "mode=755"] }));
    let r = c.probe_many(&[&["info"], &["read", "/srv/data/link"], &["stat", "/srv/data/sub/file", "/srv/data/link"], &["write", "/srv/data/new", "x"]]);
    let m = r[0]["mounts"].as_array().unwrap().iter().rev().find(|m| m["mount_point"] == "/srv/data").unwrap();
    assert_eq!(m["fs_type"], json!("tmpfs"), "{m}");
    assert_eq!(r[1]["content"], json!("from the image"), "{}", r[1]);
    assert_eq!((r[2][0]["uid"].as_u64(), r[2][0]["gid"].as_u64()), (Some(1000), Some(1000)), "{}", r[2]);
    assert_eq!(r[2][1]["type"], json!("symlink"), "{}", r[2]);
    // the copy is the tmpfs's: writes do not reach the image
    assert!(r[3].get("error").is_none(), "{}", r[3]);
    assert!(!seed.join("new").exists());
}

fn mount_flags() {
    let mut c = Ctr::new("mountflags");
    // (destination, options, must show, must not show)
    type FlagCase<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);
    let cases: [FlagCase; 6] = [
        ("/f/ro", &["ro"], &["ro"], &["rw"]),
        ("/f/noatime", &["noatime"], &["noatime"], &["relatime"]),
        ("/f/relatime", &["relatime"], &["relatime"], &["noatime"]),
        ("/f/strictatime", &["strictatime"], &[], &["relatime", "noatime"]),
        ("/f/nodiratime", &["nodiratime"], &["nodiratime"], &[]),
        ("/f/secure", &["nosuid", "nodev", "noexec"], &["nosuid", "nodev", "noexec"], &[]),
    ];
    for (dest, opts, _, _) in &cases {
        c.mount(json!({ "destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts }));
    }
    let p = c.probe();
    for (dest, _, want, not) in &cases {
        let m = p.mount(dest).unwrap_or_else(|| panic!("{dest} not mounted"));
        let o: Vec<&str> = m["options"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        for w in *want {
            assert!(o.contains(w), "{dest}: {w} missing from {o:?}");
        }
        for n in *not {
            assert!(!o.contains(n), "{dest}: {n} present in {o:?}");
        }
    }
}

/// A destination missing from the rootfs is created (inside it).
fn destination_created_inside_rootfs() {
    let mut c = Ctr::new("mkdest");
    c.mount(json!({ "destination": "/new/deep/dir", "type": "tmpfs", "source": "tmpfs" }));
    let p = c.probe();
    assert!(p.mount("/new/deep/dir").is_some(), "{:?}", p.mount_points());
    assert!(c.host_path("/new/deep/dir").is_dir(), "not created in the rootfs");
}

/// Binding a file onto a missing destination creates a file (not a directory) there.
fn bind_file_destination_created() {
    let mut c = Ctr::new("bindfile");
    let f = c.dir.join("a-file");
    std::fs::write(&f, "file content\n").unwrap();
    c.mount(json!({ "destination": "/etc/injected", "type": "bind", "source": s(&f), "options": ["bind", "ro"] }));
    let r = c.probe_many(&[&["read", "/etc/injected"], &["stat", "/etc/injected"]]);
    assert_eq!(r[0]["content"], json!("file content\n"));
    assert_eq!(r[1][0]["type"], json!("file"));
    assert!(c.host_path("/etc/injected").is_file());
}

/// A mount destination through a symlink that points outside the rootfs stays inside it: the
/// runtime must not create the destination on the host.
fn symlink_escape(name: &str, absolute: bool) {
    let mut c = Ctr::new(name);
    let outside = c.dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let target = if absolute { s(&outside) } else { format!("{}{}", "../".repeat(20), s(&outside).trim_start_matches('/')) };
    std::os::unix::fs::symlink(&target, c.host_path("/escape")).unwrap();
    let src = src_dir(&c);
    c.mount(json!({ "destination": "/escape/created", "type": "bind", "source": s(&src), "options": ["bind"] }));
    let o = c.run();
    assert!(!outside.join("created").exists(), "the runtime created {} on the host: {o}", outside.join("created").display());
    if o.code == 0 {
        // followed inside the rootfs: the mount is at the in-root resolution of the link
        let inside = c.rootfs().join(s(&outside).trim_start_matches('/')).join("created");
        assert!(inside.exists(), "succeeded but the destination is not inside the rootfs: {o}");
    } else {
        o.failed();
        c.assert_clean();
    }
}

fn symlink_escape_absolute() {
    symlink_escape("escabs", true)
}

fn symlink_escape_relative() {
    symlink_escape("escrel", false)
}

fn root_readonly() {
    let mut c = Ctr::new("rootro");
    c.set("/root/readonly", json!(true));
    let r = c.probe_many(&[&["write", "/newfile"], &["write", "/tmp/newfile"], &["write", "/dev/shm/ok"], &["info"]]);
    assert_eq!(err(&r[0]), "EROFS", "{r:?}");
    assert_eq!(err(&r[1]), "EROFS", "{r:?}");
    assert_eq!(r[2]["ok"], json!(true), "/dev/shm must stay writable: {r:?}");
    let root = r[3]["mounts"].as_array().unwrap().iter().rev().find(|m| m["mount_point"] == "/").unwrap();
    assert!(root["options"].as_array().unwrap().contains(&json!("ro")), "{root}");
}

/// The default readonlyPaths (/proc/sys, ...) and one of our own are read-only binds.
fn readonly_paths() {
    let mut c = Ctr::new("ropaths");
    c.push("/linux/readonlyPaths", json!("/etc"));
    let r = c.probe_many(&[&["write", "/proc/sys/kernel/hostname", "x"], &["write", "/etc/new"], &["write", "/tmp/ok"], &["read", "/etc/passwd"], &["info"]]);
    assert_eq!(err(&r[0]), "EROFS", "{r:?}");
    assert_eq!(err(&r[1]), "EROFS", "{r:?}");
    assert_eq!(r[2]["ok"], json!(true), "{r:?}");
    assert!(r[3]["content"].as_str().unwrap().contains("root:x:0:0"), "{r:?}");
    let mounts = r[4]["mounts"].as_array().unwrap();
    for mp in ["/proc/sys", "/etc"] {
        let m = mounts.iter().rev().find(|m| m["mount_point"] == mp).unwrap_or_else(|| panic!("{mp} not mounted"));
        assert!(m["options"].as_array().unwrap().contains(&json!("ro")), "{m}");
    }
}

/// maskedPaths: files become /dev/null (reads are empty), directories an empty read-only tmpfs.
fn masked_paths() {
    let mut c = Ctr::new("masked");
    std::fs::write(c.host_path("/etc/secret"), "secret\n").unwrap();
    std::fs::create_dir_all(c.host_path("/secretdir")).unwrap();
    std::fs::write(c.host_path("/secretdir/file"), "secret\n").unwrap();
    c.push("/linux/maskedPaths", json!("/etc/secret"));
    c.push("/linux/maskedPaths", json!("/secretdir"));
    c.push("/linux/maskedPaths", json!("/does/not/exist"));
    let r = c.probe_many(&[
        &["read", "/etc/secret"],
        &["ls", "/secretdir"],
        &["write", "/secretdir/x"],
        &["stat", "/proc/keys", "/proc/timer_list"],
        &["ls", "/sys/firmware"],
        &["ls", "/proc/acpi"],
    ]);
    assert_eq!(r[0]["content"], json!(""), "{r:?}");
    assert_eq!(r[1]["names"], json!([]), "{r:?}");
    assert_eq!(err(&r[2]), "EROFS", "{r:?}");
    for st in r[3].as_array().unwrap() {
        assert_eq!((st["type"].as_str(), st["major"].as_u64(), st["minor"].as_u64()), (Some("char"), Some(1), Some(3)), "not masked with /dev/null: {st}");
    }
    assert_eq!(r[4]["names"], json!([]), "{r:?}");
    assert_eq!(r[5]["names"], json!([]), "{r:?}");
    assert!(!c.host_path("/does/not/exist").exists(), "masking a missing path created it");
}
