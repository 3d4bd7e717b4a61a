//! Tests of the repository's GitHub workflows (`.github/workflows/`): actionlint finds nothing
//! in them, `ci.yml` runs what `.ci/run` runs, so the two CIs cannot drift apart, and every
//! `cargo xtask` command they run is one this CLI accepts.

#![cfg(test)]

use std::fs;
use std::path::{Path, PathBuf};

use testenv::Need;

use crate::process::Cmd;
use crate::workspace;

/// The glob the actionlint CLI is given: every workflow file GitHub reads.
const WORKFLOWS_GLOB: &str = ".github/workflows/*.{yml,yaml}";

fn workflows_dir() -> PathBuf {
    workspace::root().join(".github").join("workflows")
}

/// The workflow files, sorted.
fn workflow_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Runs the pinned actionlint on the workflows under `root`: whether it passed, and what it
/// printed.
fn actionlint(root: &Path) -> (bool, String) {
    let output = Cmd::new(Need::Actionlint.path())
        .arg(WORKFLOWS_GLOB)
        .current_dir(root)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

#[test]
#[ignore = "needs actionlint: `cargo xtask test` provides it"]
fn the_workflows_pass_actionlint() {
    let files = workflow_files(&workflows_dir());
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"ci.yml".to_owned()),
        "expected ci.yml in {}, found {names:?}",
        workflows_dir().display()
    );
    let (passed, printed) = actionlint(&workspace::root());
    assert!(
        passed,
        "actionlint found problems in the workflows:\n{printed}"
    );
    // It read them all (its CLI passes when the glob matches nothing).
    assert!(
        printed.contains(&format!("Checking {} workflow file(s)", files.len())),
        "actionlint did not check the {} workflows {names:?}:\n{printed}",
        files.len()
    );
}

#[test]
#[ignore = "needs actionlint: `cargo xtask test` provides it"]
fn actionlint_reports_a_broken_workflow() {
    // The linter is only worth its pass if it fails on a mistake: here untrusted input in a
    // script and an expression naming a step that does not exist.
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(".github").join("workflows");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("broken.yml"),
        "on: pull_request\n\
         permissions:\n  contents: read\n\
         jobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n\
         \x20     - run: echo ${{ github.event.pull_request.title }}\n\
         \x20     - if: steps.nothing.outputs.x == 'y'\n        run: echo\n",
    )
    .unwrap();
    let (passed, printed) = actionlint(root.path());
    assert!(!passed, "actionlint passed a broken workflow:\n{printed}");
    assert!(
        printed.contains("broken.yml:8:") && printed.contains("potentially untrusted"),
        "{printed}"
    );
    assert!(
        printed.contains("broken.yml:9:")
            && printed.contains(r#"property "nothing" is not defined"#),
        "{printed}"
    );
}

/// The commands a shell script runs, one per line as written: comments, blank lines and the
/// shell's own plumbing (`set`, `cd`, `echo`) left out, a leading `time ` dropped.
fn script_commands(script: &str) -> Vec<String> {
    script
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter(|line| {
            let first = line.split_whitespace().next().unwrap_or_default();
            !matches!(first, "set" | "cd" | "echo")
        })
        .map(|line| line.strip_prefix("time ").unwrap_or(line).trim().to_owned())
        .collect()
}

/// The lines of a workflow's `run:` steps, in order: one-line `run: cmd` and block
/// `run: |` scripts, without their comments and blank lines.
fn workflow_run_lines(workflow: &str) -> Vec<String> {
    let mut lines = workflow.lines().peekable();
    let mut found = Vec::new();
    while let Some(line) = lines.next() {
        let key = line.trim_start();
        let key = key.strip_prefix("- ").unwrap_or(key).trim_start();
        let Some(value) = key.strip_prefix("run:") else {
            continue;
        };
        let value = value.trim();
        if !value.starts_with(['|', '>']) {
            found.push(value.to_owned());
            continue;
        }
        // A block scalar: every following line indented deeper than the key (or blank).
        let key_indent = line.len() - key.len();
        while let Some(next) = lines.peek() {
            if !next.trim().is_empty() && indent(next) <= key_indent {
                break;
            }
            let command = next.trim();
            if !command.is_empty() && !command.starts_with('#') {
                found.push(command.to_owned());
            }
            lines.next();
        }
    }
    found
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

#[test]
fn the_ci_workflow_runs_what_ci_run_runs() {
    let script = fs::read_to_string(workspace::root().join(".ci").join("run")).unwrap();
    let workflow = fs::read_to_string(workflows_dir().join("ci.yml")).unwrap();
    let commands = script_commands(&script);
    let run_lines = workflow_run_lines(&workflow);
    assert!(
        commands.iter().any(|c| c == "cargo xtask test"),
        ".ci/run no longer runs `cargo xtask test`? it runs {commands:?}"
    );

    // Every command of .ci/run, in its order (the workflow may set up more around them).
    let mut rest = run_lines.iter();
    for command in &commands {
        assert!(
            rest.any(|line| line == command),
            "`{command}` of .ci/run is not run by .github/workflows/ci.yml (or not in .ci/run's \
             order): the two must run the same steps; ci.yml runs {run_lines:?}"
        );
    }
    // And no cargo command that .ci/run does not run.
    for line in run_lines.iter().filter(|l| l.starts_with("cargo ")) {
        assert!(
            commands.contains(line),
            "ci.yml runs `{line}`, which .ci/run does not: the two must run the same steps"
        );
    }
}

/// The arguments of a `cargo xtask …` line as the shell passes them: up to a redirection,
/// pipe or `&&`, quotes removed (variables stay as written: a value is a value to clap).
fn xtask_arguments(line: &str) -> Option<Vec<String>> {
    let rest = line.strip_prefix("cargo xtask ")?;
    Some(
        rest.split_whitespace()
            .take_while(|word| !word.starts_with(['>', '|', '&', ';']))
            .map(|word| word.trim_matches(['"', '\'']).to_owned())
            .collect(),
    )
}

#[test]
fn every_cargo_xtask_command_in_the_workflows_parses() {
    use clap::Parser as _;
    let mut checked = Vec::new();
    for file in workflow_files(&workflows_dir()) {
        let workflow = fs::read_to_string(&file).unwrap();
        for line in workflow_run_lines(&workflow) {
            let Some(args) = xtask_arguments(&line) else {
                continue;
            };
            let parsed = crate::Cli::try_parse_from(
                std::iter::once("cargo xtask".to_owned()).chain(args.iter().cloned()),
            );
            if let Err(e) = parsed {
                panic!(
                    "{}: `{line}` is not a command `cargo xtask` accepts:\n{e}",
                    file.display()
                );
            }
            checked.push(line);
        }
    }
    // The PR workflow's diff is among them (a workflow that lost it would check nothing).
    assert!(
        checked.iter().any(|l| l.contains("diff --base")),
        "no `cargo xtask diff --base` in the workflows: {checked:?}"
    );
}

#[test]
fn the_pr_workflow_finds_its_comment_by_the_marker_the_markdown_starts_with() {
    let workflow = fs::read_to_string(workflows_dir().join("pr-diff.yml")).unwrap();
    let marker = workflow
        .lines()
        .find_map(|l| l.trim().strip_prefix("MARKER:"))
        .map(|v| v.trim().trim_matches('"'))
        .expect("pr-diff.yml sets MARKER");
    assert_eq!(marker, review::MARKER);
    let markdown = review::render(
        &review::Review {
            base: "main".into(),
            head: "HEAD".into(),
            stacks: Vec::new(),
        },
        review::Format::Markdown,
        false,
    );
    assert!(markdown.starts_with(marker), "{markdown}");
}

#[test]
fn xtask_arguments_stop_at_the_shell() {
    assert_eq!(
        xtask_arguments(r#"cargo xtask diff --base "$BASE_SHA" --format markdown > diff.md"#),
        Some(vec![
            "diff".to_owned(),
            "--base".to_owned(),
            "$BASE_SHA".to_owned(),
            "--format".to_owned(),
            "markdown".to_owned()
        ])
    );
    assert_eq!(xtask_arguments("cargo fmt"), None);
}

#[test]
fn script_commands_are_the_lines_that_run_something() {
    let script = "#!/usr/bin/env bash\n\
                  # a comment\n\
                  set -euo pipefail\n\
                  cd \"$(dirname \"$0\")/..\"\n\
                  \n\
                  echo \"== fmt\"\n\
                  cargo fmt --all -- --check\n\
                  time cargo xtask test\n";
    assert_eq!(
        script_commands(script),
        ["cargo fmt --all -- --check", "cargo xtask test"]
    );
}

#[test]
fn workflow_run_lines_are_the_steps_scripts_in_order() {
    let workflow = "jobs:\n\
                    \x20 a:\n\
                    \x20   steps:\n\
                    \x20     - uses: actions/checkout@v4\n\
                    \x20     - name: setup\n\
                    \x20       run: |\n\
                    \x20         rustup default stable\n\
                    \n\
                    \x20         # why\n\
                    \x20         cargo --version\n\
                    \x20       env:\n\
                    \x20         RUN: no\n\
                    \x20     - run: cargo xtask test\n\
                    \x20     - name: cargo clippy\n\
                    \x20       run: >-\n\
                    \x20         cargo clippy\n\
                    \x20     - run: |\n\
                    \x20         cargo fmt\n\
                    \x20       name: after\n";
    assert_eq!(
        workflow_run_lines(workflow),
        [
            "rustup default stable",
            "cargo --version",
            "cargo xtask test",
            "cargo clippy",
            "cargo fmt"
        ]
    );
}
