//! Hooks, all six of runtime-spec 1.3: each hook of these tests records where it ran (its
//! mount and pid namespace), what it read on stdin (the state) and what it was given (args,
//! env), and the tests compare that with the container's init as the host sees it.

use crate::case;
use crate::rig::{read, Case, Ctr};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        case!(all_six_in_order_with_their_namespaces_and_state),
        case!(run_runs_the_same_hooks),
        case!(a_failing_create_hook_names_it_and_leaves_nothing),
        case!(a_hook_past_its_timeout_is_killed).runc_lacks("runc 1.1.5 kills the hook but waits for its child, which holds the hook's output open"),
        case!(a_failing_start_container_hook_stops_the_container),
        case!(a_failing_poststart_hook_stops_the_container).runc_lacks("runc 1.1.5 only warns (runtime-spec 1.0); 1.3 stops the container"),
        case!(a_failing_poststop_hook_warns_and_delete_completes),
        case!(bad_hooks_are_refused_naming_the_field),
    ]
}

/// A hook script on the host that appends one JSON line per call to LOG: its kind, mount and
/// pid namespace, argv, env and the state it read.
fn recorder(c: &Ctr, log: &Path) -> PathBuf {
    let path = c.dir.join("hook.sh");
    let script = format!(
        "#!/bin/sh\nstate=$(cat)\nprintf '{{\"kind\":\"%s\",\"mnt\":\"%s\",\"pid\":\"%s\",\"args\":\"%s\",\"env\":\"%s\",\"state\":%s}}\\n' \
         \"$1\" \"$(readlink /proc/self/ns/mnt)\" \"$(readlink /proc/self/ns/pid)\" \"$*\" \"$(env | grep -v '^PWD=' | sort | tr '\\n' ' ')\" \"$state\" >> {}\n",
        log.display()
    );
    std::fs::write(&path, script).unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&path).unwrap().permissions(), 0o755);
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// The same recorder inside the rootfs, for startContainer (its path resolves in the
/// container), writing to /tmp/hooks.log of the container.
fn recorder_inside(c: &Ctr) -> &'static str {
    let script = "#!/bin/sh\nstate=$(cat)\nprintf '{\"kind\":\"%s\",\"mnt\":\"%s\",\"pid\":\"%s\",\"args\":\"%s\",\"env\":\"%s\",\"state\":%s}\\n' \
                  \"$1\" \"$(readlink /proc/self/ns/mnt)\" \"$(readlink /proc/self/ns/pid)\" \"$*\" \"$(env | grep -v '^PWD=' | sort | tr '\\n' ' ')\" \"$state\" >> /tmp/hooks.log\n";
    let path = c.host_path("/bin/hook-inside");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    "/bin/hook-inside"
}

fn hook(path: &str, kind: &str) -> Value {
    json!({"path": path, "args": ["hook", kind], "env": [format!("HOOK_KIND={kind}")]})
}

fn lines(text: &str) -> Vec<Value> {
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a hook wrote {l:?}: {e}"))).collect()
}

fn link(p: String) -> String {
    std::fs::read_link(&p).map(|l| l.display().to_string()).unwrap_or_default()
}

/// Every kind configured with a recorder; returns (host log, container log of startContainer).
fn with_all_hooks(c: &mut Ctr) -> (PathBuf, PathBuf) {
    let log = c.dir.join("hooks.log");
    let host = recorder(c, &log).display().to_string();
    let inside = recorder_inside(c);
    c.set(
        "/hooks",
        json!({
            "prestart": [hook(&host, "prestart")],
            "createRuntime": [hook(&host, "createRuntime")],
            "createContainer": [hook(&host, "createContainer")],
            "startContainer": [hook(inside, "startContainer")],
            "poststart": [hook(&host, "poststart")],
            "poststop": [hook(&host, "poststop")],
        }),
    );
    (log, c.host_path("/tmp/hooks.log"))
}

fn all_six_in_order_with_their_namespaces_and_state() {
    let mut c = Ctr::new("hooks-all");
    c.args(&["/bin/sleep", "1000"]);
    let (log, inside_log) = with_all_hooks(&mut c);
    c.create().ok();
    let init = c.pid();
    let created = lines(&read(&log));
    let kinds: Vec<&str> = created.iter().map(|h| h["kind"].as_str().unwrap()).collect();
    // runc 1.1.5 runs poststart at `create`, before the program runs; runtime-spec (1.0 on):
    // "after the user-specified process is executed but before the start operation returns"
    if crate::rig::rig().is_rt() {
        assert_eq!(kinds, ["prestart", "createRuntime", "createContainer"], "after create");
    }
    c.start().ok();
    c.kill("KILL").ok();
    c.wait_status("stopped", Duration::from_secs(10));
    c.delete().ok();
    let host = lines(&read(&log));
    let inside = lines(&read(&inside_log));
    let kinds: Vec<&str> = host.iter().map(|h| h["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]);
    assert_eq!(inside.len(), 1, "startContainer ran once: {inside:?}");
    let by = |k: &str| host.iter().chain(&inside).find(|h| h["kind"] == k).unwrap().clone();

    let own_mnt = link("/proc/self/ns/mnt".into());
    let own_pid = link("/proc/self/ns/pid".into());
    // runtime namespace: prestart, createRuntime, poststart, poststop
    for k in ["prestart", "createRuntime", "poststart", "poststop"] {
        assert_eq!(by(k)["mnt"], own_mnt, "{k} must run in the runtime's mount namespace");
        assert_eq!(by(k)["pid"], own_pid, "{k} must run in the runtime's pid namespace");
    }
    // createContainer: in the container's mount namespace (before pivot_root); startContainer:
    // in the container (its pid namespace too)
    let ctr_mnt = by("createContainer")["mnt"].as_str().unwrap().to_owned();
    assert_ne!(ctr_mnt, own_mnt, "createContainer ran in the runtime's mount namespace");
    assert_eq!(by("startContainer")["mnt"], ctr_mnt, "startContainer and createContainer see the container's mount namespace");
    assert_ne!(by("startContainer")["pid"], own_pid, "startContainer must run in the container's pid namespace");

    // the state each one read
    for (k, status) in [
        ("prestart", "created"),
        ("createRuntime", "created"),
        ("createContainer", "created"),
        ("startContainer", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let st = &by(k)["state"];
        // runc 1.1.5 says "creating" to the hooks of create, and its poststart (run at create)
        // reads "created"
        if crate::rig::rig().is_rt() || !["prestart", "createRuntime", "createContainer", "poststart"].contains(&k) {
            assert_eq!(st["status"], status, "{k}: {st}");
        }
        assert_eq!(st["id"], c.id.as_str(), "{k}: {st}");
        assert_eq!(st["bundle"], c.dir.display().to_string(), "{k}: {st}");
        assert!(st["ociVersion"].as_str().is_some_and(|v| v.starts_with("1.")), "{k}: {st}");
        if status != "stopped" && crate::rig::rig().is_rt() {
            // runc 1.1.5 gives startContainer the pid as the init sees itself (1)
            assert_eq!(st["pid"], init, "{k}: the state names the init as the host sees it: {st}");
        }
    }
    // args and env: their own, nothing of the runtime's
    assert_eq!(by("poststop")["args"], "poststop");
    let env = by("prestart")["env"].as_str().unwrap().to_owned();
    assert!(env.contains("HOOK_KIND=prestart"), "{env}");
    assert!(!env.contains("HOME="), "the runtime's environment leaked into a hook: {env}");
}

/// `run` goes through the same points (and poststop when it removes the container).
fn run_runs_the_same_hooks() {
    let mut c = Ctr::new("hooks-run");
    c.args(&["/bin/true"]);
    let (log, inside_log) = with_all_hooks(&mut c);
    c.run().ok();
    let kinds: Vec<String> = lines(&read(&log)).iter().map(|h| h["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]);
    assert_eq!(lines(&read(&inside_log)).len(), 1);
}

fn failing(c: &Ctr, name: &str, script: &str) -> String {
    let path = c.dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// runtime-spec 1.3, lifecycle step 4: "If any createRuntime hook fails, the runtime MUST
/// generate an error, stop the container, and continue the lifecycle at step 12" (destroy,
/// then poststop).
fn a_failing_create_hook_names_it_and_leaves_nothing() {
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let mut c = Ctr::new(&format!("hooks-fail-{kind}"));
        let log = c.dir.join("hooks.log");
        let rec = recorder(&c, &log).display().to_string();
        let bad = failing(&c, "bad.sh", "echo first >&2; echo 'no network today' >&2; exit 3");
        c.set("/hooks", json!({ kind: [hook(&rec, "before"), {"path": bad}], "poststop": [hook(&rec, "poststop")] }));
        let o = c.create();
        o.failed();
        if crate::rig::rig().is_rt() {
            o.stderr_has(&format!("hooks.{kind}[1] ({bad}): exit status 3: no network today"));
            assert_eq!(o.stderr_lines().len(), 1, "one line: {o}");
            let kinds: Vec<String> = lines(&read(&log)).iter().map(|h| h["kind"].as_str().unwrap().to_owned()).collect();
            assert_eq!(kinds, ["before", "poststop"], "{kind}: the failing hook's container is destroyed and poststop runs");
        }
        c.assert_clean();
    }
}

fn a_hook_past_its_timeout_is_killed() {
    let mut c = Ctr::new("hooks-timeout");
    let slow = failing(&c, "slow.sh", "sleep 60");
    c.set("/hooks", json!({"createRuntime": [{"path": slow, "timeout": 1}]}));
    let started = Instant::now();
    let o = c.create();
    o.failed();
    assert!(started.elapsed() < Duration::from_secs(20), "the hook was not killed after its timeout: {:?}", started.elapsed());
    if crate::rig::rig().is_rt() {
        o.stderr_has(&format!("hooks.createRuntime[0] ({slow}): killed after its timeout of 1s"));
    }
    c.assert_clean();
}

/// Lifecycle step 7: a failing startContainer hook fails `start`, and the user's program never
/// runs.
fn a_failing_start_container_hook_stops_the_container() {
    let mut c = Ctr::new("hooks-startc");
    c.args(&["/bin/touch", "/tmp/program-ran"]);
    let script = c.host_path("/bin/hook-bad");
    std::fs::write(&script, "#!/bin/sh\necho 'cannot start' >&2\nexit 2\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    c.set("/hooks", json!({"startContainer": [{"path": "/bin/hook-bad"}]}));
    c.create().ok();
    let o = c.start();
    if crate::rig::rig().is_rt() {
        o.failed();
        o.stderr_has("hooks.startContainer[0] (/bin/hook-bad): exit status 2: cannot start");
    }
    c.wait_status("stopped", Duration::from_secs(10));
    assert!(!c.host_path("/tmp/program-ran").exists(), "the program ran although its startContainer hook failed");
}

/// runtime-spec 1.3, lifecycle step 9: "If any poststart hook fails, the runtime MUST generate
/// an error, stop the container, and continue the lifecycle at step 12."
fn a_failing_poststart_hook_stops_the_container() {
    let mut c = Ctr::new("hooks-poststart");
    c.args(&["/bin/sleep", "1000"]);
    let log = c.dir.join("hooks.log");
    let rec = recorder(&c, &log).display().to_string();
    let bad = failing(&c, "bad.sh", "echo 'not today' >&2; exit 4");
    c.set("/hooks", json!({"poststart": [{"path": bad}], "poststop": [hook(&rec, "poststop")]}));
    c.create().ok();
    let o = c.start();
    o.failed();
    o.stderr_has(&format!("hooks.poststart[0] ({bad}): exit status 4: not today"));
    c.wait_status("stopped", Duration::from_secs(10));
    c.delete().ok();
    let kinds: Vec<String> = lines(&read(&log)).iter().map(|h| h["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["poststop"]);
}

/// Lifecycle step 13: "If any poststop hook fails, the runtime MUST log a warning, but the
/// remaining hooks and lifecycle continue as if the hook had succeeded."
fn a_failing_poststop_hook_warns_and_delete_completes() {
    let mut c = Ctr::new("hooks-poststop");
    c.args(&["/bin/true"]);
    let log = c.dir.join("hooks.log");
    let rec = recorder(&c, &log).display().to_string();
    let bad = failing(&c, "bad.sh", "echo 'cleanup failed' >&2; exit 5");
    c.set("/hooks", json!({"poststop": [{"path": bad}, hook(&rec, "after")]}));
    c.create().ok();
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(10));
    let o = c.delete();
    o.ok();
    if crate::rig::rig().is_rt() {
        o.stderr_has("level=warning").stderr_has(&format!("hooks.poststop[0] ({bad}): exit status 5: cleanup failed"));
    }
    let kinds: Vec<String> = lines(&read(&log)).iter().map(|h| h["kind"].as_str().unwrap().to_owned()).collect();
    // runc 1.1.5 stops at the first poststop hook that fails
    if crate::rig::rig().is_rt() {
        assert_eq!(kinds, ["after"], "the next poststop hook still runs");
    }
    assert_eq!(c.status(), "", "the container is gone");
}

fn bad_hooks_are_refused_naming_the_field() {
    let mut c = Ctr::new("hooks-bad");
    c.set("/hooks", json!({"createRuntime": [{"path": "relative/hook"}]}));
    let o = c.create();
    o.failed();
    if crate::rig::rig().is_rt() {
        o.stderr_has("hooks.createRuntime[0].path");
    }
    c.assert_clean();
    let mut c = Ctr::new("hooks-bad-timeout");
    c.set("/hooks", json!({"prestart": [{"path": "/bin/true", "timeout": -1}]}));
    let o = c.create();
    o.failed();
    if crate::rig::rig().is_rt() {
        o.stderr_has("hooks.prestart[0].timeout");
    }
    c.assert_clean();
}
