//! AppArmor and SELinux labels on a host that has neither (this one): a label that was asked
//! for is refused, naming the field, and nothing is left behind; a container never runs less
//! confined than its config says. (On a host with the module, the label is applied; these
//! tests then skip, naming why.)

use crate::case;
use crate::rig::{rig, Case, Ctr};
use serde_json::json;

pub fn cases() -> Vec<Case> {
    vec![
        case!(apparmor_profile_refused_without_apparmor).host_skip(host_has_apparmor),
        case!(selinux_label_refused_without_selinux).host_skip(host_has_selinux).rt_only("runc 1.1.5 ignores selinuxLabel on a host without SELinux"),
        case!(mount_label_refused_without_selinux).host_skip(host_has_selinux).rt_only("runc 1.1.5 ignores mountLabel on a host without SELinux"),
        case!(exec_labels_refused_without_the_modules).host_skip(host_has_apparmor),
    ]
}

fn host_has_apparmor() -> Option<String> {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.starts_with('Y'))
        .then(|| "this host has AppArmor: the label is applied".into())
}

fn host_has_selinux() -> Option<String> {
    std::path::Path::new("/sys/fs/selinux/enforce").exists().then(|| "this host has SELinux: the label is applied".into())
}

fn refused(name: &str, ptr: &str, value: serde_json::Value, field: &str) {
    let mut c = Ctr::new(name);
    c.set(ptr, value);
    c.probe_args(&["exit", "0"]);
    let o = c.run();
    o.failed();
    if rig().is_rt() {
        o.stderr_has(field);
        assert_eq!(o.stderr_lines().len(), 1, "one line, no warning: {o}");
    }
    c.assert_clean();
}

fn apparmor_profile_refused_without_apparmor() {
    refused("aa", "/process/apparmorProfile", json!("docker-default"), "process.apparmorProfile");
}

fn selinux_label_refused_without_selinux() {
    refused("selabel", "/process/selinuxLabel", json!("system_u:system_r:container_t:s0"), "process.selinuxLabel");
}

fn mount_label_refused_without_selinux() {
    refused("mountlabel", "/linux/mountLabel", json!("system_u:object_r:container_file_t:s0"), "linux.mountLabel");
}

fn exec_labels_refused_without_the_modules() {
    let mut c = Ctr::new("execlabels");
    c.args(&["/bin/sleep", "1000"]);
    c.run_with(&["--detach"]).ok();
    let o = c.rt(&["exec", "--apparmor", "docker-default", &c.id, "/bin/true"]);
    o.code(255);
    if rig().is_rt() {
        o.stderr_has("process.apparmorProfile");
        let o = c.rt(&["exec", "--process-label", "system_u:system_r:container_t:s0", &c.id, "/bin/true"]);
        o.code(255);
        o.stderr_has("process.selinuxLabel");
    }
}
