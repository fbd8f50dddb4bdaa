//! cgroup v1 translations of memory, cpu and block I/O (pure). The groups that read the same on
//! both versions (pids, cpuset, hugetlb, rdma, network) are in [`super::resources`].

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory};

use super::resources::{check_bytes, invalid, set_i64, set_u64, ApplyMode, Ver, Write};
use crate::error::Result;

pub fn memory_is_set(m: &LinuxMemory) -> bool {
    set_i64(m.limit()).is_some()
        || set_i64(m.reservation()).is_some()
        || set_i64(m.swap()).is_some()
        || m.swappiness().is_some_and(|s| s != u64::MAX)
        || m.disable_oom_killer() == Some(true)
        || m.use_hierarchy().is_some()
        || set_i64(m.kernel_tcp()).is_some()
}

/// memory.limit_in_bytes, memory.memsw.limit_in_bytes (the spec's `swap` is memory+swap on v1),
/// memory.soft_limit_in_bytes, memory.oom_control, memory.swappiness, memory.use_hierarchy.
/// memory.kmem.tcp.limit_in_bytes (`kernelTCP`, as crun does). `kernel` is ignored, as runc
/// does: kernels since 5.16 accept a kmem limit and keep none.
///
/// The kernel keeps limit ≤ memsw at all times, so which of the two goes first depends on the
/// current values. Rather than reading them (runc reads memory.limit_in_bytes on every update),
/// the limit goes first and, if the kernel says EINVAL, again after memsw: on a new cgroup the
/// first order always works.
pub fn memory(m: &LinuxMemory, mode: ApplyMode) -> Result<Vec<Write>> {
    let (limit, swap, reservation) = super::resources::memory_values(m)?;
    if let (Some(l), Some(s)) = (limit, swap) {
        if s != -1 && (l == -1 || s < l) {
            return Err(invalid(
                "linux.resources.memory.swap",
                format!("the memory+swap limit ({s}) must be at least the memory limit ({})", if l == -1 { "unlimited".into() } else { l.to_string() }),
            ));
        }
    }
    let mut w = Vec::new();
    const F: &str = "linux.resources.memory";
    if let Some(l) = limit {
        w.push(Write::new(Ver::V1, "memory", "memory.limit_in_bytes", l.to_string(), format!("{F}.limit")).deferrable(swap.is_some()));
    }
    match swap {
        Some(s) => w.push(Write::new(Ver::V1, "memory", "memory.memsw.limit_in_bytes", s.to_string(), format!("{F}.swap"))),
        // Lifting the memory limit on a live cgroup lifts memory+swap too (runc), or the kernel
        // would refuse limit > memsw. A new cgroup has both unlimited already.
        None if mode == ApplyMode::Update && limit == Some(-1) => {
            w.insert(0, Write::new(Ver::V1, "memory", "memory.memsw.limit_in_bytes", "-1", format!("{F}.swap")).optional())
        }
        None => {}
    }
    if let Some(r) = reservation {
        w.push(Write::new(Ver::V1, "memory", "memory.soft_limit_in_bytes", r.to_string(), format!("{F}.reservation")));
    }
    if m.disable_oom_killer() == Some(true) {
        w.push(Write::new(Ver::V1, "memory", "memory.oom_control", "1", format!("{F}.disableOOMKiller")));
    }
    // -1 (as u64) is runc's "not set".
    if let Some(s) = m.swappiness().filter(|&s| s != u64::MAX) {
        if s > 100 {
            return Err(invalid(format!("{F}.swappiness"), format!("{s} is outside 0 to 100")));
        }
        w.push(Write::new(Ver::V1, "memory", "memory.swappiness", s.to_string(), format!("{F}.swappiness")));
    }
    if let Some(h) = m.use_hierarchy() {
        w.push(Write::new(Ver::V1, "memory", "memory.use_hierarchy", if h { "1" } else { "0" }, format!("{F}.useHierarchy")));
    }
    if let Some(t) = set_i64(m.kernel_tcp()) {
        check_bytes(&format!("{F}.kernelTCP"), t)?;
        w.push(Write::new(Ver::V1, "memory", "memory.kmem.tcp.limit_in_bytes", t.to_string(), format!("{F}.kernelTCP")));
    }
    Ok(w)
}

/// The kernel clamps cpu.shares to 2..=262144 silently; runc reads the value back to notice.
/// Checking here costs nothing and says which field.
pub fn check_shares(shares: u64) -> Result<()> {
    if !(2..=262_144).contains(&shares) {
        return Err(invalid("linux.resources.cpu.shares", format!("{shares} is outside the range the kernel accepts (2 to 262144)")));
    }
    Ok(())
}

/// cpu.shares, cpu.cfs_period_us / cfs_burst_us / cfs_quota_us, cpu.idle, cpu.rt_period_us /
/// rt_runtime_us. Period and burst are checked by the kernel against the quota in place, so
/// they may have to follow it: deferred on EINVAL (see [`Write::defer_on_einval`]).
pub fn cpu(c: &LinuxCpu) -> Result<Vec<Write>> {
    const F: &str = "linux.resources.cpu";
    let mut w = Vec::new();
    if let Some(s) = set_u64(c.shares()) {
        check_shares(s)?;
        w.push(Write::new(Ver::V1, "cpu", "cpu.shares", s.to_string(), format!("{F}.shares")));
    }
    let quota = set_i64(c.quota());
    if let Some(p) = set_u64(c.period()) {
        w.push(Write::new(Ver::V1, "cpu", "cpu.cfs_period_us", p.to_string(), format!("{F}.period")).deferrable(quota.is_some()));
    }
    if let Some(b) = c.burst() {
        w.push(Write::new(Ver::V1, "cpu", "cpu.cfs_burst_us", b.to_string(), format!("{F}.burst")).deferrable(quota.is_some()));
    }
    if let Some(q) = quota {
        w.push(Write::new(Ver::V1, "cpu", "cpu.cfs_quota_us", q.to_string(), format!("{F}.quota")));
    }
    if let Some(i) = c.idle() {
        w.push(Write::new(Ver::V1, "cpu", "cpu.idle", i.to_string(), format!("{F}.idle")));
    }
    let rt_runtime = set_i64(c.realtime_runtime());
    if let Some(p) = set_u64(c.realtime_period()) {
        w.push(Write::new(Ver::V1, "cpu", "cpu.rt_period_us", p.to_string(), format!("{F}.realtimePeriod")).deferrable(rt_runtime.is_some()));
    }
    if let Some(r) = rt_runtime {
        w.push(Write::new(Ver::V1, "cpu", "cpu.rt_runtime_us", r.to_string(), format!("{F}.realtimeRuntime")));
    }
    Ok(w)
}

pub fn blkio_is_set(b: &LinuxBlockIo) -> bool {
    b.weight().is_some_and(|w| w != 0)
        || b.leaf_weight().is_some_and(|w| w != 0)
        || b.weight_device().iter().flatten().any(|d| d.weight().is_some_and(|w| w != 0) || d.leaf_weight().is_some_and(|w| w != 0))
        || [b.throttle_read_bps_device(), b.throttle_write_bps_device(), b.throttle_read_iops_device(), b.throttle_write_iops_device()]
            .iter()
            .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()))
}

/// The runtime spec gives 10 to 1000 for every block I/O weight.
pub fn check_weight(field: &str, w: u16) -> Result<()> {
    if !(10..=1000).contains(&w) {
        return Err(invalid(field, format!("{w} is outside 10 to 1000")));
    }
    Ok(())
}

/// `major:minor` of a device entry.
pub fn device(field: &str, major: i64, minor: i64) -> Result<String> {
    if !(0..=i64::from(u32::MAX)).contains(&major) || !(0..=i64::from(u32::MAX)).contains(&minor) {
        return Err(invalid(field, format!("{major}:{minor} is not a device number")));
    }
    Ok(format!("{major}:{minor}"))
}

/// The four throttle lists: (spec name, v1 file, v2 io.max key).
pub const THROTTLES: [(&str, &str, &str); 4] = [
    ("throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps"),
    ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps"),
    ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops"),
    ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops"),
];

pub fn throttle_list(b: &LinuxBlockIo, i: usize) -> &[oci_spec::runtime::LinuxThrottleDevice] {
    let l = match i {
        0 => b.throttle_read_bps_device(),
        1 => b.throttle_write_bps_device(),
        2 => b.throttle_read_iops_device(),
        _ => b.throttle_write_iops_device(),
    };
    l.as_deref().unwrap_or(&[])
}

/// blkio.weight (CFQ) or blkio.bfq.weight (BFQ, the only one on kernels since 5.0), leaf
/// weights (CFQ only), per-device weights, and the throttle files.
pub fn blkio(b: &LinuxBlockIo) -> Result<Vec<Write>> {
    const F: &str = "linux.resources.blockIO";
    let mut w = Vec::new();
    if let Some(v) = b.weight().filter(|&v| v != 0) {
        check_weight(&format!("{F}.weight"), v)?;
        w.push(Write::new(Ver::V1, "blkio", "blkio.weight", v.to_string(), format!("{F}.weight")).or_else("blkio.bfq.weight", v.to_string()));
    }
    if let Some(v) = b.leaf_weight().filter(|&v| v != 0) {
        check_weight(&format!("{F}.leafWeight"), v)?;
        w.push(Write::new(Ver::V1, "blkio", "blkio.leaf_weight", v.to_string(), format!("{F}.leafWeight")));
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("{F}.weightDevice[{i}]");
        let dev = device(&field, d.major(), d.minor())?;
        if let Some(v) = d.weight().filter(|&v| v != 0) {
            check_weight(&format!("{field}.weight"), v)?;
            let line = format!("{dev} {v}");
            w.push(Write::new(Ver::V1, "blkio", "blkio.weight_device", &line, format!("{field}.weight")).or_else("blkio.bfq.weight_device", line));
        }
        if let Some(v) = d.leaf_weight().filter(|&v| v != 0) {
            check_weight(&format!("{field}.leafWeight"), v)?;
            w.push(Write::new(Ver::V1, "blkio", "blkio.leaf_weight_device", format!("{dev} {v}"), format!("{field}.leafWeight")));
        }
    }
    for (i, (name, file, _)) in THROTTLES.iter().enumerate() {
        for (j, t) in throttle_list(b, i).iter().enumerate() {
            let field = format!("{F}.{name}[{j}]");
            let dev = device(&field, t.major(), t.minor())?;
            // 0 removes the device's limit on v1.
            w.push(Write::new(Ver::V1, "blkio", *file, format!("{dev} {}", t.rate()), field));
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::resources::tests::{pure_v1, res, strip_devices, triples};
    use crate::cgroups::resources::{plan, Current, Plan};

    fn p(json: &str) -> Plan {
        strip_devices(plan(&pure_v1(), &res(json), ApplyMode::Create, &Current::default()).unwrap())
    }
    fn t(json: &str) -> Vec<(String, String)> {
        triples(&p(json))
            .into_iter()
            .map(|(v, f, val)| {
                assert_eq!(v, Ver::V1);
                (f, val)
            })
            .collect()
    }
    fn err(json: &str) -> String {
        plan(&pure_v1(), &res(json), ApplyMode::Create, &Current::default()).unwrap_err().to_string()
    }
    fn s(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    #[test]
    fn memory_all_fields_in_order() {
        let j = r#"{"memory":{"limit":104857600,"reservation":52428800,"swap":209715200,"kernel":1,"kernelTCP":2,
                   "swappiness":10,"disableOOMKiller":true,"useHierarchy":true}}"#;
        assert_eq!(
            t(j),
            [
                s("memory.limit_in_bytes", "104857600"),
                s("memory.memsw.limit_in_bytes", "209715200"),
                s("memory.soft_limit_in_bytes", "52428800"),
                s("memory.oom_control", "1"),
                s("memory.swappiness", "10"),
                s("memory.use_hierarchy", "1"),
                s("memory.kmem.tcp.limit_in_bytes", "2"),
            ]
        );
        let plan = p(j);
        assert!(plan.writes[0].defer_on_einval, "limit may have to follow memsw");
        assert!(!plan.writes[1].defer_on_einval);
    }

    #[test]
    fn memory_limit_alone_is_not_deferrable() {
        let plan = p(r#"{"memory":{"limit":1000000}}"#);
        assert_eq!(plan.writes.len(), 1);
        assert!(!plan.writes[0].defer_on_einval);
    }

    #[test]
    fn memory_unlimited_on_update_lifts_memsw_first() {
        let r = res(r#"{"memory":{"limit":-1}}"#);
        let plan = plan(&pure_v1(), &r, ApplyMode::Update, &Current::default()).unwrap();
        assert_eq!(
            triples(&plan).into_iter().map(|(_, f, v)| (f, v)).collect::<Vec<_>>(),
            [s("memory.memsw.limit_in_bytes", "-1"), s("memory.limit_in_bytes", "-1")]
        );
        assert!(plan.writes[0].ignore_enoent, "swap accounting may be off");
        // On create the fresh cgroup is unlimited already: no extra write.
        assert_eq!(t(r#"{"memory":{"limit":-1}}"#), [s("memory.limit_in_bytes", "-1")]);
    }

    #[test]
    fn memory_errors_name_the_field() {
        assert_eq!(
            err(r#"{"memory":{"limit":200,"swap":100}}"#),
            "linux.resources.memory.swap: the memory+swap limit (100) must be at least the memory limit (200)"
        );
        assert_eq!(
            err(r#"{"memory":{"limit":-1,"swap":100}}"#),
            "linux.resources.memory.swap: the memory+swap limit (100) must be at least the memory limit (unlimited)"
        );
        assert_eq!(err(r#"{"memory":{"limit":-5}}"#), "linux.resources.memory.limit: -5 is not a number of bytes (or -1 for no limit)");
        assert_eq!(err(r#"{"memory":{"swappiness":101}}"#), "linux.resources.memory.swappiness: 101 is outside 0 to 100");
    }

    #[test]
    fn memory_swappiness_minus_one_means_unset() {
        // runc's -1 arrives as u64::MAX.
        assert!(t(r#"{"memory":{"swappiness":18446744073709551615}}"#).is_empty());
    }

    #[test]
    fn cpu_all_fields_in_order() {
        let j = r#"{"cpu":{"shares":512,"quota":50000,"period":100000,"burst":10000,"idle":0,
                   "realtimeRuntime":950000,"realtimePeriod":1000000,"cpus":"0","mems":"0"}}"#;
        assert_eq!(
            t(j),
            [
                s("cpu.shares", "512"),
                s("cpu.cfs_period_us", "100000"),
                s("cpu.cfs_burst_us", "10000"),
                s("cpu.cfs_quota_us", "50000"),
                s("cpu.idle", "0"),
                s("cpu.rt_period_us", "1000000"),
                s("cpu.rt_runtime_us", "950000"),
                s("cpuset.cpus", "0"),
                s("cpuset.mems", "0"),
            ]
        );
        let plan = p(j);
        let deferrable: Vec<&str> = plan.writes.iter().filter(|w| w.defer_on_einval).map(|w| w.file.as_str()).collect();
        assert_eq!(deferrable, ["cpu.cfs_period_us", "cpu.cfs_burst_us", "cpu.rt_period_us"]);
        assert!(plan.writes.iter().all(|w| w.controller == if w.file.starts_with("cpuset") { "cpuset" } else { "cpu" }));
    }

    #[test]
    fn cpu_period_without_quota_is_not_deferrable() {
        let plan = p(r#"{"cpu":{"period":50000}}"#);
        assert!(!plan.writes[0].defer_on_einval);
    }

    #[test]
    fn cpu_quota_unlimited() {
        assert_eq!(t(r#"{"cpu":{"quota":-1}}"#), [s("cpu.cfs_quota_us", "-1")]);
    }

    #[test]
    fn cpu_shares_range() {
        assert_eq!(err(r#"{"cpu":{"shares":1}}"#), "linux.resources.cpu.shares: 1 is outside the range the kernel accepts (2 to 262144)");
        assert!(err(r#"{"cpu":{"shares":262145}}"#).contains("262144"));
        assert_eq!(t(r#"{"cpu":{"shares":262144}}"#), [s("cpu.shares", "262144")]);
    }

    #[test]
    fn blkio_all_fields() {
        let j = r#"{"blockIO":{"weight":500,"leafWeight":300,
            "weightDevice":[{"major":8,"minor":0,"weight":600,"leafWeight":200},{"major":8,"minor":16}],
            "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
            "throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":2097152}],
            "throttleReadIOPSDevice":[{"major":8,"minor":0,"rate":100}],
            "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":0}]}}"#;
        assert_eq!(
            t(j),
            [
                s("blkio.weight", "500"),
                s("blkio.leaf_weight", "300"),
                s("blkio.weight_device", "8:0 600"),
                s("blkio.leaf_weight_device", "8:0 200"),
                s("blkio.throttle.read_bps_device", "8:0 1048576"),
                s("blkio.throttle.write_bps_device", "8:0 2097152"),
                s("blkio.throttle.read_iops_device", "8:0 100"),
                s("blkio.throttle.write_iops_device", "8:0 0"),
            ]
        );
        let plan = p(j);
        // This host (and every kernel since 5.0) has only the BFQ names.
        assert_eq!(plan.writes[0].fallback, Some(("blkio.bfq.weight".into(), "500".into())));
        assert_eq!(plan.writes[2].fallback, Some(("blkio.bfq.weight_device".into(), "8:0 600".into())));
        assert_eq!(plan.writes[1].fallback, None);
    }

    #[test]
    fn blkio_errors_name_the_field() {
        assert_eq!(err(r#"{"blockIO":{"weight":5}}"#), "linux.resources.blockIO.weight: 5 is outside 10 to 1000");
        assert_eq!(
            err(r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":1001}]}}"#),
            "linux.resources.blockIO.weightDevice[0].weight: 1001 is outside 10 to 1000"
        );
        assert_eq!(
            err(r#"{"blockIO":{"throttleReadBpsDevice":[{"major":-1,"minor":0,"rate":1}]}}"#),
            "linux.resources.blockIO.throttleReadBpsDevice[0]: -1:0 is not a device number"
        );
    }
}
