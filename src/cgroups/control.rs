//! Acting on a live container through its cgroup: listing, freezing, signalling.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{fs, Cgroup, CgroupDir};
use crate::error::{Errno, Error, Result};

/// The directory whose membership is complete: the v2 one (every process of the container is
/// there, also on a hybrid host), else a v1 one — `devices` first, as runc (it is the hierarchy
/// a container can never be left out of).
fn membership_dir(cg: &Cgroup) -> Option<&CgroupDir> {
    cg.v2_dir().or_else(|| cg.v1_dir("devices")).or_else(|| cg.v1_dir("freezer")).or_else(|| cg.dirs.first())
}

pub fn pids(cg: &Cgroup) -> Result<Vec<i32>> {
    let Some(d) = membership_dir(cg) else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    collect_pids(&d.path, &mut out, true)?;
    Ok(out)
}

/// Pids of `dir` and the cgroups below it. A cgroup that is gone has no processes.
fn collect_pids(dir: &Path, out: &mut Vec<i32>, top: bool) -> Result<()> {
    let procs = dir.join("cgroup.procs");
    match fs::read(&procs) {
        Ok(t) => out.extend(fs::parse_pids(&t)),
        Err(Errno(libc::ENOENT)) => return Ok(()),
        Err(e) if top => return Err(Error::CgroupFs { op: "reading".into(), path: procs, errno: e, hint: String::new() }),
        Err(_) => return Ok(()),
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&e.path(), out, false)?;
            }
        }
    }
    Ok(())
}

/// The freezer rt uses: v1 `freezer` when mounted (runc's choice on hybrid hosts), else the v2
/// `cgroup.freeze` (kernel 5.2+).
enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

fn freezer(cg: &Cgroup) -> Option<Freezer<'_>> {
    if let Some(d) = cg.v1_dir("freezer") {
        return Some(Freezer::V1(&d.path));
    }
    cg.v2_dir().map(|d| Freezer::V2(&d.path))
}

pub fn is_frozen(cg: &Cgroup) -> bool {
    match freezer(cg) {
        Some(Freezer::V1(p)) => fs::read(&p.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN"),
        // `pause` returns only once the cgroup is frozen, so the switch alone tells "paused".
        Some(Freezer::V2(p)) => fs::read(&p.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1"),
        None => false,
    }
}

/// Whether a process in the cgroup is frozen now, or would be as soon as it entered: frozen
/// or freezing itself, or through an ancestor (v1 `freezer.state` says FROZEN or FREEZING for
/// both; v2 `cgroup.freeze` is 1, or `cgroup.events` says `frozen 1`, which a new cgroup
/// below a frozen one starts with). The check before an init is placed, and while rt waits on
/// one.
pub fn would_freeze(cg: &Cgroup) -> bool {
    match freezer(cg) {
        Some(Freezer::V1(p)) => fs::read(&p.join("freezer.state")).is_ok_and(|s| matches!(s.trim(), "FROZEN" | "FREEZING")),
        Some(Freezer::V2(p)) => {
            fs::read(&p.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1") || fs::read(&p.join("cgroup.events")).is_ok_and(|s| events_frozen(&s))
        }
        None => false,
    }
}

/// How long `pause` waits for every task to stop before giving up (and thawing again).
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

pub fn freeze(cg: &Cgroup) -> Result<()> {
    let Some(f) = freezer(cg) else {
        return Err(Error::Cgroup("this cgroup has no freezer (no v1 freezer controller and no cgroup v2)".into()));
    };
    let (file, on, off) = match f {
        Freezer::V1(p) => (p.join("freezer.state"), "FROZEN", "THAWED"),
        Freezer::V2(p) => (p.join("cgroup.freeze"), "1", "0"),
    };
    let w = |v: &str| fs::write(&file, v).map_err(|e| Error::CgroupFs { op: "writing".into(), path: file.clone(), errno: e, hint: String::new() });
    w(on)?;
    let frozen = || -> bool {
        match f {
            Freezer::V1(p) => fs::read(&p.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN"),
            Freezer::V2(p) => fs::read(&p.join("cgroup.events")).is_ok_and(|s| events_frozen(&s)),
        }
    };
    let start = Instant::now();
    let mut wait = Duration::from_micros(100);
    let mut rounds = 0u32;
    while !frozen() {
        if start.elapsed() > FREEZE_TIMEOUT {
            let _ = w(off);
            return Err(Error::Cgroup(format!(
                "pausing timed out after {:?}: some tasks did not freeze ({} stayed not frozen); thawed again",
                FREEZE_TIMEOUT,
                file.display()
            )));
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_millis(10));
        rounds += 1;
        // v1: a task that was busy in the kernel when FROZEN was written is retried by
        // writing FROZEN again.
        if matches!(f, Freezer::V1(_)) && rounds.is_multiple_of(10) {
            w(on)?;
        }
    }
    Ok(())
}

/// `frozen 1` in a cgroup.events text.
pub fn events_frozen(text: &str) -> bool {
    text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["frozen", "1"])
}

pub fn thaw(cg: &Cgroup) -> Result<()> {
    let (file, v) = match freezer(cg) {
        Some(Freezer::V1(p)) => (p.join("freezer.state"), "THAWED"),
        Some(Freezer::V2(p)) => (p.join("cgroup.freeze"), "0"),
        None => return Err(Error::Cgroup("this cgroup has no freezer".into())),
    };
    fs::write(&file, v).map_err(|e| Error::CgroupFs { op: "writing".into(), path: file, errno: e, hint: String::new() })
}

/// Signals every process of the cgroup. SIGKILL with `cgroup.kill` (v2, kernel 5.14+; also the
/// unified directory of a hybrid host) is one write and reaches processes forked meanwhile.
/// Otherwise the cgroup is frozen first so that nothing forks or exits between listing and
/// signalling, as runc does; a paused container stays paused, except after SIGKILL, which a
/// v1-frozen task only acts on once thawed.
pub fn kill_all(cg: &Cgroup, signal: i32) -> Result<()> {
    let was_frozen = is_frozen(cg);
    if signal == libc::SIGKILL {
        if let Some(d) = cg.v2_dir() {
            match fs::write(&d.path.join("cgroup.kill"), "1") {
                // A task frozen by the v1 freezer (hybrid host) dies only once thawed.
                Ok(()) if was_frozen => return thaw(cg),
                Ok(()) => return Ok(()),
                Err(Errno(libc::ENOENT)) => {}
                Err(e) => return Err(Error::CgroupFs { op: "writing".into(), path: d.path.join("cgroup.kill"), errno: e, hint: String::new() }),
            }
        }
    }
    let froze = !was_frozen && freezer(cg).is_some() && freeze(cg).is_ok();
    let result = (|| {
        for pid in pids(cg)? {
            // The pid comes from the cgroup, frozen where a freezer exists, so that it cannot be
            // reused meanwhile.
            if let Err(e) = crate::sys::kill(pid, signal) {
                if e.raw_os_error() != Some(libc::ESRCH) {
                    return Err(Error::Cgroup(format!("signalling pid {pid}: {}", Errno::from_io(&e))));
                }
            }
        }
        Ok(())
    })();
    if froze || (was_frozen && signal == libc::SIGKILL) {
        thaw(cg)?;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_in_cgroup_events() {
        assert!(events_frozen("populated 1\nfrozen 1\n"));
        assert!(!events_frozen("populated 1\nfrozen 0\n"));
        assert!(!events_frozen(""));
    }

    #[test]
    fn membership_prefers_v2_then_devices() {
        let d = |p: &str, c: &[&str], v2| CgroupDir { path: p.into(), mount: "/m".into(), controllers: c.iter().map(|s| s.to_string()).collect(), v2 };
        let cg = Cgroup { dirs: vec![d("/m/cpu", &["cpu"], false), d("/m/dev", &["devices"], false)] };
        assert_eq!(membership_dir(&cg).unwrap().path, Path::new("/m/dev"));
        let cg = Cgroup { dirs: vec![d("/m/dev", &["devices"], false), d("/m/u", &[], true)] };
        assert_eq!(membership_dir(&cg).unwrap().path, Path::new("/m/u"));
    }

    #[test]
    fn gone_cgroup_has_no_pids_and_is_not_frozen() {
        let cg = Cgroup { dirs: vec![CgroupDir { path: "/nonexistent/rt-cg".into(), mount: "/nonexistent".into(), controllers: vec![], v2: true }] };
        assert_eq!(pids(&cg).unwrap(), Vec::<i32>::new());
        assert!(!is_frozen(&cg));
    }
}
