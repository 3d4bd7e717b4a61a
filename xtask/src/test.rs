//! `cargo xtask test`: provisions the pinned tools, builds the functions and synthesizes the
//! echo app's dev stage (and every app's) for this machine, then runs every test of the workspace with the
//! tools and the assembly handed over in environment variables (`testenv`). Tests that need
//! them are ignored by plain `cargo test`; here every test runs (`--include-ignored`), so
//! nothing is skipped.
//!
//! On CI (`CI` set, as GitHub and `.ci/run`'s caller set it) insta runs in check mode: a
//! snapshot that differs fails its test and nothing is written. After any run, a pending
//! snapshot left in the tree (`*.snap.new`, `.*.pending-snap`) fails the run, so a forgotten
//! `cargo insta review` cannot land.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
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
            Need::Actionlint => tools::ACTIONLINT,
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
    if is_ci(std::env::var_os("CI").as_deref()) {
        // insta's check mode, whatever the environment says otherwise: a changed or new
        // snapshot fails its test, no `.snap.new` is written, and nothing forces a pass.
        eprintln!("[test] CI: snapshots are checked, never written (INSTA_UPDATE=no)");
        cargo = cargo.env("INSTA_UPDATE", "no").env("INSTA_FORCE_PASS", "0");
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
    let pending = pending_snapshots(&workspace::root(), &target_dir)?;
    if !pending.is_empty() {
        let list: Vec<String> = pending
            .iter()
            .map(|p| format!("  {}", p.display()))
            .collect();
        // Their tests failed above (or an earlier run left them): either way, review first.
        let failed = if ran.is_err() {
            "some tests failed (see above), and "
        } else {
            ""
        };
        bail!(
            "{failed}{} snapshot(s) are pending review:\n{}\nreview them with `cargo insta \
             review` (`cargo install cargo-insta`), accepting or rejecting each, then run the \
             tests again",
            pending.len(),
            list.join("\n")
        );
    }
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

/// Whether `CI` says this is a CI run, read as insta reads it: set to anything but `false`, `0`
/// or nothing.
fn is_ci(value: Option<&OsStr>) -> bool {
    value.is_some_and(|v| !matches!(v.to_str(), Some("" | "false" | "0")))
}

/// The pending snapshots insta left under `root` (relative to it, sorted): `*.snap.new` (and
/// `*.snap.new.*` of binary snapshots) beside the `.snap` files, `.*.pending-snap` beside a
/// test file with inline snapshots. The target dir, `.git` and the provisioned tools are not
/// ours to check.
fn pending_snapshots(root: &Path, target_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries =
            fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .with_context(|| format!("cannot stat {}", path.display()))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() {
                let skipped =
                    matches!(name.as_ref(), ".git" | ".tools" | "target" | "node_modules")
                        || path == target_dir;
                if !skipped {
                    dirs.push(path);
                }
            } else if name.ends_with(".snap.new")
                || name.contains(".snap.new.")
                || name.ends_with(".pending-snap")
            {
                found.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
    }
    found.sort();
    Ok(found)
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
    fn ci_is_any_value_but_false_zero_or_empty() {
        assert!(is_ci(Some(OsStr::new("true"))));
        assert!(is_ci(Some(OsStr::new("1"))));
        assert!(is_ci(Some(OsStr::new("github"))));
        assert!(!is_ci(Some(OsStr::new("false"))));
        assert!(!is_ci(Some(OsStr::new("0"))));
        assert!(!is_ci(Some(OsStr::new(""))));
        assert!(!is_ci(None));
    }

    #[test]
    fn pending_snapshots_are_found_anywhere_in_the_tree_but_the_build_and_tool_folders() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("build-out");
        let files = [
            // Reviewed snapshots and sources: not pending.
            "snapshots/echo-dev.template.json.snap",
            "infra/tests/infra/apps.rs",
            // Pending: a changed file snapshot, a binary one, an inline one.
            "snapshots/echo-dev.template.json.snap.new",
            "functions/echo/src/snapshots/echo__reply.snap.new.png",
            "infra/tests/infra/.apps.rs.pending-snap",
            // Not ours: build output, git's objects, the provisioned tools.
            "target/debug/x.snap.new",
            "build-out/x.snap.new",
            ".git/x.snap.new",
            ".tools/npm/wscat/node_modules/y/.t.rs.pending-snap",
        ];
        for file in files {
            let path = root.path().join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "").unwrap();
        }
        assert_eq!(
            pending_snapshots(root.path(), &target).unwrap(),
            [
                "functions/echo/src/snapshots/echo__reply.snap.new.png",
                "infra/tests/infra/.apps.rs.pending-snap",
                "snapshots/echo-dev.template.json.snap.new",
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn a_clean_tree_has_no_pending_snapshot() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("snapshots")).unwrap();
        fs::write(root.path().join("snapshots/a.snap"), "").unwrap();
        assert!(
            pending_snapshots(root.path(), &root.path().join("target"))
                .unwrap()
                .is_empty()
        );
    }

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
