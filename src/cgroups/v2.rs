//! cgroup v2 translations of memory, cpu and block I/O (pure), with the documented conversions
//! from the spec's v1-shaped values (runc's and crun's, see crun(1) "CGROUP v2"):
//!
//! | spec                    | v2 file                 | conversion                                   |
//! |-------------------------|-------------------------|----------------------------------------------|
//! | memory.limit            | memory.max              | -1 → max                                     |
//! | memory.swap             | memory.swap.max         | swap − limit (v1's swap is memory+swap)      |
//! | memory.reservation      | memory.low              | -1 → max                                     |
//! | cpu.shares              | cpu.weight              | 10^((log2(x)^2 + 125·log2(x))/612 − 7/34), ↑ |
//! | cpu.quota, cpu.period   | cpu.max                 | "quota period", quota ≤ 0 → max              |
//! | cpu.burst               | cpu.max.burst           |                                              |
//! | blockIO.weight          | io.bfq.weight           | as is; else io.weight = 1 + (x−10)·9999/990  |
//! | weightDevice[].weight   | io.bfq.weight "M:m w"   | as is; else io.weight "M:m" converted        |
//! | throttle*Device         | io.max "M:m rbps=…"     | rate 0 → max (0 removes the limit on v1)     |
//!
//! Not in v2, skipped as runc does and listed by [`super::resources::ignored`]: swappiness,
//! disableOOMKiller, useHierarchy, kernel, kernelTCP, realtime runtime/period, leaf weights.

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory};

use super::resources::{invalid, set_i64, set_u64, ApplyMode, Ver, Write};
use super::v1::{check_shares, check_weight, device, throttle_list, THROTTLES};
use crate::error::Result;

pub fn memory_is_set(m: &LinuxMemory) -> bool {
    set_i64(m.limit()).is_some() || set_i64(m.reservation()).is_some() || set_i64(m.swap()).is_some()
}

fn max_or(v: i64) -> String {
    if v == -1 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// The spec's memory+swap → v2's swap alone (runc's ConvertMemorySwapToCgroupV2Value).
pub fn swap_value(swap: i64, limit: Option<i64>) -> Result<i64> {
    const F: &str = "linux.resources.memory.swap";
    match (swap, limit) {
        (-1, _) => Ok(-1),
        // No memory limit: swap stands alone.
        (s, Some(-1)) => Ok(s),
        (_, None) => Err(invalid(
            F,
            "on cgroup v2 a swap limit needs the memory limit too (the spec's swap is memory+swap; \
             memory.swap.max gets swap - limit)",
        )),
        (s, Some(l)) if s < l => Err(invalid(F, format!("the memory+swap limit ({s}) must be at least the memory limit ({l})"))),
        (s, Some(l)) => Ok(s - l),
    }
}

/// memory.swap.max, memory.max, memory.low (runc's order).
pub fn memory(m: &LinuxMemory, mode: ApplyMode) -> Result<Vec<Write>> {
    const F: &str = "linux.resources.memory";
    let (limit, swap, reservation) = super::resources::memory_values(m)?;
    let mut w = Vec::new();
    let swap_max = match swap {
        Some(s) => Some(swap_value(s, limit)?),
        // As on v1: lifting the memory limit of a live cgroup lifts swap too.
        None if mode == ApplyMode::Update && limit == Some(-1) => Some(-1),
        None => None,
    };
    if let Some(s) = swap_max {
        let v = max_or(s);
        let mut write = Write::new(Ver::V2, "memory", "memory.swap.max", &v, format!("{F}.swap"));
        // Without swap accounting the file is missing; "no limit" or "no swap" is then what
        // the cgroup has anyway (runc ignores it the same way).
        if v == "max" || v == "0" {
            write = write.optional();
        }
        w.push(write);
    }
    if let Some(l) = limit {
        w.push(Write::new(Ver::V2, "memory", "memory.max", max_or(l), format!("{F}.limit")));
    }
    if let Some(r) = reservation {
        w.push(Write::new(Ver::V2, "memory", "memory.low", max_or(r), format!("{F}.reservation")));
    }
    Ok(w)
}

/// cpu.shares → cpu.weight: the quadratic fit runc and crun use, which maps the v1 range
/// [2, 262144] onto [1, 10000] and the v1 default 1024 onto the v2 default 100.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    10f64.powf(exponent).ceil() as u64
}

/// cpu.idle, cpu.weight, cpu.max.burst, cpu.max (runc's order; burst may have to follow the
/// quota, so it is deferred on EINVAL).
///
/// cpu.max takes "QUOTA PERIOD" or "QUOTA" alone (the period stays). A quota alone is written
/// alone, which keeps a period set earlier; a period alone needs the quota: "max" on a new
/// cgroup, the current one on update (`current_cpu_max`, read by the caller).
pub fn cpu(c: &LinuxCpu, mode: ApplyMode, current_cpu_max: Option<&str>) -> Result<Vec<Write>> {
    const F: &str = "linux.resources.cpu";
    let mut w = Vec::new();
    if let Some(i) = c.idle() {
        w.push(Write::new(Ver::V2, "cpu", "cpu.idle", i.to_string(), format!("{F}.idle")));
    }
    if let Some(s) = set_u64(c.shares()) {
        check_shares(s)?;
        w.push(Write::new(Ver::V2, "cpu", "cpu.weight", shares_to_weight(s).to_string(), format!("{F}.shares")));
    }
    let quota = set_i64(c.quota());
    let period = set_u64(c.period());
    if let Some(b) = c.burst() {
        w.push(Write::new(Ver::V2, "cpu", "cpu.max.burst", b.to_string(), format!("{F}.burst")).deferrable(quota.is_some() || period.is_some()));
    }
    let q = |q: i64| {
        if q > 0 {
            q.to_string()
        } else {
            "max".to_owned()
        }
    };
    let max = match (quota, period) {
        (None, None) => None,
        (Some(qv), None) => Some((q(qv), "quota")),
        (Some(qv), Some(p)) => Some((format!("{} {p}", q(qv)), "quota")),
        (None, Some(p)) => {
            let keep = match mode {
                ApplyMode::Update => current_cpu_max.and_then(|s| s.split_whitespace().next()).unwrap_or("max"),
                ApplyMode::Create | ApplyMode::CreateRootless => "max",
            };
            Some((format!("{keep} {p}"), "period"))
        }
    };
    if let Some((v, f)) = max {
        w.push(Write::new(Ver::V2, "cpu", "cpu.max", v, format!("{F}.{f}")));
    }
    Ok(w)
}

/// blkio weight → io.weight when there is no BFQ: [10, 1000] → [1, 10000], linearly.
pub fn blkio_weight_to_io_weight(w: u16) -> u64 {
    1 + (u64::from(w).saturating_sub(10)) * 9999 / 990
}

/// io.bfq.weight (or io.weight), per-device weights, io.max.
pub fn io(b: &LinuxBlockIo) -> Result<Vec<Write>> {
    const F: &str = "linux.resources.blockIO";
    let mut w = Vec::new();
    if let Some(v) = b.weight().filter(|&v| v != 0) {
        check_weight(&format!("{F}.weight"), v)?;
        w.push(Write::new(Ver::V2, "io", "io.bfq.weight", v.to_string(), format!("{F}.weight")).or_else("io.weight", blkio_weight_to_io_weight(v).to_string()));
    }
    if let Some(v) = b.leaf_weight().filter(|&v| v != 0) {
        check_weight(&format!("{F}.leafWeight"), v)?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("{F}.weightDevice[{i}]");
        let dev = device(&field, d.major(), d.minor())?;
        if let Some(v) = d.weight().filter(|&v| v != 0) {
            check_weight(&format!("{field}.weight"), v)?;
            w.push(
                Write::new(Ver::V2, "io", "io.bfq.weight", format!("{dev} {v}"), format!("{field}.weight"))
                    .or_else("io.weight", format!("{dev} {}", blkio_weight_to_io_weight(v))),
            );
        }
    }
    for (i, (name, _, key)) in THROTTLES.iter().enumerate() {
        for (j, t) in throttle_list(b, i).iter().enumerate() {
            let field = format!("{F}.{name}[{j}]");
            let dev = device(&field, t.major(), t.minor())?;
            let rate = if t.rate() == 0 { "max".to_owned() } else { t.rate().to_string() };
            w.push(Write::new(Ver::V2, "io", "io.max", format!("{dev} {key}={rate}"), field));
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::resources::tests::{hybrid_here, pure_v2, res, strip_devices, triples};
    use crate::cgroups::resources::{plan, Current, Plan};

    fn p_mode(json: &str, mode: ApplyMode, cur: &Current) -> Result<Plan> {
        plan(&pure_v2(), &res(json), mode, cur).map(strip_devices)
    }
    fn t(json: &str) -> Vec<(String, String)> {
        triples(&p_mode(json, ApplyMode::Create, &Current::default()).unwrap())
            .into_iter()
            .map(|(v, f, val)| {
                assert_eq!(v, Ver::V2);
                (f, val)
            })
            .collect()
    }
    fn err(json: &str) -> String {
        p_mode(json, ApplyMode::Create, &Current::default()).unwrap_err().to_string()
    }
    fn s(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    #[test]
    fn memory_with_swap_conversion() {
        let j = r#"{"memory":{"limit":104857600,"reservation":52428800,"swap":209715200,"swappiness":10}}"#;
        assert_eq!(t(j), [s("memory.swap.max", "104857600"), s("memory.max", "104857600"), s("memory.low", "52428800")]);
    }

    #[test]
    fn memory_swap_equal_to_limit_means_no_swap() {
        let j = r#"{"memory":{"limit":1000,"swap":1000}}"#;
        assert_eq!(t(j), [s("memory.swap.max", "0"), s("memory.max", "1000")]);
        assert!(p_mode(j, ApplyMode::Create, &Current::default()).unwrap().writes[0].ignore_enoent);
    }

    #[test]
    fn memory_unlimited() {
        assert_eq!(t(r#"{"memory":{"limit":-1,"swap":-1}}"#), [s("memory.swap.max", "max"), s("memory.max", "max")]);
        assert_eq!(t(r#"{"memory":{"limit":-1,"swap":500}}"#), [s("memory.swap.max", "500"), s("memory.max", "max")]);
        let upd = p_mode(r#"{"memory":{"limit":-1}}"#, ApplyMode::Update, &Current::default()).unwrap();
        assert_eq!(triples(&upd).len(), 2, "update also lifts swap");
        assert_eq!(t(r#"{"memory":{"limit":-1}}"#), [s("memory.max", "max")]);
    }

    #[test]
    fn memory_swap_errors() {
        assert!(err(r#"{"memory":{"swap":1000}}"#).starts_with("linux.resources.memory.swap: on cgroup v2 a swap limit needs the memory limit"));
        assert_eq!(
            err(r#"{"memory":{"limit":2000,"swap":1000}}"#),
            "linux.resources.memory.swap: the memory+swap limit (1000) must be at least the memory limit (2000)"
        );
    }

    #[test]
    fn shares_to_weight_matches_runc() {
        for (s, w) in [(2, 1), (3, 2), (10, 4), (100, 17), (512, 59), (1024, 100), (2048, 174), (4096, 303), (262143, 10000), (262144, 10000)] {
            assert_eq!(shares_to_weight(s), w, "shares {s}");
        }
    }

    #[test]
    fn cpu_all_fields() {
        let j = r#"{"cpu":{"shares":1024,"quota":50000,"period":200000,"burst":1000,"idle":1,"realtimeRuntime":5,"cpus":"1"}}"#;
        assert_eq!(t(j), [s("cpu.idle", "1"), s("cpu.weight", "100"), s("cpu.max.burst", "1000"), s("cpu.max", "50000 200000"), s("cpuset.cpus", "1"),]);
        let plan = p_mode(j, ApplyMode::Create, &Current::default()).unwrap();
        assert!(plan.writes[2].defer_on_einval);
    }

    #[test]
    fn cpu_max_forms() {
        assert_eq!(t(r#"{"cpu":{"quota":20000}}"#), [s("cpu.max", "20000")]);
        assert_eq!(t(r#"{"cpu":{"quota":-1}}"#), [s("cpu.max", "max")]);
        assert_eq!(t(r#"{"cpu":{"quota":-1,"period":50000}}"#), [s("cpu.max", "max 50000")]);
        assert_eq!(t(r#"{"cpu":{"period":50000}}"#), [s("cpu.max", "max 50000")]);
        // Update of the period alone keeps the quota the cgroup has.
        let cur = Current { cpu_max: Some("30000 100000\n".into()) };
        let plan = p_mode(r#"{"cpu":{"period":50000}}"#, ApplyMode::Update, &cur).unwrap();
        assert_eq!(plan.writes[0].value, "30000 50000");
        assert_eq!(plan.writes[0].field, "linux.resources.cpu.period");
    }

    #[test]
    fn io_all_fields() {
        let j = r#"{"blockIO":{"weight":500,"leafWeight":300,
            "weightDevice":[{"major":8,"minor":0,"weight":10,"leafWeight":200}],
            "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
            "throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":0}],
            "throttleReadIOPSDevice":[{"major":8,"minor":0,"rate":100}],
            "throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":200}]}}"#;
        assert_eq!(
            t(j),
            [
                s("io.bfq.weight", "500"),
                s("io.bfq.weight", "8:0 10"),
                s("io.max", "8:0 rbps=1048576"),
                s("io.max", "8:0 wbps=max"),
                s("io.max", "8:0 riops=100"),
                s("io.max", "8:16 wiops=200"),
            ]
        );
        let plan = p_mode(j, ApplyMode::Create, &Current::default()).unwrap();
        assert_eq!(plan.writes[0].fallback, Some(("io.weight".into(), "4950".into())));
        assert_eq!(plan.writes[1].fallback, Some(("io.weight".into(), "8:0 1".into())));
    }

    #[test]
    fn io_weight_conversion() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10000);
    }

    #[test]
    fn blkio_goes_to_v1_on_this_host() {
        let p = plan(&hybrid_here(), &res(r#"{"blockIO":{"weight":100}}"#), ApplyMode::Create, &Current::default()).map(strip_devices).unwrap();
        assert_eq!(p.writes[0].file, "blkio.weight");
    }
}
