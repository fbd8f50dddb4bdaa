//! state.json as every verb reads it, and as `delete --force` salvages a damaged one: the
//! repaired prefix is always valid JSON, keeps only bytes of the input, and a salvaged
//! cgroup directory is always one the input names whole, below its mount.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = rt::state::parse_state(data, "c1");
    if let Some(r) = rt::state::repair(data) {
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&r.json) {
            // Strings the scanner kept were checked one by one; a document the parser refuses
            // can only be one past serde_json's recursion limit.
            assert!(e.to_string().contains("recursion"), "repair gave invalid JSON ({e}): {:?}", String::from_utf8_lossy(&r.json));
        }
        assert!(r.kept <= data.len());
        assert_eq!(&r.json[..r.kept], &data[..r.kept]);
    }
    let s = rt::state::salvage(data, "c1");
    for d in &s.state.cgroup.dirs {
        assert!(d.path.starts_with(&d.mount) && d.path != d.mount);
    }
    if let Ok(st) = whole {
        assert_eq!(st.id, "c1");
        assert_eq!(s.init_known, st.pid > 0 && st.init_start_time > 0);
    }
});
