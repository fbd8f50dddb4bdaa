//! The compiler, checked by running its programs in `interp` (no kernel, no root).

use serde_json::{json, Value};

use super::abi::{Abi, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use super::interp::{self, Data};
use super::rules::*;
use super::*;

const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const EPERM: u32 = RET_ERRNO | libc::EPERM as u32;

pub fn profile(v: Value) -> LinuxSeccomp {
    serde_json::from_value(v).unwrap()
}

/// The plan of a profile that must compile, after the kernel loader's checks.
pub fn plan_of(v: Value) -> SeccompPlan {
    let p = plan(&profile(v)).unwrap();
    interp::check(&p.program).unwrap();
    p
}

fn run(p: &SeccompPlan, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    interp::run(&p.program, &Data { nr, arch, args }).0
}

/// What `name` gets on `abi` with these arguments.
fn call(p: &SeccompPlan, abi: Abi, name: &str, args: [u64; 6]) -> u32 {
    run(p, abi.audit_arch(), abi.resolve(name).unwrap_or_else(|| panic!("{abi:?} has no {name}")), args)
}

/// One entry of a rule's `args`.
fn arg(index: u32, op: &str, value: u64) -> Value {
    json!({"index": index, "value": value, "op": op})
}

fn refused(v: Value) -> String {
    plan(&profile(v)).unwrap_err().to_string()
}

/// Podman's reading of containers-common's profile (includes/excludes by capability and
/// architecture, the x86_64 archMap entry) with Podman's default capabilities, or `None` where
/// the package is not installed.
pub fn containers_profile() -> Option<LinuxSeccomp> {
    const CAPS: [&str; 11] = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETFCAP",
        "CAP_SETGID",
        "CAP_SETPCAP",
        "CAP_SETUID",
        "CAP_SYS_CHROOT",
    ];
    let text = std::fs::read_to_string("/usr/share/containers/seccomp.json").ok()?;
    let d: Value = serde_json::from_str(&text).unwrap();
    let strs = |v: &Value| -> Vec<String> { v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect()).unwrap_or_default() };
    let mut calls = vec![];
    for s in d["syscalls"].as_array().unwrap() {
        let (inc_arch, inc_caps) = (strs(&s["includes"]["arches"]), strs(&s["includes"]["caps"]));
        let (exc_arch, exc_caps) = (strs(&s["excludes"]["arches"]), strs(&s["excludes"]["caps"]));
        let has = |c: &String| CAPS.contains(&c.as_str());
        if (!inc_arch.is_empty() && !inc_arch.iter().any(|a| a == "amd64"))
            || !inc_caps.iter().all(has)
            || exc_arch.iter().any(|a| a == "amd64")
            || exc_caps.iter().any(has)
        {
            continue;
        }
        let mut c = json!({"names": s["names"], "action": s["action"]});
        if s["args"].as_array().is_some_and(|a| !a.is_empty()) {
            c["args"] = s["args"].clone();
        }
        if !s["errnoRet"].is_null() {
            c["errnoRet"] = s["errnoRet"].clone();
        }
        calls.push(c);
    }
    let map = d["archMap"].as_array().unwrap().iter().find(|m| m["architecture"] == "SCMP_ARCH_X86_64").unwrap();
    let mut arches = vec![map["architecture"].clone()];
    arches.extend(map["subArchitectures"].as_array().unwrap().iter().cloned());
    Some(profile(json!({"defaultAction": d["defaultAction"], "defaultErrnoRet": d["defaultErrnoRet"], "architectures": arches, "syscalls": calls})))
}

#[test]
fn every_action_returns_what_the_kernel_expects() {
    let cases = [
        ("SCMP_ACT_KILL", None, RET_KILL_THREAD),
        ("SCMP_ACT_KILL_THREAD", None, RET_KILL_THREAD),
        ("SCMP_ACT_KILL_PROCESS", None, RET_KILL_PROCESS),
        ("SCMP_ACT_TRAP", None, RET_TRAP),
        ("SCMP_ACT_ERRNO", None, EPERM),
        ("SCMP_ACT_ERRNO", Some(5), RET_ERRNO | 5),
        ("SCMP_ACT_ERRNO", Some(0), RET_ERRNO),
        ("SCMP_ACT_TRACE", None, RET_TRACE | 1),
        ("SCMP_ACT_TRACE", Some(1234), RET_TRACE | 1234),
        ("SCMP_ACT_LOG", None, RET_LOG),
        ("SCMP_ACT_NOTIFY", None, RET_USER_NOTIF),
    ];
    for (action, errno, want) in cases {
        let mut rule = json!({"names": ["getpid"], "action": action});
        if let Some(e) = errno {
            rule["errnoRet"] = json!(e);
        }
        let p = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock", "syscalls": [rule]}));
        assert_eq!(call(&p, Abi::X86_64, "getpid", [0; 6]), want, "{action} {errno:?}");
        assert_eq!(call(&p, Abi::X86_64, "getppid", [0; 6]), RET_ALLOW, "{action}");
        if action != "SCMP_ACT_NOTIFY" {
            let mut d = json!({"defaultAction": action});
            if let Some(e) = errno {
                d["defaultErrnoRet"] = json!(e);
            }
            let p = plan_of(d);
            assert_eq!(call(&p, Abi::X86_64, "getppid", [0; 6]), want, "default {action} {errno:?}");
        }
    }
}

#[test]
fn refuses_what_cannot_be_built_naming_the_field() {
    let rule = |r: Value| json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, r]});
    let cases = [
        (json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}), "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}), "linux.seccomp.defaultErrnoRet: SCMP_ACT_ALLOW takes no errno"),
        (json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}), "linux.seccomp.defaultErrnoRet: 70000: seccomp returns at most 16 bits"),
        (rule(json!({"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 1})), "linux.seccomp.syscalls[1].errnoRet: SCMP_ACT_KILL takes no errno"),
        (rule(json!({"names": ["mkdir"], "action": "SCMP_ACT_LOG", "errnoRet": 1})), "linux.seccomp.syscalls[1].errnoRet: SCMP_ACT_LOG takes no errno"),
        (rule(json!({"names": [], "action": "SCMP_ACT_ERRNO"})), "linux.seccomp.syscalls[1].names: must name at least one system call"),
        (rule(json!({"names": ["mkdir", ""], "action": "SCMP_ACT_ERRNO"})), "linux.seccomp.syscalls[1].names[1]: empty system call name"),
        (
            rule(json!({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]})),
            "linux.seccomp.syscalls[1].args[0].index: 6: system calls have 6 arguments",
        ),
        (rule(json!({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"})), "linux.seccomp.listenerPath: required when a rule's action is SCMP_ACT_NOTIFY"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "m"}), "linux.seccomp.listenerMetadata: must not be set without listenerPath"),
        (
            rule(json!({"names": ["read", "write"], "action": "SCMP_ACT_NOTIFY"})),
            "linux.seccomp.syscalls[1].names[1]: SCMP_ACT_NOTIFY cannot be used for write",
        ),
    ];
    for (v, want) in cases {
        let got = refused(v.clone());
        assert!(got.starts_with(want), "{v}\n got: {got}\nwant: {want}");
    }
    // a listener path without a notify rule is ignored (runtime-spec)
    let p = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x", "listenerMetadata": "m"}));
    assert_eq!(p.listener, None);
    assert_eq!(p.flags & sys::FILTER_FLAG_NEW_LISTENER, 0);
}

/// Unknown actions, operators, architectures and flags never reach `plan`: the config's parser
/// refuses them, with the field's path.
#[test]
fn unknown_names_are_refused_when_the_config_is_parsed() {
    let cases = [
        (json!({"defaultAction": "SCMP_ACT_BOGUS"}), "linux.seccomp.defaultAction"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}), "linux.seccomp.flags[0]"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]}), "linux.seccomp.architectures[1]"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOPE"}]}), "linux.seccomp.syscalls[0].action"),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [arg(0, "SCMP_CMP_ALMOST", 1)]}]}),
            "linux.seccomp.syscalls[0].args[0].op",
        ),
    ];
    for (seccomp, field) in cases {
        let config = json!({"ociVersion": "1.3.0", "linux": {"seccomp": seccomp}});
        let e = crate::spec::parse(config.to_string().as_bytes()).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{field}: unknown variant")), "{e}");
    }
}

#[test]
fn each_abi_is_filtered_with_its_own_numbers() {
    let p = plan_of(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["getpid", "execve", "_llseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]
    }));
    let e42 = RET_ERRNO | 42;
    for abi in [Abi::X86_64, Abi::X86, Abi::X32] {
        assert_eq!(call(&p, abi, "getpid", [0; 6]), e42, "{abi:?}");
        assert_eq!(call(&p, abi, "execve", [0; 6]), e42, "{abi:?}");
        assert_eq!(call(&p, abi, "getppid", [0; 6]), RET_ALLOW, "{abi:?}");
    }
    assert_eq!(call(&p, Abi::X86, "_llseek", [0; 6]), e42);
    // x86's getpid (20) is x86_64's pread64, x86_64's getpid (39) is x86's mkdir
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, 20, [0; 6]), RET_ALLOW);
    assert_eq!(run(&p, AUDIT_ARCH_I386, 39, [0; 6]), RET_ALLOW);
    // x32's execve is 520 with the bit; 59 with the bit is nothing there
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, 59 | X32_SYSCALL_BIT, [0; 6]), RET_ALLOW);
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, 520, [0; 6]), RET_ALLOW);
    // an architecture this kernel can report but the filter does not list: libseccomp's KILL
    assert_eq!(run(&p, AUDIT_ARCH_AARCH64, 39, [0; 6]), RET_KILL_THREAD);
}

#[test]
fn abis_not_listed_get_the_bad_architecture_action() {
    // the native ABI is always in, whatever the list says (libseccomp, runc)
    let p = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]}));
    assert_eq!(call(&p, Abi::X86_64, "getpid", [0; 6]), EPERM);
    assert_eq!(call(&p, Abi::X86, "getpid", [0; 6]), EPERM);
    // x32 calls on a filter without x32 are a bad architecture, except -1 (a tracer's skip)
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, 39 | X32_SYSCALL_BIT, [0; 6]), RET_KILL_THREAD);
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, 0x7fff_ffff, [0; 6]), RET_KILL_THREAD);
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, u32::MAX, [0; 6]), RET_ALLOW);
    let p = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    assert_eq!(run(&p, AUDIT_ARCH_I386, 20, [0; 6]), RET_KILL_THREAD);
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, 39, [0; 6]), RET_ALLOW);
    // an architecture no x86_64 kernel reports is accepted and changes nothing
    let q = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]}));
    assert_eq!(q.program, p.program);
}

/// One comparison against many argument values, on every ABI: 64-bit values split into their
/// high and low words on x86_64, only the low word on x86 and x32 (libseccomp).
#[test]
fn argument_comparisons_hold_exactly_when_they_should() {
    let edges: [u64; 12] =
        [0, 1, 2, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0001, 0x2_0000_0000, 0xffff_ffff_0000_0000, u64::MAX, 0x1234_5678_9abc_def0];
    let ops = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];
    let holds = |op: &str, a: u64, v: u64, v2: u64| match op {
        "SCMP_CMP_NE" => a != v,
        "SCMP_CMP_LT" => a < v,
        "SCMP_CMP_LE" => a <= v,
        "SCMP_CMP_EQ" => a == v,
        "SCMP_CMP_GE" => a >= v,
        "SCMP_CMP_GT" => a > v,
        _ => a & v == v2 & v,
    };
    let mut checked = 0;
    for op in ops {
        for &v in &edges {
            let v2 = 0x1_0000_0001u64;
            let p = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
                    "args": [{"index": 2, "value": v, "valueTwo": v2, "op": op}]}]}));
            let mut values: Vec<u64> = edges.to_vec();
            values.extend([v.wrapping_sub(1), v.wrapping_add(1), v ^ 0xffff_ffff_0000_0000, v ^ 0xffff_ffff, v2]);
            for a in values {
                for abi in [Abi::X86_64, Abi::X86, Abi::X32] {
                    let want = if abi != Abi::X86_64 { holds(op, a as u32 as u64, v as u32 as u64, v2 as u32 as u64) } else { holds(op, a, v, v2) };
                    let mut args = [0; 6];
                    args[2] = a;
                    let got = call(&p, abi, "personality", args);
                    assert_eq!(got == RET_ERRNO | 77, want, "{abi:?}: {a:#x} {op} {v:#x} (valueTwo {v2:#x}): {got:#x}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000);
}

#[test]
fn comparisons_in_a_rule_all_hold_unless_they_test_the_same_argument() {
    let p = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "args": [arg(0, "SCMP_CMP_EQ", 1), arg(1, "SCMP_CMP_EQ", 2)]},
        // runc: the same argument twice makes two rules, either of which matches
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "args": [arg(0, "SCMP_CMP_GE", 5), arg(0, "SCMP_CMP_LE", 1)]}
    ]}));
    assert_eq!(call(&p, Abi::X86_64, "getpid", [1, 2, 0, 0, 0, 0]), EPERM);
    assert_eq!(call(&p, Abi::X86_64, "getpid", [1, 3, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(call(&p, Abi::X86_64, "getpid", [0, 2, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(call(&p, Abi::X86_64, "getppid", [100, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(call(&p, Abi::X86_64, "getppid", [0, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(call(&p, Abi::X86_64, "getppid", [3, 0, 0, 0, 0, 0]), RET_ALLOW);
}

#[test]
fn rules_for_one_call_combine_as_libseccomp_combines_them() {
    let p = plan_of(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        // several conditional rules: any of them
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_TRAP", "args": [{"index": 0, "value": 9, "op": "SCMP_CMP_EQ"}]},
        // the first unconditional rule wins over everything else for that call
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3, "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
        {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["getpid"], "action": "SCMP_ACT_KILL"},
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4, "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
        // a rule with the default action is dropped: the ALLOW below still holds for 1
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
        {"names": ["getppid"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_GE"}]},
        // an empty mask always holds: the rule is unconditional
        {"names": ["gettid"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "valueTwo": 5, "op": "SCMP_CMP_MASKED_EQ"}]}
    ]}));
    let x = |name, a0| call(&p, Abi::X86_64, name, [a0, 0, 0, 0, 0, 0]);
    assert_eq!((x("personality", 0), x("personality", 8), x("personality", 9), x("personality", 1)), (RET_ALLOW, RET_ALLOW, RET_TRAP, EPERM));
    assert_eq!((x("getpid", 1), x("getpid", 2), x("getpid", 0)), (RET_ALLOW, RET_ALLOW, RET_ALLOW));
    assert_eq!((x("getppid", 1), x("getppid", 0)), (RET_ALLOW, EPERM));
    assert_eq!(x("gettid", 123), RET_ALLOW);
}

#[test]
fn calls_newer_than_the_profile_get_enosys() {
    let enosys = RET_ENOSYS;
    let p = plan_of(json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": [
        {"names": ["read", "write", "openat"], "action": "SCMP_ACT_ALLOW"},
        // the newest everywhere: counted for the limit though it repeats the default and is dropped
        {"names": ["getrandom"], "action": "SCMP_ACT_ERRNO"},
        // x86 only
        {"names": ["_llseek"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["not_a_call"], "action": "SCMP_ACT_ALLOW"}
    ]}));
    // x86_64: getrandom is 318
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, 318, [0; 6]), EPERM);
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, 300, [0; 6]), EPERM, "a hole below the limit keeps the default");
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, 319, [0; 6]), enosys);
    assert_eq!(call(&p, Abi::X86_64, "clone3", [0; 6]), enosys);
    assert_eq!(call(&p, Abi::X86_64, "openat", [0; 6]), RET_ALLOW);
    // x86: getrandom is 355
    assert_eq!(call(&p, Abi::X86, "_llseek", [0; 6]), RET_ALLOW);
    assert_eq!(call(&p, Abi::X86, "openat", [0; 6]), RET_ALLOW);
    assert_eq!(run(&p, AUDIT_ARCH_I386, 355, [0; 6]), EPERM);
    assert_eq!(run(&p, AUDIT_ARCH_I386, 356, [0; 6]), enosys);
    assert_eq!(call(&p, Abi::X86, "clone3", [0; 6]), enosys);
    // x32: 318 with the bit, whatever x86_64's limit is
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, 257 | X32_SYSCALL_BIT, [0; 6]), RET_ALLOW);
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, 318 | X32_SYSCALL_BIT, [0; 6]), EPERM);
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, 319 | X32_SYSCALL_BIT, [0; 6]), enosys);
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, u32::MAX, [0; 6]), enosys);
    assert_eq!(p.unknown_names, ["not_a_call"]);

    // a permissive default never turns into ENOSYS
    for default in ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"] {
        let p = plan_of(json!({"defaultAction": default, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL"}]}));
        assert_ne!(call(&p, Abi::X86_64, "clone3", [0; 6]), enosys, "{default}");
    }
    // every other one does
    for default in ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"] {
        let p = plan_of(json!({"defaultAction": default, "syscalls": [{"names": ["read", "close"], "action": "SCMP_ACT_ALLOW"}]}));
        assert_eq!(call(&p, Abi::X86_64, "clone3", [0; 6]), enosys, "{default}");
        assert_eq!(call(&p, Abi::X86_64, "close", [0; 6]), RET_ALLOW, "{default}");
        assert_ne!(call(&p, Abi::X86_64, "write", [0; 6]), enosys, "{default}");
    }
    // no rules at all: nothing to be newer than
    let p = plan_of(json!({"defaultAction": "SCMP_ACT_KILL_PROCESS"}));
    assert_eq!(call(&p, Abi::X86_64, "clone3", [0; 6]), RET_KILL_PROCESS);
}

#[test]
fn flags_follow_the_profile_and_runc() {
    let flags = |v: Value| plan_of(v).flags;
    // no `flags`: SPEC_ALLOW, as runc and crun
    let p = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    assert_eq!((p.flags, p.implied_spec_allow), (sys::FILTER_FLAG_SPEC_ALLOW, true));
    assert_eq!(flags(json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": []})), 0);
    assert_eq!(
        flags(json!({"defaultAction": "SCMP_ACT_ALLOW",
                "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]})),
        sys::FILTER_FLAG_LOG | sys::FILTER_FLAG_TSYNC
    );
    let notify = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/a.sock", "listenerMetadata": "m",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]});
    let p = plan_of(notify);
    use sys::*;
    assert_eq!(p.flags, FILTER_FLAG_TSYNC | FILTER_FLAG_TSYNC_ESRCH | FILTER_FLAG_NEW_LISTENER | FILTER_FLAG_WAIT_KILLABLE_RECV | FILTER_FLAG_SPEC_ALLOW);
    assert!(!p.implied_spec_allow);
    assert_eq!(p.listener, Some(Listener { path: "/run/a.sock".into(), metadata: Some("m".into()) }));
}

/// Big argument rules make subtrees and group bodies longer than a conditional jump reaches.
#[test]
fn long_programs_jump_far_and_stay_correct() {
    let names: Vec<&str> = syscalls::x86_64::Sysno::iter().map(|s| s.name()).filter(|n| Abi::X86.resolve(n).is_some()).take(90).collect();
    let rules: Vec<Value> = names
        .iter()
        .map(|n| json!({"names": [n], "action": "SCMP_ACT_ALLOW", "args": [arg(1, "SCMP_CMP_NE", 7), arg(3, "SCMP_CMP_LT", (1 << 40) | 100)]}))
        .collect();
    let p = plan_of(json!({"defaultAction": "SCMP_ACT_TRAP", "architectures": ["SCMP_ARCH_X86"], "syscalls": rules}));
    assert!(p.program.len() > 1500, "{}", p.program.len());
    assert!(p.program.iter().any(|i| i.code == 0x05 && i.k > 255), "no long jump was needed");
    for abi in [Abi::X86_64, Abi::X86] {
        for n in &names {
            assert_eq!(call(&p, abi, n, [0, 0, 0, 5, 0, 0]), RET_ALLOW, "{abi:?} {n}");
            assert_eq!(call(&p, abi, n, [0, 7, 0, 5, 0, 0]), RET_TRAP, "{abi:?} {n}");
            let want = if abi != Abi::X86_64 { RET_ALLOW } else { RET_TRAP };
            assert_eq!(call(&p, abi, n, [0, 0, 0, 1 << 41, 0, 0]), want, "{abi:?} {n}");
        }
    }
    // too long for the kernel: refused before anything is made
    let rules: Vec<Value> = syscalls::x86_64::Sysno::iter()
        .map(|s| json!({"names": [s.name()], "action": "SCMP_ACT_ALLOW", "args": [arg(1, "SCMP_CMP_NE", 7), arg(3, "SCMP_CMP_LT", 1)]}))
        .collect();
    let e = refused(json!({"defaultAction": "SCMP_ACT_TRAP", "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": rules}));
    assert!(e.starts_with("linux.seccomp: the filter takes ") && e.ends_with("the kernel at most 4096"), "{e}");
}

/// containers-common's profile (Podman and Docker derive theirs from it): it compiles, small,
/// and every call of every ABI gets what the profile says.
#[test]
fn default_container_profile_compiles_to_what_it_says() {
    let Some(s) = containers_profile() else {
        eprintln!("skipped: no /usr/share/containers/seccomp.json (apt-get install golang-github-containers-common)");
        return;
    };
    let p = plan(&s).unwrap();
    interp::check(&p.program).unwrap();
    let default = RET_ERRNO | s.default_errno_ret().unwrap();
    let rets: Vec<u32> = s
        .syscalls()
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| if c.action() == LinuxSeccompAction::ScmpActAllow { RET_ALLOW } else { RET_ERRNO | c.errno_ret().unwrap_or(1) })
        .collect();
    let mut worst = 0;
    for abi in [Abi::X86_64, Abi::X86, Abi::X32] {
        let mentioned: Vec<(u32, &oci_spec::runtime::LinuxSyscall, u32)> = s
            .syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .zip(&rets)
            .flat_map(|(c, &r)| c.names().iter().filter_map(move |n| abi.resolve(n).map(|nr| (nr, c, r))))
            .collect();
        let newest = mentioned.iter().map(|m| m.0).max().unwrap();
        let base = if abi == Abi::X32 { X32_SYSCALL_BIT } else { 0 };
        for nr in base..=base + 600 {
            let rules: Vec<_> = mentioned.iter().filter(|m| m.0 == nr && m.2 != default).collect();
            if rules.iter().any(|m| m.1.args().is_some()) {
                continue; // personality and socket: below
            }
            let want = match rules.first() {
                Some(m) => m.2,
                None if nr > newest => RET_ENOSYS,
                None => default,
            };
            let (got, steps) = interp::run(&p.program, &Data { nr, arch: abi.audit_arch(), args: [0; 6] });
            assert_eq!(got, want, "{abi:?} {nr}");
            worst = worst.max(steps);
        }
    }
    let x = |name, args| call(&p, Abi::X86_64, name, args);
    assert_eq!(x("personality", [0xffff_ffff, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x("personality", [0x1_ffff_ffff, 0, 0, 0, 0, 0]), default);
    assert_eq!(x("personality", [1, 0, 0, 0, 0, 0]), default);
    assert_eq!(x("socket", [16, 3, 9, 0, 0, 0]), RET_ERRNO | libc::EINVAL as u32, "AF_NETLINK, NETLINK_AUDIT without CAP_AUDIT_WRITE");
    assert_eq!(x("socket", [16, 3, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x("socket", [1, 1, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x("unshare", [0; 6]), RET_ALLOW, "this profile lets unshare through (capabilities decide)");
    assert_eq!(x("bpf", [0; 6]), EPERM, "no CAP_SYS_ADMIN");
    assert_eq!(run(&p, AUDIT_ARCH_AARCH64, 0, [0; 6]), RET_KILL_THREAD);
    assert!(p.program.len() < 1000, "{} instructions", p.program.len());
    assert!(worst <= 16, "{worst} instructions for the slowest call");

    // what a container start pays for it (run with --release --nocapture for the real number)
    let rounds = 200;
    let t = std::time::Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(plan(std::hint::black_box(&s)).unwrap());
    }
    let per = t.elapsed() / rounds;
    eprintln!(
        "containers-common profile: {} rules, {} BPF instructions, at most {worst} run per call; plan() {per:?} each ({})",
        s.syscalls().as_ref().map_or(0, Vec::len),
        p.program.len(),
        if cfg!(debug_assertions) { "debug build" } else { "release build" }
    );
}

#[test]
fn process_state_has_runtime_specs_fields() {
    let state = json!({"ociVersion": "1.3.0", "id": "c1", "status": "creating", "pid": 42, "bundle": "/b"});
    let v: Value = serde_json::from_slice(&process_state_json(42, Some("meta"), &state).unwrap()).unwrap();
    assert_eq!(v, json!({"ociVersion": "1.3.0", "fds": ["seccompFd"], "pid": 42, "metadata": "meta", "state": state}));
    let v: Value = serde_json::from_slice(&process_state_json(7, None, &state).unwrap()).unwrap();
    assert!(v.get("metadata").is_none());
}

#[test]
fn features_name_what_rt_knows() {
    let f = serde_json::to_value(features()).unwrap();
    assert_eq!(f["enabled"], true);
    assert_eq!(f["actions"].as_array().unwrap().len(), 9);
    assert!(f["actions"].as_array().unwrap().contains(&json!("SCMP_ACT_NOTIFY")));
    assert_eq!(f["operators"].as_array().unwrap().len(), 7);
    assert_eq!(f["archs"], json!(["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"]));
    assert_eq!(f["knownFlags"].as_array().unwrap().len(), 4);
    // this kernel (5.19+) has all four
    let supported = f["supportedFlags"].as_array().unwrap();
    assert!(supported.contains(&json!("SECCOMP_FILTER_FLAG_LOG")) && supported.contains(&json!("SECCOMP_FILTER_FLAG_SPEC_ALLOW")), "{supported:?}");
}
