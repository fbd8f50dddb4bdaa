//! `spec`: runc's default config.json written into a bundle.

use std::path::Path;

use crate::error::{Error, Result};

/// Tab-indented, no trailing newline, as runc writes it; an existing config.json is kept.
pub fn write_spec(bundle: Option<&Path>, rootless: bool) -> Result<()> {
    let path = bundle.unwrap_or(Path::new(".")).join("config.json");
    if path.exists() {
        return Err(Error::msg("File config.json exists. Remove it first"));
    }
    let text = crate::spec::default_config(rootless);
    std::fs::write(&path, text).map_err(|e| Error::io(format!("write {}", path.display()), e))
}
