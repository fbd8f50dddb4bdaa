//! `exec`: a new process in a running container. Each test asserts what the exec'd process
//! sees (through the probe) against what the container's init sees, from the host.

use crate::case;
use crate::rig::probe::Probe;
use crate::rig::{read, Case, Ctr, Output};
use serde_json::{json, Value};
use std::time::Duration;

pub fn cases() -> Vec<Case> {
    vec![
        case!(exec_sees_the_inits_namespaces_hostname_and_mounts),
        case!(exec_joins_the_containers_cgroup),
        case!(exec_into_a_sub_cgroup).runc_lacks("runc 1.1.5 has no exec --cgroup (added in 1.2)"),
        case!(exec_ps_shows_the_init_as_pid_1),
        case!(exec_process_file),
        case!(exec_flags_env_cwd_user_groups),
        case!(exec_cap_and_no_new_privs),
        case!(exec_exit_codes),
        case!(exec_missing_program_is_255_naming_it),
        case!(exec_detach_writes_the_pid_file),
        case!(exec_into_stopped_unknown_and_paused),
        case!(exec_into_a_created_container),
        case!(exec_comm_is_the_name_it_was_started_as),
        case!(exec_preserve_fds),
        case!(exec_gets_the_containers_rlimits_and_umask),
        case!(exec_bad_process_file_names_the_field),
    ]
}

/// A container whose init sleeps, started detached.
fn running(name: &str) -> Ctr {
    let mut c = Ctr::new(name);
    c.args(&["/bin/sleep", "1000"]);
    c.run_with(&["--detach"]).ok();
    c
}

fn exec(c: &Ctr, args: &[&str]) -> Output {
    let mut a = vec!["exec"];
    a.extend_from_slice(args);
    c.rt(&a)
}

/// runc's exec exits 255 on every failure of its own (`exec failed: ...`), whatever the
/// process would have returned; nothing is started.
#[track_caller]
fn exec_failed(o: &Output) -> &Output {
    o.code(255);
    o.stderr_has("exec failed");
    o
}

/// `exec [FLAGS] ID /bin/probe SUB...`, parsed.
#[track_caller]
fn exec_probe(c: &Ctr, flags: &[&str], sub: &[&str]) -> Probe {
    let mut a: Vec<&str> = flags.to_vec();
    a.push(&c.id);
    a.push("/bin/probe");
    a.extend_from_slice(sub);
    let o = exec(c, &a);
    o.ok();
    Probe::new(o.json())
}

fn link(path: String) -> String {
    std::fs::read_link(&path).map(|p| p.display().to_string()).unwrap_or_else(|e| format!("{path}: {e}"))
}

fn exec_sees_the_inits_namespaces_hostname_and_mounts() {
    let c = running("exec-ns");
    let init = c.pid();
    let p = exec_probe(&c, &[], &[]);
    for ns in ["mnt", "pid", "net", "ipc", "uts", "cgroup"] {
        assert_eq!(p.ns(ns), link(format!("/proc/{init}/ns/{ns}")), "exec is not in the init's {ns} namespace");
    }
    assert_eq!(p.str("hostname"), "rt-test");
    let pid = p.pid();
    assert!(pid > 1 && pid < 100, "exec's pid {pid} is not a pid of the container's namespace");
    // the same mount table as the init (mountinfo of a process is seen from its own root)
    let init_mounts: Vec<String> = read(format!("/proc/{init}/mountinfo")).lines().filter_map(|l| l.split(' ').nth(4).map(str::to_owned)).collect();
    assert_eq!(p.mount_points(), init_mounts, "exec sees other mounts than the init");
    assert_eq!(p.str("cwd"), "/");
}

fn exec_joins_the_containers_cgroup() {
    let c = running("exec-cgroup");
    let init = c.pid();
    let p = exec_probe(&c, &[], &[]);
    let mine: Vec<String> = p.get("cgroup").as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_owned()).collect();
    let theirs: Vec<String> = read(format!("/proc/{init}/cgroup")).lines().map(str::to_owned).collect();
    assert_eq!(mine, theirs, "exec's cgroups differ from the init's");
}

fn exec_into_a_sub_cgroup() {
    let c = running("exec-subcg");
    let init = c.pid();
    // make the sub-cgroup in every hierarchy, from the host, where the init's cgroup is
    let mut made = Vec::new();
    for line in read(format!("/proc/{init}/cgroup")).lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrl, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        let mount = if ctrl.is_empty() { "/sys/fs/cgroup/unified".to_owned() } else { format!("/sys/fs/cgroup/{}", ctrl.trim_start_matches("name=")) };
        let mount = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() && ctrl.is_empty() { "/sys/fs/cgroup".to_owned() } else { mount };
        let dir = std::path::PathBuf::from(format!("{mount}{path}/sub"));
        if std::fs::create_dir(&dir).is_ok() {
            // a v1 cpuset cgroup takes no process until it has cpus and mems
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(v) = std::fs::read_to_string(dir.parent().unwrap().join(f)) {
                    let _ = std::fs::write(dir.join(f), v.trim());
                }
            }
            made.push(dir);
        }
    }
    let o = exec(&c, &["--cgroup", "sub", &c.id, "/bin/cat", "/proc/self/cgroup"]);
    let kill = c.kill("KILL");
    drop(kill);
    c.wait_status("stopped", Duration::from_secs(10));
    o.ok();
    // a pure v1 host still has a `0::/` line, for the cgroup2 hierarchy nobody mounted
    let v2_mounted = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() || std::path::Path::new("/sys/fs/cgroup/unified").is_dir();
    for line in o.stdout.lines().filter(|l| v2_mounted || !l.starts_with("0::")) {
        assert!(line.ends_with("/sub"), "exec --cgroup sub: {line:?} is not the sub-cgroup");
    }
    exec_failed(&exec(&c, &["--cgroup", "nosuch", &c.id, "/bin/true"]));
    for d in made.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
}

fn exec_ps_shows_the_init_as_pid_1() {
    let c = running("exec-ps");
    let o = exec(&c, &[&c.id, "ps", "-o", "pid,comm"]);
    o.ok();
    let first = o.stdout.lines().nth(1).unwrap_or_default().split_whitespace().collect::<Vec<_>>();
    assert_eq!(first, ["1", "sleep"], "ps in the container: {}", o.stdout);
}

fn exec_process_file() {
    let c = running("exec-pfile");
    let file = c.dir.join("process.json");
    let process = json!({
        "args": ["/bin/probe"],
        "env": ["PATH=/bin", "FROM_FILE=yes"],
        "cwd": "/tmp",
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [5]},
        "noNewPrivileges": true,
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]}
    });
    std::fs::write(&file, process.to_string()).unwrap();
    let o = exec(&c, &["--process", &file.display().to_string(), &c.id]);
    o.ok();
    let p = Probe::new(o.json());
    assert_eq!(p.env_var("FROM_FILE").as_deref(), Some("yes"));
    assert_eq!(p.env_var("HOSTNAME"), None, "the config's env does not leak into a --process process");
    assert_eq!(p.str("cwd"), "/tmp");
    assert_eq!((p.uid("effective"), p.gid("effective")), (1000, 1000));
    assert_eq!(p.groups(), [5]);
    assert_eq!(p.get("no_new_privs"), &json!(true));
    assert_eq!(p.caps("effective"), ["CAP_KILL"]);
    assert_eq!(p.caps("bounding"), ["CAP_KILL"]);
}

fn exec_flags_env_cwd_user_groups() {
    let c = running("exec-flags");
    let p = exec_probe(&c, &["-e", "FOO=bar", "-e", "TERM=dumb", "--cwd", "/tmp", "-u", "1000:100", "-g", "5", "-g", "6"], &[]);
    assert_eq!(p.env_var("FOO").as_deref(), Some("bar"));
    // runc 1.1.5 appends (the container's TERM stays first); rt replaces, as runc 1.2 does
    if crate::rig::rig().is_rt() {
        assert_eq!(p.env_var("TERM").as_deref(), Some("dumb"), "--env replaces the container's TERM");
        assert_eq!(p.env().iter().filter(|e| e.starts_with("TERM=")).count(), 1, "{:?}", p.env());
    }
    assert!(p.env_var("PATH").is_some(), "the container's env is kept");
    assert_eq!(p.env_var("HOME").as_deref(), Some("/home/user"), "HOME from the container's /etc/passwd");
    assert_eq!(p.str("cwd"), "/tmp");
    assert_eq!((p.uid("real"), p.uid("effective"), p.gid("effective")), (1000, 1000, 100));
    assert_eq!(p.groups(), [5, 6]);
    // `-u uid` alone keeps the config's gid
    let p = exec_probe(&c, &["-u", "1000"], &[]);
    assert_eq!((p.uid("effective"), p.gid("effective")), (1000, 0));
}

fn exec_cap_and_no_new_privs() {
    let mut c = Ctr::new("exec-caps");
    c.set("/process/noNewPrivileges", json!(false));
    c.args(&["/bin/sleep", "1000"]);
    c.run_with(&["--detach"]).ok();
    let p = exec_probe(&c, &[], &[]);
    assert_eq!(p.get("no_new_privs"), &json!(false), "the config's noNewPrivileges: false");
    assert!(!p.caps("effective").contains(&"CAP_SYS_ADMIN".to_string()));
    let p = exec_probe(&c, &["--cap", "CAP_SYS_ADMIN", "--no-new-privs"], &[]);
    assert_eq!(p.get("no_new_privs"), &json!(true));
    for set in ["effective", "permitted", "bounding"] {
        assert!(p.caps(set).contains(&"CAP_SYS_ADMIN".to_string()), "--cap: CAP_SYS_ADMIN missing from {set}: {:?}", p.caps(set));
    }
    assert!(p.caps("effective").contains(&"CAP_KILL".to_string()), "the container's capabilities are kept");
}

fn exec_exit_codes() {
    let c = running("exec-codes");
    exec(&c, &[&c.id, "/bin/true"]).code(0);
    exec(&c, &[&c.id, "/bin/sh", "-c", "exit 5"]).code(5);
    exec(&c, &[&c.id, "/bin/sh", "-c", "kill -9 $$"]).code(137);
    exec(&c, &[&c.id, "/bin/sh", "-c", "kill -15 $$"]).code(143);
}

fn exec_missing_program_is_255_naming_it() {
    let c = running("exec-missing");
    let o = exec(&c, &[&c.id, "nosuchprog"]);
    o.code(255);
    o.stderr_has("exec failed").stderr_has("\\\"nosuchprog\\\": executable file not found in $PATH");
    let o = exec(&c, &[&c.id, "/bin/nosuch"]);
    o.code(255);
    o.stderr_has("stat /bin/nosuch: no such file or directory");
    assert_eq!(c.status(), "running", "the container is unharmed");
}

fn exec_detach_writes_the_pid_file() {
    let c = running("exec-detach");
    let pf = c.dir.join("exec.pid");
    let started = std::time::Instant::now();
    exec(&c, &["-d", "--pid-file", &pf.display().to_string(), &c.id, "/bin/sleep", "30"]).ok();
    assert!(started.elapsed() < Duration::from_secs(10), "exec -d waited for the process");
    let text = read(&pf);
    assert!(!text.ends_with('\n'), "runc's pid file has no newline: {text:?}");
    let pid: i32 = text.parse().unwrap_or_else(|_| panic!("pid file {text:?}"));
    assert!(crate::rig::pid_alive(pid), "the detached process is not running");
    assert_eq!(link(format!("/proc/{pid}/ns/pid")), link(format!("/proc/{}/ns/pid", c.pid())), "in the container's pid namespace");
    assert_eq!(read(format!("/proc/{pid}/comm")).trim(), "sleep");
    let leftovers: Vec<_> = std::fs::read_dir(&c.dir).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with(".exec.pid")).collect();
    assert!(leftovers.is_empty(), "the pid file's temporary name is left behind");
}

fn exec_into_stopped_unknown_and_paused() {
    let mut c = Ctr::new("exec-stopped");
    c.args(&["/bin/true"]);
    c.create().ok();
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(10));
    exec_failed(&exec(&c, &[&c.id, "/bin/true"])).stderr_has("stopped");
    exec_failed(&exec(&c, &["nosuch-container-xyz", "/bin/true"])).stderr_has("container does not exist");

    let p = running("exec-paused");
    p.rt(&["pause", &p.id]).ok();
    let marker = p.host_path("/tmp/ran");
    exec_failed(&exec(&p, &[&p.id, "/bin/touch", "/tmp/ran"])).stderr_has("paused");
    assert!(!marker.exists(), "a process ran in the paused container");
    p.rt(&["resume", &p.id]).ok();
}

/// runc lets exec into a container that is created but not started (its init is parked).
fn exec_into_a_created_container() {
    let mut c = Ctr::new("exec-created");
    c.args(&["/bin/sleep", "1000"]);
    c.create().ok();
    let o = exec(&c, &[&c.id, "/bin/cat", "/proc/1/comm"]);
    o.ok();
    assert_eq!(c.status(), "created", "exec must not start the container");
}

fn exec_comm_is_the_name_it_was_started_as() {
    let c = running("exec-comm");
    assert_eq!(read(format!("/proc/{}/comm", c.pid())).trim(), "sleep", "the init's name (busybox's sleep link)");
    let o = exec(&c, &[&c.id, "cat", "/proc/self/comm"]);
    o.ok();
    assert_eq!(o.stdout.trim(), "cat");
    let o = exec(&c, &[&c.id, "/bin/sh", "-c", "cat /proc/$$/comm; true"]);
    o.ok();
    assert_eq!(o.stdout.trim(), "sh");
}

fn exec_preserve_fds() {
    let c = running("exec-fds");
    let v = {
        let o = exec(&c, &[&c.id, "/bin/probe", "fds"]);
        o.ok();
        o.json()
    };
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["0", "1", "2"], "exec'd process holds more than stdio: {v}");
    let marker = c.dir.join("passed-in");
    std::fs::write(&marker, "x").unwrap();
    let wrap = |n: &str| -> Output {
        c.cmd()
            .wrapped(vec!["/bin/sh".into(), "-c".into(), format!("exec 3<'{}'; exec \"$@\"", marker.display()).into(), "sh".into()])
            .args(&["exec", "--preserve-fds", n, &c.id, "/bin/probe", "fds"])
            .output_in(&c.dir)
    };
    let o = wrap("1");
    o.ok();
    let fds: Value = o.json();
    assert!(fds["3"].as_str().is_some_and(|t| t.ends_with("/passed-in")), "--preserve-fds 1: fd 3 not passed: {fds}");
    assert!(fds.get("4").is_none(), "more than the preserved fd: {fds}");
    let o = wrap("0");
    o.ok();
    assert!(o.json().get("3").is_none(), "fd 3 passed without --preserve-fds: {}", o.json());
}

fn exec_gets_the_containers_rlimits_and_umask() {
    let mut c = Ctr::new("exec-rlimits");
    c.set("/process/rlimits", json!([{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654}]));
    c.set("/process/user/umask", json!(0o027));
    c.args(&["/bin/sleep", "1000"]);
    c.run_with(&["--detach"]).ok();
    let p = exec_probe(&c, &[], &[]);
    let nofile = &p.get("rlimits")["RLIMIT_NOFILE"];
    assert_eq!(nofile, &json!({"soft": 321, "hard": 654}), "{}", p.get("rlimits"));
    // runc 1.1.5's exec leaves the caller's umask (the container's is applied by its init
    // only); the container's own is what its processes expect.
    if crate::rig::rig().is_rt() {
        assert_eq!(p.get("umask"), &json!("0027"));
    }
}

fn exec_bad_process_file_names_the_field() {
    let c = running("exec-badfile");
    let file = c.dir.join("bad.json");
    std::fs::write(&file, json!({"args": ["/bin/true"], "cwd": "/", "user": {"uid": "root", "gid": 0}}).to_string()).unwrap();
    let o = exec(&c, &["--process", &file.display().to_string(), &c.id]);
    exec_failed(&o);
    if crate::rig::rig().is_rt() {
        o.stderr_has("user.uid");
    }
    std::fs::write(&file, json!({"args": [], "cwd": "/", "user": {"uid": 0, "gid": 0}}).to_string()).unwrap();
    exec_failed(&exec(&c, &["--process", &file.display().to_string(), &c.id]));
    assert_eq!(c.status(), "running");
}
