//! Namespaces: pid, network (lo up), mount, ipc, uts, cgroup, time; joining by path.

use crate::case;
use crate::rig::{pid_alive, wait_until, Case, Ctr};
use serde_json::json;
use std::time::Duration;

pub fn cases() -> Vec<Case> {
    vec![
        case!(pid_namespace_pid_1),
        case!(without_pid_namespace_shares_host),
        case!(uts_namespace_hostname),
        case!(mount_namespace_own_table),
        case!(network_namespace_loopback_up),
        case!(without_network_namespace_shares_host),
        case!(ipc_namespace),
        case!(cgroup_namespace),
        case!(time_namespace_offsets).runc_lacks("time namespaces arrived in runc 1.2"),
        case!(join_namespaces_by_path),
        case!(join_pid_namespace_by_path),
        case!(joined_pid_namespace_delete_force_kills_every_process),
        case!(namespace_path_of_wrong_type_rejected),
        case!(namespace_path_missing_rejected),
    ]
}

fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap().to_string_lossy().into_owned()
}

fn pid_namespace_pid_1() {
    let mut c = Ctr::new("pidns");
    let p = c.probe();
    assert_eq!(p.pid(), 1);
    assert_ne!(p.ns("pid"), host_ns("pid"));
}

fn without_pid_namespace_shares_host() {
    let mut c = Ctr::new("nopidns");
    c.no_ns("pid");
    let p = c.probe();
    assert_ne!(p.pid(), 1);
    assert_eq!(p.ns("pid"), host_ns("pid"));
}

fn uts_namespace_hostname() {
    let mut c = Ctr::new("utsns");
    c.set("/hostname", json!("inside-uts"));
    let p = c.probe();
    assert_ne!(p.ns("uts"), host_ns("uts"));
    assert_eq!(p.str("hostname"), "inside-uts");
}

/// The container has its own mount table rooted at the bundle's rootfs; host mounts are gone.
fn mount_namespace_own_table() {
    let mut c = Ctr::new("mntns");
    let p = c.probe();
    assert_ne!(p.ns("mnt"), host_ns("mnt"));
    let root = p.mount("/").unwrap_or_else(|| panic!("no / mount: {p}"));
    assert!(root["root"].as_str().unwrap().ends_with(&format!("{}/rootfs", c.id)), "/ is not the bundle rootfs: {root}");
    let mps = p.mount_points();
    for want in ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"] {
        assert!(mps.iter().any(|m| m == want), "{want} not mounted: {mps:?}");
    }
    for host_only in ["/work", "/sys/fs/cgroup/unified"] {
        assert!(!mps.iter().any(|m| m == host_only), "host mount {host_only} visible: {mps:?}");
    }
    // no mount point outside what the config asked for leaks in from the host
    let host_tmp_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for l in host_tmp_mounts.lines() {
        let mp = l.split(' ').nth(4).unwrap();
        if mp.starts_with("/tmp/") {
            assert!(!mps.iter().any(|m| m == mp), "host mount {mp} visible in the container");
        }
    }
}

fn network_namespace_loopback_up() {
    let mut c = Ctr::new("netns");
    let p = c.probe();
    assert_ne!(p.ns("net"), host_ns("net"));
    let ifs = p.get("interfaces").as_array().unwrap();
    assert_eq!(ifs.len(), 1, "only lo expected: {ifs:?}");
    assert_eq!(ifs[0]["name"], json!("lo"));
    assert_eq!(ifs[0]["up"], json!(true), "lo is down");
    assert_eq!(p.get("loopback_up"), &json!(true));
}

fn without_network_namespace_shares_host() {
    let mut c = Ctr::new("nonetns");
    c.no_ns("network");
    let p = c.probe();
    assert_eq!(p.ns("net"), host_ns("net"));
    assert!(p.get("interfaces").as_array().unwrap().len() > 1);
}

fn ipc_namespace() {
    let mut c = Ctr::new("ipcns");
    assert_ne!(c.probe().ns("ipc"), host_ns("ipc"));
    let mut d = Ctr::new("noipcns");
    d.no_ns("ipc");
    assert_eq!(d.probe().ns("ipc"), host_ns("ipc"));
}

/// In a cgroup namespace the process sees its own cgroup as "/"; without one it sees the full
/// path, ending in its id.
fn cgroup_namespace() {
    let mut c = Ctr::new("cgns");
    c.ns("cgroup", None);
    let p = c.probe();
    assert_ne!(p.ns("cgroup"), host_ns("cgroup"));
    for l in p.get("cgroup").as_array().unwrap() {
        assert!(l.as_str().unwrap().ends_with(":/"), "cgroup line {l} is not the namespace root");
    }
    let mut d = Ctr::new("nocgns");
    let p = d.probe();
    assert_eq!(p.ns("cgroup"), host_ns("cgroup"));
    // on a pure v1 host the kernel still lists the unmounted v2 hierarchy ("0::/")
    let has_v2 = d.cg.dirs.iter().any(|(h, _)| h.v2);
    for l in p.get("cgroup").as_array().unwrap().iter().filter(|l| has_v2 || !l.as_str().unwrap_or("").starts_with("0::")) {
        assert!(l.as_str().unwrap().ends_with(&format!("/{}", d.id)), "cgroup line {l} does not end in the id");
    }
}

fn clock(id: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec to write to.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn time_namespace_offsets() {
    let mut c = Ctr::new("timens");
    c.ns("time", None);
    c.set("/linux/timeOffsets", json!({ "monotonic": { "secs": 1000, "nanosecs": 0 }, "boottime": { "secs": 2000, "nanosecs": 0 } }));
    let p = c.probe();
    let (mono, boot) = (clock(libc::CLOCK_MONOTONIC), clock(libc::CLOCK_BOOTTIME));
    assert_ne!(p.ns("time"), host_ns("time"));
    let dm = p.get("clock_monotonic").as_f64().unwrap() - mono;
    let db = p.get("clock_boottime").as_f64().unwrap() - boot;
    assert!((dm - 1000.0).abs() < 30.0, "monotonic offset {dm}");
    assert!((db - 2000.0).abs() < 30.0, "boottime offset {db}");
}

/// A second container joins the first one's network, uts and ipc namespaces by path.
fn join_namespaces_by_path() {
    let mut a = Ctr::new("nshost");
    a.args(&["/bin/sleep", "60"]);
    a.run_with(&["--detach"]).ok();
    let pid = a.pid();
    let ns_of = |kind: &str| std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap().to_string_lossy().into_owned();
    let mut b = Ctr::new("nsjoin");
    for (spec, proc_name) in [("network", "net"), ("uts", "uts"), ("ipc", "ipc")] {
        b.ns(spec, Some(&format!("/proc/{pid}/ns/{proc_name}")));
    }
    let p = b.probe();
    assert_eq!(p.ns("net"), ns_of("net"));
    assert_eq!(p.ns("uts"), ns_of("uts"));
    assert_eq!(p.ns("ipc"), ns_of("ipc"));
    // the namespaces not joined are new
    assert_ne!(p.ns("mnt"), ns_of("mnt"));
    assert_ne!(p.ns("pid"), ns_of("pid"));
}

fn join_pid_namespace_by_path() {
    let mut a = Ctr::new("pidnshost");
    a.args(&["/bin/sleep", "60"]);
    a.run_with(&["--detach"]).ok();
    let pid = a.pid();
    let mut b = Ctr::new("pidnsjoin");
    b.ns("pid", Some(&format!("/proc/{pid}/ns/pid")));
    let p = b.probe();
    assert_eq!(p.ns("pid"), std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap().to_string_lossy());
    assert_ne!(p.pid(), 1, "joined an existing pid namespace: the init there is the other container's");
    a.kill("KILL").ok();
    a.wait_status("stopped", Duration::from_secs(5));
}

/// In a joined pid namespace the container's other processes outlive its init (they go to
/// the namespace's own init): `delete --force` must kill them through the cgroup, not only the
/// init, or the cgroup cannot be removed.
fn joined_pid_namespace_delete_force_kills_every_process() {
    let mut a = Ctr::new("pidnsowner");
    a.args(&["/bin/sleep", "60"]);
    a.run_with(&["--detach"]).ok();
    let mut b = Ctr::new("pidnsguest");
    b.ns("pid", Some(&format!("/proc/{}/ns/pid", a.pid())));
    b.args(&["/bin/sh", "-c", "sleep 300 & exec sleep 301"]);
    b.run_with(&["--detach"]).ok();
    let pids = || -> Vec<i32> { serde_json::from_value(b.rt(&["ps", "--format", "json", &b.id]).ok().json()).unwrap_or_default() };
    assert!(wait_until(Duration::from_secs(5), || pids().len() == 2), "two processes expected in the container: {:?}", pids());
    let strays: Vec<i32> = pids().into_iter().filter(|&p| p != b.pid()).collect();
    b.delete_force().ok();
    b.assert_clean();
    for p in strays {
        assert!(wait_until(Duration::from_secs(5), || !pid_alive(p)), "the container's background process {p} survived delete --force");
    }
    a.delete_force().ok();
}

/// A network namespace path that names a uts namespace is refused; nothing is left behind.
fn namespace_path_of_wrong_type_rejected() {
    let mut c = Ctr::new("nswrongtype");
    c.ns("network", Some("/proc/1/ns/uts"));
    c.create().failed();
    c.assert_clean();
}

fn namespace_path_missing_rejected() {
    let mut c = Ctr::new("nsmissing");
    c.ns("network", Some("/proc/999999999/ns/net"));
    c.create().failed().stderr_has("/proc/999999999/ns/net");
    c.assert_clean();
}
