//! Paths inside the container's root, resolved so that nothing in the rootfs (a symlink, a
//! `..`, a magic link) can send rt outside it: `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
//! for what exists, and `mkdirat` + `O_NOFOLLOW` one component at a time for what rt creates.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use crate::sys;

const IN_ROOT: u64 = sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS;

/// `path` relative to the root: `/a/./b/` → `a/b`. Keeps `..` (resolution clamps it at the root).
pub fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(Component::Normal(n)),
            Component::ParentDir => Some(Component::ParentDir),
            _ => None,
        })
        .collect()
}

/// Opens `path` inside `root` as an `O_PATH` handle.
pub fn open_in_root(root: BorrowedFd, path: &Path, extra_flags: libc::c_int) -> std::io::Result<OwnedFd> {
    let rel = relative(path);
    let target = if rel.as_os_str().is_empty() { Path::new(".") } else { rel.as_path() };
    sys::openat2(root, target, libc::O_PATH | extra_flags, 0, IN_ROOT)
}

/// What to create at the end of [`create_in_root`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// Resolves `path` inside `root`, creating what is missing (directories, then a directory or
/// an empty file at the end), and returns an `O_PATH` handle of the final component.
///
/// Existing components, symlinks included, resolve with `RESOLVE_IN_ROOT`; each component rt
/// creates is opened back with `O_NOFOLLOW`, so a concurrent swap for a symlink fails instead
/// of redirecting rt.
pub fn create_in_root(root: BorrowedFd, path: &Path, kind: Kind, mode: libc::mode_t) -> std::io::Result<OwnedFd> {
    if let Ok(fd) = open_in_root(root, path, 0) {
        return Ok(fd);
    }
    let rel = relative(path);
    let parts: Vec<_> = rel.components().collect();
    // Find the deepest existing ancestor.
    let mut existing = parts.len();
    let mut dir = loop {
        if existing == 0 {
            break open_in_root(root, Path::new("."), libc::O_DIRECTORY)?;
        }
        existing -= 1;
        let prefix: PathBuf = parts[..existing].iter().collect();
        match open_in_root(root, &prefix, libc::O_DIRECTORY) {
            Ok(fd) => break fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e),
        }
    };
    for (i, part) in parts.iter().enumerate().skip(existing) {
        let name = Path::new(part.as_os_str());
        if matches!(part, Component::ParentDir) {
            // `..` of something that does not exist: resolve it like the kernel would.
            dir = sys::openat2(dir.as_fd(), name, libc::O_PATH | libc::O_DIRECTORY, 0, IN_ROOT)?;
            continue;
        }
        let last = i == parts.len() - 1;
        if last && kind == Kind::File {
            let f = sys::openat(Some(dir.as_fd()), name, libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW, mode)?;
            drop(f);
            return sys::openat(Some(dir.as_fd()), name, libc::O_PATH | libc::O_NOFOLLOW, 0);
        }
        match sys::mkdirat(dir.as_fd(), name, if last { mode } else { 0o755 }) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(e),
        }
        dir = sys::openat(Some(dir.as_fd()), name, libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)?;
    }
    Ok(dir)
}

/// The parent directory of `path` (created if missing) and the final name, for calls that
/// take a (dirfd, name) pair: mknodat, symlinkat, unlinkat.
pub fn parent_in_root(root: BorrowedFd, path: &Path) -> std::io::Result<(OwnedFd, PathBuf)> {
    let rel = relative(path);
    let name = rel.file_name().map(PathBuf::from).ok_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let parent = rel.parent().unwrap_or(Path::new(""));
    let dir = create_in_root(root, parent, Kind::Dir, 0o755)?;
    // O_PATH fds cannot be used with mknodat and friends: reopen the directory for real.
    let dir = sys::openat(Some(dir.as_fd()), Path::new("."), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    Ok((dir, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rt-paths-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn real(fd: &OwnedFd) -> PathBuf {
        std::fs::read_link(sys::fd_path(fd.as_fd())).unwrap()
    }

    #[test]
    fn relative_strips_root_and_dots() {
        assert_eq!(relative(Path::new("/a/./b/")), PathBuf::from("a/b"));
        assert_eq!(relative(Path::new("/../x")), PathBuf::from("../x"));
        assert_eq!(relative(Path::new("/")), PathBuf::from(""));
    }

    #[test]
    fn absolute_symlink_stays_inside() {
        let d = tmpdir("abs");
        let root = d.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        // /evil -> /etc inside the root must mean root/etc, not the host's /etc
        symlink("/etc", root.join("evil")).unwrap();
        let rfd = sys::open(&root, libc::O_PATH | libc::O_DIRECTORY, 0).unwrap();
        let fd = create_in_root(rfd.as_fd(), Path::new("/evil/sub"), Kind::Dir, 0o755).unwrap();
        assert_eq!(real(&fd), root.join("etc/sub"));
        assert!(root.join("etc/sub").is_dir());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn dotdot_symlink_is_clamped() {
        let d = tmpdir("dotdot");
        let root = d.join("root");
        std::fs::create_dir_all(&root).unwrap();
        symlink("../../../../..", root.join("up")).unwrap();
        let rfd = sys::open(&root, libc::O_PATH | libc::O_DIRECTORY, 0).unwrap();
        let fd = create_in_root(rfd.as_fd(), Path::new("/up/data/file"), Kind::File, 0o644).unwrap();
        assert_eq!(real(&fd), root.join("data/file"));
        assert!(root.join("data/file").is_file());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn parent_in_root_gives_dir_and_name() {
        let d = tmpdir("parent");
        let root = d.join("root");
        std::fs::create_dir_all(&root).unwrap();
        let rfd = sys::open(&root, libc::O_PATH | libc::O_DIRECTORY, 0).unwrap();
        let (dir, name) = parent_in_root(rfd.as_fd(), Path::new("/dev/net/tun")).unwrap();
        assert_eq!(name, PathBuf::from("tun"));
        assert_eq!(real(&dir), root.join("dev/net"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
