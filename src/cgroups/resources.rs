//! `linux.resources` → the list of file writes (pure). The per-version translations live in
//! [`super::v1`] and [`super::v2`]; this file holds the shape of a write, which hierarchy each
//! resource goes to, the groups that read the same on both versions, and the order.
//!
//! Conventions (runc's, so that Docker's `update` JSON works unchanged): a number of 0 or an
//! empty string means "not set" and nothing is written for it; -1 means "no limit". What is not
//! set is not written — a new cgroup already has the kernel's defaults.
//!
//! Which hierarchy: a controller mounted as v1 is used there; otherwise, if there is a v2
//! hierarchy that has the controller, there (on this hybrid host that is how `hugepageLimits`
//! reach the hugetlb controller, which only the unified mount carries). The v2 side enables a
//! controller in the parents' `cgroup.subtree_control` when a write needs it (see
//! [`super::apply`]).

use oci_spec::runtime::LinuxResources;

use super::{devices, v1, v2, Cgroup};
use crate::error::{Error, Result};

/// Create: a fresh cgroup, just made. Update: a live one (`rt update`), where the order of
/// some writes depends on current values and device rules are left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    Create,
    /// Create for a rootless container: no device rules (loading the v2 filter takes
    /// CAP_SYS_ADMIN, and in a user namespace the container cannot make device nodes anyway).
    CreateRootless,
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ver {
    V1,
    V2,
}

/// One write of one value into one file of the container's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub ver: Ver,
    /// v1: the controller whose hierarchy holds the file. v2: the controller that must be
    /// enabled for the file to exist ("" for core `cgroup.*` files).
    pub controller: &'static str,
    pub file: String,
    pub value: String,
    /// The config field, for errors: `linux.resources.memory.limit`.
    pub field: String,
    /// Another file (and value) to use when `file` does not exist: `blkio.bfq.weight` when the
    /// kernel has no CFQ `blkio.weight`, `io.weight` (converted) when it has no BFQ.
    pub fallback: Option<(String, String)>,
    /// On EINVAL, try again after the rest of the plan: values that depend on each other
    /// (v1 memory limit vs memory+swap, cpu period vs quota) then land in whichever order the
    /// kernel accepts, with no read of the current values.
    pub defer_on_einval: bool,
    /// A missing file is fine (swap accounting off, kernels without `.rsvd` hugetlb files).
    pub ignore_enoent: bool,
}

impl Write {
    pub fn new(ver: Ver, controller: &'static str, file: impl Into<String>, value: impl Into<String>, field: impl Into<String>) -> Write {
        Write { ver, controller, file: file.into(), value: value.into(), field: field.into(), fallback: None, defer_on_einval: false, ignore_enoent: false }
    }
    pub fn or_else(mut self, file: impl Into<String>, value: impl Into<String>) -> Write {
        self.fallback = Some((file.into(), value.into()));
        self
    }
    pub fn deferrable(mut self, yes: bool) -> Write {
        self.defer_on_einval = yes;
        self
    }
    pub fn optional(mut self) -> Write {
        self.ignore_enoent = true;
        self
    }
}

/// Everything `apply` does, as data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub writes: Vec<Write>,
    /// v2 device rules: the eBPF program to attach to the v2 directory.
    pub device_program: Option<Vec<super::bpf::Insn>>,
}

/// Which controllers this cgroup has on which version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    pub v1: Vec<String>,
    pub v2: bool,
}

impl Routing {
    pub fn of(cg: &Cgroup) -> Routing {
        Routing { v1: cg.dirs.iter().filter(|d| !d.v2).flat_map(|d| d.controllers.iter().cloned()).collect(), v2: cg.v2_dir().is_some() }
    }

    pub fn pure_v2(&self) -> bool {
        self.v2 && !self.v1.iter().any(|c| !c.starts_with("name="))
    }

    pub fn has_v1(&self, controller: &str) -> bool {
        self.v1.iter().any(|c| c == controller)
    }

    /// v1 if mounted there; else v2 when the controller exists in v2 (`v2_name`) and there is a
    /// v2 hierarchy.
    pub fn route(&self, v1_name: &str, v2_name: Option<&str>) -> Option<Ver> {
        if self.has_v1(v1_name) {
            Some(Ver::V1)
        } else if self.v2 && v2_name.is_some() {
            Some(Ver::V2)
        } else {
            None
        }
    }

    fn need(&self, field: &str, v1_name: &'static str, v2_name: Option<&str>) -> Result<Ver> {
        self.route(v1_name, v2_name).ok_or_else(|| Error::Spec {
            field: field.to_owned(),
            message: format!(
                "this host has no {v1_name} cgroup controller (it is not mounted{})",
                match v2_name {
                    Some(_) => "",
                    None if self.v2 => ", and cgroup v2 has no equivalent",
                    None => "",
                }
            ),
        })
    }
}

/// Values of a pre-update read that some update writes depend on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Current {
    /// v2 `cpu.max` as read, for an update that changes the period only.
    pub cpu_max: Option<String>,
}

/// A number that is "set": runc treats 0 as absent.
pub(crate) fn set_i64(v: Option<i64>) -> Option<i64> {
    v.filter(|&x| x != 0)
}
pub(crate) fn set_u64(v: Option<u64>) -> Option<u64> {
    v.filter(|&x| x != 0)
}
pub(crate) fn set_str(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A byte count: positive, or -1 for "no limit".
pub(crate) fn check_bytes(field: &str, v: i64) -> Result<()> {
    if v < -1 {
        return Err(Error::Spec { field: field.to_owned(), message: format!("{v} is not a number of bytes (or -1 for no limit)") });
    }
    Ok(())
}

/// limit, swap, reservation: each set, or not.
pub(crate) type MemoryValues = (Option<i64>, Option<i64>, Option<i64>);

/// The memory byte counts that are set, each checked.
pub(crate) fn memory_values(m: &oci_spec::runtime::LinuxMemory) -> Result<MemoryValues> {
    let (limit, swap, reservation) = (set_i64(m.limit()), set_i64(m.swap()), set_i64(m.reservation()));
    for (f, v) in [("limit", limit), ("swap", swap), ("reservation", reservation)] {
        if let Some(v) = v {
            check_bytes(&format!("linux.resources.memory.{f}"), v)?;
        }
    }
    Ok((limit, swap, reservation))
}

pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Spec { field: field.into(), message: reason.into() }
}

/// The whole plan, in the order the writes happen: devices, memory, cpu, cpuset, pids, block
/// I/O, hugetlb, network, rdma (no write depends on another group's), then `unified` last so
/// that its raw values win over the translated ones, as in runc.
pub fn plan(routing: &Routing, res: &LinuxResources, mode: ApplyMode, current: &Current) -> Result<Plan> {
    let mut p = Plan::default();
    let w = &mut p.writes;

    // Device rules always, as runc: with none in the config the container still gets
    // deny-all plus the default list (see `devices`). An update leaves them alone.
    if mode == ApplyMode::Create {
        let rules = res.devices().as_deref().unwrap_or(&[]);
        match routing.need("linux.resources.devices", "devices", Some("devices"))? {
            Ver::V1 => w.extend(devices::v1_writes(rules)?),
            Ver::V2 => p.device_program = Some(devices::program(rules)?),
        }
    }
    if let Some(m) = res.memory() {
        if v1::memory_is_set(m) || v2::memory_is_set(m) {
            match routing.need("linux.resources.memory", "memory", Some("memory"))? {
                Ver::V1 => w.extend(v1::memory(m, mode)?),
                Ver::V2 => w.extend(v2::memory(m, mode)?),
            }
        }
    }
    if let Some(c) = res.cpu() {
        let any_cpu = set_u64(c.shares()).is_some()
            || set_i64(c.quota()).is_some()
            || set_u64(c.period()).is_some()
            || c.burst().is_some()
            || c.idle().is_some()
            || set_i64(c.realtime_runtime()).is_some()
            || set_u64(c.realtime_period()).is_some();
        if any_cpu {
            match routing.need("linux.resources.cpu", "cpu", Some("cpu"))? {
                Ver::V1 => w.extend(v1::cpu(c)?),
                Ver::V2 => w.extend(v2::cpu(c, mode, current.cpu_max.as_deref())?),
            }
        }
        let cpus = set_str(c.cpus());
        let mems = set_str(c.mems());
        if cpus.is_some() || mems.is_some() {
            let ver = routing.need("linux.resources.cpu.cpus", "cpuset", Some("cpuset"))?;
            if let Some(v) = cpus {
                w.push(Write::new(ver, "cpuset", "cpuset.cpus", v, "linux.resources.cpu.cpus"));
            }
            if let Some(v) = mems {
                w.push(Write::new(ver, "cpuset", "cpuset.mems", v, "linux.resources.cpu.mems"));
            }
        }
    }
    if let Some(pids) = res.pids() {
        // 0 means "not set" (runc; Docker's update sends 0 for "unchanged"); negative: no limit.
        let limit = pids.limit();
        if limit != 0 {
            let ver = routing.need("linux.resources.pids.limit", "pids", Some("pids"))?;
            let value = if limit < 0 { "max".to_owned() } else { limit.to_string() };
            w.push(Write::new(ver, "pids", "pids.max", value, "linux.resources.pids.limit"));
        }
    }
    if let Some(b) = res.block_io() {
        if v1::blkio_is_set(b) {
            match routing.need("linux.resources.blockIO", "blkio", Some("io"))? {
                Ver::V1 => w.extend(v1::blkio(b)?),
                Ver::V2 => w.extend(v2::io(b)?),
            }
        }
    }
    if let Some(limits) = res.hugepage_limits() {
        for (i, l) in limits.iter().enumerate() {
            let field = format!("linux.resources.hugepageLimits[{i}]");
            check_page_size(&format!("{field}.pageSize"), l.page_size())?;
            check_bytes(&format!("{field}.limit"), l.limit())?;
            let size = l.page_size();
            match routing.need(&field, "hugetlb", Some("hugetlb"))? {
                Ver::V1 => {
                    let v = l.limit().to_string();
                    w.push(Write::new(Ver::V1, "hugetlb", format!("hugetlb.{size}.limit_in_bytes"), &v, &field));
                    // Reservations (kernel 5.7+) are limited to the same amount, as runc does.
                    w.push(Write::new(Ver::V1, "hugetlb", format!("hugetlb.{size}.rsvd.limit_in_bytes"), v, &field).optional());
                }
                Ver::V2 => {
                    let v = if l.limit() < 0 { "max".to_owned() } else { l.limit().to_string() };
                    w.push(Write::new(Ver::V2, "hugetlb", format!("hugetlb.{size}.max"), &v, &field));
                    w.push(Write::new(Ver::V2, "hugetlb", format!("hugetlb.{size}.rsvd.max"), v, &field).optional());
                }
            }
        }
    }
    if let Some(n) = res.network() {
        // net_cls and net_prio are v1-only. On a pure v2 host runc ignores them (see
        // `ignored`); where v1 exists but they are not mounted (this host), the config asks
        // for something that cannot be enforced: an error.
        if !routing.pure_v2() {
            if let Some(id) = n.class_id() {
                let field = "linux.resources.network.classID";
                routing.need(field, "net_cls", None)?;
                w.push(Write::new(Ver::V1, "net_cls", "net_cls.classid", id.to_string(), field));
            }
            for (i, p) in n.priorities().iter().flatten().enumerate() {
                let field = format!("linux.resources.network.priorities[{i}]");
                routing.need(&field, "net_prio", None)?;
                if p.name().is_empty() || p.name().contains(char::is_whitespace) {
                    return Err(invalid(format!("{field}.name"), format!("{:?} is not an interface name", p.name())));
                }
                w.push(Write::new(Ver::V1, "net_prio", "net_prio.ifpriomap", format!("{} {}", p.name(), p.priority()), field));
            }
        }
    }
    if let Some(rdma) = res.rdma() {
        let mut devs: Vec<_> = rdma.iter().collect();
        devs.sort_by(|a, b| a.0.cmp(b.0));
        for (dev, l) in devs {
            let field = format!("linux.resources.rdma.{dev}");
            if dev.is_empty() || dev.contains(char::is_whitespace) {
                return Err(invalid(field, "not an RDMA device name"));
            }
            let mut line = dev.clone();
            if let Some(h) = l.hca_handles() {
                line.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = l.hca_objects() {
                line.push_str(&format!(" hca_object={o}"));
            }
            if line.len() == dev.len() {
                continue;
            }
            let ver = routing.need(&field, "rdma", Some("rdma"))?;
            w.push(Write::new(ver, "rdma", "rdma.max", line, field));
        }
    }
    if let Some(u) = res.unified() {
        w.extend(unified(routing, u)?);
    }
    Ok(p)
}

/// Raw cgroup v2 `key: value` pairs, written as given (a value of several lines is written line
/// by line, as runc does). v1: refused. Hybrid: only for controllers that are not v1 ones here,
/// and the core `cgroup.*` files.
fn unified(routing: &Routing, u: &std::collections::HashMap<String, String>) -> Result<Vec<Write>> {
    if u.is_empty() {
        return Ok(vec![]);
    }
    if !routing.v2 {
        return Err(Error::Spec {
            field: "linux.resources.unified".into(),
            message: "this host has no cgroup v2 hierarchy (cgroup v1 only); unified keys need cgroup v2".into(),
        });
    }
    let mut keys: Vec<&String> = u.keys().collect();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let field = format!("linux.resources.unified.{key}");
        let value = &u[key];
        let Some((ctrl, param)) = key.split_once('.') else {
            return Err(invalid(field, "a key is a cgroup v2 file name of the form CONTROLLER.PARAMETER"));
        };
        if key.contains('/') || ctrl.is_empty() || param.is_empty() {
            return Err(invalid(field, "a key is a cgroup v2 file name of the form CONTROLLER.PARAMETER"));
        }
        if ctrl != "cgroup" && routing.has_v1(v1_name_of(ctrl)) {
            return Err(Error::Spec {
                field,
                message: format!(
                    "the {ctrl} controller is bound to cgroup v1 on this host (hybrid layout); unified keys can \
                     only set controllers of the cgroup v2 hierarchy"
                ),
            });
        }
        if value.trim().is_empty() {
            continue;
        }
        out.push(Write::new(Ver::V2, known_controller(ctrl), key.as_str(), value.as_str(), field));
    }
    Ok(out)
}

/// The v1 name of a v2 controller (`io` was `blkio`).
fn v1_name_of(v2: &str) -> &str {
    match v2 {
        "io" => "blkio",
        other => other,
    }
}

/// The `'static` controller name for a unified key's prefix; "" when rt does not know it (the
/// write is then tried as is, without enabling anything first).
fn known_controller(c: &str) -> &'static str {
    match c {
        "cpu" => "cpu",
        "cpuset" => "cpuset",
        "io" => "io",
        "memory" => "memory",
        "pids" => "pids",
        "hugetlb" => "hugetlb",
        "rdma" => "rdma",
        "misc" => "misc",
        _ => "",
    }
}

/// `2MB`, `64KB`, `1GB`: the names the kernel gives hugetlb files.
fn check_page_size(field: &str, s: &str) -> Result<()> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || !["KB", "MB", "GB"].contains(&unit) {
        return Err(invalid(field, format!("{s:?} is not a huge page size such as \"2MB\" or \"1GB\"")));
    }
    Ok(())
}

/// Settings this layout does not implement and that rt skips, as runc does, by field path.
pub fn ignored(routing: &Routing, res: &LinuxResources) -> Vec<&'static str> {
    let mut out = Vec::new();
    if let Some(m) = res.memory() {
        if set_i64(m.kernel()).is_some() {
            out.push("linux.resources.memory.kernel");
        }
        if routing.route("memory", Some("memory")) == Some(Ver::V2) {
            if set_i64(m.kernel_tcp()).is_some() {
                out.push("linux.resources.memory.kernelTCP");
            }
            if m.swappiness().is_some_and(|s| s != u64::MAX) {
                out.push("linux.resources.memory.swappiness");
            }
            if m.disable_oom_killer() == Some(true) {
                out.push("linux.resources.memory.disableOOMKiller");
            }
            if m.use_hierarchy().is_some() {
                out.push("linux.resources.memory.useHierarchy");
            }
        }
    }
    if let Some(c) = res.cpu() {
        if routing.route("cpu", Some("cpu")) == Some(Ver::V2) {
            if set_i64(c.realtime_runtime()).is_some() {
                out.push("linux.resources.cpu.realtimeRuntime");
            }
            if set_u64(c.realtime_period()).is_some() {
                out.push("linux.resources.cpu.realtimePeriod");
            }
        }
    }
    if let Some(b) = res.block_io() {
        if routing.route("blkio", Some("io")) == Some(Ver::V2) {
            if b.leaf_weight().is_some_and(|w| w != 0) {
                out.push("linux.resources.blockIO.leafWeight");
            }
            if b.weight_device().iter().flatten().any(|d| d.leaf_weight().is_some_and(|w| w != 0)) {
                out.push("linux.resources.blockIO.weightDevice[].leafWeight");
            }
        }
    }
    if let Some(n) = res.network() {
        if routing.pure_v2() {
            if n.class_id().is_some() {
                out.push("linux.resources.network.classID");
            }
            if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                out.push("linux.resources.network.priorities");
            }
        }
    }
    out
}

/// `memory.checkBeforeUpdate` (v2): refuse a new limit at or below what the cgroup already
/// uses, instead of letting the kernel reclaim or OOM-kill to get there.
pub fn check_memory_usage(res: &LinuxResources, usage: u64) -> Result<()> {
    let Some(m) = res.memory() else { return Ok(()) };
    if m.check_before_update() != Some(true) {
        return Ok(());
    }
    for (field, v) in [("linux.resources.memory.swap", m.swap()), ("linux.resources.memory.limit", m.limit())] {
        if let Some(v) = v.filter(|&v| v > 0) {
            if v as u64 <= usage {
                return Err(invalid(field, format!("{v} is not above the current usage of {usage} bytes (checkBeforeUpdate is set)")));
            }
        }
    }
    Ok(())
}

/// Applies `res` to `cg`: pre-reads what an update needs, plans, then writes.
pub fn apply(cg: &Cgroup, res: &LinuxResources, mode: ApplyMode) -> Result<()> {
    let routing = Routing::of(cg);
    let mut current = Current::default();
    if mode == ApplyMode::Update {
        super::apply::pre_read(cg, &routing, res, &mut current)?;
    }
    let plan = plan(&routing, res, mode, &current)?;
    super::apply::execute(cg, &plan)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use oci_spec::runtime::LinuxResources;

    pub fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    pub fn hybrid_here() -> Routing {
        Routing { v1: ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd"].map(String::from).to_vec(), v2: true }
    }
    pub fn pure_v1() -> Routing {
        Routing {
            v1: ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb", "net_cls", "net_prio", "rdma"]
                .map(String::from)
                .to_vec(),
            v2: false,
        }
    }
    pub fn pure_v2() -> Routing {
        Routing { v1: vec![], v2: true }
    }

    /// (version, file, value) triples, for compact assertions.
    pub fn triples(p: &Plan) -> Vec<(Ver, String, String)> {
        p.writes.iter().map(|w| (w.ver, w.file.clone(), w.value.clone())).collect()
    }

    /// The plan without the device part, which every create has.
    pub fn strip_devices(mut p: Plan) -> Plan {
        p.writes.retain(|w| w.controller != "devices");
        p.device_program = None;
        p
    }

    fn plan_of(r: &Routing, json: &str) -> Result<Plan> {
        plan(r, &res(json), ApplyMode::Create, &Current::default()).map(strip_devices)
    }

    fn full(r: &Routing, json: &str) -> Plan {
        plan(r, &res(json), ApplyMode::Create, &Current::default()).unwrap()
    }

    #[test]
    fn nothing_set_writes_nothing() {
        let zeros = r#"{"memory":{"limit":0,"reservation":0,"swap":0,"kernel":0,"kernelTCP":0},
            "cpu":{"shares":0,"quota":0,"period":0,"realtimeRuntime":0,"realtimePeriod":0,"cpus":"","mems":""},
            "blockIO":{"weight":0},"pids":{"limit":0}}"#;
        for r in [hybrid_here(), pure_v1(), pure_v2()] {
            assert_eq!(plan_of(&r, "{}").unwrap(), Plan::default());
            assert_eq!(plan(&r, &res(zeros), ApplyMode::Update, &Current::default()).unwrap(), Plan::default());
        }
    }

    #[test]
    fn pids_both_versions() {
        for r in [pure_v1(), pure_v2(), hybrid_here()] {
            let p = plan_of(&r, r#"{"pids":{"limit":42}}"#).unwrap();
            assert_eq!(p.writes[0].file, "pids.max");
            assert_eq!(p.writes[0].value, "42");
            let p = plan_of(&r, r#"{"pids":{"limit":-1}}"#).unwrap();
            assert_eq!(p.writes[0].value, "max");
        }
        assert_eq!(plan_of(&pure_v2(), r#"{"pids":{"limit":1}}"#).unwrap().writes[0].ver, Ver::V2);
    }

    #[test]
    fn cpuset_both_versions() {
        for (r, ver) in [(pure_v1(), Ver::V1), (pure_v2(), Ver::V2)] {
            let p = plan_of(&r, r#"{"cpu":{"cpus":"0-1","mems":"0"}}"#).unwrap();
            assert_eq!(triples(&p), [(ver, "cpuset.cpus".into(), "0-1".into()), (ver, "cpuset.mems".into(), "0".into())]);
        }
    }

    #[test]
    fn hugetlb_goes_to_the_unified_hierarchy_on_this_host() {
        let p = plan_of(&hybrid_here(), r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#).unwrap();
        assert_eq!(triples(&p), [(Ver::V2, "hugetlb.2MB.max".into(), "4194304".into()), (Ver::V2, "hugetlb.2MB.rsvd.max".into(), "4194304".into())]);
        assert!(p.writes[1].ignore_enoent && !p.writes[0].ignore_enoent);
        let p = plan_of(&pure_v1(), r#"{"hugepageLimits":[{"pageSize":"1GB","limit":-1}]}"#).unwrap();
        assert_eq!(
            triples(&p),
            [(Ver::V1, "hugetlb.1GB.limit_in_bytes".into(), "-1".into()), (Ver::V1, "hugetlb.1GB.rsvd.limit_in_bytes".into(), "-1".into())]
        );
        let p = plan_of(&pure_v2(), r#"{"hugepageLimits":[{"pageSize":"1GB","limit":-1}]}"#).unwrap();
        assert_eq!(p.writes[0].value, "max");
    }

    #[test]
    fn hugetlb_bad_page_size_names_the_field() {
        let e = plan_of(&pure_v1(), r#"{"hugepageLimits":[{"pageSize":"2M","limit":1}]}"#).unwrap_err();
        assert_eq!(e.to_string(), "linux.resources.hugepageLimits[0].pageSize: \"2M\" is not a huge page size such as \"2MB\" or \"1GB\"");
    }

    #[test]
    fn hugetlb_without_any_controller_is_unsupported() {
        let r = Routing { v1: vec!["memory".into(), "devices".into()], v2: false };
        let e = plan_of(&r, r#"{"hugepageLimits":[{"pageSize":"2MB","limit":1}]}"#).unwrap_err();
        assert_eq!(e.to_string(), "linux.resources.hugepageLimits[0]: this host has no hugetlb cgroup controller (it is not mounted)");
    }

    #[test]
    fn network_v1_and_missing_here() {
        let j = r#"{"network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5},{"name":"lo","priority":1}]}}"#;
        let p = plan_of(&pure_v1(), j).unwrap();
        assert_eq!(
            triples(&p),
            [
                (Ver::V1, "net_cls.classid".into(), "1048577".into()),
                (Ver::V1, "net_prio.ifpriomap".into(), "eth0 5".into()),
                (Ver::V1, "net_prio.ifpriomap".into(), "lo 1".into())
            ]
        );
        // This host: v1 without net_cls → the config cannot be enforced.
        let e = plan_of(&hybrid_here(), j).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.network.classID: this host has no net_cls cgroup controller (it is not mounted, and \
             cgroup v2 has no equivalent)"
        );
        // Pure v2: ignored (as runc), and reported by `ignored`.
        assert_eq!(plan_of(&pure_v2(), j).unwrap(), Plan::default());
        assert_eq!(ignored(&pure_v2(), &res(j)), ["linux.resources.network.classID", "linux.resources.network.priorities"]);
    }

    #[test]
    fn rdma_sorted_and_only_set_fields() {
        let j = r#"{"rdma":{"mlx5_1":{"hcaHandles":3},"mlx4_0":{"hcaHandles":2,"hcaObjects":2000},"empty":{}}}"#;
        let p = plan_of(&pure_v2(), j).unwrap();
        assert_eq!(
            triples(&p),
            [(Ver::V2, "rdma.max".into(), "mlx4_0 hca_handle=2 hca_object=2000".into()), (Ver::V2, "rdma.max".into(), "mlx5_1 hca_handle=3".into())]
        );
        let e = plan_of(&hybrid_here(), r#"{"rdma":{"mlx4_0":{"hcaHandles":2}}}"#);
        // Hybrid: no v1 rdma → the unified hierarchy is tried (the write then says whether it has it).
        assert_eq!(e.unwrap().writes[0].ver, Ver::V2);
    }

    #[test]
    fn unified_pure_v2_written_last_sorted() {
        let j = r#"{"pids":{"limit":5},"unified":{"memory.high":"1G","io.max":"8:0 rbps=1\n8:16 wbps=2","cgroup.max.depth":"3"}}"#;
        let p = plan_of(&pure_v2(), j).unwrap();
        assert_eq!(
            triples(&p),
            [
                (Ver::V2, "pids.max".into(), "5".into()),
                (Ver::V2, "cgroup.max.depth".into(), "3".into()),
                (Ver::V2, "io.max".into(), "8:0 rbps=1\n8:16 wbps=2".into()),
                (Ver::V2, "memory.high".into(), "1G".into())
            ]
        );
        assert_eq!(p.writes[1].controller, "");
        assert_eq!(p.writes[2].controller, "io");
    }

    #[test]
    fn unified_rejected_on_v1_and_for_v1_controllers_on_hybrid() {
        let e = plan_of(&pure_v1(), r#"{"unified":{"memory.high":"1G"}}"#).unwrap_err();
        assert_eq!(e.to_string(), "linux.resources.unified: this host has no cgroup v2 hierarchy (cgroup v1 only); unified keys need cgroup v2");
        let e = plan_of(&hybrid_here(), r#"{"unified":{"memory.high":"1G"}}"#).unwrap_err();
        assert!(e.to_string().starts_with("linux.resources.unified.memory.high: the memory controller is bound to cgroup v1"), "{e}");
        let e = plan_of(&hybrid_here(), r#"{"unified":{"io.max":"8:0 rbps=1"}}"#).unwrap_err();
        assert!(e.to_string().contains("the io controller is bound to cgroup v1"), "{e}");
        // hugetlb is a unified controller here; cgroup.* core files are fine too.
        let p = plan_of(&hybrid_here(), r#"{"unified":{"hugetlb.2MB.max":"0","cgroup.max.descendants":"10"}}"#).unwrap();
        assert_eq!(p.writes.len(), 2);
    }

    #[test]
    fn unified_bad_keys() {
        for k in ["memory", "../memory.max", "memory./x", ".max", "memory."] {
            let j = format!(r#"{{"unified":{{"{k}":"1"}}}}"#);
            let e = plan_of(&pure_v2(), &j).unwrap_err();
            assert!(e.to_string().contains("CONTROLLER.PARAMETER"), "{k}: {e}");
        }
    }

    #[test]
    fn devices_v1_writes_and_v2_program() {
        let j = r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]}"#;
        let p = full(&pure_v1(), j);
        assert_eq!(p.writes[0].file, "devices.deny");
        assert_eq!(p.writes[0].value, "a");
        assert!(p.device_program.is_none());
        let p = full(&pure_v2(), j);
        assert!(p.writes.is_empty());
        assert!(p.device_program.is_some());
        // Hybrid host: the v1 devices controller.
        assert!(full(&hybrid_here(), j).device_program.is_none());
        // update leaves device rules alone.
        assert_eq!(plan(&pure_v1(), &res(j), ApplyMode::Update, &Current::default()).unwrap(), Plan::default());
    }

    #[test]
    fn devices_are_restricted_even_without_rules() {
        // No linux.resources.devices: deny-all plus runc's defaults, as runc does.
        let p = full(&pure_v1(), "{}");
        assert_eq!(p.writes.len(), 12);
        assert_eq!((p.writes[0].file.as_str(), p.writes[0].value.as_str()), ("devices.deny", "a"));
        assert!(p.writes[1..].iter().all(|w| w.file == "devices.allow"));
        assert!(full(&pure_v2(), "{}").device_program.is_some());
        // No devices controller at all (v1 without it mounted): refused, not silently open.
        let r = Routing { v1: vec!["memory".into()], v2: false };
        let e = plan(&r, &res("{}"), ApplyMode::Create, &Current::default()).unwrap_err();
        assert_eq!(e.to_string(), "linux.resources.devices: this host has no devices cgroup controller (it is not mounted)");
    }

    #[test]
    fn check_before_update() {
        let r = res(r#"{"memory":{"limit":1000,"checkBeforeUpdate":true}}"#);
        assert!(check_memory_usage(&r, 999).is_ok());
        let e = check_memory_usage(&r, 1000).unwrap_err();
        assert_eq!(e.to_string(), "linux.resources.memory.limit: 1000 is not above the current usage of 1000 bytes (checkBeforeUpdate is set)");
        let r = res(r#"{"memory":{"limit":1000}}"#);
        assert!(check_memory_usage(&r, 5000).is_ok());
    }

    #[test]
    fn ignored_settings_per_layout() {
        let j = r#"{"memory":{"kernel":1024,"swappiness":10,"disableOOMKiller":true},
                    "cpu":{"realtimeRuntime":100,"realtimePeriod":1000},"blockIO":{"leafWeight":20}}"#;
        assert_eq!(ignored(&pure_v1(), &res(j)), ["linux.resources.memory.kernel"]);
        assert_eq!(
            ignored(&pure_v2(), &res(j)),
            [
                "linux.resources.memory.kernel",
                "linux.resources.memory.swappiness",
                "linux.resources.memory.disableOOMKiller",
                "linux.resources.cpu.realtimeRuntime",
                "linux.resources.cpu.realtimePeriod",
                "linux.resources.blockIO.leafWeight"
            ]
        );
    }
}
