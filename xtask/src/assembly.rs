//! The assembly: what `synth` writes and `deploy` and `dev` read. A folder holding
//!
//! - `template.json`: the CloudFormation template (the contract);
//! - `assets.json`: the asset manifest, with the zips it names beside it;
//! - `stack.json`: where it goes (stage, stack name, region);
//! - `outputs.json`: the stack's outputs after a deploy.
//!
//! Readers never look at the Rust model: what runs locally is what CloudFormation gets.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use infra::assets::{AssetManifest, FunctionAsset, MANIFEST_FILE};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::build::write_atomically;

pub const TEMPLATE_FILE: &str = "template.json";
pub const STACK_FILE: &str = "stack.json";
pub const OUTPUTS_FILE: &str = "outputs.json";

/// Where the assembly's stack goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StackInfo {
    pub stage: String,
    pub stack_name: String,
    pub region: String,
}

/// An assembly read from disk.
#[derive(Debug, Clone)]
pub struct Assembly {
    pub dir: PathBuf,
    /// The template as text, exactly as synthesized (what deploy sends).
    pub template_text: String,
    pub template: Value,
    pub manifest: AssetManifest,
    pub stack: StackInfo,
}

impl Assembly {
    /// The default folder for a stage's assembly.
    pub fn default_dir(target_dir: &Path, stage: &str) -> PathBuf {
        target_dir.join("assembly").join(stage)
    }

    /// Reads an assembly and checks that every function's code is in it.
    pub fn read(dir: &Path) -> Result<Assembly> {
        let hint = "run `cargo xtask synth` to write it";
        let template_path = dir.join(TEMPLATE_FILE);
        let template_text = fs::read_to_string(&template_path)
            .with_context(|| format!("cannot read {}: {hint}", template_path.display()))?;
        let template: Value = serde_json::from_str(&template_text)
            .with_context(|| format!("{} is not JSON: {hint}", template_path.display()))?;
        let manifest = AssetManifest::read(&dir.join(MANIFEST_FILE))?;
        let stack_path = dir.join(STACK_FILE);
        let stack: StackInfo = serde_json::from_str(
            &fs::read_to_string(&stack_path)
                .with_context(|| format!("cannot read {}: {hint}", stack_path.display()))?,
        )
        .with_context(|| format!("{} is not valid: {hint}", stack_path.display()))?;
        let assembly = Assembly {
            dir: dir.to_owned(),
            template_text,
            template,
            manifest,
            stack,
        };
        for (logical_id, key) in assembly.function_code_keys() {
            let asset = assembly.manifest.by_s3_key(&key).with_context(|| {
                format!(
                    "{}: function {logical_id} has code `{key}`, which {MANIFEST_FILE} doesn't list: {hint}",
                    template_path.display()
                )
            })?;
            let zip = assembly.zip_path(asset);
            if !zip.is_file() {
                bail!(
                    "{}: the code of function {logical_id} ({}) is missing: {hint}",
                    dir.display(),
                    zip.display()
                );
            }
        }
        Ok(assembly)
    }

    pub fn zip_path(&self, asset: &FunctionAsset) -> PathBuf {
        self.dir.join(&asset.zip)
    }

    /// `(logical id, S3Key)` of every `AWS::Lambda::Function` whose code is a literal key.
    pub fn function_code_keys(&self) -> Vec<(String, String)> {
        let mut keys = Vec::new();
        if let Some(resources) = self.template.get("Resources").and_then(Value::as_object) {
            for (id, resource) in resources {
                if resource.get("Type").and_then(Value::as_str) != Some("AWS::Lambda::Function") {
                    continue;
                }
                if let Some(key) = resource
                    .pointer("/Properties/Code/S3Key")
                    .and_then(Value::as_str)
                {
                    keys.push((id.clone(), key.to_owned()));
                }
            }
        }
        keys
    }
}

/// What `synth` hands over to be written.
pub struct NewAssembly<'a> {
    pub template_json: &'a str,
    /// Also written as `template.yaml` when given (for reading; deploy sends the JSON).
    pub template_yaml: Option<&'a str>,
    pub manifest: &'a AssetManifest,
    /// The folder the manifest's zips are in.
    pub assets_dir: &'a Path,
    pub stack: &'a StackInfo,
}

impl NewAssembly<'_> {
    /// Writes the assembly into a fresh sibling folder, then swaps it into place: a failed
    /// synth leaves the previous assembly whole, never half of a new one.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let parent = dir
            .parent()
            .with_context(|| format!("{} has no parent folder", dir.display()))?;
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let name = dir
            .file_name()
            .with_context(|| format!("{} has no name", dir.display()))?
            .to_string_lossy();
        let staging = parent.join(format!(".{name}.new-{}", std::process::id()));
        let _ = fs::remove_dir_all(&staging);
        let written = self.write_into(&staging);
        if let Err(err) = written {
            let _ = fs::remove_dir_all(&staging);
            return Err(err);
        }
        // Outputs of the last deploy stay with the assembly until the next deploy.
        let outputs = dir.join(OUTPUTS_FILE);
        if outputs.is_file() {
            fs::copy(&outputs, staging.join(OUTPUTS_FILE))
                .with_context(|| format!("cannot keep {}", outputs.display()))?;
        }
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        if dir.exists() {
            fs::rename(dir, &old)
                .with_context(|| format!("cannot move the old {} aside", dir.display()))?;
        }
        fs::rename(&staging, dir)
            .with_context(|| format!("cannot move the new assembly to {}", dir.display()))?;
        let _ = fs::remove_dir_all(&old);
        Ok(())
    }

    fn write_into(&self, staging: &Path) -> Result<()> {
        fs::create_dir_all(staging)
            .with_context(|| format!("cannot create {}", staging.display()))?;
        for asset in &self.manifest.functions {
            let from = self.assets_dir.join(&asset.zip);
            let to = staging.join(&asset.zip);
            // A hard link costs nothing; copy where links aren't possible (other file system).
            if fs::hard_link(&from, &to).is_err() {
                fs::copy(&from, &to).with_context(|| {
                    format!(
                        "cannot copy {} into the assembly: run `cargo xtask build`",
                        from.display()
                    )
                })?;
            }
        }
        write_atomically(
            &staging.join(MANIFEST_FILE),
            self.manifest.to_json().as_bytes(),
        )?;
        let mut stack = serde_json::to_string_pretty(self.stack)?;
        stack.push('\n');
        write_atomically(&staging.join(STACK_FILE), stack.as_bytes())?;
        write_atomically(&staging.join(TEMPLATE_FILE), self.template_json.as_bytes())?;
        if let Some(yaml) = self.template_yaml {
            write_atomically(&staging.join("template.yaml"), yaml.as_bytes())?;
        }
        Ok(())
    }
}
