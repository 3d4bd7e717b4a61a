//! `cargo xtask <command>`: the CLI, and one module per task (as rust-analyzer's xtask): glue
//! between the model (`infra`), the build, the assembly, the local gateway (`gateway`) and the
//! deploy engine (`deploy`). The libraries do the work; this crate says what to run.

mod bench;
mod build;
mod codegen;
mod deploy_args;
mod dev;
mod diff;
mod process;
mod progress;
mod reviewed;
mod sources;
mod synth;
mod test;
mod token;
mod tools;
mod watch;
mod workflows;
mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use assembly::Architecture;
use clap::{Parser, Subcommand};

use crate::bench::BenchArgs;
use crate::build::{BuildOptions, BuildProfile};
use crate::deploy_args::{BootstrapArgs, DeployArgs, DestroyArgs, DiffArgs, GcArgs, LogsArgs};
use crate::dev::DevArgs;
use crate::diff::ReviewArgs;
use crate::synth::{AppStage, AssemblyArgs, Format, SynthOptions};
use crate::test::TestOptions;
use crate::token::TokenArgs;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build, synthesize, deploy and run wsecho",
    version
)]
struct Cli {
    /// Plain lines only: no progress bars or live views, even on a terminal (as when output is
    /// not a terminal or `CI` is set).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build every function crate for Lambda and zip it reproducibly, named by its sha256.
    Build {
        /// Instruction set: arm64 or x86_64 [default: arm64 (Graviton) for release, this
        /// machine's for local].
        #[arg(long)]
        arch: Option<Architecture>,
        /// release: what deploys get (cargo-lambda); local: quick builds for this machine, what
        /// `dev` runs.
        #[arg(long, value_enum, default_value = "release")]
        profile: BuildProfile,
        /// Build only this function crate (repeatable).
        #[arg(long = "package", short = 'p', value_name = "PACKAGE")]
        packages: Vec<String>,
        /// Folder for the zips and assets.json [default: target/wsecho/assets[-local]/<arch>].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Synthesize an app's stage: the CloudFormation template, its assets and where it goes.
    Synth {
        #[command(flatten)]
        target: AppStage,
        /// json, or yaml for a template.yaml to read beside template.json.
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        /// The assembly folder [default: target/assembly/<app>/<stage>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Build and synthesize for this architecture instead of the stage's.
        #[arg(long)]
        arch: Option<Architecture>,
    },
    /// Deploy a stage to AWS: upload missing zips, review the change set, execute, print outputs.
    Deploy {
        #[command(flatten)]
        target: AssemblyArgs,
        #[command(flatten)]
        args: DeployArgs,
    },
    /// Show what a deploy would change, without changing anything; `--base GIT_REF` compares
    /// every app's and stage's template with that revision's, offline.
    Diff {
        #[command(flatten)]
        target: AssemblyArgs,
        #[command(flatten)]
        args: DiffArgs,
        #[command(flatten)]
        review: ReviewArgs,
    },
    /// Delete a stage's stack (the assets bucket is kept unless --with-assets).
    Destroy {
        #[command(flatten)]
        target: AssemblyArgs,
        #[command(flatten)]
        args: DestroyArgs,
    },
    /// Print a deployed stage's log lines (every function's and the API's), interleaved by
    /// time and named by their source; `--follow` keeps printing.
    Logs {
        #[command(flatten)]
        target: AssemblyArgs,
        #[command(flatten)]
        args: LogsArgs,
    },
    /// Create or update the toolkit stack that holds the assets bucket.
    Bootstrap {
        /// The app and stage whose region to bootstrap unless --region says.
        #[command(flatten)]
        target: AppStage,
        #[command(flatten)]
        args: BootstrapArgs,
    },
    /// Delete the zips no stack in the region references from the assets bucket (older than
    /// --keep-days).
    Gc {
        /// The app and stage whose region to clean unless --region says.
        #[command(flatten)]
        target: AppStage,
        #[command(flatten)]
        args: GcArgs,
    },
    /// Rewrite the generated files (the stage files' JSON Schema, the toolkit template deploy
    /// ships) from the model; a test fails while one is stale.
    #[command(alias = "schema")]
    Codegen,
    /// Run the stack locally: the real functions behind an API Gateway WebSocket emulator.
    Dev(DevArgs),
    /// Print a token the chat's `$connect` authorizer accepts (the running `dev`, or with
    /// `--deployed` the deployed stage), and nothing else.
    Token(TokenArgs),
    /// Run every test: unit, fixtures, snapshots, cfn-lint, build reproducibility, local gateway.
    Test(TestOptions),
    /// Benchmarks against AWS CDK, a bare echo server and published figures; writes
    /// BENCHMARKS.md. `--check` (CI) fails when a size or count is over its budget.
    Bench(BenchArgs),
}

fn main() -> ExitCode {
    let result = run(Cli::parse());
    // The local gateway's last lines, before anything this prints.
    gateway::log::flush();
    match result {
        Ok(code) => code,
        Err(err) => {
            // The whole chain, one cause a line, without a backtrace: these are user-facing.
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    progress::init(cli.quiet);
    match cli.command {
        Command::Build {
            arch,
            profile,
            packages,
            out,
        } => {
            let arch = match (arch, profile) {
                (Some(arch), _) => arch,
                (None, BuildProfile::Release) => Architecture::Arm64,
                (None, BuildProfile::Local) => Architecture::host().context(
                    "this machine has no Lambda architecture: the local build is for this machine",
                )?,
            };
            build::build(&BuildOptions {
                arch,
                profile,
                packages,
                out,
            })?;
        }
        Command::Synth {
            target,
            format,
            out,
            arch,
        } => {
            let dir = synth::synth(&SynthOptions {
                target,
                format,
                out,
                arch,
                profile: BuildProfile::Release,
            })?;
            println!("{}", dir.display());
        }
        Command::Deploy { target, args } => {
            deploy::deploy(&target.assembly()?, &args.options())?;
        }
        Command::Diff {
            target,
            args,
            review,
        } => return diff::run(&target, &args, &review),
        Command::Destroy { target, args } => {
            deploy::destroy(&target.stack_info()?, &args.options())?;
        }
        Command::Logs { target, args } => {
            deploy::logs(
                &target.stack_info()?,
                &args.options(),
                &mut std::io::stdout().lock(),
            )?;
        }
        Command::Bootstrap { target, args } => {
            let region = stage_region(&target)?;
            let bucket = deploy::bootstrap(&region, &args.options())?;
            // Only the name on stdout, for scripts: `BUCKET=$(cargo xtask bootstrap --yes)`.
            println!("{bucket}");
        }
        Command::Gc { target, args } => {
            let region = stage_region(&target)?;
            deploy::gc(&region, &args.options())?;
        }
        Command::Codegen => codegen::write()?,
        Command::Dev(args) => dev::run(&args)?,
        Command::Token(args) => token::run(&args)?,
        Command::Test(opts) => test::run(&opts)?,
        Command::Bench(args) => bench::run(&args)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The region an app's stage file names.
fn stage_region(target: &AppStage) -> Result<String> {
    let app = synth::load_app(&target.app)?;
    Ok(synth::load_stage(app, &target.stage)?.region().to_owned())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn logs_takes_the_stage_a_function_and_a_window() {
        let cli = Cli::try_parse_from([
            "xtask",
            "logs",
            "--app",
            "chat",
            "--function",
            "chat-send",
            "--since",
            "30",
            "-f",
        ])
        .unwrap();
        let Command::Logs { target, args } = cli.command else {
            panic!("not logs");
        };
        assert_eq!(target.target.app, "chat");
        let options = args.options();
        assert_eq!(options.function.as_deref(), Some("chat-send"));
        assert_eq!(options.since, std::time::Duration::from_secs(30 * 60));
        assert!(options.follow);
    }
}
