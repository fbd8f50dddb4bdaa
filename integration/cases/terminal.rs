//! Terminals (issue 9, point 2): `process.terminal`, `process.consoleSize`, `--console-socket`
//! and `exec -t`, through real pseudo-terminals.
//!
//! - `integration/tty/drive.py` is the person at a keyboard: it opens a pty, starts the
//!   runtime on its slave as the controlling terminal (the runtime's stdin and stdout; its
//!   stderr stays the command's own file), types, reads the screen back, resizes, presses
//!   Ctrl-C, and reports the terminal's settings before and after.
//! - `integration/tty/console_socket.py` is containerd's shim or conmon: it listens on the
//!   `--console-socket`, receives the master, checks it, reads the container's output from it
//!   and types into it.
//!
//! Every test asserts what the container's process saw (its `tty`, `stty size`, the owner of
//! its terminal, /dev/console) or what the person saw (screen, exit code, their terminal's
//! settings afterwards). runc 1.1.5 passes all of them.

use crate::case;
use crate::rig::{rig, Case, Cmd, Ctr, Output};
use serde_json::{json, Value};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        case!(run_types_and_reads_back),
        case!(run_window_size_follows_the_terminal),
        case!(run_ctrl_c_reaches_the_foreground_process),
        case!(create_console_socket_gets_the_container_pty),
        case!(exec_tty_types_and_reads_back),
        case!(exec_tty_console_socket_gets_a_pty),
        case!(no_terminal_where_none_can_work),
        case!(exec_no_terminal_where_none_can_work),
    ]
}

fn tool(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/tty").join(name)
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The prompt of busybox's sh for root (`/ # `).
const PROMPT: &str = r"# ";

/// What drive.py saw, and the runtime's own stderr.
struct Drive {
    report: Value,
    out: Output,
}

impl Drive {
    /// Runs the runtime with ARGS (after `--root`) on a pty of ROWS×COLS, following SCRIPT.
    fn run(c: &Ctr, args: &[&str], rows: u16, cols: u16, script: Value) -> Drive {
        let f = c.dir.join(format!("drive-{}.json", rig().next()));
        std::fs::write(&f, script.to_string()).unwrap();
        let wrapper: Vec<OsString> =
            ["python3", &s(&tool("drive.py")), "--script", &s(&f), "--rows", &rows.to_string(), "--cols", &cols.to_string(), "--timeout", "30", "--"]
                .iter()
                .map(OsString::from)
                .collect();
        let out = c.cmd().wrapped(wrapper).args(args).timeout(Duration::from_secs(90)).output_in(&c.dir);
        let report = crate::rig::cmd::parse_json(&out.stdout).unwrap_or_else(|| panic!("drive.py gave no report: {out}"));
        Drive { report, out }
    }

    /// Every step passed, the command exited with CODE and the terminal's settings are what
    /// they were before the runtime started (it restored its raw mode).
    #[track_caller]
    fn assert_ok(&self, code: i32) {
        let r = &self.report;
        assert!(r["ok"] == true, "{}\n{self}", r["error"]);
        assert_eq!(r["exit"], json!(code), "the runtime's exit code\n{self}");
        let (b, a) = (&r["termios_before"], &r["termios_after"]);
        for k in ["iflag", "oflag", "cflag", "lflag", "cc"] {
            assert_eq!(b[k], a[k], "the caller's terminal was not restored: termios {k} before {} after {}\n{self}", b[k], a[k]);
        }
        assert_eq!((a["echo"].as_bool(), a["icanon"].as_bool()), (Some(true), Some(true)), "ECHO and ICANON are back on\n{self}");
    }

    /// The text of a step's match.
    fn matched(&self, step: usize) -> &str {
        self.report["steps"][step]["match"].as_str().unwrap_or("")
    }
}

impl std::fmt::Display for Drive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "--- screen ---\n{}\n--- steps ---\n", self.report["screen"].as_str().unwrap_or(""))?;
        for st in self.report["steps"].as_array().into_iter().flatten() {
            writeln!(f, "{st}")?;
        }
        write!(f, "--- runtime ---\n{}", self.out)
    }
}

/// A console-socket receiver listening at `<bundle>/console-N.sock`, following SCRIPT on the
/// master once it has it.
struct Receiver {
    path: PathBuf,
    running: Option<crate::rig::cmd::Running>,
}

impl Receiver {
    fn listen(c: &Ctr, script: Value) -> Receiver {
        let n = rig().next();
        let path = c.dir.join(format!("console-{n}.sock"));
        let f = c.dir.join(format!("console-{n}.json"));
        std::fs::write(&f, script.to_string()).unwrap();
        let running = Cmd::new("python3")
            .args(&[
                s(&tool("console_socket.py")),
                "--socket".into(),
                s(&path),
                "--script".into(),
                s(&f),
                "--timeout".into(),
                "30".into(),
                "--linger".into(),
                "10".into(),
            ])
            .timeout(Duration::from_secs(60))
            .spawn_in(&c.dir);
        let end = Instant::now() + Duration::from_secs(10);
        while !crate::rig::read(&running.err_path).contains("listening") {
            assert!(Instant::now() < end, "console_socket.py is not listening: {}", crate::rig::read(&running.err_path));
            std::thread::sleep(Duration::from_millis(20));
        }
        Receiver { path, running: Some(running) }
    }

    fn arg(&self) -> String {
        s(&self.path)
    }

    /// Its report, once it is done (the container closed its side, or the script failed).
    fn report(&mut self) -> Value {
        let out = self.running.take().expect("report taken twice").wait();
        let r = crate::rig::cmd::parse_json(&out.stdout).unwrap_or_else(|| panic!("console_socket.py gave no report: {out}"));
        assert!(!self.path.exists(), "console_socket.py left its socket behind");
        r
    }
}

/// The receiver's report checked: one fd, a terminal (a pty master: device 5:2), its window
/// ROWS×COLS, every step passed.
#[track_caller]
fn assert_master(r: &Value, rows: u64, cols: u64) {
    let shown = || format!("{}\n--- screen ---\n{}", r, r["screen"].as_str().unwrap_or(""));
    assert_eq!(r["fds"], 1, "exactly one fd with the message: {}", shown());
    assert_eq!(r["isatty"], true, "the fd is a terminal: {}", shown());
    assert_eq!(r["rdev"], json!([5, 2]), "the fd is a pty master: {}", shown());
    assert!(r["name"].as_str().is_some_and(|n| !n.is_empty()), "the message names the master: {}", shown());
    assert_eq!(r["winsize"], json!([rows, cols]), "the pty has process.consoleSize: {}", shown());
    assert!(r["ok"] == true, "{}: {}", r["error"], shown());
}

/// The JSON array `probe stat` printed in a step's first group.
fn stat_of(step: &Value) -> Vec<Value> {
    let text = step["groups"][0].as_str().unwrap_or("");
    serde_json::from_str::<Value>(text).ok().and_then(|v| v.as_array().cloned()).unwrap_or_else(|| panic!("no probe stat output in {step}"))
}

/// A terminal container whose process is an interactive shell.
fn shell(name: &str) -> Ctr {
    let mut c = Ctr::new(name);
    c.set("/process/terminal", json!(true));
    c.args(&["/bin/sh"]);
    c
}

fn run_args(c: &Ctr) -> Vec<String> {
    c.write_config();
    vec!["run".into(), "--bundle".into(), s(&c.dir), c.id.clone()]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

// ---------------------------------------------------------------------------------------------
// run with a terminal, through a pty the test opens

/// `run` with `process.terminal`: what is typed reaches the container's shell and its output
/// comes back (the shell computes `hello-42`, which the typed line does not contain); `tty`
/// inside names a /dev/pts device; `exit 7` is the runtime's exit code; the caller's terminal
/// is as it was before (ECHO, ICANON, every flag and control character).
fn run_types_and_reads_back() {
    let c = shell("tty-run");
    let d = Drive::run(
        &c,
        &strs(&run_args(&c)),
        24,
        80,
        json!([
            { "expect": PROMPT },
            { "send": "echo hello-$((6*7))\r" },
            { "expect": "hello-42" },
            { "send": "tty\r" },
            { "expect": r"/dev/pts/\d+" },
            { "send": "exit 7\r" },
            { "wait": 20 },
        ]),
    );
    d.assert_ok(7);
    assert!(d.matched(4).starts_with("/dev/pts/"), "{d}");
}

/// The container's terminal has the caller's size from the start (`stty size`), and follows a
/// resize of the caller's terminal (SIGWINCH to the runtime, which copies the new size).
fn run_window_size_follows_the_terminal() {
    let c = shell("tty-winch");
    let d = Drive::run(
        &c,
        &strs(&run_args(&c)),
        33,
        101,
        json!([
            { "expect": PROMPT },
            { "send": "stty size\r", "expect": r"\n33 101\r?\n" },
            { "resize": [50, 132] },
            // the resize reaches the container asynchronously: ask again until it has
            { "send": "stty size\r", "expect": r"\n50 132\r?\n", "tries": 10, "timeout": 1 },
            { "send": "exit\r" },
            { "wait": 20 },
        ]),
    );
    d.assert_ok(0);
    assert_eq!(d.report["winsize_after"], json!([50, 132]), "{d}");
}

/// Ctrl-C typed while `sleep 100` runs in the foreground of the container's shell ends the
/// sleep (SIGINT from the container's own line discipline: status 130) and not the shell,
/// which goes on and exits with the code it is given.
fn run_ctrl_c_reaches_the_foreground_process() {
    let c = shell("tty-intr");
    let d = Drive::run(
        &c,
        &strs(&run_args(&c)),
        24,
        80,
        json!([
            { "expect": PROMPT },
            { "send": "sleep 100\r" },
            { "expect": "sleep 100" },
            { "wait_fg": "sleep", "timeout": 10 },
            { "send": "\u{3}" },
            { "expect": PROMPT, "timeout": 10 },
            { "send": "echo rc=$?\r" },
            { "expect": "rc=130" },
            { "send": "exit 3\r" },
            { "wait": 20 },
        ]),
    );
    d.assert_ok(3);
}

// ---------------------------------------------------------------------------------------------
// create + start with a console socket

/// `create --console-socket` + `start`: the receiver gets one fd, a pty master of size
/// `process.consoleSize`; the container's output arrives on it and what is typed into it
/// reaches the container. Inside, the process's terminal is that pty (`tty` names
/// /dev/pts/N, N the master's pty number), /dev/console is the same device, and the slave
/// belongs to the process's uid and the tty group (gid 5, mode 0620: runc's default devpts
/// options and the rootfs's `tty` group).
fn create_console_socket_gets_the_container_pty() {
    let mut c = Ctr::new("tty-sock");
    c.set("/process/terminal", json!(true));
    c.set("/process/consoleSize", json!({ "height": 30, "width": 100 }));
    c.set("/process/user", json!({ "uid": 1000, "gid": 1000 }));
    c.sh("echo hi; tty; stty size; [ /dev/console -ef \"$(tty)\" ] && echo console-is-tty; /bin/probe stat \"$(tty)\" /dev/console; read line; echo got-$line");
    let mut rx = Receiver::listen(
        &c,
        json!([
            { "expect": "hi" },
            { "expect": r"(/dev/pts/\d+)" },
            { "expect": r"\n30 100\r?\n" },
            { "expect": "console-is-tty" },
            { "expect": r"(\[\{.*\}\])\r?\n" },
            { "send": "typed-in\n" },
            { "expect": "got-typed-in" },
        ]),
    );
    c.create_with(&["--console-socket", &rx.arg()]).ok();
    c.start().ok();
    let r = rx.report();
    assert_master(&r, 30, 100);
    assert_eq!(r["steps"][1]["groups"][0], json!(format!("/dev/pts/{}", r["pty_number"])), "the process's terminal is the pty the receiver got: {r}");
    let st = stat_of(&r["steps"][4]);
    let (tty, console) = (&st[0], &st[1]);
    assert_eq!((tty["type"].as_str(), tty["major"].as_u64()), (Some("char"), Some(136)), "{tty}");
    assert_eq!((tty["uid"].as_u64(), tty["gid"].as_u64(), tty["mode"].as_str()), (Some(1000), Some(5), Some("0620")), "the slave's owner: {tty}");
    assert_eq!((console["major"].clone(), console["minor"].clone()), (tty["major"].clone(), tty["minor"].clone()), "/dev/console is the pty: {console}");
    assert_eq!(r["closed"], true, "the container's side closed when it exited: {r}");
    c.wait_status("stopped", Duration::from_secs(10));
}

// ---------------------------------------------------------------------------------------------
// exec -t

/// A running container without a terminal, for exec.
fn running(name: &str) -> Ctr {
    let mut c = Ctr::new(name);
    c.args(&["/bin/sleep", "1000"]);
    c.run_with(&["--detach"]).ok();
    c
}

/// `exec -t ID sh` in the foreground through a pty: typed lines reach the new shell, its
/// output comes back, its terminal is a /dev/pts device of the caller's size, `exit 5` is the
/// runtime's exit code and the caller's terminal is restored.
fn exec_tty_types_and_reads_back() {
    let c = running("tty-exec");
    let d = Drive::run(
        &c,
        &["exec", "-t", &c.id, "/bin/sh"],
        27,
        90,
        json!([
            { "expect": PROMPT },
            { "send": "echo hello-$((6*7))\r" },
            { "expect": "hello-42" },
            { "send": "tty\r" },
            { "expect": r"/dev/pts/\d+" },
            { "send": "stty size\r", "expect": r"\n27 90\r?\n" },
            { "send": "exit 5\r" },
            { "wait": 20 },
        ]),
    );
    d.assert_ok(5);
    assert_eq!(c.status(), "running", "the container outlives its exec'd process");
}

/// `exec -d --console-socket S --process F` with `terminal` and `consoleSize` in F: the
/// receiver gets the pty master of that size; output and input go through it; the exec'd
/// process's terminal is /dev/pts/N of the container's devpts, owned by its uid (1000) and
/// the tty group.
fn exec_tty_console_socket_gets_a_pty() {
    let c = running("tty-exec-sock");
    let mut p = c.get("/process");
    p["terminal"] = json!(true);
    p["consoleSize"] = json!({ "height": 20, "width": 70 });
    p["user"] = json!({ "uid": 1000, "gid": 1000 });
    p["args"] = json!(["/bin/sh", "-c", "echo hi; tty; stty size; /bin/probe stat \"$(tty)\"; read line; echo got-$line"]);
    let pf = c.dir.join("exec-process.json");
    std::fs::write(&pf, p.to_string()).unwrap();
    let mut rx = Receiver::listen(
        &c,
        json!([
            { "expect": "hi" },
            { "expect": r"(/dev/pts/\d+)" },
            { "expect": r"\n20 70\r?\n" },
            { "expect": r"(\[\{.*\}\])\r?\n" },
            { "send": "typed-in\n" },
            { "expect": "got-typed-in" },
        ]),
    );
    c.rt(&["exec", "-d", "--console-socket", &rx.arg(), "--process", &s(&pf), &c.id]).ok();
    let r = rx.report();
    assert_master(&r, 20, 70);
    assert_eq!(r["steps"][1]["groups"][0], json!(format!("/dev/pts/{}", r["pty_number"])), "{r}");
    let st = stat_of(&r["steps"][3]);
    assert_eq!((st[0]["major"].as_u64(), st[0]["uid"].as_u64(), st[0]["gid"].as_u64()), (Some(136), Some(1000), Some(5)), "the slave: {}", st[0]);
    assert_eq!(r["closed"], true, "{r}");
}

// ---------------------------------------------------------------------------------------------
// a terminal where none can work

/// runc's rules, each refused with exit 1, its message, and nothing left behind: a terminal
/// for a detached process needs a console socket to go to (`run -d`, `create`), and a console
/// socket needs a terminal that the runtime does not keep (`run` in the foreground, or no
/// `process.terminal`).
fn no_terminal_where_none_can_work() {
    const NO_SOCKET: &str = "cannot allocate tty if runc will detach without setting console socket";
    const NO_TTY: &str = "cannot use console socket if runc will not detach or allocate tty";
    let sock = |c: &Ctr| s(&c.dir.join("nobody-listens.sock"));

    let c = shell("tty-d");
    c.run_with(&["--detach"]).failed().stderr_has(NO_SOCKET);
    c.assert_clean();

    let c = shell("tty-create");
    c.create().failed().stderr_has(NO_SOCKET);
    c.assert_clean();

    let c = shell("tty-fg-sock");
    c.run_with(&["--console-socket", &sock(&c)]).failed().stderr_has(NO_TTY);
    c.assert_clean();

    let mut c = Ctr::new("notty-sock");
    c.args(&["/bin/true"]);
    c.create_with(&["--console-socket", &sock(&c)]).failed().stderr_has(NO_TTY);
    c.assert_clean();
}

/// The same rules for exec: `exec -d -t` without a console socket is refused with runc's
/// message and starts nothing in the container. runc's exec fails with 255, not 1, and puts
/// `exec failed: ` in front of the message.
fn exec_no_terminal_where_none_can_work() {
    let c = running("tty-exec-d");
    let o = c.rt(&["exec", "-d", "-t", &c.id, "/bin/sh"]);
    o.code(255).stderr_has("exec failed: ").stderr_has("cannot allocate tty if runc will detach without setting console socket");
    let ps = c.rt(&["ps", "--format", "json", &c.id]);
    ps.ok();
    assert_eq!(ps.json().as_array().map(Vec::len), Some(1), "only the init runs in the container: {ps}");
}
