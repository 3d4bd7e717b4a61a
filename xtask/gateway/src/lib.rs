//! The local API Gateway of `cargo xtask dev`: a WebSocket API that runs the assembly's real
//! function binaries through a local Lambda Runtime API.
//!
//! It reads the assembly only (template.json, assets.json, the zips, through the `assembly`
//! crate), so what runs here is what CloudFormation deploys. One port serves the WebSocket
//! endpoint (`ws://HOST:PORT/<stage>`) and the management API
//! (`http://HOST:PORT/<stage>/@connections/{id}`).
//!
//! - [`start`] a [`Gateway`] with [`DevOptions`], or [`serve`] one until Ctrl-C;
//!   [`Gateway::reload`] swaps in a rebuilt assembly with clients connected ([`ReloadReport`]).
//! - [`log`]: the gateway's lines on stderr; whoever prints beside it writes through it.
//! - [`runtime`]: the Lambda Runtime API host, usable on its own (the functions' binary tests).

mod connections;
mod error;
mod events;
mod http;
mod ids;
mod intrinsics;
pub mod log;
mod management;
mod pool;
mod reload;
pub mod runtime;
mod selection;
mod server;
mod state;
mod tasks;
mod template;
mod unpack;
mod websocket;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::connections::Registry;
use crate::log::log;
use crate::reload::Source;
use crate::state::{Deployment, Shared};
use crate::tasks::Tasks;

pub use crate::error::{Error, Unsupported};
pub use crate::reload::{ReloadReport, Restarted};

/// How to run the gateway: `DevOptions::new` has API Gateway's defaults.
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
    /// Where the functions' binaries are unpacked (default: `<assembly>/.dev`). A folder of its
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

impl Gateway {
    pub fn addr(&self) -> SocketAddr {
        self.addr
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
    fn routes(&self) -> Vec<(String, String)> {
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

    /// Reads the assembly again (template.json, assets.json, the zips) and swaps in what
    /// changed: functions whose code or settings changed get new processes, routes are
    /// replaced, connections stay open. On error nothing changed and the previous version
    /// keeps serving.
    pub fn reload(&self) -> Result<ReloadReport, Error> {
        let _one_at_a_time = self.reloading.lock().expect("not poisoned");
        reload::swap(&self.source, &self.shared)
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

/// Runs the gateway until Ctrl-C; `ready` runs once it listens.
pub async fn serve(opts: DevOptions, ready: impl FnOnce(&Gateway)) -> Result<(), Error> {
    let gateway = start(opts).await?;
    ready(&gateway);
    tokio::signal::ctrl_c().await.map_err(Error::CtrlC)?;
    log!(
        "gateway",
        "Ctrl-C: closing connections and stopping the functions"
    );
    gateway.shutdown().await;
    Ok(())
}

/// Starts the gateway in this process; it serves until `Gateway::shutdown`.
pub async fn start(opts: DevOptions) -> Result<Gateway, Error> {
    let listen_error = |error| Error::Listen {
        host: opts.host,
        port: opts.port,
        error,
    };
    let mut source = Source {
        assembly: opts.assembly.clone(),
        unpacked: opts
            .unpacked
            .clone()
            .unwrap_or_else(|| opts.assembly.join(".dev")),
        stage: opts.stage.clone(),
        management: String::new(),
        max_concurrency: opts.max_concurrency,
    };
    let (model, manifest) = source.read()?;
    let listener = TcpListener::bind((opts.host, opts.port))
        .await
        .map_err(listen_error)?;
    let addr = listener.local_addr().map_err(listen_error)?;
    // The address clients and functions reach: a wildcard bind is reached through loopback.
    let addr = if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    };
    if opts.unpacked.is_some() {
        unpack::prune(&source.unpacked, &manifest)?;
    }
    source.management = format!("http://{addr}/{}", model.stage);
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
