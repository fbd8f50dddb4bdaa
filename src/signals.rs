//! Signal names and numbers as `kill` takes them: runc's rules.

use crate::error::{Error, Result};

const NAMES: [(&str, i32); 31] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
];

/// A decimal number is passed to the kernel as it is (the kernel judges it); a name may be in
/// any case, with or without `SIG`.
pub fn parse(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return Ok(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if name == "SYS" {
        return Ok(libc::SIGSYS);
    }
    NAMES.iter().find(|(n, _)| *n == name).map(|&(_, v)| v).ok_or_else(|| Error::msg(format!("unknown signal {s:?}")))
}

/// `SIGKILL` for 9; a number without a name as `signal N`.
pub fn name(sig: i32) -> String {
    if sig == libc::SIGSYS {
        return "SIGSYS".into();
    }
    // SIGIOT is SIGABRT's alias: the first name is the one people know
    NAMES.iter().find(|&&(_, v)| v == sig).map_or_else(|| format!("signal {sig}"), |(n, _)| format!("SIG{n}"))
}

/// The signals `run` passes on to the container's init: all that can be caught, except those
/// rt needs for itself (SIGCHLD to reap; SIGWINCH belongs to a terminal).
pub fn forwarded() -> Vec<i32> {
    NAMES
        .iter()
        .map(|&(_, s)| s)
        .filter(|&s| {
            !matches!(
                s,
                libc::SIGKILL | libc::SIGSTOP | libc::SIGCHLD | libc::SIGWINCH | libc::SIGILL | libc::SIGTRAP | libc::SIGBUS | libc::SIGFPE | libc::SIGSEGV
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name(9), "SIGKILL");
        assert_eq!(name(6), "SIGABRT");
        assert_eq!(name(31), "SIGSYS");
        assert_eq!(name(64), "signal 64");
    }

    #[test]
    fn forms() {
        for s in ["KILL", "SIGKILL", "kill", "sigkill", "9"] {
            assert_eq!(parse(s).unwrap(), 9, "{s}");
        }
        assert_eq!(parse("usr1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse("99").unwrap(), 99);
        assert_eq!(parse("FOO").unwrap_err().to_string(), "unknown signal \"FOO\"");
        assert_eq!(parse("0x1").unwrap_err().to_string(), "unknown signal \"0x1\"");
    }
}
