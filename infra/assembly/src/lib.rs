//! The assembly: the contract between synthesis and what consumes it.
//!
//! `cargo xtask synth` writes an assembly folder; `deploy` and the local gateway read it, and
//! never the Rust model, so what runs locally is what CloudFormation gets. The folder holds
//!
//! - `template.json`: the CloudFormation template ([`TEMPLATE_FILE`]);
//! - `assets.json`: the asset manifest ([`AssetManifest`]), with the zips it names beside it;
//! - `stack.json`: where the stack goes ([`StackInfo`]);
//! - `outputs.json`: the stack's outputs, after a deploy.
//!
//! Beside it, while `cargo xtask dev` runs it: the local AWS services it provides
//! ([`LocalServices`]).
//!
//! This crate holds those names and types, the keys synthesis and its readers share
//! ([`template`]), the one reader of intrinsic references ([`intrinsics`]), content addresses
//! ([`sha256_hex`]), the zips that carry function code ([`bundle`]) and writes that never leave half a file ([`write_atomically`]).

pub mod bundle;
mod digest;
mod error;
mod files;
mod folder;
pub mod intrinsics;
mod local_services;
mod manifest;
mod stack_info;
pub mod template;

pub use digest::{hex, sha256, sha256_hex};
pub use error::Error;
pub use files::{
    MANIFEST_FILE, OUTPUTS_FILE, STACK_FILE, TEMPLATE_FILE, TEMPLATE_YAML_FILE, write_atomically,
};
pub use folder::{Assembly, NewAssembly};
pub use local_services::LocalServices;
pub use manifest::{
    Architecture, AssetManifest, FunctionAsset, MANIFEST_VERSION, UnknownArchitecture, human_size,
};
pub use stack_info::StackInfo;
