//! What a test or a whole run may have left behind, and the end-of-run check.

use super::Rig;
use std::fs;
use std::path::Path;

/// Mount points in our mount namespace at or below DIR (or whose source is there).
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.to_string_lossy();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            f.len() > 4 && (f[4] == d || f[4].starts_with(&format!("{d}/")) || f[3].starts_with(&format!("{d}/")))
        })
        .map(|l| format!("mount left behind: {l}"))
        .collect()
}

/// Lazily unmount our mounts below DIR (deepest first). Returns what failed.
pub fn unmount_under(dir: &Path) -> Vec<String> {
    let d = dir.to_string_lossy().into_owned();
    let mut points: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|mp| *mp == d || mp.starts_with(&format!("{d}/")))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let mut out = Vec::new();
    for p in points {
        let c = std::ffi::CString::new(p.clone()).unwrap();
        // SAFETY: a valid NUL-terminated path; the mount is below this run's own directory.
        if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
            out.push(format!("umount {p}: {}", std::io::Error::last_os_error()));
        }
    }
    out
}

/// Processes whose pid namespace differs from ours and that run from this run's directories
/// (their root or cwd is there) — a container that escaped the cgroup checks.
fn foreign_ns_processes(run_dir: &Path) -> Vec<String> {
    let me = fs::read_link("/proc/self/ns/pid").ok();
    let d = run_dir.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<i32>() else { continue };
        let ns = fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
        if ns.is_none() || ns == me || !super::pid_alive(pid) {
            continue; // ours, or a zombie waiting for its reaper
        }
        let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let root = fs::read_link(format!("/proc/{pid}/root")).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        if root.starts_with(&d) || cg.contains(&format!("/{}/", super::rig().cgroup.name)) {
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).map(|b| String::from_utf8_lossy(&b).replace('\0', " ")).unwrap_or_default();
            out.push(format!("process {pid} ({}) in another pid namespace, root {root}", cmd.trim()));
        }
    }
    out
}

/// The end-of-run check: no state dirs, no cgroups or processes in the run cgroup, no mounts
/// of the run's directories, no container processes. Returns the problems found.
pub fn check_run(r: &Rig) -> Vec<String> {
    // processes that are exiting (killed by a delete a moment ago) get a few seconds
    let mut out = check_run_once(r);
    let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !out.is_empty() && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(100));
        out = check_run_once(r);
    }
    out
}

fn check_run_once(r: &Rig) -> Vec<String> {
    let mut out = Vec::new();
    let mut roots = vec![r.state_root.clone()];
    roots.extend(fs::read_dir(r.run_dir.join("roots")).into_iter().flatten().flatten().map(|e| e.path()));
    for root in &roots {
        for e in fs::read_dir(root).into_iter().flatten().flatten() {
            out.push(format!("state dir left behind: {}", e.path().display()));
        }
    }
    out.extend(r.cgroup.leftovers());
    out.extend(mounts_under(&r.run_dir));
    out.extend(foreign_ns_processes(&r.run_dir));
    if let Ok(rd) = fs::read_dir(r.run_dir.join("bundles")) {
        for e in rd.flatten() {
            out.push(format!("bundle left behind: {}", e.path().display()));
        }
    }
    out
}

/// Clean what check_run found: delete --force leftover containers, unmount, remove the run dir.
pub fn clean_run(r: &Rig) {
    let mut roots = vec![r.state_root.clone()];
    roots.extend(fs::read_dir(r.run_dir.join("roots")).into_iter().flatten().flatten().map(|e| e.path()));
    for root in &roots {
        for e in fs::read_dir(root).into_iter().flatten().flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            let c = super::Cmd::new(&r.runtime).arg("--root").arg(root).args(&["delete", "--force", &id]);
            let _ = c.try_spawn_in(&r.misc_dir()).map(|x| x.finish());
        }
    }
    unmount_under(&r.run_dir);
}
