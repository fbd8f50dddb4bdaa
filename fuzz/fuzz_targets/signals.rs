//! Signal names and numbers as `kill` and `run` take them, and their names back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(n) = rt::signals::parse(s) {
        let name = rt::signals::name(n);
        // a name it gives is one it takes back, to the same number
        if !name.starts_with("signal ") {
            assert_eq!(rt::signals::parse(&name).ok(), Some(n), "{s:?} -> {n} -> {name}");
        }
    }
});
