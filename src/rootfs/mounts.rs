//! The entries of `mounts`: their options parsed into flags (pure), then each mounted inside
//! the rootfs through file descriptors.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;

use super::paths::{self, Kind};
use crate::error::{Context, Error, Result};
use crate::sys::{self, MountAttr};

/// What a mount's `options` ask for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// `MS_*` flags for mount(2) (including MS_BIND, MS_REC, MS_REMOUNT).
    pub flags: libc::c_ulong,
    /// Flags the options explicitly turn off (`rw`, `suid`, `dev`, ...): they matter when the
    /// mount is a bind whose source had them on.
    pub cleared: libc::c_ulong,
    /// Propagation changes, in order (`MS_PRIVATE`, `MS_SHARED|MS_REC`, ...).
    pub propagation: Vec<libc::c_ulong>,
    /// The `r*` options (`rro`, `rnosuid`, ...): applied with mount_setattr(AT_RECURSIVE).
    pub recursive: MountAttr,
    /// Everything else, passed to the filesystem (`mode=755`, `size=64m`, `newinstance`).
    pub data: Vec<String>,
    /// runc's `tmpcopyup`: fill the new tmpfs with what the directory held.
    pub tmpcopyup: bool,
    /// `idmap` / `ridmap`: an idmapped bind mount (needs a user namespace).
    pub idmap: bool,
    /// `ridmap`: the submounts are idmapped too.
    pub ridmap: bool,
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags & libc::MS_BIND != 0
    }
    pub fn data_string(&self) -> Option<String> {
        (!self.data.is_empty()).then(|| self.data.join(","))
    }
}

/// The options `parse_options` acts on (not passed as filesystem data), as `features` lists
/// them.
pub const KNOWN_OPTIONS: [&str; 62] = [
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "rbind",
    "relatime",
    "remount",
    "ro",
    "rw",
    "silent",
    "strictatime",
    "suid",
    "sync",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
    "tmpcopyup",
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnodiratime",
    "rdiratime",
    "rnosymfollow",
    "rsymfollow",
    "rnoatime",
    "rstrictatime",
    "rrelatime",
    "ratime",
    "rnostrictatime",
    "rnorelatime",
    "symfollow",
    "idmap",
    "ridmap",
];

/// runtime-spec's mount options, as runc understands them.
pub fn parse_options(options: &[String]) -> MountOptions {
    use libc::*;
    let mut o = MountOptions::default();
    for opt in options {
        let (set, clear): (c_ulong, c_ulong) = match opt.as_str() {
            "async" => (0, MS_SYNCHRONOUS),
            "atime" => (0, MS_NOATIME),
            "bind" => (MS_BIND, 0),
            "defaults" => (0, 0),
            "dev" => (0, MS_NODEV),
            "diratime" => (0, MS_NODIRATIME),
            "dirsync" => (MS_DIRSYNC, 0),
            "exec" => (0, MS_NOEXEC),
            "iversion" => (MS_I_VERSION, 0),
            "lazytime" => (MS_LAZYTIME, 0),
            "loud" => (0, MS_SILENT),
            "mand" => (MS_MANDLOCK, 0),
            "noatime" => (MS_NOATIME, 0),
            "nodev" => (MS_NODEV, 0),
            "nodiratime" => (MS_NODIRATIME, 0),
            "noexec" => (MS_NOEXEC, 0),
            "noiversion" => (0, MS_I_VERSION),
            "nolazytime" => (0, MS_LAZYTIME),
            "nomand" => (0, MS_MANDLOCK),
            "norelatime" => (0, MS_RELATIME),
            "nostrictatime" => (0, MS_STRICTATIME),
            "nosuid" => (MS_NOSUID, 0),
            "nosymfollow" => (MS_NOSYMFOLLOW, 0),
            "rbind" => (MS_BIND | MS_REC, 0),
            "relatime" => (MS_RELATIME, 0),
            "remount" => (MS_REMOUNT, 0),
            "ro" => (MS_RDONLY, 0),
            "rw" => (0, MS_RDONLY),
            "silent" => (MS_SILENT, 0),
            "strictatime" => (MS_STRICTATIME, 0),
            "suid" => (0, MS_NOSUID),
            "symfollow" => (0, MS_NOSYMFOLLOW),
            "sync" => (MS_SYNCHRONOUS, 0),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable" | "runbindable" => {
                let base = match opt.trim_start_matches('r') {
                    "private" => MS_PRIVATE,
                    "shared" => MS_SHARED,
                    "slave" => MS_SLAVE,
                    _ => MS_UNBINDABLE,
                };
                o.propagation.push(if opt.starts_with('r') { base | MS_REC } else { base });
                continue;
            }
            "tmpcopyup" => {
                o.tmpcopyup = true;
                continue;
            }
            "idmap" | "ridmap" => {
                o.idmap = true;
                o.ridmap |= opt == "ridmap";
                continue;
            }
            other => {
                if let Some((set, clr)) = recursive_attr(other) {
                    if clr & sys::MOUNT_ATTR__ATIME != 0 {
                        o.recursive.attr_set &= !sys::MOUNT_ATTR__ATIME;
                    }
                    o.recursive.attr_set |= set;
                    o.recursive.attr_clr |= clr;
                } else {
                    o.data.push(other.to_owned());
                }
                continue;
            }
        };
        o.flags = (o.flags | set) & !clear;
        o.cleared = (o.cleared | clear) & !set;
    }
    o
}

/// `rro`, `rnosuid`, ... → (attr_set, attr_clr) for mount_setattr. The atime modes are an
/// enum, not bits: choosing one means clearing the whole `MOUNT_ATTR__ATIME` field, and
/// turning one off falls back to relatime (the kernel's default).
fn recursive_attr(opt: &str) -> Option<(u64, u64)> {
    use sys::*;
    Some(match opt {
        "rro" => (MOUNT_ATTR_RDONLY, 0),
        "rrw" => (0, MOUNT_ATTR_RDONLY),
        "rnosuid" => (MOUNT_ATTR_NOSUID, 0),
        "rsuid" => (0, MOUNT_ATTR_NOSUID),
        "rnodev" => (MOUNT_ATTR_NODEV, 0),
        "rdev" => (0, MOUNT_ATTR_NODEV),
        "rnoexec" => (MOUNT_ATTR_NOEXEC, 0),
        "rexec" => (0, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (MOUNT_ATTR_NODIRATIME, 0),
        "rdiratime" => (0, MOUNT_ATTR_NODIRATIME),
        "rnosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, 0),
        "rsymfollow" => (0, MOUNT_ATTR_NOSYMFOLLOW),
        "rnoatime" => (MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME),
        "rstrictatime" => (MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME),
        "rrelatime" | "ratime" | "rnostrictatime" | "rnorelatime" => (MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME),
        _ => return None,
    })
}

/// The per-mount flags of mount(2) as mount_setattr attributes, for binds (whose flags are
/// set on the detached tree before it is attached).
pub fn bind_attr(o: &MountOptions) -> MountAttr {
    use libc::*;
    let mut a = MountAttr::default();
    for (ms, attr) in [
        (MS_RDONLY, sys::MOUNT_ATTR_RDONLY),
        (MS_NOSUID, sys::MOUNT_ATTR_NOSUID),
        (MS_NODEV, sys::MOUNT_ATTR_NODEV),
        (MS_NOEXEC, sys::MOUNT_ATTR_NOEXEC),
        (MS_NODIRATIME, sys::MOUNT_ATTR_NODIRATIME),
        (MS_NOSYMFOLLOW, sys::MOUNT_ATTR_NOSYMFOLLOW),
    ] {
        if o.flags & ms != 0 {
            a.attr_set |= attr;
        } else if o.cleared & ms != 0 {
            a.attr_clr |= attr;
        }
    }
    let atime = if o.flags & MS_NOATIME != 0 {
        Some(sys::MOUNT_ATTR_NOATIME)
    } else if o.flags & MS_STRICTATIME != 0 {
        Some(sys::MOUNT_ATTR_STRICTATIME)
    } else if o.flags & MS_RELATIME != 0 {
        Some(sys::MOUNT_ATTR_RELATIME)
    } else {
        None
    };
    if let Some(t) = atime {
        a.attr_set |= t;
        a.attr_clr |= sys::MOUNT_ATTR__ATIME;
    }
    a
}

/// Flags that only make sense on the superblock or call (not per-mount): passed to mount(2).
const PROPAGATION: libc::c_ulong = libc::MS_PRIVATE | libc::MS_SHARED | libc::MS_SLAVE | libc::MS_UNBINDABLE;

/// The host side of the world a mount step needs.
pub struct MountContext<'a> {
    /// The rootfs (already a mount of its own) as an `O_PATH` fd.
    pub root: BorrowedFd<'a>,
    /// (st_dev, st_ino) of the rootfs's own `proc` directory, before anything is mounted on it.
    pub proc_dir: Option<(u64, u64)>,
    /// `linux.mountLabel`, the `context=` of the filesystems rt mounts.
    pub mount_label: Option<&'a str>,
}

impl<'a> MountContext<'a> {
    pub fn new(root: BorrowedFd<'a>, mount_label: Option<&'a str>) -> Self {
        let proc_dir =
            paths::open_in_root(root, Path::new("proc"), libc::O_NOFOLLOW).and_then(|fd| sys::fstat(fd.as_fd())).ok().map(|st| (st.st_dev, st.st_ino));
        MountContext { root, proc_dir, mount_label }
    }
}

/// One entry of `mounts`, checked and parsed before anything exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountStep {
    /// Its index in `mounts`, for errors.
    pub index: usize,
    pub destination: PathBuf,
    pub kind: MountKind,
    pub opts: MountOptions,
    /// `idmap`/`ridmap`: rt makes the idmapped tree (that takes host privileges) and the init
    /// attaches it.
    pub idmap: Option<Idmap>,
}

/// How a bind mount is idmapped: with its own `uidMappings`/`gidMappings`, or (none given) with
/// the container's user namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idmap {
    pub maps: Option<crate::namespaces::IdMaps>,
    pub recursive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A bind of a host path (absolute: relative sources are the bundle's).
    Bind { source: PathBuf },
    /// `cgroup`/`cgroup2`: the container's own cgroups, as rt lays them out.
    Cgroup,
    /// `remount` of what is already at the destination.
    Remount,
    /// Any other filesystem, by type.
    Fs { typ: String, source: PathBuf },
}

impl MountStep {
    /// In a user namespace without a network namespace of its own, sysfs cannot be mounted:
    /// the host's /sys is bound instead, recursively, with the same flags (runc's way).
    pub fn sysfs_as_bind(mut self) -> MountStep {
        if matches!(&self.kind, MountKind::Fs { typ, .. } if typ == "sysfs") {
            self.kind = MountKind::Bind { source: PathBuf::from("/sys") };
            self.opts.flags |= libc::MS_BIND | libc::MS_REC;
        }
        self
    }

    /// `mounts[3] (/data)`, the prefix of every error about this mount.
    pub fn field(&self) -> String {
        format!("mounts[{}] ({})", self.index, self.destination.display())
    }

    /// A read-only tmpfs, or a read-only filesystem at /dev, is mounted read-write and made
    /// read-only only once the root is complete (see [`super::switch`]), as runc does: the
    /// device nodes, /dev/pts, /dev/shm and the links are made in it first.
    pub fn readonly_later(&self) -> bool {
        self.opts.flags & libc::MS_RDONLY != 0
            && matches!(&self.kind, MountKind::Fs { typ, .. } if typ == "tmpfs" || paths::relative(&self.destination) == Path::new("dev"))
    }
}

/// Checks and parses `mounts[index]`. `check_source`: a bind's source is looked up now, in
/// rt's mount namespace (not when the container joins another one, where it means something
/// else). `userns`: the container has a user namespace (idmapped mounts need one).
pub fn plan(index: usize, m: &Mount, bundle: &Path, check_source: bool, userns: bool) -> Result<MountStep> {
    let dest = m.destination();
    let opts = parse_options(m.options().as_deref().unwrap_or_default());
    let typ = m.typ().as_deref().unwrap_or("");
    let step = |kind| MountStep { index, destination: dest.clone(), kind, opts: opts.clone(), idmap: None };
    let bind = typ == "bind" || opts.is_bind();
    let idmap = idmap_of(index, m, &opts, bind, userns)?;
    if bind {
        let src = m.source().as_ref().ok_or_else(|| Error::spec(format!("mounts[{index}].source"), "missing for a bind mount"))?;
        let source = if src.is_absolute() { src.clone() } else { bundle.join(src) };
        if check_source {
            std::fs::metadata(&source).map_err(|e| Error::spec(format!("mounts[{index}].source"), format!("{}: {}", source.display(), sys::errno_text(&e))))?;
        }
        return Ok(MountStep { idmap, ..step(MountKind::Bind { source }) });
    }
    if typ.is_empty() {
        return Err(Error::spec(format!("mounts[{index}].type"), "missing (and the options have no bind)"));
    }
    if typ == "cgroup" || typ == "cgroup2" {
        return Ok(step(MountKind::Cgroup));
    }
    if opts.flags & libc::MS_REMOUNT != 0 {
        return Ok(step(MountKind::Remount));
    }
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    Ok(step(MountKind::Fs { typ: typ.to_owned(), source }))
}

/// `idmap`/`ridmap` and the mount's own `uidMappings`/`gidMappings` (runtime-spec 1.2): only
/// on a bind mount, only with a user namespace, mappings only with one of the two options.
fn idmap_of(index: usize, m: &Mount, opts: &MountOptions, bind: bool, userns: bool) -> Result<Option<Idmap>> {
    let (uid, gid) = (m.uid_mappings().as_deref().unwrap_or_default(), m.gid_mappings().as_deref().unwrap_or_default());
    let field = format!("mounts[{index}] ({})", m.destination().display());
    if !opts.idmap {
        if !uid.is_empty() || !gid.is_empty() {
            return Err(Error::spec(format!("mounts[{index}].uidMappings"), "mappings need the idmap or ridmap option"));
        }
        return Ok(None);
    }
    if !bind {
        return Err(Error::spec(field, "idmap and ridmap are for bind mounts"));
    }
    if !userns {
        return Err(Error::spec(field, "an idmapped mount needs a user namespace (linux.namespaces has none)"));
    }
    let maps = match (uid.is_empty(), gid.is_empty()) {
        (true, true) => None,
        (false, false) => Some(crate::namespaces::IdMaps {
            uid: crate::namespaces::check_map(&format!("mounts[{index}].uidMappings"), uid)?,
            gid: crate::namespaces::check_map(&format!("mounts[{index}].gidMappings"), gid)?,
        }),
        _ => return Err(Error::spec(format!("mounts[{index}].uidMappings"), "uidMappings and gidMappings go together")),
    };
    Ok(Some(Idmap { maps, recursive: opts.ridmap }))
}

/// Mounts one planned entry of `mounts` inside the root.
pub fn mount_one(ctx: &MountContext, m: &MountStep, idmapped: Option<OwnedFd>, cgroupfs: &dyn Fn(&Path, &MountOptions) -> Result<()>) -> Result<()> {
    let dest = &m.destination;
    let index = m.index;
    let field = || m.field();
    // A sub-field error reads `mounts[3].source: ...`; anything else `mounts[3] (/dest): ...`.
    let in_mount = |e: Error| match e {
        Error::Spec { field: f, message } => Error::spec(format!("mounts[{index}].{f}"), message),
        other => other.prefixed(field()),
    };
    let opts = &m.opts;
    let (typ, source) = match &m.kind {
        MountKind::Bind { source } => return bind(ctx, source, dest, opts, idmapped).map_err(in_mount),
        MountKind::Fs { typ, source } => (typ.as_str(), source),
        MountKind::Cgroup | MountKind::Remount => ("", dest),
    };
    // procfs and sysfs go on a directory of the image, never through a symlink or onto a file
    // (runc's rule and words, since CVE-2023-27561): their destination's last component is
    // opened without following it. A tmpfs over a directory of the image keeps that
    // directory's mode, special bits included, unless `mode=` says otherwise (runc 1.1.15:
    // the covered mode goes first in the data, and a later mode= wins).
    let pseudo = matches!(typ, "proc" | "sysfs");
    let (target, covered_mode) = match paths::open_in_root(ctx.root, dest, if pseudo { libc::O_NOFOLLOW } else { 0 }) {
        Ok(fd) if pseudo || typ == "tmpfs" => {
            let st = sys::fstat(fd.as_fd()).with_ctx(|| format!("{}: stat destination", field()))?;
            let dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
            if pseudo && !dir {
                return Err(Error::msg(format!("filesystem {typ:?} must be mounted on ordinary directory")).prefixed(field()));
            }
            (fd, (dir && typ == "tmpfs").then_some(st.st_mode & 0o7777))
        }
        Ok(fd) => (fd, None),
        Err(_) => (paths::create_missing_in_root(ctx.root, dest, Kind::Dir, 0o755).with_ctx(|| format!("{}: create destination", field()))?, None),
    };
    check_proc_destination(ctx, target.as_fd(), typ == "proc").map_err(in_mount)?;
    match &m.kind {
        MountKind::Cgroup => return cgroupfs(dest, opts).map_err(in_mount),
        MountKind::Remount => {
            let flags = opts.flags & !PROPAGATION;
            return sys::mount(None, &sys::fd_path(target.as_fd()), None, flags, opts.data_string().as_deref()).with_ctx(|| format!("{}: remount", field()));
        }
        _ => {}
    }
    let data = match covered_mode {
        Some(mode) => Some(std::iter::once(format!("mode={mode:04o}")).chain(opts.data.iter().cloned()).collect::<Vec<_>>().join(",")),
        None => opts.data_string(),
    };
    // proc and sysfs take no context=
    let data = if matches!(typ, "proc" | "sysfs" | "cgroup" | "cgroup2") { data } else { crate::lsm::with_mount_label(data, ctx.mount_label) };
    let mut flags = opts.flags & !PROPAGATION;
    if m.readonly_later() {
        flags &= !libc::MS_RDONLY;
    }
    sys::mount(Some(source), &sys::fd_path(target.as_fd()), Some(typ), flags, data.as_deref()).with_ctx(|| format!("{}: mount {typ}", field()))?;
    if opts.tmpcopyup {
        copy_up(&target, ctx.root, dest).with_ctx(|| format!("{}: tmpcopyup", field()))?;
    }
    if !opts.propagation.is_empty() || opts.recursive != MountAttr::default() {
        let mounted = paths::open_in_root(ctx.root, dest, 0).with_ctx(|| format!("{}: reopen", field()))?;
        after_mount(mounted.as_fd(), opts).with_ctx(|| format!("{}: set mount attributes", field()))?;
    }
    Ok(())
}

/// The `r*` attributes and the propagation, on a mount that is in place.
fn after_mount(mounted: BorrowedFd, opts: &MountOptions) -> std::io::Result<()> {
    if opts.recursive != MountAttr::default() {
        sys::mount_setattr(mounted, true, &opts.recursive)?;
    }
    for &p in &opts.propagation {
        let attr = MountAttr { propagation: p & !libc::MS_REC, ..Default::default() };
        sys::mount_setattr(mounted, p & libc::MS_REC != 0, &attr)?;
    }
    Ok(())
}

/// A bind mount: the source tree is cloned detached, given its flags, then attached on the
/// destination, all through fds (the destination is the inode rt resolved in the root).
/// `idmapped`: the tree rt made and idmapped for it (from the host's side), to attach instead.
fn bind(ctx: &MountContext, src: &Path, dest: &Path, opts: &MountOptions, idmapped: Option<OwnedFd>) -> Result<()> {
    let meta = std::fs::metadata(src).map_err(|e| Error::spec("source", format!("{}: {}", src.display(), sys::errno_text(&e))))?;
    let kind = if meta.is_dir() { Kind::Dir } else { Kind::File };
    let target = paths::create_in_root(ctx.root, dest, kind, if meta.is_dir() { 0o755 } else { 0o644 }).ctx("create destination")?;
    let recursive = opts.flags & libc::MS_REC != 0;
    let tree = match idmapped {
        Some(t) => t,
        None => sys::open_tree(None, src, true, recursive).with_ctx(|| format!("bind {}", src.display()))?,
    };
    // binding a whole procfs (a host's /proc for a privileged container) is how /proc may be
    // something other than a fresh procfs mount
    let source_is_procfs = sys::is_procfs_root(tree.as_fd()).unwrap_or(false);
    check_proc_destination(ctx, target.as_fd(), source_is_procfs)?;
    let attr = bind_attr(opts);
    if attr != MountAttr::default() {
        sys::mount_setattr(tree.as_fd(), false, &attr).ctx("set bind mount flags")?;
    }
    sys::move_mount(tree.as_fd(), target.as_fd()).ctx("attach bind mount")?;
    after_mount(tree.as_fd(), opts).ctx("set mount attributes")
}

/// The files inside /proc that may be covered: those lxcfs emulates (runc's list).
const PROC_ALLOWED: [&str; 11] = [
    "proc/cpuinfo",
    "proc/diskstats",
    "proc/meminfo",
    "proc/stat",
    "proc/swaps",
    "proc/uptime",
    "proc/loadavg",
    "proc/slabinfo",
    "proc/net/dev",
    "proc/sys/kernel/ns_last_pid",
    "proc/sys/crypto/fips_enabled",
];

/// /proc holds only a procfs (`is_procfs`: what is being mounted is one), and inside a procfs
/// only the files lxcfs emulates may be covered (CVE-2019-16884: a mount over or in /proc hides
/// what confines the container, or redirects what rt writes there). `target` is the resolved
/// destination, so a symlink leading into /proc is caught too.
fn check_proc_destination(ctx: &MountContext, target: BorrowedFd, is_procfs: bool) -> Result<()> {
    let st = sys::fstat(target).ctx("stat destination")?;
    // an image without /proc gets one when something is mounted there: look again
    let proc_dir = ctx.proc_dir.or_else(|| {
        paths::open_in_root(ctx.root, Path::new("proc"), libc::O_NOFOLLOW).and_then(|fd| sys::fstat(fd.as_fd())).ok().map(|st| (st.st_dev, st.st_ino))
    });
    let at_proc_dir = proc_dir == Some((st.st_dev, st.st_ino));
    let in_procfs = !at_proc_dir && sys::fs_type(target).ctx("statfs destination")? == sys::PROC_SUPER_MAGIC;
    if at_proc_dir || (in_procfs && st.st_ino == 1) {
        return if is_procfs { Ok(()) } else { Err(Error::msg("only procfs can be mounted on /proc")) };
    }
    if in_procfs {
        let path = in_root_path(ctx.root, target).unwrap_or_default();
        if !PROC_ALLOWED.iter().any(|a| Path::new(a) == path) {
            return Err(Error::msg(format!("/{} is inside procfs: only the files lxcfs emulates may be mounted over there", path.display())));
        }
        return Ok(());
    }
    if is_procfs {
        return Err(Error::msg("procfs can only be mounted on /proc"));
    }
    Ok(())
}

/// Where `fd` is, relative to `root` (None if it is not below it).
pub fn in_root_path(root: BorrowedFd, fd: BorrowedFd) -> Option<PathBuf> {
    let r = std::fs::read_link(sys::fd_path(root)).ok()?;
    let p = std::fs::read_link(sys::fd_path(fd)).ok()?;
    p.strip_prefix(&r).ok().map(Path::to_path_buf)
}

/// runc's `tmpcopyup` (Podman asks for it on tmpfs mounts): the tmpfs now on `dest` is filled
/// with what the directory under it held, owners, modes and links included. `covered` still
/// reaches the old directory.
fn copy_up(covered: &OwnedFd, root: BorrowedFd, dest: &Path) -> std::io::Result<()> {
    let mounted = paths::open_in_root(root, dest, libc::O_DIRECTORY)?;
    // Before pivot_root /proc is the host's: reopen the two O_PATH handles for reading.
    let src = sys::open(&sys::fd_path(covered.as_fd()), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let dst = sys::open(&sys::fd_path(mounted.as_fd()), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    copy_dir(&src, &dst)
}

/// Copies a directory's entries by file descriptor: each one is opened with `O_NOFOLLOW`
/// relative to its parent's fd and its type taken from what was opened, so a directory swapped
/// for a symlink meanwhile (a shared volume, another container racing) cannot send the copy
/// outside the rootfs.
fn copy_dir(src: &OwnedFd, dst: &OwnedFd) -> std::io::Result<()> {
    for entry in std::fs::read_dir(sys::fd_path(src.as_fd()))? {
        let name = PathBuf::from(entry?.file_name());
        let item = sys::openat(Some(src.as_fd()), &name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        let st = sys::fstat(item.as_fd())?;
        let perm = st.st_mode & 0o7777;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFLNK => {
                let target = sys::readlinkat(item.as_fd(), Path::new(""))?;
                sys::symlinkat(&target, dst.as_fd(), &name)?;
                sys::fchownat(dst.as_fd(), &name, st.st_uid, st.st_gid)?;
            }
            libc::S_IFDIR => {
                sys::mkdirat(dst.as_fd(), &name, 0o700)?;
                let from = sys::openat(Some(src.as_fd()), &name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)?;
                let to = sys::openat(Some(dst.as_fd()), &name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)?;
                copy_dir(&from, &to)?;
                sys::fchown(to.as_fd(), st.st_uid, st.st_gid)?;
                sys::fchmod(to.as_fd(), perm)?;
            }
            libc::S_IFREG => {
                let from = sys::openat(Some(src.as_fd()), &name, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK, 0)?;
                let to = sys::openat(Some(dst.as_fd()), &name, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW, 0o600)?;
                let (mut from, mut to) = (std::fs::File::from(from), std::fs::File::from(to));
                std::io::copy(&mut from, &mut to)?;
                sys::fchown(to.as_fd(), st.st_uid, st.st_gid)?;
                sys::fchmod(to.as_fd(), perm)?;
            }
            _ => {
                // device nodes, fifos and sockets: made anew
                sys::mknodat(dst.as_fd(), &name, st.st_mode, st.st_rdev)?;
                sys::fchownat(dst.as_fd(), &name, st.st_uid, st.st_gid)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use libc::*;

    fn p(opts: &[&str]) -> MountOptions {
        parse_options(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn default_proc_and_dev_options() {
        let o = p(&["nosuid", "noexec", "nodev"]);
        assert_eq!(o.flags, MS_NOSUID | MS_NOEXEC | MS_NODEV);
        assert!(o.data.is_empty());
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MS_NOSUID | MS_STRICTATIME);
        assert_eq!(o.data_string().as_deref(), Some("mode=755,size=65536k"));
    }

    #[test]
    fn later_options_win() {
        let o = p(&["ro", "rw"]);
        assert_eq!(o.flags & MS_RDONLY, 0);
        assert_eq!(o.cleared & MS_RDONLY, MS_RDONLY);
        let o = p(&["rw", "ro"]);
        assert_eq!(o.flags & MS_RDONLY, MS_RDONLY);
        assert_eq!(o.cleared & MS_RDONLY, 0);
    }

    #[test]
    fn binds_and_propagation() {
        let o = p(&["rbind", "rprivate", "shared"]);
        assert!(o.is_bind());
        assert_eq!(o.flags, MS_BIND | MS_REC);
        assert_eq!(o.propagation, vec![MS_PRIVATE | MS_REC, MS_SHARED]);
    }

    #[test]
    fn known_options_are_understood() {
        for opt in KNOWN_OPTIONS {
            let o = p(&[opt]);
            assert!(o.data.is_empty(), "{opt} would be passed to the filesystem as data");
            assert_eq!(o.idmap, opt.ends_with("idmap"), "{opt}");
        }
        assert_eq!(p(&["size=1m"]).data, ["size=1m"]);
    }

    #[test]
    fn recursive_attributes() {
        let o = p(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(o.recursive.attr_set, sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOATIME);
        assert_eq!(o.recursive.attr_clr, sys::MOUNT_ATTR__ATIME);
        let o = p(&["rrw", "rexec"]);
        assert_eq!(o.recursive.attr_clr, sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOEXEC);
        let o = p(&["rrelatime"]);
        assert_eq!(o.recursive.attr_set, sys::MOUNT_ATTR_RELATIME);
        assert_eq!(o.recursive.attr_clr, sys::MOUNT_ATTR__ATIME);
    }

    #[test]
    fn bind_flags_become_attrs() {
        let a = bind_attr(&p(&["bind", "ro", "nosuid", "dev", "noatime"]));
        assert_eq!(a.attr_set, sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOATIME);
        assert_eq!(a.attr_clr, sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR__ATIME);
        assert_eq!(bind_attr(&p(&["rbind"])), MountAttr::default());
    }

    #[test]
    fn readonly_tmpfs_and_dev_wait_until_the_root_is_built() {
        let step = |v: serde_json::Value| plan(0, &serde_json::from_value::<Mount>(v).unwrap(), Path::new("/b"), false, false).unwrap();
        assert!(step(serde_json::json!({"destination": "/dev", "type": "tmpfs", "options": ["ro"]})).readonly_later());
        assert!(step(serde_json::json!({"destination": "/data/", "type": "tmpfs", "options": ["ro", "tmpcopyup"]})).readonly_later());
        assert!(step(serde_json::json!({"destination": "/dev", "type": "devtmpfs", "source": "x", "options": ["ro"]})).readonly_later());
        assert!(!step(serde_json::json!({"destination": "/sys", "type": "sysfs", "options": ["ro"]})).readonly_later());
        assert!(!step(serde_json::json!({"destination": "/data", "type": "tmpfs"})).readonly_later());
        assert!(!step(serde_json::json!({"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind", "ro"]})).readonly_later());
    }

    #[test]
    fn extensions_and_data() {
        let o = p(&["tmpcopyup", "newinstance", "ptmxmode=0666"]);
        assert!(o.tmpcopyup);
        assert_eq!(o.data, vec!["newinstance", "ptmxmode=0666"]);
        assert!(p(&["idmap"]).idmap);
    }
}
