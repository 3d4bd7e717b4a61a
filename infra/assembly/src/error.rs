//! What can go wrong reading or writing an assembly; each message says which file and what
//! to run.

use std::path::PathBuf;

use crate::MANIFEST_VERSION;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {error}; {hint}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
        hint: &'static str,
    },

    #[error("{path} is not valid: {error}; {hint}")]
    Parse {
        path: PathBuf,
        error: serde_json::Error,
        hint: &'static str,
    },

    #[error("cannot write {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error(
        "the asset manifest {path} has version {found}, this wsecho reads version {MANIFEST_VERSION}; run `cargo xtask build` to rewrite it"
    )]
    ManifestVersion { path: PathBuf, found: u32 },

    #[error(
        "{template}: function {logical_id} has code `{key}`, which assets.json doesn't list: run `cargo xtask synth` to write it"
    )]
    UnlistedCode {
        template: PathBuf,
        logical_id: String,
        key: String,
    },

    #[error(
        "{dir}: the code of function {logical_id} ({zip}) is missing: run `cargo xtask synth` to write it"
    )]
    MissingCode {
        dir: PathBuf,
        logical_id: String,
        zip: PathBuf,
    },

    #[error("cannot copy {from} into the assembly as {to}: {error}; run `cargo xtask build`")]
    CopyAsset {
        from: PathBuf,
        to: PathBuf,
        error: std::io::Error,
    },

    #[error("{path} has no parent folder to write the assembly beside")]
    NoParent { path: PathBuf },
}

/// What to run when an assembly file is missing or broken.
pub(crate) const SYNTH_HINT: &str = "run `cargo xtask synth` to write it";
/// What to run when the asset manifest is missing or broken.
pub(crate) const BUILD_HINT: &str = "run `cargo xtask build` first";
