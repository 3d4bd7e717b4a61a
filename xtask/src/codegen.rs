//! `cargo xtask codegen`: the generated files the repository keeps, each from the typed model,
//! each checked by a test that fails when the checked-in copy is stale:
//!
//! - `infra/stages/stage.schema.json`: the stage files' JSON Schema (editors validate the YAML
//!   with it);
//! - `xtask/deploy/toolkit.template.json`: the toolkit stack's template, which the deploy crate
//!   ships (as the AWS CDK CLI ships its bootstrap template) so it never links the model;
//! - `xtask/review/review.schema.json`: the schema of `diff --format json`;
//! - `xtask/review/src/create_only.rs`: which properties replace a resource when they change,
//!   for every resource type the model's stacks use, from the CloudFormation resource schemas
//!   the pinned cfn-lint ships (so this one needs cfn-lint, which `codegen` provisions).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::process::Cmd;
use crate::{reviewed, tools, workspace};

struct Generated {
    path: PathBuf,
    contents: String,
}

fn toolkit_template() -> Result<String> {
    Ok(infra::toolkit::synth(deploy::TOOLKIT_STACK)
        .context("cannot synthesize the toolkit stack")?
        .template
        .to_json())
}

/// The files made from the model alone.
fn generated() -> Result<Vec<Generated>> {
    let toolkit = toolkit_template()?;
    Ok(vec![
        Generated {
            path: infra::config::schema_file(),
            contents: infra::config::schema_json(),
        },
        Generated {
            path: workspace::root().join("xtask/deploy/toolkit.template.json"),
            contents: toolkit,
        },
        Generated {
            path: workspace::root().join("xtask/review/review.schema.json"),
            contents: review::json_schema(),
        },
    ])
}

/// Every resource type of every app's every stage and of the toolkit stack.
fn model_types() -> Result<BTreeSet<String>> {
    let toolkit: Value = serde_json::from_str(&toolkit_template()?)?;
    let stacks = reviewed::working_tree()?;
    Ok(stacks
        .values()
        .chain([&toolkit])
        .filter_map(|t| t["Resources"].as_object())
        .flat_map(|resources| resources.values())
        .filter_map(|r| r["Type"].as_str().map(str::to_owned))
        .collect())
}

/// The CloudFormation resource schemas of the cfn-lint at `cfn_lint` (its Python package's
/// `data/schemas`), asked of its own interpreter.
fn schemas_dir(cfn_lint: &Path) -> Result<PathBuf> {
    let python = cfn_lint.with_file_name("python");
    let dir = Cmd::new(&python)
        .args([
            "-c",
            "import cfnlint, pathlib; print(pathlib.Path(cfnlint.__file__).parent / 'data' / 'schemas')",
        ])
        .read()?;
    Ok(PathBuf::from(dir.trim()))
}

/// The replacement table, from the cfn-lint at `cfn_lint`.
fn replacement_table(cfn_lint: &Path) -> Result<Generated> {
    let contents = review::replacement::generate(&schemas_dir(cfn_lint)?, &model_types()?)
        .context("cannot generate the replacement table")?;
    Ok(Generated {
        path: workspace::root().join("xtask/review/src/create_only.rs"),
        contents,
    })
}

pub fn write() -> Result<()> {
    let cfn_lint = tools::CFN_LINT.ensure()?;
    let mut files = generated()?;
    files.push(replacement_table(&cfn_lint)?);
    for file in files {
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

    fn assert_current(file: &Generated) {
        let checked_in = fs::read_to_string(&file.path).unwrap_or_default();
        assert!(
            checked_in == file.contents,
            "{} is stale: run `cargo xtask codegen` to regenerate it",
            file.path.display()
        );
    }

    #[test]
    fn the_checked_in_generated_files_are_current() {
        for file in generated().unwrap() {
            assert_current(&file);
        }
    }

    #[test]
    #[ignore = "needs cfn-lint: `cargo xtask test` provides it"]
    fn the_replacement_table_is_current_for_every_type_the_model_uses() {
        let file = replacement_table(&testenv::Need::CfnLint.path()).unwrap();
        assert!(
            file.contents.contains("AWS::DynamoDB::Table")
                && file.contents.contains("AWS::Lambda::Function"),
            "the model's types are missing from the table:\n{}",
            file.contents
        );
        assert_current(&file);
    }
}
