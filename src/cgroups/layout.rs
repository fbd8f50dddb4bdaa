//! Which cgroup hierarchies this host has, where they are mounted, and which cgroup rt itself is
//! in, in each: read once from /proc/self/cgroup and /proc/self/mountinfo, parsed by pure
//! functions so that every layout (pure v1, pure v2, hybrid, inside a cgroup namespace) is tested
//! from sample texts.
//!
//! Mountpoints are never guessed (`/sys/fs/cgroup/<name>`): a host may mount `cpu,cpuacct`
//! together, or the v2 hierarchy under `unified`, or anywhere else.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// The three layouts rt knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only v1 hierarchies.
    V1,
    /// Only the v2 (unified) hierarchy.
    V2,
    /// v1 controllers plus a v2 hierarchy (usually at /sys/fs/cgroup/unified), as runc handles
    /// it: v1 for the controllers, v2 for membership and whatever controllers it carries.
    Hybrid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HierarchyKind {
    /// A v1 hierarchy: its controllers, or `name=…` for a named one such as `name=systemd`.
    V1 {
        controllers: Vec<String>,
    },
    V2,
}

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub kind: HierarchyKind,
    /// Where it is mounted (the directory rt writes below).
    pub mountpoint: PathBuf,
    /// Which cgroup of the hierarchy is mounted there (mountinfo's 4th field): `/` normally,
    /// `/docker/<id>` inside a container without a cgroup namespace.
    pub mount_root: PathBuf,
    /// rt's own cgroup in this hierarchy, as /proc/self/cgroup says.
    pub own: PathBuf,
}

impl Hierarchy {
    /// rt's own cgroup as a directory, or `None` when it is not below the mounted part of the
    /// hierarchy (then relative cgroupsPaths cannot be placed in it).
    pub fn own_dir(&self) -> Option<PathBuf> {
        let rel = self.own.strip_prefix(&self.mount_root).ok()?;
        Some(self.mountpoint.join(rel))
    }

    pub fn is_v2(&self) -> bool {
        self.kind == HierarchyKind::V2
    }
}

/// The cgroup hierarchies mounted on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// v1 hierarchies in the order of /proc/self/cgroup, then the v2 one.
    pub hierarchies: Vec<Hierarchy>,
}

impl Layout {
    /// Reads /proc/self/cgroup and /proc/self/mountinfo (once each).
    pub fn detect() -> Result<Layout> {
        // fs::read, not read_to_string: /proc files report no size, and std would stat the
        // file and then grow its buffer from 32 bytes: a dozen syscalls for mountinfo.
        let read = |p: &str| super::fs::read(Path::new(p)).map_err(|e| Error::CgroupLayout(format!("reading {p}: {e}")));
        let cgroup = read("/proc/self/cgroup")?;
        let mountinfo = read("/proc/self/mountinfo")?;
        Layout::parse(&mountinfo, &cgroup)
    }

    /// The pure part of [`Layout::detect`].
    pub fn parse(mountinfo: &str, proc_cgroup: &str) -> Result<Layout> {
        let mounts = parse_mountinfo(mountinfo)?;
        let mut v1 = Vec::new();
        let mut v2 = None;
        for line in proc_cgroup.lines().filter(|l| !l.trim().is_empty()) {
            let mut parts = line.splitn(3, ':');
            let (Some(_id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(Error::CgroupLayout(format!("/proc/self/cgroup: malformed line {line:?}")));
            };
            let own = PathBuf::from(path);
            if ctrls.is_empty() {
                // "0::/path": the v2 hierarchy. Kernels print it even when cgroup2 is not
                // mounted (pure v1 hosts): then there is simply no v2 hierarchy.
                if let Some(m) = pick_mount(&mounts, &own, |m| m.fstype == "cgroup2") {
                    v2 = Some(Hierarchy { kind: HierarchyKind::V2, mountpoint: m.mountpoint.clone(), mount_root: m.root.clone(), own });
                }
                continue;
            }
            let controllers: Vec<String> = ctrls.split(',').map(str::to_owned).collect();
            let has_all = |m: &Mount| m.fstype == "cgroup" && controllers.iter().all(|c| m.super_options.iter().any(|o| o == c));
            // A hierarchy the kernel has but nobody mounted (net_cls on some hosts) cannot be
            // used; leave it out.
            if let Some(m) = pick_mount(&mounts, &own, has_all) {
                v1.push(Hierarchy { kind: HierarchyKind::V1 { controllers }, mountpoint: m.mountpoint.clone(), mount_root: m.root.clone(), own });
            }
        }
        // /proc/self/cgroup lists hierarchies by descending id; ascending reads better in
        // state.json. Nothing depends on the order.
        v1.reverse();
        let mut hierarchies = v1;
        hierarchies.extend(v2);
        if hierarchies.is_empty() {
            return Err(Error::CgroupLayout("no cgroup hierarchy is mounted (see /proc/self/mountinfo)".into()));
        }
        Ok(Layout { hierarchies })
    }

    pub fn mode(&self) -> Mode {
        let has_v2 = self.hierarchies.iter().any(Hierarchy::is_v2);
        let has_v1 = self.hierarchies.iter().any(|h| !h.is_v2());
        match (has_v1, has_v2) {
            (true, true) => Mode::Hybrid,
            (false, true) => Mode::V2,
            _ => Mode::V1,
        }
    }

    pub fn v2(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.is_v2())
    }

    /// The v1 hierarchy carrying `controller`.
    pub fn v1(&self, controller: &str) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| match &h.kind {
            HierarchyKind::V1 { controllers } => controllers.iter().any(|c| c == controller),
            HierarchyKind::V2 => false,
        })
    }
}

/// The fields of one mountinfo line that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub root: PathBuf,
    pub mountpoint: PathBuf,
    pub fstype: String,
    pub super_options: Vec<String>,
}

/// The cgroup and cgroup2 mounts of a mountinfo text, in file order.
pub fn parse_mountinfo(text: &str) -> Result<Vec<Mount>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // id parent major:minor root mountpoint options [optional…] - fstype source superoptions
        let fields: Vec<&str> = line.split(' ').collect();
        let sep = fields.iter().position(|f| *f == "-");
        let (Some(sep), true) = (sep, fields.len() >= 5) else {
            return Err(Error::CgroupLayout(format!("/proc/self/mountinfo: malformed line {line:?}")));
        };
        let Some(fstype) = fields.get(sep + 1) else {
            return Err(Error::CgroupLayout(format!("/proc/self/mountinfo: malformed line {line:?}")));
        };
        // A mount on the same place or on a parent directory hides what was mounted there
        // before (bench.sh's tmpfs over /sys/fs/cgroup and over unified/): drop those.
        let mountpoint = PathBuf::from(unescape(fields[4]));
        out.retain(|m: &Mount| !m.mountpoint.starts_with(&mountpoint));
        if *fstype != "cgroup" && *fstype != "cgroup2" {
            continue;
        }
        let super_options = fields.get(sep + 3).map(|o| o.split(',').map(str::to_owned).collect()).unwrap_or_default();
        out.push(Mount { root: PathBuf::from(unescape(fields[3])), mountpoint, fstype: (*fstype).to_owned(), super_options });
    }
    Ok(out)
}

/// mountinfo escapes space, tab, newline and backslash as `\040` `\011` `\012` `\134`.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount to use for a hierarchy. The same hierarchy can be mounted several times; a later
/// mount on the same place hides an earlier one (cgroup-sandbox mounts a tmpfs over
/// /sys/fs/cgroup and the hierarchies again, and in a cgroup namespace the hidden ones show a root
/// of `/..`). So: the last mount whose root holds rt's own cgroup, else the last one at all.
fn pick_mount<'a>(mounts: &'a [Mount], own: &Path, matches: impl Fn(&Mount) -> bool) -> Option<&'a Mount> {
    let candidates: Vec<&Mount> = mounts.iter().filter(|m| matches(m)).collect();
    candidates.iter().rev().find(|m| is_ancestor(&m.root, own)).or_else(|| candidates.last()).copied()
}

/// `/a` is an ancestor of `/a/b` and of itself; `/..` is nobody's.
fn is_ancestor(root: &Path, p: &Path) -> bool {
    !root.components().any(|c| c == Component::ParentDir) && p.starts_with(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Layout {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cgroups/testdata");
        let mi = std::fs::read_to_string(dir.join(format!("{name}.mountinfo"))).unwrap();
        let cg = std::fs::read_to_string(dir.join(format!("{name}.cgroup"))).unwrap();
        Layout::parse(&mi, &cg).unwrap()
    }

    fn v1_names(l: &Layout) -> Vec<String> {
        l.hierarchies
            .iter()
            .filter_map(|h| match &h.kind {
                HierarchyKind::V1 { controllers } => Some(controllers.join(",")),
                HierarchyKind::V2 => None,
            })
            .collect()
    }

    #[test]
    fn hidden_mounts_are_not_used() {
        // bench.sh: a tmpfs over the hybrid unified mount, which mountinfo still lists
        let text = "30 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                    31 25 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
                    90 31 0:80 / /sys/fs/cgroup/unified rw - tmpfs tmpfs rw\n";
        let m = parse_mountinfo(text).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].mountpoint, PathBuf::from("/sys/fs/cgroup/memory"));
    }

    #[test]
    fn this_hybrid_host() {
        let l = fixture("hybrid_host");
        assert_eq!(l.mode(), Mode::Hybrid);
        // cpu and cpuacct are separate hierarchies here; no net_cls, hugetlb or rdma on v1.
        assert_eq!(v1_names(&l), ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd"]);
        let mem = l.v1("memory").unwrap();
        assert_eq!(mem.mountpoint, Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(mem.own_dir().unwrap(), Path::new("/sys/fs/cgroup/memory/process_api/28223a2387879a71d5f5e94a0e53cb6a"));
        assert_eq!(l.v1("cpu").unwrap().own_dir().unwrap(), Path::new("/sys/fs/cgroup/cpu"));
        let v2 = l.v2().unwrap();
        assert_eq!(v2.mountpoint, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(v2.own_dir().unwrap(), Path::new("/sys/fs/cgroup/unified"));
        assert!(l.v1("hugetlb").is_none() && l.v1("net_cls").is_none() && l.v1("rdma").is_none());
    }

    #[test]
    fn inside_cgroup_sandbox_the_hidden_mounts_are_skipped() {
        // The sandbox mounts a tmpfs over /sys/fs/cgroup and every hierarchy again, in a new
        // cgroup namespace: the hidden host mounts show roots like "/.." and "/../../..".
        let l = fixture("hybrid_sandbox");
        assert_eq!(l.mode(), Mode::Hybrid);
        for h in &l.hierarchies {
            assert_eq!(h.mount_root, Path::new("/"), "{h:?}");
            assert_eq!(h.own, Path::new("/"));
        }
        assert_eq!(l.v1("memory").unwrap().own_dir().unwrap(), Path::new("/sys/fs/cgroup/memory"));
    }

    #[test]
    fn pure_v1_with_comounted_controllers() {
        let l = fixture("v1_host");
        assert_eq!(l.mode(), Mode::V1);
        assert_eq!(
            v1_names(&l),
            ["name=systemd", "cpu,cpuacct", "net_cls,net_prio", "perf_event", "memory", "devices", "freezer", "blkio", "pids", "cpuset", "hugetlb", "rdma"]
        );
        let cpu = l.v1("cpuacct").unwrap();
        assert_eq!(cpu.mountpoint, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(cpu.own_dir().unwrap(), Path::new("/sys/fs/cgroup/cpu,cpuacct/user.slice"));
        assert_eq!(l.v1("pids").unwrap().own_dir().unwrap(), Path::new("/sys/fs/cgroup/pids/user.slice/user-1000.slice/session-2.scope"));
        // "0::/…" is printed, but cgroup2 is not mounted: no v2 hierarchy.
        assert!(l.v2().is_none());
        // clone_children in the options is not a controller.
        assert!(l.v1("clone_children").is_none());
    }

    #[test]
    fn pure_v2() {
        let l = fixture("v2_host");
        assert_eq!(l.mode(), Mode::V2);
        assert_eq!(l.hierarchies.len(), 1);
        let v2 = l.v2().unwrap();
        assert_eq!(v2.mountpoint, Path::new("/sys/fs/cgroup"));
        assert_eq!(v2.own_dir().unwrap(), Path::new("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-foot.scope"));
    }

    #[test]
    fn container_without_cgroup_namespace_mounts_its_own_subtree() {
        // Docker-in-Docker without cgroupns: the mount's root is the container's cgroup, and
        // /proc/self/cgroup shows the full path.
        let mi = "100 99 0:30 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n";
        let cg = "4:memory:/docker/abc/inner\n";
        let l = Layout::parse(mi, cg).unwrap();
        assert_eq!(l.v1("memory").unwrap().own_dir().unwrap(), Path::new("/sys/fs/cgroup/memory/inner"));
    }

    #[test]
    fn own_cgroup_outside_the_mount_is_not_placeable() {
        let mi = "100 99 0:30 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n";
        let l = Layout::parse(mi, "4:memory:/elsewhere\n").unwrap();
        assert_eq!(l.v1("memory").unwrap().own_dir(), None);
    }

    #[test]
    fn escaped_mountpoints() {
        let mi = "41 31 0:38 / /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n";
        let l = Layout::parse(mi, "0::/\n").unwrap();
        assert_eq!(l.v2().unwrap().mountpoint, Path::new("/mnt/cg two"));
        assert_eq!(unescape("a\\134b\\011"), "a\\b\t");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
    }

    #[test]
    fn nothing_mounted_is_an_error() {
        let e = Layout::parse("27 1 254:0 / / rw - ext4 /dev/vda rw\n", "0::/\n").unwrap_err();
        assert!(e.to_string().contains("no cgroup hierarchy is mounted"), "{e}");
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(Layout::parse("garbage\n", "0::/\n").is_err());
        assert!(Layout::parse("", "nonsense\n").is_err());
    }

    #[test]
    fn named_only_v1_next_to_v2_counts_as_hybrid_with_v2_controllers() {
        let mi = "28 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n\
                  40 28 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n";
        let l = Layout::parse(mi, "1:name=systemd:/\n0::/\n").unwrap();
        assert_eq!(l.mode(), Mode::Hybrid);
        assert!(l.v1("memory").is_none());
    }
}
