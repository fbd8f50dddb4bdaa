//! Bad input: a corpus of broken bundles. Each must fail `create` with exit 1 and an error that
//! names what is wrong, and leave nothing behind (no state dir, cgroup, process or mount).
//!
//! Each entry gives two tests:
//! - `bad_input::<name>`: for every runtime: exit 1, stderr mentions one of the entry's tokens
//!   (runc's wording or the offending value), nothing left behind;
//! - `bad_input::<name>_field` (rt only): the error is exactly one line and names the config
//!   field as a path (`mounts[7].destination`, `process.rlimits[1].type`, ...).

use crate::rig::{Case, Ctr, Output};
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
    ]
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
    v
}
