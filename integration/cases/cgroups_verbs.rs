//! The verbs that act on a container through its cgroup: pause/resume, update, events, ps —
//! with runc's outputs and wording (runc-compat.md §2.3, §2.5, §3.2, §4.10).

use super::cgroups_util::*;
use crate::case;
use crate::rig::{read, rig, wait_until, Case, Cmd, Ctr, Output};
use serde_json::{json, Value};
use std::time::Duration;

pub fn cases() -> Vec<Case> {
    vec![
        case!(pause_stops_progress_resume_restarts),
        case!(pause_and_resume_errors),
        case!(pause_created_container),
        case!(update_flags_read_back),
        case!(update_resources_file_zero_means_unchanged),
        case!(update_resources_from_stdin),
        case!(update_burst_and_idle_flags).runc_lacks("--cpu-burst and --cpu-idle came with runc 1.2"),
        case!(update_stopped_container),
        case!(update_unsupported_flags),
        case!(events_stats_once),
        case!(events_stream_stats_and_oom),
        case!(events_errors),
        case!(ps_table_and_json),
        case!(ps_of_stopped_container),
    ]
}

/// A running container whose init counts in /tmp/counter, ten times a second (with a state
/// dir of its own when `private`, for `list`).
fn counter(private: bool) -> Ctr {
    let mut c = ctr("cgcount");
    if private {
        c.private_root();
    }
    c.sh("i=0; while :; do i=$((i+1)); echo $i > /tmp/counter; usleep 100000; done");
    c.run_with(&["--detach"]).ok();
    c
}

fn count(c: &Ctr) -> u64 {
    read(c.host_path("/tmp/counter")).trim().parse().unwrap_or(0)
}

/// How long a pause is watched for progress: long enough for several loop rounds even under
/// emulation (the VM lane).
const QUIET: Duration = Duration::from_millis(1500);

fn frozen_on_host(c: &Ctr) -> bool {
    if is_v2() {
        file(c, "", "cgroup.freeze") == "1" && kv(&file(c, "", "cgroup.events"), "frozen") == Some(1)
    } else {
        file(c, "freezer", "freezer.state") == "FROZEN"
    }
}

/// pause: the counter stops, state and list say paused, the host's freezer says frozen
/// (v1 freezer.state, v2 cgroup.freeze/cgroup.events); resume: it counts again.
fn pause_stops_progress_resume_restarts() {
    let c = counter(true);
    assert!(wait_until(Duration::from_secs(20), || count(&c) > 0), "the counter never started");
    c.rt(&["pause", &c.id]).ok();
    assert_eq!(c.status(), "paused");
    assert!(frozen_on_host(&c), "the host's side is not frozen");
    let list = c.rt(&["list", "--format", "json"]);
    list.ok();
    assert_eq!(list.json()[0]["status"], json!("paused"), "{list}");
    let a = count(&c);
    std::thread::sleep(QUIET);
    let b = count(&c);
    assert_eq!(a, b, "the counter moved while paused");
    c.rt(&["resume", &c.id]).ok();
    assert_eq!(c.status(), "running");
    assert!(!frozen_on_host(&c));
    assert!(wait_until(Duration::from_secs(20), || count(&c) > b), "the counter did not move after resume");
}

fn pause_and_resume_errors() {
    let c = counter(false);
    c.rt(&["resume", &c.id]).failed().stderr_has("container not paused");
    c.rt(&["pause", &c.id]).ok();
    c.rt(&["pause", &c.id]).failed().stderr_has("container not running");
    c.rt(&["resume", &c.id]).ok();
    c.kill("KILL").ok();
    c.wait_status("stopped", Duration::from_secs(10));
    c.rt(&["pause", &c.id]).failed().stderr_has("container not running");
    c.rt(&["resume", &c.id]).failed().stderr_has("container not paused");
    for verb in ["pause", "resume"] {
        c.rt(&[verb, "rt-no-such-container"]).failed().stderr_has("container does not exist");
    }
}

/// runc pauses a created container too; resumed, it is created again and can start.
fn pause_created_container() {
    let mut c = ctr("cgpausecreated");
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    c.rt(&["pause", &c.id]).ok();
    assert_eq!(c.status(), "paused");
    c.rt(&["resume", &c.id]).ok();
    assert_eq!(c.status(), "created");
    c.start().ok();
    assert_eq!(c.status(), "running");
}

/// What each resource reads back as after an update, per layout: (controller, file, value).
fn expected_after_flags() -> Vec<(&'static str, &'static str, &'static str)> {
    if is_v2() {
        vec![
            ("memory", "memory.max", "134217728"),
            ("memory", "memory.low", "67108864"),
            ("memory", "memory.swap.max", "134217728"),
            ("cpu", "cpu.weight", "35"),
            ("cpu", "cpu.max", "30000 150000"),
            ("cpuset", "cpuset.cpus", "0"),
            ("cpuset", "cpuset.mems", "0"),
            ("pids", "pids.max", "25"),
        ]
    } else {
        vec![
            ("memory", "memory.limit_in_bytes", "134217728"),
            ("memory", "memory.soft_limit_in_bytes", "67108864"),
            ("memory", "memory.memsw.limit_in_bytes", "268435456"),
            ("cpu", "cpu.shares", "256"),
            ("cpu", "cpu.cfs_quota_us", "30000"),
            ("cpu", "cpu.cfs_period_us", "150000"),
            ("cpuset", "cpuset.cpus", "0"),
            ("cpuset", "cpuset.mems", "0"),
            ("pids", "pids.max", "25"),
        ]
    }
}

fn sleeper(name: &str, resources: Value) -> Ctr {
    let mut c = ctr(name);
    c.set("/linux/resources", resources);
    c.args(&["/bin/sleep", "1000"]);
    c.run_with(&["--detach"]).ok();
    c
}

fn base_resources() -> Value {
    json!({
        "devices": [{ "allow": false, "access": "rwm" }],
        "memory": { "limit": 67108864 },
        "cpu": { "shares": 512, "quota": 20000, "period": 100000 },
        "pids": { "limit": 30 }
    })
}

/// runc's flag forms, sizes with units; each value read back from the host side. blkio weight
/// too where the kernel has one.
fn update_flags_read_back() {
    let c = sleeper("cgupdflags", base_resources());
    c.rt(&[
        "update",
        "--memory",
        "128m",
        "--memory-reservation",
        "64M",
        "--memory-swap",
        "256m",
        "--cpu-share",
        "256",
        "--cpu-quota",
        "30000",
        "--cpu-period",
        "150000",
        "--cpuset-cpus",
        "0",
        "--cpuset-mems",
        "0",
        "--pids-limit",
        "25",
        &c.id,
    ])
    .ok();
    for (ctrl, f, want) in expected_after_flags() {
        assert_eq!(file(&c, ctrl, f), want, "{f}");
    }
    // blkio weight, where this kernel has a weight file
    let d = dir(&c, if is_v2() { "io" } else { "blkio" });
    let weight_file = ["blkio.weight", "blkio.bfq.weight", "io.bfq.weight", "io.weight"].into_iter().find(|f| d.join(f).exists());
    if let Some(f) = weight_file {
        c.rt(&["update", "--blkio-weight", "200", &c.id]).ok();
        let want = if f == "io.weight" { "1920" } else { "200" };
        let text = read(d.join(f));
        assert_eq!(text.lines().next().unwrap_or("").trim().trim_start_matches("default "), want, "{f}: {text}");
    }
}

fn write_misc(name: &str, content: &str) -> std::path::PathBuf {
    let p = rig().misc_dir().join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// Docker's `update --resources -` JSON: every field, zeros for "unchanged". Only the memory
/// limit changes; shares, quota, period and pids stay as created.
fn update_resources_file_zero_means_unchanged() {
    let c = sleeper("cgupdzero", base_resources());
    let before: Vec<(&str, &str, String)> =
        [("cpu", if is_v2() { "cpu.weight" } else { "cpu.shares" }), ("cpu", if is_v2() { "cpu.max" } else { "cpu.cfs_quota_us" }), ("pids", "pids.max")]
            .into_iter()
            .map(|(ctl, f)| (ctl, f, file(&c, ctl, f)))
            .collect();
    let docker = json!({
        "memory": { "limit": 100663296, "reservation": 0, "swap": 0, "kernel": 0, "kernelTCP": 0 },
        "cpu": { "shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0, "realtimePeriod": 0, "cpus": "", "mems": "" },
        "blockIO": { "weight": 0 },
        "pids": { "limit": 0 }
    });
    let f = write_misc(&format!("{}.update.json", c.id), &docker.to_string());
    c.rt(&["update", "--resources", &f.to_string_lossy(), &c.id]).ok();
    assert_eq!(file(&c, "memory", if is_v2() { "memory.max" } else { "memory.limit_in_bytes" }), "100663296");
    for (ctl, f, v) in before {
        assert_eq!(file(&c, ctl, f), v, "{f} changed by zeros");
    }
    // A malformed file: the JSON error, nothing changed.
    let bad = write_misc(&format!("{}.bad.json", c.id), r#"{"memory":{"limit":"lots"}}"#);
    c.rt(&["update", "-r", &bad.to_string_lossy(), &c.id]).failed();
    assert_eq!(file(&c, "memory", if is_v2() { "memory.max" } else { "memory.limit_in_bytes" }), "100663296");
}

/// `update -r -`: the JSON on stdin, as containerd's shim sends it.
fn update_resources_from_stdin() {
    let c = sleeper("cgupdstdin", base_resources());
    let input = write_misc(&format!("{}.stdin.json", c.id), r#"{"pids":{"limit":17},"cpu":{"shares":2048}}"#);
    let mut cmd = Cmd::new("/bin/sh")
        .args(&["-c", "exec \"$@\" < \"$IN\"", "sh"])
        .arg(&rig().runtime)
        .args(&["--root"])
        .arg(&c.root)
        .args(&["update", "-r", "-", &c.id])
        .env("IN", &input)
        .in_cgroup(c.cg.procs_files());
    if c.cg.sandboxed {
        cmd = cmd.wrapped(c.cg.sandbox_wrapper());
    }
    let o: Output = cmd.output_in(&c.dir);
    o.ok();
    assert_eq!(file(&c, "pids", "pids.max"), "17");
    assert_eq!(file(&c, "cpu", if is_v2() { "cpu.weight" } else { "cpu.shares" }), if is_v2() { "174" } else { "2048" });
}

/// runc 1.2's --cpu-burst and --cpu-idle: 0 is a value there (burst off, idle off).
fn update_burst_and_idle_flags() {
    let c = sleeper("cgupdburst", base_resources());
    let burst = if is_v2() { "cpu.max.burst" } else { "cpu.cfs_burst_us" };
    if dir(&c, "cpu").join(burst).exists() {
        c.rt(&["update", "--cpu-burst", "15000", &c.id]).ok();
        assert_eq!(file(&c, "cpu", burst), "15000");
        c.rt(&["update", "--cpu-burst", "0", &c.id]).ok();
        assert_eq!(file(&c, "cpu", burst), "0");
    }
    if dir(&c, "cpu").join("cpu.idle").exists() {
        c.rt(&["update", "--cpu-idle", "1", &c.id]).ok();
        assert_eq!(file(&c, "cpu", "cpu.idle"), "1");
        c.rt(&["update", "--cpu-idle", "0", &c.id]).ok();
        assert_eq!(file(&c, "cpu", "cpu.idle"), "0");
    }
}

fn update_stopped_container() {
    let c = sleeper("cgupdstopped", base_resources());
    c.kill("KILL").ok();
    c.wait_status("stopped", Duration::from_secs(10));
    c.rt(&["update", "--memory", "32m", &c.id]).failed().stderr_has("container not running");
    c.rt(&["update", "--memory", "32m", "rt-no-such-container"]).failed().stderr_has("container does not exist");
}

/// The hidden flags: kernel memory is ignored with a warning (runc 1.1 does the same); Intel
/// RDT, which rt does not do, is an error.
fn update_unsupported_flags() {
    let c = sleeper("cgupdunsup", base_resources());
    let o = c.rt(&["update", "--kernel-memory", "64m", &c.id]);
    o.ok();
    assert!(o.stderr.to_lowercase().contains("kernel memory"), "no warning about kernel memory: {o}");
    let o = c.rt(&["update", "--l3-cache-schema", "L3:0=f", &c.id]);
    o.failed();
    if rig().is_rt() {
        o.stderr_has("--l3-cache-schema: Intel RDT (resctrl) is not supported by rt");
    }
    c.rt(&["update", "--memory", "lots", &c.id]).failed().stderr_has("invalid value for memory");
}

/// `events --stats`: one line, runc's shape, numbers that fit what the container is.
fn events_stats_once() {
    let c = sleeper("cgstats", base_resources());
    let o = c.rt(&["events", "--stats", &c.id]);
    o.ok();
    assert_eq!(o.stdout.lines().count(), 1, "{o}");
    assert!(o.stdout.ends_with("}\n"), "{o}");
    let e: Value = serde_json::from_str(o.stdout.trim()).unwrap();
    assert_eq!(e["type"], json!("stats"));
    assert_eq!(e["id"], json!(c.id));
    let d = &e["data"];
    for k in ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"] {
        assert!(d.get(k).is_some(), "data.{k} missing: {d}");
    }
    assert_eq!(d["memory"]["usage"]["limit"], json!(67108864), "{}", d["memory"]);
    let usage = d["memory"]["usage"]["usage"].as_u64().unwrap_or(0);
    assert!(usage > 0 && usage < 67108864, "memory usage {usage}");
    assert!(d["pids"]["current"].as_u64().unwrap_or(0) >= 1, "{}", d["pids"]);
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0, "{}", d["cpu"]);
    assert!(d["memory"]["raw"].as_object().is_some_and(|m| !m.is_empty()), "memory.raw (memory.stat) empty");
    if !is_v2() {
        assert!(d["cpuset"]["cpus"].as_array().is_some_and(|a| !a.is_empty()), "{}", d["cpuset"]);
        assert!(d["cpu"]["usage"]["percpu"].as_array().is_some_and(|a| !a.is_empty()), "{}", d["cpu"]);
    }
}

/// `events` without --stats: a stats line every interval and an `oom` line when the kernel
/// kills a process of the container for memory; the stream ends when the container stops.
fn events_stream_stats_and_oom() {
    let mut c = ctr("cgevents");
    c.set("/linux/resources/memory", json!({ "limit": 16777216 }));
    // the hog starts once the stream is listening (the file appears), then the init idles
    c.sh(&format!("while [ ! -e /tmp/go ]; do usleep 50000; done; {}; exec sleep 1000", super::cgroups_res::HOG));
    c.run_with(&["--detach"]).ok();
    let ev = c.cmd().args(&["events", "--interval", "1s", &c.id]).timeout(Duration::from_secs(120)).spawn_in(&c.dir);
    let lines = || -> Vec<Value> { read(&ev.out_path).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}"))).collect() };
    // The first stats line says the stream listens for OOM kills (slow under emulation).
    assert!(wait_until(Duration::from_secs(60), || !lines().is_empty()), "no event at all: {}", read(&ev.err_path));
    std::fs::write(c.host_path("/tmp/go"), "").unwrap();
    let got = wait_until(Duration::from_secs(60), || {
        let l = lines();
        l.iter().any(|e| e["type"] == "oom") && l.iter().filter(|e| e["type"] == "stats").count() >= 2
    });
    assert!(got, "no oom event and two stats events: {}\nstderr: {}", read(&ev.out_path), read(&ev.err_path));
    for e in lines() {
        assert_eq!(e["id"], json!(c.id), "{e}");
        match e["type"].as_str() {
            Some("oom") => assert_eq!(e, json!({ "type": "oom", "id": c.id })),
            Some("stats") => assert!(e["data"]["memory"].is_object(), "{e}"),
            other => panic!("unexpected event type {other:?}: {e}"),
        }
    }
    c.kill("KILL").ok();
    if rig().is_rt() {
        let o = ev.wait_for(Duration::from_secs(30));
        assert_eq!(o.code, 0, "events did not end cleanly when the container stopped: {o}");
    }
    // runc 1.1.5 on cgroup v1 streams on until the cgroup is removed (delete); the rig ends
    // its `events` when `ev` is dropped.
}

fn events_errors() {
    let c = sleeper("cgeventserr", base_resources());
    c.rt(&["events", "--interval", "0s", &c.id]).failed().stderr_has("duration interval must be greater than 0");
    c.kill("KILL").ok();
    c.wait_status("stopped", Duration::from_secs(10));
    for args in [vec!["events", "--stats"], vec!["events"]] {
        let mut a = args.clone();
        a.push(&c.id);
        c.rt(&a).failed().stderr_has(&format!("container with id {} is not running", c.id));
    }
    c.rt(&["events", "--stats", "rt-no-such-container"]).failed().stderr_has("container does not exist");
}

/// ps: the JSON list of the container's pids (host pids), the host's `ps -ef` cut down to
/// them, and extra arguments passed to ps.
fn ps_table_and_json() {
    let mut c = ctr("cgps");
    c.sh("sleep 1001 & exec sleep 1000");
    c.run_with(&["--detach"]).ok();
    let init = c.pid();
    assert!(wait_until(Duration::from_secs(20), || read(dir(&c, "pids").join("cgroup.procs")).lines().count() == 2), "two processes expected");
    let o = c.rt(&["ps", "--format", "json", &c.id]);
    o.ok();
    assert!(o.stdout.ends_with("]\n"), "{o}");
    let mut pids: Vec<i64> = serde_json::from_str::<Vec<i64>>(o.stdout.trim()).unwrap();
    pids.sort();
    assert_eq!(pids.len(), 2, "{o}");
    assert!(pids.contains(&(init as i64)), "init {init} not in {pids:?}");

    let o = c.rt(&["ps", &c.id]);
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(lines[0].split_whitespace().any(|t| t == "PID") && lines[0].contains("CMD"), "header: {o}");
    assert_eq!(lines.len(), 3, "{o}");
    let col = lines[0].split_whitespace().position(|t| t == "PID").unwrap();
    let mut shown: Vec<i64> = lines[1..].iter().map(|l| l.split_whitespace().nth(col).unwrap().parse().unwrap()).collect();
    shown.sort();
    assert_eq!(shown, pids);
    assert!(o.stdout.contains("sleep 1000") && o.stdout.contains("sleep 1001"), "{o}");

    let o = c.rt(&["ps", &c.id, "-o", "pid,comm"]);
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["PID", "COMMAND"], "{o}");
    assert_eq!(lines.len(), 3, "{o}");
    assert!(lines[1..].iter().all(|l| l.trim_end().ends_with("sleep")), "{o}");

    c.rt(&["ps", "rt-no-such-container"]).failed().stderr_has("container does not exist");
}

fn ps_of_stopped_container() {
    let mut c = ctr("cgpsstopped");
    c.args(&["/bin/sleep", "1000"]);
    c.run_with(&["--detach"]).ok();
    c.kill("KILL").ok();
    c.wait_status("stopped", Duration::from_secs(10));
    let o = c.rt(&["ps", "-f", "json", &c.id]);
    o.ok();
    assert_eq!(o.stdout, "null\n");
    let o = c.rt(&["ps", &c.id]);
    o.ok();
    assert_eq!(o.stdout.lines().count(), 1, "only the header: {o}");
}
