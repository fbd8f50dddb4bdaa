//! rt's extras beyond runc (skipped, with a note, when the suite runs another runtime):
//! `rt run bundle/` (a positional bundle path), `--version` in three lines, the state.json file
//! with runc's state fields, and the pid-reuse guard on the status.

use crate::case;
use crate::rig::{pid_alive, read, wait_until, Case, Cmd, Ctr};
use serde_json::{json, Value};
use std::time::Duration;

pub fn cases() -> Vec<Case> {
    vec![
        case!(run_positional_bundle_path).rt_only("`rt run bundle/`: a positional bundle path"),
        case!(run_positional_bundle_dir_name).rt_only("`rt run NAME` where NAME is a directory holding config.json"),
        case!(version_three_lines).rt_only("`rt version X` / `commit:` / `spec: 1.3.0`"),
        case!(state_json_file_has_state_fields).rt_only("runc's state.json is libcontainer's private format"),
        case!(status_guarded_against_pid_reuse).rt_only("rewrites rt's state.json to simulate pid reuse"),
    ]
}

/// `rt run <dir>/`: the argument is the bundle and the id is the directory's name.
fn run_positional_bundle_path() {
    let mut c = Ctr::new("posbundle");
    c.probe_args(&["exit", "3"]);
    c.write_config();
    let arg = format!("{}/", c.dir.display());
    c.rt(&["run", "--keep", &arg]).code(3);
    let st = c.state_json();
    assert_eq!(st["id"], json!(c.id));
    assert_eq!(st["bundle"], json!(c.dir.to_string_lossy()));
    assert_eq!(st["status"], json!("stopped"));
    c.delete().ok();
}

/// `rt run NAME` from the bundle's parent, NAME being a directory that holds config.json.
fn run_positional_bundle_dir_name() {
    let mut c = Ctr::new("posname");
    c.probe_args(&["exit", "4"]);
    c.write_config();
    let parent = c.dir.parent().unwrap().to_path_buf();
    let o = c.cmd().cwd(&parent).args(&["run", "--keep", &c.id]).output_in(&c.dir);
    o.code(4);
    assert_eq!(c.state_json()["bundle"], json!(c.dir.to_string_lossy()));
    c.delete().ok();
}

fn version_three_lines() {
    let o = Cmd::new(&crate::rig::rig().runtime).arg("--version").output_in(&crate::rig::rig().misc_dir());
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{o}");
    let v = lines[0].strip_prefix("rt version ").unwrap_or_else(|| panic!("{o}"));
    assert!(v.split('.').count() >= 3 && v.chars().next().unwrap().is_ascii_digit(), "version {v:?}");
    assert!(lines[1].starts_with("commit: ") && lines[1].len() > "commit: ".len(), "{o}");
    assert_eq!(lines[2], "spec: 1.3.0");
}

fn state_file(c: &Ctr) -> Value {
    serde_json::from_str(&read(c.state_dir().join("state.json"))).unwrap_or_else(|e| panic!("state.json: {e}"))
}

/// `<root>/<id>/state.json` holds runc's state fields (written atomically: always parseable).
fn state_json_file_has_state_fields() {
    let mut c = Ctr::new("statefile");
    c.args(&["/bin/sleep", "60"]);
    c.set("/annotations", json!({ "k": "v" }));
    c.create().ok();
    let st = state_file(&c);
    for f in ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "annotations"] {
        assert!(st.get(f).is_some(), "state.json lacks {f}: {st}");
    }
    assert_eq!(st["id"], json!(c.id));
    assert_eq!(st["pid"], json!(c.pid()));
    assert_eq!(st["bundle"], json!(c.dir.to_string_lossy()));
    assert_eq!(st["annotations"], json!({ "k": "v" }));
    // no temporary files left next to it
    let names: Vec<String> = std::fs::read_dir(c.state_dir()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| n == "state.json" || n == "exec.fifo" || !n.starts_with('.')), "{names:?}");
}

/// The init dies and its pid is taken by another process (simulated: state.json's pid is set
/// to a live process of ours): the status must be "stopped", not "running".
fn status_guarded_against_pid_reuse() {
    let mut c = Ctr::new("pidreuse");
    c.args(&["/bin/sleep", "60"]);
    c.run_with(&["--detach"]).ok();
    let pid = c.pid();
    // SAFETY: kill of the init this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(wait_until(Duration::from_secs(5), || !pid_alive(pid)));
    let mut st = state_file(&c);
    st["pid"] = json!(std::process::id());
    std::fs::write(c.state_dir().join("state.json"), serde_json::to_string(&st).unwrap()).unwrap();
    assert_eq!(c.status(), "stopped", "a reused pid was taken for the container's init");
    // delete must not signal the unrelated process that now holds the pid
    c.delete().ok();
    assert!(pid_alive(std::process::id() as i32));
}
