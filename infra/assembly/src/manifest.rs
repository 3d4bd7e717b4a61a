//! The asset manifest: what `cargo xtask build` produced, read by synth, `deploy` and `dev`.
//!
//! Written as `assets.json` next to the zips it names. Zip paths are relative to the
//! manifest's folder, so an assembly can be moved or copied whole.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::error::BUILD_HINT;

/// Bumped when the manifest's shape changes incompatibly.
pub const MANIFEST_VERSION: u32 = 1;

/// A Lambda instruction set architecture, spelled as CloudFormation spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Architecture {
    #[serde(rename = "arm64")]
    Arm64,
    #[serde(rename = "x86_64")]
    X86_64,
}

impl Architecture {
    /// The name CloudFormation's `Architectures` property and the manifest use.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }

    /// The architecture of the machine running this code, when Lambda has it: an assembly
    /// built for it can run here.
    pub fn host() -> Option<Architecture> {
        match std::env::consts::ARCH {
            "aarch64" => Some(Architecture::Arm64),
            "x86_64" => Some(Architecture::X86_64),
            _ => None,
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown architecture `{0}`: Lambda runs `arm64` or `x86_64`")]
pub struct UnknownArchitecture(String);

impl FromStr for Architecture {
    type Err = UnknownArchitecture;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "arm64" | "aarch64" => Ok(Architecture::Arm64),
            "x86_64" | "amd64" => Ok(Architecture::X86_64),
            other => Err(UnknownArchitecture(other.to_owned())),
        }
    }
}

/// Every function the build produced, for one architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetManifest {
    pub version: u32,
    pub architecture: Architecture,
    /// Sorted by package name.
    pub functions: Vec<FunctionAsset>,
}

/// One function's deployable zip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionAsset {
    /// Cargo package name of the function crate (`echo`).
    pub package: String,
    pub architecture: Architecture,
    /// The zip, relative to the manifest's folder: `<sha256>.zip`.
    pub zip: PathBuf,
    /// Lower-case hex sha256 of the zip; also its S3 key (without `.zip`).
    pub sha256: String,
    /// Size of the zip in bytes.
    pub size: u64,
    /// Size of the uncompressed `bootstrap` binary in bytes.
    pub binary_size: u64,
}

impl FunctionAsset {
    /// The content-addressed S3 key the template and the deploy use.
    pub fn s3_key(&self) -> String {
        format!("{}.zip", self.sha256)
    }
}

/// An asset's size as build, deploy and gc print it: `1.87 MiB`, `412.3 KiB`.
pub fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.2} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

impl AssetManifest {
    /// Reads and checks a manifest file.
    pub fn read(path: &Path) -> Result<AssetManifest, Error> {
        let text = std::fs::read_to_string(path).map_err(|error| Error::Read {
            path: path.to_owned(),
            error,
            hint: BUILD_HINT,
        })?;
        let manifest: AssetManifest =
            serde_json::from_str(&text).map_err(|error| Error::Parse {
                path: path.to_owned(),
                error,
                hint: "run `cargo xtask build` to rewrite it",
            })?;
        if manifest.version != MANIFEST_VERSION {
            return Err(Error::ManifestVersion {
                path: path.to_owned(),
                found: manifest.version,
            });
        }
        Ok(manifest)
    }

    /// Pretty JSON with a trailing newline: stable bytes for stable input.
    pub fn to_json(&self) -> String {
        // Strings, numbers and lists only: serializing cannot fail.
        let mut text = serde_json::to_string_pretty(self).expect("a manifest serializes");
        text.push('\n');
        text
    }

    /// The manifest of `packages` only (an app's assembly holds its own functions, not every
    /// function the workspace built).
    pub fn only(&self, packages: &[&str]) -> AssetManifest {
        AssetManifest {
            version: self.version,
            architecture: self.architecture,
            functions: self
                .functions
                .iter()
                .filter(|f| packages.contains(&f.package.as_str()))
                .cloned()
                .collect(),
        }
    }

    pub fn function(&self, package: &str) -> Option<&FunctionAsset> {
        self.functions.iter().find(|f| f.package == package)
    }

    /// Looks a function up by the S3 key a template gives its code.
    pub fn by_s3_key(&self, key: &str) -> Option<&FunctionAsset> {
        self.functions.iter().find(|f| f.s3_key() == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AssetManifest {
        AssetManifest {
            version: MANIFEST_VERSION,
            architecture: Architecture::Arm64,
            functions: vec![FunctionAsset {
                package: "echo".into(),
                architecture: Architecture::Arm64,
                zip: "ab12.zip".into(),
                sha256: "ab12".into(),
                size: 10,
                binary_size: 20,
            }],
        }
    }

    #[test]
    fn manifest_round_trips_and_finds_by_key() {
        let m = sample();
        let json = m.to_json();
        assert!(json.ends_with("}\n"));
        assert!(json.contains("\"architecture\": \"arm64\""));
        let back: AssetManifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.by_s3_key("ab12.zip").unwrap().package, "echo");
        assert!(back.by_s3_key("ab12").is_none());
    }

    #[test]
    fn only_keeps_the_packages_named() {
        let m = sample();
        assert_eq!(m.only(&["echo"]), m);
        let none = m.only(&["chat-send"]);
        assert!(none.functions.is_empty());
        assert_eq!(none.architecture, m.architecture);
    }

    #[test]
    fn unknown_fields_and_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assets.json");
        let mut m = sample();
        m.version = 99;
        std::fs::write(&path, m.to_json()).unwrap();
        let err = AssetManifest::read(&path).unwrap_err().to_string();
        assert!(err.contains("version 99"), "{err}");
        assert!(err.contains("cargo xtask build"), "{err}");
        std::fs::write(
            &path,
            r#"{"version":1,"architecture":"arm64","functions":[],"extra":1}"#,
        )
        .unwrap();
        let err = AssetManifest::read(&path).unwrap_err().to_string();
        assert!(err.contains("extra"), "{err}");
        let err = AssetManifest::read(&dir.path().join("missing.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("run `cargo xtask build` first"), "{err}");
    }

    #[test]
    fn sizes_read_as_kib_below_a_mib() {
        assert_eq!(human_size(422_195), "412.3 KiB");
        assert_eq!(human_size(1_960_000), "1.87 MiB");
    }

    #[test]
    fn architectures_parse_both_spellings() {
        assert_eq!(
            "aarch64".parse::<Architecture>().unwrap(),
            Architecture::Arm64
        );
        assert_eq!(
            "x86_64".parse::<Architecture>().unwrap(),
            Architecture::X86_64
        );
        let err = "riscv".parse::<Architecture>().unwrap_err().to_string();
        assert!(err.contains("arm64"), "{err}");
    }
}
