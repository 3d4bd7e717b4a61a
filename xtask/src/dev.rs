//! `cargo xtask dev`: synthesize an app's stage for this machine and serve it on the local
//! gateway.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use assembly::Architecture;
use clap::Args;
use gateway::{DevOptions, Exposure, Gateway};

use crate::build::BuildProfile;
use crate::synth::{self, AppStage, Format, SynthOptions};
use crate::{token, tools, watch, workspace};

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
    /// Let web pages of this origin connect (`https://app.example`, `http://localhost:5173`;
    /// repeatable; `*` for every page). Loopback pages and clients that send no `Origin`
    /// (CLIs, SDKs) always may; other pages get 403.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    /// Open connections (WebSocket and HTTP) at most; one more gets 503.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Enforce the stage's throttling (burst and rate limits) as API Gateway does: a
    /// `$connect` or message over it gets 429.
    #[arg(long)]
    pub throttle: bool,
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

    // Provisioned (on first use) only for an app with tables or secrets.
    let local_services = if needs_local_services(&assembly)? {
        Some(tools::MOTO.ensure()?)
    } else {
        None
    };
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
        local_services,
    };
    // Where `cargo xtask token` finds the running services; removed when dev stops.
    let services_file = ServicesFile(token::services_file(&out));
    stop_left_over_services(&services_file.0);
    let target = args.target.clone();
    let ready = |running: &Gateway| {
        println!("{}", running.banner());
        if let Some(services) = running.local_services()
            && let Err(e) = services.write(&services_file.0)
        {
            gateway::log::line(
                "gateway",
                &format!("`cargo xtask token` will not find this run's services: {e}"),
            );
        }
        // The command that gets through `$connect`'s checks (authorizer, IAM, API key).
        let keeps_a_secret = running.local_services().is_some_and(|services| {
            services
                .resources
                .values()
                .any(|id| id.starts_with("arn:aws:secretsmanager:"))
        });
        let hint = with_token_command(&running.connect_hint(), keeps_a_secret, &target);
        println!("Try it:\n  {hint}{try_it}");
    };
    // One thread for the whole gateway: its work per message is small and mostly hand-offs
    // between tasks, which on one thread need no cross-thread wake-ups (measured: BENCHMARKS.md,
    // "Settings chosen by measurement"). Builds and source polling run on the blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let exposure = Exposure {
        allowed_origins: args.allowed_origins.clone(),
        max_connections: args.max_connections,
        stage_throttling: args.throttle,
    };
    if !args.watch {
        return Ok(runtime.block_on(gateway::serve_with(opts, exposure, ready))?);
    }
    runtime.block_on(async {
        // Listening for Ctrl-C, SIGTERM and SIGHUP before anything starts.
        let stop = gateway::stop_requested();
        let gateway = gateway::start_with(opts, exposure).await?;
        ready(&gateway);
        // The watcher ends only with an error it cannot get past; the gateway stops either way.
        let result = tokio::select! {
            watched = watch::run(&gateway, synth_options) => watched,
            signal = stop => signal.map(|_| ()).context("cannot wait for Ctrl-C"),
        };
        gateway::log::line("gateway", "closing connections and stopping the functions");
        gateway.shutdown().await;
        result
    })
}

/// Whether the assembly's template has resources the gateway provides with moto.
fn needs_local_services(assembly: &Path) -> Result<bool> {
    let path = assembly.join(assembly::TEMPLATE_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let template: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    Ok(gateway::needs_local_services(&template))
}

/// The connect hint with `cargo xtask token` in place of a `token=…` to fill in, when this
/// run keeps a secret (the chat's signing key) that the command signs with.
fn with_token_command(hint: &str, keeps_a_secret: bool, target: &AppStage) -> String {
    if !keeps_a_secret || !hint.contains("token=…") {
        return hint.to_owned();
    }
    let command = format!(
        "token=$(cargo xtask token --app {} --stage {} --user alice)",
        target.app, target.stage
    );
    // Double quotes around the URL, so that the shell runs the command.
    match hint.split_once(" -c '") {
        Some((before, rest)) => match rest.split_once('\'') {
            Some((url, after)) => format!(
                "{before} -c \"{}\"{after}",
                url.replace("token=…", &command)
            ),
            None => hint.to_owned(),
        },
        None => hint.to_owned(),
    }
}

/// Stops the moto server of an earlier run of this app and stage that was killed before it
/// could stop it (`kill -9`), as its services file names it: only a live process that is a
/// moto_server.
fn stop_left_over_services(services_file: &Path) {
    let Ok(services) = assembly::LocalServices::read(services_file) else {
        return;
    };
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", services.pid)).unwrap_or_default();
    if String::from_utf8_lossy(&cmdline).contains("moto_server") {
        gateway::log::line(
            "gateway",
            &format!(
                "stopping the moto server (pid {}) an earlier `cargo xtask dev` left running",
                services.pid
            ),
        );
        let _ = crate::process::Cmd::new("kill")
            .arg(services.pid.to_string())
            .read();
    }
    let _ = std::fs::remove_file(services_file);
}

/// The services file of a run, removed when the run ends.
struct ServicesFile(PathBuf);

impl Drop for ServicesFile {
    fn drop(&mut self) {
        // Absent when the app has no local services.
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_runs_cargo_xtask_token_where_a_token_is_to_fill_in() {
        let chat = AppStage {
            app: "chat".into(),
            stage: "dev".into(),
        };
        let hint = "wscat -c 'ws://127.0.0.1:3001/dev?token=…'";
        assert_eq!(
            with_token_command(hint, true, &chat),
            "wscat -c \"ws://127.0.0.1:3001/dev?token=$(cargo xtask token --app chat --stage dev --user alice)\""
        );
        // Without a key this run keeps, the token command could not sign anything.
        assert_eq!(with_token_command(hint, false, &chat), hint);
        let plain = "wscat -c 'ws://127.0.0.1:3001/dev'";
        assert_eq!(with_token_command(plain, true, &chat), plain);
    }

    #[test]
    fn only_tables_and_secrets_need_local_services() {
        let dir = tempfile::tempdir().unwrap();
        let write = |resources: serde_json::Value| {
            std::fs::write(
                dir.path().join(assembly::TEMPLATE_FILE),
                serde_json::json!({"Resources": resources}).to_string(),
            )
            .unwrap();
        };
        write(serde_json::json!({"Fn": {"Type": "AWS::Lambda::Function"}}));
        assert!(!needs_local_services(dir.path()).unwrap());
        write(serde_json::json!({"T": {"Type": "AWS::DynamoDB::Table"}}));
        assert!(needs_local_services(dir.path()).unwrap());
        write(serde_json::json!({"S": {"Type": "AWS::SecretsManager::Secret"}}));
        assert!(needs_local_services(dir.path()).unwrap());
    }
}
