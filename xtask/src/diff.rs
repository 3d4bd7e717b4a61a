//! `cargo xtask diff` (interim while the review crate is written).

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::deploy_args::DiffArgs;
use crate::synth::AssemblyArgs;

#[derive(Debug, Clone, Args)]
pub struct ReviewArgs {
    /// Compare every app's and stage's template with this git revision's.
    #[arg(long, value_name = "GIT_REF", conflicts_with_all = ["template", "assembly"])]
    pub base: Option<String>,
}

pub fn run(target: &AssemblyArgs, args: &DiffArgs, review: &ReviewArgs) -> Result<ExitCode> {
    if review.base.is_some() {
        anyhow::bail!("--base is being written: the review crate lands it");
    }
    let _ = (
        crate::reviewed::working_tree,
        crate::reviewed::at_revision,
        crate::reviewed::resolve,
    );
    let report = deploy::diff(&target.assembly()?, &args.options())?;
    print!("{}", report.text);
    Ok(ExitCode::SUCCESS)
}
