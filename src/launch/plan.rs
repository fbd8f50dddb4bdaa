//! Everything about a new container decided before the first clone, from its bundle and the
//! verb's flags: pure apart from reading the config and looking at the host (the cgroup layout,
//! bind sources, fds passed in). Every config error is found here, before any state dir,
//! cgroup or process exists; the children get these plans, never the raw spec.

use std::collections::BTreeMap;
use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, LinuxResources};

use crate::cgroups::{Cgroup, Layout};
use crate::error::{Context, Error, Result};
use crate::hooks::{self, Hooks};
use crate::namespaces::{self, IdMaps, NamespacePlan};
use crate::process::{self, ProcessContext, ProcessPlan};
use crate::rootfs::{self, RootfsContext, RootfsPlan};
use crate::{logging, spec, sys};

/// The flags of `create` and `run` that shape the container.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// `create` and `run -d`: rt does not stay (a terminal then needs a console socket).
    pub detached: bool,
    /// `--pidfd-socket`: a pidfd of the init goes there.
    pub pidfd_socket: Option<PathBuf>,
    /// `--rootless` (resolved): a cgroup rt may not write is done without, unless limits are
    /// asked for.
    pub rootless: bool,
}

pub struct ContainerPlan {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub annotations: BTreeMap<String, String>,
    pub ns: NamespacePlan,
    /// The new user namespace's maps (none without one, or with a joined one).
    pub id_maps: Option<IdMaps>,
    pub cgroup: Cgroup,
    /// `linux.resources`, or none: the device rules start from "deny all" plus the defaults
    /// even then.
    pub resources: LinuxResources,
    pub process: ProcessPlan,
    pub root: RootfsPlan,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    /// `linux.sysctl`, sorted by key.
    pub sysctls: Vec<(String, String)>,
    pub pid_file: Option<PathBuf>,
    /// Rootless: no device rules in the cgroup, maps written as an unprivileged parent may.
    pub rootless: bool,
    pub hooks: Hooks,
    /// Where the pty master goes (create, run -d); without it, a terminal's master comes to rt.
    pub console_socket: Option<PathBuf>,
    pub pidfd_socket: Option<PathBuf>,
}

impl ContainerPlan {
    /// Whether the init writes to /proc (sysctls, oom_score_adj): then rt opens the host's
    /// procfs for it before any namespace is joined.
    pub fn writes_proc(&self) -> bool {
        self.process.oom_score_adj.is_some() || !self.sysctls.is_empty()
    }
}

pub fn plan(id: &str, o: &CreateOptions) -> Result<ContainerPlan> {
    let bundle = std::path::absolute(&o.bundle).with_ctx(|| format!("bundle {}", o.bundle.display()))?;
    let spec = spec::load(&bundle)?;
    spec::validate(&spec)?;
    let rootfs = spec::rootfs_path(&spec, &bundle)?;
    let linux = spec.linux().as_ref().ok_or_else(|| Error::spec("linux", "missing"))?;
    let proc_ = spec.process().as_ref().ok_or_else(|| Error::spec("process", "missing"))?;
    crate::terminal::check_flags(proc_.terminal().unwrap_or(false), o.detached, o.console_socket.is_some())?;
    let hooks = hooks::plan(spec.hooks().as_ref())?;
    let lsm_host = crate::lsm::Host::detect();
    let mut ns = namespaces::plan(linux)?;
    if !ns.has(LinuxNamespaceType::Mount) {
        let skipped = rootfs::needs_mount_namespace(&spec);
        if !skipped.is_empty() {
            logging::warn(&format!("no mount namespace: {} ignored (they would change the host's mounts)", skipped.join(", ")));
        }
    }
    let id_maps = namespaces::id_maps(linux, &ns)?;
    if let Some(m) = &id_maps {
        let user = proc_.user();
        if IdMaps::host_id(&m.uid, user.uid()).is_none() {
            return Err(Error::spec("process.user.uid", format!("{} is not mapped by linux.uidMappings", user.uid())));
        }
        if IdMaps::host_id(&m.gid, user.gid()).is_none() {
            return Err(Error::spec("process.user.gid", format!("{} is not mapped by linux.gidMappings", user.gid())));
        }
    }
    let hostname = spec.hostname().clone().filter(|h| !h.is_empty());
    let domainname = spec.domainname().clone().filter(|h| !h.is_empty());
    if hostname.is_some() && !ns.has(LinuxNamespaceType::Uts) {
        return Err(Error::spec("hostname", "unable to set hostname without a private UTS namespace"));
    }
    if domainname.is_some() && !ns.has(LinuxNamespaceType::Uts) {
        return Err(Error::spec("domainname", "unable to set domainname without a private UTS namespace"));
    }
    // Checked now, while host paths still mean the host; the fds are what the children join.
    ns.open_joins()?;
    let layout = Layout::detect()?;
    let mut cgroup = Cgroup::plan(&layout, linux.cgroups_path().as_deref(), id)?;
    let resources = linux.resources().clone().unwrap_or_default();
    // What the container's /sys/fs/cgroup shows: its own cgroup, or for a rootless container
    // without one, the cgroup rt runs in.
    let mut shown = cgroup.clone();
    if o.rootless && !cgroup.writable() {
        if let Some(what) = limits_asked(&resources) {
            return Err(Error::spec(
                format!("linux.resources.{what}"),
                format!(
                    "rootless: uid {} may not write the container's cgroup ({}): limits need a cgroup v2 subtree delegated to it",
                    sys::effective_ids().0,
                    cgroup.paths().next().map(|p| p.display().to_string()).unwrap_or_default()
                ),
            ));
        }
        shown = crate::cgroups::placement::own(&layout);
        cgroup = Cgroup::default();
    }
    let listen_fds = process::listen_fds(std::env::var("LISTEN_FDS").ok().as_deref(), std::env::var("LISTEN_PID").ok().as_deref(), sys::getpid());
    process::check_passed_fds(o.preserve_fds + listen_fds.unwrap_or(0))?;
    let ctx = ProcessContext {
        personality: linux.personality().as_ref(),
        memory_policy: linux.memory_policy().as_ref(),
        preserve_fds: o.preserve_fds,
        listen_fds,
        session_keyring: (!o.no_new_keyring).then(|| format!("_ses.{id}")),
        seccomp: linux.seccomp().as_ref(),
    };
    let mut process = process::plan(proc_, ctx)?;
    process.labels = crate::lsm::plan(proc_, "process", lsm_host)?;
    if let Some(c) = process.caps.as_mut() {
        if (c.bounding | c.effective | c.permitted | c.inheritable | c.ambient) >> 38 != 0 {
            let unknown = c.limit_to(process::last_cap());
            if !unknown.is_empty() {
                logging::warn(&format!("ignoring capabilities this kernel does not have: {unknown:?}"));
            }
        }
    }
    // On a hybrid host the container sees the v1 hierarchies, as with runc.
    let pure_v2 = shown.is_pure_v2();
    let root = rootfs::plan(
        &spec,
        RootfsContext {
            bundle: &bundle,
            rootfs: &rootfs,
            no_pivot: o.no_pivot,
            cgroup_mounts: shown.container_mounts().into_iter().filter(|m| pure_v2 || m.fstype == "cgroup").collect(),
            // cgroup v1 cannot be mounted in a user namespace: its hierarchies are bound then
            own_cgroup_ns: ns.has(LinuxNamespaceType::Cgroup) && (pure_v2 || !ns.has(LinuxNamespaceType::User)),
            userns: ns.has(LinuxNamespaceType::User),
            own_net_ns: ns.creates(LinuxNamespaceType::Network),
            mount_ns: ns.has(LinuxNamespaceType::Mount),
            joins_mount_ns: ns.joins(LinuxNamespaceType::Mount),
            mount_label: crate::lsm::mount_label(linux.mount_label().as_deref(), lsm_host)?,
        },
    )?;
    let mut sysctls: Vec<(String, String)> = linux.sysctl().clone().unwrap_or_default().into_iter().collect();
    sysctls.sort();
    Ok(ContainerPlan {
        id: id.to_owned(),
        bundle,
        rootfs,
        annotations: spec.annotations().clone().unwrap_or_default().into_iter().collect(),
        ns,
        id_maps,
        cgroup,
        resources,
        rootless: o.rootless,
        process,
        root,
        hostname,
        domainname,
        sysctls,
        pid_file: o.pid_file.clone(),
        hooks,
        console_socket: o.console_socket.clone(),
        pidfd_socket: o.pidfd_socket.clone(),
    })
}

/// The first resource a config limits, other than device access (which a rootless container
/// does without: it cannot make device nodes in its user namespace anyway).
fn limits_asked(r: &LinuxResources) -> Option<&'static str> {
    [
        ("memory", r.memory().is_some()),
        ("cpu", r.cpu().is_some()),
        ("pids", r.pids().is_some()),
        ("blockIO", r.block_io().is_some()),
        ("hugepageLimits", r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())),
        ("network", r.network().is_some()),
        ("rdma", r.rdma().as_ref().is_some_and(|h| !h.is_empty())),
        ("unified", r.unified().as_ref().is_some_and(|h| !h.is_empty())),
    ]
    .into_iter()
    .find_map(|(f, set)| set.then_some(f))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn rootless_limits_that_need_a_cgroup() {
        let r: LinuxResources = serde_json::from_str(r#"{"devices": [{"allow": false, "access": "rwm"}]}"#).unwrap();
        assert_eq!(limits_asked(&r), None, "device rules are not limits a rootless container needs a cgroup for");
        assert_eq!(limits_asked(&LinuxResources::default()), None);
        let r: LinuxResources = serde_json::from_str(r#"{"hugepageLimits": [], "pids": {"limit": 5}}"#).unwrap();
        assert_eq!(limits_asked(&r), Some("pids"), "an empty list asks nothing");
        let r: LinuxResources = serde_json::from_str(r#"{"memory": {"limit": 1}, "cpu": {"shares": 2}}"#).unwrap();
        assert_eq!(limits_asked(&r), Some("memory"));
    }

    use super::*;

    /// A bundle with an empty rootfs and this config, in a fresh temp dir.
    fn bundle(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rt-plan-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&spec::default_config(false)).unwrap();
        v["process"]["terminal"] = false.into();
        edit(&mut v);
        std::fs::write(dir.join("config.json"), v.to_string()).unwrap();
        dir
    }

    fn plan_err(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let dir = bundle(name, edit);
        let r = plan("c", &CreateOptions { bundle: dir.clone(), ..Default::default() });
        std::fs::remove_dir_all(&dir).unwrap();
        match r {
            Ok(_) => panic!("{name}: planned"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_default_config_plans() {
        let dir = bundle("ok", |_| {});
        let p = plan("c", &CreateOptions { bundle: dir.clone(), ..Default::default() }).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(p.hostname.as_deref(), Some("rt"));
        assert_eq!(p.root.mounts.len(), 7, "runc's default mounts");
        assert!(p.root.mounts.iter().any(|m| m.destination == Path::new("/proc")));
        assert_eq!(p.process.args, ["sh"]);
    }

    // Each of these was found only in the init, after the cgroup existed; now the plan refuses it.
    #[test]
    fn mount_errors_are_found_before_anything_exists() {
        let add = |m: serde_json::Value| move |v: &mut serde_json::Value| v["mounts"].as_array_mut().unwrap().push(m);
        let e = plan_err("notype", add(serde_json::json!({"destination": "/x", "source": "none"})));
        assert_eq!(e, "mounts[7].type: missing (and the options have no bind)");
        let e = plan_err("nosource", add(serde_json::json!({"destination": "/x", "type": "bind", "options": ["rbind"]})));
        assert_eq!(e, "mounts[7].source: missing for a bind mount");
        let e = plan_err("badsource", add(serde_json::json!({"destination": "/x", "type": "bind", "source": "/nonexistent-rt-src", "options": ["bind"]})));
        assert_eq!(e, "mounts[7].source: /nonexistent-rt-src: no such file or directory");
        let e = plan_err("idmap", add(serde_json::json!({"destination": "/x", "type": "bind", "source": "/tmp", "options": ["bind", "idmap"]})));
        assert!(e.starts_with("mounts[7] (/x): an idmapped mount needs a user namespace"), "{e}");
        let e = plan_err("relsource", add(serde_json::json!({"destination": "/x", "type": "bind", "source": "data", "options": ["bind"]})));
        assert!(e.starts_with("mounts[7].source: /tmp/rt-plan-relsource-") && e.ends_with("/data: no such file or directory"), "relative to the bundle: {e}");
    }

    #[test]
    fn a_joined_namespace_of_the_wrong_type_is_found_in_the_plan() {
        let e = plan_err("nspath", |v| v["linux"]["namespaces"].as_array_mut().unwrap().push(serde_json::json!({"type": "time", "path": "/proc/self/ns/uts"})));
        assert!(e.ends_with("/proc/self/ns/uts is not a time namespace"), "{e}");
    }
}
