//! The verbs, a file each (or one for a small group), each a few functions that main.rs calls
//! with plain values. The lifecycle: [`create`] (create, run), [`start`], [`state`] (state,
//! list), [`kill`], [`delete`]; the verbs that act on a live container through its cgroup:
//! [`pause`] (pause, resume), [`update`], [`events`], [`ps`]; and [`spec`], [`features`].

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod pause;
pub mod ps;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use std::path::PathBuf;

/// The global flags every verb sees.
#[derive(Debug, Clone)]
pub struct Global {
    pub root: PathBuf,
    pub systemd_cgroup: bool,
    /// Rootless cgroup handling: cgroups rt cannot write are done without (when no limits are
    /// asked for) instead of failing.
    pub rootless: bool,
}

/// `--rootless true|false|auto` (runc's flag; `auto`, the default, is "when not root").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rootless {
    Yes,
    No,
    #[default]
    Auto,
}

impl Rootless {
    pub fn parse(v: Option<&str>) -> crate::error::Result<Rootless> {
        match v {
            None | Some("auto") => Ok(Rootless::Auto),
            Some("true") => Ok(Rootless::Yes),
            Some("false") => Ok(Rootless::No),
            Some(other) => Err(crate::error::Error::msg(format!("invalid value {other:?} for flag -rootless: parse error"))),
        }
    }

    pub fn resolve(self) -> bool {
        match self {
            Rootless::Yes => true,
            Rootless::No => false,
            Rootless::Auto => crate::sys::effective_ids().0 != 0 || in_user_namespace(),
        }
    }
}

/// Whether rt runs as "root" in a user namespace that does not map the whole id range (rootless
/// Podman runs its runtime so): its root is not the host's, and cgroups are done as rootless.
fn in_user_namespace() -> bool {
    crate::sys::read_string("/proc/self/uid_map").is_ok_and(|m| !is_initial_uid_map(&m))
}

/// The initial user namespace's map: every id to itself.
fn is_initial_uid_map(map: &str) -> bool {
    map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]
}

/// `/run/rt` for root; for anyone else `$XDG_RUNTIME_DIR/rt` (runc: `$XDG_RUNTIME_DIR/runc`),
/// `/run/user/UID/rt` without it.
pub fn default_root() -> PathBuf {
    let uid = crate::sys::effective_ids().0;
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty());
    match (uid, xdg) {
        // root of a user namespace (rootless Podman's) keeps its state with its user's
        (0, Some(d)) if in_user_namespace() => PathBuf::from(d).join("rt"),
        (0, _) => PathBuf::from("/run/rt"),
        (_, Some(d)) => PathBuf::from(d).join("rt"),
        (_, None) => PathBuf::from(format!("/run/user/{uid}/rt")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootless_flag_values() {
        assert_eq!(Rootless::parse(None).unwrap(), Rootless::Auto);
        assert_eq!(Rootless::parse(Some("auto")).unwrap(), Rootless::Auto);
        assert_eq!(Rootless::parse(Some("true")).unwrap(), Rootless::Yes);
        assert_eq!(Rootless::parse(Some("false")).unwrap(), Rootless::No);
        assert!(Rootless::parse(Some("yes")).unwrap_err().to_string().contains("-rootless"));
        assert!(Rootless::Yes.resolve());
        assert!(!Rootless::No.resolve());
    }

    #[test]
    fn initial_user_namespace_map() {
        assert!(is_initial_uid_map("         0          0 4294967295\n"));
        assert!(!is_initial_uid_map("         0       1000          1\n"));
        assert!(!is_initial_uid_map("0 0 1\n1 100000 65536\n"));
    }
}
