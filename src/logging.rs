//! `--log FILE --log-format text|json --debug`, written the way runc's logrus writes them:
//! containerd's shim and Podman read the last error back from the JSON file and show it.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

struct Logger {
    path: Option<PathBuf>,
    format: Format,
    min: Level,
    /// Opened at start-up, as runc does: a shim reading it back after a failure must find
    /// it even when rt failed before it wrote anything.
    file: Mutex<Option<File>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets the destination once, at start-up. Without `path`, records go to stderr.
pub fn init(path: Option<PathBuf>, format: Format, debug: bool) {
    let min = if debug { Level::Debug } else { Level::Warning };
    let file = path.as_ref().and_then(|p| File::options().append(true).create(true).open(p).ok());
    let _ = LOGGER.set(Logger { path, format, min, file: Mutex::new(file) });
}

/// `--log FILE` and `--log-format F` out of a command line clap could not parse, so that its
/// error reaches the log file too (`--log F`, `--log=F`, and the same for the format).
pub fn flags_of(args: &[std::ffi::OsString]) -> (Option<PathBuf>, Format) {
    let (mut path, mut format) = (None, Format::Text);
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        let (flag, value) = match a.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (a.clone(), None),
        };
        match flag.as_str() {
            "--log" => path = value.or_else(|| it.next()).map(PathBuf::from),
            "--log-format" => format = if value.or_else(|| it.next()).as_deref() == Some("json") { Format::Json } else { Format::Text },
            _ => {}
        }
    }
    (path, format)
}

pub fn debug_enabled() -> bool {
    LOGGER.get().is_some_and(|l| l.min <= Level::Debug)
}

pub fn log(level: Level, msg: &str) {
    let Some(l) = LOGGER.get() else { return };
    if level < l.min {
        return;
    }
    let line = format_record(l.format, level, msg, SystemTime::now());
    match &l.path {
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        Some(p) => {
            let Ok(mut guard) = l.file.lock() else { return };
            if guard.is_none() {
                *guard = File::options().append(true).create(true).open(p).ok();
            }
            if let Some(f) = guard.as_mut() {
                let _ = f.write_all(line.as_bytes());
            }
        }
    }
}

/// How rt reports the error it exits with, as runc does: the record goes to the log (a file,
/// or stderr); with a file, stderr also gets the bare message. A person at a terminal gets
/// logrus' short form.
pub fn report_error(msg: &str) {
    // Never eprintln!: it panics when stderr is a pipe nobody reads any more.
    let bare = |m: &str| {
        let _ = std::io::stderr().write_all(format!("{m}\n").as_bytes());
    };
    let Some(l) = LOGGER.get() else {
        bare(msg);
        return;
    };
    if l.path.is_some() {
        log(Level::Error, msg);
        bare(msg);
    } else if l.format == Format::Text && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bare(&format!("ERRO[0000] {msg}"));
    } else {
        log(Level::Error, msg);
    }
}

pub fn error(msg: &str) {
    log(Level::Error, msg)
}

pub fn warn(msg: &str) {
    log(Level::Warning, msg)
}

pub fn debug(msg: impl FnOnce() -> String) {
    if debug_enabled() {
        log(Level::Debug, &msg())
    }
}

/// One record, newline-terminated: logrus' JSON (`{"level","msg","time"}`, keys sorted as Go's
/// encoder sorts a map) or its text form (`time="…" level=… msg="…"`).
pub fn format_record(format: Format, level: Level, msg: &str, at: SystemTime) -> String {
    let time = rfc3339(at, false);
    match format {
        Format::Json => {
            let v = serde_json::json!({ "level": level.name(), "msg": msg, "time": time });
            // Go's encoder writes these as escapes; tools that grep the log expect them so.
            let s = v.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026");
            format!("{s}\n")
        }
        Format::Text => {
            let quoted = serde_json::Value::String(msg.to_owned()).to_string();
            format!("time=\"{time}\" level={} msg={quoted}\n", level.name())
        }
    }
}

/// UTC time in RFC 3339; with `nanos`, Go's RFC3339Nano (fraction without trailing zeros), the
/// form runc stores in `created`.
pub fn rfc3339(at: SystemTime, nanos: bool) -> String {
    let d = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    let mut s = format!("{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    let ns = d.subsec_nanos();
    if nanos && ns != 0 {
        let frac = format!("{ns:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_matches_go() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(rfc3339(t, false), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(t, true), "2023-11-14T22:13:20.12Z");
        assert_eq!(rfc3339(UNIX_EPOCH, true), "1970-01-01T00:00:00Z");
        // a leap day
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400), false), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn json_record_has_logrus_keys_in_order() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let r = format_record(Format::Json, Level::Error, "container \"x\" does not exist", t);
        assert_eq!(r, "{\"level\":\"error\",\"msg\":\"container \\\"x\\\" does not exist\",\"time\":\"2023-11-14T22:13:20Z\"}\n");
    }

    #[test]
    fn text_record_quotes_msg() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let r = format_record(Format::Text, Level::Warning, "a b", t);
        assert_eq!(r, "time=\"2023-11-14T22:13:20Z\" level=warning msg=\"a b\"\n");
    }
}
