//! seccomp, as the container's process meets it: each test runs the probe under a profile and
//! checks what a system call returned (`probe syscall NR ...`), how the process ended, or what
//! a notify agent received.

use crate::case;
use crate::rig::probe::Probe;
use crate::rig::{Case, Ctr};
use serde_json::{json, Value};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// x86_64 syscall numbers the tests use.
const MKDIR: &str = "83";
const PERSONALITY: &str = "135";
const REBOOT: &str = "169";
const GETPID: &str = "39";
const CLONE3: &str = "435";
const USERFAULTFD: &str = "323";

const CONTAINERS_PROFILE: &str = "/usr/share/containers/seccomp.json";

pub fn cases() -> Vec<Case> {
    vec![
        case!(seccomp_blocked_call_returns_the_configured_errno),
        case!(seccomp_kill_process_ends_the_container_with_sigsys),
        case!(seccomp_trap_delivers_sigsys),
        case!(seccomp_log_lands_in_the_kernel_log),
        case!(seccomp_argument_condition_allows_one_value_and_blocks_another),
        case!(seccomp_unknown_names_are_skipped),
        case!(seccomp_calls_newer_than_the_profile_get_enosys).host_skip(no_containers_profile),
        case!(seccomp_a_profile_without_rts_own_calls_still_starts).host_skip(no_containers_profile),
        case!(seccomp_no_new_privileges_false_stays_false),
        case!(seccomp_the_containers_default_profile_runs_a_workload).host_skip(no_containers_profile),
        case!(seccomp_exec_gets_the_containers_filter),
        case!(seccomp_notify_agent_answers_for_the_container),
        case!(seccomp_a_32_bit_binary_meets_the_compat_rules).host_skip(no_gcc_m32),
        case!(seccomp_bad_profiles_are_refused_naming_the_field),
    ]
}

fn no_containers_profile() -> Option<String> {
    (!Path::new(CONTAINERS_PROFILE).exists()).then(|| format!("{CONTAINERS_PROFILE} is missing (Debian's golang-github-containers-common)"))
}

fn no_gcc_m32() -> Option<String> {
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg("echo 'int main(){return 0;}' | gcc -m32 -static -x c -o /dev/null - 2>/dev/null")
        .status()
        .is_ok_and(|s| s.success());
    (!ok).then(|| "gcc -m32 -static cannot build here (Debian's gcc-multilib)".to_string())
}

/// A profile allowing everything but RULES.
fn allow_all_but(rules: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": rules})
}

fn syscall(c: &mut Ctr, args: &[&str]) -> Value {
    let mut a = vec!["syscall"];
    a.extend_from_slice(args);
    c.probe_sub(&a)
}

fn seccomp_blocked_call_returns_the_configured_errno() {
    let mut c = Ctr::new("sc-errno");
    c.set("/linux/seccomp", allow_all_but(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18}])));
    let r = syscall(&mut c, &[MKDIR, "0", "0"]);
    assert_eq!(r["error"], "EXDEV", "mkdir under a rule with errnoRet 18: {r}");
    let mut c = Ctr::new("sc-errno-default");
    c.set("/linux/seccomp", allow_all_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}])));
    assert_eq!(syscall(&mut c, &[MKDIR, "0", "0"])["error"], "EPERM", "SCMP_ACT_ERRNO without errnoRet is EPERM");
    let mut c = Ctr::new("sc-errno-getpid");
    c.set("/linux/seccomp", allow_all_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}])));
    assert!(syscall(&mut c, &[GETPID])["result"].as_i64().is_some(), "a call the profile allows");
}

fn seccomp_kill_process_ends_the_container_with_sigsys() {
    for action in ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"] {
        let mut c = Ctr::new("sc-kill");
        c.set("/linux/seccomp", allow_all_but(json!([{"names": ["mkdir"], "action": action}])));
        c.probe_args(&["syscall", MKDIR, "0", "0"]);
        let o = c.run();
        o.code(128 + libc::SIGSYS);
        assert!(o.stdout.is_empty(), "{action}: the process went on after the call: {o}");
    }
}

fn seccomp_trap_delivers_sigsys() {
    let mut c = Ctr::new("sc-trap");
    c.set("/linux/seccomp", allow_all_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_TRAP"}])));
    // a shell whose trap catches the SIGSYS shows it was a signal, not a kill
    c.sh(&format!("trap 'echo caught-SIGSYS' SYS; /bin/probe syscall {MKDIR} 0 0; echo after=$?"));
    let o = c.run();
    // the probe has no handler: SIGSYS ends it (159); the shell reports that
    o.ok();
    assert!(o.stdout.contains(&format!("after={}", 128 + libc::SIGSYS)), "{o}");
}

fn seccomp_log_lands_in_the_kernel_log() {
    let mut c = Ctr::new("sc-log");
    c.set("/linux/seccomp", allow_all_but(json!([{"names": ["personality"], "action": "SCMP_ACT_LOG"}])));
    c.probe_args(&["syscall", PERSONALITY, "0xffffffff"]);
    let o = c.run();
    o.ok();
    // the audit line: type=1326 ... syscall=135 ... (where the kernel log is readable)
    let Ok(out) = std::process::Command::new("dmesg").output() else { return eprintln!("  dmesg not runnable: not checked") };
    let log = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return eprintln!("  the kernel log is not readable here: not checked");
    }
    assert!(
        log.lines().any(|l| l.contains("syscall=135") && (l.contains("1326") || l.contains("seccomp"))),
        "no seccomp audit line for personality in the kernel log"
    );
}

fn seccomp_argument_condition_allows_one_value_and_blocks_another() {
    let mut c = Ctr::new("sc-args");
    c.set(
        "/linux/seccomp",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
        ]}),
    );
    c.sh(&format!("/bin/probe syscall {PERSONALITY} 0xffffffff; /bin/probe syscall {PERSONALITY} 8; /bin/probe syscall {PERSONALITY} 0; true"));
    let o = c.run();
    o.ok();
    let r: Vec<Value> = o.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(r[0]["result"].is_number(), "the query (0xffffffff) is allowed: {r:?}");
    assert_eq!(r[1]["error"], "EPERM", "PER_LINUX32 (8) is blocked: {r:?}");
    assert!(r[2]["result"].is_number(), "PER_LINUX (0) is allowed: {r:?}");
}

fn seccomp_unknown_names_are_skipped() {
    let mut c = Ctr::new("sc-unknown");
    c.set("/linux/seccomp", allow_all_but(json!([{"names": ["no_such_call_xyz", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18}])));
    assert_eq!(syscall(&mut c, &[MKDIR, "0", "0"])["error"], "EXDEV", "a name the table lacks must not stop the others");
}

/// runc's rule: a call the profile predates gets ENOSYS (so that libc falls back), not the
/// default action; a known call the profile does not allow gets the default action.
fn seccomp_calls_newer_than_the_profile_get_enosys() {
    let mut profile: Value = serde_json::from_str(&std::fs::read_to_string(CONTAINERS_PROFILE).unwrap()).unwrap();
    // the profile as it was before clone3 and everything after it (x86_64 numbers >= 435)
    const NEWER: [&str; 33] = [
        "clone3",
        "close_range",
        "openat2",
        "pidfd_getfd",
        "faccessat2",
        "process_madvise",
        "epoll_pwait2",
        "mount_setattr",
        "quotactl_fd",
        "landlock_create_ruleset",
        "landlock_add_rule",
        "landlock_restrict_self",
        "memfd_secret",
        "process_mrelease",
        "futex_waitv",
        "set_mempolicy_home_node",
        "cachestat",
        "fchmodat2",
        "map_shadow_stack",
        "futex_wake",
        "futex_wait",
        "futex_requeue",
        "statmount",
        "listmount",
        "lsm_get_self_attr",
        "lsm_set_self_attr",
        "lsm_list_modules",
        "mseal",
        "setxattrat",
        "getxattrat",
        "listxattrat",
        "removexattrat",
        "open_tree_attr",
    ];
    for rule in profile["syscalls"].as_array_mut().unwrap() {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| !NEWER.contains(&n.as_str().unwrap_or("")));
        }
    }
    profile["syscalls"].as_array_mut().unwrap().retain(|r| r["names"].as_array().is_none_or(|n| !n.is_empty()));
    let mut c = Ctr::new("sc-enosys");
    c.set("/linux/seccomp", profile);
    c.sh(&format!("/bin/probe syscall {CLONE3} 0 0; /bin/probe syscall {REBOOT} 0 0 0 0; true"));
    let o = c.run();
    o.ok();
    let r: Vec<Value> = o.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(r[0]["error"], "ENOSYS", "clone3, newer than the profile: {r:?}");
    assert_eq!(r[1]["error"], "EPERM", "reboot, known to the profile and not allowed: {r:?}");
}

/// Without noNewPrivileges the filter is loaded before the user switch, so rt's own last calls
/// run under it: an allowlist that names landlock (so nothing below it gets ENOSYS) but not
/// close_range or faccessat2, as runtime-tools' default profile is, must still start the
/// program (found by the suite: rt used both, and every container of it failed with EPERM).
fn seccomp_a_profile_without_rts_own_calls_still_starts() {
    let mut profile: Value = serde_json::from_str(&std::fs::read_to_string(CONTAINERS_PROFILE).unwrap()).unwrap();
    for rule in profile["syscalls"].as_array_mut().unwrap() {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| !["close_range", "faccessat2"].contains(&n.as_str().unwrap_or("")));
        }
    }
    let names: Vec<&str> =
        profile["syscalls"].as_array().unwrap().iter().flat_map(|r| r["names"].as_array().unwrap().iter().filter_map(|n| n.as_str())).collect();
    assert!(names.contains(&"landlock_create_ruleset"), "the profile names a call newer than close_range");
    for nnp in [false, true] {
        let mut c = Ctr::new(&format!("sc-old-allowlist-{nnp}"));
        c.set("/linux/seccomp", profile.clone());
        c.set("/process/noNewPrivileges", json!(nnp));
        c.set("/process/user", json!({"uid": 1000, "gid": 1000}));
        c.args(&["/bin/sh", "-c", "grep Seccomp: /proc/self/status; ls -d /proc/self/fd/* 2>/dev/null; true"]);
        let o = c.run();
        o.ok();
        assert!(o.stdout.contains("Seccomp:\t2"), "noNewPrivileges {nnp}: {o}");
        let fds: Vec<&str> = o.stdout.lines().filter(|l| l.starts_with("/proc/self/fd/")).collect();
        assert_eq!(fds, ["/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2"], "noNewPrivileges {nnp}: only stdio reaches the program");
    }
}

fn seccomp_no_new_privileges_false_stays_false() {
    let mut c = Ctr::new("sc-nnp");
    c.set("/process/noNewPrivileges", json!(false));
    c.set("/linux/seccomp", allow_all_but(json!([{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}])));
    let p = c.probe();
    assert_eq!(p.get("no_new_privs"), &json!(false), "loading the filter must not set no_new_privs");
    assert_eq!(p.get("seccomp"), &json!(2), "the filter is loaded");
    let mut c = Ctr::new("sc-nnp-user");
    c.set("/process/noNewPrivileges", json!(false));
    c.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    c.set("/linux/seccomp", allow_all_but(json!([{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}])));
    let p = c.probe();
    assert_eq!((p.get("no_new_privs"), p.get("seccomp")), (&json!(false), &json!(2)), "as a user without capabilities too");
}

/// The profile Podman and Docker derive from: a normal workload runs, what it blocks fails.
fn seccomp_the_containers_default_profile_runs_a_workload() {
    let profile: Value = serde_json::from_str(&std::fs::read_to_string(CONTAINERS_PROFILE).unwrap()).unwrap();
    let mut c = Ctr::new("sc-default");
    c.set("/linux/seccomp", profile);
    c.sh(&format!(
        "set -e; grep -q 'Seccomp:.2' /proc/self/status; ls / >/dev/null; ps >/dev/null; \
         dd if=/dev/zero of=/tmp/dd bs=4k count=64 2>/dev/null; \
         mkdir -p /tmp/www; echo served > /tmp/www/index.html; httpd -p 127.0.0.1:8080 -h /tmp/www; \
         wget -q -O /tmp/got http://127.0.0.1:8080/index.html; cat /tmp/got; \
         /bin/probe syscall {USERFAULTFD} 0 || true; echo done"
    ));
    let o = c.run();
    o.ok();
    assert!(o.stdout.contains("served"), "wget to loopback under the profile: {o}");
    let blocked: Value = o.stdout.lines().find_map(|l| serde_json::from_str::<Value>(l).ok()).unwrap_or_default();
    assert_eq!(blocked["error"], "EPERM", "userfaultfd is blocked by the profile: {o}");
    assert!(o.stdout.trim_end().ends_with("done"), "{o}");
}

fn seccomp_exec_gets_the_containers_filter() {
    let mut c = Ctr::new("sc-exec");
    c.set("/linux/seccomp", allow_all_but(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18}])));
    c.args(&["/bin/sleep", "1000"]);
    c.run_with(&["--detach"]).ok();
    let o = c.rt(&["exec", &c.id, "/bin/probe"]);
    o.ok();
    assert_eq!(Probe::new(o.json()).get("seccomp"), &json!(2), "the exec'd process runs under the filter");
    let o = c.rt(&["exec", &c.id, "/bin/probe", "syscall", MKDIR, "0", "0"]);
    assert_eq!(o.json()["error"], "EXDEV", "and meets its rules: {o}");
}

// ---------------------------------------------------------------------------------------------
// notify: an agent in the test

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct SeccompData {
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    data: SeccompData,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

const NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const NOTIF_SEND: libc::c_ulong = 0xc018_2101;

/// Accepts one connection on LISTENER: (the state JSON, the fd that came with it).
fn receive_listener(listener: &std::os::unix::net::UnixListener) -> (Value, OwnedFd) {
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 16384];
    let mut cbuf = [0u64; 8];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: a zeroed msghdr pointing at live buffers, filled by recvmsg.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: as above.
    let n = unsafe { libc::recvmsg(conn.as_raw_fd(), &mut msg, 0) };
    assert!(n > 0, "the agent got nothing");
    // SAFETY: the kernel filled the control buffer; the first header carries SCM_RIGHTS.
    let fd = unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        assert!(!c.is_null(), "no fd came with the state");
        assert_eq!(((*c).cmsg_level, (*c).cmsg_type), (libc::SOL_SOCKET, libc::SCM_RIGHTS));
        let count = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / 4;
        assert_eq!(count, 1, "exactly one fd");
        OwnedFd::from_raw_fd(std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const i32))
    };
    (serde_json::from_slice(&buf[..n as usize]).unwrap(), fd)
}

fn seccomp_notify_agent_answers_for_the_container() {
    let mut c = Ctr::new("sc-notify");
    let sock = c.dir.join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    c.set(
        "/linux/seccomp",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock, "listenerMetadata": "meta-42",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    c.probe_args(&["syscall", MKDIR, "0", "0"]);
    let agent = std::thread::spawn(move || {
        let (state, fd) = receive_listener(&listener);
        // answer the first notification: "cross-device link", on the container's behalf
        let mut n = Notif::default();
        // SAFETY: the notify fd and a seccomp_notif of the kernel's size.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_RECV, &mut n) };
        assert_eq!(r, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
        let resp = NotifResp { id: n.id, val: 0, error: -libc::EXDEV, flags: 0 };
        // SAFETY: as above, a seccomp_notif_resp.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_SEND, &resp) };
        assert_eq!(r, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
        (state, n.data.nr)
    });
    let o = c.run();
    let (state, nr) = agent.join().unwrap();
    // the probe exits 1 when its call failed, as it should here
    assert_eq!(o.json()["error"], "EXDEV", "the agent's answer reached the container's mkdir: {o}");
    assert_eq!(nr, 83, "the agent saw the container's mkdir");
    assert_eq!(state["metadata"], "meta-42", "{state}");
    assert_eq!(state["fds"], json!(["seccompFd"]), "{state}");
    assert!(state["pid"].as_i64().is_some_and(|p| p > 0), "{state}");
    assert_eq!(state["state"]["id"], c.id.as_str(), "{state}");
}

// ---------------------------------------------------------------------------------------------
// the compat ABI

/// A 32-bit x86 program making mkdir (i386 number 39) and getpid (20) through int 0x80.
const X86_PROGRAM: &str = r#"
static long sys(long nr, long a, long b, long c) {
    long r;
    __asm__ volatile ("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}
int main(void) {
    long m = sys(39, (long)"/tmp/x86dir", 0755, 0);
    long p = sys(20, 0, 0, 0);
    char out[64]; int n = 0; long v = m < 0 ? -m : m;
    const char *h = "mkdir="; while (*h) out[n++] = *h++;
    if (m < 0) out[n++] = '-';
    char d[20]; int k = 0; do { d[k++] = '0' + v % 10; v /= 10; } while (v); while (k) out[n++] = d[--k];
    const char *g = p > 0 ? " getpid=ok\n" : " getpid=bad\n"; while (*g) out[n++] = *g++;
    sys(4, 1, (long)out, n);
    return 0;
}
"#;

fn build_x86(c: &Ctr) -> String {
    let src = c.dir.join("x86.c");
    std::fs::write(&src, X86_PROGRAM).unwrap();
    let out = c.host_path("/bin/x86test");
    let st = std::process::Command::new("gcc").args(["-m32", "-static", "-O1", "-o"]).arg(&out).arg(&src).status().unwrap();
    assert!(st.success(), "gcc -m32 failed");
    "/bin/x86test".into()
}

fn seccomp_a_32_bit_binary_meets_the_compat_rules() {
    let mut c = Ctr::new("sc-x86");
    let prog = build_x86(&c);
    c.set("/linux/seccomp", allow_all_but(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18}])));
    c.args(&[&prog]);
    let o = c.run();
    o.ok();
    assert!(o.stdout.contains("mkdir=-18"), "the i386 mkdir meets the rule (EXDEV): {o}");
    assert!(o.stdout.contains("getpid=ok"), "{o}");
    // a profile for x86_64 only: the 32-bit ABI is not allowed at all
    let mut c = Ctr::new("sc-x86-only64");
    let prog = build_x86(&c);
    c.set("/linux/seccomp", json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": []}));
    c.args(&[&prog]);
    let o = c.run();
    assert_ne!(o.code, 0, "a 32-bit call under an x86_64-only profile must not go through: {o}");
}

/// Each of these fails create with exit 1, naming the field, and leaves nothing behind.
fn seccomp_bad_profiles_are_refused_naming_the_field() {
    let bad: [(Value, &str); 5] = [
        (json!({"defaultAction": "SCMP_ACT_BOGUS"}), "linux.seccomp.defaultAction"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}), "linux.seccomp.syscalls[0]"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}), "linux.seccomp.syscalls[0].names"),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]}),
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[0].args[0].index",
        ),
    ];
    for (i, (profile, field)) in bad.into_iter().enumerate() {
        let mut c = Ctr::new(&format!("sc-bad-{i}"));
        c.set("/linux/seccomp", profile);
        let o = c.create();
        if (i == 1 || i == 2) && !crate::rig::rig().is_rt() {
            // runc 1.1.5 accepts an errnoRet on an action that returns no errno and a rule
            // without names, and ignores them
            continue;
        }
        o.failed();
        if crate::rig::rig().is_rt() {
            o.stderr_has(field);
            assert_eq!(o.stderr_lines().len(), 1, "one line: {o}");
        }
        c.assert_clean();
    }
}
