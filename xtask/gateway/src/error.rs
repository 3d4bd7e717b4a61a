//! What can keep the gateway from starting or reloading. Each message says what happened and
//! where (file, logical ID), and what to run; the cause, when there is one, is its `source`.

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use assembly::Architecture;
use assembly::bundle::BundleError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}; run `cargo xtask synth` to write the assembly")]
    ReadTemplate {
        path: PathBuf,
        #[source]
        error: io::Error,
    },

    #[error("{path} is not valid JSON")]
    ParseTemplate {
        path: PathBuf,
        #[source]
        error: serde_json::Error,
    },

    #[error("cannot run {path} locally")]
    Unsupported {
        path: PathBuf,
        #[source]
        problem: Unsupported,
    },

    /// The asset manifest is missing or broken.
    #[error(transparent)]
    Assembly(#[from] assembly::Error),

    #[error("{logical_id}: Code.S3Key {key} is not in {manifest}; run `cargo xtask synth` again")]
    UnlistedCode {
        logical_id: String,
        key: String,
        manifest: PathBuf,
    },

    #[error(
        "{logical_id}: the assembly's `{package}` zip is built for {built}, this machine runs {host}; synthesize with `--arch {host}` for local runs"
    )]
    WrongArchitecture {
        logical_id: String,
        package: String,
        built: Architecture,
        host: Architecture,
    },

    #[error("{logical_id}: cannot open {zip}")]
    OpenZip {
        logical_id: String,
        zip: PathBuf,
        #[source]
        error: io::Error,
    },

    #[error(
        "{logical_id}: {zip} is not the zip the assembly's manifest names (its sha256 is {found}, the manifest says {expected}); run `cargo xtask synth` again"
    )]
    ZipDigest {
        logical_id: String,
        zip: PathBuf,
        expected: String,
        found: String,
    },

    #[error(
        "{logical_id}: the manifest's entry for `{package}` is not one a build writes ({problem}); run `cargo xtask synth` again"
    )]
    ManifestEntry {
        logical_id: String,
        package: String,
        problem: String,
    },

    #[error("{logical_id}: cannot unpack {zip}")]
    Unzip {
        logical_id: String,
        zip: PathBuf,
        #[source]
        error: BundleError,
    },

    /// Unpacking binaries, pruning old ones.
    #[error("cannot {action} {path}")]
    File {
        action: &'static str,
        path: PathBuf,
        #[source]
        error: io::Error,
    },

    #[error("cannot listen on {host}:{port}")]
    Listen {
        host: IpAddr,
        port: u16,
        #[source]
        error: io::Error,
    },

    #[error("cannot wait for Ctrl-C, SIGTERM or SIGHUP")]
    CtrlC(#[source] io::Error),

    #[error("cannot reload {assembly}; the previous version keeps serving")]
    Reload {
        assembly: PathBuf,
        #[source]
        error: Box<Error>,
    },

    #[error(
        "{logical_id} ({resource_type}): the local gateway provides tables and secrets with a moto server, and it was given none (DevOptions::local_services; `cargo xtask dev` passes the pinned moto_server)"
    )]
    NoLocalServices {
        logical_id: String,
        resource_type: &'static str,
    },

    #[error("cannot start the local AWS services ({path}, log {log})")]
    StartLocalServices {
        path: PathBuf,
        log: PathBuf,
        #[source]
        error: io::Error,
    },

    #[error("{path} does not answer on {endpoint}: {why}; its log: {log}")]
    LocalServicesSilent {
        path: PathBuf,
        endpoint: String,
        log: PathBuf,
        why: String,
    },

    #[error(
        "{logical_id}: cannot create the {resource_type} in the local services at {endpoint} (moto's log: {log}): {problem}"
    )]
    LocalService {
        logical_id: String,
        resource_type: &'static str,
        endpoint: String,
        log: PathBuf,
        problem: String,
    },

    #[error(
        "the template's stage is now `{new}` (it was `{old}`): the stage is in the clients' URLs and the functions' management endpoint, so the gateway keeps serving `{old}`; restart `cargo xtask dev` to serve the new one"
    )]
    StageChanged { old: String, new: String },

    #[error(
        "the template's WebSocket API is another resource now (a new logical ID): the gateway keeps serving the old one; restart `cargo xtask dev` to serve it"
    )]
    ApiChanged,
}

/// What in a template the local gateway cannot run, naming the resource (`EchoIntegration:
/// IntegrationType HTTP_PROXY is not supported locally (only AWS_PROXY)`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub(crate) String);

impl Error {
    pub(crate) fn file(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |error| Error::File {
            action,
            path,
            error,
        }
    }
}
