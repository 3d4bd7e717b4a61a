//! infra's integration tests, one binary (one link instead of six).
//!
//! - `echo`: the echo app's templates (snapshots in `snapshots/`, and what a snapshot would
//!   hide: scoped permissions, deployment order, references); `apps`: what holds for every
//!   app and stage (route tables, stack names, the actions handed to the functions);
//! - `synth_errors`, `compile_fail`: wrong infrastructure is refused, at synth or at compile
//!   time; `config`: stage files; `lint`: cfn-lint and checkov on every template.

mod apps;
mod common;
mod compile_fail;
mod config;
mod echo;
mod lint;
mod synth_errors;
mod toolkit;
