//! rt's real-container integration tests (the `integration` test target, harness = false).
//!
//! Needs root and the test rootfs (`make rootfs`). Runs rt (`CARGO_BIN_EXE_rt`), or the runtime
//! named by `RT_TEST_RUNTIME` (e.g. /usr/sbin/runc, to check that the tests encode runc's
//! behaviour). See integration/README.md for the environment variables and the layout.
//!
//! Around the tests: a run directory (`$RT_TEST_TMPDIR/rt-it-<pid>`, holding the `--root` state
//! dir and the bundles) and a run cgroup (`rt-it-<pid>` below our own cgroup in every hierarchy)
//! that this process moves into; at the end, a check that nothing was left behind — state dirs,
//! cgroups, processes, mounts — which fails the run if anything was.

mod cases;
mod rig;

use libtest_mimic::{Arguments, Completion, Trial};
use rig::{Kind, Only};
use std::path::PathBuf;
use std::process::ExitCode;

fn trials(cases: Vec<rig::Case>, kind: &Kind) -> Vec<Trial> {
    cases
        .into_iter()
        .map(|c| {
            let skip = c.skip_reason(kind);
            let host = c.host;
            let f = c.f;
            let tag = match c.only {
                Only::All => "",
                Only::Rt(_) => "rt-only",
                Only::RuncLacks(_) => "runc-lacks",
            };
            Trial::ignorable_test(c.name, move || {
                if let Some(r) = skip {
                    return Ok(Completion::ignored_with(r));
                }
                if let Some(r) = host.and_then(|check| check()) {
                    return Ok(Completion::ignored_with(format!("host: {r}")));
                }
                f();
                Ok(Completion::Completed)
            })
            .with_kind(tag)
        })
        .collect()
}

fn setup() -> Result<(), String> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err("the integration tests run real containers and need root".into());
    }
    let explicit = std::env::var_os("RT_TEST_RUNTIME").filter(|v| !v.is_empty());
    let runtime = PathBuf::from(explicit.clone().unwrap_or_else(|| env!("CARGO_BIN_EXE_rt").into()));
    if !runtime.exists() {
        return Err(format!("runtime {} not found", runtime.display()));
    }
    let rootfs = PathBuf::from(std::env::var_os("RT_TEST_ROOTFS").unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/build/rootfs").into()));
    for f in ["bin/busybox", "bin/probe", "etc/passwd"] {
        if !rootfs.join(f).exists() {
            return Err(format!("test rootfs {} lacks {f}: run `make rootfs` first (or set RT_TEST_ROOTFS)", rootfs.display()));
        }
    }
    let tmp = PathBuf::from(std::env::var_os("RT_TEST_TMPDIR").unwrap_or_else(|| "/tmp".into()));
    clean_stale_runs(&tmp);
    let name = format!("rt-it-{}", std::process::id());
    let run_dir = tmp.join(&name);
    for d in ["state", "bundles", "misc"] {
        std::fs::create_dir_all(run_dir.join(d)).map_err(|e| format!("creating {}: {e}", run_dir.join(d).display()))?;
    }
    let cgroup = rig::cgroups::RunCgroup::create(&name).map_err(|e| format!("creating the run cgroup {name}: {e}"))?;
    rig::install(rig::Rig::new(runtime, explicit.is_some(), rootfs, run_dir, cgroup));
    Ok(())
}

/// Earlier runs that were killed before their teardown left `rt-it-<pid>` cgroups and run
/// directories; their processes (containers) are killed, the rest removed.
fn clean_stale_runs(tmp: &std::path::Path) {
    for note in rig::cgroups::clean_stale_runs("rt-it-") {
        eprintln!("integration: cleaned {note}");
    }
    for e in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("rt-it-").and_then(|p| p.parse::<i32>().ok()) else { continue };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        rig::leftovers::unmount_under(&e.path());
        if std::fs::remove_dir_all(e.path()).is_ok() {
            eprintln!("integration: cleaned stale run directory {}", e.path().display());
        }
    }
}

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    let all = cases::all();
    if args.list {
        return libtest_mimic::run(&args, trials(all, &Kind::Rt)).exit_code();
    }
    if args.test_threads.is_none() {
        // Tests mostly wait for processes; more threads than cores keeps the run short.
        args.test_threads = Some(std::env::var("RUST_TEST_THREADS").ok().and_then(|s| s.parse().ok()).unwrap_or(4));
    }
    if let Err(e) = setup() {
        eprintln!("integration: {e}");
        return ExitCode::from(1);
    }
    let r = rig::rig();
    println!("runtime:  {} ({})", r.runtime.display(), if r.version.is_empty() { "no --version" } else { &r.version });
    println!("rootfs:   {}", r.rootfs.display());
    println!("run dir:  {} (state: {})", r.run_dir.display(), r.state_root.display());
    println!("cgroup:   {} below our own cgroup in {} hierarchies", r.cgroup.name, r.cgroup.hiers.len());
    // the tests skipped for this runtime, grouped by reason
    let mut by_reason: Vec<(String, Vec<&str>)> = Vec::new();
    for c in &all {
        if let Some(why) = c.skip_reason(&r.kind) {
            match by_reason.iter_mut().find(|(w, _)| *w == why) {
                Some((_, names)) => names.push(&c.name),
                None => by_reason.push((why, vec![&c.name])),
            }
        }
    }
    if !by_reason.is_empty() {
        let n: usize = by_reason.iter().map(|(_, v)| v.len()).sum();
        println!("skipped for this runtime ({n}; RT_TEST_FORCE_ALL=1 runs them anyway):");
        for (why, names) in &by_reason {
            println!("  {why}:\n      {}", names.join(", "));
        }
    }

    // a panic of the runner itself (stdout closed, say) must not skip the teardown
    let trials = trials(all, &r.kind);
    let conclusion = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| libtest_mimic::run(&args, trials)));

    let problems = rig::leftovers::check_run(r);
    if !problems.is_empty() {
        rig::leftovers::clean_run(r);
    }
    let mut more = r.cgroup.remove();
    if std::env::var_os("RT_TEST_KEEP").is_none() {
        if let Err(e) = std::fs::remove_dir_all(&r.run_dir) {
            more.push(format!("removing {}: {e}", r.run_dir.display()));
        }
    }
    if !problems.is_empty() || !more.is_empty() {
        eprintln!("\nleft behind by the run (cleaned up now):");
        for p in problems.iter().chain(more.iter()) {
            eprintln!("  {p}");
        }
        eprintln!("integration: FAILED: the run left things behind");
        return ExitCode::from(101);
    }
    match conclusion {
        Ok(c) => c.exit_code(),
        Err(_) => ExitCode::from(101),
    }
}
