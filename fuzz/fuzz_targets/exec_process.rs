//! `exec --process FILE`: a runtime-spec process object, parsed and checked as exec does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = rt::spec::parse_process(data, "process.json") {
        let _ = rt::spec::validate_process(&p, "process");
    }
});
