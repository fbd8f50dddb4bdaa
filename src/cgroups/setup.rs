//! Making and removing a container's cgroup directories, and putting processes in them.

use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{fs, Cgroup, CgroupDir};
use crate::error::{Errno, Error, Result};

fn fs_err(op: &'static str, path: &Path, errno: Errno, hint: &str) -> Error {
    Error::CgroupFs { op: op.into(), path: path.to_owned(), errno, hint: hint.to_owned() }
}

/// mkdir -p in every hierarchy, then per hierarchy what a new cgroup needs before a process can
/// join it. Everything this call made is removed again if a later step fails.
pub fn create(cg: &Cgroup) -> Result<()> {
    let mut made: Vec<PathBuf> = Vec::new();
    let mut existed = false;
    let result = (|| {
        for d in &cg.dirs {
            let (existing, new) = mkdir_p(d, &mut made)?;
            let cpuset = !d.v2 && d.controllers.iter().any(|c| c == "cpuset");
            if new.is_empty() {
                existed = true;
                if cpuset {
                    // made by someone else (an engine, by hand): it may still be empty
                    init_cpuset(d, &d.path, &[])?;
                }
                continue;
            }
            if cpuset {
                init_cpuset(d, &existing, &new)?;
            }
            // Pure v2: enable every controller the parent has, as runc and crun do, so that
            // stats and a later `update` of any resource work. On a hybrid host the v2 side only
            // tracks membership; a controller it carries is enabled when a write needs it.
            if d.v2 && cg.is_pure_v2() {
                enable_all(&existing, &new[..new.len() - 1]);
            }
        }
        // runc's check, before anything is placed there: an init in a frozen cgroup never
        // gets to say it is ready.
        if super::control::would_freeze(cg) {
            return Err(Error::msg("container's cgroup unexpectedly frozen"));
        }
        Ok(())
    })();
    if result.is_err() {
        for p in made.iter().rev() {
            let _ = fs::rmdir(p);
        }
    } else if existed {
        // runc's warning: another container (or anything else) already lives there, and its
        // processes will keep the cgroup from being removed with this container.
        let n = super::control::pids(cg).map(|p| p.len()).unwrap_or(0);
        if n > 0 {
            crate::logging::warn(&format!("container's cgroup is not empty: {n} process(es) found"));
        }
    }
    result
}

/// Creates `d.path` and any missing parents below the mountpoint. Returns the deepest directory
/// that existed before, and the ones made (top-down). The common case is one mkdir.
fn mkdir_p(d: &CgroupDir, made: &mut Vec<PathBuf>) -> Result<(PathBuf, Vec<PathBuf>), Error> {
    let parent = |p: &Path| p.parent().map(Path::to_path_buf).unwrap_or_default();
    if d.path == d.mount || !d.path.starts_with(&d.mount) {
        return Err(Error::Cgroup(format!("internal error: {} is not below {}", d.path.display(), d.mount.display())));
    }
    match fs::mkdir(&d.path) {
        Ok(true) => {
            made.push(d.path.clone());
            return Ok((parent(&d.path), vec![d.path.clone()]));
        }
        Ok(false) => return Ok((parent(&d.path), vec![])),
        Err(Errno(libc::ENOENT)) => {}
        Err(e) => return Err(fs_err("creating", &d.path, e, "")),
    }
    // Some parents are missing: walk down from the mountpoint.
    let rel = d.path.strip_prefix(&d.mount).unwrap_or(Path::new(""));
    let mut cur = d.mount.clone();
    let mut existing = d.mount.clone();
    let mut new = Vec::new();
    for c in rel.components() {
        cur.push(c);
        match fs::mkdir(&cur) {
            Ok(true) => {
                made.push(cur.clone());
                new.push(cur.clone());
            }
            Ok(false) => existing = cur.clone(),
            Err(e) => return Err(fs_err("creating", &cur, e, "")),
        }
    }
    Ok((existing, new))
}

/// v1 cpuset: a new cgroup starts with empty `cpuset.cpus` and `cpuset.mems`, and no process can
/// join it until they are set; nor can they be set while its parent's are empty. Each file is
/// copied down from the nearest ancestor that has it, into every empty directory on the way
/// (a pod cgroup made with a plain mkdir, as runc fills it) and into the new ones. `existing`
/// is the deepest directory that was there before, `new` those made below it, top-down.
fn init_cpuset(d: &CgroupDir, existing: &Path, new: &[PathBuf]) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let read = |dir: &Path| fs::read(&dir.join(file)).map(|s| s.trim().to_owned()).map_err(|e| fs_err("reading", &dir.join(file), e, ""));
        let mut empty: Vec<PathBuf> = Vec::new();
        let mut from = existing.to_owned();
        let value = loop {
            let v = read(&from)?;
            if !v.is_empty() || from == d.mount || !from.starts_with(&d.mount) {
                break v;
            }
            empty.push(from.clone());
            from = from.parent().map(Path::to_path_buf).unwrap_or_else(|| d.mount.clone());
        };
        for dir in empty.iter().rev().chain(new) {
            let p = dir.join(file);
            fs::write(&p, &value).map_err(|e| fs_err("initialising", &p, e, ""))?;
        }
    }
    Ok(())
}

/// Enables what `existing` has in `cgroup.controllers` in its `cgroup.subtree_control` and in
/// the new intermediate directories' (never in the container's own, which will hold processes).
/// Best effort: a controller that cannot be enabled (+cpu next to realtime tasks) is reported by
/// the write that needs it, with the reason. A parent that holds processes itself is left
/// alone (see [`may_delegate`]).
fn enable_all(existing: &Path, intermediates: &[PathBuf]) {
    let Ok(list) = fs::read(&existing.join("cgroup.controllers")) else {
        return;
    };
    let ctrls: Vec<String> = list.split_whitespace().map(|c| format!("+{c}")).collect();
    if ctrls.is_empty() {
        return;
    }
    let all = ctrls.join(" ");
    let first = may_delegate(existing).then_some(existing);
    for dir in first.into_iter().chain(intermediates.iter().map(PathBuf::as_path)) {
        let file = dir.join("cgroup.subtree_control");
        if fs::write(&file, &all).is_err() {
            for c in &ctrls {
                let _ = fs::write(&file, c);
            }
        }
    }
}

/// Whether v2 cgroup `dir` may enable controllers for its children: only the root, or a cgroup
/// with no process of its own (the no-internal-processes rule). The kernel refuses domain
/// controllers (memory, io) there with EBUSY, but takes threaded ones (cpu, cpuset, pids) —
/// and that makes the cgroup a "thread root", under which a new cgroup is no valid domain:
/// the clone into it then fails with EOPNOTSUPP. So rt never writes such a cgroup's
/// `cgroup.subtree_control`. The root is told by its lack of `cgroup.type` (a cgroup
/// namespace's root has one, and the rule applies to it).
pub fn may_delegate(dir: &Path) -> bool {
    if !dir.join("cgroup.type").exists() {
        return true;
    }
    fs::read(&dir.join("cgroup.procs")).is_ok_and(|t| t.trim().is_empty())
}

pub fn clone_into_fd(cg: &Cgroup) -> Result<Option<OwnedFd>> {
    let Some(d) = cg.v2_dir() else {
        return Ok(None);
    };
    let f = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(&d.path)
        .map_err(|e| fs_err("opening", &d.path, Errno::from_io(&e), ""))?;
    Ok(Some(f.into()))
}

pub fn add_pid(cg: &Cgroup, pid: i32, placed_by_clone: bool) -> Result<()> {
    let value = pid.to_string();
    for d in &cg.dirs {
        if d.v2 && placed_by_clone {
            continue;
        }
        let p = d.path.join("cgroup.procs");
        fs::write(&p, &value).map_err(|e| {
            let hint = match (e.0, d.v2) {
                (libc::ENOSPC, false) => " (the cpuset has no cpus or mems)",
                (libc::EBUSY, true) => " (cgroup v2 puts processes only in cgroups without controllers enabled for children)",
                _ => "",
            };
            Error::AddPid { pid, path: p.clone(), errno: e, hint: hint.to_owned() }
        })?;
    }
    Ok(())
}

pub fn place_self(cg: &Cgroup) -> Result<()> {
    for d in cg.dirs.iter().filter(|d| !d.v2) {
        let p = d.path.join("tasks");
        fs::write(&p, "0").map_err(|e| {
            let hint = if e.0 == libc::ENOSPC { " (the cpuset has no cpus or mems)" } else { "" };
            Error::AddPid { pid: 0, path: p.clone(), errno: e, hint: hint.to_owned() }
        })?;
    }
    Ok(())
}

/// Waits between rmdir attempts while exiting processes still hold the cgroup: 1, 2, 4 … 512 ms,
/// about a second in all.
const RMDIR_ATTEMPTS: u32 = 11;

pub fn destroy(cg: &Cgroup) -> Result<()> {
    let mut first = None;
    let mut others = Vec::new();
    for d in &cg.dirs {
        if let Err(e) = remove_tree(&d.path) {
            if first.is_some() {
                others.push(d.path.display().to_string());
            } else {
                first = Some(e);
            }
        }
    }
    match first {
        // the error of the first, with the others' directories (busy the same way, usually)
        Some(Error::CgroupFs { op, path, errno, mut hint }) if !others.is_empty() => {
            hint.push_str(&format!("; not removed either: {}", others.join(", ")));
            Err(Error::CgroupFs { op, path, errno, hint })
        }
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// rmdir `dir`, after the cgroups the container may have made below it. While it is busy with
/// processes that are on their way out, rmdir is tried again; with one that is not (the cgroup
/// is shared with another container), at once the error.
fn remove_tree(dir: &Path) -> Result<()> {
    for attempt in 0..RMDIR_ATTEMPTS {
        match fs::rmdir(dir) {
            Ok(()) | Err(Errno(libc::ENOENT)) => return Ok(()),
            Err(Errno(libc::EBUSY)) => {
                if remove_children(dir)? {
                    continue;
                }
                let pids = fs::read(&dir.join("cgroup.procs")).map(|t| fs::parse_pids(&t)).unwrap_or_default();
                if !pids.is_empty() && !pids.iter().any(|&p| dying(p)) {
                    break;
                }
                if attempt + 1 < RMDIR_ATTEMPTS {
                    std::thread::sleep(Duration::from_millis(1 << attempt));
                }
            }
            Err(e) => return Err(fs_err("removing", dir, e, "")),
        }
    }
    let pids = fs::read(&dir.join("cgroup.procs")).map(|t| fs::parse_pids(&t)).unwrap_or_default();
    let hint = if pids.is_empty() { String::new() } else { format!(" (processes still inside: {pids:?})") };
    Err(fs_err("removing", dir, Errno(libc::EBUSY), &hint))
}

/// Whether `pid` is on its way out: gone, a zombie, exiting (`PF_EXITING` in the flags of
/// /proc/PID/stat), or with a SIGKILL it has not acted on yet. A process that is none of
/// these was not just killed with the container.
fn dying(pid: i32) -> bool {
    const PF_EXITING: u64 = 0x4;
    const SIGKILL_BIT: u64 = 1 << (libc::SIGKILL - 1);
    let Ok(stat) = crate::sys::read_string(format!("/proc/{pid}/stat")) else { return true };
    // after the command's ")": state (field 3), ..., flags (field 9)
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
    if matches!(fields.first().copied(), None | Some("Z" | "X" | "x")) {
        return true;
    }
    if fields.get(6).and_then(|f| f.parse::<u64>().ok()).is_some_and(|f| f & PF_EXITING != 0) {
        return true;
    }
    let status = crate::sys::read_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .filter_map(|l| l.strip_prefix("SigPnd:").or_else(|| l.strip_prefix("ShdPnd:")))
        .any(|m| u64::from_str_radix(m.trim(), 16).is_ok_and(|m| m & SIGKILL_BIT != 0))
}

/// Removes the sub-cgroups of `dir`; whether there were any.
fn remove_children(dir: &Path) -> Result<bool> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(false);
    };
    let mut any = false;
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&e.path())?;
            any = true;
        }
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_process_is_not_dying_a_gone_one_is() {
        assert!(!dying(std::process::id() as i32));
        assert!(dying(i32::MAX));
    }

    #[test]
    fn delegation_needs_the_root_or_no_processes() {
        let d = std::env::temp_dir().join(format!("rt-cg-deleg-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        // No cgroup.type: the root, exempt from the rule.
        std::fs::write(d.join("cgroup.procs"), "1\n").unwrap();
        assert!(may_delegate(&d));
        std::fs::write(d.join("cgroup.type"), "domain\n").unwrap();
        assert!(!may_delegate(&d));
        std::fs::write(d.join("cgroup.procs"), "").unwrap();
        assert!(may_delegate(&d));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
