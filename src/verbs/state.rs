//! `state` and `list`: what rt knows of its containers, in runc's shapes. Both only read, and
//! print nothing else on success: go-runc reads them with stdout and stderr combined.

use std::path::Path;

use super::Global;
use crate::error::{Error, Result};
use crate::state::{self, Status};

/// `state`: runc's JSON, two-space indented, no trailing newline.
pub fn state(g: &Global, id: &str) -> Result<String> {
    let (dir, st) = state::read_by_id(&g.root, id)?;
    let status = st.live_status(&dir);
    serde_json::to_string_pretty(&st.public(status)).map_err(|e| Error::msg(format!("encode state: {e}")))
}

/// `list`: a table like runc's (Go tabwriter, min width 12, padding 3), JSON, or ids only.
pub fn list(g: &Global, format: ListFormat, quiet: bool) -> Result<String> {
    state::ensure_root(&g.root)?;
    let mut rows = Vec::new();
    for id in state::list_ids(&g.root)? {
        let dir = g.root.join(&id);
        match state::read_state(&dir) {
            Ok(st) => {
                let status = st.live_status(&dir);
                rows.push((st, status, owner_of(&dir)));
            }
            Err(e) if e.errno() == Some(libc::ENOENT) => {}
            Err(e) => eprintln!("load container {id}: {e}"),
        }
    }
    if quiet {
        return Ok(rows.iter().map(|(st, _, _)| format!("{}\n", st.id)).collect());
    }
    match format {
        ListFormat::Json => {
            if rows.is_empty() {
                return Ok("null\n".into());
            }
            // The structs themselves, not serde_json::Values: a Value's object sorts its keys,
            // and scripts match runc's order (ociVersion, id, pid, ..., owner), as in `state`.
            let items: Vec<state::PublicState> = rows
                .iter()
                .map(|(st, status, owner)| {
                    let mut p = st.public(*status);
                    p.owner = owner;
                    p
                })
                .collect();
            let json = serde_json::to_string(&items).map_err(|e| Error::msg(format!("encode list: {e}")))?;
            Ok(format!("{json}\n"))
        }
        ListFormat::Table => {
            let mut cells = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from).to_vec()];
            for (st, status, owner) in &rows {
                let pid = if *status == Status::Stopped { 0 } else { st.pid };
                cells.push(vec![st.id.clone(), pid.to_string(), status.to_string(), st.bundle.display().to_string(), st.created.clone(), owner.clone()]);
            }
            Ok(tabwrite(&cells))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

/// Go's text/tabwriter with (minwidth 12, padding 3): every column but the last is as wide as
/// its longest cell plus 3, at least 12.
fn tabwrite(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols).map(|c| rows.iter().map(|r| r[c].chars().count() + 3).max().unwrap_or(0).max(12)).collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == cols {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push('\n');
    }
    out
}

/// The state directory owner's user name on the host, or `#uid`.
fn owner_of(dir: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = std::fs::metadata(dir) else { return String::new() };
    let uid = md.uid();
    let passwd = crate::sys::read_string("/etc/passwd").unwrap_or_default();
    crate::user::parse_passwd(&passwd).into_iter().find(|e| e.uid == uid).map_or_else(|| format!("#{uid}"), |e| e.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabwriter_matches_runc() {
        let rows = vec![
            ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from).to_vec(),
            ["t1", "9477", "created", "/tmp/rcc/b/t1", "2026-11-23T08:46:46.671236684Z", "root"].map(String::from).to_vec(),
        ];
        assert_eq!(
            tabwrite(&rows),
            "ID          PID         STATUS      BUNDLE          CREATED                          OWNER\n\
             t1          9477        created     /tmp/rcc/b/t1   2026-11-23T08:46:46.671236684Z   root\n"
        );
        let empty = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from).to_vec()];
        assert_eq!(tabwrite(&empty), "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n");
    }
}
