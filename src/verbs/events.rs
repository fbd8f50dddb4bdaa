//! `events`: the container's statistics once (`--stats`) or every interval, and its OOM kills,
//! one JSON object per line. runc's wording: `container with id X is not running`.

use std::io::Write;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Global;
use crate::error::{Context, Error, Result};
use crate::sys::{self, PollFd, PollFlags};
use crate::{logging, state};

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
        let (oom_ready, exited) = {
            let mut fds = [PollFd::from_borrowed_fd(oom.fd(), PollFlags::IN), PollFd::new(&pidfd, PollFlags::IN)];
            sys::poll(&mut fds, ms).ctx("events: poll")?;
            (!fds[0].revents().is_empty(), !fds[1].revents().is_empty())
        };
        if oom_ready {
            for _ in 0..oom.take()? {
                emit(out, &Event::<()> { kind: "oom", id, data: None })?;
            }
        }
        if exited {
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
    fn event_lines() {
        let e = Event::<()> { kind: "oom", id: "c1", data: None };
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"type":"oom","id":"c1"}"#);
        let e = Event { kind: "stats", id: "c1", data: Some(serde_json::json!({"pids": {"current": 1}})) };
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"type":"stats","id":"c1","data":{"pids":{"current":1}}}"#);
        let mut out = Vec::new();
        emit(&mut out, &e).unwrap();
        assert!(out.ends_with(b"}\n"));
    }
}
