//! Security regression tests: runc's CVEs are the checklist (DESIGN.md, "Security"). Each test
//! performs the attack, or the closest deterministic form of it, against real containers, and
//! asserts from the host that nothing got out: host files unchanged, nothing created outside the
//! rootfs, no mount added to the host, the runtime's binary untouched; and what the container saw.
//!
//! The attacker programs are probe subcommands (`hunt`, `swap`, `openw`). Races (the
//! shared-volume symlink swaps) run a bounded number of iterations; everything else is
//! deterministic. Targets that a vulnerable runtime would write to are harmless canaries (files
//! in the run directory, another container's oom_score_adj, the container's own domainname),
//! never a host-global knob: when a test reads the host's core_pattern it is only to check that
//! it did not change. (A first version pointed the fake /dev/null at core_pattern: runc 1.1.5
//! dup()ed that file onto the container's stdio and the probe's output became the host's
//! core_pattern.)

use crate::case;
use crate::rig::{rig, wait_until, Case, Ctr, Output};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        // CVE-2019-5736 (and CVE-2016-9962): the runtime's binary and the parked init
        case!(shared_pid_ns_attacker_cannot_reach_parked_init),
        case!(proc_self_exe_as_process_does_not_run_host_binary),
        case!(shebang_proc_self_exe_does_not_run_host_binary),
        case!(exec_attacker_in_the_container_cannot_reach_the_runtime)
            .runc_lacks("runc 1.1.5's exec never returns while the container's init ptrace-seizes new processes (not looked into further)"),
        case!(exec_of_proc_self_exe_does_not_run_host_binary),
        case!(exec_cwd_through_proc_self_fd_stays_inside),
        case!(exec_stdio_of_the_host_is_not_chowned),
        // CVE-2019-16884, -19921, -2021-30465, -2023-27561, -2023-28642, -2024-45310,
        // -2025-52881, -2026-41579: symlinks and mount races in the rootfs, /proc
        case!(mount_destination_symlinks_stay_in_rootfs),
        case!(mount_destination_symlink_into_proc_refused),
        case!(mounts_over_or_inside_proc_refused).runc_lacks("runc 1.1.5 accepts a tmpfs over /proc/sys (later runc checks every mount type against /proc)"),
        case!(proc_and_sys_symlinks_in_image),
        case!(volume_symlink_swap_race_keeps_mounts_in_rootfs),
        case!(tmpcopyup_symlink_swap_race_copies_nothing_from_host)
            .runc_lacks("runc 1.1.5 copies by path: a directory swapped for a symlink mid-copy brings host files into the tmpfs"),
        case!(dev_symlink_in_image_stays_in_rootfs)
            .runc_lacks("runc 1.1.5 has CVE-2026-41579: its /dev links and /dev/ptmx follow an image /dev symlink to the host"),
        case!(proc_writes_not_redirected_by_mounts),
        case!(proc_writes_not_redirected_through_joined_mount_namespace),
        // CVE-2024-21626: leaked fds and the cwd
        case!(cwd_through_proc_self_fd_stays_inside),
        case!(container_sees_only_stdio_fds),
        case!(running_container_has_no_host_fds),
        case!(parked_init_holds_no_host_directory),
        // CVE-2025-31133: maskedPaths and a /dev/null that is not /dev/null
        case!(masked_paths_dev_null_symlink_in_dev_volume).runc_lacks("runc 1.1.5 has CVE-2025-31133 (fixed in 1.2.8)"),
        case!(masked_paths_dev_null_overmounted),
        case!(masked_paths_dev_null_symlink_in_image)
            .runc_lacks("runc 1.1.5 has CVE-2025-31133 (fixed in 1.2.8), and dup()s the fake /dev/null onto the stdio"),
        case!(masked_paths_dev_null_swap_race).runc_lacks("runc 1.1.5 has CVE-2025-31133 (fixed in 1.2.8)"),
        // CVE-2025-52565: /dev/console
        case!(dev_console_pts_symlink),
        // CVE-2022-29162, CVE-2023-25809
        case!(no_inheritable_capabilities),
        case!(cgroupfs_read_only).runc_lacks("runc 1.1.5 leaves the tmpfs under the cgroup mounts at /sys/fs/cgroup writable on v1/hybrid hosts"),
    ]
}

// ---------------------------------------------------------------------------------------------
// helpers

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// (device, inode) of the runtime under test: what an attacker must never get an fd to.
fn runtime_inode() -> (u64, u64) {
    let md = std::fs::metadata(&rig().runtime).unwrap();
    (md.dev(), md.ino())
}

/// sha256 of the runtime binary (`sha256sum`), to show it unchanged after an attack.
fn runtime_digest() -> String {
    let o = std::process::Command::new("sha256sum").arg(&rig().runtime).output().expect("sha256sum");
    String::from_utf8_lossy(&o.stdout).split_whitespace().next().unwrap_or("").to_string()
}

/// (device, inode) of what a /proc/PID/... path points at, from the host.
fn inode_of(path: &str) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The pid of host pid PID in its innermost pid namespace (NSpid's last field).
fn ns_pid(pid: i32) -> String {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    st.lines().find_map(|l| l.strip_prefix("NSpid:")).and_then(|l| l.split_whitespace().last()).unwrap_or("").to_string()
}

/// Whether PATH (a /proc/PID/exe or /proc/PID/fd/N link, followed) is the host's runtime
/// binary on a writable mount: the CVE-2019-5736 target. runc 1.1's answer is a read-only bind
/// of its binary (same inode, read-only mount), later runc's a sealed memfd (another inode);
/// either is fine.
fn is_writable_runtime_binary(path: &str) -> bool {
    if inode_of(path) != Some(runtime_inode()) {
        return false;
    }
    let c = std::ffi::CString::new(path).unwrap();
    // SAFETY: statvfs is plain data; a valid path and buffer.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    rc != 0 || st.f_flag & libc::ST_RDONLY == 0
}

fn core_pattern() -> String {
    std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default()
}

/// A directory outside every bundle and rootfs (in the run's misc dir) that attacks aim at:
/// anything appearing in it, or changing, means the runtime was sent outside the rootfs.
struct Canary {
    dir: PathBuf,
    before: BTreeSet<String>,
}

impl Canary {
    fn new(tag: &str) -> Canary {
        let dir = rig().misc_dir().join(format!("canary-{tag}-{}", rig().next()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("keep"), "canary\n").unwrap();
        std::fs::write(dir.join("ptmx"), "canary ptmx\n").unwrap();
        std::fs::write(dir.join("null"), "canary null\n").unwrap();
        let mut c = Canary { dir, before: BTreeSet::new() };
        c.before = c.listing();
        c
    }

    /// Every entry below the canary with its type and, for files, content.
    fn listing(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo = vec![self.dir.clone()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                let rel = s(p.strip_prefix(&self.dir).unwrap());
                let md = std::fs::symlink_metadata(&p).unwrap();
                let ft = md.file_type();
                if ft.is_dir() {
                    out.insert(format!("{rel}/ (mode {:o})", md.mode() & 0o7777));
                    todo.push(p);
                } else if ft.is_file() {
                    out.insert(format!("{rel} = {:?} (mode {:o}, uid {})", std::fs::read_to_string(&p).unwrap_or_default(), md.mode() & 0o7777, md.uid()));
                } else {
                    out.insert(format!("{rel} ({:?})", ft));
                }
            }
        }
        out
    }

    #[track_caller]
    fn assert_untouched(&self, what: &dyn std::fmt::Display) {
        let now = self.listing();
        assert_eq!(now, self.before, "the host directory {} (outside every rootfs) changed: {what}", self.dir.display());
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        crate::rig::leftovers::unmount_under(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Lines of the host's mount tables (ours and pid 1's) that mention MARKER.
fn host_mounts_with(marker: &str) -> Vec<String> {
    let mut out = Vec::new();
    for f in ["/proc/self/mountinfo", "/proc/1/mountinfo"] {
        for l in std::fs::read_to_string(f).unwrap_or_default().lines() {
            if l.contains(marker) {
                out.push(format!("{f}: {l}"));
            }
        }
    }
    out
}

/// A tmpfs source name unique to this test: it shows in mountinfo wherever the mount lands.
fn marker(c: &Ctr) -> String {
    format!("rtsec-{}", c.id)
}

#[track_caller]
fn assert_no_host_mount(marker: &str, what: &dyn std::fmt::Display) {
    let m = host_mounts_with(marker);
    assert!(m.is_empty(), "a container mount reached the host's mount table: {what}\n  {}", m.join("\n  "));
}

/// Drop the config's mount at DEST.
fn remove_mount(c: &mut Ctr, dest: &str) {
    if let Some(i) = c.mount_index(dest) {
        c.remove(&format!("/mounts/{i}"));
    }
}

/// Replace the config's mount at DEST (kept at its position) with M.
fn replace_mount(c: &mut Ctr, dest: &str, m: Value) {
    let i = c.mount_index(dest).unwrap_or_else(|| panic!("no mount at {dest}"));
    c.set(&format!("/mounts/{i}"), m);
}

/// `create` then `start`: the container's output once it has stopped.
#[track_caller]
#[allow(clippy::result_large_err)] // a test helper: the Output is the test's failure report
fn create_start(c: &mut Ctr) -> Result<String, Output> {
    let o = c.create();
    if o.code != 0 {
        return Err(o);
    }
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(10));
    Ok(o.stdout_now())
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// The ELF interpreter (PT_INTERP) of a binary, e.g. /lib64/ld-linux-x86-64.so.2.
fn elf_interp(path: &Path) -> Option<String> {
    let b = std::fs::read(path).ok()?;
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return None;
    }
    let u16at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u64at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64at(32), u16at(54), u16at(56));
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32::from_le_bytes(b[ph..ph + 4].try_into().unwrap()) == 3 {
            let (off, size) = (u64at(ph + 8), u64at(ph + 32));
            return Some(String::from_utf8_lossy(&b[off..off + size]).trim_end_matches('\0').to_string());
        }
    }
    None
}

/// A 160-byte x86-64 ELF that, used as a dynamic loader, does what an attacker's library in
/// the image would do when the runtime's binary is exec'd in the container (the CVE-2019-5736
/// exploit): `open("/proc/self/exe", O_RDONLY)` (fd 3), then `pause()` forever. The process then
/// shows, from the host, which binary it runs and what it holds.
fn fake_loader() -> Vec<u8> {
    let code: [u8; 25] = [
        0x48, 0x8d, 0x3d, 0x12, 0x00, 0x00, 0x00, // lea rdi, [rip+0x12] (the path below)
        0x31, 0xf6, //                               xor esi, esi (O_RDONLY)
        0xb8, 0x02, 0x00, 0x00, 0x00, //             mov eax, 2 (open)
        0x0f, 0x05, //                               syscall
        0xb8, 0x22, 0x00, 0x00, 0x00, //             mov eax, 34 (pause)
        0x0f, 0x05, //                               syscall
        0xeb, 0xf7, //                               jmp back to pause
    ];
    let path = b"/proc/self/exe\0";
    let total = (64 + 56 + code.len() + path.len()) as u64;
    let mut e = Vec::new();
    e.extend_from_slice(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00");
    e.extend_from_slice(&3u16.to_le_bytes()); // ET_DYN
    e.extend_from_slice(&0x3eu16.to_le_bytes()); // x86-64
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&120u64.to_le_bytes()); // entry: right after the headers
    e.extend_from_slice(&64u64.to_le_bytes()); // phoff
    e.extend_from_slice(&0u64.to_le_bytes()); // shoff
    e.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 1, 64, 0, 0] {
        e.extend_from_slice(&v.to_le_bytes());
    }
    e.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    e.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for v in [0u64, 0, 0, total, total, 0x1000] {
        e.extend_from_slice(&v.to_le_bytes());
    }
    e.extend_from_slice(&code);
    e.extend_from_slice(path);
    e
}

fn write_exec(path: &Path, content: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(path);
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

// ---------------------------------------------------------------------------------------------
// CVE-2019-5736 / CVE-2016-9962: the runtime's binary and the parked init

/// The hunter: container B runs `probe hunt`, reaching into every process it can see. A second
/// container A joins B's pid namespace by path, so that A's init — a copy of the runtime,
/// parked until `start` — is visible to B the whole time; then A is started. B must never get
/// an fd to the runtime's binary (CVE-2019-5736) nor to anything of the parked init: its exe,
/// fds (a state directory on the host was how CVE-2016-9962 got out), cwd, root, memory, and
/// must not be able to ptrace it.
fn shared_pid_ns_attacker_cannot_reach_parked_init() {
    let digest = runtime_digest();
    let rt_ino = runtime_inode();
    let mut b = Ctr::new("hunter");
    b.probe_args(&["hunt", "60"]);
    let bo = b.run_with(&["--detach"]);
    bo.ok();
    let b_pid = b.pid();
    let scans_file = b.host_path("/tmp/hunt.scans");
    let scans = || std::fs::read_to_string(&scans_file).ok().and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or(0);
    assert!(wait_until(Duration::from_secs(10), || scans() > 0), "the hunter did not start: {}", bo.stdout_now());
    std::fs::write(b.host_path("/tmp/hunt.phase"), "parked").unwrap();

    let mut a = Ctr::new("hunted");
    a.ns("pid", Some(&format!("/proc/{b_pid}/ns/pid")));
    a.args(&["/bin/true"]);
    a.create().ok();
    let a_pid = a.pid();
    let a_in_b = ns_pid(a_pid);
    let n = scans();
    assert!(wait_until(Duration::from_secs(15), || scans() >= n + 3), "the hunter stalled");
    std::fs::write(b.host_path("/tmp/hunt.phase"), "started").unwrap();
    a.start().ok();
    a.wait_status("stopped", Duration::from_secs(10));
    let n = scans();
    assert!(wait_until(Duration::from_secs(15), || scans() >= n + 2), "the hunter stalled");
    std::fs::write(b.host_path("/tmp/hunt.stop"), "").unwrap();
    b.wait_status("stopped", Duration::from_secs(10));

    let records = json_lines(&bo.stdout_now());
    let mut summary: BTreeSet<String> = BTreeSet::new();
    for r in records.iter().filter(|r| r["pid"] == a_in_b) {
        summary.insert(format!(
            "{} {}{}: {}",
            r["phase"].as_str().unwrap_or(""),
            r["what"].as_str().unwrap_or(""),
            r["how"].as_str().map(|h| format!(" {h}")).unwrap_or_default(),
            r["error"].as_str().or(r["result"].as_str()).unwrap_or_else(|| r["fd"]["target"].as_str().unwrap_or("ok"))
        ));
    }
    eprintln!("  the hunter on A's init (pid {a_in_b} in B's namespace): {}", summary.iter().cloned().collect::<Vec<_>>().join("; "));
    // an fd to the runtime's binary that does not refuse writing with EROFS (ETXTBSY only lasts
    // while some runtime process runs)
    let got_runtime: Vec<&Value> = records
        .iter()
        .filter(|r| r["ok"] == true && (r["fd"]["dev"].as_u64(), r["fd"]["ino"].as_u64()) == (Some(rt_ino.0), Some(rt_ino.1)) && r["write"] != "EROFS")
        .collect();
    assert!(
        got_runtime.is_empty(),
        "a process in the container got an fd to the runtime's binary {} (CVE-2019-5736):\n  {}",
        rig().runtime.display(),
        got_runtime.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("\n  ")
    );
    let on_parked: Vec<&Value> = records.iter().filter(|r| r["pid"] == a_in_b && r["phase"] == "parked").collect();
    assert!(!on_parked.is_empty(), "the hunter never saw A's parked init (pid {a_in_b} in B's namespace); it saw: {records:?}");
    let reached: Vec<String> = on_parked.iter().filter(|r| r["ok"] == true).map(|r| r.to_string()).collect();
    assert!(
        reached.is_empty(),
        "a process in the container reached into the parked init of another container (CVE-2016-9962 / CVE-2019-5736):\n  {}",
        reached.join("\n  ")
    );
    assert_eq!(runtime_digest(), digest, "the runtime binary changed");
}

/// Put the fake loader where the runtime binary's interpreter is looked up: in the rootfs. An
/// image is free to ship its own ld.so and libraries; a runtime binary exec'd in the container
/// loads them from there.
/// Gives false for a statically linked runtime, which loads nothing from the image.
fn plant_fake_loader(c: &Ctr) -> bool {
    let Some(interp) = elf_interp(&rig().runtime) else { return false };
    write_exec(&c.host_path(&interp), &fake_loader());
    true
}

/// Start C, whose process exec's /proc/self/exe one way or another, and check from the host
/// what it ended up running: never the runtime's own binary on the host, whose fd the process
/// would then hold (the exploit reopens it for writing once no runtime is running, and every
/// later container starts the attacker's code on the host).
fn assert_not_running_host_binary(c: &mut Ctr, loader_planted: bool) {
    let digest = runtime_digest();
    let o = c.create();
    if o.code != 0 {
        // refusing to exec it is fine too
        o.failed();
        return;
    }
    // A static runtime exec'd in the container would run its own code and exit at once, which
    // the checks below could not tell from a refusal: for it, only the refusal passes.
    assert!(loader_planted, "the runtime let the container execute its own binary (CVE-2019-5736): create exited 0");
    let pid = c.pid();
    c.start().ok();
    // the fake loader opens fd 3 and pauses; a refused exec ends the process instead
    let started = wait_until(Duration::from_secs(10), || Path::new(&format!("/proc/{pid}/fd/3")).exists() || !crate::rig::pid_alive(pid));
    assert!(started, "the process neither ran the loader nor ended");
    if !crate::rig::pid_alive(pid) {
        return;
    }
    let exe_link = std::fs::read_link(format!("/proc/{pid}/exe")).map(|p| s(&p)).unwrap_or_default();
    let fd3_link = std::fs::read_link(format!("/proc/{pid}/fd/3")).map(|p| s(&p)).unwrap_or_default();
    assert!(
        !is_writable_runtime_binary(&format!("/proc/{pid}/exe")),
        "the container's process runs the host's runtime binary ({exe_link}, writable mount) and holds it open as fd 3 \
         ({fd3_link}): CVE-2019-5736 — it reopens /proc/self/fd/3 for writing as soon as no runtime process runs, and \
         every later runtime call runs the container's code on the host"
    );
    assert!(!is_writable_runtime_binary(&format!("/proc/{pid}/fd/3")), "the container's process holds the host's runtime binary open ({fd3_link})");
    eprintln!("  the process runs {exe_link}; its fd 3 is {fd3_link}");
    assert_eq!(runtime_digest(), digest, "the runtime binary changed");
}

/// `process.args[0]` = /proc/self/exe: resolved while the init is still the runtime.
fn proc_self_exe_as_process_does_not_run_host_binary() {
    let mut c = Ctr::new("selfexe");
    let planted = plant_fake_loader(&c);
    c.args(&["/proc/self/exe"]);
    assert_not_running_host_binary(&mut c, planted);
}

/// The image's entrypoint is a script whose interpreter is /proc/self/exe (the published
/// CVE-2019-5736 exploit): the kernel resolves it during the init's execve.
fn shebang_proc_self_exe_does_not_run_host_binary() {
    let mut c = Ctr::new("shebang");
    let planted = plant_fake_loader(&c);
    write_exec(&c.host_path("/bin/evil"), b"#!/proc/self/exe\n");
    c.args(&["/bin/evil"]);
    assert_not_running_host_binary(&mut c, planted);
}

// ---------------------------------------------------------------------------------------------
// the same attacks on the exec path

/// The container's init hunts (as in the test above) while processes are exec'd into its
/// container: between clone and execve each is a copy of the runtime, and nothing in the
/// container may open its exe, fds or memory.
fn exec_attacker_in_the_container_cannot_reach_the_runtime() {
    let digest = runtime_digest();
    let rt_ino = runtime_inode();
    let mut b = Ctr::new("exec-hunter");
    b.probe_args(&["hunt", "60"]);
    let bo = b.run_with(&["--detach"]);
    bo.ok();
    let scans_file = b.host_path("/tmp/hunt.scans");
    let scans = || std::fs::read_to_string(&scans_file).ok().and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or(0);
    assert!(wait_until(Duration::from_secs(10), || scans() > 0), "the hunter did not start: {}", bo.stdout_now());
    std::fs::write(b.host_path("/tmp/hunt.phase"), "exec").unwrap();
    for _ in 0..20 {
        b.rt(&["exec", &b.id, "/bin/true"]).ok();
    }
    let n = scans();
    assert!(wait_until(Duration::from_secs(15), || scans() >= n + 2), "the hunter stalled");
    std::fs::write(b.host_path("/tmp/hunt.stop"), "").unwrap();
    b.wait_status("stopped", Duration::from_secs(10));
    let records = json_lines(&bo.stdout_now());
    let got_runtime: Vec<&Value> = records
        .iter()
        .filter(|r| r["ok"] == true && (r["fd"]["dev"].as_u64(), r["fd"]["ino"].as_u64()) == (Some(rt_ino.0), Some(rt_ino.1)) && r["write"] != "EROFS")
        .collect();
    assert!(got_runtime.is_empty(), "a process in the container got an fd to the runtime's binary during exec (CVE-2019-5736):\n  {got_runtime:?}");
    assert_eq!(runtime_digest(), digest, "the runtime binary changed");
}

/// `exec ID /proc/self/exe` and an exec'd `#!/proc/self/exe` script: the exec'd process is a
/// copy of the runtime until execve, so /proc/self/exe is the host's binary then.
fn exec_of_proc_self_exe_does_not_run_host_binary() {
    let digest = runtime_digest();
    let mut c = Ctr::new("exec-selfexe");
    c.args(&["/bin/sleep", "1000"]);
    write_exec(&c.host_path("/bin/evil"), b"#!/proc/self/exe\n");
    c.run_with(&["--detach"]).ok();
    for args in [["/proc/self/exe"], ["/bin/evil"]] {
        let mut a = vec!["exec", c.id.as_str()];
        a.extend_from_slice(&args);
        let o = c.rt(&a);
        if rig().is_rt() {
            // rt refuses (a static binary run in the container would exit at once, which could
            // not be told from a refusal otherwise)
            o.code(255);
            o.stderr_has("CVE-2019-5736");
        }
    }
    assert_eq!(runtime_digest(), digest, "the runtime binary changed");
}

/// CVE-2024-21626 through exec: `--cwd /proc/self/fd/N` for the fds a runtime might still
/// hold at the chdir.
fn exec_cwd_through_proc_self_fd_stays_inside() {
    let mut c = Ctr::new("exec-cwdfd");
    c.args(&["/bin/sleep", "1000"]);
    c.run_with(&["--detach"]).ok();
    let mut bad = Vec::new();
    for n in 3..=12 {
        let cwd = format!("/proc/self/fd/{n}");
        let o = c.rt(&["exec", "--cwd", &cwd, &c.id, "/bin/probe"]);
        if o.code != 0 {
            continue;
        }
        let p = crate::rig::cmd::parse_json(&o.stdout).unwrap_or(json!({}));
        let seen = p["cwd"].as_str().unwrap_or("");
        if !seen.starts_with('/') || seen.contains("unreachable") {
            bad.push(format!("exec --cwd {cwd}: the process started with cwd {:?}", p["cwd"]));
        }
    }
    assert!(bad.is_empty(), "CVE-2024-21626: an exec'd process with a cwd outside the container:\n  {}", bad.join("\n  "));
}

/// The caller's stdio (here the host's /dev/null) is the exec'd process's: nothing may chown
/// or chmod it to the container's user.
fn exec_stdio_of_the_host_is_not_chowned() {
    use std::os::unix::fs::MetadataExt;
    let before = std::fs::metadata("/dev/null").unwrap();
    let mut c = Ctr::new("exec-stdio");
    c.args(&["/bin/sleep", "1000"]);
    c.run_with(&["--detach"]).ok();
    c.rt(&["exec", "-u", "1000:1000", &c.id, "/bin/sh", "-c", "ls -l /proc/self/fd/0 > /dev/null"]).ok();
    let after = std::fs::metadata("/dev/null").unwrap();
    assert_eq!((after.uid(), after.gid(), after.mode()), (before.uid(), before.gid(), before.mode()), "the host's /dev/null changed owner or mode");
}

// ---------------------------------------------------------------------------------------------
// symlinks and mount races in the rootfs

/// Mount destinations behind symlinks that point outside the rootfs — absolute, relative with
/// `..`s, a chain of links, a link through the magic /proc/self/root, `..` in the destination
/// itself — must land inside the rootfs (or be refused): nothing created or mounted in the
/// host directory they aim at.
fn mount_destination_symlinks_stay_in_rootfs() {
    let canary = Canary::new("dest");
    let target = s(&canary.dir);
    let rel = format!("{}{}", "../".repeat(24), target.trim_start_matches('/'));
    // (name, links to create in the rootfs (path, target), destination)
    type LinkCase = (&'static str, Vec<(String, String)>, String);
    let cases: Vec<LinkCase> = vec![
        ("absolute", vec![("/esc".into(), target.clone())], "/esc/sub/mnt".into()),
        ("relative", vec![("/esc".into(), rel.clone())], "/esc/sub/mnt".into()),
        ("nested-relative", vec![("/a/b/esc".into(), format!("../../{rel}"))], "/a/b/esc/sub/mnt".into()),
        (
            "chain",
            vec![("/esc".into(), "/c1".into()), ("/c1".into(), "c2/../c3".into()), ("/c2".into(), "/".into()), ("/c3".into(), target.clone())],
            "/esc/sub/mnt".into(),
        ),
        ("proc-self-root", vec![("/esc".into(), format!("/proc/self/root{target}"))], "/esc/sub/mnt".into()),
        ("proc-1-cwd", vec![("/esc".into(), "/proc/1/cwd".into())], "/esc/sub/mnt".into()),
        ("dotdot", vec![], format!("/../../../../../../../..{target}/sub/mnt")),
        ("dangling", vec![("/esc".into(), format!("{target}/sub/new"))], "/esc/mnt".into()),
    ];
    let mut outcomes = Vec::new();
    // each link once dangling inside the rootfs, once with its in-root target present
    for (name, links, dest) in cases
        .iter()
        .flat_map(|c| [(c, false), (c, true)])
        .map(|((n, l, d), present)| (format!("{n}{}", if present { "+target" } else { "" }), l.clone(), (d.clone(), present)))
    {
        let (dest, present) = dest;
        let mut c = Ctr::new(&format!("dest-{name}"));
        for (at, to) in &links {
            let p = c.host_path(at);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            symlink(to, &p).unwrap();
        }
        if present {
            std::fs::create_dir_all(c.host_path(&target)).unwrap();
        }
        let mk = marker(&c);
        let file = c.dir.join("bind-src");
        std::fs::write(&file, "bound\n").unwrap();
        c.mount(json!({ "destination": dest, "type": "tmpfs", "source": mk, "options": ["size=1m"] }));
        c.mount(json!({ "destination": format!("{dest}/file"), "type": "bind", "source": s(&file), "options": ["bind"] }));
        c.sh("grep rtsec- /proc/self/mountinfo");
        let o = c.run();
        let what = format!("{name}: destination {dest} via {links:?}: {o}");
        canary.assert_untouched(&what);
        assert_no_host_mount(&mk, &what);
        if o.code != 0 {
            o.failed();
            outcomes.push(format!("{name}: refused ({})", o.stderr.trim().rsplit("msg=").next().unwrap_or("").trim_matches('"')));
        } else {
            let mps: Vec<&str> = o.stdout.lines().filter_map(|l| l.split(' ').nth(4)).collect();
            assert_eq!(mps.len(), 1, "{what}");
            outcomes.push(format!("{name}: mounted inside at {}", mps[0]));
        }
    }
    eprintln!("  {}", outcomes.join("\n  "));
}

/// A bind destination that is a symlink into /proc (`/mnt` -> /proc/sys/kernel): runc refuses
/// mounts inside /proc (CVE-2019-16884's class: a mount over /proc hides what confines the
/// container, and redirects what the runtime writes there). The host's sysctls stay as they are.
fn mount_destination_symlink_into_proc_refused() {
    let before = core_pattern();
    let mut c = Ctr::new("dest-proc");
    let src = c.dir.join("fake-kernel");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("core_pattern"), "|/fake\n").unwrap();
    let _ = std::fs::remove_dir_all(c.host_path("/mnt"));
    symlink("/proc/sys/kernel", c.host_path("/mnt")).unwrap();
    c.mount(json!({ "destination": "/mnt", "type": "bind", "source": s(&src), "options": ["rbind"] }));
    c.probe_args(&["read", "/proc/sys/kernel/core_pattern"]);
    let o = c.run();
    assert_eq!(core_pattern(), before, "the host's core_pattern changed");
    assert!(
        o.code != 0,
        "a bind whose destination /mnt is a symlink to /proc/sys/kernel was mounted over the container's /proc/sys/kernel \
         (the container read {:?}); runc refuses mounts inside /proc: {o}",
        o.json()["content"]
    );
    o.failed();
    c.assert_clean();
}

/// Mounts over /proc or inside it: a tmpfs or a bind over /proc, a tmpfs over /proc/sys, a bind
/// over a /proc/sys file. runc refuses all of them (only procfs may go on /proc, and inside it
/// only the files lxcfs emulates); a bind over /proc/cpuinfo (lxcfs) stays allowed.
fn mounts_over_or_inside_proc_refused() {
    let mut wrong = Vec::new();
    let cases: [(&str, &str, &str, bool); 5] = [
        ("tmpfs-over-proc", "/proc", "tmpfs", false),
        ("bind-over-proc", "/proc", "bind-dir", false),
        ("tmpfs-over-proc-sys", "/proc/sys", "tmpfs", false),
        ("bind-over-sysctl", "/proc/sys/kernel/shmmax", "bind-file", false),
        ("bind-over-cpuinfo", "/proc/cpuinfo", "bind-file", true),
    ];
    for (name, dest, kind, allowed) in cases {
        let mut c = Ctr::new(name);
        let dir = c.dir.join("src-dir");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cpuinfo"), "fake\n").unwrap();
        let file = c.dir.join("src-file");
        std::fs::write(&file, "fake\n").unwrap();
        let m = match kind {
            "tmpfs" => json!({ "destination": dest, "type": "tmpfs", "source": "tmpfs" }),
            "bind-dir" => json!({ "destination": dest, "type": "bind", "source": s(&dir), "options": ["rbind"] }),
            _ => json!({ "destination": dest, "type": "bind", "source": s(&file), "options": ["bind"] }),
        };
        c.mount(m);
        c.args(&["/bin/true"]);
        let o = c.run();
        if allowed && o.code != 0 {
            wrong.push(format!("{name}: refused, but runc allows it (lxcfs): {}", o.stderr.trim()));
        } else if !allowed && o.code == 0 {
            wrong.push(format!("{name}: a {kind} mount on {dest} was accepted"));
        }
        if o.code != 0 {
            c.assert_clean();
        }
    }
    assert!(wrong.is_empty(), "mounts over /proc (CVE-2019-16884 class):\n  {}", wrong.join("\n  "));
}

/// The image's /proc or /sys is a symlink (CVE-2019-19921, CVE-2023-27561, CVE-2023-28642): to
/// a directory of the image, or with `..`s to a host directory. The runtime refuses, or mounts
/// inside the rootfs with the masks and read-only paths in force; the host directory is
/// untouched.
fn proc_and_sys_symlinks_in_image() {
    let canary = Canary::new("procsym");
    let rel = format!("{}{}", "../".repeat(24), s(&canary.dir).trim_start_matches('/'));
    for (name, link, target) in [
        ("proc-abs", "/proc", "/bad-proc".to_string()),
        ("proc-rel", "/proc", rel.clone()),
        ("sys-abs", "/sys", "/bad-sys".to_string()),
        ("sys-rel", "/sys", rel.clone()),
    ] {
        let mut c = Ctr::new(name);
        let _ = std::fs::remove_dir_all(c.host_path(link));
        std::fs::create_dir_all(c.host_path("/bad-proc")).unwrap();
        std::fs::create_dir_all(c.host_path("/bad-sys")).unwrap();
        symlink(&target, c.host_path(link)).unwrap();
        let cmds: [&[&str]; 4] =
            [&["stat", "/proc/kcore", "/proc/timer_list"], &["write", "/proc/sys/kernel/domainname", "x"], &["ls", "/sys/firmware"], &["info"]];
        let q = |a: &&str| format!("'{a}'");
        let script: Vec<String> = cmds.iter().map(|c| format!("/bin/probe {}", c.iter().map(q).collect::<Vec<_>>().join(" "))).collect();
        c.sh(&script.join("; "));
        let o = c.run();
        let what = format!("{name}: {link} -> {target}: {o}");
        canary.assert_untouched(&what);
        if o.code != 0 && json_lines(&o.stdout).is_empty() {
            o.failed();
            c.assert_clean();
            continue;
        }
        let r = json_lines(&o.stdout);
        assert_eq!(r.len(), 4, "{what}");
        for st in r[0].as_array().unwrap().iter().filter(|st| st.get("error").is_none()) {
            assert_eq!(
                (st["type"].as_str(), st["major"].as_u64(), st["minor"].as_u64()),
                (Some("char"), Some(1), Some(3)),
                "a masked path is not masked: {st}\n{what}"
            );
        }
        assert_eq!(r[1]["error"], json!("EROFS"), "/proc/sys is writable: {what}");
        assert_eq!(r[2]["names"], json!([]), "/sys/firmware is not masked: {what}");
    }
}

/// CVE-2021-30465 (mount destinations redirected by a symlink swapped in mid-create) and
/// CVE-2024-45310 (empty files and directories created on the host): container B shares a
/// volume with containers A and swaps a directory `d` in it with a symlink to a host directory,
/// in a loop, while A after A is created with mounts below `/vol/d`. Whatever A's create does,
/// the host directory stays as it was and no mount of A reaches the host.
fn volume_symlink_swap_race_keeps_mounts_in_rootfs() {
    let canary = Canary::new("swap");
    let mut b = Ctr::new("swapper");
    let vol = b.dir.join("vol");
    std::fs::create_dir_all(vol.join("d")).unwrap();
    symlink(&canary.dir, vol.join("l")).unwrap();
    b.mount(json!({ "destination": "/vol", "type": "bind", "source": s(&vol), "options": ["rbind"] }));
    b.probe_args(&["swap", "/vol", "d", "l", "60"]);
    let bo = b.run_with(&["--detach"]);
    bo.ok();
    let end = Instant::now() + Duration::from_secs(4);
    let (mut ok, mut refused, mut n) = (0, 0, 0);
    while n < 16 && Instant::now() < end {
        n += 1;
        let mut a = Ctr::new("swapvictim");
        let mk = marker(&a);
        let file = a.dir.join("bind-src");
        std::fs::write(&file, "bound\n").unwrap();
        a.mount(json!({ "destination": "/vol", "type": "bind", "source": s(&vol), "options": ["rbind"] }));
        a.mount(json!({ "destination": "/vol/d/sub", "type": "tmpfs", "source": mk, "options": ["size=1m"] }));
        a.mount(json!({ "destination": "/vol/d/deep/er/dir", "type": "tmpfs", "source": mk, "options": ["size=1m"] }));
        a.mount(json!({ "destination": "/vol/d/file", "type": "bind", "source": s(&file), "options": ["bind"] }));
        a.args(&["/bin/true"]);
        let o = a.create();
        let what = format!("iteration {n}: {o}");
        canary.assert_untouched(&what);
        assert_no_host_mount(&mk, &what);
        if o.code == 0 {
            ok += 1;
        } else {
            o.failed();
            refused += 1;
        }
    }
    std::fs::write(vol.join(".stop"), "").unwrap();
    b.wait_status("stopped", Duration::from_secs(10));
    let swaps = json_lines(&bo.stdout_now());
    eprintln!("  {n} creates during the swap ({ok} created, {refused} refused); swapper: {swaps:?}");
    assert!(swaps.first().and_then(|v| v["swaps"].as_u64()).unwrap_or(0) > 0, "the swapper did not swap: {swaps:?}");
}

/// `tmpcopyup` copies what the directory under a new tmpfs held into it. Over a shared volume,
/// container B swaps a directory `d` of that tree with a symlink to a host directory (and a file
/// with a symlink to a host file) while A is created: a copy that walks by path re-resolves
/// `d` for every entry below it, and reads host files for the entries that exist in both. No
/// host file's content may end up in A's tmpfs.
fn tmpcopyup_symlink_swap_race_copies_nothing_from_host() {
    let secret_dir = Canary::new("secret");
    let mut b = Ctr::new("cpswapper");
    let vol = b.dir.join("vol");
    let src = vol.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    for i in 0..256 {
        std::fs::write(src.join(format!("d/s{i}")), "volume file\n").unwrap();
        std::fs::write(secret_dir.dir.join(format!("sub/s{i}")), "TOPSECRET host file\n").unwrap();
    }
    symlink(secret_dir.dir.join("sub"), src.join("l")).unwrap();
    std::fs::write(secret_dir.dir.join("secret"), "TOPSECRET host file\n").unwrap();
    std::fs::write(src.join("f"), "volume file\n").unwrap();
    symlink(secret_dir.dir.join("secret"), src.join("g")).unwrap();
    b.mount(json!({ "destination": "/vol", "type": "bind", "source": s(&vol), "options": ["rbind"] }));
    b.sh("/bin/probe swap /vol/src d l 60 & /bin/probe swap /vol/src f g 60 & wait");
    let bo = b.run_with(&["--detach"]);
    bo.ok();
    std::thread::sleep(Duration::from_millis(300));
    let mut leaks = Vec::new();
    let (mut created, mut refused) = (0, Vec::new());
    let mut n = 0;
    let end = Instant::now() + Duration::from_secs(8);
    while n < 20 && Instant::now() < end && leaks.is_empty() {
        n += 1;
        let mut a = Ctr::new("cpvictim");
        a.mount(json!({ "destination": "/vol", "type": "bind", "source": s(&vol), "options": ["rbind"] }));
        a.mount(json!({ "destination": "/vol/src", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "size=4m"] }));
        a.args(&["/bin/true"]);
        let o = a.create();
        if o.code != 0 {
            o.failed();
            refused.push(o.stderr.trim().rsplit("msg=").next().unwrap_or("").trim_matches('"').to_string());
            continue;
        }
        created += 1;
        // A is parked: its tmpfs holds exactly what was copied. Walk it without following links.
        let root = PathBuf::from(format!("/proc/{}/root/vol/src", a.pid()));
        let mut todo = vec![root.clone()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let md = std::fs::symlink_metadata(e.path()).unwrap();
                if md.is_dir() {
                    todo.push(e.path());
                } else if md.is_file() && std::fs::read_to_string(e.path()).unwrap_or_default().contains("TOPSECRET") {
                    leaks.push(format!("iteration {n}: {}", s(e.path().strip_prefix(&root).unwrap())));
                }
            }
        }
    }
    std::fs::write(src.join(".stop"), "").unwrap();
    b.kill("KILL");
    eprintln!("  {n} creates: {created} created, {} refused {:?}", refused.len(), refused.iter().take(3).collect::<Vec<_>>());
    assert!(leaks.is_empty(), "tmpcopyup copied host files into the container's tmpfs: the copy walks by path, and a directory on that path was swapped for a symlink to the host (files below it resolve anew each time):\n  {}", leaks.join("\n  "));
}

/// CVE-2026-41579: the image's /dev is a symlink to a host directory. The runtime's own /dev work
/// (device nodes, /dev/ptmx replaced, /dev/fd and /dev/std* links) must happen inside the
/// rootfs, with the default tmpfs on /dev and without one.
fn dev_symlink_in_image_stays_in_rootfs() {
    let canary = Canary::new("devsym");
    for (name, tmpfs) in [("dev-sym-tmpfs", true), ("dev-sym-image", false)] {
        let mut c = Ctr::new(name);
        let _ = std::fs::remove_dir_all(c.host_path("/dev"));
        symlink(&canary.dir, c.host_path("/dev")).unwrap();
        if !tmpfs {
            for d in ["/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"] {
                remove_mount(&mut c, d);
            }
        }
        c.probe_args(&["stat", "/dev/null", "/dev/ptmx", "/dev/fd"]);
        let o = c.run();
        let what = format!("{name}: {o}");
        canary.assert_untouched(&what);
        if o.code != 0 {
            o.failed();
            c.assert_clean();
        }
    }
}

/// CVE-2025-52881: the runtime's own writes to /proc (linux.sysctl, oomScoreAdj) must reach the
/// real procfs files even when the config's mounts put something else at those paths in the
/// container (binds of a canary file over /proc/sys/kernel/shmmax and /proc/self/oom_score_adj).
/// Refusing such mounts (as runc does) is fine too.
fn proc_writes_not_redirected_by_mounts() {
    let mut c = Ctr::new("procredirect");
    let (c1, c2) = (c.dir.join("canary-sysctl"), c.dir.join("canary-oom"));
    std::fs::write(&c1, "canary\n").unwrap();
    std::fs::write(&c2, "canary\n").unwrap();
    c.set("/linux/sysctl", json!({ "kernel.shmmax": "4242" }));
    c.set("/process/oomScoreAdj", json!(345));
    c.mount(json!({ "destination": "/proc/sys/kernel/shmmax", "type": "bind", "source": s(&c1), "options": ["bind"] }));
    c.mount(json!({ "destination": "/proc/self/oom_score_adj", "type": "bind", "source": s(&c2), "options": ["bind"] }));
    c.args(&["/bin/sleep", "60"]);
    let o = c.run_with(&["--detach"]);
    let (k1, k2) = (std::fs::read_to_string(&c1).unwrap(), std::fs::read_to_string(&c2).unwrap());
    assert_eq!((k1.as_str(), k2.as_str()), ("canary\n", "canary\n"), "the runtime's /proc writes went to files the config mounted over /proc: {o}");
    if o.code != 0 {
        o.failed();
        return;
    }
    let pid = c.pid();
    assert_eq!(std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap().trim(), "345", "oomScoreAdj did not reach the process");
    let shm = std::process::Command::new("nsenter").args(["-t", &pid.to_string(), "-i", "cat", "/proc/sys/kernel/shmmax"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&shm.stdout).trim(), "4242", "the sysctl did not reach the container's ipc namespace");
}

/// CVE-2025-52881's redirect through a namespace the container controls: container B has a
/// volume mounted inside its /proc (/proc/sys/kernel), in which `shmmax` is a symlink to
/// /proc/1/oom_score_adj — B's own init's. Container A joins B's mount namespace by path and
/// sets the sysctl kernel.shmmax. The runtime writes sysctls as root with every capability: if it
/// opens /proc/sys/... in the joined namespace, B decides where the write lands (here a harmless
/// file; /proc/sysrq-trigger or the host's core_pattern just as well). B's oom_score_adj must stay.
fn proc_writes_not_redirected_through_joined_mount_namespace() {
    let mut b = Ctr::new("mntns-owner");
    let vol = b.dir.join("kernel-vol");
    std::fs::create_dir_all(&vol).unwrap();
    symlink("/proc/1/oom_score_adj", vol.join("shmmax")).unwrap();
    b.mount(json!({ "destination": "/proc/sys/kernel", "type": "bind", "source": s(&vol), "options": ["rbind"] }));
    b.args(&["/bin/sleep", "60"]);
    let bo = b.run_with(&["--detach"]);
    if bo.code != 0 {
        // the volume inside /proc is refused (runc): the gadget cannot be built
        bo.failed();
        return;
    }
    let b_pid = b.pid();
    let before = std::fs::read_to_string(format!("/proc/{b_pid}/oom_score_adj")).unwrap();
    let mut a = Ctr::new("mntns-joiner");
    a.ns("mount", Some(&format!("/proc/{b_pid}/ns/mnt")));
    a.set("/linux/sysctl", json!({ "kernel.shmmax": "500" }));
    a.args(&["/bin/true"]);
    let o = a.run();
    let after = std::fs::read_to_string(format!("/proc/{b_pid}/oom_score_adj")).unwrap();
    assert_eq!(
        after.trim(),
        before.trim(),
        "the runtime's sysctl write for A (kernel.shmmax=500) followed a symlink that container B planted in its /proc and \
         landed in B's /proc/1/oom_score_adj: writes to /proc must go through a procfs handle the runtime opened itself, \
         not through the joined mount namespace's /proc: {o}"
    );
}

// ---------------------------------------------------------------------------------------------
// CVE-2024-21626: leaked fds and the cwd

/// `process.cwd` = /proc/self/fd/N: runc once had a handle on the host's /sys/fs/cgroup open
/// while it chdir'ed, and the container started with its cwd on the host. For every N, through
/// `run` and through `create` + `start` (which hold different fds), the runtime refuses or the
/// process starts with a cwd inside the container.
fn cwd_through_proc_self_fd_stays_inside() {
    let mut bad = Vec::new();
    for mode in ["run", "create"] {
        for n in 3..=12 {
            let mut c = Ctr::new(&format!("cwdfd-{mode}-{n}"));
            let cwd = format!("/proc/self/fd/{n}");
            c.set("/process/cwd", json!(cwd));
            c.args(&["/bin/probe"]);
            let out = if mode == "run" {
                let o = c.run();
                if o.code == 0 {
                    Ok(o.stdout.clone())
                } else {
                    Err(o)
                }
            } else {
                create_start(&mut c)
            };
            match out {
                Err(o) => {
                    o.failed();
                }
                Ok(text) => {
                    let p = crate::rig::cmd::parse_json(&text).unwrap_or(json!({}));
                    let cwd_seen = p["cwd"].as_str().unwrap_or("");
                    if !cwd_seen.starts_with('/') || cwd_seen.contains("unreachable") {
                        bad.push(format!("{mode} with cwd {cwd}: the process started with cwd {:?}", p["cwd"]));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "CVE-2024-21626: a cwd outside the container:\n  {}", bad.join("\n  "));
}

/// The container's process has exactly stdin, stdout and stderr open (`probe fds`), through
/// `run` and through `create` + `start`.
fn container_sees_only_stdio_fds() {
    let mut c = Ctr::new("fds-run");
    let v = c.probe_sub(&["fds"]);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["0", "1", "2"], "run: the container's process has more than stdio open: {v}");
    let mut c = Ctr::new("fds-create");
    c.probe_args(&["fds"]);
    let text = create_start(&mut c).unwrap_or_else(|o| panic!("{o}"));
    let v = crate::rig::cmd::parse_json(&text).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["0", "1", "2"], "create+start: the container's process has more than stdio open: {v}");
}

/// (device, inode) of the rootfs directory: what the container's / and cwd must be. (Read
/// from the host, /proc/PID/root and cwd print as "/" once the old root is gone, so the inodes
/// are compared, not the link text.)
fn rootfs_inode(c: &Ctr) -> Option<(u64, u64)> {
    inode_of(&s(&c.rootfs()))
}

/// Directory fds of process PID, as "fd N -> target".
fn dir_fds(pid: i32) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().flatten() {
        if std::fs::metadata(e.path()).map(|m| m.is_dir()).unwrap_or(false) && !empty_and_mounted_nowhere(pid, &e.file_name().to_string_lossy()) {
            let t = std::fs::read_link(e.path()).map(|p| s(&p)).unwrap_or_default();
            out.push(format!("fd {} -> {t}", e.file_name().to_string_lossy()));
        }
    }
    out.sort();
    out
}

/// rt's init holds one directory on purpose: the root of an empty tmpfs that it mounted
/// nowhere (where it gives the user's program its name at exec). No mount table has it, so it
/// leads to nothing of the host's.
fn empty_and_mounted_nowhere(pid: i32, fd: &str) -> bool {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap_or_default();
    let Some(mnt) = info.lines().find_map(|l| l.strip_prefix("mnt_id:")).map(|v| v.trim().to_owned()) else { return false };
    let mounted = |table: String| table.lines().any(|l| l.split(' ').next() == Some(mnt.as_str()));
    let empty = std::fs::read_dir(format!("/proc/{pid}/fd/{fd}")).map(|mut d| d.next().is_none()).unwrap_or(false);
    empty
        && !mounted(std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default())
        && !mounted(std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
}

/// From the host: the fds of a running container's process are its stdio only (none is a
/// directory), and its cwd and root are the rootfs.
fn running_container_has_no_host_fds() {
    let mut c = Ctr::new("hostfds");
    c.args(&["/bin/sleep", "60"]);
    c.create().ok();
    c.start().ok();
    c.wait_status("running", Duration::from_secs(5));
    let pid = c.pid();
    let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    fds.sort();
    assert_eq!(fds, ["0", "1", "2"], "the container's process holds more than stdio: {:?}", dir_fds(pid));
    for l in ["cwd", "root"] {
        assert_eq!(inode_of(&format!("/proc/{pid}/{l}")), rootfs_inode(&c), "the container's {l} is not its rootfs");
    }
}

/// From the host: the init of a created container — a copy of the runtime, parked until
/// `start` inside the container's namespaces, where a process sharing its pid namespace can
/// see it — holds no directory of the host (CVE-2016-9962: a state directory fd in a process
/// the container could ptrace was the way out). Its cwd and root are the container's already.
fn parked_init_holds_no_host_directory() {
    let mut c = Ctr::new("parkedfds");
    c.args(&["/bin/true"]);
    c.create().ok();
    let pid = c.pid();
    let mut found = dir_fds(pid);
    for l in ["cwd", "root"] {
        if inode_of(&format!("/proc/{pid}/{l}")) != rootfs_inode(&c) {
            found.push(format!("{l} is not the rootfs"));
        }
    }
    assert!(
        found.is_empty(),
        "the parked init holds directories of the host (only its being non-dumpable keeps a process that shares its pid \
         namespace from opening them through /proc/{pid}/fd; CVE-2016-9962 and CVE-2024-21626 used such fds): {}",
        found.join(", ")
    );
}

// ---------------------------------------------------------------------------------------------
// CVE-2025-31133: maskedPaths and /dev/null

/// What the fake /dev/null points at. The real attack uses /proc/sys/kernel/core_pattern (host
/// wide): a vulnerable runtime then binds it, writable, over the masked paths — and runc 1.1.5
/// even dup()s its "/dev/null" onto the container's stdio, so the container's output lands in
/// the file. The container's own domainname (UTS-namespaced) shows the same without touching
/// the host.
const NULL_TARGET: &str = "/proc/sys/kernel/domainname";

const MASKED_FILES: [&str; 4] = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"];

/// Run C with a probe that stats and opens-for-writing the masked files (nothing is written),
/// and check: refused, or every masked file that exists is the 1:3 character device.
fn check_masks(c: &mut Ctr, what: &str) -> Result<(), String> {
    let mut cmds: Vec<Vec<&str>> = vec![["stat"].iter().chain(MASKED_FILES.iter()).copied().collect()];
    cmds.push(["openw"].iter().chain(MASKED_FILES.iter()).copied().collect());
    let script: Vec<String> = cmds.iter().map(|a| format!("/bin/probe {}", a.join(" "))).collect();
    c.sh(&script.join("; "));
    let o = c.run();
    let r = json_lines(&o.stdout);
    if r.len() < 2 {
        if o.code == 0 {
            return Err(format!("{what}: no probe output: {o}"));
        }
        o.failed();
        return Ok(());
    }
    let mut bad = Vec::new();
    for (st, w) in r[0].as_array().unwrap().iter().zip(r[1].as_array().unwrap()) {
        if st.get("error").is_some() {
            continue;
        }
        if (st["type"].as_str(), st["major"].as_u64(), st["minor"].as_u64()) != (Some("char"), Some(1), Some(3)) {
            bad.push(format!("{} is masked with {st} (opening it for writing: {w})", st["path"]));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("{what}: masked paths are not /dev/null:\n  {}", bad.join("\n  ")))
    }
}

/// The container's /dev is a volume (a bind of a host directory) in which `null` is a symlink
/// to a procfs file (NULL_TARGET; core_pattern in the real attack): masking with "/dev/null"
/// would bind that file over /proc/kcore & co, writable (CVE-2025-31133). The probe only opens
/// them for writing. The runtime refuses, or masks with the real 1:3 device.
fn masked_paths_dev_null_symlink_in_dev_volume() {
    let before = core_pattern();
    let mut c = Ctr::new("nullsym-vol");
    let devvol = c.dir.join("devvol");
    std::fs::create_dir_all(&devvol).unwrap();
    symlink(NULL_TARGET, devvol.join("null")).unwrap();
    replace_mount(&mut c, "/dev", json!({ "destination": "/dev", "type": "bind", "source": s(&devvol), "options": ["rbind"] }));
    let r = check_masks(&mut c, &format!("/dev/null -> {NULL_TARGET} in a /dev volume"));
    assert_eq!(core_pattern(), before, "the host's core_pattern changed");
    r.unwrap();
}

/// The config binds a host file read-only over /dev/null: masking must not turn it into a
/// writable bind of that file over the masked paths.
fn masked_paths_dev_null_overmounted() {
    let mut c = Ctr::new("nullbind");
    let f = c.dir.join("not-null");
    std::fs::write(&f, "canary\n").unwrap();
    c.mount(json!({ "destination": "/dev/null", "type": "bind", "source": s(&f), "options": ["bind", "ro"] }));
    let r = check_masks(&mut c, "a read-only bind of a host file over /dev/null");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "canary\n");
    r.unwrap();
}

/// The image's /dev/null is a symlink to a procfs file (NULL_TARGET) and the config mounts
/// nothing on /dev: the runtime makes its own /dev/null node and masks with that.
fn masked_paths_dev_null_symlink_in_image() {
    let before = core_pattern();
    let mut c = Ctr::new("nullsym-img");
    for d in ["/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"] {
        remove_mount(&mut c, d);
    }
    std::fs::create_dir_all(c.host_path("/dev")).unwrap();
    let _ = std::fs::remove_file(c.host_path("/dev/null"));
    symlink(NULL_TARGET, c.host_path("/dev/null")).unwrap();
    let r = check_masks(&mut c, &format!("/dev/null -> {NULL_TARGET} in the image"));
    assert_eq!(core_pattern(), before, "the host's core_pattern changed");
    r.unwrap();
}

/// CVE-2025-31133's race: the /dev volume is shared with container B, which swaps `null` (a
/// real 1:3 node) with a symlink to a procfs file (NULL_TARGET) in a loop while containers A
/// are created on it. Each A is refused or masked with the real device.
fn masked_paths_dev_null_swap_race() {
    let before = core_pattern();
    let mut b = Ctr::new("nullswapper");
    let devvol = b.dir.join("devvol");
    std::fs::create_dir_all(&devvol).unwrap();
    let null = std::ffi::CString::new(s(&devvol.join("null"))).unwrap();
    // SAFETY: a valid path; a 1:3 character device node in this test's own directory.
    assert_eq!(unsafe { libc::mknod(null.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) }, 0, "mknod");
    symlink(NULL_TARGET, devvol.join("null.l")).unwrap();
    b.mount(json!({ "destination": "/vol", "type": "bind", "source": s(&devvol), "options": ["rbind"] }));
    b.probe_args(&["swap", "/vol", "null", "null.l", "60"]);
    let bo = b.run_with(&["--detach"]);
    bo.ok();
    let mut bad = Vec::new();
    let end = Instant::now() + Duration::from_secs(4);
    let mut n = 0;
    while n < 8 && Instant::now() < end {
        n += 1;
        let mut a = Ctr::new("nullvictim");
        replace_mount(&mut a, "/dev", json!({ "destination": "/dev", "type": "bind", "source": s(&devvol), "options": ["rbind"] }));
        if let Err(e) = check_masks(&mut a, &format!("iteration {n}")) {
            bad.push(e);
        }
    }
    std::fs::write(devvol.join(".stop"), "").unwrap();
    b.wait_status("stopped", Duration::from_secs(10));
    assert_eq!(core_pattern(), before, "the host's core_pattern changed");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// CVE-2025-52565: /dev/console

/// A console socket: a listening unix socket in DIR whose first connection's SCM_RIGHTS fd (the
/// pty master) is kept. The runtime sends it during create.
struct ConsoleSocket {
    path: PathBuf,
    listener: std::os::unix::net::UnixListener,
}

impl ConsoleSocket {
    fn new(dir: &Path) -> ConsoleSocket {
        let path = dir.join("console.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        ConsoleSocket { path, listener }
    }

    /// The pty master the runtime sent, if it did.
    fn master(&self) -> Option<std::os::fd::OwnedFd> {
        use std::os::fd::{AsRawFd, FromRawFd};
        let (conn, _) = self.listener.accept().ok()?;
        let mut buf = [0u8; 4096];
        let mut cmsg = [0u8; 64];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: msghdr is plain data; every pointer in it is to a live buffer of this frame.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg.as_mut_ptr().cast();
        msg.msg_controllen = cmsg.len();
        conn.set_nonblocking(false).ok()?;
        // SAFETY: a connected socket and a msghdr of valid buffers.
        if unsafe { libc::recvmsg(conn.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) } < 0 {
            return None;
        }
        // SAFETY: the control buffer was filled by recvmsg; CMSG_* walk within it.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            if c.is_null() || (*c).cmsg_type != libc::SCM_RIGHTS {
                return None;
            }
            let fd = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const i32);
            Some(std::os::fd::OwnedFd::from_raw_fd(fd))
        }
    }
}

/// CVE-2025-52565: the container's /dev/pts is a volume in which every pts number is a symlink
/// to a procfs file (NULL_TARGET; /proc/sys/kernel/core_pattern in the real attack), and `ptmx`
/// leads to a real devpts instance. A runtime that opens the peer as /dev/pts/N by path, to
/// bind it on /dev/console and make it the stdio, binds that procfs file instead — outside the
/// masks and read-only paths, writable. The runtime must get the peer without the container's
/// /dev/pts (TIOCGPTPEER) or refuse; /dev/console must be a pty.
fn dev_console_pts_symlink() {
    let mut c = Ctr::new("console");
    let ptsvol = c.dir.join("ptsvol");
    std::fs::create_dir_all(&ptsvol).unwrap();
    for n in 0..64 {
        symlink(NULL_TARGET, ptsvol.join(n.to_string())).unwrap();
    }
    symlink("/dev/pts2/ptmx", ptsvol.join("ptmx")).unwrap();
    replace_mount(&mut c, "/dev/pts", json!({ "destination": "/dev/pts", "type": "bind", "source": s(&ptsvol), "options": ["rbind"] }));
    // the devpts instance the runtime opens ptmx from stays available at /dev/pts2
    c.mount(json!({ "destination": "/dev/pts2", "type": "devpts", "source": "devpts", "options": ["newinstance", "ptmxmode=0666", "mode=0620"] }));
    c.set("/process/terminal", json!(true));
    c.probe_args(&["stat", "/dev/console"]);
    let sock = ConsoleSocket::new(&c.dir);
    let o = c.create_with(&["--console-socket", &s(&sock.path)]);
    let master = sock.master();
    if o.code != 0 {
        o.failed();
        eprintln!("  refused: {}", o.stderr.trim());
        return;
    }
    assert!(master.is_some(), "no pty master arrived on the console socket");
    c.start().ok();
    c.wait_status("stopped", Duration::from_secs(10));
    let mut out = Vec::new();
    if let Some(m) = master {
        let f = std::fs::File::from(m);
        let _ = std::io::Read::read_to_end(&mut &f, &mut out);
    }
    let text = String::from_utf8_lossy(&out);
    let v = crate::rig::cmd::parse_json(&text)
        .unwrap_or_else(|| panic!("no probe output on the terminal (it went to /dev/pts/N's symlink target, {NULL_TARGET}?): {text:?}"));
    let st = &v[0];
    eprintln!("  /dev/console: {st}");
    assert_eq!((st["type"].as_str(), st["major"].as_u64()), (Some("char"), Some(136)), "/dev/console is not a pty: {st}");
}

// ---------------------------------------------------------------------------------------------
// CVE-2022-29162 (inheritable capabilities), CVE-2023-25809 (writable cgroupfs)

/// A default container (root, and a non-root user) has no inheritable capabilities: runc once
/// set them, so that an execve of a file with inheritable file capabilities gained them.
fn no_inheritable_capabilities() {
    let mut c = Ctr::new("capinh");
    let p = c.probe();
    assert_eq!(p.caps("inheritable"), Vec::<String>::new(), "root: CapInh is not empty");
    let mut c = Ctr::new("capinh-user");
    c.set("/process/user", json!({ "uid": 1000, "gid": 1000 }));
    let p = c.probe();
    assert_eq!(p.caps("inheritable"), Vec::<String>::new(), "uid 1000: CapInh is not empty");
}

/// The container's cgroup filesystems are read-only, every mount below /sys/fs/cgroup, and a
/// write to its own cgroup (or a new child cgroup) fails.
fn cgroupfs_read_only() {
    let mut c = Ctr::new("cgro");
    c.sh("/bin/probe info; for d in /sys/fs/cgroup/*/; do /bin/probe mkdir \"${d}rt-sec-escape\"; /bin/probe write \"${d}cgroup.procs\" 1; done");
    let o = c.run();
    let r = json_lines(&o.stdout);
    assert!(r.len() > 1, "{o}");
    let mounts: Vec<&Value> =
        r[0]["mounts"].as_array().unwrap().iter().filter(|m| m["mount_point"].as_str().unwrap_or("").starts_with("/sys/fs/cgroup")).collect();
    assert!(!mounts.is_empty(), "no cgroup mounts");
    for m in mounts {
        assert!(m["options"].as_array().unwrap().contains(&json!("ro")), "a cgroup mount is writable: {m}");
    }
    for w in &r[1..] {
        assert!(w.get("error").is_some(), "the container changed its cgroups: {w}");
    }
    let strays: Vec<String> = crate::rig::rig().cgroup.hiers.iter().map(|h| h.mount.join("rt-sec-escape")).filter(|p| p.exists()).map(|p| s(&p)).collect();
    assert!(strays.is_empty(), "{strays:?}");
}
