//! `process.scheduler`, `process.ioPriority` and `linux.memoryPolicy`: checked when the config
//! is planned, so a bad value fails `create` with the field's name before anything is made;
//! applied by the init before it drops its capabilities (a realtime policy or I/O class needs
//! CAP_SYS_NICE or CAP_SYS_ADMIN), and inherited by the user's process across execve.

use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxMemoryPolicy, LinuxSchedulerFlag, LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType, Process,
    Scheduler,
};

use crate::error::{Context, Error, Result};
use crate::sys::{self, SchedAttr};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scheduling {
    sched: Option<SchedAttr>,
    /// `class << 13 | level`, the kernel's IOPRIO_PRIO_VALUE.
    ioprio: Option<u16>,
    mempolicy: Option<MemPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MemPolicy {
    /// MPOL_* mode with its MPOL_F_* flags.
    mode: i32,
    /// Bit n of the mask: node n; empty for "no nodes".
    nodemask: Vec<libc::c_ulong>,
}

pub fn plan(process: &Process, memory_policy: Option<&LinuxMemoryPolicy>) -> Result<Scheduling> {
    Ok(Scheduling {
        sched: process.scheduler().as_ref().map(sched_attr).transpose()?,
        ioprio: process.io_priority().as_ref().map(ioprio).transpose()?,
        mempolicy: memory_policy.map(mempolicy).transpose()?,
    })
}

impl Scheduling {
    pub fn apply(&self) -> Result<()> {
        if let Some(attr) = &self.sched {
            sys::sched_setattr(attr).ctx("process.scheduler: sched_setattr")?;
        }
        if let Some(v) = self.ioprio {
            sys::ioprio_set(v).ctx("process.ioPriority: ioprio_set")?;
        }
        if let Some(m) = &self.mempolicy {
            sys::set_mempolicy(m.mode, &m.nodemask).ctx("linux.memoryPolicy: set_mempolicy")?;
        }
        Ok(())
    }
}

/// runc's rules: a nice value in [-20, 19], a priority only for the realtime policies,
/// runtime/deadline/period only for SCHED_DEADLINE. The kernel checks the rest (ranges,
/// privileges) and its answer names the field.
fn sched_attr(s: &Scheduler) -> Result<SchedAttr> {
    use LinuxSchedulerPolicy::*;
    const F: &str = "process.scheduler";
    let policy = *s.policy();
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(Error::spec(format!("{F}.nice"), format!("{nice} is outside [-20, 19]")));
    }
    let priority = s.priority().unwrap_or(0);
    if priority != 0 && !matches!(policy, SchedFifo | SchedRr) {
        return Err(Error::spec(format!("{F}.priority"), "only SCHED_FIFO and SCHED_RR have a priority"));
    }
    let priority = u32::try_from(priority).map_err(|_| Error::spec(format!("{F}.priority"), format!("{priority} is negative")))?;
    let (runtime, deadline, period) = (s.runtime().unwrap_or(0), s.deadline().unwrap_or(0), s.period().unwrap_or(0));
    if policy != SchedDeadline && (runtime | deadline | period) != 0 {
        return Err(Error::spec(F, "runtime, deadline and period are for SCHED_DEADLINE only"));
    }
    let flags = s.flags().iter().flatten().fold(0u64, |m, f| {
        m | match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        }
    });
    let policy = match policy {
        SchedOther => libc::SCHED_OTHER,
        SchedFifo => libc::SCHED_FIFO,
        SchedRr => libc::SCHED_RR,
        SchedBatch => libc::SCHED_BATCH,
        SchedIso => 4,
        SchedIdle => libc::SCHED_IDLE,
        SchedDeadline => 6,
    } as u32;
    Ok(SchedAttr { policy, flags, nice, priority, runtime, deadline, period, ..SchedAttr::default() })
}

fn ioprio(p: &LinuxIOPriority) -> Result<u16> {
    let level = p.priority();
    if !(0..=7).contains(&level) {
        return Err(Error::spec("process.ioPriority.priority", format!("{level} is outside [0, 7]")));
    }
    let class: u16 = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    Ok(class << 13 | level as u16)
}

fn mempolicy(m: &LinuxMemoryPolicy) -> Result<MemPolicy> {
    use MemoryPolicyModeType::*;
    const F: &str = "linux.memoryPolicy";
    let nodes = parse_node_list(m.nodes().as_deref().unwrap_or("")).map_err(|e| Error::spec(format!("{F}.nodes"), e))?;
    let mode = m.mode();
    match mode {
        MpolDefault | MpolLocal if !nodes.is_empty() => {
            return Err(Error::spec(format!("{F}.nodes"), format!("{mode} takes no nodes")));
        }
        MpolBind | MpolInterleave | MpolPreferredMany | MpolWeightedInterleave if nodes.is_empty() => {
            return Err(Error::spec(format!("{F}.nodes"), format!("{mode} needs at least one node")));
        }
        _ => {}
    }
    let flags = m.flags().iter().flatten().fold(0i32, |f, flag| {
        f | match flag {
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
        }
    });
    if flags & (3 << 14) == 3 << 14 {
        return Err(Error::spec(format!("{F}.flags"), "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other"));
    }
    let mode = match mode {
        MpolDefault => 0,
        MpolPreferred => 1,
        MpolBind => 2,
        MpolInterleave => 3,
        MpolLocal => 4,
        MpolPreferredMany => 5,
        MpolWeightedInterleave => 6,
    };
    let bits = libc::c_ulong::BITS as usize;
    let mut nodemask = vec![0; nodes.iter().max().map_or(0, |&n| n as usize / bits + 1)];
    for n in nodes {
        nodemask[n as usize / bits] |= 1 << (n as usize % bits);
    }
    Ok(MemPolicy { mode: mode | flags, nodemask })
}

/// The kernel's list format (`0-3,7`), strictly: anything else is an error, not ignored.
fn parse_node_list(text: &str) -> Result<Vec<u32>, String> {
    // The kernel's MAX_NUMNODES is at most 1 << 10.
    const MAX_NODE: u32 = 1023;
    let mut out = Vec::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let num = |s: &str| s.trim().parse::<u32>().ok().filter(|&n| n <= MAX_NODE);
        match (num(a), num(b)) {
            (Some(a), Some(b)) if a <= b => out.extend(a..=b),
            _ => return Err(format!("{part:?} is not a node number or range (as in \"0-3,7\")")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The process and linux.memoryPolicy of a config with these fields.
    fn spec(v: serde_json::Value) -> (Process, Option<LinuxMemoryPolicy>) {
        let mut process = serde_json::json!({"cwd": "/", "args": ["true"], "user": {"uid": 0, "gid": 0}});
        let mut policy = None;
        for (k, val) in v.as_object().into_iter().flatten() {
            match k.as_str() {
                "memoryPolicy" => policy = Some(serde_json::from_value(val.clone()).unwrap()),
                _ => process[k] = val.clone(),
            }
        }
        (serde_json::from_value(process).unwrap(), policy)
    }

    fn plan(s: &(Process, Option<LinuxMemoryPolicy>)) -> Result<Scheduling> {
        super::plan(&s.0, s.1.as_ref())
    }

    fn err(v: serde_json::Value) -> String {
        plan(&spec(v)).unwrap_err().to_string()
    }

    #[test]
    fn nothing_asked_nothing_done() {
        assert_eq!(plan(&spec(serde_json::json!({}))).unwrap(), Scheduling::default());
    }

    #[test]
    fn scheduler_translated() {
        let s = plan(&spec(serde_json::json!({"scheduler": {"policy": "SCHED_FIFO", "priority": 10}}))).unwrap();
        assert_eq!(s.sched, Some(SchedAttr { policy: 1, priority: 10, ..SchedAttr::default() }));
        let s =
            plan(&spec(serde_json::json!({"scheduler": {"policy": "SCHED_DEADLINE", "runtime": 10_000_000, "deadline": 20_000_000, "period": 20_000_000}})))
                .unwrap();
        assert_eq!(s.sched, Some(SchedAttr { policy: 6, runtime: 10_000_000, deadline: 20_000_000, period: 20_000_000, ..SchedAttr::default() }));
        let s = plan(&spec(serde_json::json!({"scheduler": {"policy": "SCHED_BATCH", "nice": -5}}))).unwrap();
        assert_eq!(s.sched, Some(SchedAttr { policy: 3, nice: -5, ..SchedAttr::default() }));
    }

    #[test]
    fn scheduler_rules_name_the_field() {
        assert!(err(serde_json::json!({"scheduler": {"policy": "SCHED_OTHER", "nice": 20}})).starts_with("process.scheduler.nice: 20 is outside"));
        assert!(err(serde_json::json!({"scheduler": {"policy": "SCHED_OTHER", "priority": 5}})).starts_with("process.scheduler.priority: only SCHED_FIFO"));
        assert!(err(serde_json::json!({"scheduler": {"policy": "SCHED_RR", "priority": -1}})).starts_with("process.scheduler.priority: -1 is negative"));
        assert!(
            err(serde_json::json!({"scheduler": {"policy": "SCHED_FIFO", "priority": 1, "runtime": 5}})).starts_with("process.scheduler: runtime, deadline")
        );
    }

    #[test]
    fn io_priority_translated_and_checked() {
        let s = plan(&spec(serde_json::json!({"ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 7}}))).unwrap();
        assert_eq!(s.ioprio, Some(3 << 13 | 7));
        let s = plan(&spec(serde_json::json!({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 0}}))).unwrap();
        assert_eq!(s.ioprio, Some(2 << 13));
        assert!(err(serde_json::json!({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 8}})).starts_with("process.ioPriority.priority: 8 is outside"));
    }

    #[test]
    fn memory_policy_translated() {
        let s = plan(&spec(serde_json::json!({"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0-2,65", "flags": ["MPOL_F_STATIC_NODES"]}}))).unwrap();
        assert_eq!(s.mempolicy, Some(MemPolicy { mode: 2 | 1 << 15, nodemask: vec![0b111, 0b10] }));
        let s = plan(&spec(serde_json::json!({"memoryPolicy": {"mode": "MPOL_LOCAL"}}))).unwrap();
        assert_eq!(s.mempolicy, Some(MemPolicy { mode: 4, nodemask: vec![] }));
        let s = plan(&spec(serde_json::json!({"memoryPolicy": {"mode": "MPOL_PREFERRED", "nodes": ""}}))).unwrap();
        assert_eq!(s.mempolicy, Some(MemPolicy { mode: 1, nodemask: vec![] }));
    }

    #[test]
    fn memory_policy_rules_name_the_field() {
        assert!(err(serde_json::json!({"memoryPolicy": {"mode": "MPOL_BIND"}})).starts_with("linux.memoryPolicy.nodes: MPOL_BIND needs at least one node"));
        assert!(err(serde_json::json!({"memoryPolicy": {"mode": "MPOL_DEFAULT", "nodes": "0"}}))
            .starts_with("linux.memoryPolicy.nodes: MPOL_DEFAULT takes no nodes"));
        assert!(err(serde_json::json!({"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0-x"}})).starts_with("linux.memoryPolicy.nodes: \"0-x\" is not"));
        assert!(err(serde_json::json!({"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "3-1"}})).starts_with("linux.memoryPolicy.nodes: \"3-1\" is not"));
        assert!(err(serde_json::json!({"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}}))
            .starts_with("linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and"));
    }
}
