//! `cargo xtask dev`: synthesize an app's stage for this machine and serve it on the local
//! gateway.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use assembly::Architecture;
use clap::Args;
use gateway::{DevOptions, Gateway};

use crate::build::BuildProfile;
use crate::synth::{self, AppStage, Format, SynthOptions};
use crate::{watch, workspace};

#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    #[command(flatten)]
    pub target: AppStage,
    /// Port for WebSocket clients and the @connections API; 0 picks a free one.
    #[arg(long, default_value_t = 3001)]
    pub port: u16,
    /// Address to listen on. Only loopback by default: this is a development server.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Close connections idle this long, in seconds (API Gateway: 600).
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub idle_timeout: u64,
    /// Close connections open this long, in seconds (API Gateway: 7200).
    #[arg(long, default_value_t = 7200, value_name = "SECONDS")]
    pub max_duration: u64,
    /// Processes per function at most (Lambda's concurrency, scaled down).
    #[arg(long, default_value_t = 10)]
    pub max_concurrency: usize,
    /// Rebuild, re-synthesize and reload when the functions, the stage file or the app's
    /// infrastructure code change; connected clients stay connected. Changes to xtask itself
    /// need a restart (it says so).
    #[arg(long)]
    pub watch: bool,
    /// Run the functions exactly as deploys build them (cargo-lambda, the release profile)
    /// instead of the quick local build: slower to build, for fidelity checks.
    #[arg(long)]
    pub release: bool,
}

pub fn run(args: &DevArgs) -> Result<()> {
    let arch = Architecture::host().context(
        "this machine's architecture has no Lambda equivalent: `dev` runs the functions here",
    )?;
    // Its own folder: a local assembly (this machine's architecture) never replaces the one
    // `deploy` would send.
    let target_dir: PathBuf = workspace::metadata()?.target_directory.into();
    let local = format!("{}-local", args.target.stage);
    let out = synth::assembly_dir(&target_dir, &args.target.app, &local);
    let synth_options = SynthOptions {
        target: args.target.clone(),
        format: Format::Json,
        out: Some(out.clone()),
        arch: Some(arch),
        profile: if args.release {
            BuildProfile::Release
        } else {
            BuildProfile::Local
        },
    };
    let assembly = synth::synth(&synth_options)?;
    let try_it = synth::load_app(&args.target.app)?
        .actions()
        .first()
        .map(|action| {
            format!(
                "\n  > {}",
                serde_json::json!({"action": action, "message": "hi"})
            )
        })
        .unwrap_or_default();

    let opts = DevOptions {
        assembly,
        host: args.host,
        port: args.port,
        stage: None,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        max_duration: Duration::from_secs(args.max_duration),
        max_concurrency: args.max_concurrency,
        // Beside the assembly, not in it: a synth (`--watch`) replaces the assembly folder.
        unpacked: Some(out.with_file_name(format!(".{local}.unpacked"))),
    };
    let ready = |running: &Gateway| {
        println!("{}", running.banner());
        // The command that gets through `$connect`'s checks (authorizer, IAM, API key).
        println!("Try it:\n  {}{try_it}", running.connect_hint());
    };
    // One thread for the whole gateway: its work per message is small and mostly hand-offs
    // between tasks, which on one thread need no cross-thread wake-ups (measured: BENCHMARKS.md,
    // "Settings chosen by measurement"). Builds and source polling run on the blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if !args.watch {
        return Ok(runtime.block_on(gateway::serve(opts, ready))?);
    }
    runtime.block_on(async {
        let gateway = gateway::start(opts).await?;
        ready(&gateway);
        // The watcher ends only with an error it cannot get past; the gateway stops either way.
        let result = tokio::select! {
            watched = watch::run(&gateway, synth_options) => watched,
            signal = tokio::signal::ctrl_c() => signal.context("cannot wait for Ctrl-C"),
        };
        gateway::log::line("gateway", "closing connections and stopping the functions");
        gateway.shutdown().await;
        result
    })
}
