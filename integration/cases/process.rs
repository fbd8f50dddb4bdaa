//! Process setup: hostname, domainname, sysctl, rlimits, oomScoreAdj, user (uid, gid,
//! additionalGids, umask, HOME from the container's /etc/passwd), cwd, env, argv,
//! noNewPrivileges, the five capability sets, personality, scheduler, ioPriority, memoryPolicy.

use crate::case;
use crate::rig::{read, Case, Ctr};
use serde_json::json;

pub fn cases() -> Vec<Case> {
    vec![
        case!(hostname),
        case!(no_signal_ignored_or_blocked),
        case!(domainname).runc_lacks("runc 1.1.5 ignores domainname (added in 1.2)"),
        case!(sysctls),
        case!(sysctl_in_joined_network_namespace),
        case!(rlimits_applied),
        case!(rlimits_unset_are_inherited),
        case!(rlimit_above_host_hard_limit_fails),
        case!(rlimit_error_names_the_limit).rt_only("runc says `error setting rlimit type 7`; rt names RLIMIT_NOFILE"),
        case!(oom_score_adj),
        case!(user_uid_gid),
        case!(additional_gids),
        case!(home_from_container_passwd),
        case!(home_kept_when_set),
        case!(umask_default_and_set),
        case!(cwd),
        case!(cwd_created_if_missing),
        case!(env_exact),
        case!(argv_exact),
        case!(no_new_privileges),
        case!(capabilities_root),
        case!(capabilities_five_sets_non_root),
        case!(capabilities_empty),
        case!(capabilities_rt_lacks_are_dropped_with_a_warning),
        case!(personality_linux32).runc_lacks("runc 1.1.5 ignores linux.personality (added in 1.2)"),
        case!(scheduler_policy_and_nice).runc_lacks("runc 1.1.5 ignores process.scheduler (added in 1.2)"),
        case!(scheduler_priority_outside_realtime_fails).runc_lacks("runc 1.1.5 ignores process.scheduler (added in 1.2)"),
        case!(io_priority_class_and_level).runc_lacks("runc 1.1.5 ignores process.ioPriority (added in 1.2)"),
        case!(memory_policy_bind_and_interleave).runc_lacks("runc 1.1.5 ignores linux.memoryPolicy (added in 1.3)"),
        case!(memory_policy_on_a_missing_node_fails).runc_lacks("runc 1.1.5 ignores linux.memoryPolicy (added in 1.3)"),
    ]
}

fn hostname() {
    let mut c = Ctr::new("hostname");
    c.set("/hostname", json!("my-host.example"));
    assert_eq!(c.probe().str("hostname"), "my-host.example");
}

fn domainname() {
    let mut c = Ctr::new("domainname");
    c.set("/domainname", json!("example.org"));
    let p = c.probe();
    assert_eq!(p.str("domainname"), "example.org");
    assert_eq!(p.str("hostname"), "rt-test");
}

fn sysctls() {
    let host_msgmax = read("/proc/sys/kernel/msgmax");
    let mut c = Ctr::new("sysctl");
    c.set("/linux/sysctl", json!({ "net.ipv4.ip_forward": "1", "net.core.somaxconn": "1234", "kernel.msgmax": "4096" }));
    let v = c.probe_sub(&["sysctl", "net.ipv4.ip_forward", "net.core.somaxconn", "kernel.msgmax"]);
    assert_eq!(v, json!({ "net.ipv4.ip_forward": "1", "net.core.somaxconn": "1234", "kernel.msgmax": "4096" }));
    // the host's values are untouched
    assert_eq!(read("/proc/sys/kernel/msgmax"), host_msgmax);
}

/// A pod's containers join one network namespace: its sysctls are theirs to set, and the
/// value is what the other container sees.
fn sysctl_in_joined_network_namespace() {
    let host = read("/proc/sys/net/ipv4/tcp_keepalive_time");
    let mut pod = Ctr::new("sysctlpod");
    pod.args(&["/bin/sleep", "60"]);
    pod.run_with(&["--detach"]).ok();
    let ns = format!("/proc/{}/ns/net", pod.pid());
    let mut c = Ctr::new("sysctljoin");
    c.ns("network", Some(&ns));
    c.set("/linux/sysctl", json!({ "net.ipv4.tcp_keepalive_time": "1234" }));
    c.probe_args(&["exit", "0"]);
    c.run().ok();
    let mut d = Ctr::new("sysctlpeer");
    d.ns("network", Some(&ns));
    assert_eq!(d.probe_sub(&["sysctl", "net.ipv4.tcp_keepalive_time"]), json!({ "net.ipv4.tcp_keepalive_time": "1234" }));
    assert_eq!(read("/proc/sys/net/ipv4/tcp_keepalive_time"), host, "the host's value changed");
    pod.delete_force().ok();
}

fn rlimits_applied() {
    let mut c = Ctr::new("rlimits");
    c.set(
        "/process/rlimits",
        json!([
            { "type": "RLIMIT_NOFILE", "soft": 1234, "hard": 2345 },
            { "type": "RLIMIT_CORE", "soft": 1000, "hard": 2000 },
            { "type": "RLIMIT_NPROC", "soft": 300, "hard": 400 },
            { "type": "RLIMIT_MSGQUEUE", "soft": 8192, "hard": 16384 }
        ]),
    );
    let p = c.probe();
    assert_eq!(p.rlimit("RLIMIT_NOFILE"), (1234, 2345));
    assert_eq!(p.rlimit("RLIMIT_CORE"), (1000, 2000));
    assert_eq!(p.rlimit("RLIMIT_NPROC"), (300, 400));
    assert_eq!(p.rlimit("RLIMIT_MSGQUEUE"), (8192, 16384));
}

/// Limits the config does not name are the runtime's own (inherited).
fn rlimits_unset_are_inherited() {
    let mut c = Ctr::new("rlimitsinh");
    c.set("/process/rlimits", json!([]));
    let p = c.probe();
    let mut ours = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into a valid struct.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut ours) };
    assert_eq!(p.rlimit("RLIMIT_NOFILE"), (ours.rlim_cur, ours.rlim_max));
}

fn too_high_nofile(c: &mut Ctr) {
    // the host's hard limit here is 20000 and root lacks CAP_SYS_RESOURCE
    let mut ours = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into a valid struct.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut ours) };
    let too_high = ours.rlim_max.saturating_add(10000);
    c.set("/process/rlimits", json!([{ "type": "RLIMIT_NOFILE", "soft": too_high, "hard": too_high }]));
}

/// A limit above what the host allows fails the create clearly, leaving nothing behind.
fn rlimit_above_host_hard_limit_fails() {
    let mut c = Ctr::new("rlimithigh");
    too_high_nofile(&mut c);
    let o = c.create();
    o.failed();
    assert!(o.stderr.to_lowercase().contains("rlimit"), "the error does not mention the rlimit: {o}");
    c.assert_clean();
}

fn rlimit_error_names_the_limit() {
    let mut c = Ctr::new("rlimitname");
    too_high_nofile(&mut c);
    let o = c.create();
    o.failed().stderr_has("RLIMIT_NOFILE");
    assert_eq!(o.stderr_lines().len(), 1, "one line expected: {o}");
    c.assert_clean();
}

fn oom_score_adj() {
    let mut c = Ctr::new("oom");
    c.set("/process/oomScoreAdj", json!(500));
    assert_eq!(c.probe().get("oom_score_adj"), &json!(500));
    let mut d = Ctr::new("oominherit");
    let ours: i64 = read("/proc/self/oom_score_adj").trim().parse().unwrap();
    assert_eq!(d.probe().get("oom_score_adj"), &json!(ours));
}

fn user_uid_gid() {
    let mut c = Ctr::new("user");
    c.set("/process/user", json!({ "uid": 1000, "gid": 1001 }));
    let p = c.probe();
    for w in ["real", "effective", "saved", "fs"] {
        assert_eq!(p.uid(w), 1000, "uid {w}: {}", p.get("uid"));
        assert_eq!(p.gid(w), 1001, "gid {w}: {}", p.get("gid"));
    }
    assert_eq!(p.groups(), Vec::<u64>::new(), "no additionalGids, no supplementary groups");
}

fn additional_gids() {
    let mut c = Ctr::new("addgids");
    c.set("/process/user", json!({ "uid": 1000, "gid": 1000, "additionalGids": [29, 100, 4242] }));
    let mut g = c.probe().groups();
    g.sort();
    assert_eq!(g, [29, 100, 4242]);
}

/// HOME comes from the container's /etc/passwd (uid 1000 is `user`, home /home/user; the host's
/// uid 1000 has another home), and is "/" for a uid without an entry.
fn home_from_container_passwd() {
    let mut c = Ctr::new("home");
    c.set("/process/user", json!({ "uid": 1000, "gid": 1000 }));
    assert_eq!(c.probe().env_var("HOME").as_deref(), Some("/home/user"));
    let mut r = Ctr::new("homeroot");
    assert_eq!(r.probe().env_var("HOME").as_deref(), Some("/root"));
    let mut n = Ctr::new("homenone");
    n.set("/process/user", json!({ "uid": 4242, "gid": 4242 }));
    assert_eq!(n.probe().env_var("HOME").as_deref(), Some("/"));
}

fn home_kept_when_set() {
    let mut c = Ctr::new("homeset");
    c.set("/process/user", json!({ "uid": 1000, "gid": 1000 }));
    c.env("HOME=/custom");
    assert_eq!(c.probe().env_var("HOME").as_deref(), Some("/custom"));
}

fn umask_default_and_set() {
    let mut c = Ctr::new("umaskdef");
    assert_eq!(c.probe().str("umask"), "0022");
    let mut d = Ctr::new("umask");
    d.set("/process/user/umask", json!(0o077));
    assert_eq!(d.probe().str("umask"), "0077");
}

fn cwd() {
    let mut c = Ctr::new("cwd");
    c.set("/process/cwd", json!("/home/user"));
    assert_eq!(c.probe().str("cwd"), "/home/user");
}

fn cwd_created_if_missing() {
    let mut c = Ctr::new("cwdmk");
    c.set("/process/cwd", json!("/new/work/dir"));
    assert_eq!(c.probe().str("cwd"), "/new/work/dir");
    assert!(c.host_path("/new/work/dir").is_dir());
}

/// The environment is the config's, in order, plus HOME appended when missing.
fn env_exact() {
    let mut c = Ctr::new("env");
    c.set("/process/env", json!(["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY=", "DUP=1", "X=a=b"]));
    let p = c.probe();
    assert_eq!(p.env(), ["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY=", "DUP=1", "X=a=b", "HOME=/root"]);
}

fn argv_exact() {
    let mut c = Ctr::new("argv");
    c.args(&["/bin/probe", "info", "with space", "", "ünïcode", "--flag=x"]);
    let o = c.run();
    o.ok();
    assert_eq!(o.json()["argv"], json!(["/bin/probe", "info", "with space", "", "ünïcode", "--flag=x"]));
}

/// The container's process starts with every signal at its default and none blocked, through
/// `run` (where rt blocks what it forwards) and through create + start: an ignored SIGPIPE,
/// say, would survive execve into the user's program.
fn no_signal_ignored_or_blocked() {
    // busybox's cat, not the probe: a Rust program's start-up ignores SIGPIPE itself
    let mut c = Ctr::new("sigstate");
    c.args(&["/bin/cat", "/proc/self/status"]);
    let status = c.run().stdout;
    for key in ["SigBlk:", "SigIgn:"] {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key} in {status}"));
        assert_eq!(line.split_whitespace().nth(1), Some("0000000000000000"), "run: {line}");
    }
    let mut d = Ctr::new("sigstate2");
    d.args(&["/bin/cat", "/proc/self/status"]);
    let created = d.create();
    created.ok();
    d.start().ok();
    d.wait_status("stopped", std::time::Duration::from_secs(10));
    let out = created.stdout_now();
    for key in ["SigBlk:", "SigIgn:"] {
        let line = out.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key} in {out}"));
        assert_eq!(line.split_whitespace().nth(1), Some("0000000000000000"), "create + start: {line}");
    }
}

fn no_new_privileges() {
    let mut c = Ctr::new("nnp");
    c.set("/process/noNewPrivileges", json!(true));
    assert_eq!(c.probe().get("no_new_privs"), &json!(true));
    let mut d = Ctr::new("nonnp");
    d.set("/process/noNewPrivileges", json!(false));
    assert_eq!(d.probe().get("no_new_privs"), &json!(false));
}

fn five_sets(c: &mut Ctr) {
    c.set(
        "/process/capabilities",
        json!({
            "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
            "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_CHOWN", "CAP_KILL"],
            "ambient": ["CAP_NET_BIND_SERVICE"]
        }),
    );
}

/// As root with noNewPrivileges (the default config), execve keeps the permitted set the
/// runtime gave (no gain under NNP) and makes it effective.
fn capabilities_root() {
    let mut c = Ctr::new("capsroot");
    five_sets(&mut c);
    let p = c.probe();
    assert_eq!(p.caps("bounding"), ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]);
    assert_eq!(p.caps("permitted"), ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    assert_eq!(p.caps("effective"), ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    assert_eq!(p.caps("inheritable"), ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]);
    assert_eq!(p.caps("ambient"), ["CAP_NET_BIND_SERVICE"]);
}

/// As uid 1000, after execve: bounding and inheritable as configured, and the ambient set is
/// what remains permitted and effective.
fn capabilities_five_sets_non_root() {
    let mut c = Ctr::new("capsuser");
    five_sets(&mut c);
    c.set("/process/user", json!({ "uid": 1000, "gid": 1000 }));
    let p = c.probe();
    assert_eq!(p.caps("bounding"), ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]);
    assert_eq!(p.caps("inheritable"), ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]);
    assert_eq!(p.caps("ambient"), ["CAP_NET_BIND_SERVICE"]);
    assert_eq!(p.caps("permitted"), ["CAP_NET_BIND_SERVICE"]);
    assert_eq!(p.caps("effective"), ["CAP_NET_BIND_SERVICE"]);
}

/// runtime-spec 1.3: a capability the runtime cannot grant is logged as a warning and the
/// container runs with the others (Docker's --privileged on a host whose root lacks one).
/// rt starts without CAP_SYS_TIME and CAP_SYS_RESOURCE: setpriv drops them from its bounding
/// set, so its exec leaves them out of its permitted set.
fn capabilities_rt_lacks_are_dropped_with_a_warning() {
    let last: u32 = read("/proc/sys/kernel/cap_last_cap").trim().parse().unwrap();
    let known: Vec<String> = caps::all().into_iter().filter(|c| u32::from(c.index()) <= last).map(|c| c.to_string()).collect();
    let mut c = Ctr::new("capslack");
    c.caps(&known.iter().map(String::as_str).collect::<Vec<_>>());
    c.args(&["/bin/probe"]);
    c.write_config();
    let mut wrapper: Vec<std::ffi::OsString> = ["setpriv", "--bounding-set", "-sys_time,-sys_resource"].iter().map(Into::into).collect();
    if c.cg.sandboxed {
        wrapper.extend(c.cg.sandbox_wrapper());
    }
    let bundle = c.dir.to_string_lossy().into_owned();
    let o = c.cmd().wrapped(wrapper).args(&["run", "--bundle", &bundle, &c.id]).output_in(&c.dir);
    o.ok().stderr_has("rt cannot grant CAP_SYS_RESOURCE, CAP_SYS_TIME: the process runs without them");
    let p = crate::rig::probe::Probe::new(o.json());
    let want: Vec<String> = {
        let mut w: Vec<String> = known.iter().filter(|n| *n != "CAP_SYS_TIME" && *n != "CAP_SYS_RESOURCE").cloned().collect();
        w.sort();
        w
    };
    for set in ["bounding", "permitted", "effective", "inheritable", "ambient"] {
        assert_eq!(p.caps(set), want, "{set}");
    }
}

fn capabilities_empty() {
    let mut c = Ctr::new("capsnone");
    c.caps(&[]);
    let p = c.probe();
    for set in ["bounding", "permitted", "effective", "inheritable", "ambient"] {
        assert_eq!(p.caps(set), Vec::<String>::new(), "{set}");
    }
    // and the privilege is really gone: chown fails without CAP_CHOWN
    let mut d = Ctr::new("capsnone2");
    d.caps(&[]);
    d.sh("chown 1000 /tmp 2>&1; echo rc=$?");
    let o = d.run();
    assert!(o.stdout.contains("rc=1"), "chown worked without CAP_CHOWN: {o}");
}

fn personality_linux32() {
    let mut c = Ctr::new("persona");
    c.set("/linux/personality", json!({ "domain": "LINUX32" }));
    let p = c.probe();
    assert_eq!(p.get("personality").as_i64().unwrap() & 0xff, 0x0008, "PER_LINUX32: {}", p.get("personality"));
}

fn scheduler_policy_and_nice() {
    let mut c = Ctr::new("schedbatch");
    c.set("/process/scheduler", json!({ "policy": "SCHED_BATCH", "nice": 7 }));
    let s = c.probe().get("sched").clone();
    assert_eq!((s["policy"].as_u64(), s["nice"].as_i64()), (Some(libc::SCHED_BATCH as u64), Some(7)), "sched: {s}");
    let mut d = Ctr::new("schedidle");
    d.set("/process/scheduler", json!({ "policy": "SCHED_IDLE" }));
    assert_eq!(d.probe().get("sched")["policy"], json!(libc::SCHED_IDLE));
}

/// Refused before anything is made, naming the field.
fn scheduler_priority_outside_realtime_fails() {
    let mut c = Ctr::new("schedprio");
    c.set("/process/scheduler", json!({ "policy": "SCHED_OTHER", "priority": 5 }));
    let o = c.create();
    o.failed().stderr_has("process.scheduler.priority");
    assert_eq!(o.stderr_lines().len(), 1, "one line expected: {o}");
    c.assert_clean();
}

fn io_priority_class_and_level() {
    let mut c = Ctr::new("ioprio");
    c.set("/process/ioPriority", json!({ "class": "IOPRIO_CLASS_BE", "priority": 6 }));
    assert_eq!(c.probe().get("ioprio"), &json!({ "class": 2, "level": 6 }));
    let mut d = Ctr::new("iopriodle");
    d.set("/process/ioPriority", json!({ "class": "IOPRIO_CLASS_IDLE", "priority": 0 }));
    assert_eq!(d.probe().get("ioprio")["class"], json!(3));
}

fn memory_policy_bind_and_interleave() {
    let mut c = Ctr::new("mpolbind");
    c.set("/linux/memoryPolicy", json!({ "mode": "MPOL_BIND", "nodes": "0" }));
    assert_eq!(c.probe().get("mempolicy"), &json!({ "mode": 2, "flags": 0, "nodes": [0] }));
    let mut d = Ctr::new("mpolinter");
    d.set("/linux/memoryPolicy", json!({ "mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"] }));
    assert_eq!(d.probe().get("mempolicy"), &json!({ "mode": 3, "flags": 1 << 15, "nodes": [0] }));
    let mut e = Ctr::new("mpoldefault");
    assert_eq!(e.probe().get("mempolicy")["mode"], json!(0), "the host's default is inherited");
}

/// The kernel refuses a node the machine does not have: the error names the field, nothing
/// is left behind.
fn memory_policy_on_a_missing_node_fails() {
    let mut c = Ctr::new("mpolmissing");
    c.set("/linux/memoryPolicy", json!({ "mode": "MPOL_BIND", "nodes": "1000" }));
    let o = c.create();
    o.failed().stderr_has("linux.memoryPolicy");
    assert_eq!(o.stderr_lines().len(), 1, "one line expected: {o}");
    c.assert_clean();
}
