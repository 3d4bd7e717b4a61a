//! `cargo xtask dev`: a local API Gateway WebSocket API that runs the assembly's real function
//! binaries through a local Lambda Runtime API.
//!
//! It reads the assembly only (template.json, assets.json, the zips), so what runs here is what
//! CloudFormation deploys. One port serves the WebSocket endpoint (`ws://HOST:PORT/<stage>`) and
//! the management API (`http://HOST:PORT/<stage>/@connections/{id}`).

mod bootstrap;
mod connections;
mod events;
pub(crate) mod ids;
mod intrinsics;
pub mod log;
mod management;
mod pool;
mod reload;
mod runtime;
mod selection;
mod server;
mod tasks;
mod template;
mod websocket;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context as _, Result};
use assembly::{AssetManifest, MANIFEST_FILE};
use tokio::net::TcpListener;
use tokio::sync::watch;

use self::connections::Registry;
use self::log::log;
use self::pool::Pool;
use self::tasks::Tasks;
use self::template::{ApiModel, REGION};

pub use self::reload::ReloadReport;

/// API Gateway's limits, fixed by AWS.
pub const FRAME_LIMIT: usize = 32 * 1024;
pub const MESSAGE_LIMIT: usize = 128 * 1024;

#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Folder with template.json, assets.json and the zips.
    pub assembly: PathBuf,
    pub host: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    /// Defaults to the template's only stage.
    pub stage: Option<String>,
    pub idle_timeout: Duration,
    pub max_duration: Duration,
    /// Processes per function at most.
    pub max_concurrency: usize,
    /// Where the functions' binaries are unpacked [default: `<assembly>/.dev`]. A folder of its
    /// own outside the assembly keeps them across a synth (which replaces the assembly
    /// folder), and is pruned at start of binaries the assembly no longer names.
    pub unpacked: Option<PathBuf>,
}

impl DevOptions {
    /// API Gateway's defaults for an assembly.
    pub fn new(assembly: impl Into<PathBuf>) -> DevOptions {
        DevOptions {
            assembly: assembly.into(),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            stage: None,
            idle_timeout: Duration::from_secs(10 * 60),
            max_duration: Duration::from_secs(2 * 60 * 60),
            max_concurrency: 10,
            unpacked: None,
        }
    }
}

/// What the connection handlers share.
struct Shared {
    /// Routes and function pools; `Gateway::reload` swaps it whole. Each `$connect`, message
    /// and `$disconnect` works with the one it read first.
    deployment: RwLock<Arc<Deployment>>,
    registry: Registry,
    tasks: Tasks,
    idle_timeout: Duration,
    max_duration: Duration,
    port: u16,
}

impl Shared {
    fn deployment(&self) -> Arc<Deployment> {
        self.deployment.read().expect("not poisoned").clone()
    }
}

/// One version of the assembly: what the template routes where, and a process pool for each
/// function a route invokes.
struct Deployment {
    model: ApiModel,
    /// By function logical ID.
    pools: BTreeMap<String, Arc<Pool>>,
}

/// What `reload` needs to read the assembly again the way `start` did.
struct Source {
    assembly: PathBuf,
    unpacked: PathBuf,
    stage: Option<String>,
    management: String,
    max_concurrency: usize,
}

/// A running gateway.
pub struct Gateway {
    addr: SocketAddr,
    stage: String,
    shared: Arc<Shared>,
    source: Source,
    /// One reload at a time.
    reloading: Mutex<()>,
    stop: watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
}

/// What `serve` hands its `ready` callback.
pub type Running = Gateway;

impl Gateway {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// The WebSocket URL clients connect to: `ws://HOST:PORT/<stage>`.
    pub fn url(&self) -> String {
        format!("ws://{}/{}", self.addr, self.stage)
    }

    /// The management API's base URL, as the functions get it: `http://HOST:PORT/<stage>`.
    pub fn management_url(&self) -> String {
        format!("http://{}/{}", self.addr, self.stage)
    }

    /// Route keys and the functions behind them, for the start-up banner.
    pub fn routes(&self) -> Vec<(String, String)> {
        let deployment = self.shared.deployment();
        deployment
            .model
            .routes
            .values()
            .map(|r| {
                (
                    r.key.clone(),
                    deployment.pools[&r.function].spec.label().to_owned(),
                )
            })
            .collect()
    }

    /// What `cargo xtask dev` prints once the gateway listens.
    pub fn banner(&self) -> String {
        let mut text = format!(
            "wsecho local gateway, stage `{}`\n  WebSocket:      {}\n  @connections:   {}/@connections/{{connectionId}}\n  routes:\n",
            self.stage,
            self.url(),
            self.management_url()
        );
        for (key, function) in self.routes() {
            text.push_str(&format!("    {key:<14} -> {function}\n"));
        }
        text.push_str("Ctrl-C stops it.");
        text
    }

    /// Connections open or still in `$connect`.
    pub fn connection_count(&self) -> usize {
        self.shared.registry.len()
    }

    /// Closes every connection (1001, with `$disconnect`), waits for in-flight work (bounded),
    /// and kills the function processes.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.accept.abort();
        if !self.shared.tasks.drain(Duration::from_secs(10)).await {
            log!(
                "gateway",
                "some work was still running after 10 s; stopping anyway"
            );
        }
        for pool in self.shared.deployment().pools.values() {
            pool.shutdown();
        }
    }
}

/// A gateway dropped without `shutdown` (a failing test) still stops listening and closes its
/// connections; its processes die with their tasks.
impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.accept.abort();
    }
}

/// Runs the gateway until Ctrl-C.
pub async fn serve(opts: DevOptions, ready: impl FnOnce(&Running)) -> Result<()> {
    let gateway = start(opts).await?;
    ready(&gateway);
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    log!(
        "gateway",
        "Ctrl-C: closing connections and stopping the functions"
    );
    gateway.shutdown().await;
    Ok(())
}

/// Starts the gateway in this process; it serves until `Gateway::shutdown`.
pub async fn start(opts: DevOptions) -> Result<Gateway> {
    let model = ApiModel::read(&opts.assembly, opts.stage.as_deref())?;
    let manifest = AssetManifest::read(&opts.assembly.join(MANIFEST_FILE))?;
    let listener = TcpListener::bind((opts.host, opts.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", opts.host, opts.port))?;
    let addr = listener.local_addr()?;
    // The address clients and functions reach: a wildcard bind is reached through loopback.
    let addr = if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    };
    if let Some(unpacked) = &opts.unpacked {
        bootstrap::prune(unpacked, &manifest)?;
    }
    let source = Source {
        assembly: opts.assembly.clone(),
        unpacked: opts
            .unpacked
            .clone()
            .unwrap_or_else(|| opts.assembly.join(".dev")),
        stage: opts.stage.clone(),
        management: format!("http://{addr}/{}", model.stage),
        max_concurrency: opts.max_concurrency,
    };
    let pools = source.pools(&model, &manifest, &BTreeMap::new())?.pools;

    let (stop, stop_rx) = watch::channel(false);
    let stage = model.stage.clone();
    let shared = Arc::new(Shared {
        deployment: RwLock::new(Arc::new(Deployment { model, pools })),
        registry: Registry::default(),
        tasks: Tasks::new(stop_rx),
        idle_timeout: opts.idle_timeout,
        max_duration: opts.max_duration,
        port: addr.port(),
    });
    let accept = tokio::spawn(server::accept(listener, shared.clone()));
    Ok(Gateway {
        addr,
        stage,
        shared,
        source,
        reloading: Mutex::new(()),
        stop,
        accept,
    })
}

/// The template's variables plus what Lambda itself sets and what a local run needs.
fn function_environment(
    spec: &template::FunctionSpec,
    management: &str,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    // Passed through unless the template sets them (what is deployed wins).
    for name in ["RUST_LOG", "RUST_BACKTRACE", "PATH"] {
        if let Ok(value) = std::env::var(name) {
            env.insert(name.to_owned(), value);
        }
    }
    env.extend(spec.environment.clone());
    let lambda = [
        ("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            spec.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", spec.name),
        ),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_DEFAULT_REGION", REGION.to_owned()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
        // Dummies: the SDK wants credentials; the local management API ignores signatures.
        ("AWS_ACCESS_KEY_ID", "AKIAWSECHOLOCALDEV00".to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wsecho-local-dev-not-a-secret".to_owned(),
        ),
        ("AWS_SESSION_TOKEN", "wsecho-local-dev".to_owned()),
        ("WSECHO_MANAGEMENT_ENDPOINT", management.to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("TZ", ":UTC".to_owned()),
    ];
    for (name, value) in lambda {
        env.insert(name.to_owned(), value);
    }
    env
}
