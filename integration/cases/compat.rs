//! Behaving like runc where its users depend on it (issue 15): setups that real workloads build
//! (pod cgroups made by hand, images with odd /dev, /proc, /sys and /tmp, `--no-pivot`, a
//! cgroup shared by two containers, frozen cgroups), each asserting what the container's
//! process (or the caller) sees. runc 1.1.15 is the reference; where Debian's runc 1.1.5
//! differs, the test says so.

use crate::case;
use crate::rig::{Case, Ctr};
use serde_json::{json, Value};

pub fn cases() -> Vec<Case> {
    vec![case!(list_json_keys_in_runcs_order)]
}

/// `list --format json`: each container's keys in runc's order (ociVersion, id, pid, status,
/// bundle, rootfs, created, annotations, owner), the order `state` has; scripts match the line.
fn list_json_keys_in_runcs_order() {
    let mut c = Ctr::new("listorder");
    c.private_root();
    c.set("/annotations", json!({"b": "2", "a": "1"}));
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    let o = c.rt(&["list", "--format", "json"]);
    o.ok();
    let line = o.stdout.trim();
    let keys = ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "annotations", "owner"];
    let at: Vec<usize> = keys.iter().map(|k| line.find(&format!("\"{k}\":")).unwrap_or_else(|| panic!("no {k}: {line}"))).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "keys out of runc's order: {line}");
    assert!(line.starts_with(r#"[{"ociVersion":"#), "{line}");
    let v: Value = serde_json::from_str(line).unwrap();
    assert_eq!(v[0]["id"], c.id.as_str());
    assert_eq!(v[0]["owner"], "root");
    c.delete_force().ok();
    c.assert_clean();
}
