//! `update --resources FILE|-`: runc's LinuxResources JSON as `update` reads it (zeros mean
//! unchanged), then planned as an update of each layout; and the byte sizes of its flags.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rt::cgroups::resources::{self, ApplyMode, Current, Routing};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = rt::verbs::update::parse_bytes("--memory", text.trim());
    let Ok(res) = rt::verbs::update::resources_from_json(&text) else { return };
    for r in [Routing { v1: vec!["cpu".into(), "cpuset".into(), "memory".into(), "pids".into(), "blkio".into()], v2: true }, Routing { v1: vec![], v2: true }] {
        let _ = resources::plan(&r, &res, ApplyMode::Update, &Current::default());
        let _ = resources::plan(&r, &res, ApplyMode::Update, &Current { cpu_max: Some("50000 100000".into()) });
    }
});
