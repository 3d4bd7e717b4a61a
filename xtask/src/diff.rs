//! `cargo xtask diff`: what a change does to the infrastructure, for a person (text on a
//! terminal), for a pull request (markdown) or for another tool (JSON), with an exit code CI
//! can fail on. Three sources: the deployed stack (a change set asks CloudFormation), a saved
//! template, or `--base GIT_REF` (every app and stage, offline: `reviewed`).

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use review::{FailOn, Format, Review};

use crate::deploy_args::DiffArgs;
use crate::synth::AssemblyArgs;
use crate::{reviewed, workspace};

/// The exit code when `--fail-on` finds what it names (1 is an error, as for every command).
pub const MATCHED: u8 = 2;

#[derive(Debug, Clone, Args)]
pub struct ReviewArgs {
    /// Compare every app's and stage's template with this git revision's, offline: its
    /// committed snapshots against the working tree's synthesis (so not with --app, --stage,
    /// or a stack's sources).
    #[arg(
        long,
        value_name = "GIT_REF",
        conflicts_with_all = ["template", "assembly", "app", "stage", "arch", "assets_bucket"]
    )]
    pub base: Option<String>,
    /// The git repository `--base` reads [default: this workspace's].
    #[arg(long, value_name = "DIR", requires = "base")]
    pub repo: Option<PathBuf>,
    /// text to read, markdown to post on a pull request, json for other tools.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Colour the text: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Color,
    /// Exit with 2 when the changes include this: a replaced resource, a security change
    /// (IAM, permissions, authorizers, route authorization), or any change.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub fail_on: Option<FailOn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

pub fn run(target: &AssemblyArgs, args: &DiffArgs, opts: &ReviewArgs) -> Result<ExitCode> {
    let (review, notes) = match &opts.base {
        Some(rev) => {
            let repo = opts.repo.clone().unwrap_or_else(workspace::root);
            (against_revision(&repo, rev)?, String::new())
        }
        None => against_stack(target, args)?,
    };
    print(&review, &notes, opts)?;
    let matched = opts.fail_on.is_some_and(|f| review.matches(f));
    Ok(if matched {
        ExitCode::from(MATCHED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Every app's and stage's template at `rev` against the working tree's.
pub fn against_revision(repo: &std::path::Path, rev: &str) -> Result<Review> {
    let commit = reviewed::resolve(repo, rev)?;
    let before = reviewed::at_revision(repo, &commit)?;
    let after = reviewed::working_tree()?;
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let short = &commit[..commit.len().min(12)];
    Ok(Review {
        base: format!("{rev} ({short}, its snapshots)"),
        head: "the working tree".to_owned(),
        stacks: names
            .into_iter()
            .map(|name| review::compare(name, before.get(name), after.get(name)))
            .collect(),
    })
}

/// The app's stage against the deployed stack or `--template`; `notes` is what the deploy
/// engine says beside (the stack's state, CloudFormation's change set).
fn against_stack(target: &AssemblyArgs, args: &DiffArgs) -> Result<(Review, String)> {
    let assembly = target.assembly()?;
    let report = deploy::diff(&assembly, &args.options())?;
    let stack = assembly.stack.stack_name.as_str();
    let review = Review {
        base: report.before_label.clone(),
        head: assembly.dir.display().to_string(),
        stacks: vec![review::compare(
            stack,
            report.before.as_ref(),
            Some(&assembly.template),
        )],
    };
    Ok((review, report.notes))
}

fn print(review: &Review, notes: &str, opts: &ReviewArgs) -> Result<()> {
    let choice = match opts.color {
        Color::Auto => anstream::ColorChoice::Auto,
        Color::Always => anstream::ColorChoice::Always,
        Color::Never => anstream::ColorChoice::Never,
    };
    let format = opts.format;
    // Only the rendering on stdout (a PR comment or JSON is piped as is); the deploy engine's
    // notes go to stderr, except as text, where they belong with the rest.
    let rendered = review::render(review, format, true);
    let mut out = anstream::AutoStream::new(std::io::stdout().lock(), choice);
    if format == Format::Text && !notes.is_empty() {
        writeln!(out, "{rendered}\nCloudFormation:\n{notes}")
    } else {
        if !notes.is_empty() {
            eprint!("{notes}");
        }
        write!(out, "{rendered}")
    }
    .and_then(|()| out.flush())
    .context("cannot write the diff to stdout")
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;
    use review::{FailOn, Format};

    use crate::Cli;

    #[test]
    fn format_and_fail_on_are_spelled_as_the_review_names_them() {
        let cli = Cli::try_parse_from([
            "xtask",
            "diff",
            "--base",
            "main",
            "--format",
            "markdown",
            "--fail-on",
            "replacement",
        ])
        .unwrap();
        let crate::Command::Diff { review, .. } = cli.command else {
            panic!("not diff");
        };
        assert_eq!(review.format, Format::Markdown);
        assert_eq!(review.fail_on, Some(FailOn::Replacement));
        for (flag, value) in [("--format", "json"), ("--format", "text")] {
            assert!(Cli::try_parse_from(["xtask", "diff", flag, value]).is_ok());
        }
        for value in ["security", "any"] {
            assert!(Cli::try_parse_from(["xtask", "diff", "--fail-on", value]).is_ok());
        }
        let err = Cli::try_parse_from(["xtask", "diff", "--format", "html"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("[possible values: text, markdown, json]"),
            "{err}"
        );
    }

    #[test]
    fn base_compares_every_stack_so_it_takes_no_stack_of_its_own() {
        assert!(Cli::try_parse_from(["xtask", "diff", "--base", "main"]).is_ok());
        for extra in [
            &["--app", "chat"][..],
            &["--stage", "prod"],
            &["--assembly", "dir"],
            &["--template", "t.json"],
        ] {
            let args = ["xtask", "diff", "--base", "main"].iter().chain(extra);
            let err = Cli::try_parse_from(args).err();
            assert!(
                err.is_some_and(|e| e.to_string().contains("cannot be used with")),
                "--base with {extra:?} was accepted"
            );
        }
        assert!(Cli::try_parse_from(["xtask", "diff", "--repo", "r"]).is_err());
    }
}
