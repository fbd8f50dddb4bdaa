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
/// When something is missing, the walk is rt's own, one component at a time with `O_NOFOLLOW`:
/// a symlink is read and its target resolved inside the root again (an absolute one from the
/// root, `..` never above it; magic links are read as text, never followed), so that a
/// dangling symlink such as an image's /etc/resolv.conf gets its target created inside the
/// root, as runc does, and a component swapped for a symlink by someone racing rt can only
/// send it to another place inside the root.
pub fn create_in_root(root: BorrowedFd, path: &Path, kind: Kind, mode: libc::mode_t) -> std::io::Result<OwnedFd> {
    if let Ok(fd) = open_in_root(root, path, 0) {
        return Ok(fd);
    }
    create_missing_in_root(root, path, kind, mode)
}

/// [`create_in_root`] for a caller whose own [`open_in_root`] of `path` just failed: the walk
/// that creates what is missing, without opening it once more first.
pub fn create_missing_in_root(root: BorrowedFd, path: &Path, kind: Kind, mode: libc::mode_t) -> std::io::Result<OwnedFd> {
    const MAX_LINKS: u32 = 40;
    let mut queue: std::collections::VecDeque<PathBuf> = components(&relative(path)).collect();
    // the directories walked into below the root; empty means at the root
    let mut stack: Vec<OwnedFd> = Vec::new();
    let mut links = 0;
    while let Some(name) = queue.pop_front() {
        let last = queue.is_empty();
        let dir = stack.last().map_or(root, |f| f.as_fd());
        if name == Path::new("..") {
            stack.pop();
            if last {
                return sys::openat(Some(stack.last().map_or(root, |f| f.as_fd())), Path::new("."), libc::O_PATH | libc::O_DIRECTORY, 0);
            }
            continue;
        }
        match sys::openat(Some(dir), &name, libc::O_PATH | libc::O_NOFOLLOW, 0) {
            Ok(fd) => {
                let st = sys::fstat(fd.as_fd())?;
                if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    let target = sys::readlinkat(fd.as_fd(), Path::new(""))?;
                    if target.is_absolute() {
                        stack.clear();
                    }
                    for c in components(&relative(&target)).rev() {
                        queue.push_front(c);
                    }
                    continue;
                }
                if last {
                    return Ok(fd);
                }
                if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                    return Err(std::io::Error::from_raw_os_error(libc::ENOTDIR));
                }
                stack.push(fd);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                if last && kind == Kind::File {
                    match sys::openat(Some(dir), &name, libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW, mode) {
                        Ok(f) => drop(f),
                        // someone made it meanwhile: look again
                        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                        Err(e) => return Err(e),
                    }
                } else {
                    match sys::mkdirat(dir, &name, if last { mode } else { 0o755 }) {
                        Ok(()) => {}
                        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                        Err(e) => return Err(e),
                    }
                }
                queue.push_front(name);
            }
            Err(e) => return Err(e),
        }
    }
    sys::openat(Some(root), Path::new("."), libc::O_PATH | libc::O_DIRECTORY, 0)
}

/// The `Normal` and `..` components of a relative path, each as a path of its own.
fn components(p: &Path) -> impl DoubleEndedIterator<Item = PathBuf> + '_ {
    p.components().filter_map(|c| match c {
        Component::Normal(n) => Some(PathBuf::from(n)),
        Component::ParentDir => Some(PathBuf::from("..")),
        _ => None,
    })
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
    fn dangling_symlink_target_is_created_inside() {
        let d = tmpdir("dangling");
        let root = d.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        // an image's /etc/resolv.conf -> ../run/resolve/stub.conf, which does not exist yet
        symlink("../run/resolve/stub.conf", root.join("etc/resolv.conf")).unwrap();
        symlink("/../../host-file", root.join("etc/hosts")).unwrap();
        let rfd = sys::open(&root, libc::O_PATH | libc::O_DIRECTORY, 0).unwrap();
        let fd = create_in_root(rfd.as_fd(), Path::new("/etc/resolv.conf"), Kind::File, 0o644).unwrap();
        assert_eq!(real(&fd), root.join("run/resolve/stub.conf"));
        let fd = create_in_root(rfd.as_fd(), Path::new("/etc/hosts"), Kind::File, 0o644).unwrap();
        assert_eq!(real(&fd), root.join("host-file"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn symlink_loops_end() {
        let d = tmpdir("loop");
        let root = d.join("root");
        std::fs::create_dir_all(&root).unwrap();
        symlink("b", root.join("a")).unwrap();
        symlink("a", root.join("b")).unwrap();
        let rfd = sys::open(&root, libc::O_PATH | libc::O_DIRECTORY, 0).unwrap();
        let e = create_in_root(rfd.as_fd(), Path::new("/a/x"), Kind::Dir, 0o755).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
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
