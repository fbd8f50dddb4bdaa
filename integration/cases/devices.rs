//! /dev: the default devices and links, and linux.devices.

use crate::case;
use crate::rig::{Case, Ctr};
use serde_json::json;

pub fn cases() -> Vec<Case> {
    vec![case!(default_devices), case!(default_dev_entries_exactly), case!(default_devices_usable), case!(linux_devices_created)]
}

fn default_devices() {
    let mut c = Ctr::new("devs");
    let p = c.probe();
    for (name, major, minor) in [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)] {
        let path = format!("/dev/{name}");
        let d = p.dev(&path).unwrap_or_else(|| panic!("{path} missing"));
        assert_eq!(d["type"], json!("char"), "{d}");
        assert_eq!((d["major"].as_u64(), d["minor"].as_u64()), (Some(major), Some(minor)), "{d}");
        assert_eq!(d["mode"], json!("0666"), "{d}");
        assert_eq!((d["uid"].as_u64(), d["gid"].as_u64()), (Some(0), Some(0)), "{d}");
    }
    for (name, target) in
        [("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")]
    {
        let path = format!("/dev/{name}");
        let d = p.dev(&path).unwrap_or_else(|| panic!("{path} missing"));
        assert_eq!(d["type"], json!("symlink"), "{d}");
        assert_eq!(d["target"], json!(target), "{d}");
    }
    let ptmx = p.dev("/dev/pts/ptmx").expect("/dev/pts/ptmx");
    assert_eq!((ptmx["major"].as_u64(), ptmx["minor"].as_u64()), (Some(5), Some(2)));
    assert_eq!(ptmx["mode"], json!("0666"), "ptmxmode=0666: {ptmx}");
    for (mp, fs) in [("/dev", "tmpfs"), ("/dev/pts", "devpts"), ("/dev/shm", "tmpfs"), ("/dev/mqueue", "mqueue")] {
        let m = p.mount(mp).unwrap_or_else(|| panic!("{mp} not mounted"));
        assert_eq!(m["fs_type"], json!(fs), "{m}");
    }
}

/// The top of /dev holds exactly what runc makes: no host device leaks in, no console without
/// a terminal.
fn default_dev_entries_exactly() {
    let mut c = Ctr::new("devexact");
    let v = c.probe_sub(&["ls", "/dev"]);
    let mut names: Vec<&str> = v["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    // /dev/core -> /proc/kcore only when the host has /proc/kcore
    names.retain(|n| *n != "core" || !std::path::Path::new("/proc/kcore").exists());
    assert_eq!(names, ["fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"]);
}

fn default_devices_usable() {
    let mut c = Ctr::new("devuse");
    let r = c.probe_many(&[&["write", "/dev/null", "x"], &["read", "/dev/null"], &["write", "/dev/full", "x"]]);
    assert_eq!(r[0]["ok"], json!(true), "{r:?}");
    assert_eq!(r[1]["content"], json!(""), "{r:?}");
    assert_eq!(r[2]["error"], json!("ENOSPC"), "{r:?}");
}

/// linux.devices: char and block nodes with their numbers, mode and owner; missing parent
/// directories created; fileMode defaults to 0666.
fn linux_devices_created() {
    let mut c = Ctr::new("lindevs");
    c.set(
        "/linux/devices",
        json!([
            { "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 1000, "gid": 1000 },
            { "path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200 },
            { "path": "/dev/loop-rt", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600 }
        ]),
    );
    let v = c.probe_sub(&["stat", "/dev/fuse", "/dev/net/tun", "/dev/loop-rt"]);
    let want = [("char", 10, 229, "0640", 1000, 1000), ("char", 10, 200, "0666", 0, 0), ("block", 7, 200, "0600", 0, 0)];
    for (st, (ty, ma, mi, mode, uid, gid)) in v.as_array().unwrap().iter().zip(want) {
        assert_eq!(st["type"], json!(ty), "{st}");
        assert_eq!((st["major"].as_u64(), st["minor"].as_u64()), (Some(ma), Some(mi)), "{st}");
        assert_eq!(st["mode"], json!(mode), "{st}");
        assert_eq!((st["uid"].as_u64(), st["gid"].as_u64()), (Some(uid), Some(gid)), "{st}");
    }
}
