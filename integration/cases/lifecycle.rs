//! The lifecycle: create → created → start → running → stopped → delete, `run` and its exit
//! codes, `--detach`, `--keep`, `--pid-file`, the state a runtime reports, kill and delete.

use crate::case;
use crate::rig::{pid_alive, read, rig, wait_until, Case, Ctr};
use serde_json::json;
use std::time::Duration;

pub fn cases() -> Vec<Case> {
    vec![
        case!(probe_runs_as_pid_1),
        case!(create_parks_init_until_start),
        case!(exec_fifo_exists_until_start),
        case!(created_container_stdio_is_the_callers),
        case!(start_runs_process_then_stopped),
        case!(run_returns_container_exit_code),
        case!(run_exit_code_128_plus_signal_kill),
        case!(run_exit_code_128_plus_signal_term),
        case!(run_missing_binary_fails_create),
        case!(run_exec_format_error_exits_255).runc_lacks("runc 1.1.5's init exits 1 when execve fails after start; runc >= 1.2 and the issue: 255"),
        case!(run_exec_format_error_fails),
        case!(run_fifo_as_program_fails_without_hanging),
        case!(create_missing_binary_exits_1),
        case!(run_relative_args_use_path),
        case!(run_removes_container_afterwards),
        case!(run_detach_returns_while_running),
        case!(run_keep_leaves_stopped_container),
        case!(pid_file_written_before_create_returns),
        case!(run_detach_pid_file),
        case!(state_reports_runc_fields),
        case!(state_annotations),
        case!(state_follows_process_killed_outside),
        case!(delete_created_container),
        case!(delete_stopped_container),
        case!(delete_force_running_container),
        case!(delete_force_missing_exits_0),
        case!(kill_default_is_sigterm),
        case!(kill_signal_by_name_and_number),
        case!(kill_all_kills_every_process),
        case!(kill_all_reaches_what_a_stopped_init_left),
        case!(kill_created_container),
        case!(concurrent_create_same_id_one_wins).runc_lacks("runc 1.1.5 races on concurrent creates of one id: two may succeed, a loser may fail with `exec fifo ... already exists` or remove the winner's state dir, leaving its init behind"),
        case!(concurrent_state_calls_agree),
    ]
}

fn probe_runs_as_pid_1() {
    let mut c = Ctr::new("pid1");
    let p = c.probe();
    assert_eq!(p.pid(), 1, "{p}");
    assert_eq!(p.get("ppid"), &json!(0), "{p}");
    assert_eq!(p.str("hostname"), "rt-test");
    assert_eq!(p.str("cwd"), "/");
    assert_eq!(p.get("argv"), &json!(["/bin/probe"]));
}

/// After `create` the init exists but the user process has not run: the marker the process
/// would write is absent until `start`.
fn create_parks_init_until_start() {
    let mut c = Ctr::new("parked");
    c.sh("echo started > /tmp/marker; exec sleep 60");
    c.create().ok();
    assert_eq!(c.status(), "created");
    let st = c.state_json();
    let pid = st["pid"].as_i64().unwrap() as i32;
    assert!(pid > 0 && pid_alive(pid), "init pid {pid} not alive: {st}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!c.host_path("/tmp/marker").exists(), "the process ran before start");
    c.start().ok();
    assert!(wait_until(Duration::from_secs(5), || c.host_path("/tmp/marker").exists()), "the process did not run after start");
    assert_eq!(c.status(), "running");
    assert_eq!(c.pid(), pid, "start changed the init pid");
    c.kill("KILL").ok();
    c.wait_status("stopped", Duration::from_secs(5));
    c.delete().ok();
    assert!(!pid_alive(pid));
    c.state().failed().stderr_has("container does not exist");
    c.assert_clean();
}

/// The created init waits on `<root>/<id>/exec.fifo` (runc's and crun's contract).
fn exec_fifo_exists_until_start() {
    let mut c = Ctr::new("fifo");
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    let fifo = c.state_dir().join("exec.fifo");
    let md = std::fs::symlink_metadata(&fifo).unwrap_or_else(|e| panic!("{}: {e}", fifo.display()));
    use std::os::unix::fs::FileTypeExt;
    assert!(md.file_type().is_fifo(), "{} is not a fifo", fifo.display());
    c.start().ok();
    assert!(wait_until(Duration::from_secs(5), || !fifo.exists()), "exec.fifo still there after start");
}

/// Without a terminal the init inherits the caller's stdout/stderr: what the process prints
/// after `start` lands in the files `create` was given.
fn created_container_stdio_is_the_callers() {
    let mut c = Ctr::new("stdio");
    c.sh("echo to-stdout; echo to-stderr >&2");
    let created = c.create();
    created.ok();
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(5));
    assert_eq!(created.stdout_now().trim(), "to-stdout");
    assert!(read(&created.err_path).contains("to-stderr"), "stderr: {}", read(&created.err_path));
    c.delete().ok();
}

fn start_runs_process_then_stopped() {
    let mut c = Ctr::new("stopped");
    c.probe_args(&["exit", "3"]);
    c.create().ok();
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(5));
    // a stopped container has no pid
    assert_eq!(c.state_json()["pid"], json!(0));
    c.delete().ok();
    c.assert_clean();
}

fn run_returns_container_exit_code() {
    for code in [0, 7, 255] {
        let mut c = Ctr::new("exitcode");
        c.probe_args(&["exit", &code.to_string()]);
        c.run().code(code);
    }
}

/// A foreground `run` whose container dies of SIGKILL exits 137.
fn run_exit_code_128_plus_signal_kill() {
    let mut c = Ctr::new("sigkill");
    c.args(&["/bin/sleep", "60"]);
    let run = c.spawn_run();
    c.wait_status("running", Duration::from_secs(10));
    c.kill("KILL").ok();
    let out = run.wait_for(Duration::from_secs(10));
    out.code(137);
}

/// Without a pid namespace the process is not an init, so SIGTERM's default action kills it:
/// `run` exits 143.
fn run_exit_code_128_plus_signal_term() {
    let mut c = Ctr::new("sigterm");
    c.no_ns("pid");
    c.sh("kill -TERM $$; sleep 5");
    c.run().code(143);
}

/// A missing args[0] is found at create time (as runc does, every version): `run` fails as a
/// command (exit 1), naming the path with "no such file", and nothing is left behind.
fn run_missing_binary_fails_create() {
    let mut c = Ctr::new("nobin");
    c.args(&["/bin/does-not-exist"]);
    let o = c.run();
    o.failed().stderr_has("/bin/does-not-exist");
    assert!(o.stderr.to_lowercase().contains("no such file"), "{o}");
    c.assert_clean();
}

/// execve itself fails after start: `run` fails and the reason reaches the container's stderr.
fn run_exec_format_error_fails() {
    let mut c = Ctr::new("enoexec1");
    std::fs::write(c.host_path("/bin/garbage"), "this is not a program\n").unwrap();
    set_mode(&c.host_path("/bin/garbage"), 0o755);
    c.args(&["/bin/garbage"]);
    let o = c.run();
    assert_ne!(o.code, 0, "{o}");
    assert!(o.stderr.contains("exec format error"), "{o}");
}

/// execve itself fails (ENOEXEC: executable bit, but not a program).
fn run_exec_format_error_exits_255() {
    let mut c = Ctr::new("enoexec");
    std::fs::write(c.host_path("/bin/garbage"), "this is not a program\n").unwrap();
    set_mode(&c.host_path("/bin/garbage"), 0o755);
    c.args(&["/bin/garbage"]);
    let o = c.run();
    o.code(255);
    assert!(o.stderr.contains("exec format error"), "{o}");
}

/// An args[0] that is a FIFO with the executable bit: checking it must not block on the open
/// (nothing would ever write to it); it is refused as execve would refuse it.
fn run_fifo_as_program_fails_without_hanging() {
    let mut c = Ctr::new("fifoexe");
    let fifo = c.host_path("/bin/fifo");
    let cpath = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(cpath.as_ptr(), 0o755) }, 0, "mkfifo {}", fifo.display());
    set_mode(&fifo, 0o755);
    c.args(&["/bin/fifo"]);
    let o = c.run();
    assert_ne!(o.code, 0, "{o}");
    assert!(o.stderr.contains("permission denied"), "{o}");
    c.assert_clean();
}

/// `create` with a missing args[0] exits 1 (a failed command), naming the path.
fn create_missing_binary_exits_1() {
    let mut c = Ctr::new("nobincreate");
    c.args(&["/bin/does-not-exist"]);
    c.create().failed().stderr_has("/bin/does-not-exist");
    c.state().failed().stderr_has("container does not exist");
    c.assert_clean();
}

/// args[0] without a slash is looked up in the container's PATH (execvp semantics).
fn run_relative_args_use_path() {
    let mut c = Ctr::new("relargs");
    c.args(&["probe", "exit", "4"]);
    c.run().code(4);
}

fn run_removes_container_afterwards() {
    let mut c = Ctr::new("runrm");
    c.args(&["/bin/true"]);
    c.run().ok();
    c.state().failed().stderr_has("container does not exist");
    c.assert_clean();
}

fn run_detach_returns_while_running() {
    let mut c = Ctr::new("detach");
    c.sh("echo hello-from-detached; exec sleep 60");
    let o = c.run_with(&["--detach"]);
    o.ok();
    assert_eq!(c.status(), "running");
    assert!(
        wait_until(Duration::from_secs(5), || o.stdout_now().contains("hello-from-detached")),
        "container output not in run's stdout: {:?}",
        o.stdout_now()
    );
    c.kill("KILL").ok();
    c.wait_status("stopped", Duration::from_secs(5));
    c.delete().ok();
    c.assert_clean();
}

fn run_keep_leaves_stopped_container() {
    let mut c = Ctr::new("keep");
    c.probe_args(&["exit", "5"]);
    c.run_with(&["--keep"]).code(5);
    assert_eq!(c.status(), "stopped");
    c.delete().ok();
    c.state().failed();
    c.assert_clean();
}

fn pid_file_written_before_create_returns() {
    let mut c = Ctr::new("pidfile");
    c.args(&["/bin/sleep", "60"]);
    let pf = c.dir.join("init.pid");
    c.create_with(&["--pid-file", &pf.to_string_lossy()]).ok();
    let text = std::fs::read_to_string(&pf).expect("pid file missing right after create returned");
    let pid: i32 = text.trim().parse().unwrap_or_else(|_| panic!("pid file holds {text:?}"));
    assert_eq!(pid, c.pid());
    assert!(pid_alive(pid));
    // the init of a new pid namespace is pid 1 inside
    let status = read(format!("/proc/{pid}/status"));
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap_or("");
    assert!(nspid.trim_end().ends_with("\t1"), "NSpid of the init: {nspid:?}");
}

fn run_detach_pid_file() {
    let mut c = Ctr::new("detachpid");
    c.args(&["/bin/sleep", "60"]);
    let pf = c.dir.join("d.pid");
    c.run_with(&["--detach", "--pid-file", &pf.to_string_lossy()]).ok();
    assert_eq!(read(&pf).trim().parse::<i32>().ok(), Some(c.pid()));
}

/// `state` prints runc's fields: ociVersion, id, pid, status, bundle, rootfs, created, owner.
fn state_reports_runc_fields() {
    let mut c = Ctr::new("statefields");
    c.args(&["/bin/sleep", "60"]);
    let before = std::time::SystemTime::now();
    c.create().ok();
    let st = c.state_json();
    for f in ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"] {
        assert!(st.get(f).is_some(), "state lacks {f}: {st}");
    }
    assert!(st["ociVersion"].as_str().unwrap().starts_with("1."), "{st}");
    assert_eq!(st["id"], json!(c.id));
    assert_eq!(st["status"], json!("created"));
    assert_eq!(st["bundle"], json!(c.dir.to_string_lossy()));
    assert_eq!(st["rootfs"], json!(c.rootfs().to_string_lossy()));
    assert!(st["pid"].as_i64().unwrap() > 1);
    // RFC 3339 in UTC with nanoseconds, e.g. 2026-11-23T08:54:29.426819951Z
    let created = st["created"].as_str().unwrap();
    assert!(created.len() >= 20 && created.ends_with('Z') && &created[4..5] == "-" && &created[10..11] == "T", "created: {created}");
    let secs = rfc3339_secs(created);
    let now = before.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((secs - now).abs() < 60, "created {created} is not now ({now})");
    c.start().ok();
    assert_eq!(c.state_json()["status"], json!("running"));
}

fn state_annotations() {
    let mut c = Ctr::new("annot");
    c.args(&["/bin/sleep", "60"]);
    c.set("/annotations", json!({ "org.rt.test": "yes", "other": "x y" }));
    c.create().ok();
    assert_eq!(c.state_json()["annotations"], json!({ "org.rt.test": "yes", "other": "x y" }));
}

/// The status comes from the live process: an init killed behind the runtime's back shows as
/// stopped.
fn state_follows_process_killed_outside() {
    let mut c = Ctr::new("outside");
    c.args(&["/bin/sleep", "60"]);
    c.run_with(&["--detach"]).ok();
    let pid = c.pid();
    // SAFETY: kill of the container init this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    c.wait_status("stopped", Duration::from_secs(5));
    c.delete().ok();
}

/// runc deletes a created (never started) container without --force.
fn delete_created_container() {
    let mut c = Ctr::new("delcreated");
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    let pid = c.pid();
    c.delete().ok();
    assert!(wait_until(Duration::from_secs(5), || !pid_alive(pid)), "init {pid} survived delete");
    c.state().failed().stderr_has("container does not exist");
    c.assert_clean();
}

fn delete_stopped_container() {
    let mut c = Ctr::new("delstopped");
    c.args(&["/bin/true"]);
    c.create().ok();
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(5));
    c.delete().ok();
    c.assert_clean();
}

fn delete_force_running_container() {
    let mut c = Ctr::new("delforce");
    c.args(&["/bin/sleep", "60"]);
    c.run_with(&["--detach"]).ok();
    let pid = c.pid();
    c.delete().failed();
    assert_eq!(c.status(), "running", "a failed delete must leave the container alone");
    c.delete_force().ok();
    assert!(!pid_alive(pid), "init {pid} survived delete --force");
    c.state().failed().stderr_has("container does not exist");
    c.assert_clean();
}

fn delete_force_missing_exits_0() {
    let o = rig().rt_out(&["delete", "--force", "no-such-container-here"]);
    o.ok();
    rig().rt_out(&["delete", "no-such-container-here"]).failed().stderr_has("container does not exist");
}

/// The probe records the signals it gets; `kill ID` with no signal sends SIGTERM.
fn kill_default_is_sigterm() {
    let mut c = Ctr::new("killterm");
    c.probe_args(&["wait-signal", "/tmp/signals"]);
    let sigs = c.host_path("/tmp/signals");
    c.run_with(&["--detach"]).ok();
    assert!(wait_until(Duration::from_secs(5), || read(&sigs).contains("ready")), "probe not ready");
    c.rt(&["kill", &c.id]).ok();
    assert!(wait_until(Duration::from_secs(5), || read(&sigs).lines().count() >= 2), "no signal recorded: {:?}", read(&sigs));
    assert_eq!(read(&sigs).lines().nth(1), Some("SIGTERM"));
    c.wait_status("stopped", Duration::from_secs(5));
}

fn kill_signal_by_name_and_number() {
    let mut c = Ctr::new("killnames");
    c.probe_args(&["wait-signal", "/tmp/signals", "4"]);
    let sigs = c.host_path("/tmp/signals");
    c.run_with(&["--detach"]).ok();
    assert!(wait_until(Duration::from_secs(5), || read(&sigs).contains("ready")), "probe not ready");
    c.kill("NOSUCHSIG").failed().stderr_has("NOSUCHSIG");
    let mut want = vec!["ready"];
    for (arg, name) in [("USR1", "SIGUSR1"), ("SIGUSR2", "SIGUSR2"), ("1", "SIGHUP"), ("10", "SIGUSR1")] {
        c.kill(arg).ok();
        want.push(name);
        assert!(wait_until(Duration::from_secs(5), || read(&sigs).lines().count() >= want.len()), "kill {arg}: recorded {:?}", read(&sigs));
    }
    assert_eq!(read(&sigs).lines().collect::<Vec<_>>(), want);
    c.wait_status("stopped", Duration::from_secs(5));
}

/// `kill --all` signals every process of the container, not only the init. Without a pid
/// namespace the init's death would not take the others along, so this shows --all working.
fn kill_all_kills_every_process() {
    let mut c = Ctr::new("killall");
    c.no_ns("pid");
    c.sh("sleep 61 & sleep 62 & exec sleep 63");
    c.run_with(&["--detach"]).ok();
    let procs = c.cg.dir("pids").join(&c.id).join("cgroup.procs");
    assert!(wait_until(Duration::from_secs(5), || read(&procs).lines().count() >= 3), "expected 3 processes: {:?}", read(&procs));
    c.rt(&["kill", "--all", &c.id, "KILL"]).ok();
    assert!(wait_until(Duration::from_secs(5), || read(&procs).trim().is_empty()), "processes left after kill --all: {:?}", read(&procs));
    c.wait_status("stopped", Duration::from_secs(5));
    c.delete().ok();
}

/// Without a pid namespace of its own, what the init started outlives it in the cgroup:
/// `kill --all` still reaches it once the container is stopped (containerd's shim relies on
/// this, as runc allows it).
fn kill_all_reaches_what_a_stopped_init_left() {
    let mut c = Ctr::new("killallstopped");
    c.no_ns("pid");
    c.sh("sleep 64 & exit 0");
    c.run_with(&["--detach"]).ok();
    c.wait_status("stopped", Duration::from_secs(5));
    let procs = c.cg.dir("pids").join(&c.id).join("cgroup.procs");
    assert_eq!(read(&procs).lines().count(), 1, "the background sleep should be left: {:?}", read(&procs));
    c.rt(&["kill", "--all", &c.id, "KILL"]).ok();
    assert!(wait_until(Duration::from_secs(5), || read(&procs).trim().is_empty()), "processes left after kill --all: {:?}", read(&procs));
    c.delete().ok();
}

fn kill_created_container() {
    let mut c = Ctr::new("killcreated");
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    c.kill("KILL").ok();
    c.wait_status("stopped", Duration::from_secs(5));
    c.delete().ok();
}

/// Six `create`s of one id at once (three rounds): exactly one succeeds, the others fail with
/// runc's "already exists", and the winner's state and init are intact.
fn concurrent_create_same_id_one_wins() {
    for _ in 0..3 {
        let mut c = Ctr::new("race");
        c.args(&["/bin/sleep", "60"]);
        c.write_config();
        let b = c.dir.to_string_lossy().into_owned();
        let running: Vec<_> = (0..6).map(|_| c.spawn(&["create", "--bundle", &b, &c.id])).collect();
        let outs: Vec<_> = running.into_iter().map(|r| r.wait()).collect();
        let ok = outs.iter().filter(|o| o.code == 0).count();
        assert_eq!(ok, 1, "expected one create to succeed:\n{}", outs.iter().map(|o| o.to_string()).collect::<Vec<_>>().join("\n"));
        for o in outs.iter().filter(|o| o.code != 0) {
            o.failed().stderr_has("already exists");
        }
        let st = c.state_json();
        assert_eq!(st["status"], json!("created"));
        assert!(pid_alive(st["pid"].as_i64().unwrap() as i32));
        c.delete().ok();
        c.assert_clean();
    }
}

fn concurrent_state_calls_agree() {
    let mut c = Ctr::new("statestorm");
    c.args(&["/bin/sleep", "60"]);
    c.run_with(&["--detach"]).ok();
    let running: Vec<_> = (0..8).map(|i| if i % 2 == 0 { c.spawn(&["state", &c.id]) } else { c.spawn(&["kill", &c.id, "0"]) }).collect();
    for r in running {
        let o = r.wait();
        o.ok();
        if o.cmdline.contains(" state ") {
            assert_eq!(o.json()["status"], json!("running"), "{o}");
        }
    }
}

fn set_mode(p: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.frac]Z).
pub fn rfc3339_secs(t: &str) -> i64 {
    let n = |a: usize, b: usize| t[a..b].parse::<i64>().unwrap_or_else(|_| panic!("bad timestamp {t}"));
    let (y, mo, d, h, mi, s) = (n(0, 4), n(5, 7), n(8, 10), n(11, 13), n(14, 16), n(17, 19));
    // days from civil (Howard Hinnant)
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    days * 86400 + h * 3600 + mi * 60 + s
}
