//! `cargo xtask test`: provisions the pinned tools, builds the functions and synthesizes the
//! dev stage for this machine, then runs every test of the workspace with the tools and the
//! assembly handed over in env vars.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use infra::assets::Architecture;

use crate::build;
use crate::process::Cmd;
use crate::synth::{self, Format, SynthOptions};
use crate::tools;
use crate::workspace;

#[derive(Debug, Clone, Args)]
pub struct TestOptions {
    /// Passed to `cargo test` after `--` (a test name filter, `--nocapture`, ...).
    #[arg(last = true)]
    pub cargo_test_args: Vec<String>,
}

pub fn run(opts: &TestOptions) -> Result<()> {
    let tools = [
        ("WSECHO_CFN_LINT", tools::CFN_LINT),
        ("WSECHO_CHECKOV", tools::CHECKOV),
        ("WSECHO_WSCAT", tools::WSCAT),
        ("WSECHO_AWS", tools::AWS_CLI),
        ("WSECHO_MOTO_SERVER", tools::MOTO),
    ]
    .into_iter()
    .map(|(var, tool)| Ok((var, tool.ensure()?)))
    .collect::<Result<Vec<(&str, PathBuf)>>>()?;

    // The functions run here (local gateway, deploy round trip), so build them for this
    // machine; the synth builds them when their zips are missing or stale.
    let arch = Architecture::host().context(
        "tests build the functions for this machine, and Lambda has no build for its architecture",
    )?;
    let target_dir: PathBuf = workspace::metadata()?.target_directory.into();
    let assembly = synth::synth(&SynthOptions {
        stage: "dev".into(),
        format: Format::Json,
        out: Some(target_dir.join("assembly").join("test")),
        arch: Some(arch),
    })?;
    let assets = build::default_out(&target_dir, arch).join(infra::assets::MANIFEST_FILE);

    eprintln!("[test] cargo test --workspace");
    let mut cargo = Cmd::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["test", "--workspace", "--no-fail-fast"])
        .arg("--")
        .args(&opts.cargo_test_args)
        .env("WSECHO_ASSETS", &assets)
        .env("WSECHO_ASSEMBLY", &assembly)
        .current_dir(workspace::root());
    for (var, path) in &tools {
        cargo = cargo.env(var, path);
    }
    cargo
        .run()
        .context("some tests failed (see above); rerun one with `cargo xtask test -- NAME`")
}
