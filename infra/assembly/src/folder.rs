//! An assembly folder: read whole and checked, or written whole and swapped into place.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::SYNTH_HINT;
use crate::{
    AssetManifest, Error, FunctionAsset, MANIFEST_FILE, OUTPUTS_FILE, STACK_FILE, StackInfo,
    TEMPLATE_FILE, TEMPLATE_YAML_FILE, template, write_atomically,
};

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
    /// Reads an assembly and checks that every function's code is in it.
    pub fn read(dir: &Path) -> Result<Assembly, Error> {
        let template_path = dir.join(TEMPLATE_FILE);
        let template_text = fs::read_to_string(&template_path).map_err(|error| Error::Read {
            path: template_path.clone(),
            error,
            hint: SYNTH_HINT,
        })?;
        let template: Value =
            serde_json::from_str(&template_text).map_err(|error| Error::Parse {
                path: template_path.clone(),
                error,
                hint: SYNTH_HINT,
            })?;
        let manifest = AssetManifest::read(&dir.join(MANIFEST_FILE))?;
        let stack = StackInfo::read(dir)?;
        let assembly = Assembly {
            dir: dir.to_owned(),
            template_text,
            template,
            manifest,
            stack,
        };
        for (logical_id, key) in template::function_code_keys(&assembly.template) {
            let Some(asset) = assembly.manifest.by_s3_key(&key) else {
                return Err(Error::UnlistedCode {
                    template: template_path,
                    logical_id,
                    key,
                });
            };
            let zip = assembly.zip_path(asset);
            if !zip.is_file() {
                return Err(Error::MissingCode {
                    dir: dir.to_owned(),
                    logical_id,
                    zip,
                });
            }
        }
        Ok(assembly)
    }

    pub fn zip_path(&self, asset: &FunctionAsset) -> PathBuf {
        self.dir.join(&asset.zip)
    }
}

/// What synthesis hands over to be written.
pub struct NewAssembly<'a> {
    pub template_json: &'a str,
    /// Also written as `template.yaml` when given (to read; deploy sends the JSON).
    pub template_yaml: Option<&'a str>,
    pub manifest: &'a AssetManifest,
    /// The folder the manifest's zips are in.
    pub assets_dir: &'a Path,
    pub stack: &'a StackInfo,
}

impl NewAssembly<'_> {
    /// Writes the assembly into a fresh sibling folder, then swaps it into place: a failed
    /// synth leaves the previous assembly whole, never half of a new one. The outputs of the
    /// last deploy stay with it until the next deploy.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        let parent = dir.parent().ok_or_else(|| Error::NoParent {
            path: dir.to_owned(),
        })?;
        let write_error = |path: &Path| {
            let path = path.to_owned();
            move |error| Error::Write { path, error }
        };
        fs::create_dir_all(parent).map_err(write_error(parent))?;
        let name = dir
            .file_name()
            .ok_or_else(|| Error::NoParent {
                path: dir.to_owned(),
            })?
            .to_string_lossy();
        let staging = parent.join(format!(".{name}.new-{}", std::process::id()));
        let _ = fs::remove_dir_all(&staging);
        if let Err(err) = self.write_into(&staging) {
            let _ = fs::remove_dir_all(&staging);
            return Err(err);
        }
        let outputs = dir.join(OUTPUTS_FILE);
        if outputs.is_file() {
            fs::copy(&outputs, staging.join(OUTPUTS_FILE)).map_err(write_error(&staging))?;
        }
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        if dir.exists() {
            fs::rename(dir, &old).map_err(write_error(dir))?;
        }
        fs::rename(&staging, dir).map_err(write_error(dir))?;
        let _ = fs::remove_dir_all(&old);
        Ok(())
    }

    fn write_into(&self, staging: &Path) -> Result<(), Error> {
        fs::create_dir_all(staging).map_err(|error| Error::Write {
            path: staging.to_owned(),
            error,
        })?;
        for asset in &self.manifest.functions {
            let from = self.assets_dir.join(&asset.zip);
            let to = staging.join(&asset.zip);
            // A hard link costs nothing; copy where links aren't possible (other file system).
            if fs::hard_link(&from, &to).is_err() {
                fs::copy(&from, &to).map_err(|error| Error::CopyAsset {
                    from: from.clone(),
                    to: to.clone(),
                    error,
                })?;
            }
        }
        write_atomically(
            &staging.join(MANIFEST_FILE),
            self.manifest.to_json().as_bytes(),
        )?;
        write_atomically(&staging.join(STACK_FILE), self.stack.to_json().as_bytes())?;
        write_atomically(&staging.join(TEMPLATE_FILE), self.template_json.as_bytes())?;
        if let Some(yaml) = self.template_yaml {
            write_atomically(&staging.join(TEMPLATE_YAML_FILE), yaml.as_bytes())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Architecture, MANIFEST_VERSION, sha256_hex};

    fn sample(dir: &Path) -> (AssetManifest, StackInfo, String) {
        let zip = b"PK a zip".to_vec();
        let sha256 = sha256_hex(&zip);
        fs::write(dir.join(format!("{sha256}.zip")), &zip).unwrap();
        let manifest = AssetManifest {
            version: MANIFEST_VERSION,
            architecture: Architecture::Arm64,
            functions: vec![FunctionAsset {
                package: "echo".into(),
                architecture: Architecture::Arm64,
                zip: format!("{sha256}.zip").into(),
                sha256: sha256.clone(),
                size: zip.len() as u64,
                binary_size: 1,
            }],
        };
        let stack = StackInfo {
            stage: "dev".into(),
            stack_name: "wsecho-dev".into(),
            region: "eu-west-1".into(),
            account_id: None,
        };
        let template = serde_json::json!({"Resources": {"EchoFunction": {
            "Type": template::FUNCTION_TYPE,
            "Properties": {"Code": {"S3Key": format!("{sha256}.zip")}}}}})
        .to_string();
        (manifest, stack, template)
    }

    fn writer<'a>(
        assets_dir: &'a Path,
        manifest: &'a AssetManifest,
        stack: &'a StackInfo,
        template: &'a str,
    ) -> NewAssembly<'a> {
        NewAssembly {
            template_json: template,
            template_yaml: None,
            manifest,
            assets_dir,
            stack,
        }
    }

    #[test]
    fn a_written_assembly_reads_back_and_keeps_the_last_outputs() {
        let assets = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("dev");
        let (manifest, stack, template) = sample(assets.path());
        let new = NewAssembly {
            template_yaml: Some("Resources: {}\n"),
            ..writer(assets.path(), &manifest, &stack, &template)
        };
        new.write(&dir).unwrap();
        fs::write(dir.join(OUTPUTS_FILE), "{}").unwrap();
        new.write(&dir).unwrap();
        let read = Assembly::read(&dir).unwrap();
        assert_eq!(read.template_text, template);
        assert_eq!(read.manifest, manifest);
        assert_eq!(read.stack, stack);
        assert!(dir.join(OUTPUTS_FILE).is_file());
        assert!(dir.join(TEMPLATE_YAML_FILE).is_file());
        // Nothing but the assembly is left in the parent: no staging or old folders.
        let names: Vec<_> = fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["dev"]);
    }

    #[test]
    fn a_missing_zip_or_an_unlisted_key_names_the_function_and_the_fix() {
        let assets = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("dev");
        let (manifest, stack, template) = sample(assets.path());
        writer(assets.path(), &manifest, &stack, &template)
            .write(&dir)
            .unwrap();
        fs::remove_file(dir.join(&manifest.functions[0].zip)).unwrap();
        let err = Assembly::read(&dir).unwrap_err().to_string();
        assert!(
            err.contains("EchoFunction") && err.contains("is missing"),
            "{err}"
        );
        assert!(err.contains("cargo xtask synth"), "{err}");

        let other = template.replace(&manifest.functions[0].sha256, "0000");
        fs::write(dir.join(TEMPLATE_FILE), other).unwrap();
        let err = Assembly::read(&dir).unwrap_err().to_string();
        assert!(
            err.contains("`0000.zip`") && err.contains("doesn't list"),
            "{err}"
        );
    }

    #[test]
    fn a_failed_write_leaves_the_previous_assembly_whole() {
        let assets = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("dev");
        let (manifest, stack, template) = sample(assets.path());
        let new = writer(assets.path(), &manifest, &stack, &template);
        new.write(&dir).unwrap();
        let empty = tempfile::tempdir().unwrap();
        let broken = NewAssembly {
            assets_dir: empty.path(),
            ..new
        };
        let err = broken.write(&dir).unwrap_err().to_string();
        assert!(err.contains("cargo xtask build"), "{err}");
        assert_eq!(Assembly::read(&dir).unwrap().template_text, template);
    }
}
