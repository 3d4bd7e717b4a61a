//! Assemblies for tests to deploy and edit: copies of the one `cargo xtask test` synthesizes
//! ([`Need::Assembly`]), never that one itself, since deploying writes `outputs.json` into it.

use std::fs;
use std::io::Cursor;
use std::path::Path;

use assembly::template::{FUNCTION_TYPE, package, resources_of_type};
use assembly::{Assembly, AssetManifest, MANIFEST_FILE, TEMPLATE_FILE, bundle};
use base64::Engine as _;
use serde_json::Value;

use crate::Need;

/// A deployable copy of the test assembly in `dir`.
pub fn write_assembly(dir: &Path) -> Assembly {
    let from = Need::Assembly.path();
    copy_dir(&from, dir);
    Assembly::read(dir).unwrap_or_else(|e| panic!("{} is not an assembly: {e}", from.display()))
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    let entries = fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    for entry in entries {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// The packages of the functions the template deploys, sorted.
pub fn function_packages(assembly: &Assembly) -> Vec<String> {
    let mut packages: Vec<String> = resources_of_type(&assembly.template, FUNCTION_TYPE)
        .map(|(id, resource)| {
            package(resource)
                .unwrap_or_else(|| panic!("function {id} names no package"))
                .to_owned()
        })
        .collect();
    packages.sort();
    packages
}

/// The logical ID of the function that runs `package`.
pub fn function_logical_id(assembly: &Assembly, package_name: &str) -> String {
    resources_of_type(&assembly.template, FUNCTION_TYPE)
        .find(|(_, resource)| package(resource) == Some(package_name))
        .map(|(id, _)| id.to_owned())
        .unwrap_or_else(|| panic!("no function for package {package_name}"))
}

/// Lambda's `CodeSha256`: base64 of the zip's sha256.
pub fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(assembly::sha256(zip))
}

/// Gives one function new code (its binary plus one byte, re-zipped), as a rebuild after a
/// code change would: a new zip, `assets.json` and the template's `S3Key` updated. Returns
/// the new key.
pub fn change_function_code(dir: &Path, package: &str) -> String {
    let manifest_path = dir.join(MANIFEST_FILE);
    let mut manifest = AssetManifest::read(&manifest_path).unwrap();
    let asset = manifest
        .functions
        .iter_mut()
        .find(|f| f.package == package)
        .unwrap_or_else(|| panic!("no function {package} in the assembly"));
    let old_key = asset.s3_key();
    let old_zip = fs::read(dir.join(&asset.zip)).unwrap();
    let mut binary = bundle::read_bootstrap(Cursor::new(old_zip)).unwrap();
    binary.push(b'\n');
    let zip = bundle::zip_bootstrap(&binary).unwrap();
    let sha256 = assembly::sha256_hex(&zip);
    let new_key = format!("{sha256}.zip");
    fs::write(dir.join(&new_key), &zip).unwrap();
    asset.zip = new_key.clone().into();
    asset.sha256 = sha256;
    asset.size = zip.len() as u64;
    asset.binary_size = binary.len() as u64;
    fs::write(&manifest_path, manifest.to_json()).unwrap();
    let template_path = dir.join(TEMPLATE_FILE);
    let template = fs::read_to_string(&template_path).unwrap();
    assert_eq!(
        template.matches(&old_key).count(),
        1,
        "{old_key} names one function"
    );
    fs::write(&template_path, template.replace(&old_key, &new_key)).unwrap();
    new_key
}

/// Edits the assembly's template as JSON (keeping it a valid assembly).
pub fn edit_template(dir: &Path, edit: impl FnOnce(&mut Value)) {
    let path = dir.join(TEMPLATE_FILE);
    let mut template: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut template);
    fs::write(&path, serde_json::to_string_pretty(&template).unwrap()).unwrap();
}
