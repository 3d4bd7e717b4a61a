//! `cargo xtask <command>`: parses the command line and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use infra::assets::Architecture;
use xtask::build::{self, BuildOptions};
use xtask::test::{self, TestOptions};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, synthesize, deploy and run wsecho", version)]
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
    /// Run every test: unit, fixtures, snapshots, cfn-lint, build reproducibility, local gateway.
    Test(TestOptions),
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
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
        Command::Test(opts) => test::run(&opts)?,
    }
    Ok(())
}
