//! `events --stats`: runc's stats document (runc/types/events.go `Stats`), read from either
//! version. The parsers are pure and tested on sample texts; [`read`] only opens files. A file
//! that is missing (a controller the host lacks, no swap accounting) leaves its numbers at 0,
//! as in runc.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{fs, Cgroup};
use crate::error::Result;

fn zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
    pub intel_rdt: IntelRdt,
    /// runc fills this only for containers it set the network up for: always null here.
    pub network_interfaces: Option<Vec<()>>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// Nanoseconds.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Throttling {
    #[serde(skip_serializing_if = "zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "zero")]
    pub throttled_periods: u64,
    #[serde(rename = "throttledTime", skip_serializing_if = "zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Memory {
    #[serde(skip_serializing_if = "zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Pids {
    #[serde(skip_serializing_if = "zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Serialize, PartialEq, Clone)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "zero")]
    pub value: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Blkio {
    #[serde(rename = "ioServiceBytesRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_queued_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServiceTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioWaitTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioMergedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "sectorsRecursive", skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct IntelRdt {}

/// A number, or "max" (u64::MAX), as cgroup files write them.
pub fn parse_num(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "max" {
        Some(u64::MAX)
    } else {
        s.parse().ok()
    }
}

/// `key value` lines (memory.stat, cpu.stat, memory.events).
pub fn parse_kv(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = parse_num(it.next()?)?;
            Some((k.to_owned(), v))
        })
        .collect()
}

/// A v1 blkio file: `8:0 Read 123` (per device and op), `8:0 123` (no op), `Total 456` (skipped).
pub fn parse_blkio_v1(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split([' ', ':']).filter(|s| !s.is_empty()).collect();
            let (major, minor) = (f.first()?.parse().ok()?, f.get(1)?.parse().ok()?);
            match f.len() {
                4 => Some(BlkioEntry { major, minor, op: f[2].to_owned(), value: f[3].parse().ok()? }),
                3 => Some(BlkioEntry { major, minor, op: String::new(), value: f[2].parse().ok()? }),
                _ => None,
            }
        })
        .collect()
}

/// v2 io.stat → (bytes, ios) tables with v1's op names, as runc maps them.
pub fn parse_io_stat(text: &str) -> (Vec<BlkioEntry>, Vec<BlkioEntry>) {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some((ma, mi)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (ma.parse(), mi.parse()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (table, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                _ => continue,
            };
            table.push(BlkioEntry { major, minor, op: op.to_owned(), value });
        }
    }
    (bytes, ios)
}

/// A cpuset list (`0-3,8`) → every number in it, as runc's stats list them.
pub fn parse_cpu_list(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.trim().parse::<u16>(), b.trim().parse::<u16>()) {
            out.extend(a..=b);
        }
    }
    out
}

/// `hugepages-2048kB` → `2MB`, as the kernel names hugetlb files.
pub fn page_size_name(dir_name: &str) -> Option<String> {
    let kb: u64 = dir_name.strip_prefix("hugepages-")?.strip_suffix("kB")?.parse().ok()?;
    let (mut v, mut unit) = (kb, 0);
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    while v >= 1024 && v % 1024 == 0 && unit < UNITS.len() - 1 {
        v /= 1024;
        unit += 1;
    }
    Some(format!("{v}{}", UNITS[unit]))
}

fn page_sizes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return vec![];
    };
    let mut v: Vec<String> = entries.flatten().filter_map(|e| page_size_name(&e.file_name().to_string_lossy())).collect();
    v.sort();
    v
}

fn num(dir: &Path, file: &str) -> u64 {
    fs::read(&dir.join(file)).ok().and_then(|t| parse_num(&t)).unwrap_or(0)
}

fn list(dir: &Path, file: &str) -> Vec<u64> {
    fs::read(&dir.join(file)).map(|t| t.split_whitespace().filter_map(|v| v.parse().ok()).collect()).unwrap_or_default()
}

/// v1 `<prefix>.usage_in_bytes` etc.
fn v1_entry(dir: &Path, prefix: &str) -> MemoryEntry {
    MemoryEntry {
        limit: num(dir, &format!("{prefix}.limit_in_bytes")),
        usage: num(dir, &format!("{prefix}.usage_in_bytes")),
        max: num(dir, &format!("{prefix}.max_usage_in_bytes")),
        failcnt: num(dir, &format!("{prefix}.failcnt")),
    }
}

/// USER_HZ: the unit of cpuacct.stat, fixed at 100 by the kernel ABI.
const USER_HZ: u64 = 100;

pub fn read(cg: &Cgroup) -> Result<Stats> {
    let mut s = Stats::default();
    let v2 = cg.v2_dir().map(|d| d.path.as_path());
    let v1 = |c: &str| cg.v1_dir(c).map(|d| d.path.as_path());

    if let Some(d) = v1("memory") {
        let raw = fs::read(&d.join("memory.stat")).map(|t| parse_kv(&t)).unwrap_or_default();
        s.memory.cache = raw.get("cache").copied().unwrap_or(0);
        s.memory.raw = raw;
        s.memory.usage = v1_entry(d, "memory");
        s.memory.swap = v1_entry(d, "memory.memsw");
        s.memory.kernel = v1_entry(d, "memory.kmem");
        s.memory.kernel_tcp = v1_entry(d, "memory.kmem.tcp");
    } else if let Some(d) = v2 {
        let raw = fs::read(&d.join("memory.stat")).map(|t| parse_kv(&t)).unwrap_or_default();
        s.memory.cache = raw.get("file").copied().unwrap_or(0);
        s.memory.raw = raw;
        s.memory.usage = MemoryEntry { limit: num(d, "memory.max"), usage: num(d, "memory.current"), max: num(d, "memory.peak"), failcnt: 0 };
        // v1 reports memory+swap; so does runc on v2.
        let swap = MemoryEntry { limit: num(d, "memory.swap.max"), usage: num(d, "memory.swap.current"), max: 0, failcnt: 0 };
        s.memory.swap = MemoryEntry {
            limit: if swap.limit == u64::MAX || s.memory.usage.limit == u64::MAX { u64::MAX } else { swap.limit + s.memory.usage.limit },
            usage: swap.usage + s.memory.usage.usage,
            max: 0,
            failcnt: 0,
        };
    }

    if let Some(d) = v1("cpuset") {
        let c = &mut s.cpuset;
        let text = |f: &str| fs::read(&d.join(f)).unwrap_or_default();
        c.cpus = parse_cpu_list(&text("cpuset.cpus"));
        c.mems = parse_cpu_list(&text("cpuset.mems"));
        c.cpu_exclusive = num(d, "cpuset.cpu_exclusive");
        c.mem_hardwall = num(d, "cpuset.mem_hardwall");
        c.mem_exclusive = num(d, "cpuset.mem_exclusive");
        c.memory_migrate = num(d, "cpuset.memory_migrate");
        c.memory_spread_page = num(d, "cpuset.memory_spread_page");
        c.memory_spread_slab = num(d, "cpuset.memory_spread_slab");
        c.memory_pressure = num(d, "cpuset.memory_pressure");
        c.sched_load_balance = num(d, "cpuset.sched_load_balance");
        c.sched_relax_domain_level = text("cpuset.sched_relax_domain_level").trim().parse().unwrap_or(0);
    }

    if let Some(d) = v1("cpuacct") {
        let u = &mut s.cpu.usage;
        u.total = num(d, "cpuacct.usage");
        u.percpu = list(d, "cpuacct.usage_percpu");
        u.percpu_kernel = list(d, "cpuacct.usage_percpu_sys");
        u.percpu_user = list(d, "cpuacct.usage_percpu_user");
        let st = fs::read(&d.join("cpuacct.stat")).map(|t| parse_kv(&t)).unwrap_or_default();
        u.user = st.get("user").copied().unwrap_or(0) * (1_000_000_000 / USER_HZ);
        u.kernel = st.get("system").copied().unwrap_or(0) * (1_000_000_000 / USER_HZ);
    }
    if let Some(d) = v1("cpu") {
        let st = fs::read(&d.join("cpu.stat")).map(|t| parse_kv(&t)).unwrap_or_default();
        s.cpu.throttling = Throttling {
            periods: st.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: st.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: st.get("throttled_time").copied().unwrap_or(0),
        };
    } else if let Some(d) = v2 {
        // cpu.stat exists in v2 even without the cpu controller.
        let st = fs::read(&d.join("cpu.stat")).map(|t| parse_kv(&t)).unwrap_or_default();
        let g = |k: &str| st.get(k).copied().unwrap_or(0);
        s.cpu.usage.total = g("usage_usec") * 1000;
        s.cpu.usage.user = g("user_usec") * 1000;
        s.cpu.usage.kernel = g("system_usec") * 1000;
        s.cpu.throttling = Throttling { periods: g("nr_periods"), throttled_periods: g("nr_throttled"), throttled_time: g("throttled_usec") * 1000 };
    }

    if let Some(d) = v1("pids").or(v2) {
        s.pids.current = num(d, "pids.current");
        // "max" is no limit, which runc reports as 0.
        s.pids.limit = match num(d, "pids.max") {
            u64::MAX => 0,
            n => n,
        };
    }

    if let Some(d) = v1("blkio") {
        let b = &mut s.blkio;
        let rd = |f: &str| fs::read(&d.join(f)).map(|t| parse_blkio_v1(&t)).ok();
        // CFQ's files when the kernel has them (before 5.0), else the throttle layer's, which
        // counts all I/O whatever the scheduler (BFQ's own count only BFQ-scheduled devices).
        if let Some(bytes) = rd("blkio.io_service_bytes_recursive") {
            b.io_service_bytes_recursive = bytes;
            b.io_serviced_recursive = rd("blkio.io_serviced_recursive").unwrap_or_default();
            b.io_queued_recursive = rd("blkio.io_queued_recursive").unwrap_or_default();
            b.io_service_time_recursive = rd("blkio.io_service_time_recursive").unwrap_or_default();
            b.io_wait_time_recursive = rd("blkio.io_wait_time_recursive").unwrap_or_default();
            b.io_merged_recursive = rd("blkio.io_merged_recursive").unwrap_or_default();
            b.io_time_recursive = rd("blkio.time_recursive").unwrap_or_default();
            b.sectors_recursive = rd("blkio.sectors_recursive").unwrap_or_default();
        } else {
            b.io_service_bytes_recursive = rd("blkio.throttle.io_service_bytes_recursive").unwrap_or_default();
            b.io_serviced_recursive = rd("blkio.throttle.io_serviced_recursive").unwrap_or_default();
        }
    } else if let Some(d) = v2 {
        if let Ok(t) = fs::read(&d.join("io.stat")) {
            let (bytes, ios) = parse_io_stat(&t);
            s.blkio.io_service_bytes_recursive = bytes;
            s.blkio.io_serviced_recursive = ios;
        }
    }

    let (hdir, v1_names) = match v1("hugetlb") {
        Some(d) => (Some(d), true),
        None => (v2, false),
    };
    if let Some(d) = hdir {
        for size in page_sizes() {
            let p = format!("hugetlb.{size}");
            let entry = if v1_names {
                Hugetlb {
                    usage: num(d, &format!("{p}.usage_in_bytes")),
                    max: num(d, &format!("{p}.max_usage_in_bytes")),
                    failcnt: num(d, &format!("{p}.failcnt")),
                }
            } else {
                if !d.join(format!("{p}.current")).exists() {
                    continue;
                }
                let ev = fs::read(&d.join(format!("{p}.events"))).map(|t| parse_kv(&t)).unwrap_or_default();
                Hugetlb { usage: num(d, &format!("{p}.current")), max: 0, failcnt: ev.get("max").copied().unwrap_or(0) }
            };
            s.hugetlb.insert(size, entry);
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_files() {
        let m = parse_kv("cache 4096\nrss 8192\nhierarchical_memory_limit 9223372036854771712\n");
        assert_eq!(m["cache"], 4096);
        assert_eq!(m.len(), 3);
        assert_eq!(parse_kv("oom 0\noom_kill 3\nmax max\n")["max"], u64::MAX);
    }

    #[test]
    fn blkio_v1_lines() {
        let t = "8:0 Read 1282048\n8:0 Write 2195456\n8:0 Total 3477504\nTotal 3477504\n";
        let e = parse_blkio_v1(t);
        assert_eq!(e.len(), 3);
        assert_eq!(e[1], BlkioEntry { major: 8, minor: 0, op: "Write".into(), value: 2195456 });
        assert_eq!(parse_blkio_v1("8:16 6792\n")[0].op, "");
    }

    #[test]
    fn io_stat_v2() {
        let (b, i) = parse_io_stat("8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n254:0 rbytes=5\n");
        assert_eq!(b.len(), 3);
        assert_eq!(b[2], BlkioEntry { major: 254, minor: 0, op: "Read".into(), value: 5 });
        assert_eq!(i.len(), 2);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n"), [0, 1]);
        assert_eq!(parse_cpu_list("0,2-4,7"), [0, 2, 3, 4, 7]);
        assert!(parse_cpu_list("\n").is_empty());
    }

    #[test]
    fn page_size_names() {
        assert_eq!(page_size_name("hugepages-2048kB").unwrap(), "2MB");
        assert_eq!(page_size_name("hugepages-1048576kB").unwrap(), "1GB");
        assert_eq!(page_size_name("hugepages-64kB").unwrap(), "64KB");
        assert_eq!(page_size_name("hugepages-32768kB").unwrap(), "32MB");
        assert!(page_size_name("nr_hugepages").is_none());
    }

    #[test]
    fn runc_json_shape() {
        let mut s = Stats::default();
        s.pids.current = 3;
        s.memory.usage.limit = 100;
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["pids"], serde_json::json!({"current": 3}));
        assert_eq!(v["memory"]["usage"], serde_json::json!({"limit": 100, "failcnt": 0}));
        assert_eq!(v["memory"]["kernelTCP"], serde_json::json!({"limit": 0, "failcnt": 0}));
        assert_eq!(v["cpu"]["usage"], serde_json::json!({"kernel": 0, "user": 0}));
        assert_eq!(v["intel_rdt"], serde_json::json!({}));
        assert!(v["network_interfaces"].is_null());
        assert_eq!(v["hugetlb"], serde_json::json!({}));
    }
}
