//! `cargo xtask schema`: writes the JSON Schema of stage files, which the YAML files name for
//! editor validation. A test in infra fails when the checked-in copy is stale.

use std::fs;

use anyhow::{Context, Result};

pub fn write() -> Result<()> {
    let path = infra::config::schema_file();
    let schema = infra::config::schema_json();
    if fs::read_to_string(&path).is_ok_and(|current| current == schema) {
        eprintln!("[schema] {} is up to date", path.display());
        return Ok(());
    }
    assembly::write_atomically(&path, schema.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("[schema] wrote {}", path.display());
    Ok(())
}
