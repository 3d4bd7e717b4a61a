//! `cargo xtask test`: provisions the pinned tools, builds the functions and synthesizes the
//! echo app's dev stage (and every app's) for this machine, then runs every test of the workspace with the
//! tools and the assembly handed over in environment variables (`testenv`). Tests that need
//! them are ignored by plain `cargo test`; here every test runs (`--include-ignored`), so
//! nothing is skipped.

use std::path::PathBuf;

use anyhow::{Context, Result};
use assembly::Architecture;
use clap::Args;
use testenv::Need;

use crate::build::BuildProfile;
use crate::process::Cmd;
use crate::synth::{self, AppStage, Format, SynthOptions};
use crate::tools;
use crate::workspace;

#[derive(Debug, Clone, Args)]
pub struct TestOptions {
    /// Passed to `cargo test` after `--` (a test name filter, `--nocapture`, ...).
    #[arg(last = true)]
    pub cargo_test_args: Vec<String>,
}

pub fn run(opts: &TestOptions) -> Result<()> {
    let mut provided = Vec::new();
    for need in Need::ALL {
        let tool = match need {
            Need::CfnLint => tools::CFN_LINT,
            Need::Checkov => tools::CHECKOV,
            Need::Wscat => tools::WSCAT,
            Need::AwsCli => tools::AWS_CLI,
            Need::MotoServer => tools::MOTO,
            // Synthesized below, once the tools are in.
            Need::Assembly | Need::Apps => continue,
        };
        provided.push((need, tool.ensure()?));
    }

    // The functions run here (local gateway, deploy round trip), so build them for this
    // machine; the synth builds them when their zips are missing or stale.
    let arch = Architecture::host().context(
        "tests build the functions for this machine, and Lambda has no build for its architecture",
    )?;
    let target_dir: PathBuf = workspace::metadata()?.target_directory.into();
    let assembly = synth::synth(&SynthOptions {
        target: AppStage::default(),
        format: Format::Json,
        out: Some(target_dir.join("assembly").join("test")),
        arch: Some(arch),
        profile: BuildProfile::Release,
    })?;
    provided.push((Need::Assembly, assembly));
    // Every app's dev stage too, for the tests that run each app end to end; each synth
    // builds the functions of its app that no earlier one built.
    let apps = target_dir.join("assembly").join("test-apps");
    for app in infra::apps::ALL {
        synth::synth(&SynthOptions {
            target: AppStage {
                app: app.name.to_owned(),
                stage: "dev".to_owned(),
            },
            format: Format::Json,
            out: Some(apps.join(app.name)),
            arch: Some(arch),
            profile: BuildProfile::Release,
        })?;
    }
    provided.push((Need::Apps, apps));

    eprintln!("[test] cargo test --workspace -- --include-ignored");
    let mut cargo = Cmd::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(["--", "--include-ignored"])
        .args(&opts.cargo_test_args)
        .current_dir(workspace::root());
    for (need, path) in &provided {
        cargo = cargo.env(need.var(), path);
    }
    let mut totals = Totals::default();
    let ran = cargo.run_lines(|line| {
        println!("{line}");
        totals.add(line);
    });
    // One closing line for the whole run: cargo's own last lines are per test binary.
    println!(
        "tests: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    ran.context("some tests failed (see above); rerun one with `cargo xtask test -- NAME`")?;
    if totals.passed == 0 {
        anyhow::bail!("cargo test ran no test: is the filter after `--` right?");
    }
    if totals.ignored > 0 {
        anyhow::bail!(
            "{} test(s) were skipped although `cargo xtask test` runs every test: see the \
             `ignored` lines above",
            totals.ignored
        );
    }
    Ok(())
}

/// Sums cargo test's `test result:` lines.
#[derive(Debug, Default, PartialEq, Eq)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    fn add(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else {
                continue;
            };
            match label {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                "ignored" => self.ignored += count,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up_cargo_result_lines_and_nothing_else() {
        let mut t = Totals::default();
        t.add("test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.02s");
        t.add("test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s");
        t.add("test something ... ok");
        t.add("running 5 tests");
        assert_eq!(
            t,
            Totals {
                passed: 15,
                failed: 2,
                ignored: 1
            }
        );
    }
}
