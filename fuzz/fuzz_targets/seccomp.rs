//! `linux.seccomp`: compiled into the BPF program rt loads (names per ABI, argument rules,
//! the balanced tree, flags, the listener).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sc) = serde_json::from_slice::<oci_spec::runtime::LinuxSeccomp>(data) else { return };
    let _ = rt::seccomp::plan(&sc);
});
