//! The probe's report (see integration/probe), with accessors for what tests ask most.

use serde_json::Value;

pub struct Probe(pub Value);

impl Probe {
    pub fn new(v: Value) -> Probe {
        Probe(v)
    }

    pub fn get(&self, key: &str) -> &Value {
        &self.0[key]
    }

    pub fn pid(&self) -> i64 {
        self.0["pid"].as_i64().unwrap()
    }

    pub fn str(&self, key: &str) -> String {
        self.0[key].as_str().unwrap_or_else(|| panic!("probe: {key} is not a string: {}", self.0[key])).to_string()
    }

    /// uid/gid: which = "real" | "effective" | "saved" | "fs".
    pub fn uid(&self, which: &str) -> u64 {
        self.0["uid"][which].as_u64().unwrap()
    }

    pub fn gid(&self, which: &str) -> u64 {
        self.0["gid"][which].as_u64().unwrap()
    }

    pub fn groups(&self) -> Vec<u64> {
        self.0["groups"].as_array().unwrap().iter().map(|g| g.as_u64().unwrap()).collect()
    }

    pub fn env(&self) -> Vec<String> {
        self.0["env"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()).collect()
    }

    /// The value of environment variable K, if set.
    pub fn env_var(&self, k: &str) -> Option<String> {
        self.env().into_iter().find_map(|e| e.strip_prefix(&format!("{k}=")).map(str::to_string))
    }

    /// "mnt:[4026531840]" for ns "mnt".
    pub fn ns(&self, kind: &str) -> String {
        self.0["namespaces"][kind].as_str().unwrap_or_else(|| panic!("probe: no namespace {kind}: {}", self.0["namespaces"])).to_string()
    }

    pub fn mounts(&self) -> &Vec<Value> {
        self.0["mounts"].as_array().unwrap()
    }

    /// The topmost mount at MOUNT_POINT (the last one in mountinfo order).
    pub fn mount(&self, mount_point: &str) -> Option<&Value> {
        self.mounts().iter().rev().find(|m| m["mount_point"] == mount_point)
    }

    pub fn mount_points(&self) -> Vec<String> {
        self.mounts().iter().map(|m| m["mount_point"].as_str().unwrap().to_string()).collect()
    }

    /// Capability names in SET ("effective", "permitted", "inheritable", "bounding", "ambient").
    pub fn caps(&self, set: &str) -> Vec<String> {
        let mut v: Vec<String> = self.0["caps"][set]["names"]
            .as_array()
            .unwrap_or_else(|| panic!("probe: caps {set}: {}", self.0["caps"]))
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    }

    /// (soft, hard) of rlimit NAME ("RLIMIT_NOFILE").
    pub fn rlimit(&self, name: &str) -> (u64, u64) {
        let r = &self.0["rlimits"][name];
        (r["soft"].as_u64().unwrap(), r["hard"].as_u64().unwrap())
    }

    /// The /dev entry at PATH ("/dev/null").
    pub fn dev(&self, path: &str) -> Option<&Value> {
        self.0["dev"].as_array().unwrap().iter().find(|d| d["path"] == path)
    }
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", serde_json::to_string_pretty(&self.0).unwrap())
    }
}
