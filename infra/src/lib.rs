//! wsecho's infrastructure as typed Rust: a CloudFormation model, CDK-style constructs,
//! the wsEcho stack, and the asset manifest shared with the build, `deploy` and `dev`.
//!
//! - `intrinsics`: typed `Ref`/`GetAtt`/`Sub`/`Join` and pseudo parameters.
//! - `resources`: one struct per CloudFormation resource type.
//! - `construct`: the stack under construction (paths, logical IDs, synth).
//! - `constructs`: function, WebSocket API, stage, account role.
//! - `stack`: the wsEcho stack and the toolkit stack; `config`: stage files.

pub mod config;
pub mod construct;
pub mod constructs;
pub mod error;
pub mod intrinsics;
pub mod resources;
pub mod stack;
pub mod template;
pub mod validate;

pub use construct::{Stack, Synthesized};
pub use error::{SynthError, Warning};
pub use template::Template;
