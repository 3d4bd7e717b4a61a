//! Shared by the tests: sample asset manifests, stage configs, template redaction.

use std::path::{Path, PathBuf};
use std::process::Command;

use assembly::{Architecture, AssetManifest, FunctionAsset, MANIFEST_VERSION, sha256_hex};
use infra::app::App;
use infra::config::{StageConfig, stage_file};
use infra::intrinsics::Handle;
use infra::template::{Param, Parameter, ParameterType};
use infra::{Stack, Synthesized};

/// The app most tests look at.
pub fn echo() -> &'static App {
    infra::apps::find("echo").expect("the echo app")
}

/// The bytes standing in for a package's zip: the manifest's hashes are their real sha256.
pub fn fake_zip(package: &str) -> Vec<u8> {
    format!("PK fake zip of {package}").into_bytes()
}

pub fn manifest_with(packages: &[&str]) -> AssetManifest {
    let functions = packages
        .iter()
        .map(|package| {
            let zip = fake_zip(package);
            let sha256 = sha256_hex(&zip);
            FunctionAsset {
                package: (*package).to_owned(),
                architecture: Architecture::Arm64,
                zip: format!("{sha256}.zip").into(),
                sha256,
                size: zip.len() as u64,
                binary_size: 1000,
            }
        })
        .collect();
    AssetManifest {
        version: MANIFEST_VERSION,
        architecture: Architecture::Arm64,
        functions,
    }
}

/// Stand-in assets for every function crate of every app.
pub fn manifest() -> AssetManifest {
    let mut packages: Vec<&str> = infra::apps::ALL
        .iter()
        .flat_map(|app| app.packages())
        .collect();
    packages.sort_unstable();
    packages.dedup();
    manifest_with(&packages)
}

/// A stage of the echo app.
pub fn stage(name: &str) -> StageConfig {
    app_stage(echo(), name)
}

pub fn app_stage(app: &App, name: &str) -> StageConfig {
    StageConfig::load(&stage_file(app.name, name)).unwrap_or_else(|e| panic!("{e}"))
}

/// One stage file of one app, synthesized.
pub struct Shipped {
    pub app: &'static App,
    pub stage: String,
    pub config: StageConfig,
    pub synthesized: Synthesized,
}

impl Shipped {
    pub fn template(&self) -> serde_json::Value {
        serde_json::from_str(&self.synthesized.template.to_json()).unwrap()
    }
}

/// Every stage file of every app, synthesized; an app without stage files fails the test.
pub fn every_stage() -> Vec<Shipped> {
    let mut out = Vec::new();
    for app in infra::apps::ALL {
        let files = infra::config::stage_files(app.name)
            .unwrap_or_else(|e| panic!("app {}: no infra/stages/{}/: {e}", app.name, app.name));
        assert!(!files.is_empty(), "app {} has no stage files", app.name);
        for file in files {
            let stage = file.file_stem().unwrap().to_string_lossy().into_owned();
            let config = app_stage(app, &stage);
            let synthesized = app
                .synth(&config, &manifest())
                .unwrap_or_else(|e| panic!("{} {stage}: {e}", app.name));
            out.push(Shipped {
                app,
                stage,
                config,
                synthesized,
            });
        }
    }
    out
}

/// The echo app synthesized for `config`.
pub fn synth(config: &StageConfig) -> Synthesized {
    echo()
        .synth(config, &manifest())
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn synth_json(config: &StageConfig) -> String {
    synth(config).template.to_json()
}

/// The template with the manifest's asset hashes (and only them) replaced by `[sha256]`.
pub fn redact_hashes(json: &str, manifest: &AssetManifest) -> String {
    manifest.functions.iter().fold(json.to_owned(), |text, f| {
        text.replace(&f.sha256, "[sha256]")
    })
}

/// A fresh folder for this test's templates.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wsecho-infra-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn run(command: &mut Command) -> (bool, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The `AssetsBucket` parameter, for stacks a test builds from the constructs directly.
pub fn assets_bucket(stack: &mut Stack) -> Handle<Param> {
    stack
        .add_parameter(
            &stack
                .root()
                .child(assembly::template::ASSETS_BUCKET_PARAMETER),
            Parameter {
                type_name: ParameterType::String,
                description: "assets".into(),
                allowed_pattern: None,
                constraint_description: None,
                default: None,
            },
        )
        .unwrap()
}
