//! runc's command line: error wordings and exit codes, --log/--log-format, list, spec,
//! --version, --root, and the create flags engines pass.

use crate::case;
use crate::rig::{read, rig, Case, Cmd, Ctr};
use serde_json::{json, Value};
use std::time::Duration;

pub fn cases() -> Vec<Case> {
    vec![
        case!(unknown_id_errors),
        case!(invalid_id_rejected),
        case!(invalid_id_comma_rejected).runc_lacks("runc 1.1.5 accepts a comma in ids (a regex range); runc >= 1.2 and the issue allow only [A-Za-z0-9_+.-]"),
        case!(id_in_use_rejected),
        case!(start_running_container_fails),
        case!(start_stopped_container_fails),
        case!(delete_running_without_force_fails),
        case!(kill_stopped_container_fails),
        case!(log_json_one_object_per_line),
        case!(log_format_equals_form),
        case!(log_json_gets_create_error),
        case!(log_json_failed_create_is_one_line),
        case!(log_file_is_opened_at_start_and_gets_command_line_errors),
        case!(pidfd_socket_gets_the_new_processes).runc_lacks("runc 1.1.5 has no --pidfd-socket (added in 1.2)"),
        case!(log_text_format),
        case!(debug_flag_accepted),
        case!(root_dir_created_if_missing),
        case!(list_table),
        case!(list_json),
        case!(list_quiet),
        case!(list_empty),
        case!(version_lines),
        case!(features_json),
        case!(spec_writes_runc_default),
        case!(spec_rootless),
        case!(spec_refuses_to_overwrite),
        case!(create_no_pivot),
        case!(create_no_new_keyring),
        case!(preserve_fds),
        case!(listen_fds_passed_when_meant_for_the_runtime),
        case!(preserve_fds_not_open_refused).rt_only("runc passes what is there and the container gets a runtime fd or EBADF"),
        case!(fds_not_leaked_into_container),
        case!(flags_after_id),
        case!(short_flags),
    ]
}

fn unknown_id_errors() {
    let r = rig();
    for verb in [&["state"][..], &["start"], &["kill"], &["delete"], &["kill", "--all"]] {
        let mut args: Vec<&str> = verb.to_vec();
        args.push("no-such-ctr");
        r.rt_out(&args).failed().stderr_has("container does not exist");
    }
}

fn invalid_id_rejected() {
    for id in ["bad/id", "bad id", "..", "a:b"] {
        let c = Ctr::new("badid");
        c.write_config();
        let b = c.dir.to_string_lossy().into_owned();
        c.rt(&["create", "--bundle", &b, id]).failed().stderr_has("invalid container ID format");
        c.assert_clean();
        // nothing was created under the root for it
        assert!(!rig().state_root.join(id).exists() || id == "..", "state dir for {id:?}");
    }
}

fn invalid_id_comma_rejected() {
    let c = Ctr::new("badidcomma");
    c.write_config();
    let b = c.dir.to_string_lossy().into_owned();
    c.rt(&["create", "--bundle", &b, "a,b"]).failed().stderr_has("invalid container ID format");
    assert!(!rig().state_root.join("a,b").exists());
    c.assert_clean();
}

fn id_in_use_rejected() {
    let mut c = Ctr::new("inuse");
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    let pid = c.pid();
    c.create().failed().stderr_has("container with given ID already exists");
    // the existing container is untouched
    assert_eq!(c.status(), "created");
    assert_eq!(c.pid(), pid);
}

fn start_running_container_fails() {
    let mut c = Ctr::new("startrunning");
    c.args(&["/bin/sleep", "60"]);
    c.run_with(&["--detach"]).ok();
    c.start().failed().stderr_has("cannot start an already running container");
    assert_eq!(c.status(), "running");
}

fn start_stopped_container_fails() {
    let mut c = Ctr::new("startstopped");
    c.args(&["/bin/true"]);
    c.run_with(&["--keep"]).ok();
    c.start().failed().stderr_has("cannot start a container that has stopped");
    c.delete().ok();
}

fn delete_running_without_force_fails() {
    let mut c = Ctr::new("delrunning");
    c.args(&["/bin/sleep", "60"]);
    c.run_with(&["--detach"]).ok();
    c.delete().failed().stderr_has(&format!("cannot delete container {} that is not stopped: running", c.id));
}

fn kill_stopped_container_fails() {
    let mut c = Ctr::new("killstopped");
    c.args(&["/bin/true"]);
    c.run_with(&["--keep"]).ok();
    c.kill("KILL").failed().stderr_has("container not running");
    c.delete().ok();
}

/// Every line of a JSON log is one {"level","msg","time"} object.
#[track_caller]
fn log_lines(path: &std::path::Path) -> Vec<Value> {
    let text = read(path);
    assert!(!text.is_empty(), "log {} is empty", path.display());
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l:?}"));
            for k in ["level", "msg", "time"] {
                assert!(v.get(k).map(Value::is_string).unwrap_or(false), "log line lacks a string {k:?}: {l}");
            }
            v
        })
        .collect()
}

fn log_json_one_object_per_line() {
    let log = rig().misc_dir().join(format!("log-{}.json", rig().next()));
    let l = log.to_string_lossy().into_owned();
    let o = rig().rt().args(&["--log", &l, "--log-format", "json", "state", "no-such-ctr"]).output_in(&rig().misc_dir());
    o.failed().stderr_has("container does not exist");
    let lines = log_lines(&log);
    let last = lines.last().unwrap();
    assert_eq!(last["level"], json!("error"));
    assert!(last["msg"].as_str().unwrap().contains("container does not exist"), "{last}");
    // RFC 3339 time
    let t = last["time"].as_str().unwrap();
    assert!(t.len() >= 20 && &t[4..5] == "-" && &t[10..11] == "T", "time {t:?}");
}

fn log_format_equals_form() {
    let log = rig().misc_dir().join(format!("log-{}.json", rig().next()));
    let o = rig().rt().arg("--log").arg(&log).arg("--log-format=json").args(&["kill", "no-such-ctr", "KILL"]).output_in(&rig().misc_dir());
    o.failed();
    let lines = log_lines(&log);
    assert!(lines.iter().any(|v| v["level"] == "error" && v["msg"].as_str().unwrap().contains("container does not exist")), "{lines:?}");
}

/// A failed create leaves its error in the JSON log (containerd shows the last error line),
/// and the log is appended to, not truncated.
fn log_json_gets_create_error() {
    let mut c = Ctr::new("logcreate");
    c.args(&["/bin/does-not-exist"]);
    c.write_config();
    let log = c.dir.join("log.json");
    std::fs::write(&log, "{\"level\":\"info\",\"msg\":\"earlier line\",\"time\":\"2026-01-01T00:00:00Z\"}\n").unwrap();
    let b = c.dir.to_string_lossy().into_owned();
    let l = log.to_string_lossy().into_owned();
    let o = c.cmd().args(&["--log", &l, "--log-format", "json", "create", "--bundle", &b, "--pid-file", &format!("{b}/init.pid"), &c.id]).output_in(&c.dir);
    o.failed().stderr_has("/bin/does-not-exist");
    let lines = log_lines(&log);
    assert_eq!(lines[0]["msg"], json!("earlier line"), "the log was truncated");
    let last_err = lines.iter().rev().find(|v| v["level"] == "error").unwrap_or_else(|| panic!("no error in the log: {lines:?}"));
    assert!(last_err["msg"].as_str().unwrap().contains("/bin/does-not-exist"), "{last_err}");
    assert!(!c.dir.join("init.pid").exists(), "pid file written by a failed create");
    c.assert_clean();
}

/// The shim reads `--log` after any failure: the file exists from the start of every call, and
/// an unknown verb or flag (found before anything else) is logged there too, as runc does.
fn log_file_is_opened_at_start_and_gets_command_line_errors() {
    let r = rig();
    let dir = r.misc_dir().join(format!("logstart-{}", r.next()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("log.json");
    let l = log.to_string_lossy().into_owned();
    r.rt_out(&["--log", &l, "--log-format", "json", "list"]).ok();
    assert!(log.exists(), "--log was not created by a call that logged nothing");
    let o = r.rt_out(&["--log", &l, "--log-format=json", "no-such-verb", "x"]);
    assert_ne!(o.code, 0, "{o}");
    let lines = log_lines(&log);
    let err = lines.iter().find(|v| v["level"] == "error").unwrap_or_else(|| panic!("no error line for an unknown verb: {lines:?}"));
    assert!(err["msg"].as_str().unwrap().contains("no-such-verb"), "{err}");
    let o = r.rt_out(&["--log", &l, "--log-format", "json", "exec", "--no-such-flag", "x", "true"]);
    assert_ne!(o.code, 0, "{o}");
    // runc 1.1.5 logs an unknown verb there but not an unknown flag
    if r.is_rt() {
        assert!(log_lines(&log).iter().any(|v| v["msg"].as_str().unwrap_or("").contains("--no-such-flag")), "an unknown flag is not in the log");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--pidfd-socket` (runc 1.2, which go-runc passes when asked): a pidfd of the init on
/// create/run, of the new process on exec, comes over the socket.
fn pidfd_socket_gets_the_new_processes() {
    use std::os::fd::AsRawFd;
    let mut c = Ctr::new("pidfdsock");
    c.args(&["/bin/sleep", "1000"]);
    let sock = c.dir.join("pidfd.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let receive = move |listener: std::os::unix::net::UnixListener| {
        std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 64];
            let mut cbuf = [0u64; 4];
            let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
            // SAFETY: a zeroed msghdr over live buffers, filled by recvmsg.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&cbuf);
            // SAFETY: as above.
            assert!(unsafe { libc::recvmsg(conn.as_raw_fd(), &mut msg, 0) } >= 0);
            // SAFETY: the kernel filled the control buffer.
            let fd = unsafe {
                let h = libc::CMSG_FIRSTHDR(&msg);
                assert!(!h.is_null(), "no fd came");
                std::ptr::read_unaligned(libc::CMSG_DATA(h) as *const i32)
            };
            let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
            // SAFETY: our own fd, received just now.
            unsafe { libc::close(fd) };
            (info.lines().find_map(|l| l.strip_prefix("Pid:")).map(|p| p.trim().parse::<i32>().unwrap()), listener)
        })
    };
    let t = receive(listener);
    c.run_with(&["--detach", "--pidfd-socket", &sock.display().to_string()]).ok();
    let (pid, listener) = t.join().unwrap();
    assert_eq!(pid, Some(c.pid()), "run: the pidfd is not the init's");
    let t = receive(listener);
    let pf = c.dir.join("exec.pid");
    c.rt(&["exec", "-d", "--pid-file", &pf.display().to_string(), "--pidfd-socket", &sock.display().to_string(), &c.id, "/bin/sleep", "30"]).ok();
    let (pid, _) = t.join().unwrap();
    assert_eq!(pid.map(|p| p.to_string()), Some(read(&pf)), "exec: the pidfd is not the new process's");
}

/// Podman reads the whole log file as one JSON object: a failed create (without --debug) must
/// leave exactly one line, the error.
fn log_json_failed_create_is_one_line() {
    let mut c = Ctr::new("logoneline");
    c.args(&["/bin/does-not-exist"]);
    c.write_config();
    let log = c.dir.join("oci-log");
    let b = c.dir.to_string_lossy().into_owned();
    let l = log.to_string_lossy().into_owned();
    c.cmd().arg("--log-format=json").args(&["--log", &l, "create", "--bundle", &b, &c.id]).output_in(&c.dir).failed();
    let text = read(&log);
    let v: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("the log is not one JSON object ({e}): {text:?}"));
    assert_eq!(v["level"], json!("error"), "{text}");
    assert!(v["msg"].as_str().unwrap().contains("/bin/does-not-exist"), "{text}");
    c.assert_clean();
}

fn log_text_format() {
    let log = rig().misc_dir().join(format!("log-{}.txt", rig().next()));
    let l = log.to_string_lossy().into_owned();
    rig().rt_out(&["--log", &l, "--log-format", "text", "state", "no-such-ctr"]).failed().stderr_has("container does not exist");
    let text = read(&log);
    assert!(text.contains("container does not exist") && text.contains("error"), "text log: {text:?}");
    assert!(serde_json::from_str::<Value>(text.lines().next().unwrap_or("")).is_err(), "text log is JSON: {text:?}");
    let o = rig().rt_out(&["--log-format", "xml", "state", "no-such-ctr"]);
    assert_ne!(o.code, 0, "an unknown --log-format must fail: {o}");
}

fn debug_flag_accepted() {
    let mut c = Ctr::new("debug");
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    let o = c.rt(&["--debug", "state", &c.id]);
    o.ok();
    assert_eq!(o.json()["status"], json!("created"));
}

/// A missing --root is created (0700) by any command.
fn root_dir_created_if_missing() {
    let root = rig().misc_dir().join(format!("newroot-{}", rig().next())).join("sub");
    let o = Cmd::new(&rig().runtime).arg("--root").arg(&root).arg("list").output_in(&rig().misc_dir());
    o.ok();
    use std::os::unix::fs::PermissionsExt;
    let md = std::fs::metadata(&root).unwrap_or_else(|e| panic!("--root {} not created: {e}", root.display()));
    assert!(md.is_dir());
    assert_eq!(md.permissions().mode() & 0o777, 0o700);
    std::fs::remove_dir_all(root.parent().unwrap()).unwrap();
}

/// Two containers (one created, one running) under a private root.
fn two_containers() -> (Ctr, Ctr) {
    let mut a = Ctr::new("lista");
    a.private_root();
    a.args(&["/bin/sleep", "60"]);
    let mut b = Ctr::new("listb");
    b.root = a.root.clone();
    b.args(&["/bin/sleep", "60"]);
    a.create().ok();
    b.run_with(&["--detach"]).ok();
    (a, b)
}

fn list_table() {
    let (a, b) = two_containers();
    let o = a.rt(&["list"]);
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], "{o}");
    assert_eq!(lines.len(), 3, "{o}");
    for (c, status) in [(&a, "created"), (&b, "running")] {
        let row: Vec<&str> = lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(c.id.as_str()))
            .unwrap_or_else(|| panic!("no row for {}: {o}", c.id))
            .split_whitespace()
            .collect();
        assert_eq!(row[1], c.pid().to_string());
        assert_eq!(row[2], status);
        assert_eq!(row[3], c.dir.to_string_lossy());
        assert_eq!(row[4], c.state_json()["created"].as_str().unwrap());
        assert_eq!(row[5], "root");
    }
    // columns line up: every field starts where the header's does
    let col = |l: &str, i: usize| {
        let mut pos = 0;
        let mut n = 0;
        let bytes = l.as_bytes();
        while n < i {
            while pos < bytes.len() && bytes[pos] != b' ' {
                pos += 1;
            }
            while pos < bytes.len() && bytes[pos] == b' ' {
                pos += 1;
            }
            n += 1;
        }
        pos
    };
    for i in 1..6 {
        assert_eq!(col(lines[1], i), col(lines[0], i), "column {i} not aligned:\n{}", o.stdout);
    }
    b.delete_force().ok();
}

fn list_json() {
    let (a, b) = two_containers();
    let o = a.rt(&["list", "--format", "json"]);
    o.ok();
    let v = o.json();
    let arr = v.as_array().unwrap_or_else(|| panic!("not an array: {o}"));
    assert_eq!(arr.len(), 2);
    for (c, status) in [(&a, "created"), (&b, "running")] {
        let e = arr.iter().find(|e| e["id"] == json!(c.id)).unwrap_or_else(|| panic!("{} missing: {o}", c.id));
        assert_eq!(e["status"], json!(status));
        assert_eq!(e["pid"], json!(c.pid()));
        assert_eq!(e["bundle"], json!(c.dir.to_string_lossy()));
        assert_eq!(e["rootfs"], json!(c.rootfs().to_string_lossy()));
        assert_eq!(e["owner"], json!("root"));
        assert!(e["ociVersion"].as_str().unwrap().starts_with("1."));
        assert!(e["created"].is_string());
    }
    let short = a.rt(&["list", "-f", "json"]);
    assert_eq!(short.json(), v);
}

fn list_quiet() {
    let (a, b) = two_containers();
    let o = a.rt(&["list", "-q"]);
    o.ok();
    let mut ids: Vec<&str> = o.stdout.lines().collect();
    ids.sort();
    let mut want = vec![a.id.as_str(), b.id.as_str()];
    want.sort();
    assert_eq!(ids, want, "{o}");
}

/// No containers: the table header alone; `null` (runc) or `[]` as JSON; nothing with -q.
fn list_empty() {
    let mut c = Ctr::new("listempty");
    c.private_root();
    let o = c.rt(&["list"]);
    o.ok();
    assert_eq!(o.stdout.lines().count(), 1, "{o}");
    assert_eq!(o.stdout.split_whitespace().collect::<Vec<_>>(), ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]);
    let j = c.rt(&["list", "--format", "json"]);
    j.ok();
    assert!(j.stdout.trim() == "null" || j.stdout.trim() == "[]", "{j}");
    let q = c.rt(&["list", "-q"]);
    q.ok();
    assert_eq!(q.stdout, "");
    c.rt(&["list", "--format", "yaml"]).failed();
}

/// `--version`: `<name> version X`, then `commit: ...` and `spec: 1.x` lines (go-runc and
/// moby parse these).
fn version_lines() {
    let o = Cmd::new(&rig().runtime).arg("--version").output_in(&rig().misc_dir());
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    let first: Vec<&str> = lines[0].split(' ').collect();
    assert!(first.len() == 3 && first[1] == "version" && !first[2].is_empty(), "first line: {:?}", lines[0]);
    assert!(lines.iter().any(|l| l.starts_with("commit: ")), "{o}");
    let spec = lines.iter().find_map(|l| l.strip_prefix("spec: ")).unwrap_or_else(|| panic!("no spec line: {o}"));
    assert!(spec.starts_with("1."), "{o}");
    assert!(o.stdout.ends_with('\n'));
}

fn spec_in(dir: &std::path::Path, extra: &[&str]) -> Value {
    std::fs::create_dir_all(dir).unwrap();
    let mut args = vec!["spec"];
    args.extend_from_slice(extra);
    let d = dir.to_string_lossy().into_owned();
    args.extend_from_slice(&["--bundle", &d]);
    rig().rt_out(&args).ok();
    serde_json::from_str(&read(dir.join("config.json"))).unwrap_or_else(|e| panic!("spec wrote bad JSON: {e}"))
}

/// What may differ from runc 1.1.5's `spec`: the runtime's own spec version and hostname, and
/// the ambient capabilities, which runc dropped from its default in 1.2 (rt follows that).
fn without_version(mut v: Value) -> Value {
    assert!(v["hostname"].as_str().is_some_and(|h| !h.is_empty()), "hostname: {}", v["hostname"]);
    let o = v.as_object_mut().unwrap();
    o.remove("ociVersion");
    o.remove("hostname");
    if let Some(caps) = v["process"]["capabilities"].as_object_mut() {
        caps.remove("ambient");
    }
    v
}

/// `spec` writes runc's default config.json (the ociVersion may be the runtime's own).
fn spec_writes_runc_default() {
    let dir = rig().misc_dir().join(format!("spec-{}", rig().next()));
    let got = spec_in(&dir, &[]);
    let want: Value = serde_json::from_str(include_str!("../rig/runc_spec_default.json")).unwrap();
    assert!(got["ociVersion"].as_str().unwrap_or("").starts_with("1."), "{}", got["ociVersion"]);
    assert_eq!(without_version(got), without_version(want));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn spec_rootless() {
    let dir = rig().misc_dir().join(format!("spec-{}", rig().next()));
    let got = spec_in(&dir, &["--rootless"]);
    let want: Value = serde_json::from_str(include_str!("../rig/runc_spec_rootless.json")).unwrap();
    assert_eq!(without_version(got), without_version(want));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn spec_refuses_to_overwrite() {
    let dir = rig().misc_dir().join(format!("spec-{}", rig().next()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), "keep me").unwrap();
    let d = dir.to_string_lossy().into_owned();
    rig().rt_out(&["spec", "--bundle", &d]).failed().stderr_has("exists");
    assert_eq!(read(dir.join("config.json")), "keep me");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// --no-pivot (MS_MOVE + chroot instead of pivot_root): the container still runs in its rootfs.
fn create_no_pivot() {
    let mut c = Ctr::new("nopivot");
    c.args(&["/bin/probe"]);
    let created = c.create_with(&["--no-pivot"]);
    created.ok();
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(10));
    let out = created.stdout_now();
    let p = crate::rig::cmd::parse_json(&out).unwrap_or_else(|| panic!("no probe output: {out:?}"));
    assert_eq!(p["pid"], json!(1));
    assert!(p["mounts"].as_array().unwrap().iter().any(|m| m["mount_point"] == "/proc"));
    // the host's directories are not reachable
    assert!(!p["mounts"].as_array().unwrap().iter().any(|m| m["mount_point"] == "/work"));
}

fn create_no_new_keyring() {
    let mut c = Ctr::new("nokeyring");
    c.args(&["/bin/true"]);
    c.create_with(&["--no-new-keyring"]).ok();
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(10));
}

/// --preserve-fds N passes fds 3..3+N-1 of the caller into the container.
fn preserve_fds() {
    let mut c = Ctr::new("preserve");
    c.probe_args(&["fds"]);
    c.write_config();
    let marker = c.dir.join("passed-in");
    std::fs::write(&marker, "x").unwrap();
    let b = c.dir.to_string_lossy().into_owned();
    let wrap = |n: &str| -> crate::rig::Output {
        c.cmd()
            .wrapped(vec!["/bin/sh".into(), "-c".into(), format!("exec 3<'{}'; exec \"$@\"", marker.display()).into(), "sh".into()])
            .args(&["run", "--preserve-fds", n, "--bundle", &b, &c.id])
            .output_in(&c.dir)
    };
    let o = wrap("1");
    o.ok();
    let fds = o.json();
    assert!(fds["3"].as_str().map(|t| t.ends_with("/passed-in")).unwrap_or(false), "fd 3 not passed: {fds}");
    let o = wrap("0");
    o.ok();
    assert!(o.json().get("3").is_none(), "fd 3 passed without --preserve-fds: {}", o.json());
}

/// Socket activation: `LISTEN_FDS` fds go to the container, with LISTEN_FDS=N and
/// LISTEN_PID=1 in its environment, when `LISTEN_PID` names the runtime's own pid.
fn listen_fds_passed_when_meant_for_the_runtime() {
    let mut c = Ctr::new("listenfds");
    let marker = c.dir.join("socket");
    std::fs::write(&marker, "x").unwrap();
    let b = c.dir.to_string_lossy().into_owned();
    let mut run = |pid: &str, sub: &str| -> serde_json::Value {
        c.probe_args(&[sub]);
        c.write_config();
        let script = format!("exec 3<'{}'; LISTEN_FDS=1 LISTEN_PID={pid} exec \"$@\"", marker.display());
        let o = c.cmd().wrapped(vec!["/bin/sh".into(), "-c".into(), script.into(), "sh".into()]).args(&["run", "--bundle", &b, &c.id]).output_in(&c.dir);
        o.ok();
        o.json()
    };
    let fds = run("$$", "fds");
    assert!(fds["3"].as_str().is_some_and(|t| t.ends_with("/socket")), "fd 3 not passed: {fds}");
    let info = run("$$", "info");
    let env: Vec<&str> = info["env"].as_array().unwrap().iter().filter_map(|e| e.as_str()).collect();
    assert!(env.contains(&"LISTEN_FDS=1") && env.contains(&"LISTEN_PID=1"), "env: {env:?}");
    let fds = run("1", "fds");
    assert!(fds.get("3").is_none(), "fd 3 passed although LISTEN_PID named another process: {fds}");
}

/// `--preserve-fds 2` with only fd 3 open: fd 4 would be the next file rt opens, and go into
/// the container; refused, naming the fd.
fn preserve_fds_not_open_refused() {
    let mut c = Ctr::new("preservegap");
    c.probe_args(&["fds"]);
    c.write_config();
    let b = c.dir.to_string_lossy().into_owned();
    let o = c
        .cmd()
        .wrapped(vec!["/bin/sh".into(), "-c".into(), "exec 3</dev/null 4<&-; exec \"$@\"".into(), "sh".into()])
        .args(&["run", "--preserve-fds", "2", "--bundle", &b, &c.id])
        .output_in(&c.dir);
    o.failed().stderr_has("fd 4 is not open");
    c.assert_clean();
}

/// The process starts with fds 0, 1, 2 only (no runtime fds leak in).
fn fds_not_leaked_into_container() {
    let mut c = Ctr::new("fds");
    let v = c.probe_sub(&["fds"]);
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["0", "1", "2"], "{v}");
}

/// Flags may follow the container id (runc's CLI reorders them).
fn flags_after_id() {
    let mut c = Ctr::new("flagsafter");
    c.args(&["/bin/sleep", "60"]);
    c.run_with(&["--detach"]).ok();
    c.rt(&["delete", &c.id, "--force"]).ok();
    c.state().failed().stderr_has("container does not exist");
}

/// The short forms engines and people use: `run -d -b`, `create -b`, `delete -f`, `list -f -q`.
fn short_flags() {
    let mut c = Ctr::new("short");
    c.args(&["/bin/sleep", "60"]);
    c.write_config();
    let b = c.dir.to_string_lossy().into_owned();
    c.rt(&["run", "-d", "-b", &b, &c.id]).ok();
    assert_eq!(c.status(), "running");
    c.rt(&["delete", "-f", &c.id]).ok();
    c.rt(&["create", "-b", &b, &c.id]).ok();
    assert_eq!(c.status(), "created");
    c.rt(&["kill", "-a", &c.id, "KILL"]).ok();
    c.wait_status("stopped", Duration::from_secs(5));
    c.delete().ok();
}

/// `features`: runtime-spec's features document, which containerd reads.
fn features_json() {
    let c = Ctr::new("features");
    let v = c.rt(&["features"]).ok().json();
    assert_eq!(v["ociVersionMin"], json!("1.0.0"));
    assert!(v["ociVersionMax"].as_str().is_some_and(|s| s.starts_with("1.")), "{v}");
    for ns in ["ipc", "mount", "network", "pid", "uts"] {
        assert!(v["linux"]["namespaces"].as_array().unwrap().contains(&json!(ns)), "{ns} missing: {v}");
    }
    assert!(v["linux"]["capabilities"].as_array().unwrap().contains(&json!("CAP_NET_ADMIN")), "{v}");
    assert!(v["mountOptions"].as_array().unwrap().contains(&json!("nosuid")), "{v}");
    assert_eq!(v["linux"]["cgroup"]["v1"], json!(true));
}
