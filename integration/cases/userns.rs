//! User namespaces as root: the container's root is host uid 100000. Each test compares what
//! the process sees inside (`id`, its maps) with what the host sees of it.

use crate::case;
use crate::rig::{read, Case, Ctr};
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

const HOST_ROOT: u32 = 100000;

pub fn cases() -> Vec<Case> {
    vec![
        case!(userns_root_is_host_uid_100000),
        case!(userns_files_on_a_volume_belong_to_the_mapped_uid),
        case!(userns_exec_joins_the_user_namespace),
        case!(userns_joined_by_path),
        case!(userns_devices_and_sys_without_a_network_namespace).runc_lacks("runc 1.1.5 mounts sysfs there and fails with EPERM"),
        case!(userns_cgroup_mount_is_the_containers),
        case!(userns_bad_mappings_are_refused_naming_the_field),
        case!(userns_root_cannot_write_the_state_or_the_pid_file),
        case!(userns_with_no_pivot_sees_only_its_own_proc),
        case!(idmapped_bind_mount_shows_the_hosts_owners).runc_lacks("runc 1.1.5 has no idmapped mounts (added in 1.2)"),
        case!(idmapped_mount_with_its_own_mappings).runc_lacks("runc 1.1.5 has no idmapped mounts (added in 1.2)"),
        case!(idmapped_mounts_refused_where_they_cannot_work).rt_only("runc 1.1.5 has no idmapped mounts"),
    ]
}

/// A container with its own user namespace, root mapped to HOST_ROOT (65536 ids).
fn mapped(name: &str) -> Ctr {
    let mut c = Ctr::new(name);
    c.push("/linux/namespaces", json!({"type": "user"}));
    c.set("/linux/uidMappings", json!([{"containerID": 0, "hostID": HOST_ROOT, "size": 65536}]));
    c.set("/linux/gidMappings", json!([{"containerID": 0, "hostID": HOST_ROOT, "size": 65536}]));
    // the rootfs belongs to the container's root, as an image unpacked for it would
    let st = std::process::Command::new("chown").args(["-R", &format!("{HOST_ROOT}:{HOST_ROOT}")]).arg(c.rootfs()).status().unwrap();
    assert!(st.success());
    c
}

pub(crate) fn status_ids(pid: i32, key: &str) -> Vec<u32> {
    read(format!("/proc/{pid}/status")).lines().find_map(|l| l.strip_prefix(key)).unwrap_or_default().split_whitespace().map(|v| v.parse().unwrap()).collect()
}

fn userns_root_is_host_uid_100000() {
    let mut c = mapped("userns-root");
    c.sh("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; sleep 30");
    let o = c.run_with(&["--detach"]);
    o.ok();
    let pid = c.pid();
    assert!(crate::rig::wait_until(Duration::from_secs(5), || o.stdout_now().lines().count() >= 5), "{}", o.stdout_now());
    let out = o.stdout_now();
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["0"], "id -u inside");
    assert_eq!(lines[1], ["0"], "id -g inside");
    assert_eq!(lines[2], ["0", "100000", "65536"], "uid_map: {out}");
    assert_eq!(lines[3], ["0", "100000", "65536"], "gid_map: {out}");
    assert_eq!(lines[4], ["allow"], "setgroups stays allowed when root writes the maps: {out}");
    assert_eq!(status_ids(pid, "Uid:"), [HOST_ROOT; 4], "the init's uids from the host");
    assert_eq!(status_ids(pid, "Gid:"), [HOST_ROOT; 4], "the init's gids from the host");
    assert_ne!(std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap(), std::fs::read_link("/proc/self/ns/user").unwrap());
}

fn userns_files_on_a_volume_belong_to_the_mapped_uid() {
    let mut c = mapped("userns-volume");
    let vol = c.dir.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::os::unix::fs::chown(&vol, Some(HOST_ROOT), Some(HOST_ROOT)).unwrap();
    c.mount(json!({"destination": "/vol", "type": "bind", "source": vol, "options": ["rbind"]}));
    c.caps(&["CAP_CHOWN", "CAP_DAC_OVERRIDE"]);
    c.sh("touch /vol/made-by-root && chown 1000:1000 /vol/made-by-root && touch /vol/mine");
    c.run().ok();
    let f = std::fs::metadata(vol.join("mine")).unwrap();
    assert_eq!((f.uid(), f.gid()), (HOST_ROOT, HOST_ROOT), "a file the container's root made");
    let f = std::fs::metadata(vol.join("made-by-root")).unwrap();
    assert_eq!((f.uid(), f.gid()), (HOST_ROOT + 1000, HOST_ROOT + 1000), "chown 1000 inside is 101000 outside");
}

fn userns_exec_joins_the_user_namespace() {
    let mut c = mapped("userns-exec");
    c.args(&["/bin/sleep", "1000"]);
    c.run_with(&["--detach"]).ok();
    let init = c.pid();
    let o = c.rt(&["exec", &c.id, "/bin/sh", "-c", "id -u; readlink /proc/self/ns/user; cat /proc/self/uid_map"]);
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "0");
    assert_eq!(lines[1], std::fs::read_link(format!("/proc/{init}/ns/user")).unwrap().display().to_string(), "exec joins the init's user namespace");
    assert_eq!(lines[2].split_whitespace().collect::<Vec<_>>(), ["0", "100000", "65536"]);
    let pf = c.dir.join("exec.pid");
    c.rt(&["exec", "-d", "-u", "1000:1000", "--pid-file", &pf.display().to_string(), &c.id, "/bin/sleep", "30"]).ok();
    let pid: i32 = read(&pf).parse().unwrap();
    assert_eq!(status_ids(pid, "Uid:"), [HOST_ROOT + 1000; 4], "exec -u 1000 is host uid 101000");
}

/// Two containers in one user namespace (a pod's): the second joins the first's by path.
fn userns_joined_by_path() {
    let mut a = mapped("userns-pod-a");
    a.args(&["/bin/sleep", "1000"]);
    a.run_with(&["--detach"]).ok();
    let apid = a.pid();
    let mut b = Ctr::new("userns-pod-b");
    std::process::Command::new("chown").args(["-R", &format!("{HOST_ROOT}:{HOST_ROOT}")]).arg(b.rootfs()).status().unwrap();
    b.push("/linux/namespaces", json!({"type": "user", "path": format!("/proc/{apid}/ns/user")}));
    // the pod's mappings, as engines send them (runc 1.1.5 insists on them)
    b.set("/linux/uidMappings", json!([{"containerID": 0, "hostID": HOST_ROOT, "size": 65536}]));
    b.set("/linux/gidMappings", json!([{"containerID": 0, "hostID": HOST_ROOT, "size": 65536}]));
    b.args(&["/bin/sleep", "1000"]);
    b.run_with(&["--detach"]).ok();
    let bpid = b.pid();
    assert_eq!(std::fs::read_link(format!("/proc/{bpid}/ns/user")).unwrap(), std::fs::read_link(format!("/proc/{apid}/ns/user")).unwrap());
    assert_eq!(status_ids(bpid, "Uid:"), [HOST_ROOT; 4]);
    // its other namespaces are its own, made inside the joined user namespace
    assert_ne!(std::fs::read_link(format!("/proc/{bpid}/ns/mnt")).unwrap(), std::fs::read_link(format!("/proc/{apid}/ns/mnt")).unwrap());
}

/// Without a network namespace of its own, a user-namespaced container cannot mount sysfs:
/// /sys is the host's, bound (read-only as configured); device nodes are the host's, bound.
fn userns_devices_and_sys_without_a_network_namespace() {
    let mut c = mapped("userns-nonet");
    c.no_ns("network");
    c.probe_args(&["stat", "/dev/null", "/dev/zero", "/sys/kernel"]);
    let o = c.run();
    o.ok();
    let v: Value = o.json();
    let null = &v[0];
    assert_eq!((null["major"].as_u64(), null["minor"].as_u64()), (Some(1), Some(3)), "/dev/null is the 1:3 device: {null}");
    assert_eq!(v[2]["type"], "dir", "/sys is there: {v}");
    let mut c = mapped("userns-nonet-mounts");
    c.no_ns("network");
    let p = c.probe();
    let sys = p.mount("/sys").unwrap_or_else(|| panic!("no /sys: {:?}", p.mount_points()));
    assert_eq!(sys["fs_type"], "sysfs", "{sys}");
    assert!(sys["options"].as_array().unwrap().iter().any(|o| o == "ro"), "the bound /sys keeps the config's ro: {sys}");
}

fn userns_cgroup_mount_is_the_containers() {
    let mut c = mapped("userns-cgroup");
    let p = c.probe();
    let cgroup = p.get("cgroup").as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert!(!cgroup.is_empty());
    let mounts = p.mount_points();
    assert!(mounts.iter().any(|m| m.starts_with("/sys/fs/cgroup")), "no cgroup mount in a user-namespaced container: {mounts:?}");
    assert!(mounts.contains(&"/proc".to_string()));
}

fn userns_bad_mappings_are_refused_naming_the_field() {
    type Edit = Box<dyn Fn(&mut Ctr)>;
    let cases: [(&str, Edit, &str); 5] = [
        (
            "overlap",
            Box::new(|c: &mut Ctr| {
                c.set("/linux/uidMappings", json!([{"containerID": 0, "hostID": 100000, "size": 1000}, {"containerID": 500, "hostID": 300000, "size": 10}]));
            }),
            "linux.uidMappings[1]",
        ),
        (
            "size0",
            Box::new(|c: &mut Ctr| {
                c.set("/linux/gidMappings", json!([{"containerID": 0, "hostID": 100000, "size": 0}]));
            }),
            "linux.gidMappings[0].size",
        ),
        (
            "noroot",
            Box::new(|c: &mut Ctr| {
                c.set("/linux/uidMappings", json!([{"containerID": 1000, "hostID": 100000, "size": 10}]));
            }),
            "linux.uidMappings",
        ),
        (
            "nomap",
            Box::new(|c: &mut Ctr| {
                c.remove("/linux/uidMappings");
                c.remove("/linux/gidMappings");
            }),
            "linux.uidMappings",
        ),
        (
            "nouserns",
            Box::new(|c: &mut Ctr| {
                let ns: Vec<Value> = c.get("/linux/namespaces").as_array().unwrap().iter().filter(|n| n["type"] != "user").cloned().collect();
                c.set("/linux/namespaces", json!(ns));
            }),
            "linux.uidMappings",
        ),
    ];
    for (name, edit, field) in cases {
        let mut c = mapped(&format!("userns-bad-{name}"));
        edit(&mut c);
        let o = c.create();
        if !crate::rig::rig().is_rt() && o.code == 0 {
            eprintln!("  {} accepts {name}", crate::rig::rig().runtime.display());
            continue;
        }
        o.failed();
        if crate::rig::rig().is_rt() {
            o.stderr_has(field);
            assert_eq!(o.stderr_lines().len(), 1, "{name}: one line: {o}");
        }
        c.assert_clean();
    }
}

/// A host directory owned by uid 0 and an idmapped bind of it (the container's own mapping):
/// inside, where root is host uid 100000, it is owned by 0, and what the container writes
/// through it is the host's uid 0's.
fn idmapped_bind_mount_shows_the_hosts_owners() {
    let mut c = mapped("idmap");
    let vol = c.dir.join("idvol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("host-file"), "x").unwrap();
    c.mount(json!({"destination": "/idvol", "type": "bind", "source": vol, "options": ["rbind", "idmap"]}));
    c.sh("stat -c '%u %g' /idvol /idvol/host-file; echo y > /idvol/from-container; ls -ln / | grep -c . > /dev/null");
    let o = c.run();
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines, ["0 0", "0 0"], "inside, the host's root-owned files are root's: {o}");
    let f = std::fs::metadata(vol.join("from-container")).unwrap();
    assert_eq!((f.uid(), f.gid()), (0, 0), "written through the idmapped mount: host uid 0's");
    let plain = std::fs::metadata(c.rootfs().join("tmp")).unwrap();
    assert_eq!(plain.uid(), HOST_ROOT, "elsewhere the container's root is still 100000");
}

/// The mount's own mappings: on-disk 0 is seen as the container's 1000 (host 101000).
fn idmapped_mount_with_its_own_mappings() {
    let mut c = mapped("idmap-own");
    let vol = c.dir.join("idvol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("host-file"), "x").unwrap();
    let map = json!([{"containerID": 0, "hostID": HOST_ROOT + 1000, "size": 1}]);
    c.mount(json!({"destination": "/idvol", "type": "bind", "source": vol, "options": ["rbind", "ridmap"], "uidMappings": map, "gidMappings": map}));
    c.sh("stat -c '%u %g' /idvol/host-file");
    let o = c.run();
    o.ok();
    assert_eq!(o.stdout.trim(), "1000 1000", "{o}");
}

fn idmapped_mounts_refused_where_they_cannot_work() {
    let vol = |c: &Ctr| {
        let v = c.dir.join("idvol");
        std::fs::create_dir_all(&v).unwrap();
        v
    };
    let mut c = Ctr::new("idmap-nouserns");
    let v = vol(&c);
    c.mount(json!({"destination": "/idvol", "type": "bind", "source": v, "options": ["rbind", "idmap"]}));
    c.create().failed().stderr_has("mounts[7] (/idvol): an idmapped mount needs a user namespace");
    c.assert_clean();
    let mut c = mapped("idmap-tmpfs");
    c.mount(json!({"destination": "/idvol", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}));
    c.create().failed().stderr_has("idmap and ridmap are for bind mounts");
    c.assert_clean();
    let mut c = mapped("idmap-noopt");
    let v = vol(&c);
    c.mount(json!({"destination": "/idvol", "type": "bind", "source": v, "options": ["rbind"], "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}));
    c.create().failed().stderr_has("mounts[7].uidMappings: mappings need the idmap or ridmap option");
    c.assert_clean();
}

/// The container's root, with every capability it has in its namespace (CAP_DAC_OVERRIDE
/// among them), cannot change what rt keeps about it: its state dir and the pid file are the
/// host root's, whom the namespace does not map. Both are bound into the container to try.
fn userns_root_cannot_write_the_state_or_the_pid_file() {
    let mut c = mapped("userns-state");
    let state = c.state_dir();
    c.mount(json!({"destination": "/state", "type": "bind", "source": c.root, "options": ["rbind"]}));
    c.mount(json!({"destination": "/bundle", "type": "bind", "source": c.dir, "options": ["rbind"]}));
    c.args(&["/bin/sleep", "1000"]);
    let pid_file = c.dir.join("init.pid");
    c.run_with(&["--detach", "--pid-file", &pid_file.display().to_string()]).ok();
    let id = &c.id;
    let script = format!(
        "for f in /state/{id}/state.json /bundle/init.pid; do test -e $f || echo missing $f; echo x >> $f && echo wrote $f; done; \
         touch /state/{id}/x && echo made a file in the state dir; rm /bundle/init.pid && echo removed the pid file; true"
    );
    let o = c.rt(&["exec", id, "/bin/sh", "-c", &script]);
    o.ok();
    assert_eq!(o.stdout.trim(), "", "the container reached rt's files: {o}");
    assert_eq!(o.stderr.matches("Permission denied").count(), 4, "{o}");
    for p in [state.join("state.json"), pid_file.clone()] {
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o022), (0, 0), "{} is root's and not group/other-writable", p.display());
    }
    assert_eq!(read(&pid_file).trim(), c.pid().to_string(), "the pid file is intact");
}

/// --no-pivot in a user namespace: the host's mounts the container's mount namespace inherits
/// are locked there (they cannot be detached), so a host procfs or sysfs among them is covered
/// instead; the container still runs and its /proc is its own.
fn userns_with_no_pivot_sees_only_its_own_proc() {
    let mut c = mapped("userns-nopivot");
    c.sh("cat /proc/self/uid_map; cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'");
    let o = c.run_with(&["--no-pivot"]);
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["0", "100000", "65536"], "{o}");
    assert!(lines[1].starts_with("/bin/sh -c"), "pid 1 is the container's shell: {o}");
    let n: usize = lines[2].trim().parse().unwrap();
    assert!(n <= 4, "only the container's processes in its /proc: {o}");
}
