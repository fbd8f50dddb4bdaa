//! `mounts[].options`: one option per line of the input, parsed as runc understands them,
//! then turned into the flags and data a mount gets; and a whole mount entry planned.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rt::rootfs::mounts;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let typ = lines.next().unwrap_or("").to_owned();
    let options: Vec<String> = lines.map(str::to_owned).collect();
    let o = mounts::parse_options(&options);
    let _ = o.data_string();
    let _ = mounts::bind_attr(&o);
    let m = serde_json::json!({ "destination": "/mnt", "type": typ, "source": "src", "options": options });
    if let Ok(m) = serde_json::from_value::<oci_spec::runtime::Mount>(m) {
        for userns in [false, true] {
            let _ = mounts::plan(0, &m, std::path::Path::new("/bundle"), false, userns);
        }
    }
});
