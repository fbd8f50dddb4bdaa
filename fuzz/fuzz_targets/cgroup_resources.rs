//! `linux.resources`: planned as a list of cgroup writes for each layout (hybrid, pure v1,
//! pure v2), for create and for update (with and without a current `cpu.max`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rt::cgroups::resources::{self, ApplyMode, Current, Routing};

fn routings() -> [Routing; 3] {
    let v1 = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    [
        Routing { v1: v1(&["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd"]), v2: true },
        Routing { v1: v1(&["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb", "net_cls", "net_prio", "rdma"]), v2: false },
        Routing { v1: vec![], v2: true },
    ]
}

fuzz_target!(|data: &[u8]| {
    let Ok(res) = serde_json::from_slice::<oci_spec::runtime::LinuxResources>(data) else { return };
    for r in routings() {
        let _ = resources::ignored(&r, &res);
        for mode in [ApplyMode::Create, ApplyMode::Update] {
            let _ = resources::plan(&r, &res, mode, &Current::default());
        }
        let _ = resources::plan(&r, &res, ApplyMode::Update, &Current { cpu_max: Some("max 100000".into()) });
    }
});
