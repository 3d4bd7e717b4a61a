//! `cargo xtask <command>`: parses the command line and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use assembly::Architecture;
use clap::{Parser, Subcommand};
use xtask::bench::{self, BenchArgs};
use xtask::build::{self, BuildOptions};
use xtask::deploy;
use xtask::deploy::cli::{BootstrapArgs, DeployArgs, DestroyArgs, DiffArgs, GcArgs};
use xtask::dev::{self, DevArgs};
use xtask::schema;
use xtask::synth::{self, AssemblyArgs, Format, SynthOptions};
use xtask::test::{self, TestOptions};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Build, synthesize, deploy and run wsecho",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build every function crate for Lambda and zip it reproducibly, named by its sha256.
    Build {
        /// Instruction set: arm64 (Graviton, the default) or x86_64.
        #[arg(long, default_value = "arm64")]
        arch: Architecture,
        /// Build only this function crate (repeatable).
        #[arg(long = "package", short = 'p', value_name = "PACKAGE")]
        packages: Vec<String>,
        /// Folder for the zips and assets.json [default: target/wsecho/assets/<arch>].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Synthesize a stage: the CloudFormation template, its assets and where it goes.
    Synth {
        /// The stage (infra/stages/<stage>.yaml).
        #[arg(long, default_value = "dev")]
        stage: String,
        /// json, or yaml for a template.yaml to read beside template.json.
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        /// The assembly folder [default: target/assembly/<stage>].
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
    /// Show what a deploy would change, without changing anything.
    Diff {
        #[command(flatten)]
        target: AssemblyArgs,
        #[command(flatten)]
        args: DiffArgs,
    },
    /// Delete a stage's stack (the assets bucket is kept unless --with-assets).
    Destroy {
        #[command(flatten)]
        target: AssemblyArgs,
        #[command(flatten)]
        args: DestroyArgs,
    },
    /// Create or update the toolkit stack that holds the assets bucket.
    Bootstrap {
        /// The stage whose region to bootstrap when --region and AWS_REGION don't say.
        #[arg(long, default_value = "dev")]
        stage: String,
        #[command(flatten)]
        args: BootstrapArgs,
    },
    /// Delete the zips no stack in the region references from the assets bucket (older than
    /// --keep-days).
    Gc {
        /// The stage whose region to clean when --region and AWS_REGION don't say.
        #[arg(long, default_value = "dev")]
        stage: String,
        #[command(flatten)]
        args: GcArgs,
    },
    /// Write infra/stages/stage.schema.json, the JSON Schema of stage files.
    Schema,
    /// Run the stack locally: the real functions behind an API Gateway WebSocket emulator.
    Dev(DevArgs),
    /// Run every test: unit, fixtures, snapshots, cfn-lint, build reproducibility, local gateway.
    Test(TestOptions),
    /// Benchmarks against AWS CDK, a bare echo server and published figures; writes
    /// BENCHMARKS.md. `--check` (CI) fails when a size or count is over its budget.
    Bench(BenchArgs),
}

fn main() -> ExitCode {
    let result = run(Cli::parse());
    // The local gateway's last lines, before anything this prints.
    xtask::gateway::log::flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
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

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Build {
            arch,
            packages,
            out,
        } => {
            build::build(&BuildOptions {
                arch,
                packages,
                out,
            })?;
        }
        Command::Synth {
            stage,
            format,
            out,
            arch,
        } => {
            let dir = synth::synth(&SynthOptions {
                stage,
                format,
                out,
                arch,
            })?;
            println!("{}", dir.display());
        }
        Command::Deploy { target, args } => {
            deploy::deploy(&target.assembly()?, &args.options())?;
        }
        Command::Diff { target, args } => {
            deploy::diff(&target.assembly()?, &args.options())?;
        }
        Command::Destroy { target, args } => {
            deploy::destroy(&target.stack_info()?, &args.options())?;
        }
        Command::Bootstrap { stage, args } => {
            let region = synth::load_stage(&stage)?.region().to_owned();
            let bucket = deploy::bootstrap(&region, &args.options())?;
            // Only the name on stdout, for scripts: `BUCKET=$(cargo xtask bootstrap --yes)`.
            println!("{bucket}");
        }
        Command::Gc { stage, args } => {
            let region = synth::load_stage(&stage)?.region().to_owned();
            deploy::gc(&region, &args.options())?;
        }
        Command::Schema => schema::write()?,
        Command::Dev(args) => dev::run(&args)?,
        Command::Test(opts) => test::run(&opts)?,
        Command::Bench(args) => bench::run(&args)?,
    }
    Ok(())
}
