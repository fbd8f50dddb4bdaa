//! The few file operations on the cgroup filesystem, each the fewest syscalls it can be:
//! a write is open + write per line + close (no O_CREAT: cgroupfs files are never created, and
//! a missing file must say ENOENT), a read is open + read until EOF + close (no fstat to size a
//! buffer: cgroupfs files are small and report no size).

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use crate::error::{Errno, Result};

/// Writes `value`, one write(2) per line: cgroupfs parses one value per write.
pub fn write(path: &Path, value: &str) -> Result<(), Errno> {
    Writer::default().write(path, value)
}

fn write_lines(f: &mut File, value: &str) -> Result<(), Errno> {
    let mut any = false;
    for line in value.lines().filter(|l| !l.is_empty()) {
        f.write_all(line.as_bytes()).map_err(|e| Errno::from_io(&e))?;
        any = true;
    }
    if !any {
        f.write_all(value.as_bytes()).map_err(|e| Errno::from_io(&e))?;
    }
    Ok(())
}

/// Writes that keep the last file open while the next one goes to the same file: the dozen
/// `devices.allow` lines of a typical container, or several `io.max` lines, cost one open
/// and one close instead of one each. (cgroupfs handles every write(2) on its own, whatever
/// the file offset, so reusing the descriptor changes nothing else.)
#[derive(Default)]
pub struct Writer {
    open: Option<(std::path::PathBuf, File)>,
}

impl Writer {
    pub fn write(&mut self, path: &Path, value: &str) -> Result<(), Errno> {
        let reuse = matches!(&self.open, Some((p, _)) if p == path);
        if !reuse {
            self.open = None;
            let f = File::options().write(true).open(path).map_err(|e| Errno::from_io(&e))?;
            self.open = Some((path.to_owned(), f));
        }
        let Some((_, f)) = self.open.as_mut() else {
            return Err(Errno(libc::EBADF));
        };
        let r = write_lines(f, value);
        if r.is_err() {
            self.open = None;
        }
        r
    }
}

pub fn read(path: &Path) -> Result<String, Errno> {
    // EINTR retried a bounded number of times (crate::sys::BoundedEintr), never for ever
    let mut f = crate::sys::bounded_eintr(File::open(path).map_err(|e| Errno::from_io(&e))?);
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 4096];
    loop {
        match f.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Errno::from_io(&e)),
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `Ok(true)` when made, `Ok(false)` when it was there already.
pub fn mkdir(path: &Path) -> Result<bool, Errno> {
    match std::fs::DirBuilder::new().mode(0o755).create(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Errno::from_io(&e)),
    }
}

pub fn rmdir(path: &Path) -> Result<(), Errno> {
    std::fs::remove_dir(path).map_err(|e| Errno::from_io(&e))
}

/// The numbers of a `cgroup.procs` text.
pub fn parse_pids(text: &str) -> Vec<i32> {
    text.split_whitespace().filter_map(|t| t.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_and_read_round_trip_line_by_line() {
        let dir = std::env::temp_dir().join(format!("rt-cg-fs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("value");
        // write never creates.
        assert_eq!(write(&f, "1"), Err(Errno(libc::ENOENT)));
        std::fs::write(&f, "").unwrap();
        write(&f, "a\nb\n").unwrap();
        // On a regular file the two lines land back to back; on cgroupfs they are two writes.
        assert_eq!(read(&f).unwrap(), "ab");
        assert!(mkdir(&dir.join("d")).unwrap());
        assert!(!mkdir(&dir.join("d")).unwrap());
        rmdir(&dir.join("d")).unwrap();
        assert_eq!(rmdir(&dir.join("d")), Err(Errno(libc::ENOENT)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pids_parse() {
        assert_eq!(parse_pids("1\n22\n333\n"), [1, 22, 333]);
        assert!(parse_pids("").is_empty());
    }
}
