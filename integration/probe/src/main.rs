//! probe: reports what a process inside a container sees, as JSON.
//!
//! Built statically and copied into the test rootfs as /bin/probe (see ../../rootfs.sh).
//!
//!   probe [info]            one JSON object: ids, caps, namespaces, mounts, rlimits, ... (one line)
//!   probe pretty            the same, indented
//!   probe stat PATH...      lstat of each path (type, mode, owner, device numbers, link target)
//!   probe ls DIR            the names in DIR, sorted
//!   probe read PATH         the content of PATH
//!   probe write PATH [DATA] create/truncate PATH and write DATA (default "probe\n")
//!   probe mkdir PATH        create a directory
//!   probe sysctl KEY...     values under /proc/sys (dots become slashes)
//!   probe fds               the open file descriptors and what they point at
//!   probe exit N            exit with status N
//!   probe wait-signal FILE [N]
//!                           write "ready" to FILE, then append the name of each signal received;
//!                           exit 0 after N signals (default 1)
//!
//! Attackers, for the security tests (integration/cases/security.rs):
//!   probe openw PATH...     open each PATH for writing (no create, no truncate, nothing written)
//!   probe swap DIR A B SECS renameat2(RENAME_EXCHANGE) A and B in DIR in a loop (symlink races),
//!                           until SECS pass or DIR/.stop exists; prints the count
//!   probe hunt SECS         reach into every other process it can see: /proc/PID/{exe,cwd,root,
//!                           fd/N,environ,mem} and PTRACE_SEIZE; one JSON line per distinct result,
//!                           with what an fd it got points at (and whether it reopens for
//!                           writing); /tmp/hunt.scans counts the passes; stops at SECS or when
//!                           /tmp/hunt.stop exists; records carry the phase (/tmp/hunt.phase)
//!
//! Failures are reported in the JSON as {"error": "ENOENT", ...} with the errno name; the
//! single-path subcommands (read, write, mkdir) also exit 1 then, so a shell can test them.

use serde_json::{json, Map, Value};
use std::ffi::CStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sub = args.get(1).map(String::as_str).unwrap_or("info");
    let rest = if args.len() > 2 { &args[2..] } else { &[] };
    let code = match sub {
        "info" => emit(&info(), false),
        "pretty" => emit(&info(), true),
        "stat" => emit(&Value::Array(rest.iter().map(|p| stat(p)).collect()), false),
        "ls" => one(ls(arg(rest, 0))),
        "read" => one(read(arg(rest, 0))),
        "write" => one(write(arg(rest, 0), rest.get(1).map(String::as_str).unwrap_or("probe\n"))),
        "mkdir" => one(mkdir(arg(rest, 0))),
        "sysctl" => emit(&sysctl(rest), false),
        "fds" => emit(&fds(), false),
        "exit" => std::process::exit(arg(rest, 0).parse().unwrap_or(2)),
        "wait-signal" => wait_signal(arg(rest, 0), rest.get(1).and_then(|n| n.parse().ok()).unwrap_or(1)),
        "openw" => emit(&Value::Array(rest.iter().map(|p| openw(p)).collect()), false),
        "swap" => swap(arg(rest, 0), arg(rest, 1), arg(rest, 2), arg(rest, 3).parse().unwrap_or(10)),
        "hunt" => hunt(arg(rest, 0).parse().unwrap_or(10)),
        "syscall" => one(raw_syscall(rest)),
        _ => {
            eprintln!("probe: unknown subcommand {sub:?}");
            2
        }
    };
    std::process::exit(code);
}

fn arg(rest: &[String], i: usize) -> &str {
    match rest.get(i) {
        Some(a) => a,
        None => {
            eprintln!("probe: missing argument");
            std::process::exit(2)
        }
    }
}

fn emit(v: &Value, pretty: bool) -> i32 {
    let s = if pretty { serde_json::to_string_pretty(v) } else { serde_json::to_string(v) };
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{}", s.unwrap());
    let _ = out.flush();
    0
}

/// Emit a single-operation result; exit 1 when it carries an error.
fn one(v: Value) -> i32 {
    emit(&v, false);
    if v.get("error").is_some() {
        1
    } else {
        0
    }
}

// ---------------------------------------------------------------------------------------------
// errno names

fn errno_name(e: i32) -> String {
    let n = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::EPIPE => "EPIPE",
        libc::ERANGE => "ERANGE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::ENODATA => "ENODATA",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EDQUOT => "EDQUOT",
        _ => return format!("E{e}"),
    };
    n.to_string()
}

fn err_value(e: &io::Error) -> Value {
    Value::String(match e.raw_os_error() {
        Some(n) => errno_name(n),
        None => e.to_string(),
    })
}

fn last_errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn or_error<T: Into<Value>>(r: io::Result<T>) -> Value {
    match r {
        Ok(v) => v.into(),
        Err(e) => json!({ "error": err_value(&e) }),
    }
}

// ---------------------------------------------------------------------------------------------
// info: the whole view

fn info() -> Value {
    let mut m = Map::new();
    // SAFETY: these calls take no pointers and cannot fail.
    let (pid, ppid) = unsafe { (libc::getpid(), libc::getppid()) };
    m.insert("pid".into(), json!(pid));
    m.insert("ppid".into(), json!(ppid));
    m.insert("uid".into(), ids(true));
    m.insert("gid".into(), ids(false));
    m.insert("groups".into(), groups());
    m.insert("umask".into(), json!(format!("{:04o}", current_umask())));
    let (hostname, domainname) = uts();
    m.insert("hostname".into(), json!(hostname));
    m.insert("domainname".into(), json!(domainname));
    m.insert("cwd".into(), or_error(std::env::current_dir().map(|p| p.to_string_lossy().into_owned())));
    m.insert("env".into(), json!(std::env::vars_os().map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy())).collect::<Vec<_>>()));
    m.insert("argv".into(), json!(std::env::args().collect::<Vec<_>>()));
    m.insert("namespaces".into(), namespaces());
    m.insert("mounts".into(), mounts());
    m.insert("caps".into(), caps());
    // SAFETY: prctl with integer arguments only.
    let nnp = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
    m.insert("no_new_privs".into(), json!(nnp == 1));
    // SAFETY: as above.
    let seccomp = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    m.insert("seccomp".into(), json!(seccomp));
    // SAFETY: as above.
    let dumpable = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
    m.insert("dumpable".into(), json!(dumpable));
    // SAFETY: as above.
    let securebits = unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) };
    m.insert("securebits".into(), json!(securebits));
    m.insert("rlimits".into(), rlimits());
    m.insert(
        "oom_score_adj".into(),
        or_error(fs::read_to_string("/proc/self/oom_score_adj").map(|s| s.trim().parse::<i64>().map(Value::from).unwrap_or(Value::String(s)))),
    );
    m.insert("cgroup".into(), or_error(fs::read_to_string("/proc/self/cgroup").map(|s| s.lines().map(str::to_string).collect::<Vec<_>>())));
    // SAFETY: 0xffffffff queries the persona without changing it.
    let persona = unsafe { libc::personality(0xffff_ffff) };
    m.insert("personality".into(), json!(persona));
    m.insert("sched".into(), sched());
    // SAFETY: integer arguments only (IOPRIO_WHO_PROCESS, this process).
    let ioprio = unsafe { libc::syscall(libc::SYS_ioprio_get, 1, 0) };
    m.insert(
        "ioprio".into(),
        if ioprio < 0 { json!({ "error": errno_name(last_errno()) }) } else { json!({ "class": ioprio >> 13, "level": ioprio & 0x1fff }) },
    );
    m.insert("mempolicy".into(), mempolicy());
    m.insert("interfaces".into(), interfaces());
    m.insert("loopback_up".into(), json!(iface_up("lo") == Some(true)));
    m.insert("dev".into(), dev_entries());
    m.insert("stdio".into(), stdio());
    m.insert("clock_monotonic".into(), json!(clock(libc::CLOCK_MONOTONIC)));
    m.insert("clock_boottime".into(), json!(clock(libc::CLOCK_BOOTTIME)));
    Value::Object(m)
}

/// sched_getattr: policy, nice, realtime priority, the SCHED_DEADLINE times and the flags.
fn sched() -> Value {
    let mut a = [0u32; 14];
    // SAFETY: the buffer holds 56 bytes (SCHED_ATTR_SIZE_VER1), the size passed.
    let rc = unsafe { libc::syscall(libc::SYS_sched_getattr, 0, a.as_mut_ptr(), 56u32, 0u32) };
    if rc != 0 {
        return json!({ "error": errno_name(last_errno()) });
    }
    let u64_at = |i: usize| u64::from(a[i]) | u64::from(a[i + 1]) << 32;
    json!({ "policy": a[1], "flags": u64_at(2), "nice": a[4] as i32, "priority": a[5], "runtime": u64_at(6), "deadline": u64_at(8), "period": u64_at(10) })
}

/// get_mempolicy: the mode (MPOL_F_* flags apart) and the nodes of its mask.
fn mempolicy() -> Value {
    let mut mode: libc::c_int = 0;
    let mut mask = [0 as libc::c_ulong; 16];
    let maxnode = (mask.len() * libc::c_ulong::BITS as usize) as libc::c_ulong;
    // SAFETY: valid out-pointers; the mask holds maxnode bits; no address is asked about.
    let rc = unsafe { libc::syscall(libc::SYS_get_mempolicy, &mut mode as *mut libc::c_int, mask.as_mut_ptr(), maxnode, std::ptr::null::<u8>(), 0) };
    if rc != 0 {
        return json!({ "error": errno_name(last_errno()) });
    }
    let bits = libc::c_ulong::BITS as usize;
    let nodes: Vec<usize> = (0..mask.len() * bits).filter(|n| mask[n / bits] >> (n % bits) & 1 == 1).collect();
    json!({ "mode": mode & 0xff, "flags": mode & !0xff, "nodes": nodes })
}

fn ids(uid: bool) -> Value {
    let (mut r, mut e, mut s) = (0u32, 0u32, 0u32);
    // SAFETY: the three pointers are valid for writes of a u32 each.
    let rc = unsafe {
        if uid {
            libc::getresuid(&mut r, &mut e, &mut s)
        } else {
            libc::getresgid(&mut r, &mut e, &mut s)
        }
    };
    if rc != 0 {
        return json!({ "error": errno_name(last_errno()) });
    }
    // setfs[ug]id(-1) fails and returns the current value without changing it.
    // SAFETY: no pointers involved.
    let fs = unsafe {
        if uid {
            libc::setfsuid(u32::MAX)
        } else {
            libc::setfsgid(u32::MAX)
        }
    };
    json!({ "real": r, "effective": e, "saved": s, "fs": fs })
}

fn groups() -> Value {
    let mut buf = vec![0 as libc::gid_t; 65536];
    // SAFETY: buf has room for the number of entries passed.
    let n = unsafe { libc::getgroups(buf.len() as i32, buf.as_mut_ptr()) };
    if n < 0 {
        return json!({ "error": errno_name(last_errno()) });
    }
    buf.truncate(n as usize);
    json!(buf)
}

fn current_umask() -> u32 {
    // SAFETY: umask cannot fail; the old value is restored right away.
    unsafe {
        let old = libc::umask(0o022);
        libc::umask(old);
        old as u32
    }
}

fn cstr_field(f: &[libc::c_char]) -> String {
    // SAFETY: utsname fields are NUL-terminated within their arrays.
    unsafe { CStr::from_ptr(f.as_ptr()) }.to_string_lossy().into_owned()
}

fn uts() -> (String, String) {
    // SAFETY: utsname is plain data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is a valid utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return (String::new(), String::new());
    }
    (cstr_field(&u.nodename), cstr_field(&u.domainname))
}

fn namespaces() -> Value {
    let mut m = Map::new();
    match fs::read_dir("/proc/self/ns") {
        Ok(rd) => {
            let mut names: Vec<String> = rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            names.sort();
            for n in names {
                m.insert(n.clone(), or_error(fs::read_link(format!("/proc/self/ns/{n}")).map(|t| t.to_string_lossy().into_owned())));
            }
        }
        Err(e) => {
            m.insert("error".into(), err_value(&e));
        }
    }
    Value::Object(m)
}

/// /proc/self/mountinfo, one object per line.
fn mounts() -> Value {
    let text = match fs::read_to_string("/proc/self/mountinfo") {
        Ok(t) => t,
        Err(e) => return json!({ "error": err_value(&e) }),
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let (pre, post) = match line.split_once(" - ") {
            Some(x) => x,
            None => continue,
        };
        let f: Vec<&str> = pre.split(' ').collect();
        let p: Vec<&str> = post.split(' ').collect();
        if f.len() < 6 || p.len() < 3 {
            continue;
        }
        out.push(json!({
            "id": f[0].parse::<u64>().unwrap_or(0),
            "parent": f[1].parse::<u64>().unwrap_or(0),
            "dev": f[2],
            "root": unescape(f[3]),
            "mount_point": unescape(f[4]),
            "options": f[5].split(',').collect::<Vec<_>>(),
            "propagation": &f[6..],
            "fs_type": p[0],
            "source": unescape(p[1]),
            "super_options": p[2].split(',').collect::<Vec<_>>(),
        }));
    }
    Value::Array(out)
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

fn cap_set(bits: u64) -> Value {
    let names: Vec<String> =
        (0..64).filter(|i| bits & (1u64 << i) != 0).map(|i| CAP_NAMES.get(i as usize).map(|s| s.to_string()).unwrap_or_else(|| format!("CAP_{i}"))).collect();
    json!({ "hex": format!("{bits:016x}"), "names": names })
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The five capability sets, from syscalls so that they work without /proc.
fn caps() -> Value {
    let hdr = CapHeader { version: 0x2008_0522, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget with a v3 header reads two CapData structs into `data`.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &hdr as *const CapHeader, data.as_mut_ptr()) };
    if rc != 0 {
        return json!({ "error": errno_name(last_errno()) });
    }
    let join = |lo: u32, hi: u32| (lo as u64) | ((hi as u64) << 32);
    let (mut bounding, mut ambient) = (0u64, 0u64);
    for c in 0..64u64 {
        // SAFETY: prctl with integer arguments only.
        let b = unsafe { libc::prctl(libc::PR_CAPBSET_READ, c as libc::c_ulong, 0, 0, 0) };
        if b < 0 {
            break;
        }
        if b == 1 {
            bounding |= 1 << c;
        }
        // SAFETY: as above.
        let a = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_IS_SET as libc::c_ulong, c as libc::c_ulong, 0, 0) };
        if a == 1 {
            ambient |= 1 << c;
        }
    }
    json!({
        "effective": cap_set(join(data[0].effective, data[1].effective)),
        "permitted": cap_set(join(data[0].permitted, data[1].permitted)),
        "inheritable": cap_set(join(data[0].inheritable, data[1].inheritable)),
        "bounding": cap_set(bounding),
        "ambient": cap_set(ambient),
    })
}

const RLIMITS: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

/// Every rlimit; RLIM_INFINITY shows as 18446744073709551615 (u64::MAX), as in config.json.
fn rlimits() -> Value {
    let mut m = Map::new();
    for (i, name) in RLIMITS.iter().enumerate() {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: r is a valid rlimit to write to.
        let rc = unsafe { libc::getrlimit(i as _, &mut r) };
        let v = if rc == 0 { json!({ "soft": r.rlim_cur, "hard": r.rlim_max }) } else { json!({ "error": errno_name(last_errno()) }) };
        m.insert(name.to_string(), v);
    }
    Value::Object(m)
}

/// Interface names with their IFF_UP flag.
fn interfaces() -> Value {
    let mut out = Vec::new();
    // SAFETY: if_nameindex returns a list terminated by a zero entry, freed below.
    unsafe {
        let list = libc::if_nameindex();
        if list.is_null() {
            return json!({ "error": errno_name(last_errno()) });
        }
        let mut p = list;
        while (*p).if_index != 0 && !(*p).if_name.is_null() {
            let name = CStr::from_ptr((*p).if_name).to_string_lossy().into_owned();
            out.push(json!({ "name": name, "index": (*p).if_index, "up": iface_up(&name) }));
            p = p.add(1);
        }
        libc::if_freenameindex(list);
    }
    Value::Array(out)
}

fn iface_up(name: &str) -> Option<bool> {
    // SAFETY: a plain socket; closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: ifreq is plain data.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name.bytes().take(libc::IFNAMSIZ - 1)) {
        *d = s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads into req, which is a valid ifreq.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) };
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    if rc != 0 {
        return None;
    }
    // SAFETY: after SIOCGIFFLAGS the flags member of the union is the one set.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    Some(flags as i32 & libc::IFF_UP != 0)
}

/// Everything below /dev (two levels), as `probe stat` reports it.
fn dev_entries() -> Value {
    let mut out = Vec::new();
    let mut walk = vec![("/dev".to_string(), 0)];
    while let Some((dir, depth)) = walk.pop() {
        let mut names: Vec<String> = match fs::read_dir(&dir) {
            Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
            Err(e) => {
                out.push(json!({ "path": dir, "error": err_value(&e) }));
                continue;
            }
        };
        names.sort();
        for n in names {
            let p = format!("{dir}/{n}");
            let st = stat(&p);
            if depth < 1 && st.get("type").and_then(Value::as_str) == Some("dir") {
                walk.push((p.clone(), depth + 1));
            }
            out.push(st);
        }
    }
    out.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    Value::Array(out)
}

fn stdio() -> Value {
    let mut m = Map::new();
    for fd in 0..3 {
        let target = fs::read_link(format!("/proc/self/fd/{fd}")).map(|t| t.to_string_lossy().into_owned());
        // SAFETY: isatty takes an fd number only.
        let tty = unsafe { libc::isatty(fd) } == 1;
        m.insert(fd.to_string(), json!({ "target": or_error(target), "tty": tty }));
    }
    Value::Object(m)
}

fn clock(id: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec to write to.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

// ---------------------------------------------------------------------------------------------
// subcommands

fn file_type(ft: fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_file() {
        "file"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "unknown"
    }
}

fn stat(path: &str) -> Value {
    match fs::symlink_metadata(path) {
        Ok(md) => {
            let mut v = json!({
                "path": path,
                "type": file_type(md.file_type()),
                "mode": format!("{:04o}", md.mode() & 0o7777),
                "uid": md.uid(),
                "gid": md.gid(),
                "size": md.size(),
                "dev": md.dev(),
                "ino": md.ino(),
            });
            if md.file_type().is_char_device() || md.file_type().is_block_device() {
                let rdev = md.rdev();
                v["major"] = json!(libc::major(rdev));
                v["minor"] = json!(libc::minor(rdev));
            }
            if md.file_type().is_symlink() {
                v["target"] = or_error(fs::read_link(path).map(|t| t.to_string_lossy().into_owned()));
            }
            v
        }
        Err(e) => json!({ "path": path, "error": err_value(&e) }),
    }
}

fn ls(path: &str) -> Value {
    match fs::read_dir(path) {
        Ok(rd) => {
            let mut names: Vec<String> = rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            names.sort();
            json!({ "path": path, "names": names })
        }
        Err(e) => json!({ "path": path, "error": err_value(&e) }),
    }
}

fn read(path: &str) -> Value {
    match fs::read(path) {
        Ok(b) => json!({ "path": path, "content": String::from_utf8_lossy(&b) }),
        Err(e) => json!({ "path": path, "error": err_value(&e) }),
    }
}

fn write(path: &str, data: &str) -> Value {
    let r = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o644).open(path).and_then(|mut f| f.write_all(data.as_bytes()));
    match r {
        Ok(()) => json!({ "path": path, "ok": true }),
        Err(e) => json!({ "path": path, "error": err_value(&e) }),
    }
}

fn mkdir(path: &str) -> Value {
    match fs::create_dir(path) {
        Ok(()) => json!({ "path": path, "ok": true }),
        Err(e) => json!({ "path": path, "error": err_value(&e) }),
    }
}

fn sysctl(keys: &[String]) -> Value {
    let mut m = Map::new();
    for k in keys {
        let p = format!("/proc/sys/{}", k.replace('.', "/"));
        m.insert(k.clone(), or_error(fs::read_to_string(&p).map(|s| s.trim_end().to_string())));
    }
    Value::Object(m)
}

fn fds() -> Value {
    let mut m = Map::new();
    let rd = match fs::read_dir("/proc/self/fd") {
        Ok(rd) => rd,
        Err(e) => return json!({ "error": err_value(&e) }),
    };
    let own = format!("/proc/{}/fd", std::process::id());
    for e in rd.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let target = fs::read_link(e.path()).map(|t| t.to_string_lossy().into_owned());
        if let Ok(t) = &target {
            if *t == own {
                continue; // the directory being listed
            }
        }
        m.insert(name, or_error(target));
    }
    Value::Object(m)
}

fn signal_name(sig: i32) -> String {
    const NAMES: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match NAMES.get(sig as usize) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!("SIGRTMIN+{}", sig - libc::SIGRTMIN()),
    }
}

extern "C" fn noop_handler(_: libc::c_int) {}

/// Block every signal, write "ready", then append each received signal's name to FILE.
fn wait_signal(file: &str, count: u32) -> i32 {
    // SAFETY: sigset_t and sigaction are plain data; the calls get valid pointers. A handler
    // (rather than SIG_DFL) makes sure that even a pid-namespace init gets every signal.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        for sig in 1..libc::SIGRTMAX() {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = noop_handler as *const () as usize;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
        let append = |line: &str| {
            if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(file) {
                let _ = f.write_all(line.as_bytes());
            }
        };
        append("ready\n");
        let mut got = 0;
        while got < count {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let sig = libc::sigwaitinfo(&set, &mut info);
            if sig < 0 {
                continue;
            }
            append(&format!("{}\n", signal_name(sig)));
            got += 1;
        }
    }
    0
}

// ---------------------------------------------------------------------------------------------
// attackers (security tests)

fn cstring(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s).unwrap_or_default()
}

/// Open for writing without creating, truncating or writing anything.
fn openw(path: &str) -> Value {
    let c = cstring(path);
    // SAFETY: a valid NUL-terminated path; the fd is closed right away.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if fd < 0 {
        return json!({ "path": path, "error": errno_name(last_errno()) });
    }
    // SAFETY: our own fd.
    unsafe { libc::close(fd) };
    json!({ "path": path, "ok": true })
}

fn swap(dir: &str, a: &str, b: &str, secs: u64) -> i32 {
    let d = cstring(dir);
    // SAFETY: a valid path; the fd is ours.
    let dfd = unsafe { libc::open(d.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if dfd < 0 {
        return emit(&json!({ "error": errno_name(last_errno()) }), false) + 1;
    }
    let (ca, cb, stop) = (cstring(a), cstring(b), cstring(".stop"));
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let (mut n, mut failed) = (0u64, 0u64);
    loop {
        for _ in 0..256 {
            // SAFETY: valid fd and NUL-terminated names; RENAME_EXCHANGE = 2.
            let r = unsafe { libc::syscall(libc::SYS_renameat2, dfd, ca.as_ptr(), dfd, cb.as_ptr(), 2u32) };
            if r == 0 {
                n += 1;
            } else {
                failed += 1;
            }
        }
        // SAFETY: valid fd and name; F_OK only.
        if std::time::Instant::now() >= end || unsafe { libc::faccessat(dfd, stop.as_ptr(), libc::F_OK, 0) } == 0 {
            break;
        }
    }
    emit(&json!({ "swaps": n, "failed": failed }), false)
}

/// What an fd points at: its link target and the inode's device and number.
fn fd_facts(fd: i32) -> Value {
    let target = fs::read_link(format!("/proc/self/fd/{fd}")).map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
    // SAFETY: stat is plain data; fstat writes into it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: our own fd and a valid stat buffer.
    let ok = unsafe { libc::fstat(fd, &mut st) } == 0;
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => "dir",
        libc::S_IFREG => "file",
        libc::S_IFLNK => "symlink",
        libc::S_IFCHR => "char",
        _ => "other",
    };
    json!({ "target": target, "dev": if ok { st.st_dev } else { 0 }, "ino": if ok { st.st_ino } else { 0 }, "type": kind })
}

/// `syscall NR [ARG...]`: the raw system call (for seccomp tests), its result or errno name.
/// Arguments are decimal or 0x-hex.
fn raw_syscall(rest: &[String]) -> Value {
    let num = |s: &str| if let Some(h) = s.strip_prefix("0x") { i64::from_str_radix(h, 16).unwrap_or(0) } else { s.parse::<i64>().unwrap_or(0) };
    let nr = num(arg(rest, 0));
    let mut a = [0i64; 6];
    for (i, v) in rest.iter().skip(1).take(6).enumerate() {
        a[i] = num(v);
    }
    // SAFETY: the test decides which call and arguments; only integers are passed.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r < 0 {
        json!({ "syscall": nr, "error": errno_name(last_errno()) })
    } else {
        json!({ "syscall": nr, "result": r })
    }
}

fn hunt(secs: u64) -> i32 {
    use std::collections::HashSet;
    let me = std::process::id().to_string();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = io::stdout().lock();
    let mut record = |out: &mut io::StdoutLock, key: String, v: Value| {
        if seen.insert(key) {
            let _ = writeln!(out, "{v}");
            let _ = out.flush();
        }
    };
    let mut scans = 0u64;
    while std::time::Instant::now() < end && fs::metadata("/tmp/hunt.stop").is_err() {
        let phase = fs::read_to_string("/tmp/hunt.phase").unwrap_or_default().trim().to_string();
        let pids: Vec<String> = fs::read_dir("/proc")
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && *n != me)
                    .collect()
            })
            .unwrap_or_default();
        for pid in pids {
            let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string();
            let mut tries: Vec<(String, libc::c_int)> = vec![
                ("exe".into(), libc::O_PATH),
                ("exe".into(), libc::O_RDONLY),
                ("cwd".into(), libc::O_PATH),
                ("root".into(), libc::O_PATH),
                ("environ".into(), libc::O_RDONLY),
                ("mem".into(), libc::O_RDONLY),
            ];
            tries.extend((0..16).map(|n| (format!("fd/{n}"), libc::O_PATH)));
            for (what, flags) in tries {
                let how = if flags == libc::O_PATH { "O_PATH" } else { "O_RDONLY" };
                let c = cstring(&format!("/proc/{pid}/{what}"));
                // SAFETY: a valid path; the fd is closed below.
                let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
                if fd < 0 {
                    let e = errno_name(last_errno());
                    if e != "ENOENT" || what == "exe" {
                        record(
                            &mut out,
                            format!("{pid} {what} {how} {e} {phase}"),
                            json!({ "pid": pid, "comm": comm, "what": what, "how": how, "phase": phase, "error": e }),
                        );
                    }
                    continue;
                }
                let mut v = json!({ "pid": pid, "comm": comm, "what": what, "how": how, "phase": phase, "ok": true });
                let facts = fd_facts(fd);
                if what == "exe" {
                    // the CVE-2019-5736 step: reopen the binary for writing (nothing is written)
                    let w = cstring(&format!("/proc/self/fd/{fd}"));
                    // SAFETY: a valid path; the fd is closed right away.
                    let wfd = unsafe { libc::open(w.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
                    v["write"] = json!(if wfd >= 0 { "opened".to_string() } else { errno_name(last_errno()) });
                    if wfd >= 0 {
                        // SAFETY: our own fd.
                        unsafe { libc::close(wfd) };
                    }
                }
                // SAFETY: our own fd.
                unsafe { libc::close(fd) };
                let key = format!("{pid} {what} {how} ok {} {phase}", facts["target"]);
                v["fd"] = facts;
                record(&mut out, key, v);
            }
            let p: libc::pid_t = pid.parse().unwrap_or(0);
            // SAFETY: PTRACE_SEIZE takes integers only; a seized tracee keeps running (and is
            // detached when this process exits).
            let r = unsafe { libc::ptrace(libc::PTRACE_SEIZE, p, 0, 0) };
            let res = if r == 0 { "seized".to_string() } else { errno_name(last_errno()) };
            record(
                &mut out,
                format!("{pid} ptrace {res} {phase}"),
                json!({ "pid": pid, "comm": comm, "what": "ptrace", "phase": phase, "ok": r == 0, "result": res }),
            );
        }
        // A seized tracee that exits is reported to its tracer first, and its parent (a runtime
        // waiting for an exec'd process) hears of it only once the tracer has collected it.
        // SAFETY: integers and a null status pointer.
        while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG | libc::__WALL) } > 0 {}
        scans += 1;
        let _ = fs::write("/tmp/hunt.scans", scans.to_string());
    }
    0
}
