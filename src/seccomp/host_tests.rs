//! Filters loaded by the real kernel, each in a forked child that makes the calls and reports
//! what they returned. As root the filter goes in without no_new_privs, as rt loads it;
//! otherwise the child sets no_new_privs first (the only way in without CAP_SYS_ADMIN), so
//! these run in a plain `cargo test --lib` too.
//!
//! The children run only raw system calls between fork and exit (the test harness has other
//! threads, whose locks a forked child must not need).

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use super::tests::{containers_profile, plan_of};
use super::*;
use crate::sys::{self as rsys, ExitStatus};

/// The child's way to report: each value goes down the pipe at once.
struct Report(libc::c_int);

impl Report {
    fn put(&self, v: i64) {
        // SAFETY: writes the 8 bytes of a local.
        unsafe { libc::write(self.0, &v as *const i64 as *const libc::c_void, 8) };
    }
}

/// A raw system call: its return value, or -errno.
fn sys(nr: libc::c_long, args: [u64; 6]) -> i64 {
    // SAFETY: the tests pass arguments that are numbers or point at live buffers.
    let r = unsafe { libc::syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]) };
    if r == -1 {
        -(io::Error::last_os_error().raw_os_error().unwrap_or(0) as i64)
    } else {
        r as i64
    }
}

fn set_no_new_privs() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
}

/// Installs as rt does (no no_new_privs); where that needs a privilege this process lacks,
/// with no_new_privs.
fn install(plan: &SeccompPlan) -> io::Result<Option<OwnedFd>> {
    match plan.install() {
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
            set_no_new_privs();
            plan.install()
        }
        other => other,
    }
}

/// Forks; the child loads `plan`, runs `f` and exits 0 (or 100 + errno when loading failed).
/// Returns how it ended and what it reported.
fn in_child(plan: &SeccompPlan, f: impl FnOnce(&Report, Option<OwnedFd>)) -> (ExitStatus, Vec<i64>) {
    let (mut r, w) = std::io::pipe().unwrap();
    // SAFETY: the child runs only raw system calls and leaves with _exit.
    match unsafe { libc::fork() } {
        0 => {
            drop(r);
            let code = match install(plan) {
                Ok(listener) => {
                    f(&Report(w.as_raw_fd()), listener);
                    0
                }
                Err(e) => 100 + e.raw_os_error().unwrap_or(0),
            };
            rsys::exit_now(code)
        }
        -1 => panic!("fork: {}", io::Error::last_os_error()),
        pid => {
            drop(w);
            let mut bytes = vec![];
            r.read_to_end(&mut bytes).unwrap();
            let (_, status) = rsys::waitpid(pid, 0).unwrap().unwrap();
            (status, bytes.chunks_exact(8).map(|c| i64::from_ne_bytes(c.try_into().unwrap())).collect())
        }
    }
}

fn allow_all_but(rules: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})
}

fn e(errno: i32) -> i64 {
    -(errno as i64)
}

#[test]
fn a_blocked_call_fails_with_the_configured_errno() {
    let p = plan_of(allow_all_but(json!([
        {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99},
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO"}
    ])));
    let mut buf = [0u8; 256];
    let bp = buf.as_mut_ptr() as u64;
    let (status, got) = in_child(&p, |out, _| {
        out.put(sys(libc::SYS_getcwd, [bp, 256, 0, 0, 0, 0]));
        out.put(sys(libc::SYS_chmod, [c"/nonexistent".as_ptr() as u64, 0o644, 0, 0, 0, 0]));
        out.put(sys(libc::SYS_getppid, [0; 6]));
    });
    assert_eq!(status, ExitStatus::Exited(0));
    assert_eq!(got[..2], [-99, e(libc::EPERM)]);
    assert!(got[2] > 0, "getppid: {}", got[2]);
}

#[test]
fn kill_actions_end_the_process_with_sigsys() {
    for action in ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"] {
        let p = plan_of(allow_all_but(json!([{"names": ["getppid"], "action": action}])));
        let (status, got) = in_child(&p, |out, _| {
            out.put(1);
            out.put(sys(libc::SYS_getppid, [0; 6]));
        });
        assert_eq!((status, got), (ExitStatus::Signaled(libc::SIGSYS), vec![1]), "{action}");
    }
}

extern "C" fn on_sigsys(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo; for SIGSYS its union holds
    // { void *call_addr; int syscall; unsigned arch; } from byte 16.
    let (code, nr) = unsafe { ((*info).si_code, *((info as *const u8).add(24) as *const libc::c_int)) };
    const SYS_SECCOMP: libc::c_int = 1;
    rsys::exit_now(if code == SYS_SECCOMP && nr as libc::c_long == libc::SYS_getppid { 42 } else { 43 })
}

#[test]
fn trap_delivers_sigsys_naming_the_call() {
    let p = plan_of(allow_all_but(json!([{"names": ["getppid"], "action": "SCMP_ACT_TRAP"}])));
    let (status, _) = in_child(&p, |_, _| {
        // SAFETY: sigaction is plain data; the handler only reads its siginfo and exits.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigsys as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut());
        }
        sys(libc::SYS_getppid, [0; 6]);
    });
    assert_eq!(status, ExitStatus::Exited(42));
}

#[test]
fn an_argument_condition_lets_one_value_through_and_blocks_another() {
    let p = plan_of(allow_all_but(json!([{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 55,
        "args": [{"index": 0, "value": 0xffff_ffffu64, "op": "SCMP_CMP_NE"}]}])));
    let (status, got) = in_child(&p, |out, _| {
        out.put(sys(libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0, 0])); // the query
        out.put(sys(libc::SYS_personality, [8, 0, 0, 0, 0, 0])); // PER_LINUX32
                                                                 // the kernel would read 0xffffffff, the filter sees all 64 bits
        out.put(sys(libc::SYS_personality, [0x1_ffff_ffff, 0, 0, 0, 0, 0]));
    });
    assert_eq!(status, ExitStatus::Exited(0));
    assert!(got[0] >= 0, "query: {}", got[0]);
    assert_eq!(got[1..], [-55, -55]);
}

#[test]
fn calls_newer_than_the_profile_fail_with_enosys() {
    let p = plan_of(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["write", "exit_group", "getpid"], "action": "SCMP_ACT_ALLOW"}]}));
    let (status, got) = in_child(&p, |out, _| {
        out.put(sys(libc::SYS_getpid, [0; 6]));
        out.put(sys(libc::SYS_getppid, [0; 6])); // 110, older than exit_group (231)
        out.put(sys(libc::SYS_getrandom, [0; 6])); // 318
        out.put(sys(libc::SYS_clone3, [0; 6])); // 435
    });
    assert_eq!(status, ExitStatus::Exited(0));
    assert!(got[0] > 0);
    assert_eq!(got[1..], [e(libc::EPERM), e(libc::ENOSYS), e(libc::ENOSYS)]);
}

#[test]
fn the_default_container_profile_loads_and_a_workload_runs_under_it() {
    let Some(s) = containers_profile() else {
        eprintln!("skipped: no /usr/share/containers/seccomp.json (apt-get install golang-github-containers-common)");
        return;
    };
    let p = plan(&s).unwrap();
    let mut dents = [0u8; 4096];
    let dp = dents.as_mut_ptr() as u64;
    let mut uts = [0u8; 512];
    let up = uts.as_mut_ptr() as u64;
    let (status, got) = in_child(&p, |out, _| {
        let fd = sys(libc::SYS_openat, [libc::AT_FDCWD as u64, c"/".as_ptr() as u64, (libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64, 0, 0, 0]);
        out.put(fd);
        out.put(sys(libc::SYS_getdents64, [fd as u64, dp, 4096, 0, 0, 0]));
        out.put(sys(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]));
        out.put(sys(libc::SYS_uname, [up, 0, 0, 0, 0, 0]));
        out.put(sys(libc::SYS_socket, [libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0]));
        // blocked by the profile, with its errno
        out.put(sys(libc::SYS_userfaultfd, [0; 6]));
        out.put(sys(libc::SYS_swapon, [0; 6]));
        out.put(sys(libc::SYS_bpf, [0; 6]));
        out.put(sys(libc::SYS_acct, [0; 6]));
        out.put(sys(libc::SYS_socket, [libc::AF_NETLINK as u64, libc::SOCK_RAW as u64, libc::NETLINK_AUDIT as u64, 0, 0, 0]));
        out.put(sys(libc::SYS_personality, [1, 0, 0, 0, 0, 0]));
        // newer than the profile
        out.put(sys(469, [0; 6]));
    });
    assert_eq!(status, ExitStatus::Exited(0));
    assert!(got[0] >= 0 && got[1] > 0 && got[2] == 0 && got[3] == 0 && got[4] >= 0, "{got:?}");
    let eperm = e(libc::EPERM);
    assert_eq!(got[5..], [eperm, eperm, eperm, eperm, e(libc::EINVAL), e(libc::ENOSYS), e(libc::ENOSYS)]);

    // a real program: ls (dynamic loader, libc start-up, directory listing, writes)
    let p2 = p.clone();
    let mut ls = Command::new("ls");
    ls.args(["-la", "/"]).stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: install allocates nothing and only makes the seccomp (and prctl) call.
    unsafe { ls.pre_exec(move || install(&p2).map(drop)) };
    let out = ls.output().unwrap();
    assert!(out.status.success(), "ls: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("proc"));
}

#[test]
fn notify_hands_the_listener_to_the_agent_which_answers_mkdir() {
    let dir = TempDir::new("notify");
    let sock_path = dir.0.join("agent.sock");
    let agent = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    agent.set_nonblocking(true).unwrap();
    let p = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock_path, "listenerMetadata": "hello agent",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}));
    assert!(p.listener.is_some());
    let state = process_state_json(
        1234,
        p.listener.as_ref().unwrap().metadata.as_deref(),
        &json!({"ociVersion": "1.3.0", "id": "c1", "status": "creating", "pid": 1234, "bundle": "/b"}),
    )
    .unwrap();
    let target = c"/nonexistent-rt-seccomp-test/sub";
    let (status, got) = std::thread::scope(|scope| {
        let agent_side = scope.spawn(|| {
            wait_readable(agent.as_fd());
            let (conn, _) = agent.accept().unwrap();
            let mut buf = vec![0u8; 65536];
            let (n, fds) = rsys::recv_with_fds(conn.as_fd(), &mut buf).unwrap();
            let v: Value = serde_json::from_slice(&buf[..n]).unwrap();
            let listener = fds.into_iter().next().expect("no fd came with the state");
            let mut answers = vec![];
            for (val, err) in [(0, 0), (0, libc::EXDEV)] {
                wait_readable(listener.as_fd());
                let n = sys::notif::recv(listener.as_fd()).unwrap();
                answers.push((n.data.nr as libc::c_long, n.data.args[0]));
                sys::notif::send(listener.as_fd(), n.id, val, err).unwrap();
            }
            (v, answers)
        });
        let child = in_child(&p, |out, listener| {
            let Some(listener) = listener else { return out.put(-1000) };
            // what rt does: the listener goes to the agent, then the container goes on
            let sent = send_listener(&sock_path, &state, listener.as_fd()).is_ok();
            drop(listener);
            out.put(sent as i64);
            out.put(sys(libc::SYS_mkdir, [target.as_ptr() as u64, 0o755, 0, 0, 0, 0]));
            out.put(sys(libc::SYS_mkdir, [target.as_ptr() as u64, 0o755, 0, 0, 0, 0]));
        });
        let (v, answers) = agent_side.join().unwrap();
        assert_eq!(v["fds"], json!(["seccompFd"]));
        assert_eq!(v["metadata"], "hello agent");
        assert_eq!(v["state"]["id"], "c1");
        assert_eq!(answers, [(libc::SYS_mkdir, target.as_ptr() as u64); 2]);
        child
    });
    assert_eq!(status, ExitStatus::Exited(0));
    // the kernel would have said ENOENT: the agent's answers came back instead
    assert_eq!(got, [1, 0, e(libc::EXDEV)]);
}

#[test]
fn no_new_privileges_stays_off_with_a_filter_loaded() {
    let p = plan_of(allow_all_but(json!([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}])));
    let (status, got) = in_child(&p, |out, _| {
        // SAFETY: prctl queries with integer arguments.
        unsafe {
            out.put(libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) as i64);
            out.put(libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) as i64);
        }
    });
    assert_eq!(status, ExitStatus::Exited(0));
    if got[0] == 1 {
        eprintln!("skipped: without CAP_SYS_ADMIN the filter only goes in with no_new_privs");
        return;
    }
    assert_eq!(got, [0, 2], "no_new_privs, seccomp mode (2: filter)");
}

/// x32 calls come in with x86_64's `arch` and the x32 bit in `nr`; the filter sees them before
/// the kernel checks whether it runs x32 at all, so raw calls test the x32 rules anywhere.
#[test]
fn x32_calls_meet_the_x32_rules() {
    const X32: libc::c_long = 0x4000_0000;
    let rules = json!([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 44}]);
    let p = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"], "syscalls": rules}));
    let (status, got) = in_child(&p, |out, _| {
        out.put(sys(X32 | 110, [0; 6])); // x32 getppid
        out.put(sys(libc::SYS_getppid, [0; 6]));
        out.put(sys(X32 | 16, [0; 6])); // no x32 call: x32 has its own ioctl
    });
    assert_eq!(status, ExitStatus::Exited(0));
    assert_eq!(got[..2], [-44, -44]);
    assert_ne!(got[2], -44);
    // without x32 in the list, an x32 call is a bad architecture
    let p = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": rules}));
    let (status, got) = in_child(&p, |out, _| {
        out.put(sys(libc::SYS_getppid, [0; 6]));
        out.put(sys(X32 | 110, [0; 6]));
    });
    assert_eq!((status, got), (ExitStatus::Signaled(libc::SIGSYS), vec![-44]));
}

/// A real 32-bit x86 program (gcc -m32 -static, built here) under the filter: x86's own
/// numbers (its getpid is 20, its 39 is mkdir, x86_64's getpid) and 32-bit arguments.
#[test]
fn an_i386_binary_meets_the_x86_rules() {
    let dir = TempDir::new("i386");
    let src = dir.0.join("t.c");
    let bin = dir.0.join("t");
    std::fs::write(
        &src,
        r#"#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
static long r(long v) { return v == -1 ? -errno : v; }
int main(int argc, char **argv) {
    printf("%ld %ld %ld %ld\n", r(syscall(SYS_getpid)), r(syscall(SYS_personality, 0xffffffffUL)),
           r(syscall(SYS_getppid)), r(syscall(SYS_mkdir, argv[1], 0755)));
    return 0;
}
"#,
    )
    .unwrap();
    match Command::new("gcc").args(["-m32", "-static", "-O2", "-o"]).arg(&bin).arg(&src).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return eprintln!(
                "skipped: gcc -m32 -static failed (apt-get install gcc-multilib): {}",
                String::from_utf8_lossy(&o.stderr).lines().next().unwrap_or("")
            )
        }
        Err(e) => return eprintln!("skipped: no gcc: {e}"),
    }
    let rules = json!([
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
        // x86 compares the low word only (libseccomp): this is 0xffffffff there
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 43, "args": [{"index": 0, "value": 0x1_ffff_ffffu64, "op": "SCMP_CMP_EQ"}]}
    ]);
    let run = |arches: Value| {
        let p = plan_of(json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": arches, "syscalls": rules}));
        let mut cmd = Command::new(&bin);
        cmd.arg(dir.0.join("made")).stdout(Stdio::piped());
        // SAFETY: install allocates nothing and only makes the seccomp (and prctl) call.
        unsafe { cmd.pre_exec(move || install(&p).map(drop)) };
        cmd.output().unwrap()
    };
    let out = run(json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]));
    assert!(out.status.success(), "{:?}", out.status);
    let v: Vec<i64> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(|s| s.parse().unwrap()).collect();
    assert_eq!(v[..2], [-42, -43], "{v:?}");
    assert!(v[2] > 0);
    assert_eq!(v[3], 0, "mkdir (39 on x86) went through");
    assert!(dir.0.join("made").is_dir());
    // x86 not listed: its first call is a bad architecture
    let out = run(json!(["SCMP_ARCH_X86_64"]));
    assert_eq!(out.status.signal(), Some(libc::SIGSYS), "{:?}", out.status);
}

/// What loading costs the kernel: it runs the filter once per syscall number of x86_64 and of
/// x86 to fill its action cache. rt's search tree against a plain chain of the same answers
/// (one `jeq` per number, as a per-syscall list compiles), for the containers profile.
#[test]
fn loading_the_default_profile_is_cheap() {
    let Some(s) = containers_profile() else { return eprintln!("skipped: no /usr/share/containers/seccomp.json") };
    let tree = plan(&s).unwrap();
    let mut chain = tree.clone();
    chain.program = linear_equivalent(&tree);
    super::interp::check(&chain.program).unwrap();
    let load = |p: &SeccompPlan| {
        let rounds = 20;
        let times: Vec<u64> = (0..rounds).map(|_| in_child_timed(p)).collect();
        times.iter().sum::<u64>() / rounds
    };
    let worst = |p: &SeccompPlan| {
        let arches = [super::abi::AUDIT_ARCH_X86_64, super::abi::AUDIT_ARCH_I386];
        arches
            .iter()
            .flat_map(|&arch| (0..600).map(move |nr| super::interp::run(&p.program, &super::interp::Data { nr, arch, args: [0; 6] }).1))
            .max()
            .unwrap_or(0)
    };
    let (t_tree, t_chain) = (load(&tree), load(&chain));
    eprintln!(
        "seccomp(2) load of the containers profile: {} instructions (at most {} run) {t_tree} µs; \
         as a jeq chain {} instructions (at most {} run) {t_chain} µs",
        tree.program.len(),
        worst(&tree),
        chain.program.len(),
        worst(&chain)
    );
}

/// How long install() took in a child, in µs.
fn in_child_timed(p: &SeccompPlan) -> u64 {
    let (status, got) = in_child(p, |_, _| {});
    assert_eq!((status, got), (ExitStatus::Exited(0), vec![]));
    let (mut r, w) = std::io::pipe().unwrap();
    // SAFETY: the child runs only raw system calls and leaves with _exit.
    match unsafe { libc::fork() } {
        0 => {
            drop(r);
            let t = std::time::Instant::now();
            let ok = install(p).is_ok();
            Report(w.as_raw_fd()).put(if ok { t.elapsed().as_micros() as i64 } else { -1 });
            rsys::exit_now(0)
        }
        pid => {
            drop(w);
            let mut b = [0u8; 8];
            r.read_exact(&mut b).unwrap();
            rsys::waitpid(pid, 0).unwrap();
            u64::try_from(i64::from_ne_bytes(b)).expect("the filter did not load")
        }
    }
}

/// The same answers for arguments of 0, as one `jeq nr` per number up to each ABI's limit.
fn linear_equivalent(p: &SeccompPlan) -> BpfProgram {
    use super::abi::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
    use super::interp::{run, Data};
    use seccompiler::sock_filter;
    let ins = |code: u16, k: u32, jt: u8, jf: u8| sock_filter { code, jt, jf, k };
    let mut bodies = vec![];
    for arch in [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386] {
        let at = |nr| run(&p.program, &Data { nr, arch, args: [0; 6] }).0;
        let mut b = vec![ins(0x20, 0, 0, 0)];
        let top = (0..600).rev().find(|&nr| at(nr) != at(599)).unwrap_or(0);
        for nr in 0..=top {
            b.push(ins(0x15, nr, 0, 1));
            b.push(ins(0x06, at(nr), 0, 0));
        }
        b.push(ins(0x06, at(599), 0, 0));
        bodies.push((arch, b));
    }
    let mut out = vec![ins(0x20, 4, 0, 0), ins(0x15, bodies[0].0, 0, 1), ins(0x05, 3, 0, 0), ins(0x15, bodies[1].0, 0, 1)];
    out.push(ins(0x05, 1 + bodies[0].1.len() as u32, 0, 0));
    out.push(ins(0x06, super::rules::RET_BAD_ARCH, 0, 0));
    for (_, b) in bodies {
        out.extend(b);
    }
    out
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("rt-seccomp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn wait_readable(fd: std::os::fd::BorrowedFd) {
    let mut p = [rsys::PollFd::from_borrowed_fd(fd, rsys::PollFlags::IN)];
    assert_eq!(rsys::poll(&mut p, 10_000).unwrap(), 1, "nothing came within 10 s");
}
