//! Helpers for the cgroup tests (cgroups_res, cgroups_verbs, cgroups_v2): which layout this
//! host has, where a test container's cgroup is in each hierarchy, what the container sees of
//! it, and the host checks that skip a test, with the reason, where the host lacks what it
//! needs.
//!
//! Placement: on v1 and hybrid hosts a test container takes the default placement, its id below
//! the runtime's own cgroup (the test cgroup). On a pure v2 host it gets an absolute
//! `cgroupsPath` next to its test cgroup, `<run cgroup>/<id>-cg`: the runtime runs in the test
//! cgroup, and v2's no-internal-processes rule keeps a cgroup that holds processes from handing
//! controllers down to a child. That is how engines use a runtime anyway: the runtime in the
//! engine's cgroup, the container at an absolute path elsewhere.

use crate::rig::cgroups::Hierarchy;
use crate::rig::{read, rig, Ctr};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Layout {
    /// Only v1 hierarchies.
    V1,
    /// v1 controllers plus a cgroup2 mount (this machine: hugetlb only there).
    Hybrid,
    /// Only cgroup2 (the VM lane).
    V2,
}

pub fn layout() -> Layout {
    let h = &rig().cgroup.hiers;
    if h.iter().all(|h| h.v2) {
        Layout::V2
    } else if h.iter().any(|h| h.v2) {
        Layout::Hybrid
    } else {
        Layout::V1
    }
}

pub fn is_v2() -> bool {
    layout() == Layout::V2
}

fn v2_hier() -> &'static Hierarchy {
    rig().cgroup.hiers.iter().find(|h| h.v2).expect("no cgroup2 hierarchy")
}

/// The hierarchy that carries CONTROLLER: its v1 one, else the cgroup2 one when the controller
/// is available there (listed in the run cgroup's parent's cgroup.controllers).
pub fn hier_of(controller: &str) -> Option<&'static Hierarchy> {
    let hs = &rig().cgroup.hiers;
    if let Some(h) = hs.iter().find(|h| !h.v2 && h.controllers.iter().any(|c| c == controller)) {
        return Some(h);
    }
    let h = hs.iter().find(|h| h.v2)?;
    read(h.own_dir().join("cgroup.controllers")).split_whitespace().any(|c| c == controller).then_some(h)
}

/// A test container placed as described in the module comment.
pub fn ctr(name: &str) -> Ctr {
    let mut c = Ctr::new(name);
    if is_v2() {
        let p = v2_path(&c);
        c.set("/linux/cgroupsPath", json!(p));
    }
    c
}

/// Pure v2: the container's absolute cgroupsPath, `<own>/<run cgroup>/<id>-cg`.
pub fn v2_path(c: &Ctr) -> String {
    format!("{}/{}/{}-cg", v2_hier().own.trim_end_matches('/'), rig().cgroup.name, c.id)
}

/// The container's cgroup directory on the host that holds CONTROLLER's files ("" for the
/// directory of the v2 hierarchy, or of the first v1 one).
pub fn dir(c: &Ctr, controller: &str) -> PathBuf {
    match layout() {
        Layout::V2 => v2_hier().mount.join(v2_path(c).trim_start_matches('/')),
        _ if controller.is_empty() => c.cg.dirs[0].1.join(&c.id),
        _ if c.cg.has(controller) => c.cg.dir(controller).join(&c.id),
        _ => c.cg.dir("unified").join(&c.id),
    }
}

/// The content of FILE in the container's cgroup (trimmed); panics naming the path when the
/// file cannot be read.
#[track_caller]
pub fn file(c: &Ctr, controller: &str, f: &str) -> String {
    let p = dir(c, controller).join(f);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).trim().to_string()
}

/// The value of KEY in a `key value` file (memory.stat, cpu.stat, memory.events, pids.events).
pub fn kv(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next()? == key).then(|| it.next()?.parse().ok()).flatten()
    })
}

/// Where the container itself sees CONTROLLER's FILE: `/sys/fs/cgroup/<hierarchy dir>/FILE`
/// on v1, `/sys/fs/cgroup/FILE` on pure v2.
pub fn inside(controller: &str, f: &str) -> String {
    match layout() {
        Layout::V2 => format!("/sys/fs/cgroup/{f}"),
        _ => {
            let h = hier_of(controller).unwrap_or_else(|| panic!("no hierarchy with {controller}"));
            let name = h.mount.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            format!("/sys/fs/cgroup/{name}/{f}")
        }
    }
}

/// The JSON lines (probe output) of a container's stdout.
pub fn json_lines(out: &str) -> Vec<Value> {
    out.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// The run cgroup's directory in the hierarchy of CONTROLLER (v1).
pub fn run_dir(controller: &str) -> PathBuf {
    let h = hier_of(controller).unwrap_or_else(|| panic!("no hierarchy with {controller}"));
    rig().cgroup.dir(h)
}

/// `major:minor` of the block device holding PATH's filesystem, when it is a real block device
/// (major 0 is a virtual filesystem: tmpfs, overlay, 9p).
pub fn block_dev_of(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(path).ok()?.dev();
    let (ma, mi) = (libc::major(dev) as u64, libc::minor(dev) as u64);
    (ma != 0 && Path::new(&format!("/sys/dev/block/{ma}:{mi}")).exists()).then_some((ma, mi))
}

/// The I/O scheduler in use for block device MA:MI (`none`, `mq-deadline`, `bfq`), from sysfs.
pub fn scheduler_of(ma: u64, mi: u64) -> Option<String> {
    let base = PathBuf::from(format!("/sys/dev/block/{ma}:{mi}"));
    let text = std::fs::read_to_string(base.join("queue/scheduler")).or_else(|_| std::fs::read_to_string(base.join("../queue/scheduler"))).ok()?;
    let start = text.find('[')?;
    let end = text[start..].find(']')? + start;
    Some(text[start + 1..end].to_string())
}

// ---------------------------------------------------------------------------------------------
// host checks for Case::host_skip: Some(reason) skips

pub fn only_v2() -> Option<String> {
    (!is_v2()).then(|| format!("a cgroup v2 check, and this host is {:?}, not pure cgroup v2: the v2 VM lane runs it (make test-v2)", layout()))
}

pub fn not_v2_unified_works() -> Option<String> {
    is_v2().then(|| "pure cgroup v2 host: unified keys are accepted here (cgroups_v2::unified_raw_keys checks them)".to_string())
}

/// v1-only settings (swappiness, disableOOMKiller, realtime): pure v2 has no file for them.
pub fn not_v2_v1_only() -> Option<String> {
    is_v2().then(|| "cgroup v1 only: pure v2 has no such file, rt ignores the setting with a warning (cgroups_v2::v1_only_settings_warn)".to_string())
}

pub fn needs_hugetlb() -> Option<String> {
    if std::fs::read_dir("/sys/kernel/mm/hugepages").map(|mut d| d.next().is_none()).unwrap_or(true) {
        return Some("the kernel has no huge page sizes (/sys/kernel/mm/hugepages)".into());
    }
    match hier_of("hugetlb") {
        None => Some("no hugetlb cgroup controller on this host".into()),
        Some(h) if h.v2 && layout() == Layout::Hybrid => Some(
            "this hybrid host has hugetlb only in its cgroup2 (unified) mount, where enabling it below the run cgroup \
             means writing the host root's cgroup.subtree_control, which tests must not do on a shared machine: \
             the v2 VM lane runs this test"
                .into(),
        ),
        Some(_) => None,
    }
}
