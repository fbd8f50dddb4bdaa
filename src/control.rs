//! The verbs that act on a live container through its cgroup: pause, resume, update, events and
//! ps. Like the lifecycle verbs in [`crate::container`], each is one function over [`Global`];
//! the cgroup work itself is [`crate::cgroups`]'s. The parts that are pure (runc's flag forms of
//! `update`, Go durations, filtering `ps` output) are separate functions, unit-tested below.
//!
//! runc's wording is kept where engines or people match on it: `container not running`
//! (pause of a container that is neither running nor created, update of a stopped one),
//! `container not paused` (resume), `container with id X is not running` (events).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use serde::Serialize;

use crate::container::Global;
use crate::error::{Context, Error, Result};
use crate::state::{self, ContainerDir, Status};
use crate::{logging, sys};

// ---------------------------------------------------------------------------------------------
// pause / resume

/// `pause`: freezes every process of a running (or created) container, as runc does, and
/// returns once they are all frozen. The status then reads `paused`.
pub fn pause(g: &Global, id: &str) -> Result<()> {
    let dir = ContainerDir::open(&g.root, id)?;
    let st = dir.load()?;
    match st.live_status(&dir.path) {
        Status::Running | Status::Created => {}
        _ => return Err(Error::NotRunning),
    }
    Ok(st.cgroup.freeze()?)
}

/// `resume`: thaws a paused container.
pub fn resume(g: &Global, id: &str) -> Result<()> {
    let dir = ContainerDir::open(&g.root, id)?;
    let st = dir.load()?;
    if st.live_status(&dir.path) != Status::Paused {
        return Err(Error::msg("container not paused"));
    }
    Ok(st.cgroup.thaw()?)
}

// ---------------------------------------------------------------------------------------------
// update

/// `update`'s flags, as runc has them. Numbers stay text until [`resources_from_flags`] parses
/// them, so that a bad value is reported the way runc reports it (`invalid value for …`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct UpdateFlags {
    /// path to the file containing the resources to update or '-' to read from the standard input
    /// (runc's LinuxResources JSON; zero or empty values mean "unchanged"); all other options are then ignored
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    /// Specifies per cgroup weight, range is from 10 to 1000
    #[arg(long = "blkio-weight", value_name = "value")]
    pub blkio_weight: Option<String>,
    /// CPU CFS period to be used for hardcapping (in usecs). 0 to use system default
    #[arg(long = "cpu-period", value_name = "value")]
    pub cpu_period: Option<String>,
    /// CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period
    #[arg(long = "cpu-quota", value_name = "value", allow_hyphen_values = true)]
    pub cpu_quota: Option<String>,
    /// CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst in a given period
    #[arg(long = "cpu-burst", value_name = "value")]
    pub cpu_burst: Option<String>,
    /// CPU shares (relative weight vs. other containers)
    #[arg(long = "cpu-share", value_name = "value")]
    pub cpu_share: Option<String>,
    /// CPU realtime period to be used for hardcapping (in usecs). 0 to use system default
    #[arg(long = "cpu-rt-period", value_name = "value")]
    pub cpu_rt_period: Option<String>,
    /// CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period
    #[arg(long = "cpu-rt-runtime", value_name = "value", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<String>,
    /// set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE
    #[arg(long = "cpu-idle", value_name = "value")]
    pub cpu_idle: Option<String>,
    /// CPU(s) to use
    #[arg(long = "cpuset-cpus", value_name = "value")]
    pub cpuset_cpus: Option<String>,
    /// Memory node(s) to use
    #[arg(long = "cpuset-mems", value_name = "value")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (in bytes; or with a unit: 64m, 1g)
    #[arg(long, value_name = "value", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation or soft_limit (in bytes)
    #[arg(long = "memory-reservation", value_name = "value", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Total memory usage (memory + swap); set '-1' to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "value", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids allowed in the container
    #[arg(long = "pids-limit", value_name = "value", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
    /// Kernel memory limit: not supported (kernels since 5.16 have no kernel memory limits)
    #[arg(long = "kernel-memory", value_name = "value", hide = true, allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Kernel memory limit for TCP buffers: not supported
    #[arg(long = "kernel-memory-tcp", value_name = "value", hide = true, allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// The string of Intel RDT/CAT L3 cache schema: not supported
    #[arg(long = "l3-cache-schema", value_name = "value", hide = true)]
    pub l3_cache_schema: Option<String>,
    /// The string of Intel RDT/MBA memory bandwidth schema: not supported
    #[arg(long = "mem-bw-schema", value_name = "value", hide = true)]
    pub mem_bw_schema: Option<String>,
}

/// `update` from the command line: the resources from `--resources` (a file, or `-` for stdin)
/// or from the flags, then [`update`].
pub fn update_cli(g: &Global, id: &str, flags: &UpdateFlags) -> Result<()> {
    // runc checks the container first: an unknown id says so whatever the flags.
    drop(state::read_by_id(&g.root, id)?);
    let res = match flags.resources.as_deref() {
        Some(src) => {
            let text = read_resources(src)?;
            resources_from_json(&text)?
        }
        None => {
            for w in flag_warnings(flags) {
                logging::warn(&w);
            }
            resources_from_flags(flags)?
        }
    };
    update(g, id, &res)
}

/// `update` with resources already in hand: zero or empty means "unchanged" (Docker sends every
/// field); device rules are left alone. A stopped container cannot be updated (runc's
/// `container not running`).
pub fn update(g: &Global, id: &str, res: &LinuxResources) -> Result<()> {
    let dir = ContainerDir::open(&g.root, id)?;
    let st = dir.load()?;
    if st.live_status(&dir.path) == Status::Stopped {
        return Err(Error::NotRunning);
    }
    for skipped in st.cgroup.ignored(res) {
        logging::warn(&format!("{skipped} is not supported on this host's cgroups: ignored"));
    }
    Ok(st.cgroup.update(res)?)
}

fn read_resources(src: &str) -> Result<String> {
    let mut text = String::new();
    if src == "-" {
        std::io::stdin().read_to_string(&mut text).ctx("reading the resources from standard input")?;
    } else {
        text = std::fs::read_to_string(src).with_ctx(|| format!("open {src}"))?;
    }
    Ok(text)
}

/// runc's JSON (`specs.LinuxResources`). An empty input is an error, as Go's decoder says EOF.
pub fn resources_from_json(text: &str) -> Result<LinuxResources> {
    if text.trim().is_empty() {
        return Err(Error::msg("decoding the resources: EOF"));
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        if path.is_empty() || path == "." {
            Error::msg(format!("decoding the resources: {}", e.inner()))
        } else {
            Error::msg(format!("decoding the resources: {path}: {}", e.inner()))
        }
    })
}

/// The flags that rt accepts but cannot act on (as runc 1.1 ignores kernel memory settings
/// with a warning).
pub fn flag_warnings(f: &UpdateFlags) -> Vec<String> {
    let mut out = Vec::new();
    for (name, v) in [("kernel-memory", &f.kernel_memory), ("kernel-memory-tcp", &f.kernel_memory_tcp)] {
        if v.as_deref().is_some_and(|v| !v.is_empty()) {
            out.push(format!("--{name} is not supported (kernel memory limits are gone from Linux 5.16 on): ignored"));
        }
    }
    out
}

fn invalid_value(flag: &str, v: &str, why: impl std::fmt::Display) -> Error {
    Error::msg(format!("invalid value for {flag}: {v:?}: {why}"))
}

fn parse_u64(flag: &str, v: &str) -> Result<u64> {
    v.trim().parse().map_err(|e| invalid_value(flag, v, e))
}

fn parse_i64(flag: &str, v: &str) -> Result<i64> {
    v.trim().parse().map_err(|e| invalid_value(flag, v, e))
}

/// A byte count as runc reads it (Docker's `RAMInBytes`): `-1`, or a number with an optional
/// binary unit `b k m g t p` (case-insensitive, `64m`, `1.5g`, `512KiB`).
pub fn parse_bytes(flag: &str, v: &str) -> Result<i64> {
    let s = v.trim();
    if s == "-1" {
        return Ok(-1);
    }
    let bad = || invalid_value(flag, v, "not a size (a number with an optional unit b, k, m, g, t or p)");
    let num_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, rest) = s.split_at(num_end);
    let unit = rest.trim_start_matches(' ').to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024f64.powi(3),
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    // "i" alone (as in "5i") or a bare unit without a number is not a size.
    if num.is_empty() || rest.to_ascii_lowercase().trim_start() == "i" {
        return Err(bad());
    }
    let n: f64 = num.parse().map_err(|_| bad())?;
    let bytes = n * mult;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as i64)
}

/// runc's flag forms → the resources to update. What is not given stays `None` or zero, which
/// the update leaves unchanged; `--cpu-burst` and `--cpu-idle` are set only when given (0 is a
/// value there). The Intel RDT flags are refused: rt has no resctrl support.
pub fn resources_from_flags(f: &UpdateFlags) -> Result<LinuxResources> {
    for (name, v) in [("l3-cache-schema", &f.l3_cache_schema), ("mem-bw-schema", &f.mem_bw_schema)] {
        if v.as_deref().is_some_and(|v| !v.is_empty()) {
            return Err(Error::msg(format!("--{name}: Intel RDT (resctrl) is not supported by rt")));
        }
    }
    let mut res = LinuxResources::default();

    let mut mem = LinuxMemory::default();
    let mut mem_set = false;
    let bytes = |flag: &str, v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(|v| parse_bytes(flag, v)).transpose();
    if let Some(v) = bytes("memory", &f.memory)? {
        mem.set_limit(Some(v));
        mem_set = true;
    }
    if let Some(v) = bytes("memory-reservation", &f.memory_reservation)? {
        mem.set_reservation(Some(v));
        mem_set = true;
    }
    if let Some(v) = bytes("memory-swap", &f.memory_swap)? {
        mem.set_swap(Some(v));
        mem_set = true;
    }
    if mem_set {
        res.set_memory(Some(mem));
    }

    let mut cpu = LinuxCpu::default();
    let mut cpu_set = false;
    if let Some(v) = f.cpu_share.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_shares(Some(parse_u64("cpu-share", v)?));
        cpu_set = true;
    }
    if let Some(v) = f.cpu_period.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_period(Some(parse_u64("cpu-period", v)?));
        cpu_set = true;
    }
    if let Some(v) = f.cpu_quota.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_quota(Some(parse_i64("cpu-quota", v)?));
        cpu_set = true;
    }
    if let Some(v) = f.cpu_burst.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_burst(Some(parse_u64("cpu-burst", v)?));
        cpu_set = true;
    }
    if let Some(v) = f.cpu_rt_period.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_realtime_period(Some(parse_u64("cpu-rt-period", v)?));
        cpu_set = true;
    }
    if let Some(v) = f.cpu_rt_runtime.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_realtime_runtime(Some(parse_i64("cpu-rt-runtime", v)?));
        cpu_set = true;
    }
    if let Some(v) = f.cpu_idle.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_idle(Some(parse_i64("cpu-idle", v)?));
        cpu_set = true;
    }
    if let Some(v) = f.cpuset_cpus.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_cpus(Some(v.to_owned()));
        cpu_set = true;
    }
    if let Some(v) = f.cpuset_mems.as_deref().filter(|v| !v.is_empty()) {
        cpu.set_mems(Some(v.to_owned()));
        cpu_set = true;
    }
    if cpu_set {
        res.set_cpu(Some(cpu));
    }

    if let Some(v) = f.blkio_weight.as_deref().filter(|v| !v.is_empty()) {
        let w = parse_u64("blkio-weight", v)?;
        let w = u16::try_from(w).map_err(|_| invalid_value("blkio-weight", v, "out of range"))?;
        let mut b = LinuxBlockIo::default();
        b.set_weight(Some(w));
        res.set_block_io(Some(b));
    }
    if let Some(v) = f.pids_limit.as_deref().filter(|v| !v.is_empty()) {
        let mut p = LinuxPids::default();
        p.set_limit(parse_i64("pids-limit", v)?);
        res.set_pids(Some(p));
    }
    Ok(res)
}

// ---------------------------------------------------------------------------------------------
// events

/// One line of `events`' output: runc's `types.Event`.
#[derive(Debug, Serialize)]
pub struct Event<'a, T: Serialize> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
}

/// `events`: with `stats`, one stats event and return; otherwise a stats event every
/// `interval` (a Go duration such as `5s` or `500ms`) and an `oom` event for each OOM kill in
/// the container, one JSON object per line, until the container stops.
pub fn events(g: &Global, id: &str, interval: &str, stats: bool, out: &mut dyn Write) -> Result<()> {
    let (_, st) = state::read_by_id(&g.root, id)?;
    let every = parse_go_duration(interval).map_err(|e| Error::msg(format!("invalid value {interval:?} for flag -interval: {e}")))?;
    if every.is_zero() {
        return Err(Error::msg("duration interval must be greater than 0"));
    }
    // Not locked: a stream that runs for hours must not hold up kill or delete.
    let stopped = || !st.init_alive();
    if stopped() {
        return Err(Error::msg(format!("container with id {id} is not running")));
    }
    if stats {
        let s = st.cgroup.stats()?;
        return emit(out, &Event { kind: "stats", id, data: Some(s) });
    }

    let mut oom = st.cgroup.oom_watcher()?;
    // The init's pidfd turns readable when it exits: the stream ends then, not a tick later.
    let pidfd = match sys::pidfd_open(st.pid) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Err(Error::msg(format!("container with id {id} is not running"))),
        Err(e) => return Err(e).ctx("open the init's pidfd"),
    };
    if stopped() {
        return Err(Error::msg(format!("container with id {id} is not running")));
    }
    let mut next = Instant::now() + every;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
        let mut fds = [
            libc::pollfd { fd: std::os::fd::AsRawFd::as_raw_fd(&oom.fd()), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: std::os::fd::AsRawFd::as_raw_fd(&pidfd), events: libc::POLLIN, revents: 0 },
        ];
        sys::poll(&mut fds, ms).ctx("events: poll")?;
        if fds[0].revents != 0 {
            for _ in 0..oom.take()? {
                emit(out, &Event::<()> { kind: "oom", id, data: None })?;
            }
        }
        if fds[1].revents != 0 {
            // An OOM kill of the init itself is counted by now: report it before ending.
            for _ in 0..oom.take()? {
                emit(out, &Event::<()> { kind: "oom", id, data: None })?;
            }
            return Ok(());
        }
        if Instant::now() >= next {
            next += every;
            // A reading that fails (the cgroup going away under us) is logged and skipped,
            // as runc does; the pidfd ends the stream.
            match st.cgroup.stats() {
                Ok(s) => emit(out, &Event { kind: "stats", id, data: Some(s) })?,
                Err(e) => logging::error(&e.to_string()),
            }
        }
    }
}

/// One compact JSON object and a newline, flushed: a consumer reads it as it comes.
fn emit<T: Serialize>(out: &mut dyn Write, e: &T) -> Result<()> {
    let mut line = serde_json::to_vec(e).map_err(|e| Error::msg(format!("encode event: {e}")))?;
    line.push(b'\n');
    out.write_all(&line).ctx("write event")?;
    out.flush().ctx("write event")
}

/// Go's `time.ParseDuration`: a sequence of decimal numbers with units (`ns`, `us`, `µs`,
/// `ms`, `s`, `m`, `h`), e.g. `5s`, `1m30s`, `1.5h`; an optional sign; `0` alone. A negative
/// duration comes back as zero (runc refuses both the same way).
pub fn parse_go_duration(s: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, after) = rest.split_at(n_end);
        if num.is_empty() || num == "." {
            return Err(bad());
        }
        let value: f64 = num.parse().map_err(|_| bad())?;
        let u_end = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, next) = after.split_at(u_end);
        let nanos = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            _ => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        total += value * nanos;
        rest = next;
    }
    if neg || total < 1.0 {
        return Ok(Duration::ZERO);
    }
    if total > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(Duration::from_nanos(total as u64))
}

// ---------------------------------------------------------------------------------------------
// ps

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PsFormat {
    Table,
    Json,
}

/// `ps`: the container's pids as JSON (`[1,2]`, or `null` when there are none), or the host's
/// `ps` (with `ps_args`, default `-ef`) cut down to the lines of the container's processes.
pub fn ps(g: &Global, id: &str, format: PsFormat, ps_args: &[String]) -> Result<String> {
    let (_, st) = state::read_by_id(&g.root, id)?;
    let pids = st.cgroup.pids()?;
    if format == PsFormat::Json {
        return Ok(pids_json(&pids));
    }
    let args: Vec<&str> = if ps_args.is_empty() { vec!["-ef"] } else { ps_args.iter().map(String::as_str).collect() };
    let out = std::process::Command::new("ps").args(&args).stdin(std::process::Stdio::null()).output().ctx("ps")?;
    let mut combined = out.stdout.clone();
    combined.extend_from_slice(&out.stderr);
    let text = String::from_utf8_lossy(&combined);
    if !out.status.success() {
        let how = match out.status.code() {
            Some(c) => format!("exit status {c}"),
            None => "ps was killed by a signal".into(),
        };
        return Err(Error::msg(format!("{how}: {text}")));
    }
    filter_ps_table(&String::from_utf8_lossy(&out.stdout), &pids)
}

/// Go's `json.Encoder` output for a slice of pids: `null` for none.
pub fn pids_json(pids: &[i32]) -> String {
    if pids.is_empty() {
        return "null\n".into();
    }
    let list: Vec<String> = pids.iter().map(i32::to_string).collect();
    format!("[{}]\n", list.join(","))
}

/// The header of `ps` output, then the lines whose PID column names one of `pids`.
pub fn filter_ps_table(output: &str, pids: &[i32]) -> Result<String> {
    let mut lines = output.split('\n');
    let header = lines.next().unwrap_or("");
    let col = header.split_whitespace().position(|t| t == "PID").ok_or_else(|| Error::msg("couldn't find PID field in ps output"))?;
    let mut out = format!("{header}\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let field = line.split_whitespace().nth(col).unwrap_or("");
        let pid: i32 = field.parse().map_err(|_| Error::msg(format!("unable to parse pid: {field:?} in {line:?}")))?;
        if pids.contains(&pid) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("2us"), Ok(Duration::from_micros(2)));
        assert_eq!(parse_go_duration("+3ns"), Ok(Duration::from_nanos(3)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("-5s"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("5"), Err("time: missing unit in duration \"5\"".into()));
        assert_eq!(parse_go_duration("5x"), Err("time: unknown unit \"x\" in duration \"5x\"".into()));
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("s").is_err());
        assert!(parse_go_duration(".s").is_err());
    }

    #[test]
    fn byte_sizes_as_runc_reads_them() {
        let p = |s| parse_bytes("memory", s);
        assert_eq!(p("-1").unwrap(), -1);
        assert_eq!(p("1048576").unwrap(), 1 << 20);
        assert_eq!(p("64m").unwrap(), 64 << 20);
        assert_eq!(p("64M").unwrap(), 64 << 20);
        assert_eq!(p("1g").unwrap(), 1 << 30);
        assert_eq!(p("1GiB").unwrap(), 1 << 30);
        assert_eq!(p("512kb").unwrap(), 512 << 10);
        assert_eq!(p("1.5k").unwrap(), 1536);
        assert_eq!(p("10b").unwrap(), 10);
        assert_eq!(p("10 m").unwrap(), 10 << 20);
        for bad in ["", "m", "x", "12q", "-2", "1e3", "5i"] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert_eq!(p("12q").unwrap_err().to_string(), "invalid value for memory: \"12q\": not a size (a number with an optional unit b, k, m, g, t or p)");
    }

    #[test]
    fn flags_to_resources() {
        let f = UpdateFlags {
            memory: Some("64m".into()),
            memory_swap: Some("-1".into()),
            cpu_quota: Some("-1".into()),
            cpu_period: Some("100000".into()),
            cpu_share: Some("512".into()),
            cpu_burst: Some("0".into()),
            cpuset_cpus: Some("0".into()),
            pids_limit: Some("20".into()),
            blkio_weight: Some("300".into()),
            ..Default::default()
        };
        let r = resources_from_flags(&f).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["memory"], serde_json::json!({"limit": 67108864, "swap": -1}));
        assert_eq!(v["cpu"], serde_json::json!({"shares": 512, "quota": -1, "burst": 0, "period": 100000, "cpus": "0"}));
        assert_eq!(v["pids"], serde_json::json!({"limit": 20}));
        assert_eq!(v["blockIO"], serde_json::json!({"weight": 300}));
        // Nothing given: nothing to change.
        let r = resources_from_flags(&UpdateFlags::default()).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), serde_json::json!({}));
    }

    #[test]
    fn bad_flag_values_name_the_flag() {
        let f = UpdateFlags { cpu_period: Some("abc".into()), ..Default::default() };
        assert!(resources_from_flags(&f).unwrap_err().to_string().starts_with("invalid value for cpu-period: \"abc\""));
        let f = UpdateFlags { blkio_weight: Some("70000".into()), ..Default::default() };
        assert!(resources_from_flags(&f).unwrap_err().to_string().starts_with("invalid value for blkio-weight"));
        let f = UpdateFlags { l3_cache_schema: Some("L3:0=f".into()), ..Default::default() };
        assert_eq!(resources_from_flags(&f).unwrap_err().to_string(), "--l3-cache-schema: Intel RDT (resctrl) is not supported by rt");
        let f = UpdateFlags { kernel_memory: Some("1m".into()), ..Default::default() };
        assert!(resources_from_flags(&f).is_ok());
        assert_eq!(flag_warnings(&f).len(), 1);
    }

    #[test]
    fn docker_update_json() {
        let r = resources_from_json(
            r#"{"memory":{"limit":33554432,"reservation":0,"swap":0,"kernel":0,"kernelTCP":0},
                "cpu":{"shares":0,"quota":0,"period":0,"realtimeRuntime":0,"realtimePeriod":0,"cpus":"","mems":""},
                "blockIO":{"weight":0},"pids":{"limit":0}}"#,
        )
        .unwrap();
        assert_eq!(r.memory().as_ref().and_then(|m| m.limit()), Some(33554432));
        assert_eq!(resources_from_json("").unwrap_err().to_string(), "decoding the resources: EOF");
        let e = resources_from_json(r#"{"memory":{"limit":"x"}}"#).unwrap_err().to_string();
        assert!(e.starts_with("decoding the resources: memory.limit: invalid type"), "{e}");
    }

    #[test]
    fn event_lines() {
        let e = Event::<()> { kind: "oom", id: "c1", data: None };
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"type":"oom","id":"c1"}"#);
        let e = Event { kind: "stats", id: "c1", data: Some(serde_json::json!({"pids": {"current": 1}})) };
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"type":"stats","id":"c1","data":{"pids":{"current":1}}}"#);
        let mut out = Vec::new();
        emit(&mut out, &e).unwrap();
        assert!(out.ends_with(b"}\n"));
    }

    #[test]
    fn pids_as_json() {
        assert_eq!(pids_json(&[]), "null\n");
        assert_eq!(pids_json(&[9477]), "[9477]\n");
        assert_eq!(pids_json(&[1, 22]), "[1,22]\n");
    }

    #[test]
    fn ps_table_filtered_to_the_container() {
        let out = "UID          PID    PPID  C STIME TTY          TIME CMD\n\
                   root           1       0  0 08:00 ?        00:00:01 init\n\
                   root        9477       1  0 08:46 ?        00:00:00 sleep 1000\n\
                   root        9480    9477  0 08:46 ?        00:00:00 sh\n";
        assert_eq!(
            filter_ps_table(out, &[9477, 9480]).unwrap(),
            "UID          PID    PPID  C STIME TTY          TIME CMD\n\
             root        9477       1  0 08:46 ?        00:00:00 sleep 1000\n\
             root        9480    9477  0 08:46 ?        00:00:00 sh\n"
        );
        // -o pid,comm puts PID first; nothing matching leaves the header.
        assert_eq!(filter_ps_table("    PID COMMAND\n   4 x\n", &[]).unwrap(), "    PID COMMAND\n");
        assert_eq!(filter_ps_table("COMMAND\nx\n", &[1]).unwrap_err().to_string(), "couldn't find PID field in ps output");
        assert!(filter_ps_table("PID CMD\nabc x\n", &[1]).unwrap_err().to_string().starts_with("unable to parse pid"));
    }
}
