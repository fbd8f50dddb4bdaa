//! The container's root filesystem, set up by the init in its new mount namespace, in order:
//! propagation of `/`, the rootfs bound onto itself, `mounts`, /dev, `maskedPaths`,
//! `readonlyPaths`, then pivot_root (or MS_MOVE + chroot) and `root.readonly`.
//!
//! Every mount happens before pivot_root, while the host's /proc (which the container cannot
//! touch) is the /proc that rt's fd paths go through; every path inside the rootfs is resolved
//! with `openat2(RESOLVE_IN_ROOT)` (see [`paths`]).

pub mod devices;
pub mod mounts;
pub mod paths;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::error::{Context, Error, Prefix, Result};
use crate::sys::{self, MountAttr};

/// A cgroup filesystem to show at the container's `/sys/fs/cgroup`.
pub use crate::cgroups::ContainerMount as CgroupMount;

/// Everything the init needs to build the root, decided before the clone.
pub struct RootfsPlan {
    pub rootfs: PathBuf,
    pub root_propagation: libc::c_ulong,
    pub readonly: bool,
    pub no_pivot: bool,
    /// Whether rt makes /dev (nodes and links): not when the config binds /dev from the host.
    pub setup_dev: bool,
    pub nodes: Vec<devices::Node>,
    pub cgroup_mounts: Vec<CgroupMount>,
    pub own_cgroup_ns: bool,
    /// `mounts`, checked and parsed.
    pub mounts: Vec<mounts::MountStep>,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub mount_label: Option<String>,
    pub userns: bool,
}

/// What shapes the root besides the config.
pub struct RootfsContext<'a> {
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub no_pivot: bool,
    pub cgroup_mounts: Vec<CgroupMount>,
    pub own_cgroup_ns: bool,
    /// The container has a mount namespace: without one, `mounts` and the paths are skipped.
    pub mount_ns: bool,
    /// It joins a mount namespace: bind sources are that namespace's, not rt's.
    pub joins_mount_ns: bool,
    /// `linux.mountLabel` (only where SELinux is there to apply it).
    pub mount_label: Option<String>,
    /// The container has a user namespace: devices are bound from the host (mknod is not
    /// allowed there), cgroup v1 hierarchies are bound (they cannot be mounted there).
    pub userns: bool,
    /// Its network namespace is new (and so its user namespace's): sysfs can be mounted.
    pub own_net_ns: bool,
}

/// Checks and plans everything about the root: a bad mount is refused here, before anything
/// exists.
pub fn plan(spec: &Spec, ctx: RootfsContext) -> Result<RootfsPlan> {
    let linux = spec.linux().as_ref();
    let root_propagation = match linux.and_then(|l| l.rootfs_propagation().as_deref()).unwrap_or("") {
        "" => libc::MS_SLAVE | libc::MS_REC,
        p => {
            let o = mounts::parse_options(&[p.to_owned()]);
            o.propagation.first().copied().ok_or_else(|| Error::spec("linux.rootfsPropagation", format!("unknown propagation {p:?}")))?
        }
    };
    let setup_dev = !spec.mounts().iter().flatten().any(|m| {
        paths::relative(m.destination()) == Path::new("dev")
            && (m.typ().as_deref() == Some("bind") || mounts::parse_options(m.options().as_deref().unwrap_or_default()).is_bind())
    });
    let nodes = if setup_dev { devices::plan(linux.and_then(|l| l.devices().as_deref()).unwrap_or_default())? } else { vec![] };
    let all = if ctx.mount_ns { spec.mounts().as_deref().unwrap_or_default() } else { &[] };
    let mounts = all
        .iter()
        .enumerate()
        .map(|(i, m)| {
            mounts::plan(i, m, ctx.bundle, !ctx.joins_mount_ns, ctx.userns).map(|m| if ctx.userns && !ctx.own_net_ns { m.sysfs_as_bind() } else { m })
        })
        .collect::<Result<Vec<_>>>()?;
    let paths = |l: Option<&Vec<String>>| if ctx.mount_ns { l.cloned().unwrap_or_default() } else { vec![] };
    Ok(RootfsPlan {
        rootfs: ctx.rootfs.to_owned(),
        root_propagation,
        readonly: spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false),
        no_pivot: ctx.no_pivot,
        setup_dev,
        nodes,
        cgroup_mounts: ctx.cgroup_mounts,
        own_cgroup_ns: ctx.own_cgroup_ns,
        mounts,
        masked_paths: paths(linux.and_then(|l| l.masked_paths().as_ref())),
        readonly_paths: paths(linux.and_then(|l| l.readonly_paths().as_ref())),
        mount_label: ctx.mount_label,
        userns: ctx.userns,
    })
}

/// Builds the root: everything up to pivot_root. Runs in the init, in its own mount
/// namespace; the hooks that run "before pivot_root" run after it, then [`switch`].
/// `idmapped`: the idmapped trees rt made, in the order of the idmapped mounts.
pub fn build(plan: &RootfsPlan, idmapped: Vec<OwnedFd>) -> Result<()> {
    // An unbindable / would refuse the rootfs bind below: that one is applied after pivot_root.
    let base = if plan.root_propagation & libc::MS_UNBINDABLE != 0 { libc::MS_SLAVE | libc::MS_REC } else { plan.root_propagation };
    sys::mount(None, Path::new("/"), None, base, None).ctx("linux.rootfsPropagation: set propagation of /")?;
    if plan.root_propagation & libc::MS_SHARED != 0 {
        // pivot_root refuses a new root whose parent mount is shared.
        make_parent_private(&plan.rootfs)?;
    }
    sys::mount(Some(&plan.rootfs), &plan.rootfs, None, libc::MS_BIND | libc::MS_REC, None)
        .with_ctx(|| format!("root.path: bind {} onto itself", plan.rootfs.display()))?;
    let root = sys::open(&plan.rootfs, libc::O_PATH | libc::O_DIRECTORY, 0).with_ctx(|| format!("root.path: open {}", plan.rootfs.display()))?;

    let ctx = mounts::MountContext::new(root.as_fd(), plan.mount_label.as_deref());
    let cgroupfs = |dest: &Path, opts: &mounts::MountOptions| mount_cgroupfs(root.as_fd(), dest, opts, plan);
    let mut idmapped = idmapped.into_iter();
    for m in &plan.mounts {
        let tree = if m.idmap.is_some() { Some(idmapped.next().ok_or_else(|| Error::msg(format!("{}: rt sent no idmapped tree", m.field())))?) } else { None };
        mounts::mount_one(&ctx, m, tree, &cgroupfs)?;
    }

    if plan.setup_dev {
        let mut cache = devices::DirCache::default();
        for node in &plan.nodes {
            devices::create(root.as_fd(), node, &mut cache, plan.userns)?;
        }
        devices::create_links(root.as_fd(), &mut cache)?;
    }

    if !plan.masked_paths.is_empty() {
        let null = dev_null(root.as_fd())?;
        for (i, p) in plan.masked_paths.iter().enumerate() {
            mask(root.as_fd(), Path::new(p), null.as_fd()).prefix(|| format!("linux.maskedPaths[{i}] ({p})"))?;
        }
    }
    for (i, p) in plan.readonly_paths.iter().enumerate() {
        make_readonly(root.as_fd(), Path::new(p)).prefix(|| format!("linux.readonlyPaths[{i}] ({p})"))?;
    }
    Ok(())
}

/// Makes the built root the process's `/` (pivot_root, or MS_MOVE + chroot with
/// `--no-pivot`), then its propagation and `root.readonly`.
pub fn switch(plan: &RootfsPlan) -> Result<()> {
    if plan.no_pivot {
        move_root(&plan.rootfs)?;
    } else {
        pivot(&plan.rootfs)?;
    }
    if plan.root_propagation & (libc::MS_SHARED | libc::MS_UNBINDABLE) != 0 {
        // pivot_root cannot take a shared new root, and an unbindable one could not have been
        // bound: the new root gets these only now.
        sys::mount(None, Path::new("/"), None, plan.root_propagation, None).ctx("linux.rootfsPropagation: set propagation of the new /")?;
    }
    let later: Vec<_> = plan.mounts.iter().filter(|m| m.readonly_later()).collect();
    if !later.is_empty() {
        // What was mounted read-write to be filled (a read-only /dev) is read-only from here.
        let root = sys::open(Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0).ctx("open /")?;
        let attr = MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() };
        for m in later {
            let fd = paths::open_in_root(root.as_fd(), &m.destination, 0).with_ctx(|| format!("{}: reopen", m.field()))?;
            sys::mount_setattr(fd.as_fd(), false, &attr).with_ctx(|| format!("{}: remount read-only", m.field()))?;
        }
    }
    if plan.readonly {
        let root = sys::open(Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0).ctx("root.readonly: open /")?;
        let attr = MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() };
        sys::mount_setattr(root.as_fd(), false, &attr).ctx("root.readonly: remount / read-only")?;
    }
    Ok(())
}

/// Without a mount namespace of its own the container shares the host's mounts: rt only
/// changes its root. What would have to be mounted is skipped (with a warning at create), as
/// mounting it would change the host.
pub fn enter_without_mount_namespace(plan: &RootfsPlan) -> Result<()> {
    sys::chroot(&plan.rootfs).with_ctx(|| format!("root.path: chroot {}", plan.rootfs.display()))?;
    sys::chdir(Path::new("/")).ctx("chdir /")
}

/// The fields that need a mount namespace, for the warning when there is none.
pub fn needs_mount_namespace(spec: &Spec) -> Vec<&'static str> {
    let mut fields = Vec::new();
    let linux = spec.linux().as_ref();
    if spec.mounts().as_ref().is_some_and(|m| !m.is_empty()) {
        fields.push("mounts");
    }
    if linux.and_then(|l| l.masked_paths().as_ref()).is_some_and(|m| !m.is_empty()) {
        fields.push("linux.maskedPaths");
    }
    if linux.and_then(|l| l.readonly_paths().as_ref()).is_some_and(|m| !m.is_empty()) {
        fields.push("linux.readonlyPaths");
    }
    if linux.and_then(|l| l.devices().as_ref()).is_some_and(|m| !m.is_empty()) {
        fields.push("linux.devices");
    }
    if spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
        fields.push("root.readonly");
    }
    if linux.and_then(|l| l.rootfs_propagation().as_ref()).is_some_and(|p| !p.is_empty()) {
        fields.push("linux.rootfsPropagation");
    }
    fields
}

/// The parent mount of `rootfs` made private (only needed when `/` was made shared).
fn make_parent_private(rootfs: &Path) -> Result<()> {
    let info = crate::sys::read_string("/proc/self/mountinfo").ctx("read /proc/self/mountinfo")?;
    let parent = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(|mp| PathBuf::from(crate::cgroups::layout::unescape(mp))))
        .filter(|mp| rootfs.starts_with(mp))
        .max_by_key(|mp| mp.as_os_str().len())
        .unwrap_or_else(|| PathBuf::from("/"));
    sys::mount(None, &parent, None, libc::MS_PRIVATE, None).with_ctx(|| format!("make {} private", parent.display()))
}

/// The container's /dev/null, checked to be the real 1:3 character device and not a symlink:
/// masked paths are covered with it, and a file that only pretends to be /dev/null would
/// open them up instead (CVE-2025-31133).
fn dev_null(root: BorrowedFd) -> Result<OwnedFd> {
    let fd = paths::open_in_root(root, Path::new("/dev/null"), libc::O_NOFOLLOW).ctx("linux.maskedPaths: open /dev/null")?;
    let st = sys::fstat(fd.as_fd()).ctx("linux.maskedPaths: stat /dev/null")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != libc::makedev(1, 3) {
        return Err(Error::msg("linux.maskedPaths: the container's /dev/null is not the 1:3 character device"));
    }
    Ok(fd)
}

/// Covers a file with /dev/null, or a directory with an empty read-only tmpfs. A path that does
/// not exist is left alone.
fn mask(root: BorrowedFd, path: &Path, null: BorrowedFd) -> Result<()> {
    let target = match paths::open_in_root(root, path, 0) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e).ctx("open"),
    };
    let st = sys::fstat(target.as_fd()).ctx("stat")?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        sys::mount(Some(Path::new("tmpfs")), &sys::fd_path(target.as_fd()), Some("tmpfs"), libc::MS_RDONLY, None).ctx("mount read-only tmpfs")
    } else {
        let tree = sys::open_tree(Some(null), Path::new(""), true, false).ctx("clone /dev/null")?;
        sys::move_mount(tree.as_fd(), target.as_fd()).ctx("bind /dev/null")
    }
}

/// Binds a path onto itself, read-only all the way down. A path that does not exist is left
/// alone.
fn make_readonly(root: BorrowedFd, path: &Path) -> Result<()> {
    let target = match paths::open_in_root(root, path, 0) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e).ctx("open"),
    };
    let tree = sys::open_tree(Some(target.as_fd()), Path::new(""), true, true).ctx("bind")?;
    let attr = MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() };
    sys::mount_setattr(tree.as_fd(), true, &attr).ctx("make read-only")?;
    sys::move_mount(tree.as_fd(), target.as_fd()).ctx("attach")
}

/// `/sys/fs/cgroup` (or wherever the config puts a `cgroup` mount): with a cgroup namespace,
/// fresh mounts of each hierarchy (rooted at the container's cgroup by the kernel); without,
/// binds of the container's cgroup directories. On v1 and hybrid hosts they sit on a tmpfs.
fn mount_cgroupfs(root: BorrowedFd, dest: &Path, opts: &mounts::MountOptions, plan: &RootfsPlan) -> Result<()> {
    let flags = opts.flags & (libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RELATIME);
    let base = paths::create_in_root(root, dest, paths::Kind::Dir, 0o755).ctx("create destination")?;
    let pure_v2 = plan.cgroup_mounts.len() == 1 && plan.cgroup_mounts[0].dir.is_empty();
    if !pure_v2 {
        sys::mount(Some(Path::new("tmpfs")), &sys::fd_path(base.as_fd()), Some("tmpfs"), flags & !libc::MS_RDONLY, Some("mode=755")).ctx("mount tmpfs")?;
    }
    if !pure_v2 && !plan.own_cgroup_ns {
        // Binds of the container's directories onto the tmpfs rt has just mounted: nothing can
        // be in it yet to resolve, and the flags go on once, recursively, at the end.
        let top = paths::open_in_root(root, dest, libc::O_DIRECTORY).ctx("open the new tmpfs")?;
        for cm in &plan.cgroup_mounts {
            let name = Path::new(&cm.dir);
            sys::mkdirat(top.as_fd(), name, 0o755).with_ctx(|| format!("create {}", dest.join(name).display()))?;
            let tree = sys::open_tree(None, &cm.host_dir, true, false).with_ctx(|| format!("bind {}", cm.host_dir.display()))?;
            sys::move_mount_at(tree.as_fd(), top.as_fd(), name).with_ctx(|| format!("bind {}", dest.join(name).display()))?;
        }
        link_comounted(top.as_fd(), dest, &plan.cgroup_mounts)?;
        let mut attr = mounts::bind_attr(opts);
        if flags & libc::MS_RDONLY != 0 {
            attr.attr_set |= sys::MOUNT_ATTR_RDONLY;
        }
        return sys::mount_setattr(top.as_fd(), true, &attr).ctx("set the flags of the cgroup mounts");
    }
    for cm in &plan.cgroup_mounts {
        let sub = dest.join(&cm.dir);
        let target = paths::create_in_root(root, &sub, paths::Kind::Dir, 0o755).with_ctx(|| format!("create {}", sub.display()))?;
        if plan.own_cgroup_ns {
            let data = if cm.fstype == "cgroup" { Some(cm.options.as_str()) } else { None };
            sys::mount(Some(Path::new(cm.fstype)), &sys::fd_path(target.as_fd()), Some(cm.fstype), flags, data)
                .with_ctx(|| format!("mount {} {}", cm.fstype, sub.display()))?;
        } else {
            let tree = sys::open_tree(None, &cm.host_dir, true, false).with_ctx(|| format!("bind {}", cm.host_dir.display()))?;
            let attr = mounts::bind_attr(opts);
            sys::mount_setattr(tree.as_fd(), false, &attr).ctx("set bind mount flags")?;
            sys::move_mount(tree.as_fd(), target.as_fd()).with_ctx(|| format!("bind {}", sub.display()))?;
        }
    }
    let readonly = flags & libc::MS_RDONLY != 0;
    if !pure_v2 && (readonly || plan.cgroup_mounts.iter().any(|cm| cm.dir.contains(','))) {
        let top = paths::open_in_root(root, dest, libc::O_DIRECTORY).ctx("open the new tmpfs")?;
        link_comounted(top.as_fd(), dest, &plan.cgroup_mounts)?;
        if readonly {
            let attr = MountAttr { attr_set: sys::MOUNT_ATTR_RDONLY, ..Default::default() };
            sys::mount_setattr(top.as_fd(), false, &attr).ctx("make tmpfs read-only")?;
        }
    }
    Ok(())
}

/// A hierarchy of several controllers (`cpu,cpuacct`) is also reached by each controller's
/// name, as on the host and with runc: programs look for /sys/fs/cgroup/cpu.
fn link_comounted(top: BorrowedFd, dest: &Path, cgroup_mounts: &[CgroupMount]) -> Result<()> {
    for cm in cgroup_mounts.iter().filter(|cm| cm.dir.contains(',')) {
        for name in cm.dir.split(',') {
            match sys::symlinkat(Path::new(&cm.dir), top, Path::new(name)) {
                Err(e) if e.raw_os_error() != Some(libc::EEXIST) => return Err(e).with_ctx(|| format!("link {}", dest.join(name).display())),
                _ => {}
            }
        }
    }
    Ok(())
}

/// pivot_root(".", ".") stacks the old root on the new one; it is then detached, after being
/// made a slave so that the unmount does not reach the host.
fn pivot(rootfs: &Path) -> Result<()> {
    let old = sys::open(Path::new("/"), libc::O_RDONLY | libc::O_DIRECTORY, 0).ctx("open /")?;
    let new = sys::open(rootfs, libc::O_RDONLY | libc::O_DIRECTORY, 0).with_ctx(|| format!("open {}", rootfs.display()))?;
    sys::fchdir(new.as_fd()).ctx("chdir to rootfs")?;
    sys::pivot_root(Path::new("."), Path::new(".")).ctx("pivot_root")?;
    sys::fchdir(old.as_fd()).ctx("chdir to old root")?;
    sys::mount(None, Path::new("."), None, libc::MS_SLAVE | libc::MS_REC, None).ctx("make old root a slave")?;
    sys::umount2(Path::new("."), libc::MNT_DETACH).ctx("unmount old root")?;
    sys::chdir(Path::new("/")).ctx("chdir /")
}

/// `--no-pivot`: move the rootfs mount onto / and chroot into it (for roots pivot_root cannot
/// leave, such as a ramfs).
///
/// pivot_root takes the old root away whole; a move leaves every mount of the host's tree in
/// the container's mount namespace, hidden under the new `/` but there. The kernel looks at
/// all of them when a process in a user namespace of its own asks for a fresh procfs or sysfs
/// (one may be mounted only where a full one is visible already): the host's unmasked /proc
/// let `unshare -mrpf mount -t proc` succeed in the container. So first every mount that is
/// neither the rootfs, inside it, nor one it sits on is detached (runc does this for procfs
/// and sysfs only), each made a slave beforehand so that the unmount does not reach the host.
fn move_root(rootfs: &Path) -> Result<()> {
    let rootfs = &std::fs::canonicalize(rootfs).with_ctx(|| format!("root.path: resolve {}", rootfs.display()))?;
    let info = crate::sys::read_string("/proc/self/mountinfo").ctx("--no-pivot: read /proc/self/mountinfo")?;
    for (mp, pseudo) in outside_root(&info, rootfs) {
        let what = || format!("--no-pivot: detach {}", mp.display());
        match sys::mount(None, &mp, None, libc::MS_SLAVE | libc::MS_REC, None) {
            // gone with a mount above it, or no mount point any more
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINVAL)) => continue,
            r => r.with_ctx(|| format!("{}: make it a slave", what()))?,
        }
        match sys::umount2(&mp, libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            // locked (a user namespace's inherited mounts): a procfs or sysfs is covered
            // instead, anything else stays hidden
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EPERM)) => {
                if pseudo {
                    sys::mount(Some(Path::new("tmpfs")), &mp, Some("tmpfs"), libc::MS_RDONLY, None).with_ctx(|| format!("{}: cover it", what()))?;
                }
            }
            Err(e) => return Err(e).with_ctx(what),
        }
    }
    sys::chdir(rootfs).with_ctx(|| format!("chdir {}", rootfs.display()))?;
    sys::mount(Some(rootfs), Path::new("/"), None, libc::MS_MOVE, None).ctx("move rootfs to /")?;
    sys::chroot(Path::new(".")).ctx("chroot")?;
    sys::chdir(Path::new("/")).ctx("chdir /")
}

/// The mounts of `mountinfo` that `--no-pivot` detaches: neither `rootfs`, below it, nor one
/// it sits on; shallowest first, once per mount (stacked mounts repeat their path), without
/// those below one already listed (they go with it). `true`: a procfs or sysfs is at that path.
fn outside_root(mountinfo: &str, rootfs: &Path) -> Vec<(PathBuf, bool)> {
    let mut all: Vec<(PathBuf, bool)> = mountinfo
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mp = PathBuf::from(crate::cgroups::layout::unescape(pre.split(' ').nth(4)?));
            Some((mp, matches!(post.split(' ').next()?, "proc" | "sysfs")))
        })
        .filter(|(mp, _)| !rootfs.starts_with(mp) && !mp.starts_with(rootfs))
        .collect();
    all.sort_by_key(|(mp, _)| mp.components().count());
    let mut out: Vec<(PathBuf, bool)> = Vec::new();
    for (mp, pseudo) in all {
        if out.iter().any(|(o, _)| *o != mp && mp.starts_with(o)) {
            continue;
        }
        let same: Vec<_> = out.iter_mut().filter(|(o, _)| *o == mp).collect();
        let pseudo = pseudo || same.iter().any(|(_, p)| *p);
        for (_, p) in same {
            *p = pseudo;
        }
        out.push((mp, pseudo));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_pivot_detaches_all_but_the_rootfs_and_what_it_sits_on() {
        let info = "\
1 0 8:1 / / rw - ext4 /dev/sda rw
2 1 0:5 / /proc rw - proc proc rw
3 2 0:6 / /proc/sys/fs/binfmt_misc rw - binfmt_misc x rw
4 1 0:7 / /sys rw - sysfs sysfs rw
5 1 0:8 / /tmp rw - tmpfs tmpfs rw
6 5 8:1 /b/rootfs /tmp/b/rootfs rw - ext4 /dev/sda rw
7 6 0:9 / /tmp/b/rootfs/proc rw - proc proc rw
8 5 0:10 / /tmp/other rw - tmpfs tmpfs rw
9 1 0:11 / /run rw - tmpfs tmpfs rw
10 9 0:12 / /run rw - proc proc rw
11 1 0:13 / /my\\040dir rw - tmpfs tmpfs rw
12 6 0:14 / /tmp/b/rootfs2 rw - tmpfs tmpfs rw
";
        let got = outside_root(info, Path::new("/tmp/b/rootfs"));
        let want: Vec<(PathBuf, bool)> =
            [("/proc", true), ("/sys", true), ("/run", true), ("/run", true), ("/my dir", false), ("/tmp/other", false), ("/tmp/b/rootfs2", false)]
                .iter()
                .map(|(p, b)| (PathBuf::from(p), *b))
                .collect();
        assert_eq!(got, want);
    }

    fn spec(v: serde_json::Value) -> Spec {
        serde_json::from_value(v).unwrap()
    }

    fn ctx() -> RootfsContext<'static> {
        RootfsContext {
            bundle: Path::new("/b"),
            rootfs: Path::new("/b/rootfs"),
            no_pivot: false,
            cgroup_mounts: vec![],
            own_cgroup_ns: true,
            mount_ns: true,
            joins_mount_ns: false,
            mount_label: None,
            userns: false,
            own_net_ns: true,
        }
    }

    #[test]
    fn propagation_and_dev() {
        let s = spec(serde_json::json!({"ociVersion": "1.3.0", "linux": {"rootfsPropagation": "rshared"},
            "mounts": [{"destination": "/dev", "type": "tmpfs"}]}));
        let p = plan(&s, ctx()).unwrap();
        assert_eq!(p.root_propagation, libc::MS_SHARED | libc::MS_REC);
        assert!(p.setup_dev);
        assert_eq!(p.nodes.len(), 6);

        let s = spec(serde_json::json!({"ociVersion": "1.3.0", "mounts": [{"destination": "/dev/", "type": "bind", "source": "/dev", "options": ["rbind"]}]}));
        let p = plan(&s, ctx()).unwrap();
        assert_eq!(p.root_propagation, libc::MS_SLAVE | libc::MS_REC);
        assert!(!p.setup_dev);
        assert!(p.nodes.is_empty());
    }
}
