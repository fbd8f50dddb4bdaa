//! Carries out a [`Plan`]: the writes in order, the deferred ones once more at the end, the v2
//! device program; and, only when a v2 file turns out missing, the enabling of its controller in
//! the parents' `cgroup.subtree_control` (how the hybrid host's hugetlb, or a controller a v2
//! parent did not delegate yet, gets there — no reads on the path where everything exists).

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::resources::{check_memory_usage, set_i64, set_u64, Current, Plan, Routing, Ver, Write};
use super::{bpf, fs, Cgroup, CgroupDir};
use crate::error::{Errno, Error, Result};

pub fn execute(cg: &Cgroup, plan: &Plan) -> Result<()> {
    let mut out = fs::Writer::default();
    let mut deferred = Vec::new();
    for w in &plan.writes {
        match write_one(&mut out, cg, w) {
            Ok(()) => {}
            Err(e) if w.defer_on_einval && e.errno() == Some(libc::EINVAL) => deferred.push(w),
            Err(e) => return Err(e),
        }
    }
    for w in deferred {
        write_one(&mut out, cg, w)?;
    }
    if let Some(prog) = &plan.device_program {
        let dir = cg.v2_dir().ok_or_else(|| internal("a device program for a cgroup without a v2 directory"))?;
        bpf::attach_device_filter(&dir.path, prog)?;
    }
    Ok(())
}

fn internal(what: &str) -> Error {
    Error::Cgroup(format!("internal error: {what}"))
}

fn dir_of<'a>(cg: &'a Cgroup, w: &Write) -> Result<&'a CgroupDir> {
    match w.ver {
        Ver::V1 => cg.v1_dir(w.controller),
        Ver::V2 => cg.v2_dir(),
    }
    .ok_or_else(|| internal(&format!("{} planned for a hierarchy this cgroup does not have", w.file)))
}

fn write_one(out: &mut fs::Writer, cg: &Cgroup, w: &Write) -> Result<()> {
    let dir = dir_of(cg, w)?;
    let path = dir.path.join(&w.file);
    let mut r = out.write(&path, &w.value);
    if r == Err(Errno(libc::ENOENT)) && w.ver == Ver::V2 && !w.controller.is_empty() && enable(dir, w.controller, &w.field)? {
        r = out.write(&path, &w.value);
    }
    let mut tried = path;
    if r == Err(Errno(libc::ENOENT)) {
        if let Some((file, value)) = &w.fallback {
            tried = dir.path.join(file);
            r = out.write(&tried, value);
        }
    }
    match r {
        Ok(()) => Ok(()),
        Err(Errno(libc::ENOENT)) if w.ignore_enoent => Ok(()),
        Err(errno) => Err(Error::CgroupWrite { field: w.field.clone(), value: w.value.replace('\n', "\\n"), path: tried, errno, hint: hint(w, errno) }),
    }
}

/// What the errno most likely means for this file.
fn hint(w: &Write, errno: Errno) -> String {
    let h = match (errno.0, w.file.as_str()) {
        (libc::EBUSY, "memory.limit_in_bytes" | "memory.memsw.limit_in_bytes") => "the cgroup already uses more than that",
        (libc::EOPNOTSUPP, f) if f.contains("weight_device") || f == "io.bfq.weight" => "per-device weights need the BFQ I/O scheduler on that device",
        (libc::EINVAL, "cpuset.cpus" | "cpuset.mems") => "must be a subset of the parent cgroup's",
        (libc::ENOENT, _) => match &w.fallback {
            // the error's path is the fallback's: name the file tried first
            Some(_) => return format!(" (nor {}: this kernel has neither file)", w.file),
            None => "this kernel has no such file",
        },
        _ => return String::new(),
    };
    format!(" ({h})")
}

/// Makes `controller` available in `dir` (v2) by enabling it in `cgroup.subtree_control` from
/// the nearest ancestor that has it down to `dir`'s parent. `Ok(false)`: it was there already,
/// so the missing file is missing for another reason.
fn enable(dir: &CgroupDir, controller: &str, field: &str) -> Result<bool> {
    let has = |p: &Path| fs::read(&p.join("cgroup.controllers")).map(|t| t.split_whitespace().any(|c| c == controller));
    if has(&dir.path).unwrap_or(true) {
        return Ok(false);
    }
    // Ancestors, nearest first, up to the hierarchy's mountpoint.
    let mut chain: Vec<PathBuf> = Vec::new();
    let mut p = dir.path.parent();
    while let Some(a) = p {
        if !a.starts_with(&dir.mount) {
            break;
        }
        chain.push(a.to_owned());
        if has(a).unwrap_or(false) {
            break;
        }
        p = a.parent();
    }
    let top_has = chain.last().is_some_and(|a| has(a).unwrap_or(false));
    if !top_has {
        return Err(Error::Spec {
            field: field.to_owned(),
            message: format!("the cgroup v2 hierarchy at {} has no {controller} controller (see its cgroup.controllers)", dir.mount.display()),
        });
    }
    // A level that holds processes cannot hand controllers down (see `may_delegate`): say so
    // instead of writing, which would fail or, for a threaded controller, break the clone.
    if let Some(busy) = chain.iter().find(|a| !super::setup::may_delegate(a)) {
        return Err(Error::Spec {
            field: field.to_owned(),
            message: format!(
                "cannot enable the {controller} controller for {}: {} holds processes itself, and cgroup v2 \
                 enables controllers only below cgroups without processes of their own (choose a \
                 linux.cgroupsPath outside it)",
                dir.path.display(),
                busy.display()
            ),
        });
    }
    // Top-down: each level makes it available to the next.
    for a in chain.iter().rev() {
        let file = a.join("cgroup.subtree_control");
        fs::write(&file, &format!("+{controller}")).map_err(|errno| Error::CgroupWrite {
            field: field.to_owned(),
            value: format!("+{controller}"),
            path: file.clone(),
            errno,
            hint: if errno.0 == libc::EBUSY {
                format!(
                    " (cgroup v2 enables controllers only below a cgroup that holds no processes itself, and {} has \
                     some: choose a linux.cgroupsPath outside it)",
                    a.display()
                )
            } else {
                String::new()
            },
        })?;
    }
    Ok(true)
}

/// What an update reads first: the current cpu.max when only the period changes (v2), and the
/// current usage for `checkBeforeUpdate` (v2; v1's kernel refuses such a limit itself).
pub fn pre_read(cg: &Cgroup, routing: &Routing, res: &LinuxResources, current: &mut Current) -> Result<()> {
    let Some(v2) = cg.v2_dir() else { return Ok(()) };
    if let Some(c) = res.cpu() {
        if routing.route("cpu", Some("cpu")) == Some(Ver::V2) && set_u64(c.period()).is_some() && set_i64(c.quota()).is_none() {
            current.cpu_max = fs::read(&v2.path.join("cpu.max")).ok();
        }
    }
    if let Some(m) = res.memory() {
        let wanted = set_i64(m.limit()).is_some_and(|v| v > 0) || set_i64(m.swap()).is_some_and(|v| v > 0);
        if m.check_before_update() == Some(true) && wanted && routing.route("memory", Some("memory")) == Some(Ver::V2) {
            // Best effort, as in runc: without a reading there is nothing to check against.
            if let Some(usage) = fs::read(&v2.path.join("memory.current")).ok().and_then(|t| t.trim().parse().ok()) {
                check_memory_usage(res, usage)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_and_fallback_are_both_named() {
        let w = Write::new(Ver::V1, "blkio", "blkio.weight_device", "8:0 500", "linux.resources.blockIO.weightDevice[0].weight")
            .or_else("blkio.bfq.weight_device", "8:0 500");
        assert_eq!(hint(&w, Errno(libc::ENOENT)), " (nor blkio.weight_device: this kernel has neither file)");
        assert!(hint(&w, Errno(libc::EOPNOTSUPP)).contains("BFQ"));
    }
}
