//! `update`: new limits for a running container, from runc's `--resources` JSON or its flags.
//! The parts that are pure (the flag forms, byte sizes, the JSON) are unit-tested below.

use std::io::Read;

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};

use super::Global;
use crate::error::{Context, Error, Result};
use crate::logging;
use crate::state::{self, ContainerDir, Status};

/// `update`'s flags, as runc has them (main.rs gives them their command-line form). Numbers
/// stay text until [`resources_from_flags`] parses them, so that a bad value is reported the
/// way runc reports it (`invalid value for …`).
#[derive(Debug, Clone, Default)]
pub struct UpdateFlags {
    /// path to the file containing the resources to update or '-' to read from the standard input
    /// (runc's LinuxResources JSON; zero or empty values mean "unchanged"); all other options are then ignored
    pub resources: Option<String>,
    /// Specifies per cgroup weight, range is from 10 to 1000
    pub blkio_weight: Option<String>,
    /// CPU CFS period to be used for hardcapping (in usecs). 0 to use system default
    pub cpu_period: Option<String>,
    /// CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period
    pub cpu_quota: Option<String>,
    /// CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst in a given period
    pub cpu_burst: Option<String>,
    /// CPU shares (relative weight vs. other containers)
    pub cpu_share: Option<String>,
    /// CPU realtime period to be used for hardcapping (in usecs). 0 to use system default
    pub cpu_rt_period: Option<String>,
    /// CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period
    pub cpu_rt_runtime: Option<String>,
    /// set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE
    pub cpu_idle: Option<String>,
    /// CPU(s) to use
    pub cpuset_cpus: Option<String>,
    /// Memory node(s) to use
    pub cpuset_mems: Option<String>,
    /// Memory limit (in bytes; or with a unit: 64m, 1g)
    pub memory: Option<String>,
    /// Memory reservation or soft_limit (in bytes)
    pub memory_reservation: Option<String>,
    /// Total memory usage (memory + swap); set '-1' to enable unlimited swap
    pub memory_swap: Option<String>,
    /// Maximum number of pids allowed in the container
    pub pids_limit: Option<String>,
    /// Kernel memory limit: not supported (kernels since 5.16 have no kernel memory limits)
    pub kernel_memory: Option<String>,
    /// Kernel memory limit for TCP buffers: not supported
    pub kernel_memory_tcp: Option<String>,
    /// The string of Intel RDT/CAT L3 cache schema: not supported
    pub l3_cache_schema: Option<String>,
    /// The string of Intel RDT/MBA memory bandwidth schema: not supported
    pub mem_bw_schema: Option<String>,
}

/// `update` from the command line: the resources from `--resources` (a file, or `-` for stdin)
/// or from the flags, then [`update`].
pub fn update_from(g: &Global, id: &str, flags: &UpdateFlags) -> Result<()> {
    // runc checks the container first: an unknown id says so whatever the flags.
    drop(state::read_by_id(&g.root, id)?);
    let res = match flags.resources.as_deref() {
        Some(src) => {
            let text = read_resources(src)?;
            resources_from_json(&text)?
        }
        None => {
            for w in flag_warnings(flags) {
                logging::warn(&w);
            }
            resources_from_flags(flags)?
        }
    };
    update(g, id, &res)
}

/// `update` with resources already in hand: zero or empty means "unchanged" (Docker sends every
/// field); device rules are left alone. A stopped container cannot be updated (runc's
/// `container not running`).
pub fn update(g: &Global, id: &str, res: &LinuxResources) -> Result<()> {
    let dir = ContainerDir::open(&g.root, id)?;
    let st = dir.load()?;
    if st.live_status(&dir.path) == Status::Stopped {
        return Err(Error::NotRunning);
    }
    for skipped in st.cgroup.ignored(res) {
        logging::warn(&format!("{skipped} is not supported on this host's cgroups: ignored"));
    }
    st.cgroup.update(res)
}

fn read_resources(src: &str) -> Result<String> {
    let mut text = String::new();
    if src == "-" {
        crate::sys::bounded_eintr(std::io::stdin()).read_to_string(&mut text).ctx("reading the resources from standard input")?;
    } else {
        text = crate::sys::read_string(src).with_ctx(|| format!("open {src}"))?;
    }
    Ok(text)
}

/// runc's JSON (`specs.LinuxResources`). An empty input is an error, as Go's decoder says EOF.
pub fn resources_from_json(text: &str) -> Result<LinuxResources> {
    if text.trim().is_empty() {
        return Err(Error::msg("decoding the resources: EOF"));
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        if path.is_empty() || path == "." {
            Error::msg(format!("decoding the resources: {}", e.inner()))
        } else {
            Error::msg(format!("decoding the resources: {path}: {}", e.inner()))
        }
    })
}

/// The flags that rt accepts but cannot act on (as runc 1.1 ignores kernel memory settings
/// with a warning).
pub fn flag_warnings(f: &UpdateFlags) -> Vec<String> {
    let mut out = Vec::new();
    for (name, v) in [("kernel-memory", &f.kernel_memory), ("kernel-memory-tcp", &f.kernel_memory_tcp)] {
        if v.as_deref().is_some_and(|v| !v.is_empty()) {
            out.push(format!("--{name} is not supported (kernel memory limits are gone from Linux 5.16 on): ignored"));
        }
    }
    out
}

fn invalid_value(flag: &str, v: &str, why: impl std::fmt::Display) -> Error {
    Error::msg(format!("invalid value for {flag}: {v:?}: {why}"))
}

fn parse_u64(flag: &str, v: &str) -> Result<u64> {
    v.trim().parse().map_err(|e| invalid_value(flag, v, e))
}

fn parse_i64(flag: &str, v: &str) -> Result<i64> {
    v.trim().parse().map_err(|e| invalid_value(flag, v, e))
}

/// A byte count as runc reads it (Docker's `RAMInBytes`): `-1`, or a number with an optional
/// binary unit `b k m g t p` (case-insensitive, `64m`, `1.5g`, `512KiB`).
pub fn parse_bytes(flag: &str, v: &str) -> Result<i64> {
    let s = v.trim();
    if s == "-1" {
        return Ok(-1);
    }
    let bad = || invalid_value(flag, v, "not a size (a number with an optional unit b, k, m, g, t or p)");
    let num_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, rest) = s.split_at(num_end);
    let unit = rest.trim_start_matches(' ').to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024f64.powi(3),
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    // "i" alone (as in "5i") or a bare unit without a number is not a size.
    if num.is_empty() || rest.to_ascii_lowercase().trim_start() == "i" {
        return Err(bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    let bytes = n * mult;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as i64)
}

/// runc's flag forms → the resources to update. What is not given stays `None` or zero, which
/// the update leaves unchanged; `--cpu-burst` and `--cpu-idle` are set only when given (0 is a
/// value there). The Intel RDT flags are refused: rt has no resctrl support.
pub fn resources_from_flags(f: &UpdateFlags) -> Result<LinuxResources> {
    for (name, v) in [("l3-cache-schema", &f.l3_cache_schema), ("mem-bw-schema", &f.mem_bw_schema)] {
        if v.as_deref().is_some_and(|v| !v.is_empty()) {
            return Err(Error::msg(format!("--{name}: Intel RDT (resctrl) is not supported by rt")));
        }
    }
    let mut res = LinuxResources::default();

    let mut mem = LinuxMemory::default();
    let mut mem_set = false;
    let bytes = |flag: &str, v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(|v| parse_bytes(flag, v)).transpose();
    if let Some(v) = bytes("memory", &f.memory)? {
        mem.set_limit(Some(v));
        mem_set = true;
    }
    if let Some(v) = bytes("memory-reservation", &f.memory_reservation)? {
        mem.set_reservation(Some(v));
        mem_set = true;
    }
    if let Some(v) = bytes("memory-swap", &f.memory_swap)? {
        mem.set_swap(Some(v));
        mem_set = true;
    }
    if mem_set {
        res.set_memory(Some(mem));
    }

    let mut cpu = LinuxCpu::default();
    let mut cpu_set = false;
    if let Some(v) = f.cpu_share.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_shares(Some(parse_u64("cpu-share", v)?));
        cpu_set = true;
    }
    if let Some(v) = f.cpu_period.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_period(Some(parse_u64("cpu-period", v)?));
        cpu_set = true;
    }
    if let Some(v) = f.cpu_quota.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_quota(Some(parse_i64("cpu-quota", v)?));
        cpu_set = true;
    }
    if let Some(v) = f.cpu_burst.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_burst(Some(parse_u64("cpu-burst", v)?));
        cpu_set = true;
    }
    if let Some(v) = f.cpu_rt_period.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_realtime_period(Some(parse_u64("cpu-rt-period", v)?));
        cpu_set = true;
    }
    if let Some(v) = f.cpu_rt_runtime.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_realtime_runtime(Some(parse_i64("cpu-rt-runtime", v)?));
        cpu_set = true;
    }
    if let Some(v) = f.cpu_idle.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_idle(Some(parse_i64("cpu-idle", v)?));
        cpu_set = true;
    }
    if let Some(v) = f.cpuset_cpus.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_cpus(Some(v.to_owned()));
        cpu_set = true;
    }
    if let Some(v) = f.cpuset_mems.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_mems(Some(v.to_owned()));
        cpu_set = true;
    }
    if cpu_set {
        res.set_cpu(Some(cpu));
    }

    if let Some(v) = f.blkio_weight.as_deref().filter(|v| !v.is_empty()) {
        let w = parse_u64("blkio-weight", v)?;
        let w = u16::try_from(w).map_err(|_| invalid_value("blkio-weight", v, "out of range"))?;
        let mut b = LinuxBlockIo::default();
        b.set_weight(Some(w));
        res.set_block_io(Some(b));
    }
    if let Some(v) = f.pids_limit.as_deref().filter(|v| !v.is_empty()) {
        let mut p = LinuxPids::default();
        p.set_limit(parse_i64("pids-limit", v)?);
        res.set_pids(Some(p));
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_as_runc_reads_them() {
        let p = |s| parse_bytes("memory", s);
        assert_eq!(p("-1").unwrap(), -1);
        assert_eq!(p("1048576").unwrap(), 1 << 20);
        assert_eq!(p("64m").unwrap(), 64 << 20);
        assert_eq!(p("64M").unwrap(), 64 << 20);
        assert_eq!(p("1g").unwrap(), 1 << 30);
        assert_eq!(p("1GiB").unwrap(), 1 << 30);
        assert_eq!(p("512kb").unwrap(), 512 << 10);
        assert_eq!(p("1.5k").unwrap(), 1536);
        assert_eq!(p("10b").unwrap(), 10);
        assert_eq!(p("10 m").unwrap(), 10 << 20);
        for bad in ["", "m", "x", "12q", "-2", "1e3", "5i"] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert_eq!(p("12q").unwrap_err().to_string(), "invalid value for memory: \"12q\": not a size (a number with an optional unit b, k, m, g, t or p)");
    }

    #[test]
    fn flags_to_resources() {
        let f = UpdateFlags {
            memory: Some("64m".into()),
            memory_swap: Some("-1".into()),
            cpu_quota: Some("-1".into()),
            cpu_period: Some("100000".into()),
            cpu_share: Some("512".into()),
            cpu_burst: Some("0".into()),
            cpuset_cpus: Some("0".into()),
            pids_limit: Some("20".into()),
            blkio_weight: Some("300".into()),
            ..Default::default()
        };
        let r = resources_from_flags(&f).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["memory"], serde_json::json!({"limit": 67108864, "swap": -1}));
        assert_eq!(v["cpu"], serde_json::json!({"shares": 512, "quota": -1, "burst": 0, "period": 100000, "cpus": "0"}));
        assert_eq!(v["pids"], serde_json::json!({"limit": 20}));
        assert_eq!(v["blockIO"], serde_json::json!({"weight": 300}));
        // Nothing given: nothing to change.
        let r = resources_from_flags(&UpdateFlags::default()).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), serde_json::json!({}));
    }

    #[test]
    fn bad_flag_values_name_the_flag() {
        let f = UpdateFlags { cpu_period: Some("abc".into()), ..Default::default() };
        assert!(resources_from_flags(&f).unwrap_err().to_string().starts_with("invalid value for cpu-period: \"abc\""));
        let f = UpdateFlags { blkio_weight: Some("70000".into()), ..Default::default() };
        assert!(resources_from_flags(&f).unwrap_err().to_string().starts_with("invalid value for blkio-weight"));
        let f = UpdateFlags { l3_cache_schema: Some("L3:0=f".into()), ..Default::default() };
        assert_eq!(resources_from_flags(&f).unwrap_err().to_string(), "--l3-cache-schema: Intel RDT (resctrl) is not supported by rt");
        let f = UpdateFlags { kernel_memory: Some("1m".into()), ..Default::default() };
        assert!(resources_from_flags(&f).is_ok());
        assert_eq!(flag_warnings(&f).len(), 1);
    }

    #[test]
    fn docker_update_json() {
        let r = resources_from_json(
            r#"{"memory":{"limit":33554432,"reservation":0,"swap":0,"kernel":0,"kernelTCP":0},
                "cpu":{"shares":0,"quota":0,"period":0,"realtimeRuntime":0,"realtimePeriod":0,"cpus":"","mems":""},
                "blockIO":{"weight":0},"pids":{"limit":0}}"#,
        )
        .unwrap();
        assert_eq!(r.memory().as_ref().and_then(|m| m.limit()), Some(33554432));
        assert_eq!(resources_from_json("").unwrap_err().to_string(), "decoding the resources: EOF");
        let e = resources_from_json(r#"{"memory":{"limit":"x"}}"#).unwrap_err().to_string();
        assert!(e.starts_with("decoding the resources: memory.limit: invalid type"), "{e}");
    }
}
