//! AppArmor and SELinux labels: `process.apparmorProfile`, `process.selinuxLabel`,
//! `linux.mountLabel` (and exec's `--apparmor`, `--process-label`). Where the host has the
//! security module, the label is applied; where it has not, a label that was asked for is an
//! error naming the field: a container never runs less confined than its config says.
//!
//! The process labels are written just before execve, through the container's /proc once it
//! is checked to be a procfs root: `attr/apparmor/exec` (`exec PROFILE`, AppArmor's change on
//! exec) and `attr/exec` (SELinux's exec context), of this thread. The mount label goes on
//! every filesystem rt mounts that takes a `context=` option.

use std::path::Path;

use oci_spec::runtime::Process;

use crate::error::{Context, Error, Result};
use crate::sys;

/// Which security modules this host enforces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Host {
    pub apparmor: bool,
    pub selinux: bool,
}

impl Host {
    /// As the kernel says: AppArmor's module parameter, SELinux's filesystem.
    pub fn detect() -> Host {
        let apparmor = crate::sys::read_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|v| v.trim_start().starts_with('Y'));
        let selinux = Path::new("/sys/fs/selinux/enforce").exists();
        Host { apparmor, selinux }
    }
}

/// The labels of one process, checked against the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    pub apparmor: Option<String>,
    pub selinux: Option<String>,
}

/// `process.apparmorProfile` and `process.selinuxLabel` (`at` names where the process comes
/// from: `process`, or exec's `--process` file).
pub fn plan(process: &Process, at: &str, host: Host) -> Result<Labels> {
    let apparmor = process.apparmor_profile().clone().filter(|p| !p.is_empty());
    let selinux = process.selinux_label().clone().filter(|l| !l.is_empty());
    if let Some(p) = &apparmor {
        if !host.apparmor {
            return Err(Error::spec(
                format!("{at}.apparmorProfile"),
                format!("{p:?}: AppArmor is not enabled on this host, and rt does not run a container less confined than asked"),
            ));
        }
    }
    if let Some(l) = &selinux {
        if !host.selinux {
            return Err(Error::spec(
                format!("{at}.selinuxLabel"),
                format!("{l:?}: SELinux is not enabled on this host, and rt does not run a container less confined than asked"),
            ));
        }
    }
    Ok(Labels { apparmor, selinux })
}

/// `linux.mountLabel`: the `context=` option rt adds to what it mounts; refused where the host
/// has no SELinux.
pub fn mount_label(label: Option<&str>, host: Host) -> Result<Option<String>> {
    match label.filter(|l| !l.is_empty()) {
        None => Ok(None),
        Some(l) if host.selinux => Ok(Some(l.to_owned())),
        Some(l) => {
            Err(Error::spec("linux.mountLabel", format!("{l:?}: SELinux is not enabled on this host, and rt does not mount without the label asked for")))
        }
    }
}

/// A filesystem's mount data with the mount label as its `context=` (not for binds, and not
/// where the data names a context already), as runc formats it.
pub fn with_mount_label(data: Option<String>, label: Option<&str>) -> Option<String> {
    let Some(l) = label else { return data };
    match data {
        Some(d) if d.split(',').any(|o| o.starts_with("context=")) => Some(d),
        Some(d) if !d.is_empty() => Some(format!("{d},context=\"{l}\"")),
        _ => Some(format!("context=\"{l}\"")),
    }
}

impl Labels {
    /// Asks the kernel to switch to these labels at the coming execve. In the container's
    /// process, after its root is in place.
    pub fn apply(&self) -> Result<()> {
        if self.apparmor.is_none() && self.selinux.is_none() {
            return Ok(());
        }
        let proc_ = sys::open_proc_root().ctx("open /proc")?.ok_or_else(|| Error::msg("process labels: the container's /proc is not a procfs root"))?;
        let write = |file: &str, value: &str, field: &str| -> Result<()> {
            let f = sys::openat2(std::os::fd::AsFd::as_fd(&proc_), Path::new(file), libc::O_WRONLY, 0, sys::PROC_RESOLVE)
                .with_ctx(|| format!("{field}: open /proc/{file}"))?;
            sys::write_all(std::os::fd::AsFd::as_fd(&f), value.as_bytes()).with_ctx(|| format!("{field}: write /proc/{file}"))
        };
        if let Some(p) = &self.apparmor {
            // the newer interface first, the older one where the kernel has only that
            let exec = format!("exec {p}");
            write("thread-self/attr/apparmor/exec", &exec, "process.apparmorProfile")
                .or_else(|_| write("thread-self/attr/exec", &exec, "process.apparmorProfile"))?;
        }
        if let Some(l) = &self.selinux {
            write("thread-self/attr/exec", l, "process.selinuxLabel")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(v: serde_json::Value) -> Process {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_label_the_host_cannot_apply_is_refused() {
        let p = process(
            serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}, "apparmorProfile": "docker-default", "selinuxLabel": "system_u:system_r:container_t:s0"}),
        );
        let none = Host::default();
        let e = plan(&p, "process", none).unwrap_err().to_string();
        assert!(e.starts_with("process.apparmorProfile: \"docker-default\": AppArmor is not enabled"), "{e}");
        let e = plan(&p, "process", Host { apparmor: true, selinux: false }).unwrap_err().to_string();
        assert!(e.starts_with("process.selinuxLabel:"), "{e}");
        let both = plan(&p, "process", Host { apparmor: true, selinux: true }).unwrap();
        assert_eq!(both.apparmor.as_deref(), Some("docker-default"));
        let plain = process(serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}, "apparmorProfile": ""}));
        assert_eq!(plan(&plain, "process", none).unwrap(), Labels::default(), "an empty profile asks for nothing");
        assert!(mount_label(Some("x"), none).unwrap_err().to_string().starts_with("linux.mountLabel"));
        assert_eq!(mount_label(Some(""), none).unwrap(), None);
    }

    #[test]
    fn mount_data_gets_the_context() {
        assert_eq!(with_mount_label(Some("mode=755".into()), Some("s0")).as_deref(), Some("mode=755,context=\"s0\""));
        assert_eq!(with_mount_label(None, Some("s0")).as_deref(), Some("context=\"s0\""));
        assert_eq!(with_mount_label(Some("context=a".into()), Some("s0")).as_deref(), Some("context=a"));
        assert_eq!(with_mount_label(Some("size=1m".into()), None).as_deref(), Some("size=1m"));
    }
}
