//! `cargo xtask codegen`: the generated files the repository keeps, each from the typed model,
//! each checked by a test that fails when the checked-in copy is stale:
//!
//! - `infra/stages/stage.schema.json`: the stage files' JSON Schema (editors validate the YAML
//!   with it);
//! - `xtask/deploy/toolkit.template.json`: the toolkit stack's template, which the deploy crate
//!   ships (as the AWS CDK CLI ships its bootstrap template) so it never links the model.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::workspace;

struct Generated {
    path: PathBuf,
    contents: String,
}

fn generated() -> Result<Vec<Generated>> {
    let toolkit = infra::toolkit::synth(deploy::TOOLKIT_STACK)
        .context("cannot synthesize the toolkit stack")?
        .template
        .to_json();
    Ok(vec![
        Generated {
            path: infra::config::schema_file(),
            contents: infra::config::schema_json(),
        },
        Generated {
            path: workspace::root().join("xtask/deploy/toolkit.template.json"),
            contents: toolkit,
        },
    ])
}

pub fn write() -> Result<()> {
    for file in generated()? {
        let shown = file
            .path
            .strip_prefix(workspace::root())
            .unwrap_or(&file.path);
        if fs::read_to_string(&file.path).is_ok_and(|current| current == file.contents) {
            eprintln!("[codegen] {} is up to date", shown.display());
            continue;
        }
        assembly::write_atomically(&file.path, file.contents.as_bytes())?;
        eprintln!("[codegen] wrote {}", shown.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_generated_files_are_current() {
        for file in generated().unwrap() {
            let checked_in = fs::read_to_string(&file.path).unwrap_or_default();
            assert!(
                checked_in == file.contents,
                "{} is stale: run `cargo xtask codegen` to regenerate it",
                file.path.display()
            );
        }
    }
}
