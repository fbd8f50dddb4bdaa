//! The tests, one module per concern of the core issue (issue 2).

pub mod bad_input;
pub mod cgroups;
pub mod cgroups_res;
pub mod cgroups_util;
pub mod cgroups_v2;
pub mod cgroups_verbs;
pub mod cli;
pub mod compat;
pub mod devices;
pub mod exec;
pub mod hooks;
pub mod lifecycle;
pub mod lsm;
pub mod mounts;
pub mod namespaces;
pub mod process;
pub mod rootless;
pub mod rt_only;
pub mod seccomp;
pub mod security;
pub mod terminal;
pub mod userns;

use crate::rig::Case;

pub fn all() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(lifecycle::cases());
    v.extend(cli::cases());
    v.extend(namespaces::cases());
    v.extend(mounts::cases());
    v.extend(devices::cases());
    v.extend(process::cases());
    v.extend(exec::cases());
    v.extend(hooks::cases());
    v.extend(cgroups::cases());
    v.extend(cgroups_res::cases());
    v.extend(cgroups_verbs::cases());
    v.extend(cgroups_v2::cases());
    v.extend(bad_input::cases());
    v.extend(bad_input::vanishing_cases());
    v.extend(rt_only::cases());
    v.extend(seccomp::cases());
    v.extend(security::cases());
    v.extend(lsm::cases());
    v.extend(userns::cases());
    v.extend(rootless::cases());
    v.extend(terminal::cases());
    v.extend(compat::cases());
    if std::env::var_os("RT_TEST_SELFTEST_LEAK").is_some() {
        v.push(crate::case!(selftest_leak_a_container));
    }
    v
}

/// A check of the rig itself (only with RT_TEST_SELFTEST_LEAK=1): leak a running container on
/// purpose; the end-of-run check must then report it and fail the run.
fn selftest_leak_a_container() {
    let mut c = crate::rig::Ctr::new("leak");
    c.args(&["/bin/sleep", "60"]);
    c.run_with(&["--detach"]).ok();
    std::mem::forget(c);
}
