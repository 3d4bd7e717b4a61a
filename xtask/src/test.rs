//! `cargo xtask test`: provisions the pinned tools, builds the functions for this machine,
//! then runs every test of the workspace with the tools and the build handed over in env vars.

use anyhow::{Context, Result};
use clap::Args;
use infra::assets::Architecture;

use crate::build::{self, BuildOptions};
use crate::process::Cmd;
use crate::tools;
use crate::workspace;

#[derive(Debug, Clone, Args)]
pub struct TestOptions {
    /// Passed to `cargo test` after `--` (a test name filter, `--nocapture`, ...).
    #[arg(last = true)]
    pub cargo_test_args: Vec<String>,
}

pub fn run(opts: &TestOptions) -> Result<()> {
    let cfn_lint = tools::CFN_LINT.ensure()?;
    let checkov = tools::CHECKOV.ensure()?;
    let wscat = tools::WSCAT.ensure()?;

    // The functions run here, so build them for this machine.
    let arch = Architecture::host().context("tests build the functions for this machine, and Lambda has no build for its architecture")?;
    let built = build::build(&BuildOptions {
        arch,
        packages: Vec::new(),
        out: None,
    })?;

    eprintln!("[test] cargo test --workspace");
    Cmd::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["test", "--workspace", "--no-fail-fast"])
        .arg("--")
        .args(&opts.cargo_test_args)
        .env("WSECHO_CFN_LINT", &cfn_lint)
        .env("WSECHO_CHECKOV", &checkov)
        .env("WSECHO_WSCAT", &wscat)
        .env("WSECHO_ASSETS", &built.manifest_path)
        .current_dir(workspace::root())
        .run()
        .context("some tests failed (see above); rerun one with `cargo xtask test -- NAME`")
}
