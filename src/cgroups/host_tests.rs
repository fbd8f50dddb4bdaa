//! Root-only checks on the real host, below rt's own cgroup (relative cgroupsPaths only; every
//! cgroup made is removed, every process started is killed by pid). Run by hand:
//!
//! ```text
//! cargo test --lib cgroups::host_tests -- --ignored --test-threads=1
//! ```

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use oci_spec::runtime::LinuxResources;

use super::*;

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).trim().to_owned()
}

/// Kills its children and removes the cgroup, whatever happened.
struct Guard {
    cg: Cgroup,
    children: Vec<Child>,
}

impl Guard {
    fn new(name: &str) -> Guard {
        let layout = Layout::detect().unwrap();
        let cg = Cgroup::plan(&layout, None, &format!("rt-cgtest-{name}-{}", std::process::id())).unwrap();
        Guard { cg, children: vec![] }
    }
    fn sleeper(&mut self) -> i32 {
        let c = Command::new("sleep").arg("300").spawn().unwrap();
        let pid = c.id() as i32;
        self.children.push(c);
        pid
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.cg.thaw();
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.cg.destroy();
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
#[ignore = "needs root and writes below rt's own cgroup"]
fn create_apply_place_freeze_kill_destroy() {
    assert!(is_root());
    let mut g = Guard::new("full");
    g.cg.create().unwrap();
    for p in g.cg.paths() {
        assert!(p.is_dir(), "{}", p.display());
    }
    let r = res(r#"{
        "devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}],
        "memory":{"limit":67108864,"reservation":33554432,"swap":134217728,"swappiness":10},
        "cpu":{"shares":512,"quota":20000,"period":100000,"burst":1000,"idle":0,"cpus":"0","mems":"0"},
        "pids":{"limit":20},
        "blockIO":{"weight":300,"throttleReadBpsDevice":[{"major":254,"minor":0,"rate":1048576}]}
    }"#);
    assert_eq!(g.cg.ignored(&r), Vec::<&str>::new());
    g.cg.apply(&r).unwrap();

    let mem = g.cg.v1_dir("memory").unwrap().path.clone();
    assert_eq!(read(&mem.join("memory.limit_in_bytes")), "67108864");
    assert_eq!(read(&mem.join("memory.memsw.limit_in_bytes")), "134217728");
    assert_eq!(read(&mem.join("memory.soft_limit_in_bytes")), "33554432");
    assert_eq!(read(&mem.join("memory.swappiness")), "10");
    let cpu = g.cg.v1_dir("cpu").unwrap().path.clone();
    assert_eq!(read(&cpu.join("cpu.shares")), "512");
    assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "20000");
    assert_eq!(read(&cpu.join("cpu.cfs_burst_us")), "1000");
    assert_eq!(read(&g.cg.v1_dir("cpuset").unwrap().path.join("cpuset.cpus")), "0");
    assert_eq!(read(&g.cg.v1_dir("pids").unwrap().path.join("pids.max")), "20");
    let blkio = &g.cg.v1_dir("blkio").unwrap().path;
    assert_eq!(read(&blkio.join("blkio.bfq.weight")), "300");
    assert_eq!(read(&blkio.join("blkio.throttle.read_bps_device")), "254:0 1048576");
    let devs = read(&g.cg.v1_dir("devices").unwrap().path.join("devices.list"));
    assert!(devs.contains("c 1:3 rwm") && devs.contains("c 136:* rwm") && !devs.contains("a *:*"), "{devs}");

    // Placement of a process started outside (v1 + unified by writing cgroup.procs).
    let pid = g.sleeper();
    g.cg.add_pid(pid, false).unwrap();
    let own = read(Path::new(&format!("/proc/{pid}/cgroup")));
    let name = g.cg.dirs[0].path.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(own.lines().filter(|l| l.ends_with(&format!("/{name}"))).count(), g.cg.dirs.len(), "{own}");
    assert_eq!(g.cg.pids().unwrap(), [pid]);

    // Update: memory up beyond the current memsw (limit must follow memsw: the EINVAL deferral),
    // then down again; the cpu period alone.
    g.cg.update(&res(r#"{"memory":{"limit":268435456,"swap":536870912},"cpu":{"period":50000}}"#)).unwrap();
    assert_eq!(read(&mem.join("memory.limit_in_bytes")), "268435456");
    assert_eq!(read(&mem.join("memory.memsw.limit_in_bytes")), "536870912");
    assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "50000");
    g.cg.update(&res(r#"{"memory":{"limit":16777216,"swap":16777216},"pids":{"limit":0}}"#)).unwrap();
    assert_eq!(read(&mem.join("memory.memsw.limit_in_bytes")), "16777216");
    assert_eq!(read(&g.cg.v1_dir("pids").unwrap().path.join("pids.max")), "20", "0 means unchanged");
    g.cg.update(&res(r#"{"memory":{"limit":-1}}"#)).unwrap();
    assert_eq!(read(&mem.join("memory.limit_in_bytes")), "9223372036854771712");

    // Pause / resume.
    assert!(!g.cg.is_frozen());
    g.cg.freeze().unwrap();
    assert!(g.cg.is_frozen());
    assert_eq!(read(&g.cg.v1_dir("freezer").unwrap().path.join("freezer.state")), "FROZEN");
    g.cg.thaw().unwrap();
    assert!(!g.cg.is_frozen());

    // Stats in runc's shape.
    let s = g.cg.stats().unwrap();
    assert_eq!(s.pids.current, 1);
    assert_eq!(s.pids.limit, 20);
    // A moved task leaves its pages charged where they were: usage may be 0; the limit is there.
    assert_eq!(s.memory.usage.limit, 9223372036854771712);
    assert!(!s.cpu.usage.percpu.is_empty(), "cpuacct.usage_percpu has one entry per cpu");
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["memory"]["raw"]["cache"].is_u64(), "{json}");

    // A paused container killed with SIGKILL dies (thawed after the signal).
    g.cg.freeze().unwrap();
    g.cg.kill_all(libc::SIGKILL).unwrap();
    let status = g.children[0].wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL));
    g.children.clear();
    g.cg.destroy().unwrap();
    for p in g.cg.paths() {
        assert!(!p.exists(), "{}", p.display());
    }
    // Destroying again is fine.
    g.cg.destroy().unwrap();
}

#[test]
#[ignore = "needs root and writes below rt's own cgroup"]
fn kernel_errors_name_field_file_and_reason() {
    assert!(is_root());
    let g = Guard::new("errs");
    g.cg.create().unwrap();
    let e = g.cg.apply(&res(r#"{"cpu":{"quota":500}}"#)).unwrap_err();
    let cpu = &g.cg.v1_dir("cpu").unwrap().path;
    assert_eq!(e.to_string(), format!("linux.resources.cpu.quota: writing 500 to {}: invalid argument", cpu.join("cpu.cfs_quota_us").display()));
    // This host's disk uses mq-deadline: per-device BFQ weights cannot apply.
    let e = g.cg.apply(&res(r#"{"blockIO":{"weightDevice":[{"major":254,"minor":0,"weight":300}]}}"#)).unwrap_err();
    assert!(e.to_string().contains("blkio.bfq.weight_device: operation not supported (per-device weights need the BFQ I/O scheduler"), "{e}");
    // CFQ's leaf weight does not exist on this kernel.
    let e = g.cg.apply(&res(r#"{"blockIO":{"leafWeight":300}}"#)).unwrap_err();
    assert!(e.to_string().ends_with("blkio.leaf_weight: no such file or directory (this kernel has no such file)"), "{e}");
    // No net_cls hierarchy here.
    let e = g.cg.apply(&res(r#"{"network":{"classID":1}}"#)).unwrap_err();
    assert!(e.to_string().contains("no net_cls cgroup controller"), "{e}");
    // A memory limit below what the cgroup uses.
    let mut g = g;
    let mut c = Command::new("sh").arg("-c").arg("read x; exec sleep 300").stdin(Stdio::piped()).spawn().unwrap();
    let pid = c.id() as i32;
    g.cg.add_pid(pid, false).unwrap();
    // Fault in some memory in the cgroup: a shell that has read a line.
    c.stdin.as_mut().unwrap().write_all(b"x\n").unwrap();
    g.children.push(c);
    std::thread::sleep(std::time::Duration::from_millis(100));
    g.cg.update(&res(r#"{"memory":{"swap":-1}}"#)).unwrap_or(());
    let e = g.cg.update(&res(r#"{"memory":{"limit":4096,"swap":4096}}"#));
    if let Err(e) = e {
        assert!(e.to_string().contains("device or resource busy (the cgroup already uses more than that)"), "{e}");
    }
}

#[test]
#[ignore = "needs root and writes below rt's own cgroup"]
fn oom_kill_is_seen() {
    assert!(is_root());
    let g = Guard::new("oom");
    g.cg.create().unwrap();
    g.cg.apply(&res(r#"{"memory":{"limit":33554432,"swap":33554432}}"#)).unwrap();
    let mut w = g.cg.oom_watcher().unwrap();
    assert_eq!(w.take().unwrap(), 0);
    // A child that joins the cgroup, then allocates more than the limit.
    let mut c = Command::new("sh")
        .arg("-c")
        .arg("read x; exec dd if=/dev/zero of=/dev/null bs=64M count=1")
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    g.cg.add_pid(c.id() as i32, false).unwrap();
    c.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let status = c.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL));
    let mut pfd = libc::pollfd { fd: std::os::fd::AsRawFd::as_raw_fd(&w.fd()), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, a bounded timeout.
    assert_eq!(unsafe { libc::poll(&mut pfd, 1, 2000) }, 1);
    assert!(w.take().unwrap() >= 1);
}

/// clone3(CLONE_INTO_CGROUP) into the unified directory of this hybrid host, then the v1 ones by
/// add_pid(…, true).
#[test]
#[ignore = "needs root and writes below rt's own cgroup"]
fn clone_into_cgroup_on_the_unified_hierarchy() {
    assert!(is_root());
    let g = Guard::new("clone3");
    g.cg.create().unwrap();
    let fd = g.cg.clone_into_fd().unwrap().expect("a v2 directory");
    let pid = match crate::sys::clone3(0, Some(std::os::fd::AsFd::as_fd(&fd))).expect("clone3") {
        crate::sys::Forked::Child => {
            // SAFETY: the child only waits and leaves through _exit.
            unsafe { libc::pause() };
            crate::sys::exit_now(0)
        }
        crate::sys::Forked::Parent(pid) => pid,
    };
    let check = || -> Result<(), String> {
        let v2 = g.cg.v2_dir().unwrap();
        let procs = read(&v2.path.join("cgroup.procs"));
        if procs != pid.to_string() {
            return Err(format!("unified cgroup.procs: {procs:?}"));
        }
        g.cg.add_pid(pid, true).map_err(|e| e.to_string())?;
        let mut got = g.cg.pids().map_err(|e| e.to_string())?;
        got.sort();
        if got != [pid] {
            return Err(format!("pids: {got:?}"));
        }
        // delete --force: SIGKILL through cgroup.kill on the unified directory, then removal,
        // which does not wait for the parent to reap (a zombie holds no cgroup).
        g.cg.destroy_forced().map_err(|e| e.to_string())?;
        match g.cg.paths().find(|p| p.exists()) {
            Some(p) => Err(format!("{} still there", p.display())),
            None => Ok(()),
        }
    };
    let r = check();
    // SAFETY: our own child; killing twice is harmless, and waitpid reaps it.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut st = 0;
        libc::waitpid(pid, &mut st, 0);
    }
    r.unwrap();
}

/// The v2 device filter, attached to the unified directory of this hybrid host: the kernel runs
/// cgroup2 device programs even when the v1 devices controller is mounted.
#[test]
#[ignore = "needs root and writes below rt's own cgroup"]
fn bpf_device_filter_denies_on_the_unified_hierarchy() {
    assert!(is_root());
    let mut g = Guard::new("bpf");
    g.cg.create().unwrap();
    let rules: Vec<oci_spec::runtime::LinuxDeviceCgroup> =
        serde_json::from_str(r#"[{"allow":true,"access":"rwm"},{"allow":false,"type":"c","major":1,"minor":11,"access":"r"}]"#).unwrap();
    let prog = devices::program(&rules).unwrap();
    bpf::attach_device_filter(&g.cg.v2_dir().unwrap().path, &prog).unwrap();
    let mut c = Command::new("sh")
        .arg("-c")
        .arg("read x; true 2>/dev/null </dev/kmsg && exit 10; true </dev/zero || exit 11; echo ok >/dev/null || exit 12")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    g.cg.add_pid(c.id() as i32, false).unwrap();
    c.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let status = c.wait().unwrap();
    assert_eq!(status.code(), Some(0), "reading /dev/kmsg must be denied, /dev/zero and /dev/null allowed");
    g.children.clear();
}

/// The create path of a typical container, for `strace -f` (the syscalls between the two
/// markers on stderr): `strace -f -o /tmp/t $(test binary) syscall_budget --ignored --nocapture`.
#[test]
#[ignore = "needs root and writes below rt's own cgroup"]
fn syscall_budget() {
    let r = res(
        r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},{"allow":true,"type":"c","major":136,"access":"rwm"}],
        "memory":{"limit":67108864,"swap":134217728},"cpu":{"shares":512},"pids":{"limit":100}}"#,
    );
    let mut c = Command::new("sleep").arg("30").spawn().unwrap();
    eprintln!("=== START");
    let layout = Layout::detect().unwrap();
    let cg = Cgroup::plan(&layout, None, "rt-cgtest-sys").unwrap();
    cg.create().unwrap();
    cg.apply(&r).unwrap();
    cg.add_pid(c.id() as i32, false).unwrap();
    eprintln!("=== RUNNING");
    c.kill().unwrap();
    c.wait().unwrap();
    cg.destroy().unwrap();
    eprintln!("=== END");
}
