//! cgroups, pure v2 only (the VM lane, `make test-v2`): what has no v1 counterpart —
//! `clone3(CLONE_INTO_CGROUP)`, controllers enabled down a nested path through
//! `cgroup.subtree_control`, the no-internal-processes rule, raw `unified` keys, v1-only
//! settings ignored with a warning, and the cgroup's removal after the container exited.
//! The v2 side of the resources (memory.swap.max, cpu.weight, io.max, hugetlb, the eBPF device
//! filter, cgroup.freeze) is checked by cgroups_res and cgroups_verbs, which run here too.

use super::cgroups_util::*;
use crate::case;
use crate::rig::{read, rig, wait_until, Case, Cmd};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

pub fn cases() -> Vec<Case> {
    vec![
        case!(clone_into_cgroup_places_the_init).host_skip(only_v2),
        case!(subtree_control_enabled_down_a_nested_path).host_skip(only_v2),
        case!(below_the_runtimes_own_cgroup).host_skip(only_v2),
        case!(unified_raw_keys).host_skip(only_v2),
        case!(v1_only_settings_warn).host_skip(only_v2).rt_only("the warnings are rt's wording"),
        case!(delete_after_exit_removes_the_cgroup).host_skip(only_v2),
    ]
}

fn v2_mount() -> PathBuf {
    rig().cgroup.hiers.iter().find(|h| h.v2).unwrap().mount.clone()
}

/// Enable CONTROLLER from our own cgroup down to the run cgroup (the VM is ours to change).
fn enable_for_run_cgroup(controller: &str) {
    let h = rig().cgroup.hiers.iter().find(|h| h.v2).unwrap();
    for d in [h.own_dir(), rig().cgroup.dir(h)] {
        let f = d.join("cgroup.subtree_control");
        if !read(&f).split_whitespace().any(|c| c == controller) {
            std::fs::write(&f, format!("+{controller}")).unwrap_or_else(|e| panic!("enabling {controller} in {}: {e}", f.display()));
        }
    }
}

/// The init is cloned straight into the container's cgroup: the runtime's own cgroup (the test
/// cgroup, which counts its processes once pids is enabled) never held more than the runtime
/// itself, and strace shows CLONE_INTO_CGROUP on the clone3 call.
fn clone_into_cgroup_places_the_init() {
    enable_for_run_cgroup("pids");
    let mut c = ctr("cgclone3");
    c.args(&["/bin/sleep", "60"]);
    let own = c.cg.dir("unified");
    assert!(own.join("pids.peak").exists(), "no pids.peak in {} (kernel older than 5.19?)", own.display());
    c.create().ok();
    let pid = c.pid();
    assert_eq!(read(format!("/proc/{pid}/cgroup")).trim(), format!("0::{}", v2_path(&c)));
    assert_eq!(read(own.join("pids.peak")).trim(), "1", "the runtime's own cgroup held another process: the init was not cloned into its cgroup");

    if std::path::Path::new("/usr/bin/strace").exists() {
        let mut c2 = ctr("cgclone3st");
        c2.args(&["/bin/sleep", "60"]);
        c2.write_config();
        let trace = c2.dir.join("strace.out");
        let o = Cmd::new("/usr/bin/strace")
            .args(&["-qq", "-e", "trace=clone3", "-o"])
            .arg(&trace)
            .arg(&rig().runtime)
            .arg("--root")
            .arg(&c2.root)
            .args(&["create", "--bundle"])
            .arg(&c2.dir)
            .arg(&c2.id)
            .in_cgroup(c2.cg.procs_files())
            .timeout(Duration::from_secs(120))
            .output_in(&c2.dir);
        o.ok();
        let t = read(&trace);
        assert!(t.lines().any(|l| l.starts_with("clone3(") && l.contains("CLONE_INTO_CGROUP")), "strace: {t}");
    }
}

/// An absolute path several levels below the run cgroup: every level on the way gets the
/// controllers in its cgroup.subtree_control, the leaf gets the limits; delete removes the
/// leaf only (the parents may be shared, as with runc).
fn subtree_control_enabled_down_a_nested_path() {
    let mut c = ctr("cgnested");
    let top = format!("{}/{}/{}-a", rig().cgroup.hiers[0].own.trim_end_matches('/'), rig().cgroup.name, c.id);
    let path = format!("{top}/b/c");
    c.set("/linux/cgroupsPath", json!(path));
    c.set("/linux/resources/memory", json!({ "limit": 33554432 }));
    c.set("/linux/resources/pids", json!({ "limit": 10 }));
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    let m = v2_mount();
    let leaf = m.join(path.trim_start_matches('/'));
    for d in [m.join(top.trim_start_matches('/')), m.join(format!("{}/b", top.trim_start_matches('/')))] {
        let sc = read(d.join("cgroup.subtree_control"));
        for ctl in ["memory", "pids"] {
            assert!(sc.split_whitespace().any(|x| x == ctl), "{ctl} not enabled in {}: {sc:?}", d.display());
        }
    }
    assert_eq!(read(leaf.join("memory.max")).trim(), "33554432");
    assert_eq!(read(leaf.join("pids.max")).trim(), "10");
    assert!(read(leaf.join("cgroup.procs")).lines().any(|l| l.trim() == c.pid().to_string()));
    c.delete().ok();
    assert!(!leaf.exists(), "{} left after delete", leaf.display());
    for d in [format!("{top}/b"), top.clone()] {
        let d = m.join(d.trim_start_matches('/'));
        assert!(d.exists(), "{} (a parent) was removed", d.display());
        std::fs::remove_dir(&d).unwrap_or_else(|e| panic!("rmdir {}: {e}", d.display()));
    }
}

/// The default placement nests below the runtime's own cgroup, which holds the runtime itself
/// while it creates the container: v2 lets such a cgroup have children, but not hand them
/// controllers. Without resources that is fine (rt leaves that cgroup's subtree_control alone:
/// even a threaded controller such as pids, which the kernel would take, makes it a thread root
/// and the clone into the child fail with EOPNOTSUPP); a limit is refused with the reason.
fn below_the_runtimes_own_cgroup() {
    let mut c = crate::rig::Ctr::new("cgnestown");
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    let d = c.cg.dir("unified").join(&c.id);
    assert!(read(d.join("cgroup.procs")).lines().any(|l| l.trim() == c.pid().to_string()), "init not in {}", d.display());
    c.delete().ok();
    assert!(!d.exists());

    enable_for_run_cgroup("pids");
    let mut c = crate::rig::Ctr::new("cgnestownlim");
    c.set("/linux/resources/pids", json!({ "limit": 10 }));
    c.args(&["/bin/sleep", "60"]);
    let o = c.create();
    o.failed()
        .stderr_has("linux.resources.pids.limit: cannot enable the pids controller for ")
        .stderr_has(&format!("{} holds processes itself", c.cg.dir("unified").display()));
    assert!(!read(c.cg.dir("unified").join("cgroup.subtree_control")).contains("pids"), "pids enabled in the runtime's own cgroup");
    c.assert_clean();
}

/// Raw `unified` keys are written as given, after the translated values, so they win.
fn unified_raw_keys() {
    let mut c = ctr("cgunified");
    c.set("/linux/resources/pids", json!({ "limit": 5 }));
    c.set("/linux/resources/unified", json!({ "pids.max": "9", "memory.high": "50331648", "cpu.weight": "77" }));
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    assert_eq!(file(&c, "", "pids.max"), "9");
    assert_eq!(file(&c, "", "memory.high"), "50331648");
    assert_eq!(file(&c, "", "cpu.weight"), "77");
    // A key that is not a file: the error names the key and the file.
    let mut c = ctr("cgunifiedbad");
    c.set("/linux/resources/unified", json!({ "memory.no_such_file": "1" }));
    c.create().failed().stderr_has("linux.resources.unified.memory.no_such_file: writing 1 to ").stderr_has("memory.no_such_file: ");
    c.assert_clean();
}

/// Settings v2 has no file for (as runc): accepted, each one named in a warning.
fn v1_only_settings_warn() {
    let mut c = ctr("cgv1only");
    c.set("/linux/resources/memory", json!({ "limit": 33554432, "swappiness": 10, "disableOOMKiller": true }));
    c.set("/linux/resources/cpu", json!({ "realtimeRuntime": 1000, "realtimePeriod": 1000000 }));
    c.set("/linux/resources/network", json!({ "classID": 1048577 }));
    c.args(&["/bin/sleep", "60"]);
    let o = c.create();
    o.ok();
    for f in ["memory.swappiness", "memory.disableOOMKiller", "cpu.realtimeRuntime", "cpu.realtimePeriod", "network.classID"] {
        o.stderr_has(&format!("linux.resources.{f} is not supported on this host's cgroups: ignored"));
    }
    assert_eq!(file(&c, "memory", "memory.max"), "33554432");
}

/// After the init exited the cgroup stays (the container is stopped, not gone) until delete.
fn delete_after_exit_removes_the_cgroup() {
    let mut c = ctr("cgexited");
    c.sh("exit 3");
    c.run_with(&["--detach"]).ok();
    c.wait_status("stopped", Duration::from_secs(20));
    let d = dir(&c, "");
    assert!(d.is_dir(), "{} gone before delete", d.display());
    assert!(wait_until(Duration::from_secs(5), || kv(&read(d.join("cgroup.events")), "populated") == Some(0)), "{}", read(d.join("cgroup.events")));
    c.delete().ok();
    assert!(!d.exists(), "{} left after delete", d.display());
    c.assert_clean();
}
