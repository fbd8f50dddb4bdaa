//! Where a container's cgroup goes in each hierarchy (pure).
//!
//! - absent: `<rt's own cgroup>/<id>`;
//! - relative: `<rt's own cgroup>/<path>`;
//! - absolute: `<hierarchy mountpoint>/<path>` (from the root of what is mounted, as runc does);
//!
//! in every hierarchy rt uses: all v1 hierarchies (named ones such as `name=systemd` too, as runc
//! joins them) plus the v2 one. `..` is resolved lexically and cannot climb above the base, as
//! runc's CleanPath does; a path that ends up naming the base itself is refused (the container
//! would share rt's or the root cgroup, and delete would try to remove it).

use std::path::{Component, Path, PathBuf};

use super::layout::{HierarchyKind, Layout};
use super::{Cgroup, CgroupDir};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Below rt's own cgroup.
    Relative(PathBuf),
    /// Below the hierarchy's mountpoint.
    Absolute(PathBuf),
}

/// `linux.cgroupsPath` (+ the id, for the default) → a cleaned relative path and its base.
pub fn target(cgroups_path: Option<&Path>, id: &str) -> Result<Target> {
    let raw = cgroups_path.map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let path_err = |reason: &str| Error::CgroupsPath { path: raw.clone(), reason: reason.to_owned() };
    if raw.is_empty() {
        if id.is_empty() || id.contains('/') || id == "." || id == ".." {
            return Err(Error::Spec { field: "container id".into(), message: format!("{id:?} cannot name a cgroup") });
        }
        return Ok(Target::Relative(PathBuf::from(id)));
    }
    if is_systemd_form(&raw) {
        return Err(path_err(
            "this is systemd's \"slice:prefix:name\" form (runc --systemd-cgroup); rt manages cgroups \
             through the cgroup filesystem only, so give a path such as \"/machine/name\" instead",
        ));
    }
    let absolute = raw.starts_with('/');
    let clean = clean(Path::new(&raw));
    if clean.as_os_str().is_empty() {
        return Err(path_err(if absolute {
            "names the root cgroup itself; a container needs a cgroup of its own"
        } else {
            "names rt's own cgroup itself; a container needs a cgroup of its own"
        }));
    }
    Ok(if absolute { Target::Absolute(clean) } else { Target::Relative(clean) })
}

/// `slice:prefix:name`, e.g. `system.slice:docker:abc` or `:crio:abc`.
pub fn is_systemd_form(p: &str) -> bool {
    !p.starts_with('/') && p.split(':').count() == 3
}

/// Lexical cleaning; the result is relative (no root), `..` stops at the base.
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The container's directory in every hierarchy of `layout`.
pub fn plan(layout: &Layout, cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup> {
    let target = target(cgroups_path, id)?;
    let mut dirs = Vec::with_capacity(layout.hierarchies.len());
    for h in &layout.hierarchies {
        let path = match &target {
            Target::Absolute(rel) => h.mountpoint.join(rel),
            Target::Relative(rel) => match h.own_dir() {
                Some(own) => own.join(rel),
                None => {
                    return Err(Error::CgroupsPath {
                        path: cgroups_path.map(|p| p.display().to_string()).unwrap_or_default(),
                        reason: format!(
                            "rt's own cgroup {} is outside what is mounted at {} (root {}), so a \
                             relative path cannot be placed below it; give an absolute path",
                            h.own.display(),
                            h.mountpoint.display(),
                            h.mount_root.display()
                        ),
                    })
                }
            },
        };
        let (controllers, v2) = match &h.kind {
            HierarchyKind::V1 { controllers } => (controllers.clone(), false),
            HierarchyKind::V2 => (Vec::new(), true),
        };
        dirs.push(CgroupDir { path, mount: h.mountpoint.clone(), controllers, v2 });
    }
    Ok(Cgroup { dirs })
}

/// The cgroup rt itself runs in, in every hierarchy where it is below the mount (what a
/// rootless container without a cgroup of its own sees at /sys/fs/cgroup).
pub fn own(layout: &Layout) -> Cgroup {
    let dirs = layout
        .hierarchies
        .iter()
        .filter_map(|h| {
            let (controllers, v2) = match &h.kind {
                HierarchyKind::V1 { controllers } => (controllers.clone(), false),
                HierarchyKind::V2 => (Vec::new(), true),
            };
            Some(CgroupDir { path: h.own_dir()?, mount: h.mountpoint.clone(), controllers, v2 })
        })
        .collect();
    Cgroup { dirs }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(name: &str) -> Layout {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cgroups/testdata");
        let mi = std::fs::read_to_string(dir.join(format!("{name}.mountinfo"))).unwrap();
        let cg = std::fs::read_to_string(dir.join(format!("{name}.cgroup"))).unwrap();
        Layout::parse(&mi, &cg).unwrap()
    }

    fn paths(cg: &Cgroup) -> Vec<String> {
        cg.paths().map(|p| p.display().to_string()).collect()
    }

    const OWN_MEM: &str = "/sys/fs/cgroup/memory/process_api/28223a2387879a71d5f5e94a0e53cb6a";

    #[test]
    fn absent_path_is_own_cgroup_slash_id_on_this_host() {
        let cg = plan(&layout("hybrid_host"), None, "ctr1").unwrap();
        assert_eq!(
            paths(&cg),
            [
                "/sys/fs/cgroup/cpu/ctr1".to_string(),
                "/sys/fs/cgroup/cpuacct/ctr1".into(),
                "/sys/fs/cgroup/cpuset/ctr1".into(),
                format!("{OWN_MEM}/ctr1"),
                "/sys/fs/cgroup/devices/ctr1".into(),
                "/sys/fs/cgroup/freezer/ctr1".into(),
                "/sys/fs/cgroup/blkio/ctr1".into(),
                "/sys/fs/cgroup/pids/ctr1".into(),
                "/sys/fs/cgroup/systemd/ctr1".into(),
                "/sys/fs/cgroup/unified/ctr1".into(),
            ]
        );
        assert!(cg.v2_dir().unwrap().v2);
        assert_eq!(cg.v1_dir("memory").unwrap().mount, Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(cg.v1_dir("name=systemd").unwrap().path, Path::new("/sys/fs/cgroup/systemd/ctr1"));
    }

    #[test]
    fn relative_path_nests_below_own_cgroup() {
        let cg = plan(&layout("hybrid_host"), Some(Path::new("pod/ctr")), "x").unwrap();
        assert_eq!(cg.v1_dir("memory").unwrap().path, Path::new(&format!("{OWN_MEM}/pod/ctr")));
        assert_eq!(cg.v1_dir("pids").unwrap().path, Path::new("/sys/fs/cgroup/pids/pod/ctr"));
    }

    #[test]
    fn absolute_path_starts_at_each_hierarchy_root() {
        let cg = plan(&layout("hybrid_host"), Some(Path::new("/cgrouptest")), "x").unwrap();
        assert_eq!(cg.v1_dir("memory").unwrap().path, Path::new("/sys/fs/cgroup/memory/cgrouptest"));
        assert_eq!(cg.v2_dir().unwrap().path, Path::new("/sys/fs/cgroup/unified/cgrouptest"));
    }

    #[test]
    fn inside_cgroup_sandbox_absolute_paths_stay_in_the_sandbox() {
        // The sandbox's mounts are rooted at its own cgroups: "/cgrouptest" is below them.
        let cg = plan(&layout("hybrid_sandbox"), Some(Path::new("/cgrouptest")), "x").unwrap();
        assert_eq!(cg.v1_dir("memory").unwrap().path, Path::new("/sys/fs/cgroup/memory/cgrouptest"));
        assert_eq!(cg.dirs.len(), 10);
    }

    #[test]
    fn pure_v1_comounted_hierarchy_has_one_dir() {
        let cg = plan(&layout("v1_host"), None, "c").unwrap();
        assert_eq!(cg.dirs.len(), 12);
        let cpu = cg.v1_dir("cpu").unwrap();
        assert_eq!(cpu, cg.v1_dir("cpuacct").unwrap());
        assert_eq!(cpu.path, Path::new("/sys/fs/cgroup/cpu,cpuacct/user.slice/c"));
        assert!(cg.v2_dir().is_none());
    }

    #[test]
    fn pure_v2_has_a_single_dir() {
        let cg = plan(&layout("v2_host"), Some(Path::new("/machine/c")), "c").unwrap();
        assert_eq!(paths(&cg), ["/sys/fs/cgroup/machine/c"]);
        assert!(cg.is_pure_v2());
    }

    #[test]
    fn dot_dot_cannot_climb_out() {
        assert_eq!(target(Some(Path::new("../../x")), "i").unwrap(), Target::Relative("x".into()));
        assert_eq!(target(Some(Path::new("/a/../../b/./c")), "i").unwrap(), Target::Absolute("b/c".into()));
    }

    #[test]
    fn paths_naming_the_base_are_refused() {
        for p in ["/", "/..", ".", "a/.."] {
            let e = target(Some(Path::new(p)), "i").unwrap_err();
            assert!(e.to_string().starts_with(&format!("linux.cgroupsPath {p:?}: names")), "{e}");
        }
    }

    #[test]
    fn systemd_form_is_refused_clearly() {
        let e = target(Some(Path::new("system.slice:docker:abc")), "abc").unwrap_err();
        assert!(e.to_string().contains("slice:prefix:name"), "{e}");
        assert!(is_systemd_form(":crio:abc"));
        assert!(!is_systemd_form("/a:b:c"));
        assert!(!is_systemd_form("a:b"));
    }

    #[test]
    fn empty_path_means_absent() {
        assert_eq!(target(Some(Path::new("")), "i").unwrap(), Target::Relative("i".into()));
        assert!(target(None, "a/b").is_err());
    }

    #[test]
    fn relative_path_with_own_cgroup_outside_mount_is_an_error() {
        let mi = "100 99 0:30 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n";
        let l = Layout::parse(mi, "4:memory:/elsewhere\n").unwrap();
        let e = plan(&l, None, "c").unwrap_err();
        assert!(e.to_string().contains("outside what is mounted"), "{e}");
        // An absolute path does not need rt's own cgroup.
        assert_eq!(plan(&l, Some(Path::new("/c")), "c").unwrap().dirs[0].path, Path::new("/sys/fs/cgroup/memory/c"));
    }
}
