//! Reading a bundle's `config.json` and checking it before anything is created, so that a bad
//! config fails with one line naming the field and leaves nothing behind.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use crate::error::{Error, Result};

/// The runtime-spec version rt implements.
pub const OCI_VERSION: &str = "1.3.0";

/// Loads `<bundle>/config.json`. Parse errors name the field (`process.rlimits[0].type`)
/// where the JSON is well-formed, and the line and column where it is not.
pub fn load(bundle: &Path) -> Result<Spec> {
    parse(&read_config(bundle)?)
}

/// The largest config.json rt reads. Real ones are a few KiB (100 KiB with a large seccomp
/// profile); its annotations and hooks go into state.json, which every verb reads back.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// `<bundle>/config.json`'s bytes: a regular file (a FIFO there must not hang rt, and is
/// opened non-blocking to look), inside the bundle (a symlink is followed only to a file in
/// it), of at most [`MAX_CONFIG_BYTES`]. The common case costs no call more than a read.
fn read_config(bundle: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let path = bundle.join("config.json");
    let open = |p: &Path, extra: i32| std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | extra).open(p);
    let file = match open(&path, libc::O_NOFOLLOW) {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            // a symlink: followed only to a file inside the bundle
            let to = std::fs::canonicalize(&path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
            let within = std::fs::canonicalize(bundle).map(|b| to.starts_with(&b)).unwrap_or(false);
            if !within {
                return Err(Error::spec("config.json", format!("{} is a symlink to {}, outside the bundle", path.display(), to.display())));
            }
            open(&to, 0)
        }
        other => other,
    }
    .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    let md = file.metadata().map_err(|e| Error::io(format!("stat {}", path.display()), e))?;
    if !md.is_file() {
        let kind = if md.is_dir() { "a directory" } else { "not a regular file (a FIFO, socket or device)" };
        return Err(Error::spec("config.json", format!("{} is {kind}", path.display())));
    }
    let too_big = || Error::spec("config.json", format!("{} is larger than {} MiB", path.display(), MAX_CONFIG_BYTES >> 20));
    if md.len() > MAX_CONFIG_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(md.len()).unwrap_or(0));
    crate::sys::bounded_eintr(file).take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_big());
    }
    Ok(bytes)
}

pub fn parse(bytes: &[u8]) -> Result<Spec> {
    if let Some(renamed) = rename_sched_flags(bytes, "/process/scheduler/flags") {
        return parse(&renamed);
    }
    parse_json(bytes, "config.json", "")
}

/// exec's `--process` file: a runtime-spec `process` object. Errors name the file and field.
pub fn parse_process(bytes: &[u8], file: &str) -> Result<Process> {
    if let Some(renamed) = rename_sched_flags(bytes, "/scheduler/flags") {
        return parse_process(&renamed, file);
    }
    parse_json(bytes, file, &format!("{file}: "))
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], file: &str, prefix: &str) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || inner.is_syntax() || inner.is_eof() {
            Error::spec(file, format!("invalid JSON: {inner}"))
        } else {
            Error::spec(format!("{prefix}{path}"), strip_position(&inner.to_string()))
        }
    })
}

/// oci-spec 0.10 spells two of runtime-spec's scheduler flags its own way
/// (`SCHED_RESET_ON_FORK`, `SCHED_FLAG_D_L_OVERRUN`): a config with the spec's names is
/// rewritten to those before it is parsed. Only configs that name a scheduler flag pay for it.
fn rename_sched_flags(bytes: &[u8], pointer: &str) -> Option<Vec<u8>> {
    const RENAMES: [(&str, &str); 2] = [("SCHED_FLAG_RESET_ON_FORK", "SCHED_RESET_ON_FORK"), ("SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_D_L_OVERRUN")];
    if !bytes.windows(11).any(|w| w == b"SCHED_FLAG_") {
        return None;
    }
    let mut v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let flags = v.pointer_mut(pointer)?.as_array_mut()?;
    let mut renamed = false;
    for f in flags.iter_mut() {
        if let Some((_, to)) = RENAMES.iter().find(|(from, _)| f.as_str() == Some(from)) {
            *f = serde_json::Value::from(*to);
            renamed = true;
        }
    }
    renamed.then(|| serde_json::to_vec(&v).ok()).flatten()
}

/// serde_json appends " at line L column C"; with a field path in front, the position of a
/// value error only adds noise.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Checks what parsing cannot: versions, required fields, absolute paths, duplicates (the
/// rootfs itself: `rootfs_path`).
pub fn validate(spec: &Spec) -> Result<()> {
    check_version(spec.version())?;
    if let Some(linux) = spec.linux() {
        if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(Error::spec("linux.netDevices", "moving network devices into a container is not supported yet"));
        }
        if linux.intel_rdt().is_some() {
            return Err(Error::spec("linux.intelRdt", "Intel RDT is not supported yet"));
        }
    }

    let root = spec.root().as_ref().ok_or_else(|| Error::spec("root", "missing: a container needs a root filesystem"))?;
    if root.path().as_os_str().is_empty() {
        return Err(Error::spec("root.path", "missing"));
    }

    let process = spec.process().as_ref().ok_or_else(|| Error::spec("process", "missing: nothing to run"))?;
    validate_process(process, "process")?;

    if let Some(mounts) = spec.mounts() {
        for (i, m) in mounts.iter().enumerate() {
            if !m.destination().is_absolute() {
                return Err(Error::spec(format!("mounts[{i}].destination"), format!("{:?} is not an absolute path", m.destination())));
            }
        }
    }

    if let Some(linux) = spec.linux() {
        let mut seen = HashSet::new();
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            if !seen.insert(ns.typ()) {
                return Err(Error::spec(format!("linux.namespaces[{i}]"), format!("duplicate namespace type {}", ns_name(ns.typ()))));
            }
            if let Some(p) = ns.path() {
                if !p.is_absolute() {
                    return Err(Error::spec(format!("linux.namespaces[{i}].path"), format!("{p:?} is not an absolute path")));
                }
            }
        }
        if let Some(tz) = linux.time_offsets() {
            if !seen.contains(&LinuxNamespaceType::Time) {
                return Err(Error::spec("linux.timeOffsets", "needs a time namespace in linux.namespaces"));
            }
            for k in tz.keys() {
                if k != "monotonic" && k != "boottime" {
                    return Err(Error::spec(format!("linux.timeOffsets.{k}"), "unknown clock: only monotonic and boottime have offsets"));
                }
            }
        }
        if let Some(p) = linux.rootfs_propagation() {
            if !matches!(p.as_str(), "" | "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" | "unbindable" | "runbindable") {
                return Err(Error::spec("linux.rootfsPropagation", format!("unknown propagation {p:?}")));
            }
        }
        for (field, paths) in [("linux.maskedPaths", linux.masked_paths()), ("linux.readonlyPaths", linux.readonly_paths())] {
            for (i, p) in paths.iter().flatten().enumerate() {
                if !p.starts_with('/') {
                    return Err(Error::spec(format!("{field}[{i}]"), format!("{p:?} is not an absolute path")));
                }
            }
        }
        for (i, d) in linux.devices().iter().flatten().enumerate() {
            if !d.path().is_absolute() {
                return Err(Error::spec(format!("linux.devices[{i}].path"), format!("{:?} is not an absolute path", d.path())));
            }
        }
        if let Some(sysctl) = linux.sysctl() {
            // A joined namespace is the container's too (a pod's shared one), but not the
            // host's network namespace by another path (runc's checkHostNs).
            let host_net =
                linux.namespaces().iter().flatten().filter(|n| n.typ() == LinuxNamespaceType::Network).filter_map(|n| n.path().as_deref()).any(is_host_net_ns);
            let has = |t| seen.contains(&t) && !(t == LinuxNamespaceType::Network && host_net);
            let mut keys: Vec<_> = sysctl.keys().collect();
            keys.sort();
            for k in keys {
                check_sysctl(k, &has)?;
            }
        }
    } else {
        return Err(Error::spec("linux", "missing: rt runs Linux containers"));
    }
    Ok(())
}

/// What parsing cannot check of a `process` (the config's, or exec's `--process` file):
/// errors name the field below `at` (`process.args`, `process.json: args`).
pub fn validate_process(process: &Process, at: &str) -> Result<()> {
    match process.args() {
        None => return Err(Error::spec(format!("{at}.args"), "missing: nothing to run")),
        Some(a) if a.is_empty() => return Err(Error::spec(format!("{at}.args"), "must not be empty")),
        Some(a) if a[0].is_empty() => return Err(Error::spec(format!("{at}.args[0]"), "must not be empty")),
        _ => {}
    }
    if !process.cwd().is_absolute() {
        return Err(Error::spec(format!("{at}.cwd"), format!("{:?} is not an absolute path", process.cwd())));
    }
    if let Some(env) = process.env() {
        for (i, e) in env.iter().enumerate() {
            if !e.contains('=') || e.starts_with('=') {
                return Err(Error::spec(format!("{at}.env[{i}]"), format!("{e:?} is not of the form KEY=value")));
            }
        }
    }
    if let Some(rl) = process.rlimits() {
        let mut seen = HashSet::new();
        for (i, r) in rl.iter().enumerate() {
            if !seen.insert(r.typ().to_string()) {
                return Err(Error::spec(format!("{at}.rlimits[{i}].type"), format!("duplicate {}", r.typ())));
            }
            if r.soft() > r.hard() {
                return Err(Error::spec(format!("{at}.rlimits[{i}]"), format!("{}: soft limit {} is greater than hard limit {}", r.typ(), r.soft(), r.hard())));
            }
        }
    }
    Ok(())
}

fn check_version(v: &str) -> Result<()> {
    if v.is_empty() {
        return Err(Error::spec("ociVersion", "missing"));
    }
    let major = v.split('.').next().unwrap_or_default();
    if major != "1" {
        return Err(Error::spec("ociVersion", format!("unsupported version {v:?}: rt implements runtime-spec {OCI_VERSION} (1.x)")));
    }
    Ok(())
}

/// runc's default config.json for `spec` (tab-indented, no trailing newline). The cgroup
/// namespace is in it only where the host is cgroup v2, as with runc.
pub fn default_config(rootless: bool) -> String {
    if rootless {
        let (uid, gid) = crate::sys::effective_ids();
        return include_str!("spec/rootless.json").replace("@UID@", &uid.to_string()).replace("@GID@", &gid.to_string());
    }
    let text = include_str!("spec/default.json");
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        let mount = "{\n\t\t\t\t\"type\": \"mount\"\n\t\t\t}";
        return text.replacen(mount, &format!("{mount},\n\t\t\t{{\n\t\t\t\t\"type\": \"cgroup\"\n\t\t\t}}"), 1);
    }
    text.to_owned()
}

/// `root.path`, made absolute against the bundle and resolved: the mount table, which rt
/// reads to find the rootfs's parent mount, and state.json name it by its real path.
pub fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec.root().as_ref().ok_or_else(|| Error::spec("root", "missing"))?;
    let given = if root.path().is_absolute() { root.path().clone() } else { bundle.join(root.path()) };
    let fail = |what: String| Error::spec("root.path", format!("{}: {what}", given.display()));
    let rootfs = std::fs::canonicalize(&given).map_err(|e| fail(crate::sys::errno_text(&e)))?;
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => Ok(rootfs),
        Ok(_) => Err(fail("not a directory".into())),
        Err(e) => Err(fail(crate::sys::errno_text(&e))),
    }
}

pub fn ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

fn is_host_net_ns(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    id(path).is_some_and(|ns| Some(ns) == id(Path::new("/proc/self/ns/net")))
}

/// A sysctl is allowed only where the container has its own copy of it: runc's rules.
fn check_sysctl(key: &str, has_own: &dyn Fn(LinuxNamespaceType) -> bool) -> Result<()> {
    let field = || format!("linux.sysctl.{key}");
    let ipc = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"];
    if ipc.contains(&key) || key.starts_with("fs.mqueue.") {
        if !has_own(LinuxNamespaceType::Ipc) {
            return Err(Error::spec(field(), "needs an ipc namespace of its own (the host's would change)"));
        }
        return Ok(());
    }
    if key.starts_with("net.") {
        if !has_own(LinuxNamespaceType::Network) {
            return Err(Error::spec(field(), "needs a network namespace other than the host's (the host's would change)"));
        }
        return Ok(());
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        if !has_own(LinuxNamespaceType::Uts) {
            return Err(Error::spec(field(), "needs a uts namespace of its own (the host's would change)"));
        }
        return Ok(());
    }
    Err(Error::spec(field(), "is not namespaced: it would change the host"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rt-spec-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_config_that_is_a_fifo_is_refused_without_hanging() {
        let d = bundle("fifo");
        crate::sys::mkfifoat(std::os::fd::AsFd::as_fd(&std::fs::File::open(&d).unwrap()), Path::new("config.json"), 0o600).unwrap();
        let e = read_config(&d).unwrap_err().to_string();
        assert!(e.starts_with("config.json:") && e.contains("not a regular file"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_config_symlink_is_followed_only_inside_the_bundle() {
        let d = bundle("link");
        std::fs::write(d.join("real.json"), b"{}").unwrap();
        std::os::unix::fs::symlink("real.json", d.join("config.json")).unwrap();
        assert_eq!(read_config(&d).unwrap(), b"{}");
        std::fs::remove_file(d.join("config.json")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", d.join("config.json")).unwrap();
        let e = read_config(&d).unwrap_err().to_string();
        assert!(e.contains("outside the bundle"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_config_above_the_limit_is_refused_unread() {
        let d = bundle("big");
        let f = std::fs::File::create(d.join("config.json")).unwrap();
        f.set_len(MAX_CONFIG_BYTES + 1).unwrap();
        let e = read_config(&d).unwrap_err().to_string();
        assert!(e.contains("larger than 4 MiB"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.3.0",
            "root": {"path": "/"},
            "process": {"args": ["/bin/true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
        })
    }

    fn check(v: serde_json::Value) -> Result<()> {
        let spec = parse(v.to_string().as_bytes())?;
        validate(&spec)?;
        rootfs_path(&spec, Path::new("/")).map(drop)
    }

    fn err(v: serde_json::Value) -> String {
        check(v).unwrap_err().to_string()
    }

    #[test]
    fn default_config_is_valid() {
        for rootless in [false, true] {
            let text = default_config(rootless);
            assert!(!text.ends_with('\n'));
            let spec = parse(text.as_bytes()).unwrap();
            assert_eq!(spec.version(), OCI_VERSION);
            assert_eq!(spec.hostname().as_deref(), Some("rt"));
        }
    }

    #[test]
    fn refused_until_supported() {
        let mut v = base();
        v["linux"]["netDevices"] = serde_json::json!({"eth1": {"name": "net1"}});
        assert!(err(v).starts_with("linux.netDevices: moving network devices"));
        let mut v = base();
        v["linux"]["intelRdt"] = serde_json::json!({"closID": "x"});
        assert!(err(v).starts_with("linux.intelRdt: Intel RDT is not supported yet"));
    }

    #[test]
    fn scheduler_flags_by_the_specs_names() {
        let mut v = base();
        v["process"]["scheduler"] =
            serde_json::json!({"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_RECLAIM"]});
        let spec = parse(v.to_string().as_bytes()).unwrap();
        let flags = spec.process().as_ref().unwrap().scheduler().as_ref().unwrap().flags().clone().unwrap();
        use oci_spec::runtime::LinuxSchedulerFlag::*;
        assert_eq!(flags, [SchedResetOnFork, SchedFlagDLOverrun, SchedFlagReclaim]);
        let mut v = base();
        v["process"]["scheduler"] = serde_json::json!({"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_BOGUS"]});
        assert!(err(v).starts_with("process.scheduler.flags[0]: unknown variant `SCHED_FLAG_BOGUS`"));
    }

    #[test]
    fn exec_cpu_affinity_syntax_is_checked() {
        // oci-spec checks this field with `regex`, which rt serves with regex-lite
        let mut v = base();
        v["process"]["execCPUAffinity"] = serde_json::json!({"initial": "0-1,3", "final": "2"});
        check(v).unwrap();
        let mut v = base();
        v["process"]["execCPUAffinity"] = serde_json::json!({"initial": "0-1,x"});
        assert!(err(v).starts_with("process.execCPUAffinity"));
    }

    #[test]
    fn base_is_valid() {
        check(base()).unwrap();
    }

    #[test]
    fn malformed_json_names_position() {
        let e = parse(b"{\"ociVersion\": \"1.0.0\",,}").unwrap_err().to_string();
        assert!(e.starts_with("config.json: invalid JSON:"), "{e}");
        assert!(e.contains("line 1 column"), "{e}");
    }

    #[test]
    fn type_errors_name_the_field() {
        let mut v = base();
        v["process"]["rlimits"] = serde_json::json!([{"type": "RLIMIT_NOFILE", "hard": 1, "soft": 1}, {"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]);
        let e = err(v);
        assert!(e.starts_with("process.rlimits[1].type: unknown variant `RLIMIT_BOGUS`"), "{e}");

        let mut v = base();
        v["process"]["capabilities"] = serde_json::json!({"bounding": ["CAP_CHOWN", "CAP_FLY"]});
        let e = err(v);
        assert!(e.starts_with("process.capabilities.bounding"), "{e}");
        assert!(e.contains("CAP_FLY"), "{e}");
    }

    #[test]
    fn version_major_must_be_1() {
        let mut v = base();
        v["ociVersion"] = "2.0.0".into();
        assert!(err(v).starts_with("ociVersion: unsupported version \"2.0.0\""));
        let mut v = base();
        v["ociVersion"] = "1.0.2-dev".into();
        check(v).unwrap();
    }

    #[test]
    fn missing_pieces() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("root");
        assert!(err(v).starts_with("root: missing"));
        let mut v = base();
        v["root"]["path"] = "/nonexistent-rootfs-xyz".into();
        assert_eq!(err(v), "root.path: /nonexistent-rootfs-xyz: no such file or directory");
        let mut v = base();
        v["process"].as_object_mut().unwrap().remove("args");
        assert!(err(v).starts_with("process.args: missing"));
        let mut v = base();
        v["process"]["args"] = serde_json::json!([]);
        assert_eq!(err(v), "process.args: must not be empty");
        let mut v = base();
        v["process"]["cwd"] = "tmp".into();
        assert!(err(v).starts_with("process.cwd:"));
    }

    #[test]
    fn mount_destination_must_be_absolute() {
        let mut v = base();
        v["mounts"] = serde_json::json!([{"destination": "/proc", "type": "proc"}, {"destination": "data", "type": "tmpfs"}]);
        assert_eq!(err(v), "mounts[1].destination: \"data\" is not an absolute path");
    }

    #[test]
    fn duplicate_namespaces() {
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}, {"type": "network"}, {"type": "mount"}]);
        assert_eq!(err(v), "linux.namespaces[2]: duplicate namespace type mount");
    }

    #[test]
    fn rlimit_rules() {
        let mut v = base();
        v["process"]["rlimits"] = serde_json::json!([{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 20}]);
        assert!(err(v).starts_with("process.rlimits[0]: RLIMIT_NOFILE: soft limit 20 is greater"));
        let mut v = base();
        v["process"]["rlimits"] = serde_json::json!([{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 1}, {"type": "RLIMIT_NOFILE", "hard": 10, "soft": 1}]);
        assert_eq!(err(v), "process.rlimits[1].type: duplicate RLIMIT_NOFILE");
    }

    #[test]
    fn sysctl_needs_own_namespace() {
        let mut v = base();
        v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
        assert!(err(v).starts_with("linux.sysctl.net.ipv4.ip_forward: needs a network namespace other"));
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}, {"type": "network"}, {"type": "ipc"}]);
        v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000", "fs.mqueue.msg_max": "20"});
        check(v).unwrap();
        let mut v = base();
        v["linux"]["sysctl"] = serde_json::json!({"vm.swappiness": "1"});
        assert!(err(v).contains("not namespaced"));
    }

    #[test]
    fn sysctl_in_joined_namespace_but_not_the_hosts() {
        let mut v = base();
        v["linux"]["namespaces"] =
            serde_json::json!([{"type": "mount"}, {"type": "network", "path": "/run/netns/pod"}, {"type": "ipc", "path": "/run/ipcns/pod"}]);
        v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"});
        check(v.clone()).unwrap();
        v["linux"]["namespaces"][1]["path"] = serde_json::json!("/proc/self/ns/net");
        assert!(err(v).starts_with("linux.sysctl.net.ipv4.ip_forward: needs a network namespace other"));
    }

    #[test]
    fn time_offsets_need_time_namespace() {
        let mut v = base();
        v["linux"]["timeOffsets"] = serde_json::json!({"monotonic": {"secs": 10}});
        assert!(err(v.clone()).starts_with("linux.timeOffsets: needs a time namespace"));
        v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}, {"type": "time"}]);
        check(v).unwrap();
    }
}
