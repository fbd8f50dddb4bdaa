//! Device nodes in the container's /dev: the defaults every container gets, the config's
//! `linux.devices`, and the /dev symlinks programs expect.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::paths;
use crate::error::{Context, Error, Result};
use crate::sys;

/// A node to create: where, what, and who owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub path: PathBuf,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO` plus the permission bits.
    pub mode: libc::mode_t,
    pub major: u32,
    pub minor: u32,
    pub uid: u32,
    pub gid: u32,
    /// Where it came from, for errors: `linux.devices[2]` or `default device`.
    pub field: String,
}

/// The nodes runc gives every container (unless the config lists the same path).
const DEFAULTS: [(&str, u32, u32); 6] =
    [("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7), ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0)];

/// The list of nodes to create: the config's, then the defaults it does not override.
pub fn plan(devices: &[LinuxDevice]) -> Result<Vec<Node>> {
    let mut nodes = Vec::with_capacity(devices.len() + DEFAULTS.len());
    for (i, d) in devices.iter().enumerate() {
        let field = format!("linux.devices[{i}]");
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => return Err(Error::spec(format!("{field}.type"), "\"a\" is for cgroup rules, not a node type")),
        };
        let num = |v: i64, what: &str| u32::try_from(v).map_err(|_| Error::spec(format!("{field}.{what}"), format!("{v} is out of range")));
        let (major, minor) = if kind == libc::S_IFIFO { (0, 0) } else { (num(d.major(), "major")?, num(d.minor(), "minor")?) };
        nodes.push(Node {
            path: d.path().clone(),
            mode: kind | (d.file_mode().unwrap_or(0o666) & 0o7777),
            major,
            minor,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
            field,
        });
    }
    for (path, major, minor) in DEFAULTS {
        if !devices.iter().any(|d| d.path() == Path::new(path)) {
            nodes.push(Node { path: path.into(), mode: libc::S_IFCHR | 0o666, major, minor, uid: 0, gid: 0, field: "default device".into() });
        }
    }
    Ok(nodes)
}

/// The directory the last node went into: the defaults and the links all go to /dev, which is
/// then resolved once instead of once per node.
#[derive(Default)]
pub struct DirCache {
    last: Option<(PathBuf, std::os::fd::OwnedFd)>,
    /// rt's effective ids: a node rt creates is theirs already and needs no chown.
    ids: Option<(u32, u32)>,
}

impl DirCache {
    fn parent(&mut self, root: BorrowedFd, path: &Path) -> std::io::Result<(BorrowedFd<'_>, PathBuf)> {
        let rel = paths::relative(path);
        let parent = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        if !matches!(&self.last, Some((p, _)) if *p == parent) {
            let (dir, _) = paths::parent_in_root(root, path)?;
            self.last = Some((parent, dir));
        }
        let name = rel.file_name().map(PathBuf::from).ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        match &self.last {
            Some((_, fd)) => Ok((fd.as_fd(), name)),
            None => Err(std::io::Error::from_raw_os_error(libc::EBADF)),
        }
    }

    fn ids(&mut self) -> (u32, u32) {
        *self.ids.get_or_insert_with(sys::effective_ids)
    }
}

/// Creates `node` inside the root; what was at its path before is replaced. In a user
/// namespace, where mknod of a device is not allowed, the host's node at the same path is
/// bound onto an empty file instead (runc's way); its owner is then the host's.
pub fn create(root: BorrowedFd, node: &Node, cache: &mut DirCache, userns: bool) -> Result<()> {
    let what = || format!("{} ({})", node.field, node.path.display());
    let ids = cache.ids();
    let (dir, name) = cache.parent(root, &node.path).with_ctx(|| format!("{}: create parent", what()))?;
    if userns && matches!(node.mode & libc::S_IFMT, libc::S_IFCHR | libc::S_IFBLK) {
        return bind_host_node(dir.as_fd(), &name, node).with_ctx(|| format!("{}: bind the host's {}", what(), node.path.display()));
    }
    let dev = libc::makedev(node.major, node.minor);
    match sys::mknodat(dir.as_fd(), &name, node.mode, dev) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            sys::unlinkat(Some(dir.as_fd()), &name, 0).with_ctx(|| format!("{}: replace existing file", what()))?;
            sys::mknodat(dir.as_fd(), &name, node.mode, dev).with_ctx(|| format!("{}: mknod", what()))?;
        }
        other => other.with_ctx(|| format!("{}: mknod", what()))?,
    }
    if ids == (node.uid, node.gid) {
        // mknod made it ours already (and with umask 0 the mode is exact)
        return Ok(());
    }
    sys::fchownat(dir.as_fd(), &name, node.uid, node.gid).with_ctx(|| format!("{}: chown", what()))
}

fn bind_host_node(dir: BorrowedFd, name: &Path, node: &Node) -> std::io::Result<()> {
    let host = sys::stat(&node.path)?;
    if host.st_mode & libc::S_IFMT != node.mode & libc::S_IFMT || host.st_rdev != libc::makedev(node.major, node.minor) {
        // not the device the config names: nothing else is bound in its place
        return Err(std::io::Error::from_raw_os_error(libc::ENODEV));
    }
    let target = match sys::openat(Some(dir), name, libc::O_PATH | libc::O_NOFOLLOW, 0) {
        Ok(fd) if sys::fstat(fd.as_fd())?.st_mode & libc::S_IFMT == libc::S_IFREG => fd,
        other => {
            if other.is_ok() {
                sys::unlinkat(Some(dir), name, 0)?;
            }
            sys::openat(Some(dir), name, libc::O_RDONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW, 0o644)?;
            sys::openat(Some(dir), name, libc::O_PATH | libc::O_NOFOLLOW, 0)?
        }
    };
    let tree = sys::open_tree(None, &node.path, true, false)?;
    sys::move_mount(tree.as_fd(), target.as_fd())
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx (and /dev/core where the host has /proc/kcore).
pub fn create_links(root: BorrowedFd, cache: &mut DirCache) -> Result<()> {
    let mut links: Vec<(&str, &str)> = vec![
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
        ("pts/ptmx", "/dev/ptmx"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, link) in links {
        let (dir, name) = cache.parent(root, Path::new(link)).with_ctx(|| format!("create {link}"))?;
        match sys::symlinkat(Path::new(target), dir.as_fd(), &name) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                // /dev/ptmx may be a node from the image; the link to the new pts instance
                // must win. Anything else already there is left as the image made it.
                if link == "/dev/ptmx" {
                    sys::unlinkat(Some(dir.as_fd()), &name, 0).with_ctx(|| format!("replace {link}"))?;
                    sys::symlinkat(Path::new(target), dir.as_fd(), &name).with_ctx(|| format!("create {link}"))?;
                }
            }
            other => other.with_ctx(|| format!("create {link}"))?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(v: serde_json::Value) -> LinuxDevice {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn defaults_when_config_is_empty() {
        let nodes = plan(&[]).unwrap();
        let paths: Vec<_> = nodes.iter().map(|n| n.path.to_str().unwrap()).collect();
        assert_eq!(paths, ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]);
        assert!(nodes.iter().all(|n| n.mode == libc::S_IFCHR | 0o666));
    }

    #[test]
    fn config_overrides_a_default() {
        let nodes = plan(&[dev(serde_json::json!({"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 5}))]).unwrap();
        assert_eq!(nodes.len(), 6);
        assert_eq!(nodes[0].mode, libc::S_IFCHR | 0o600);
        assert_eq!(nodes[0].uid, 5);
        assert_eq!(nodes[0].field, "linux.devices[0]");
    }

    #[test]
    fn node_types() {
        let nodes = plan(&[
            dev(serde_json::json!({"path": "/dev/sda", "type": "b", "major": 8, "minor": 0})),
            dev(serde_json::json!({"path": "/dev/fifo", "type": "p"})),
        ])
        .unwrap();
        assert_eq!(nodes[0].mode & libc::S_IFMT, libc::S_IFBLK);
        assert_eq!(nodes[1].mode & libc::S_IFMT, libc::S_IFIFO);
        let e = plan(&[dev(serde_json::json!({"path": "/dev/x", "type": "a"}))]).unwrap_err();
        assert!(e.to_string().starts_with("linux.devices[0].type:"));
        let e = plan(&[dev(serde_json::json!({"path": "/dev/x", "type": "c", "major": -1, "minor": 0}))]).unwrap_err();
        assert_eq!(e.to_string(), "linux.devices[0].major: -1 is out of range");
    }
}
