//! wsecho's infrastructure as typed Rust: a CloudFormation model, CDK-style constructs, and
//! the apps they build, each an API described by one route table.
//!
//! - `intrinsics`, `resources`, `template`: typed CloudFormation (`Ref`/`GetAtt`/`Sub`, one
//!   struct per resource type, the synthesized template).
//! - `path`, `stack`: construct paths (and the logical IDs they give) and the stack under
//!   construction, which validates itself at synth (`validate`).
//! - `constructs`: function, WebSocket API (routes), stage, account role.
//! - `app`: what an app is (a route table) and how it becomes a stack; `apps`: the apps;
//!   `toolkit`: the toolkit stack; `config`: stage files; `snapshot`: the reviewed form of a
//!   template (what `snapshots/` holds and `diff --base` compares).
//!
//! What synthesis writes for `deploy` and `dev` goes through the `assembly` crate.

pub mod app;
pub mod apps;
pub mod config;
pub mod constructs;
pub mod error;
pub mod intrinsics;
pub mod path;
pub mod resources;
pub mod snapshot;
pub mod stack;
pub mod template;
pub mod toolkit;
mod validate;

pub use error::{SynthError, Warning};
pub use stack::{Stack, Synthesized};
pub use template::Template;
