//! `ps`: the container's processes, as the host's `ps` shows them or as a JSON list of pids.

use super::Global;
use crate::error::{Context, Error, Result};
use crate::state;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsFormat {
    Table,
    Json,
}

/// `ps`: the container's pids as JSON (`[1,2]`, or `null` when there are none), or the host's
/// `ps` (with `ps_args`, default `-ef`) cut down to the lines of the container's processes.
pub fn ps(g: &Global, id: &str, format: PsFormat, ps_args: &[String]) -> Result<String> {
    let (_, st) = state::read_by_id(&g.root, id)?;
    let pids = st.pids()?;
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
