//! Where things are: the workspace root, the target dir, and the function crates.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cargo_metadata::{Metadata, MetadataCommand, TargetKind};

/// The workspace root (the folder with the top-level Cargo.toml).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_owned()
}

/// Where provisioned tools live: `.tools/` at the root, ignored by git.
pub fn tools_dir() -> PathBuf {
    root().join(".tools")
}

/// The workspace as cargo sees it (packages, targets, target dir).
pub fn metadata() -> Result<Metadata> {
    MetadataCommand::new()
        .current_dir(root())
        .no_deps()
        .exec()
        .context("`cargo metadata` failed: is the workspace's Cargo.toml valid?")
}

/// A Lambda function: a crate under `functions/` with a binary target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCrate {
    pub package: String,
    pub bin: String,
    pub manifest_dir: PathBuf,
}

/// Finds the function crates. Adding a crate under `functions/` with a binary adds a function;
/// library crates there (like `shared`) are code they share.
pub fn functions(metadata: &Metadata) -> Result<Vec<FunctionCrate>> {
    let functions_dir = metadata.workspace_root.join("functions");
    let mut found = Vec::new();
    for package in metadata.workspace_packages() {
        if !package.manifest_path.starts_with(&functions_dir) {
            continue;
        }
        let bins: Vec<&str> = package
            .targets
            .iter()
            .filter(|t| t.kind.contains(&TargetKind::Bin))
            .map(|t| t.name.as_str())
            .collect();
        let bin = match bins.as_slice() {
            [] => continue,
            [one] => *one,
            many => {
                // A Lambda zip holds one `bootstrap`: which binary is it?
                match many.iter().find(|b| **b == package.name.as_str()) {
                    Some(b) => *b,
                    None => bail!(
                        "function crate `{}` ({}) has several binaries ({}) and none is named \
                         like the package: name the Lambda's binary `{}`",
                        package.name,
                        package.manifest_path,
                        many.join(", "),
                        package.name
                    ),
                }
            }
        };
        found.push(FunctionCrate {
            package: package.name.to_string(),
            bin: bin.to_owned(),
            manifest_dir: package
                .manifest_path
                .parent()
                .expect("a manifest path has a folder")
                .into(),
        });
    }
    found.sort_by(|a, b| a.package.cmp(&b.package));
    if found.is_empty() {
        bail!(
            "no function crates under {functions_dir}: add one with a `[[bin]]` (e.g. `cargo new --bin functions/hello`)"
        );
    }
    Ok(found)
}

/// The folders of the crates that are not under `functions/`: the model, the contract and the
/// tools, all compiled into xtask, so an edit of theirs needs a restart of `cargo xtask dev`.
pub fn tool_crates(metadata: &Metadata) -> Vec<PathBuf> {
    let functions_dir = metadata.workspace_root.join("functions");
    let mut dirs: Vec<PathBuf> = metadata
        .workspace_packages()
        .into_iter()
        .filter(|p| !p.manifest_path.starts_with(&functions_dir))
        .filter_map(|p| p.manifest_path.parent().map(PathBuf::from))
        .collect();
    dirs.sort();
    dirs
}
