//! The reviewed form of a template: what `snapshots/` holds for every app and stage (insta
//! files, checked by infra's tests) and what `cargo xtask diff --base` compares. Function zips
//! are stand-ins and their hashes redacted, so a snapshot changes with the infrastructure, not
//! with every edit of a function's code.

use assembly::{Architecture, AssetManifest, FunctionAsset, MANIFEST_VERSION};

use crate::app::App;
use crate::config::StageConfig;
use crate::error::SynthError;

/// The folder of the reviewed snapshots, relative to the workspace root.
pub const FOLDER: &str = "snapshots";

/// What a redacted zip hash reads as.
pub const REDACTED_HASH: &str = "[sha256]";

/// The snapshot file of an app's stage inside [`FOLDER`].
pub fn file_name(app: &str, stage: &str) -> String {
    format!("{app}-{stage}.template.json.snap")
}

/// The app's template for `config` as its snapshot holds it (pretty JSON, hashes redacted).
pub fn reviewed_template(app: &App, config: &StageConfig) -> Result<String, SynthError> {
    let assets = stand_in_assets(&app.packages());
    let json = app.synth(config, &assets)?.template.to_json();
    Ok(redact(&json, &assets))
}

/// The template inside a snapshot file (after insta's `---` header), if it has one.
pub fn template_of(snapshot: &str) -> Option<&str> {
    let rest = snapshot.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(&rest[end + "\n---\n".len()..])
}

/// A manifest with one stand-in zip per package (no file behind it), each with a distinct hash
/// that nothing else in a template spells.
pub fn stand_in_assets(packages: &[&str]) -> AssetManifest {
    let functions = packages
        .iter()
        .enumerate()
        .map(|(i, package)| {
            let sha256 = format!("5eed{i:060x}");
            FunctionAsset {
                package: (*package).to_owned(),
                architecture: Architecture::Arm64,
                zip: format!("{sha256}.zip").into(),
                sha256,
                size: 1,
                binary_size: 1,
            }
        })
        .collect();
    AssetManifest {
        version: MANIFEST_VERSION,
        architecture: Architecture::Arm64,
        functions,
    }
}

fn redact(json: &str, assets: &AssetManifest) -> String {
    assets.functions.iter().fold(json.to_owned(), |text, f| {
        text.replace(&f.sha256, REDACTED_HASH)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_read_back_from_an_insta_file() {
        let file =
            "---\nsource: infra/tests/infra/apps.rs\nexpression: json\n---\n{\n  \"a\": 1\n}\n";
        assert_eq!(template_of(file), Some("{\n  \"a\": 1\n}\n"));
        assert_eq!(template_of("{}"), None);
        assert_eq!(template_of("---\nno end"), None);
    }

    #[test]
    fn no_stand_in_hash_survives_redaction() {
        let app = crate::apps::find("chat").unwrap();
        let config = StageConfig::load(&crate::config::stage_file("chat", "dev")).unwrap();
        let text = reviewed_template(app, &config).unwrap();
        assert!(!text.contains("5eed"), "{text}");
        assert!(text.contains(&format!("\"{REDACTED_HASH}.zip\"")));
    }
}
