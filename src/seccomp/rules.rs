//! From `linux.seccomp` to what each syscall number of each ABI gets, with runc's reading of
//! the profile (libseccomp's where runc leaves it to libseccomp):
//!
//! - the native ABI is always filtered, whatever `architectures` says; an ABI that is not in
//!   the filter gets libseccomp's bad-architecture action, SCMP_ACT_KILL (the thread);
//! - a name is looked up per ABI and skipped where that ABI lacks it, or everywhere when no
//!   table knows it (runc logs and ignores it);
//! - a rule whose action is the default action is dropped (the call gets it anyway);
//! - the first unconditional rule for a call wins over every other rule for it, and rules
//!   with arguments are tried in the profile's order;
//! - several comparisons in a rule must all hold, unless two of them test the same argument:
//!   then each is a rule of its own (runc's and crun's "old behaviour", kept for old profiles);
//! - a MASKED_EQ with an empty mask always holds and is left out, so a rule made of nothing
//!   else is unconditional (libseccomp);
//! - calls newer than the profile get ENOSYS (see `ENOSYS` below).

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompArg, LinuxSeccompOperator as Op};
use seccompiler::SeccompCmpOp;

use super::abi::{x32_of, Abi, Tables, X32_SYSCALL_BIT};
use super::bpf::{ArgCmp, Group, Outcome, Range, Rules};
use crate::error::{Error, Result};

// linux/seccomp.h return values (the action in the high 16 bits, its data in the low ones)
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0x0000_0000;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// What a call newer than the profile gets. Its caller (glibc's clone3, faccessat2, ...)
/// takes ENOSYS as "this kernel is too old" and falls back to the older call, where the
/// profile's default (EPERM, or a kill) would fail or kill it.
///
/// runc's rule (libcontainer/seccomp/patchbpf), which rt follows: unless the default action
/// lets calls through (ALLOW, LOG, TRACE), for each ABI of the filter take the highest
/// number that any name of the profile has on that ABI (rules of every action count, those
/// dropped for repeating the default too; names the ABI lacks do not); calls above it get
/// ENOSYS. On x86_64 and x32, which share `seccomp_data.arch`, the two limits are kept apart
/// by the x32 bit. An ABI none of whose names resolve keeps the default. Numbers below the
/// limit that the profile does not name (holes in the table) keep the default too.
pub const RET_ENOSYS: u32 = RET_ERRNO | libc::ENOSYS as u32;

/// libseccomp's default bad-architecture action, which runc keeps: SCMP_ACT_KILL.
pub const RET_BAD_ARCH: u32 = RET_KILL_THREAD;

/// The profile, reduced to a program's input.
pub struct Compiled {
    pub groups: Vec<Group>,
    /// A rule notifies: the filter needs a listener.
    pub notify: bool,
    /// Names that no ABI of the filter has (skipped).
    pub unknown: Vec<String>,
}

/// What one number has: 8 bytes, as ~500 of them are made per ABI.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Free,
    Ret(u32),
    Rules(u32),
}

/// What one ABI's syscall numbers get, before they are cut into ranges.
struct AbiRules {
    abi: Abi,
    /// By number less `base` (x32's bit): syscall numbers are dense.
    calls: Vec<Slot>,
    /// The argument rules `Slot::Rules` points into.
    rules: Vec<Option<Rules>>,
    base: u32,
    /// The highest number any name of the profile has here.
    newest: Option<u32>,
}

pub fn compile(s: &LinuxSeccomp) -> Result<Compiled> {
    const F: &str = "linux.seccomp";
    if s.default_action() == Action::ScmpActNotify {
        // The listener fd reaches rt through syscalls the filter would hold until an agent
        // answers, and the agent only gets the fd from rt.
        return Err(Error::spec(format!("{F}.defaultAction"), "SCMP_ACT_NOTIFY cannot be the default action"));
    }
    let default = ret_of(s.default_action(), s.default_errno_ret(), || format!("{F}.defaultErrnoRet"))?;

    let mut abis = vec![Abi::X86_64];
    for arch in s.architectures().iter().flatten() {
        if let Some(abi) = Abi::of(*arch) {
            if !abis.contains(&abi) {
                abis.push(abi);
            }
        }
    }

    let syscalls = s.syscalls().as_deref().unwrap_or_default();
    let mut rets = Vec::with_capacity(syscalls.len());
    let mut notify = false;
    for (i, call) in syscalls.iter().enumerate() {
        let f = format!("{F}.syscalls[{i}]");
        if call.names().is_empty() {
            return Err(Error::spec(format!("{f}.names"), "must name at least one system call"));
        }
        if let Some(j) = call.names().iter().position(|n| n.is_empty()) {
            return Err(Error::spec(format!("{f}.names[{j}]"), "empty system call name"));
        }
        for (k, arg) in call.args().iter().flatten().enumerate() {
            if arg.index() > 5 {
                return Err(Error::spec(format!("{f}.args[{k}].index"), format!("{}: system calls have 6 arguments, 0 to 5", arg.index())));
            }
        }
        if call.action() == Action::ScmpActNotify {
            notify = true;
            // rt hands the listener fd from the container's process to rt with sendmsg;
            // runc refuses `write` for its pipe, the same way.
            if let Some(j) = call.names().iter().position(|n| n == "write" || n == "sendmsg") {
                return Err(Error::spec(
                    format!("{f}.names[{j}]"),
                    format!("SCMP_ACT_NOTIFY cannot be used for {}: rt needs it to pass the listener on", call.names()[j]),
                ));
            }
        }
        rets.push(ret_of(call.action(), call.errno_ret(), || format!("{f}.errnoRet"))?);
    }
    if notify && s.listener_path().is_none() {
        return Err(Error::spec(format!("{F}.listenerPath"), "required when a rule's action is SCMP_ACT_NOTIFY"));
    }
    if s.listener_metadata().is_some() && s.listener_path().is_none() {
        return Err(Error::spec(format!("{F}.listenerMetadata"), "must not be set without listenerPath"));
    }

    // Each name is looked up once per table: x32's number follows from x86_64's.
    let count = syscalls.iter().map(|c| c.names().len()).sum();
    let tables = Tables::of(count, syscalls.iter().flat_map(|c| c.names().iter().map(String::as_str)));
    let mut per_abi: Vec<AbiRules> =
        abis.iter().map(|&abi| AbiRules { abi, calls: vec![Slot::Free; abi.table_len()], rules: vec![], base: abi.base(), newest: None }).collect();
    let mut unknown: Vec<String> = Vec::new();
    for (call, &ret) in syscalls.iter().zip(&rets) {
        let args = call.args().as_deref().unwrap_or_default();
        for name in call.names() {
            let [nr64, nr86] = tables.lookup(name);
            let mut known = false;
            for r in &mut per_abi {
                let nr = match r.abi {
                    Abi::X86_64 => nr64,
                    Abi::X32 => nr64.and_then(x32_of),
                    Abi::X86 => nr86,
                };
                let Some(nr) = nr else { continue };
                known = true;
                r.newest = r.newest.max(Some(nr));
                if ret != default {
                    add(r, nr, ret, args, default);
                }
            }
            if !known && !unknown.contains(name) {
                unknown.push(name.clone());
            }
        }
    }

    let enosys = !matches!(s.default_action(), Action::ScmpActAllow | Action::ScmpActLog | Action::ScmpActTrace);
    let limit = |r: &AbiRules| r.newest.filter(|_| enosys);
    let mut take = |abi| per_abi.iter().position(|r| r.abi == abi).map(|i| per_abi.remove(i));
    let (x64, x86, x32) = (take(Abi::X86_64), take(Abi::X86), take(Abi::X32));
    let mut groups = Vec::with_capacity(2);
    if let Some(x64) = x64 {
        let mut background = vec![(0, default)];
        background.extend(limit(&x64).map(|n| (n + 1, RET_ENOSYS)));
        let mut parts = vec![x64];
        match x32 {
            Some(x32) => {
                background.push((X32_SYSCALL_BIT, default));
                background.extend(limit(&x32).map(|n| (n + 1, RET_ENOSYS)));
                parts.push(x32);
            }
            None => {
                // libseccomp: an x32 call on an x86_64-only filter is a bad architecture,
                // except -1, which a tracer sets to skip the call.
                background.push((X32_SYSCALL_BIT, RET_BAD_ARCH));
                background.push((u32::MAX, default));
            }
        }
        groups.push(Group { audit_arch: Abi::X86_64.audit_arch(), ranges: cut(&background, parts) });
    }
    if let Some(x86) = x86 {
        let mut background = vec![(0, default)];
        background.extend(limit(&x86).map(|n| (n + 1, RET_ENOSYS)));
        groups.push(Group { audit_arch: Abi::X86.audit_arch(), ranges: cut(&background, vec![x86]) });
    }
    Ok(Compiled { groups, notify, unknown })
}

/// The seccomp return value of an action, with its errno where it takes one (EPERM unless
/// the profile says otherwise, as runc does).
fn ret_of(action: Action, errno: Option<u32>, field: impl FnOnce() -> String) -> Result<u32> {
    let (base, takes_errno) = match action {
        Action::ScmpActErrno => (RET_ERRNO, true),
        Action::ScmpActTrace => (RET_TRACE, true),
        Action::ScmpActKill | Action::ScmpActKillThread => (RET_KILL_THREAD, false),
        Action::ScmpActKillProcess => (RET_KILL_PROCESS, false),
        Action::ScmpActTrap => (RET_TRAP, false),
        Action::ScmpActNotify => (RET_USER_NOTIF, false),
        Action::ScmpActLog => (RET_LOG, false),
        Action::ScmpActAllow => (RET_ALLOW, false),
    };
    match errno {
        None if takes_errno => Ok(base | libc::EPERM as u32),
        None => Ok(base),
        Some(_) if !takes_errno => Err(Error::spec(field(), format!("{action} takes no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)"))),
        Some(e) if e > 0xffff => Err(Error::spec(field(), format!("{e}: seccomp returns at most 16 bits (65535)"))),
        Some(e) => Ok(base | e),
    }
}

/// Adds one rule for `nr`, keeping libseccomp's precedence (see the module's notes).
fn add(r: &mut AbiRules, nr: u32, ret: u32, args: &[LinuxSeccompArg], default: u32) {
    let abi = r.abi;
    let Some(slot) = r.calls.get_mut((nr - r.base) as usize) else { return };
    let unconditional = |slot: &mut Slot| {
        if !matches!(slot, Slot::Ret(_)) {
            *slot = Slot::Ret(ret);
        }
    };
    if args.is_empty() {
        return unconditional(slot);
    }
    let repeats = (0..args.len()).any(|i| args[..i].iter().any(|b| b.index() == args[i].index()));
    let rules: Vec<Vec<ArgCmp>> =
        if repeats { args.iter().map(|a| cmp(a, abi).into_iter().collect()).collect() } else { vec![args.iter().filter_map(|a| cmp(a, abi)).collect()] };
    for cmps in rules {
        if cmps.is_empty() {
            unconditional(slot);
            continue;
        }
        let i = match *slot {
            Slot::Ret(_) => continue,
            Slot::Rules(i) => i as usize,
            Slot::Free => {
                r.rules.push(Some(Rules { rules: vec![], fallback: default, args_32bit: abi.args_32bit() }));
                *slot = Slot::Rules(r.rules.len() as u32 - 1);
                r.rules.len() - 1
            }
        };
        if let Some(rs) = &mut r.rules[i] {
            rs.rules.push((cmps, ret));
        }
    }
}

/// One comparison, or `None` for one that always holds.
fn cmp(a: &LinuxSeccompArg, abi: Abi) -> Option<ArgCmp> {
    let index = a.index() as u8;
    let (op, value) = match a.op() {
        Op::ScmpCmpNe => (SeccompCmpOp::Ne, a.value()),
        Op::ScmpCmpLt => (SeccompCmpOp::Lt, a.value()),
        Op::ScmpCmpLe => (SeccompCmpOp::Le, a.value()),
        Op::ScmpCmpEq => (SeccompCmpOp::Eq, a.value()),
        Op::ScmpCmpGe => (SeccompCmpOp::Ge, a.value()),
        Op::ScmpCmpGt => (SeccompCmpOp::Gt, a.value()),
        Op::ScmpCmpMaskedEq => {
            let mask = if abi.args_32bit() { a.value() & 0xffff_ffff } else { a.value() };
            if mask == 0 {
                return None;
            }
            // value is the mask, valueTwo the datum (libseccomp's datum_a and datum_b)
            (SeccompCmpOp::MaskedEq(a.value()), a.value_two().unwrap_or(0))
        }
    };
    Some(ArgCmp { index, op, value })
}

/// Cuts a group's numbers into ranges of one outcome. `background` (sorted, from 0) is what
/// numbers without a rule get; `parts` (in ascending order of their numbers) have the rules;
/// each call with argument rules is a range of its own.
fn cut(background: &[(u32, u32)], parts: Vec<AbiRules>) -> Vec<Range> {
    let mut out: Vec<Range> = Vec::with_capacity(256);
    let mut push = |start: u32, outcome: Outcome| {
        if let (Outcome::Ret(k), Some(Range { outcome: Outcome::Ret(prev), .. })) = (&outcome, out.last()) {
            if k == prev {
                return;
            }
        }
        out.push(Range { start, outcome });
    };
    // the background's pieces that fall in from..to
    let fill = |push: &mut dyn FnMut(u32, Outcome), from: u64, to: u64| {
        for (i, &(start, k)) in background.iter().enumerate() {
            let end = background.get(i + 1).map_or(1 << 32, |b| u64::from(b.0));
            let (lo, hi) = (from.max(u64::from(start)), to.min(end));
            if lo < hi {
                push(lo as u32, Outcome::Ret(k));
            }
        }
    };
    let mut next = 0u64;
    for mut part in parts {
        for (i, slot) in part.calls.iter().enumerate() {
            let outcome = match *slot {
                Slot::Free => continue,
                Slot::Ret(k) => Outcome::Ret(k),
                Slot::Rules(j) => match part.rules[j as usize].take() {
                    Some(rs) => Outcome::Rules(Box::new(rs)),
                    None => continue,
                },
            };
            let nr = part.base + i as u32;
            fill(&mut push, next, u64::from(nr));
            push(nr, outcome);
            next = u64::from(nr) + 1;
        }
    }
    fill(&mut push, next, 1 << 32);
    out
}
