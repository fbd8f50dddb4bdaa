//! config.json: parsed and validated as `create` does, then the pure plans a valid config
//! feeds (mounts, hooks, cgroup resources, seccomp). Errors are fine; panics, hangs and
//! unbounded memory are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rt::cgroups::resources::{self, ApplyMode, Current, Routing};

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = rt::spec::parse(data) else { return };
    if rt::spec::validate(&spec).is_err() {
        return;
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        // As a root rt plans them, and as one in a user namespace (rootless) does.
        for userns in [false, true] {
            let _ = rt::rootfs::mounts::plan(i, m, std::path::Path::new("/bundle"), false, userns);
        }
    }
    let _ = rt::hooks::plan(spec.hooks().as_ref());
    if let Some(linux) = spec.linux() {
        if let Some(res) = linux.resources() {
            for routing in [Routing { v1: vec!["cpu".into(), "memory".into(), "devices".into(), "pids".into(), "blkio".into(), "cpuset".into()], v2: true }, Routing { v1: vec![], v2: true }] {
                let _ = resources::plan(&routing, res, ApplyMode::Create, &Current::default());
            }
        }
        if let Some(sc) = linux.seccomp() {
            let _ = rt::seccomp::plan(sc);
        }
    }
});
