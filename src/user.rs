//! The container's own /etc/passwd and /etc/group: user names, home directories and group
//! names are the image's, never the host's. Read after pivot_root, so the paths are the
//! container's.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// `name:password:uid:gid:gecos:home:shell` lines; malformed lines are skipped, as libc does.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_owned(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f.get(5).copied().unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

/// `name:password:gid:member,member` lines.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 3 {
                return None;
            }
            Some(GroupEntry {
                name: f[0].to_owned(),
                gid: f[2].parse().ok()?,
                members: f.get(3).map(|m| m.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()).unwrap_or_default(),
            })
        })
        .collect()
}

fn read(path: &str) -> String {
    crate::sys::read_string(Path::new(path)).unwrap_or_default()
}

/// The passwd entry of `uid` in the current root, if there is one.
pub fn by_uid(uid: u32) -> Option<PasswdEntry> {
    parse_passwd(&read("/etc/passwd")).into_iter().find(|e| e.uid == uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd() {
        let t = "root:x:0:0:root:/root:/bin/sh\n# comment\nbroken\nuser:x:1000:1000::/home/user:/bin/sh\nnohome:x:5:5\n";
        let e = parse_passwd(t);
        assert_eq!(e.len(), 3);
        assert_eq!(e[1], PasswdEntry { name: "user".into(), uid: 1000, gid: 1000, home: "/home/user".into() });
        assert_eq!(e[2].home, "");
    }

    #[test]
    fn group() {
        let e = parse_group("wheel:x:10:root,user\nusers:x:100:\n");
        assert_eq!(e[0].members, vec!["root", "user"]);
        assert!(e[1].members.is_empty());
    }
}
