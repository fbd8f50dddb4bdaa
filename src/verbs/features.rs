//! `features`: what this rt implements, in runtime-spec's features format (features.md), for
//! engines that ask before they write a config (containerd reads it). It says what rt applies,
//! not what the spec has: AppArmor, SELinux,
//! netDevices and Intel RDT are left out or marked disabled until they are implemented.

use oci_spec::runtime::{
    ApparmorBuilder, CgroupBuilder, FeaturesBuilder, IDMapBuilder, IntelRdtBuilder, LinuxFeatureBuilder, LinuxNamespaceType, MemoryPolicyBuilder,
    MountExtensionsBuilder, NetDevicesBuilder, SelinuxBuilder,
};

use crate::error::{Error, Result};
use crate::rootfs::mounts;

pub fn json() -> Result<String> {
    use LinuxNamespaceType::*;
    let bad = |e: oci_spec::OciSpecError| Error::msg(format!("features: {e}"));
    let mut caps: Vec<caps::Capability> = caps::all().into_iter().collect();
    caps.sort_by_key(|c| c.index());
    let linux = LinuxFeatureBuilder::default()
        .namespaces(vec![Cgroup, Ipc, Mount, Network, Pid, Time, User, Uts])
        .capabilities(caps.iter().map(|c| c.to_string()).collect::<Vec<_>>())
        .cgroup(CgroupBuilder::default().v1(true).v2(true).systemd(false).systemd_user(false).rdma(true).build().map_err(bad)?)
        .seccomp(crate::seccomp::features())
        .apparmor(ApparmorBuilder::default().enabled(false).build().map_err(bad)?)
        .selinux(SelinuxBuilder::default().enabled(false).build().map_err(bad)?)
        .intel_rdt(IntelRdtBuilder::default().enabled(false).build().map_err(bad)?)
        .mount_extensions(MountExtensionsBuilder::default().idmap(IDMapBuilder::default().enabled(true).build().map_err(bad)?).build().map_err(bad)?)
        .net_devices(NetDevicesBuilder::default().enabled(false).build().map_err(bad)?)
        .memory_policy(
            MemoryPolicyBuilder::default()
                .modes(
                    ["MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL"]
                        .map(String::from)
                        .to_vec(),
                )
                .flags(["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"].map(String::from).to_vec())
                .build()
                .map_err(bad)?,
        )
        .build()
        .map_err(bad)?;
    let features = FeaturesBuilder::default()
        .oci_version_min("1.0.0")
        .oci_version_max(crate::spec::OCI_VERSION)
        .hooks(crate::hooks::Kind::ALL.map(|k| k.field().to_owned()).to_vec())
        .mount_options(mounts::KNOWN_OPTIONS.map(String::from).to_vec())
        .linux(linux)
        .build()
        .map_err(bad)?;
    // runc's indentation (Go's json.Encoder with four spaces)
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b"    "));
    serde::Serialize::serialize(&features, &mut ser).map_err(|e| Error::msg(format!("features: {e}")))?;
    out.push(b'\n');
    String::from_utf8(out).map_err(|e| Error::msg(format!("features: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn says_what_rt_applies() {
        let v: serde_json::Value = serde_json::from_str(&super::json().unwrap()).unwrap();
        assert_eq!(v["ociVersionMax"], "1.3.0");
        assert_eq!(v["hooks"], serde_json::json!(["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]));
        assert_eq!(v["linux"]["namespaces"], serde_json::json!(["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]));
        assert_eq!(v["linux"]["seccomp"]["enabled"], true);
        assert_eq!(v["linux"]["cgroup"]["v2"], true);
        let caps = v["linux"]["capabilities"].as_array().unwrap();
        assert_eq!(caps[0], "CAP_CHOWN");
        assert!(caps.contains(&serde_json::json!("CAP_SYS_ADMIN")));
        let opts = v["mountOptions"].as_array().unwrap();
        assert!(opts.contains(&serde_json::json!("rro")) && opts.contains(&serde_json::json!("tmpcopyup")));
        assert!(
            opts.contains(&serde_json::json!("idmap")) && opts.contains(&serde_json::json!("ridmap")),
            "containerd turns on user namespaces only with these"
        );
        assert_eq!(v["linux"]["mountExtensions"]["idmap"]["enabled"], true);
    }
}
