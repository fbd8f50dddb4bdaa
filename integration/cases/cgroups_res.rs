//! cgroups, second part: every resource this host exposes, on whichever layout it has (v1,
//! hybrid, pure v2 in the VM lane). Each test reads the values back from the host side and,
//! where there is an effect to see, checks it from inside: a memory hog is OOM-killed, a fork
//! bomb stops at the pids limit, a throttled disk writes slowly, a denied device cannot be
//! opened. Where the host lacks a controller the test is skipped with the reason.

use super::cgroups_util::*;
use crate::case;
use crate::rig::{pid_alive, read, rig, wait_until, Case};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        case!(memory_limits_read_back),
        case!(memory_swappiness_and_oom_control).host_skip(not_v2_v1_only),
        case!(memory_kernel_tcp).host_skip(not_v2_v1_only).runc_lacks("runc 1.1.5 ignores linux.resources.memory.kernelTCP"),
        case!(memory_hog_is_oom_killed),
        case!(oom_killer_disabled_hog_waits).host_skip(not_v2_v1_only),
        case!(cpu_shares_quota_period_burst),
        case!(cpu_idle).host_skip(needs_cpu_idle).runc_lacks("runc 1.1.5 ignores linux.resources.cpu.idle (runc 1.2 added it)"),
        case!(cpu_realtime).host_skip(needs_rt_group_sched),
        case!(cpuset_cpus_and_mems),
        case!(pids_fork_bomb_stops),
        case!(blkio_weight).host_skip(needs_blkio_weight),
        case!(blkio_weight_device).host_skip(needs_block_device),
        case!(blkio_throttle).host_skip(needs_block_device),
        case!(devices_denied_cannot_be_opened),
        case!(hugetlb_limits).host_skip(needs_hugetlb),
        case!(unified_rejected_on_v1).host_skip(not_v2_unified_works),
        case!(network_without_net_cls_is_a_clear_error).host_skip(needs_no_net_cls),
        case!(network_class_and_priorities).host_skip(needs_net_cls),
        case!(rdma_without_device_is_a_clear_error),
        case!(delete_kills_what_is_left),
    ]
}

// ---------------------------------------------------------------------------------------------
// host checks

fn needs_cpu_idle() -> Option<String> {
    let d = run_dir("cpu");
    (!d.join("cpu.idle").exists() && !is_v2()).then(|| format!("this kernel has no cpu.idle (Linux 5.15+) in {}", d.display()))
}

fn needs_rt_group_sched() -> Option<String> {
    if is_v2() {
        return not_v2_v1_only();
    }
    let d = run_dir("cpu");
    (!d.join("cpu.rt_runtime_us").exists())
        .then(|| format!("this kernel has no realtime group scheduling (CONFIG_RT_GROUP_SCHED): no cpu.rt_runtime_us in {}", d.display()))
}

fn needs_blkio_weight() -> Option<String> {
    if is_v2() {
        return None;
    }
    let Some(h) = hier_of("blkio") else { return Some("no blkio cgroup controller on this host".into()) };
    let d = rig().cgroup.dir(h);
    (!d.join("blkio.weight").exists() && !d.join("blkio.bfq.weight").exists())
        .then(|| format!("no blkio weight on this kernel: neither CFQ's blkio.weight nor BFQ's blkio.bfq.weight in {}", d.display()))
}

/// A block device to point per-device settings at: the disk under the bundles, else (the VM
/// lane, whose root is 9p) the guest's CD-ROM drive 11:0.
fn test_block_device() -> Option<(u64, u64)> {
    block_dev_of(&rig().run_dir).or_else(|| Path::new("/sys/dev/block/11:0").exists().then_some((11, 0)))
}

fn needs_block_device() -> Option<String> {
    if hier_of(if is_v2() { "io" } else { "blkio" }).is_none() {
        return Some("no blkio (v1) or io (v2) cgroup controller on this host".into());
    }
    test_block_device().is_none().then(|| "no block device: the run directory is not on a disk, and there is no 11:0".into())
}

fn needs_net_cls() -> Option<String> {
    (hier_of("net_cls").is_none() || is_v2())
        .then(|| "no net_cls hierarchy on this host (network settings are v1's): the v1 VM lane runs it (make test-v1)".into())
}

fn needs_no_net_cls() -> Option<String> {
    if is_v2() {
        return Some("pure cgroup v2: network settings are ignored with a warning there (cgroups_v2::v1_only_settings_warn)".into());
    }
    hier_of("net_cls").map(|h| format!("this host has a net_cls hierarchy at {}: the error for a missing one cannot be seen here", h.mount.display()))
}

// ---------------------------------------------------------------------------------------------
// memory

/// limit, reservation and swap (v1: memory+swap as given; v2: memory.swap.max = swap − limit,
/// memory.low = reservation), from the host and from inside.
fn memory_limits_read_back() {
    let mut c = ctr("cgmem");
    c.set("/linux/resources/memory", json!({ "limit": 67108864, "reservation": 33554432, "swap": 100663296 }));
    let files: Vec<(&str, &str)> = if is_v2() {
        vec![("memory.max", "67108864"), ("memory.low", "33554432"), ("memory.swap.max", "33554432")]
    } else {
        vec![("memory.limit_in_bytes", "67108864"), ("memory.soft_limit_in_bytes", "33554432"), ("memory.memsw.limit_in_bytes", "100663296")]
    };
    let script: Vec<String> = files.iter().map(|(f, _)| format!("/bin/probe read {}", inside("memory", f))).collect();
    c.sh(&script.join("; "));
    let created = c.create();
    created.ok();
    for (f, want) in &files {
        assert_eq!(file(&c, "memory", f), *want, "host {f}");
    }
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(20));
    let vals = json_lines(&created.stdout_now());
    assert_eq!(vals.len(), files.len(), "{}", created.stdout_now());
    for ((f, want), v) in files.iter().zip(&vals) {
        assert_eq!(v["content"].as_str().map(str::trim), Some(*want), "inside {f}: {v}");
    }
}

/// kernelTCP on v1 (crun applies it too; the kernel still keeps it, unlike the kmem limit).
fn memory_kernel_tcp() {
    let mut c = ctr("cgkmemtcp");
    c.set("/linux/resources/memory", json!({ "limit": 67108864, "kernelTCP": 4194304 }));
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    assert_eq!(file(&c, "memory", "memory.kmem.tcp.limit_in_bytes"), "4194304");
}

fn memory_swappiness_and_oom_control() {
    let mut c = ctr("cgswappy");
    c.set("/linux/resources/memory", json!({ "limit": 67108864, "swappiness": 10, "disableOOMKiller": true }));
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    assert_eq!(file(&c, "memory", "memory.swappiness"), "10");
    let oc = file(&c, "memory", "memory.oom_control");
    assert_eq!(kv(&oc, "oom_kill_disable"), Some(1), "memory.oom_control: {oc}");
}

/// A memory hog: a string that doubles until memory runs out. The pages are touched by the
/// process itself (a page fault in user mode), so the cgroup's OOM handling applies; a `dd`
/// from /dev/zero would fill its buffer inside read(2), where an over-limit charge makes the
/// read return short instead.
pub const HOG: &str = "awk 'BEGIN { s = \"x\"; while (1) s = s s }'";

/// A process that wants ever more memory in a 16 MiB cgroup is killed by the kernel's OOM killer; the
/// container's shell sees it die of SIGKILL, and the host side counts the kill.
fn memory_hog_is_oom_killed() {
    let mut c = ctr("cgoom");
    c.set("/linux/resources/memory", json!({ "limit": 16777216 }));
    c.sh(&format!("{HOG} 2>/dev/null; echo hog=$?"));
    let created = c.create();
    created.ok();
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(60));
    assert!(created.stdout_now().contains("hog=137"), "the hog was not killed by SIGKILL: {}", created.stdout_now());
    let (f, key) = if is_v2() { ("memory.events", "oom_kill") } else { ("memory.oom_control", "oom_kill") };
    let text = file(&c, "memory", f);
    assert!(kv(&text, key).unwrap_or(0) >= 1, "{f} counts no OOM kill: {text}");
}

/// disableOOMKiller (v1): the hog is not killed but waits for memory, and the container stays
/// up; `delete --force` still ends it.
fn oom_killer_disabled_hog_waits() {
    let mut c = ctr("cgnooom");
    c.set("/linux/resources/memory", json!({ "limit": 16777216, "disableOOMKiller": true }));
    c.sh(&format!("{HOG}; echo hog=$?"));
    let created = c.create();
    created.ok();
    c.start().ok();
    let under = wait_until(Duration::from_secs(30), || kv(&file(&c, "memory", "memory.oom_control"), "under_oom") == Some(1));
    assert!(
        under,
        "memory.oom_control never said under_oom 1: {}; container output: {}; limit {} max usage {}; procs {}",
        file(&c, "memory", "memory.oom_control"),
        created.stdout_now(),
        file(&c, "memory", "memory.limit_in_bytes"),
        file(&c, "memory", "memory.max_usage_in_bytes"),
        file(&c, "memory", "cgroup.procs")
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(c.status(), "running");
    assert!(!created.stdout_now().contains("hog="), "the hog ended: {}", created.stdout_now());
    assert_eq!(kv(&file(&c, "memory", "memory.oom_control"), "oom_kill"), Some(0));
    c.delete_force().ok();
}

// ---------------------------------------------------------------------------------------------
// cpu

/// shares, quota, period and burst (v2: cpu.weight from shares with runc's formula, cpu.max,
/// cpu.max.burst), and the effect of the quota: a busy loop gets throttled.
fn cpu_shares_quota_period_burst() {
    let mut c = ctr("cgcpu");
    // 5%: on a busy machine a loop may get little more than that of a CPU, and must still be
    // throttled
    c.set("/linux/resources/cpu", json!({ "shares": 512, "quota": 5000, "period": 100000, "burst": 1000 }));
    c.sh("timeout 3 sh -c 'while :; do :; done'; exit 0");
    let created = c.create();
    created.ok();
    if is_v2() {
        // 512 shares: 10^((log2(512)^2 + 125*log2(512))/612 - 7/34) = 58.2 → 59
        assert_eq!(file(&c, "cpu", "cpu.weight"), "59");
        assert_eq!(file(&c, "cpu", "cpu.max"), "5000 100000");
        assert_eq!(file(&c, "cpu", "cpu.max.burst"), "1000");
    } else {
        assert_eq!(file(&c, "cpu", "cpu.shares"), "512");
        assert_eq!(file(&c, "cpu", "cpu.cfs_quota_us"), "5000");
        assert_eq!(file(&c, "cpu", "cpu.cfs_period_us"), "100000");
        // runc 1.1.5 ignores burst (runc 1.2 added it)
        if dir(&c, "cpu").join("cpu.cfs_burst_us").exists() && rig().is_rt() {
            assert_eq!(file(&c, "cpu", "cpu.cfs_burst_us"), "1000");
        }
    }
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(60));
    let stat = file(&c, "cpu", "cpu.stat");
    assert!(kv(&stat, "nr_throttled").unwrap_or(0) > 0, "a busy loop under a 5% quota was never throttled: {stat}");
}

fn cpu_idle() {
    let mut c = ctr("cgidle");
    c.set("/linux/resources/cpu", json!({ "idle": 1 }));
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    assert_eq!(file(&c, "cpu", "cpu.idle"), "1");
}

/// realtimePeriod/realtimeRuntime (v1 only). The kernel hands realtime time down the tree, so
/// the test first gives the run cgroup and the test cgroup a budget (both are ours).
fn cpu_realtime() {
    let mut c = ctr("cgrt");
    for (d, v) in [(run_dir("cpu"), "30000"), (c.cg.dir("cpu"), "20000")] {
        std::fs::write(d.join("cpu.rt_runtime_us"), v).unwrap_or_else(|e| panic!("giving {} a realtime budget: {e}", d.display()));
    }
    c.set("/linux/resources/cpu", json!({ "realtimePeriod": 1000000, "realtimeRuntime": 10000 }));
    c.args(&["/bin/sleep", "60"]);
    c.run_with(&["--detach"]).ok();
    assert_eq!(file(&c, "cpu", "cpu.rt_period_us"), "1000000");
    assert_eq!(file(&c, "cpu", "cpu.rt_runtime_us"), "10000");
    c.rt(&["update", "--cpu-rt-runtime", "5000", &c.id]).ok();
    assert_eq!(file(&c, "cpu", "cpu.rt_runtime_us"), "5000");
    // More than the parent has: the kernel refuses, and the error names the field and the file.
    let o = c.rt(&["update", "--cpu-rt-runtime", "50000", &c.id]);
    o.failed();
    if rig().is_rt() {
        o.stderr_has("linux.resources.cpu.realtimeRuntime: writing 50000 to ").stderr_has("cpu.rt_runtime_us: invalid argument");
    }
}

fn cpuset_cpus_and_mems() {
    let mut c = ctr("cgcpuset");
    c.set("/linux/resources/cpu", json!({ "cpus": "0", "mems": "0" }));
    c.sh("nproc; grep -E '^(Cpus|Mems)_allowed_list' /proc/self/status");
    let created = c.create();
    created.ok();
    assert_eq!(file(&c, "cpuset", "cpuset.cpus"), "0");
    assert_eq!(file(&c, "cpuset", "cpuset.mems"), "0");
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(20));
    let out = created.stdout_now();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first().copied(), Some("1"), "nproc inside: {out}");
    assert!(out.contains("Cpus_allowed_list:\t0\n") && out.contains("Mems_allowed_list:\t0\n"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// pids

/// A fork bomb stops at pids.max: the kernel refuses the forks beyond it (pids.events counts
/// them), the count never goes over, and the container is still there to be deleted.
fn pids_fork_bomb_stops() {
    let mut c = ctr("cgbomb");
    c.set("/linux/resources/pids", json!({ "limit": 32 }));
    // The bombers' orphans go to pid 1, a sleep that never reaps them: the zombies keep counting,
    // so the bomb uses up the limit and then has nothing left to fork with.
    c.sh("(b() { b & b & }; b) >/dev/null 2>&1 & exec sleep 1000");
    c.run_with(&["--detach"]).ok();
    let hit = wait_until(Duration::from_secs(60), || kv(&file(&c, "pids", "pids.events"), "max").unwrap_or(0) > 0);
    assert!(hit, "pids.events never counted a refused fork: {}", file(&c, "pids", "pids.events"));
    let current: u64 = file(&c, "pids", "pids.current").parse().unwrap();
    assert!(current <= 32, "pids.current {current} over pids.max 32");
    assert_eq!(file(&c, "pids", "pids.max"), "32");
    assert_eq!(c.status(), "running");
    c.delete_force().ok();
}

// ---------------------------------------------------------------------------------------------
// block I/O

/// blockIO.weight: v1 blkio.weight (CFQ) or blkio.bfq.weight (BFQ); v2 io.bfq.weight, else
/// io.weight converted from [10, 1000] to [1, 10000].
fn blkio_weight() {
    let mut c = ctr("cgbw");
    c.set("/linux/resources/blockIO", json!({ "weight": 300 }));
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    let d = dir(&c, if is_v2() { "io" } else { "blkio" });
    let (name, want) = if is_v2() {
        if d.join("io.bfq.weight").exists() {
            ("io.bfq.weight", "300")
        } else {
            ("io.weight", "2930")
        }
    } else if d.join("blkio.weight").exists() {
        ("blkio.weight", "300")
    } else {
        ("blkio.bfq.weight", "300")
    };
    let text = read(d.join(name));
    // "300", or "default 300" (with per-device lines after it)
    let v = text.lines().next().unwrap_or("").trim().trim_start_matches("default ").to_string();
    assert_eq!(v, want, "{name}: {text}");
}

/// weightDevice on a real device: written where the device's scheduler takes it (BFQ), else a
/// clear error that names the field, the file and the errno (or both files, when the kernel
/// has neither).
fn blkio_weight_device() {
    let (ma, mi) = test_block_device().unwrap();
    let sched = scheduler_of(ma, mi).unwrap_or_default();
    let mut c = ctr("cgbwd");
    c.set("/linux/resources/blockIO", json!({ "weightDevice": [{ "major": ma, "minor": mi, "weight": 500 }] }));
    c.args(&["/bin/sleep", "60"]);
    let o = c.create();
    let d = dir(&c, if is_v2() { "io" } else { "blkio" });
    if sched == "bfq" {
        o.ok();
        let f = if is_v2() { "io.bfq.weight" } else { "blkio.bfq.weight_device" };
        assert!(read(d.join(f)).contains(&format!("{ma}:{mi} 500")), "{f}: {}", read(d.join(f)));
    } else if o.code == 0 {
        // v2 without BFQ: io.weight per device (iocost), converted.
        assert!(is_v2(), "weightDevice on {ma}:{mi} (scheduler {sched}) worked on v1: {o}");
        assert!(read(d.join("io.weight")).contains(&format!("{ma}:{mi} 4950")), "io.weight: {}", read(d.join("io.weight")));
    } else {
        o.failed();
        if rig().is_rt() {
            o.stderr_has("linux.resources.blockIO.weightDevice[0].weight: writing ");
            // BFQ's file refuses a device it does not schedule; a kernel without BFQ (and
            // without CFQ, gone since 5.0) has no per-device weight file at all
            let refused = o.stderr.contains("operation not supported (per-device weights need the BFQ I/O scheduler on that device)");
            let absent = o.stderr.contains("no such file or directory (nor blkio.weight_device: this kernel has neither file)");
            assert!(refused || absent, "neither BFQ's refusal nor the missing files named: {o}");
        }
        c.assert_clean();
    }
}

/// The four throttle lists on the real disk (v1 blkio.throttle.*; v2 one io.max line), and,
/// when the bundle is on that disk, the effect: 4 MiB of direct writes at 1 MiB/s take seconds.
fn blkio_throttle() {
    let (ma, mi) = test_block_device().unwrap();
    let dev = format!("{ma}:{mi}");
    let mut c = ctr("cgthrottle");
    let t = |rate: u64| json!([{ "major": ma, "minor": mi, "rate": rate }]);
    c.set(
        "/linux/resources/blockIO",
        json!({
            "throttleReadBpsDevice": t(2097152), "throttleWriteBpsDevice": t(1048576),
            "throttleReadIOPSDevice": t(1000), "throttleWriteIOPSDevice": t(500)
        }),
    );
    let on_disk = block_dev_of(&c.rootfs()) == Some((ma, mi));
    c.sh(if on_disk { "dd if=/dev/zero of=/tmp/dd.out bs=1M count=4 oflag=direct 2>&1; echo dd=$?" } else { "echo dd=skipped" });
    let created = c.create();
    created.ok();
    if is_v2() {
        let max = file(&c, "io", "io.max");
        assert!(max.lines().any(|l| l == format!("{dev} rbps=2097152 wbps=1048576 riops=1000 wiops=500")), "io.max: {max}");
    } else {
        for (f, v) in [("read_bps_device", 2097152), ("write_bps_device", 1048576), ("read_iops_device", 1000), ("write_iops_device", 500)] {
            assert_eq!(file(&c, "blkio", &format!("blkio.throttle.{f}")), format!("{dev} {v}"), "blkio.throttle.{f}");
        }
    }
    let start = Instant::now();
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(60));
    let took = start.elapsed();
    let out = created.stdout_now();
    if on_disk {
        assert!(out.contains("dd=0"), "{out}");
        assert!(took >= Duration::from_millis(2500), "4 MiB of direct writes at 1 MiB/s took only {took:?}: {out}");
    }
}

// ---------------------------------------------------------------------------------------------
// devices

/// Device rules: the cgroup (v1 devices.allow/deny, v2 an eBPF program) lets the container open
/// /dev/fuse for reading only, and not the block device at all, although both nodes exist.
fn devices_denied_cannot_be_opened() {
    let mut c = ctr("cgdevrules");
    c.set(
        "/linux/devices",
        json!([
            { "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666 },
            { "path": "/dev/rtblock", "type": "b", "major": 7, "minor": 0, "fileMode": 0o666 }
        ]),
    );
    c.set("/linux/resources/devices", json!([{ "allow": false, "access": "rwm" }, { "allow": true, "type": "c", "major": 10, "minor": 229, "access": "r" }]));
    c.sh("for t in '</dev/fuse' '>/dev/fuse' '</dev/rtblock' '>/dev/null'; do (eval \"exec 3$t\") 2>&1 && echo \"$t ok\"; done");
    let created = c.create();
    created.ok();
    if !is_v2() {
        let list = file(&c, "devices", "devices.list");
        assert!(list.lines().any(|l| l == "c 10:229 r"), "devices.list: {list}");
        assert!(!list.lines().any(|l| l.starts_with("b 7:0") || l == "a *:* rwm"), "devices.list: {list}");
    }
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(20));
    let out = created.stdout_now();
    assert!(out.contains("</dev/fuse ok"), "reading /dev/fuse (allowed) failed: {out}");
    assert!(out.contains(">/dev/null ok"), "writing /dev/null (a default rule) failed: {out}");
    assert!(!out.contains(">/dev/fuse ok") && !out.contains("</dev/rtblock ok"), "a denied open worked: {out}");
    let denied = out.lines().filter(|l| l.contains("Operation not permitted")).count();
    assert_eq!(denied, 2, "expected two EPERMs (write /dev/fuse, read /dev/rtblock): {out}");
}

// ---------------------------------------------------------------------------------------------
// hugetlb, unified, network, rdma

fn hugetlb_limits() {
    let sizes: Vec<String> = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let kb: u64 = e.file_name().to_string_lossy().strip_prefix("hugepages-")?.strip_suffix("kB")?.parse().ok()?;
            Some(if kb >= 1 << 20 { format!("{}GB", kb >> 20) } else { format!("{}MB", kb >> 10) })
        })
        .collect();
    let mut c = ctr("cghuge");
    let limits: Vec<serde_json::Value> =
        sizes.iter().map(|s| json!({ "pageSize": s, "limit": 4194304u64 << (if s.ends_with("GB") { 10 } else { 0 }) })).collect();
    c.set("/linux/resources/hugepageLimits", json!(limits));
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    for (s, l) in sizes.iter().zip(&limits) {
        let want = l["limit"].as_u64().unwrap().to_string();
        let f = if hier_of("hugetlb").is_some_and(|h| h.v2) { format!("hugetlb.{s}.max") } else { format!("hugetlb.{s}.limit_in_bytes") };
        assert_eq!(file(&c, "hugetlb", &f), want, "{f}");
        let rsvd = f.replace(&format!("hugetlb.{s}."), &format!("hugetlb.{s}.rsvd."));
        if dir(&c, "hugetlb").join(&rsvd).exists() {
            assert_eq!(file(&c, "hugetlb", &rsvd), want, "{rsvd}");
        }
    }
}

/// `unified` needs cgroup v2; on a hybrid host it cannot reach controllers bound to v1.
fn unified_rejected_on_v1() {
    let mut c = ctr("cgunifiedv1");
    c.set("/linux/resources/unified", json!({ "memory.high": "100000000" }));
    let o = c.create();
    o.failed().stderr_has("unified");
    if rig().is_rt() {
        match layout() {
            Layout::Hybrid => o.stderr_has("linux.resources.unified.memory.high: the memory controller is bound to cgroup v1 on this host (hybrid layout)"),
            _ => o.stderr_has("linux.resources.unified: this host has no cgroup v2 hierarchy"),
        };
    }
    c.assert_clean();
}

fn network_without_net_cls_is_a_clear_error() {
    let mut c = ctr("cgnetcls");
    c.set("/linux/resources/network", json!({ "classID": 1048577 }));
    let o = c.create();
    o.failed().stderr_has("net_cls");
    if rig().is_rt() {
        o.stderr_has("linux.resources.network.classID: this host has no net_cls cgroup controller");
    }
    c.assert_clean();
}

/// classID and interface priorities on v1's net_cls and net_prio, read back from the host and
/// from inside, where the co-mounted hierarchy is also reached as /sys/fs/cgroup/net_cls.
fn network_class_and_priorities() {
    let mut c = ctr("cgnet");
    c.set("/linux/resources/network", json!({ "classID": 1048577, "priorities": [{ "name": "lo", "priority": 5 }] }));
    c.sh("/bin/probe read /sys/fs/cgroup/net_cls/net_cls.classid; /bin/probe read /sys/fs/cgroup/net_prio/net_prio.ifpriomap");
    let created = c.create();
    created.ok();
    assert_eq!(file(&c, "net_cls", "net_cls.classid"), "1048577");
    assert!(file(&c, "net_prio", "net_prio.ifpriomap").lines().any(|l| l == "lo 5"), "ifpriomap: {}", file(&c, "net_prio", "net_prio.ifpriomap"));
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(20));
    let vals = json_lines(&created.stdout_now());
    assert_eq!(vals.len(), 2, "{}", created.stdout_now());
    assert_eq!(vals[0]["content"].as_str().map(str::trim), Some("1048577"), "inside: {}", vals[0]);
    assert!(vals[1]["content"].as_str().is_some_and(|t| t.lines().any(|l| l == "lo 5")), "inside: {}", vals[1]);
}

fn rdma_without_device_is_a_clear_error() {
    let mut c = ctr("cgrdma");
    c.set("/linux/resources/rdma", json!({ "rt_no_such_hca": { "hcaHandles": 2 } }));
    let o = c.create();
    o.failed();
    if rig().is_rt() {
        o.stderr_has("linux.resources.rdma.rt_no_such_hca");
    }
    c.assert_clean();
}

// ---------------------------------------------------------------------------------------------
// delete

/// Without a pid namespace of its own, a container's processes outlive its init. Once the init
/// has exited, `delete --force` kills them (v2: cgroup.kill) and removes the cgroup.
fn delete_kills_what_is_left() {
    let mut c = ctr("cgleft");
    c.no_ns("pid");
    c.sh("sleep 1000 >/dev/null 2>&1 & echo left=$!");
    let created = c.create();
    created.ok();
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(20));
    let out = created.stdout_now();
    let pid: i32 = out.trim().strip_prefix("left=").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{out}"));
    let procs = dir(&c, "pids").join("cgroup.procs");
    assert!(
        pid_alive(pid) && read(&procs).lines().any(|l| l.trim() == pid.to_string()),
        "the sleep {pid} is not left in {}: {}",
        procs.display(),
        read(&procs)
    );
    c.delete_force().ok();
    assert!(wait_until(Duration::from_secs(5), || !pid_alive(pid)), "pid {pid} survived delete --force");
    assert!(!dir(&c, "pids").exists(), "{} left after delete", dir(&c, "pids").display());
}
