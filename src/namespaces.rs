//! `linux.namespaces`: which ones the container gets new (clone flags), which it joins (`path`),
//! and the time namespace's clock offsets.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use oci_spec::runtime::{Linux, LinuxNamespaceType};

use crate::error::{Context, Error, Result};
use crate::spec::ns_name;
use crate::sys;

/// `CLONE_NEWTIME` shares its value with `CSIGNAL`'s bits in clone(2), hence not in libc's list
/// of clone flags everywhere.
pub const CLONE_NEWTIME: i32 = 0x80;

pub fn clone_flag(t: LinuxNamespaceType) -> i32 {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => CLONE_NEWTIME,
    }
}

/// The order in which joined namespaces are entered: user first (it decides what the caller
/// may do in the others), mount last (after it, host paths mean something else).
pub const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Mount,
];

/// A namespace to enter by path.
#[derive(Debug)]
pub struct Join {
    pub typ: LinuxNamespaceType,
    pub path: PathBuf,
    /// Which entry of `linux.namespaces` asked for it, for errors (none: exec joining the init's).
    pub index: Option<usize>,
    /// Opened by rt before the clone, while host paths still mean the host.
    pub fd: Option<OwnedFd>,
}

#[derive(Debug, Default)]
pub struct NamespacePlan {
    /// `CLONE_NEW*` of the namespaces created new.
    pub new: i32,
    pub joins: Vec<Join>,
    /// `linux.timeOffsets` as `/proc/self/timens_offsets` wants them.
    pub time_offsets: Option<String>,
}

impl NamespacePlan {
    pub fn creates(&self, t: LinuxNamespaceType) -> bool {
        self.new & clone_flag(t) != 0
    }

    pub fn joins(&self, t: LinuxNamespaceType) -> bool {
        self.joins.iter().any(|j| j.typ == t)
    }

    /// Whether the container has its own namespace of this type (new or joined).
    pub fn has(&self, t: LinuxNamespaceType) -> bool {
        self.creates(t) || self.joins(t)
    }

    /// Joining a pid namespace (setns affects only children), a user namespace, or making a
    /// new user namespace take a process between rt and the init; everything else can be done
    /// by one clone and the init itself.
    pub fn needs_intermediate(&self) -> bool {
        self.joins(LinuxNamespaceType::Pid) || self.joins(LinuxNamespaceType::Time) || self.has(LinuxNamespaceType::User)
    }

    /// Opens every `path` and checks it is a namespace of the type it is listed as.
    pub fn open_joins(&mut self) -> Result<()> {
        for j in &mut self.joins {
            let field = format!("linux.namespaces[{}].path", j.index.unwrap_or_default());
            let fd = sys::open(&j.path, libc::O_RDONLY, 0).with_ctx(|| format!("{field}: open {}", j.path.display()))?;
            let typ = sys::ns_type(fd.as_fd()).with_ctx(|| format!("{field}: {} is not a namespace", j.path.display()))?;
            if typ != clone_flag(j.typ) {
                return Err(Error::spec(field, format!("{} is not a {} namespace", j.path.display(), ns_name(j.typ))));
            }
            j.fd = Some(fd);
        }
        Ok(())
    }

    /// Enters the joined namespaces of the given types, in [`JOIN_ORDER`].
    pub fn enter(&self, types: &[LinuxNamespaceType]) -> Result<()> {
        for t in JOIN_ORDER.iter().filter(|t| types.contains(t)) {
            for j in self.joins.iter().filter(|j| j.typ == *t) {
                let fd = j.fd.as_ref().ok_or_else(|| Error::msg("namespace fd not opened"))?;
                sys::setns(fd.as_fd(), clone_flag(j.typ)).with_ctx(|| match j.index {
                    Some(i) => format!("linux.namespaces[{i}]: join {}", j.path.display()),
                    None => format!("join {}", j.path.display()),
                })?;
            }
        }
        Ok(())
    }
}

/// One line of a user namespace's id map: `size` ids from `container` inside are `host` outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

/// `linux.uidMappings` and `linux.gidMappings` of a new user namespace, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdMaps {
    pub uid: Vec<IdMap>,
    pub gid: Vec<IdMap>,
}

/// The kernel takes at most this many lines in a map (since 4.15).
const MAX_MAP_LINES: usize = 340;

impl IdMaps {
    /// What `/proc/PID/uid_map` (or gid_map) is written, in one write: `container host size`
    /// lines.
    pub fn text(map: &[IdMap]) -> String {
        map.iter().map(|m| format!("{} {} {}\n", m.container, m.host, m.size)).collect()
    }

    /// The host id of container id `id`, if the map has it.
    pub fn host_id(map: &[IdMap], id: u32) -> Option<u32> {
        map.iter().find(|m| id >= m.container && id - m.container < m.size).map(|m| m.host + (id - m.container))
    }
}

/// Checks one map: sizes above zero, no overflow, no two lines overlapping inside or outside.
pub fn check_map(field: &str, raw: &[oci_spec::runtime::LinuxIdMapping]) -> Result<Vec<IdMap>> {
    if raw.len() > MAX_MAP_LINES {
        return Err(Error::spec(field, format!("{} lines: the kernel takes at most {MAX_MAP_LINES}", raw.len())));
    }
    let mut out: Vec<IdMap> = Vec::with_capacity(raw.len());
    for (i, m) in raw.iter().enumerate() {
        let line = IdMap { container: m.container_id(), host: m.host_id(), size: m.size() };
        if line.size == 0 {
            return Err(Error::spec(format!("{field}[{i}].size"), "must be greater than zero"));
        }
        for (what, start) in [("containerID", line.container), ("hostID", line.host)] {
            if start.checked_add(line.size - 1).is_none() {
                return Err(Error::spec(format!("{field}[{i}]"), format!("{what} {start} + size {} is past the last id", line.size)));
            }
        }
        let overlaps = |a: u32, b: u32, n: u32, k: u32| a < b.saturating_add(k) && b < a.saturating_add(n);
        for (j, o) in out.iter().enumerate() {
            if overlaps(line.container, o.container, line.size, o.size) {
                return Err(Error::spec(format!("{field}[{i}]"), format!("its container ids overlap those of {field}[{j}]")));
            }
            if overlaps(line.host, o.host, line.size, o.size) {
                return Err(Error::spec(format!("{field}[{i}]"), format!("its host ids overlap those of {field}[{j}]")));
            }
        }
        out.push(line);
    }
    Ok(out)
}

/// The id maps the container's user namespace gets. Mappings need a user namespace; a new one
/// needs mappings that map the container's root (rt, as root, writes them); a joined one has
/// its own, and what the config says of them is only checked for sense (engines send a pod's
/// mappings with its namespace's path, and runc 1.1 insists on them).
pub fn id_maps(linux: &Linux, ns: &NamespacePlan) -> Result<Option<IdMaps>> {
    let uid = linux.uid_mappings().as_deref().unwrap_or_default();
    let gid = linux.gid_mappings().as_deref().unwrap_or_default();
    let given = !uid.is_empty() || !gid.is_empty();
    use LinuxNamespaceType::User;
    if ns.joins(User) {
        check_map("linux.uidMappings", uid)?;
        check_map("linux.gidMappings", gid)?;
        return Ok(None);
    }
    if !ns.creates(User) {
        if given {
            return Err(Error::spec(
                if uid.is_empty() { "linux.gidMappings" } else { "linux.uidMappings" },
                "needs a user namespace, and linux.namespaces has none",
            ));
        }
        return Ok(None);
    }
    let maps = IdMaps { uid: check_map("linux.uidMappings", uid)?, gid: check_map("linux.gidMappings", gid)? };
    if IdMaps::host_id(&maps.uid, 0).is_none() {
        return Err(Error::spec("linux.uidMappings", "a new user namespace needs a mapping of the container's root (uid 0)"));
    }
    if IdMaps::host_id(&maps.gid, 0).is_none() {
        return Err(Error::spec("linux.gidMappings", "a new user namespace needs a mapping of the container's root group (gid 0)"));
    }
    Ok(Some(maps))
}

/// Reads `linux.namespaces` and `linux.timeOffsets` (checked for duplicates by spec::validate).
pub fn plan(linux: &Linux) -> Result<NamespacePlan> {
    let mut p = NamespacePlan::default();
    for (index, ns) in linux.namespaces().iter().flatten().enumerate() {
        match ns.path() {
            Some(path) => p.joins.push(Join { typ: ns.typ(), path: path.clone(), index: Some(index), fd: None }),
            None => p.new |= clone_flag(ns.typ()),
        }
    }
    if let Some(offsets) = linux.time_offsets() {
        // clock ids as /proc/PID/timens_offsets takes them: CLOCK_MONOTONIC, CLOCK_BOOTTIME
        let mut lines = String::new();
        for (name, id) in [("monotonic", libc::CLOCK_MONOTONIC), ("boottime", libc::CLOCK_BOOTTIME)] {
            if let Some(o) = offsets.get(name) {
                lines.push_str(&format!("{id} {} {}\n", o.secs().unwrap_or(0), o.nanosecs().unwrap_or(0)));
            }
        }
        p.time_offsets = Some(lines);
    }
    Ok(p)
}

/// Makes the caller's future children start in a new time namespace with these offsets. The
/// offsets can only be written before a process is in the namespace, which is why this is not
/// a clone flag.
pub fn prepare_time_namespace(offsets: &str) -> Result<()> {
    sys::unshare(CLONE_NEWTIME).ctx("linux.namespaces: unshare time namespace")?;
    std::fs::write("/proc/self/timens_offsets", offsets).ctx("linux.timeOffsets: write /proc/self/timens_offsets")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(v: serde_json::Value) -> Linux {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn new_and_joined() {
        let p = plan(&linux(serde_json::json!({"namespaces": [
            {"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}, {"type": "mount"}, {"type": "uts"}
        ]})))
        .unwrap();
        assert_eq!(p.new, libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWUTS);
        assert_eq!(p.joins.len(), 1);
        assert_eq!(p.joins[0].index, Some(1));
        assert!(p.has(LinuxNamespaceType::Network));
        assert!(!p.creates(LinuxNamespaceType::Network));
        assert!(!p.needs_intermediate());
    }

    #[test]
    fn pid_join_needs_an_intermediate() {
        let p = plan(&linux(serde_json::json!({"namespaces": [{"type": "pid", "path": "/proc/1/ns/pid"}, {"type": "mount"}]}))).unwrap();
        assert!(p.needs_intermediate());
    }

    #[test]
    fn time_offsets_text() {
        let p = plan(&linux(serde_json::json!({"namespaces": [{"type": "time"}],
            "timeOffsets": {"monotonic": {"secs": 3600, "nanosecs": 5}, "boottime": {"secs": -10}}})))
        .unwrap();
        assert_eq!(p.time_offsets.as_deref(), Some("1 3600 5\n7 -10 0\n"));
        assert!(p.creates(LinuxNamespaceType::Time));
    }

    fn maps(v: serde_json::Value) -> Result<Option<IdMaps>> {
        let l = linux(v);
        let ns = plan(&l).unwrap();
        id_maps(&l, &ns)
    }

    #[test]
    fn id_maps_are_checked() {
        let user = serde_json::json!([{"type": "user"}]);
        let m = maps(serde_json::json!({"namespaces": user, "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}))
        .unwrap()
        .unwrap();
        assert_eq!(IdMaps::text(&m.uid), "0 100000 65536\n");
        assert_eq!(IdMaps::host_id(&m.uid, 1000), Some(101000));
        assert_eq!(IdMaps::host_id(&m.uid, 70000), None);
        let err = |v: serde_json::Value| maps(v).unwrap_err().to_string();
        let g = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 10}]);
        assert_eq!(
            err(serde_json::json!({"namespaces": user, "uidMappings": [{"containerID": 0, "hostID": 1, "size": 0}], "gidMappings": g})),
            "linux.uidMappings[0].size: must be greater than zero"
        );
        assert_eq!(
            err(
                serde_json::json!({"namespaces": user, "uidMappings": [{"containerID": 0, "hostID": 100, "size": 10}, {"containerID": 5, "hostID": 500, "size": 10}], "gidMappings": g})
            ),
            "linux.uidMappings[1]: its container ids overlap those of linux.uidMappings[0]"
        );
        assert_eq!(
            err(
                serde_json::json!({"namespaces": user, "uidMappings": [{"containerID": 0, "hostID": 100, "size": 10}, {"containerID": 50, "hostID": 105, "size": 10}], "gidMappings": g})
            ),
            "linux.uidMappings[1]: its host ids overlap those of linux.uidMappings[0]"
        );
        assert!(err(serde_json::json!({"namespaces": user, "uidMappings": [{"containerID": 1000, "hostID": 100, "size": 10}], "gidMappings": g}))
            .contains("container's root (uid 0)"));
        assert!(err(serde_json::json!({"namespaces": user})).starts_with("linux.uidMappings: a new user namespace needs a mapping"));
        assert_eq!(
            err(serde_json::json!({"namespaces": [{"type": "mount"}], "uidMappings": g})),
            "linux.uidMappings: needs a user namespace, and linux.namespaces has none"
        );
        assert_eq!(
            maps(serde_json::json!({"namespaces": [{"type": "user", "path": "/proc/1/ns/user"}], "gidMappings": g})).unwrap(),
            None,
            "a joined namespace's maps are its own"
        );
        assert_eq!(maps(serde_json::json!({"namespaces": [{"type": "mount"}]})).unwrap(), None);
    }

    #[test]
    fn joined_path_of_the_wrong_type_is_refused() {
        let mut p = plan(&linux(serde_json::json!({"namespaces": [{"type": "network", "path": "/proc/self/ns/uts"}]}))).unwrap();
        let e = p.open_joins().unwrap_err().to_string();
        assert_eq!(e, "linux.namespaces[0].path: /proc/self/ns/uts is not a network namespace");
        let mut p = plan(&linux(serde_json::json!({"namespaces": [{"type": "uts", "path": "/proc/self/ns/uts"}]}))).unwrap();
        p.open_joins().unwrap();
    }
}
