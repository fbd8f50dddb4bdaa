//! Bad input: a corpus of broken bundles. Each must fail `create` with exit 1 and an error that
//! names what is wrong, and leave nothing behind (no state dir, cgroup, process or mount).
//!
//! Each entry gives two tests:
//! - `bad_input::<name>`: for every runtime: exit 1, stderr mentions one of the entry's tokens
//!   (runc's wording or the offending value), nothing left behind;
//! - `bad_input::<name>_field` (rt only): the error is exactly one line and names the config
//!   field as a path (`mounts[7].destination`, `process.rlimits[1].type`, ...).

use crate::rig::{rig, Case, Cmd, Ctr, Output};
use serde_json::json;

struct Bad {
    name: &'static str,
    /// Break the bundle.
    edit: fn(&mut Ctr),
    /// Run something other than `create --bundle B <id>`.
    run: Option<fn(&Ctr) -> Output>,
    /// Any of these (case-insensitive) in stderr.
    tokens: &'static [&'static str],
    /// rt's error names this field.
    field: &'static str,
    /// runc 1.1.5 accepts this input.
    runc_accepts: Option<&'static str>,
}

const fn bad(name: &'static str, edit: fn(&mut Ctr), tokens: &'static [&'static str], field: &'static str) -> Bad {
    Bad { name, edit, run: None, tokens, field, runc_accepts: None }
}

/// The default config has 7 mounts and 5 namespaces, so an appended one is mounts[7] and
/// linux.namespaces[5].
fn corpus() -> Vec<Bad> {
    vec![
        bad("malformed_json", |c| c.raw_config = Some("{ not json".into()), &["invalid character", "json", "expected"], "config.json"),
        bad("truncated_json", |c| c.raw_config = Some("{\"ociVersion\": \"1.0.2\", \"process\": {".into()), &["eof", "json"], "config.json"),
        bad("empty_config", |c| c.raw_config = Some(String::new()), &["eof", "json", "empty"], "config.json"),
        Bad {
            runc_accepts: Some("runc 1.1.5 does not check ociVersion"),
            ..bad(
                "unsupported_oci_version_major",
                |c| {
                    c.set("/ociVersion", json!("2.0.0"));
                },
                &["ociVersion", "2.0.0"],
                "ociVersion",
            )
        },
        Bad {
            run: Some(|c| {
                let b = c.dir.to_string_lossy().into_owned();
                c.rt(&["create", "--bundle", &b, &c.id])
            }),
            ..bad("missing_config", |_| {}, &["config.json"], "config.json")
        },
        bad("missing_rootfs", |c| std::fs::remove_dir_all(c.rootfs()).unwrap(), &["rootfs"], "root.path"),
        bad(
            "missing_root",
            |c| {
                c.remove("/root");
            },
            &["root"],
            "root",
        ),
        bad(
            "missing_args",
            |c| {
                c.remove("/process/args");
            },
            &["args"],
            "process.args",
        ),
        bad(
            "empty_args",
            |c| {
                c.set("/process/args", json!([]));
            },
            &["args"],
            "process.args",
        ),
        bad(
            "args_not_a_list",
            |c| {
                c.set("/process/args", json!("/bin/probe"));
            },
            &["args"],
            "process.args",
        ),
        bad(
            "relative_args_not_in_path",
            |c| {
                c.args(&["no-such-cmd"]);
            },
            &["no-such-cmd"],
            "process.args[0]",
        ),
        bad(
            "relative_cwd",
            |c| {
                c.set("/process/cwd", json!("tmp"));
            },
            &["cwd"],
            "process.cwd",
        ),
        bad(
            "duplicate_namespace",
            |c| {
                c.push("/linux/namespaces", json!({ "type": "pid" }));
            },
            &["dup"],
            "linux.namespaces[5]",
        ),
        bad(
            "unknown_namespace_type",
            |c| {
                c.push("/linux/namespaces", json!({ "type": "bogus" }));
            },
            &["bogus"],
            "linux.namespaces[5].type",
        ),
        bad(
            "impossible_mount",
            |c| {
                c.mount(json!({ "destination": "/mnt/x", "type": "bogusfs", "source": "none" }));
            },
            &["/mnt/x"],
            "mounts[7]",
        ),
        bad(
            "missing_bind_source",
            |c| {
                c.mount(json!({ "destination": "/mnt/x", "type": "bind", "source": "/nonexistent/src", "options": ["bind"] }));
            },
            &["/nonexistent/src"],
            "mounts[7].source",
        ),
        bad(
            "bad_mount_option_data",
            |c| {
                c.mount(json!({ "destination": "/mnt/x", "type": "tmpfs", "source": "tmpfs", "options": ["bogusopt"] }));
            },
            &["/mnt/x"],
            "mounts[7]",
        ),
        Bad {
            runc_accepts: Some("runc 1.1.5 only warns about unknown capabilities"),
            ..bad(
                "unknown_capability",
                |c| {
                    c.push("/process/capabilities/bounding", json!("CAP_FOO"));
                },
                &["CAP_FOO"],
                "process.capabilities.bounding[3]",
            )
        },
        bad(
            "bad_rlimit_type",
            |c| {
                c.push("/process/rlimits", json!({ "type": "RLIMIT_BOGUS", "soft": 1, "hard": 1 }));
            },
            &["RLIMIT_BOGUS"],
            "process.rlimits[1].type",
        ),
        bad(
            "rlimit_value_not_a_number",
            |c| {
                c.set("/process/rlimits", json!([{ "type": "RLIMIT_NOFILE", "soft": "x", "hard": 1 }]));
            },
            &["soft"],
            "process.rlimits[0].soft",
        ),
        bad(
            "rlimit_soft_above_hard",
            |c| {
                c.set("/process/rlimits", json!([{ "type": "RLIMIT_NOFILE", "soft": 2000, "hard": 1000 }]));
            },
            &["rlimit"],
            "process.rlimits[0]",
        ),
        bad(
            "hostname_without_uts_namespace",
            |c| {
                c.no_ns("uts");
            },
            &["hostname"],
            "hostname",
        ),
        bad(
            "sysctl_not_namespaced",
            |c| {
                c.set("/linux/sysctl", json!({ "vm.swappiness": "10" }));
            },
            &["vm.swappiness"],
            "linux.sysctl",
        ),
        Bad {
            runc_accepts: Some("runc 1.1.5 ignores linux.netDevices (added in 1.3)"),
            ..bad(
                "net_devices_not_supported_yet",
                |c| {
                    c.set("/linux/netDevices", json!({ "eth9": { "name": "net9" } }));
                },
                &["netDevices"],
                "linux.netDevices",
            )
        },
        Bad {
            runc_accepts: Some("runc 1.1.5 accepts an intelRdt with a closID alone on a host without resctrl"),
            ..bad(
                "intel_rdt_not_supported_yet",
                |c| {
                    c.set("/linux/intelRdt", json!({ "closID": "rt-test" }));
                },
                &["rdt"],
                "linux.intelRdt",
            )
        },
        bad(
            "terminal_without_console_socket",
            |c| {
                c.set("/process/terminal", json!(true));
            },
            &["console", "terminal", "tty"],
            "process.terminal",
        ),
        Bad {
            run: Some(|c| {
                let b = c.dir.to_string_lossy().into_owned();
                c.write_config();
                c.rt(&["create", "--bundle", &b, "bad/id"])
            }),
            ..bad("invalid_id", |_| {}, &["invalid container ID format"], "bad/id")
        },
        // --- issue 14: wider bad input -------------------------------------------------------
        Bad {
            runc_accepts: Some("runc 1.1.5 reads a config.json of any size"),
            ..bad("huge_config", |c| c.raw_config = Some(huge_config(c)), &["larger than"], "config.json")
        },
        bad("deeply_nested_json", |c| c.raw_config = Some(nested(&c.config, 100_000)), &["recursion", "invalid type", "expected"], "process.args"),
        bad(
            "deeply_nested_unknown_field",
            |c| {
                let mut v = c.config.clone();
                v.as_object_mut().unwrap().remove("ociVersion");
                let text = v.to_string();
                c.raw_config = Some(format!("{{\"x\":{}1{},{}", "[".repeat(100_000), "]".repeat(100_000), &text[1..]));
            },
            &["ociVersion"],
            "ociVersion",
        ),
        Bad {
            run: Some(|c| {
                let mut bytes = serde_json::to_vec(&c.config).unwrap();
                // a hostname of bytes that are no UTF-8
                let at = bytes.windows(2).position(|w| w == b"{\"").unwrap() + 1;
                bytes.splice(at..at, b"\"hostname\":\"\xff\xfe\",".iter().copied());
                std::fs::write(c.dir.join("config.json"), bytes).unwrap();
                create_as_is(c)
            }),
            ..bad("config_not_utf8", |_| {}, &["invalid unicode", "utf-8", "utf8"], "config.json")
        },
        Bad {
            runc_accepts: Some("runc 1.1.5 follows config.json wherever it points"),
            run: Some(|c| {
                let outside = c.dir.parent().unwrap().join(format!("{}-outside.json", c.id));
                std::fs::write(&outside, serde_json::to_vec(&c.config).unwrap()).unwrap();
                std::os::unix::fs::symlink(&outside, c.dir.join("config.json")).unwrap();
                let o = create_as_is(c);
                let _ = std::fs::remove_file(&outside);
                o
            }),
            ..bad("config_symlink_out_of_bundle", |_| {}, &["outside the bundle"], "config.json")
        },
        Bad {
            runc_accepts: Some("runc 1.1.5 blocks opening a FIFO as config.json"),
            run: Some(|c| {
                let p = std::ffi::CString::new(c.dir.join("config.json").into_os_string().into_encoded_bytes()).unwrap();
                // SAFETY: a valid C string; mkfifo touches nothing else.
                assert_eq!(unsafe { libc::mkfifo(p.as_ptr(), 0o600) }, 0);
                create_as_is(c)
            }),
            ..bad("config_fifo", |_| {}, &["not a regular file"], "config.json")
        },
        Bad {
            // root reads any file whatever its mode: unreadable here is a directory
            run: Some(|c| {
                std::fs::create_dir(c.dir.join("config.json")).unwrap();
                create_as_is(c)
            }),
            ..bad("config_unreadable", |_| {}, &["is a directory"], "config.json")
        },
        bad(
            "rootfs_is_a_file",
            |c| {
                std::fs::remove_dir_all(c.rootfs()).unwrap();
                std::fs::write(c.rootfs(), b"not a directory").unwrap();
            },
            &["not a directory"],
            "root.path",
        ),
        bad(
            "rootfs_symlink_loop",
            |c| {
                std::fs::remove_dir_all(c.rootfs()).unwrap();
                std::os::unix::fs::symlink(c.rootfs(), c.rootfs()).unwrap();
            },
            &["too many levels of symbolic links", "symbolic link"],
            "root.path",
        ),
        Bad {
            run: Some(|c| {
                let b = c.dir.to_string_lossy().into_owned();
                c.write_config();
                c.rt(&["create", "--bundle", &b, &"a".repeat(1024)])
            }),
            ..bad("id_of_1024_chars", |_| {}, &["invalid container ID format"], "1024 bytes long")
        },
        Bad {
            run: Some(|c| {
                let b = c.dir.to_string_lossy().into_owned();
                c.write_config();
                c.rt(&["create", "--bundle", &b, "."])
            }),
            ..bad("id_dot", |_| {}, &["invalid container ID format"], "not . or ..")
        },
        Bad {
            run: Some(|c| {
                let b = c.dir.to_string_lossy().into_owned();
                c.write_config();
                c.rt(&["create", "--bundle", &b, ".."])
            }),
            ..bad("id_dot_dot", |_| {}, &["invalid container ID format"], "not . or ..")
        },
        Bad {
            run: Some(|c| {
                let root = c.dir.join("root-file");
                std::fs::write(&root, b"mine").unwrap();
                let o = create_with_root(c, &root);
                assert_eq!(std::fs::read(&root).unwrap(), b"mine", "rt touched the file given as --root");
                o
            }),
            ..bad("root_is_a_file", |_| {}, &["not a directory"], "--root")
        },
        Bad {
            run: Some(|c| {
                let target = c.dir.join("root-target");
                std::fs::write(&target, b"mine").unwrap();
                let link = c.dir.join("root-link");
                std::os::unix::fs::symlink(&target, &link).unwrap();
                let o = create_with_root(c, &link);
                assert_eq!(std::fs::read(&target).unwrap(), b"mine", "rt touched the file behind --root");
                o
            }),
            ..bad("root_is_a_symlink_to_a_file", |_| {}, &["not a directory"], "--root")
        },
        Bad {
            run: Some(|c| {
                let link = c.dir.join("root-loop");
                std::os::unix::fs::symlink(&link, &link).unwrap();
                create_with_root(c, &link)
            }),
            ..bad("root_is_a_symlink_loop", |_| {}, &["too many levels of symbolic links", "symbolic link"], "--root")
        },
    ]
}

/// A valid config with 100 MB of annotations.
fn huge_config(c: &Ctr) -> String {
    let mut v = c.config.clone();
    v["annotations"] = json!({ "big": "a".repeat(100 << 20) });
    v.to_string()
}

/// The config with process.args replaced by `depth` nested arrays.
fn nested(config: &serde_json::Value, depth: usize) -> String {
    let mut v = config.clone();
    v["process"]["args"] = json!("NESTED");
    v.to_string().replace("\"NESTED\"", &format!("{}{}", "[".repeat(depth), "]".repeat(depth)))
}

/// `create` of the bundle as it is on disk (config.json not rewritten).
fn create_as_is(c: &Ctr) -> Output {
    let b = c.dir.to_string_lossy().into_owned();
    c.rt(&["create", "--bundle", &b, &c.id])
}

/// `create` with another `--root` than the run's.
fn create_with_root(c: &Ctr, root: &std::path::Path) -> Output {
    c.write_config();
    let b = c.dir.to_string_lossy().into_owned();
    Cmd::new(&rig().runtime).arg("--root").arg(root).args(&["create", "--bundle", &b, &c.id]).in_cgroup(c.cg.procs_files()).timeout(c.timeout).output_in(&c.dir)
}

fn check(b: &Bad) -> (Ctr, Output) {
    let mut c = Ctr::new(&format!("bad-{}", b.name.replace('_', "-")));
    (b.edit)(&mut c);
    let o = match b.run {
        Some(run) => run(&c),
        None => c.create(),
    };
    o.failed();
    let err = o.stderr.to_lowercase();
    assert!(b.tokens.iter().any(|t| err.contains(&t.to_lowercase())), "the error mentions none of {:?}: {o}", b.tokens);
    c.assert_clean();
    c.state().failed().stderr_has("container does not exist");
    (c, o)
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for b in corpus() {
        let (name, accepts) = (b.name, b.runc_accepts);
        let mut universal = Case::closure(module_path!(), name, move || {
            check(&corpus().into_iter().find(|x| x.name == name).unwrap());
        });
        if let Some(why) = accepts {
            universal = universal.runc_lacks(why);
        }
        v.push(universal);
        let field = Case::closure(module_path!(), &format!("{name}_field"), move || {
            let b = corpus().into_iter().find(|x| x.name == name).unwrap();
            let (_c, o) = check(&b);
            assert_eq!(o.stderr_lines().len(), 1, "expected one line of error: {o}");
            assert!(o.stderr.contains(b.field), "the error does not name {:?}: {o}", b.field);
        });
        v.push(field.rt_only("field-path error messages"));
    }
    let why = "rt's state.json and its repair of a damaged one";
    v.push(Case::closure(module_path!(), "state_json_truncated", state_json_truncated).rt_only(why));
    v.push(Case::closure(module_path!(), "state_json_empty", state_json_empty).rt_only(why));
    v.push(Case::closure(module_path!(), "state_json_from_a_future_version", state_json_from_a_future_version).rt_only(why));
    v.push(Case::closure(module_path!(), "state_json_pid_reused_by_another_process", state_json_pid_reused).rt_only(why));
    v
}

/// A created container (sleep) whose state.json is then replaced by `damage(old)`.
fn damaged(name: &str, damage: impl FnOnce(&[u8]) -> Vec<u8>) -> (Ctr, i32) {
    let mut c = Ctr::new(name);
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    let pid = c.pid();
    let p = c.state_dir().join("state.json");
    let old = std::fs::read(&p).unwrap();
    std::fs::write(&p, damage(&old)).unwrap();
    (c, pid)
}

/// `state` says what is wrong in one line (exit 1), `list` still answers.
fn state_says_damaged(c: &Ctr, words: &str) {
    let o = c.state();
    o.failed().stderr_has(words);
    assert_eq!(o.stderr_lines().len(), 1, "expected one line: {o}");
    c.rt(&["list"]).ok();
    c.rt(&["list", "--format", "json"]).ok();
}

/// Truncated in the middle: `delete --force` still finds the init and the cgroups it names.
fn state_json_truncated() {
    let (c, pid) = damaged("st-trunc", |old| old[..old.len() / 2].to_vec());
    state_says_damaged(&c, "damaged");
    c.rt(&["delete", &c.id]).failed();
    c.delete_force().ok();
    assert!(!crate::rig::pid_alive(pid), "the init {pid} outlived delete --force");
    c.assert_clean();
}

/// Empty: nothing names the init or the cgroups any more. delete --force removes the state
/// dir and says, in a warning, that its processes and cgroups may be left (the test's own
/// cleanup removes them).
fn state_json_empty() {
    let (c, pid) = damaged("st-empty", |_| Vec::new());
    state_says_damaged(&c, "it is empty");
    let o = c.delete_force();
    o.ok().stderr_has("may be left");
    assert!(!c.state_dir().exists());
    c.state().failed().stderr_has("does not exist");
    // What rt could not find: the init and its cgroups, removed by the test.
    // SAFETY: a pid of this test's own container init.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while crate::rig::pid_alive(pid) && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for (_, d) in &c.cg.dirs {
        let _ = std::fs::remove_dir(d.join(&c.id));
    }
}

/// A newer rt's state is refused by every verb and left alone, even by delete --force.
fn state_json_from_a_future_version() {
    let (c, pid) = damaged("st-future", |old| String::from_utf8_lossy(old).replacen("\"stateVersion\":1", "\"stateVersion\":999", 1).into_bytes());
    state_says_damaged(&c, "newer rt");
    let o = c.delete_force();
    o.failed().stderr_has("newer rt");
    assert!(c.state_dir().join("state.json").exists() && crate::rig::pid_alive(pid), "delete --force touched a newer rt's container");
    let p = c.state_dir().join("state.json");
    let fixed = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).replacen("\"stateVersion\":999", "\"stateVersion\":1", 1);
    std::fs::write(&p, fixed).unwrap();
    c.delete_force().ok();
    c.assert_clean();
}

/// The init died and its pid now belongs to another process: the container is stopped, kill
/// does not signal the stranger, delete leaves it alone.
fn state_json_pid_reused() {
    let mut c = Ctr::new("st-reused");
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    c.kill("KILL").ok();
    c.wait_status("stopped", std::time::Duration::from_secs(5));
    let mut stranger = std::process::Command::new("/bin/sleep").arg("60").spawn().unwrap();
    let p = c.state_dir().join("state.json");
    let mut st: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    st["pid"] = json!(stranger.id());
    std::fs::write(&p, st.to_string()).unwrap();
    assert_eq!(c.state_json()["status"], json!("stopped"));
    c.kill("KILL").failed().stderr_has("not running");
    c.delete().ok();
    assert!(stranger.try_wait().unwrap().is_none(), "rt signalled a process that was not its container's");
    let _ = stranger.kill();
    let _ = stranger.wait();
    c.assert_clean();
}

/// A rootfs on a FUSE filesystem (bindfs) whose daemon this test kills: what a network or
/// FUSE filesystem that goes away looks like to rt (every call on it fails with ENOTCONN).
/// The mount sits outside the bundle (the leftover check counts mounts under it); the guard
/// kills the daemon by pid and detaches the mount, also when the test fails.
struct VanishingRootfs {
    /// Holds `source` (the rootfs copy bindfs serves) and `rootfs` (the mount).
    base: std::path::PathBuf,
    mountpoint: std::path::PathBuf,
    daemon: std::process::Child,
}

impl VanishingRootfs {
    /// The container's rootfs copy, served again through bindfs at a path of its own, which
    /// becomes the config's root.path.
    fn serve(c: &mut Ctr) -> VanishingRootfs {
        let base = rig().misc_dir().join(format!("{}-fuse", c.id));
        let (source, mountpoint) = (base.join("source"), base.join("rootfs"));
        std::fs::create_dir_all(&mountpoint).unwrap();
        std::fs::rename(c.rootfs(), &source).unwrap();
        let daemon = std::process::Command::new("bindfs")
            .arg("-f")
            .arg(&source)
            .arg(&mountpoint)
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("bindfs (Debian's bindfs package; .ci/run installs it): {e}"));
        let v = VanishingRootfs { base, mountpoint, daemon };
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while crate::rig::leftovers::mounts_under(&v.mountpoint).is_empty() {
            assert!(std::time::Instant::now() < end, "bindfs did not mount {}", v.mountpoint.display());
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(v.mountpoint.join("bin/sh").exists(), "bindfs serves no /bin/sh");
        c.set("/root/path", json!(v.mountpoint));
        v
    }

    /// Kills the daemon: from now on every access below the mountpoint fails.
    fn vanish(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        // The kernel sees the daemon's /dev/fuse close only once the process is reaped, and
        // may answer a stat of the root from its attribute cache for a moment: poll a read.
        let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match std::fs::read_dir(&self.mountpoint) {
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => return,
                r => assert!(std::time::Instant::now() < end, "the mount still answers after its daemon died: {r:?}"),
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for VanishingRootfs {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        crate::rig::leftovers::unmount_under(&self.mountpoint);
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Gone before create: refused in one line that says what failed, nothing made.
fn rootfs_filesystem_gone_before_create() {
    let mut c = Ctr::new("vanish-before");
    let mut fs = VanishingRootfs::serve(&mut c);
    fs.vanish();
    let o = c.create();
    o.failed().stderr_has("transport endpoint is not connected");
    if rig().is_rt() {
        assert_eq!(o.stderr_lines().len(), 1, "expected one line: {o}");
        // The kernel may answer a stat of the mount root from its attribute cache for a
        // second, so the first call that fails is either rt's check of root.path or the
        // first mount point rt makes inside it; either way the line names the field.
        let err = o.stderr_lines().join("\n");
        assert!(err.contains("root.path: ") || err.contains("mounts[0] (/proc): "), "the line names no config field: {o}");
    }
    c.assert_clean();
    c.state().failed().stderr_has("does not exist");
}

/// Gone between create and start: start cannot run the program; the container ends stopped
/// with the reason on its stderr, and delete leaves nothing.
fn rootfs_filesystem_gone_after_create() {
    let mut c = Ctr::new("vanish-created");
    c.args(&["/bin/echo", "ran"]);
    let mut fs = VanishingRootfs::serve(&mut c);
    let created = c.create();
    created.ok();
    fs.vanish();
    c.start();
    c.wait_status("stopped", std::time::Duration::from_secs(10));
    let out = std::fs::read_to_string(&created.out_path).unwrap_or_default();
    assert!(!out.contains("ran"), "the program ran from a filesystem that is gone: {out:?}");
    if rig().is_rt() {
        let err = std::fs::read_to_string(&created.err_path).unwrap_or_default();
        assert!(err.contains("/bin/echo") && err.contains("transport endpoint is not connected"), "the container's stderr does not say why: {err:?}");
    }
    c.delete().ok();
    c.assert_clean();
}

/// Gone under a running container: the init (already in memory) runs on, exec says why it
/// cannot find a program, and delete --force ends the container and leaves nothing.
fn rootfs_filesystem_gone_while_running() {
    let mut c = Ctr::new("vanish-running");
    c.args(&["/bin/sleep", "60"]);
    let mut fs = VanishingRootfs::serve(&mut c);
    c.create().ok();
    c.start().ok();
    c.rt(&["exec", &c.id, "true"]).ok();
    fs.vanish();
    let o = c.rt(&["exec", &c.id, "true"]);
    o.code(255).stderr_has("executable file not found in $PATH");
    if rig().is_rt() {
        o.stderr_has("transport endpoint is not connected");
        assert_eq!(o.stderr_lines().len(), 1, "expected one line: {o}");
    }
    assert_eq!(c.status(), "running");
    c.delete_force().ok();
    c.assert_clean();
}

pub fn vanishing_cases() -> Vec<Case> {
    vec![
        Case::new(module_path!(), "rootfs_filesystem_gone_before_create", rootfs_filesystem_gone_before_create),
        Case::new(module_path!(), "rootfs_filesystem_gone_after_create", rootfs_filesystem_gone_after_create),
        Case::new(module_path!(), "rootfs_filesystem_gone_while_running", rootfs_filesystem_gone_while_running),
    ]
}
