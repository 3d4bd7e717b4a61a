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
//! - Who may connect, as the template says: `$connect`'s Lambda authorizer, IAM (SigV4 with
//!   the run's [`Credentials`], [`Gateway::credentials`]) and API keys ([`ApiKey`],
//!   [`Gateway::api_keys`]); [`Gateway::banner`] and [`Gateway::connect_hint`] tell users.
//! - The AWS services the functions use: the template's DynamoDB tables and Secrets Manager
//!   secrets are created in a moto server the gateway runs on 127.0.0.1
//!   ([`DevOptions::local_services`], [`Gateway::local_services`]); any other resource type a
//!   function would need is refused at start, naming it.
//! - What it lets in ([`Exposure`], [`start_with`], [`serve_with`]): by default only loopback
//!   pages and clients without an `Origin`, a `Host` naming this gateway, handshakes whose
//!   headers arrive within seconds and fit 10 KB, a bounded number of connections; the stage's
//!   per-route throttling when asked for. Beyond loopback, `@connections` needs the run's
//!   credentials.
//! - [`stop_requested`]: Ctrl-C, SIGTERM or SIGHUP, each of which stops [`serve`]. Nothing it
//!   runs outlives its process, even one killed with SIGKILL: a watchdog then kills the
//!   function processes, what they forked, and moto.
//! - [`log`]: the gateway's lines on stderr; whoever prints beside it writes through it.
//! - [`runtime`]: the Lambda Runtime API host, usable on its own (the functions' binary tests).

mod access;
mod api_keys;
mod authorizer;
mod browsers;
mod connections;
mod error;
mod events;
mod http;
mod iam;
mod ids;
mod intrinsics;
pub mod log;
mod management;
mod policy;
mod pool;
mod reload;
pub mod runtime;
mod selection;
mod server;
mod services;
mod state;
mod tasks;
mod template;
mod throttle;
mod unpack;
mod watchdog;
mod websocket;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::connections::Registry;
use crate::log::log;
use crate::reload::Source;
use crate::state::{Deployment, Shared};
use crate::tasks::Tasks;
use crate::template::{Authorization, REGION};

pub use crate::api_keys::ApiKey;
pub use crate::error::{Error, Unsupported};
pub use crate::iam::Credentials;
pub use crate::reload::{ReloadReport, Restarted};
pub use crate::services::needed as needs_local_services;

/// How long the presigned URL of [`Gateway::connect_hint`] is valid: SigV4's longest, so it
/// lasts the run.
const PRESIGNED_FOR: Duration = Duration::from_secs(7 * 24 * 60 * 60);

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
    /// The moto_server binary that provides the template's DynamoDB tables and Secrets
    /// Manager secrets on 127.0.0.1 (started only for a template that has some; its log goes
    /// to `moto.log` in the `unpacked` folder). `None`: such a template is refused.
    pub local_services: Option<PathBuf>,
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
            local_services: None,
        }
    }
}

/// What the gateway lets in beyond [`DevOptions`]: the safe defaults keep web pages out and
/// bound the open connections.
#[derive(Debug, Clone)]
pub struct Exposure {
    /// Browser origins allowed to connect beside loopback pages (`http://localhost:5173`,
    /// `https://127.0.0.1`, `http://[::1]:8080`: any port), as `scheme://host[:port]`;
    /// `*` allows every page. Clients that send no `Origin` (CLIs, SDKs) always may.
    pub allowed_origins: Vec<String>,
    /// Open TCP connections (WebSockets and HTTP) at most; one more is answered 503.
    pub max_connections: usize,
    /// Enforce the stage's `ThrottlingBurstLimit` and `ThrottlingRateLimit` as API Gateway
    /// does, per route (`DefaultRouteSettings`, overridden by `RouteSettings`): a `$connect`
    /// over them is refused 429, a message gets a "Too Many Requests" frame and its connection
    /// stays open. Off by default:
    /// load tests and benchmarks run far above a stage's deployed limits.
    pub stage_throttling: bool,
}

impl Default for Exposure {
    fn default() -> Exposure {
        Exposure {
            allowed_origins: Vec::new(),
            max_connections: 4096,
            stage_throttling: false,
        }
    }
}

/// A running gateway.
pub struct Gateway {
    addr: SocketAddr,
    /// The address it is bound to (a wildcard bind's `0.0.0.0`, where `addr` is loopback).
    listen: SocketAddr,
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

    /// The region the gateway pretends to be in: IAM-authorized clients sign for it.
    pub fn region(&self) -> &'static str {
        REGION
    }

    /// The run's AWS credentials: what every function gets in its environment, and what a
    /// client signs an IAM-authorized `$connect` with (service `execute-api`, [`Self::region`]).
    pub fn credentials(&self) -> &Credentials {
        &self.shared.credentials
    }

    /// The API keys a client may connect with on this stage (with the values generated for
    /// this run where the template has none), for a `$connect` that requires one.
    pub fn api_keys(&self) -> Vec<ApiKey> {
        self.shared.deployment().model.api_keys.valid.clone()
    }

    /// [`Self::url`] presigned with the run's credentials (SigV4 in the query string), valid
    /// for `expires` (at most 7 days): what a client without a SigV4 signer connects to an
    /// IAM-authorized `$connect` with.
    pub fn presigned_url(&self, expires: Duration) -> String {
        let query = iam::presign(
            &self.shared.credentials,
            &self.addr.to_string(),
            &format!("/{}", self.stage),
            SystemTime::now(),
            expires,
        );
        format!("{}?{query}", self.url())
    }

    /// A `wscat` command line that gets through `$connect`'s checks: the presigned URL for
    /// IAM, the authorizer's headers and query parameters (values to fill in), the API key.
    pub fn connect_hint(&self) -> String {
        let deployment = self.shared.deployment();
        let model = &deployment.model;
        let Some(guard) = model.routes.get("$connect").map(|r| &r.guard) else {
            return format!("wscat -c {}", self.url());
        };
        let mut url = self.url();
        let mut query = Vec::new();
        let mut headers = Vec::new();
        match &guard.authorization {
            Authorization::None => {}
            Authorization::Iam => url = self.presigned_url(PRESIGNED_FOR),
            Authorization::Custom(id) => {
                for source in &model.authorizers[id].identity_sources {
                    match source {
                        authorizer::IdentitySource::Header(name) => {
                            headers.push(format!("-H '{name}: …'"));
                        }
                        authorizer::IdentitySource::QueryString(name) => {
                            query.push(format!("{name}=…"));
                        }
                        _ => {}
                    }
                }
            }
        }
        if guard.api_key_required && model.api_keys.source == api_keys::KeySource::Header {
            let key = model
                .api_keys
                .valid
                .first()
                .map_or("…", |k| k.value.as_str());
            headers.push(format!("-H 'x-api-key: {key}'"));
        }
        if !query.is_empty() {
            let joiner = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{joiner}{}", query.join("&"));
        }
        let mut line = format!("wscat -c '{url}'");
        for header in headers {
            line.push(' ');
            line.push_str(&header);
        }
        line
    }

    /// What `cargo xtask dev` prints once the gateway listens: the URLs, the routes and their
    /// functions, and who may connect.
    pub fn banner(&self) -> String {
        let deployment = self.shared.deployment();
        let model = &deployment.model;
        let mut text = format!(
            "wsecho local gateway, stage `{}`\n  WebSocket:      {}\n  @connections:   {}/@connections/{{connectionId}}\n  routes:\n",
            self.stage,
            self.url(),
            self.management_url()
        );
        for route in model.routes.values() {
            let function = deployment.pools[&route.function].spec.label();
            let mut guards = Vec::new();
            match &route.guard.authorization {
                Authorization::None => {}
                Authorization::Iam => guards.push("IAM".to_owned()),
                Authorization::Custom(id) => {
                    guards.push(format!("authorizer {}", model.authorizers[id].name));
                }
            }
            if route.guard.api_key_required {
                guards.push("API key".to_owned());
            }
            let guards = if guards.is_empty() {
                String::new()
            } else {
                format!("  (guarded: {})", guards.join(", "))
            };
            text.push_str(&format!("    {:<14} -> {function}{guards}\n", route.key));
        }
        if let Some(guard) = model.routes.get("$connect").map(|r| &r.guard)
            && *guard != template::Guard::default()
        {
            text.push_str("  who may connect:\n");
            match &guard.authorization {
                Authorization::None => {}
                Authorization::Iam => {
                    let c = &self.shared.credentials;
                    text.push_str(&format!(
                        "    IAM: a SigV4 signature (service execute-api, region {REGION}) with this run's credentials\n      AWS_ACCESS_KEY_ID={}\n      AWS_SECRET_ACCESS_KEY={}\n      AWS_SESSION_TOKEN={}\n",
                        c.access_key_id, c.secret_access_key, c.session_token
                    ));
                }
                Authorization::Custom(id) => {
                    let spec = &model.authorizers[id];
                    let function = deployment.pools[&spec.function].spec.label();
                    let sources: Vec<String> =
                        spec.identity_sources.iter().map(|s| s.describe()).collect();
                    text.push_str(&format!(
                        "    authorizer {} (function {function}) needs {}\n",
                        spec.name,
                        if sources.is_empty() {
                            "nothing (it runs on every connection)".to_owned()
                        } else {
                            sources.join(", ")
                        }
                    ));
                    for source in &spec.identity_sources {
                        if let authorizer::IdentitySource::StageVariable(name) = source
                            && !model.stage_variables.contains_key(name)
                        {
                            text.push_str(&format!(
                                "      the stage has no variable {name}: every connection gets 401\n"
                            ));
                        }
                    }
                }
            }
            if guard.api_key_required {
                let keys = &model.api_keys;
                text.push_str(&format!(
                    "    API key from {}, one of:\n",
                    keys.source.describe()
                ));
                if keys.valid.is_empty() {
                    text.push_str(
                        "      (none: no enabled key is in a usage plan of this stage, so every connection gets 403)\n",
                    );
                }
                for key in &keys.valid {
                    text.push_str(&format!(
                        "      {}{}: {}{}\n",
                        key.logical_id,
                        key.name
                            .as_deref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default(),
                        key.value,
                        if key.generated {
                            " (generated for this run)"
                        } else {
                            ""
                        }
                    ));
                }
            }
            text.push_str(&format!("  connect with:   {}\n", self.connect_hint()));
        }
        if let Some(running) = self.source.services.running() {
            text.push_str(&format!("  local AWS:      {}\n", running.describe()));
        }
        if self.shared.exposed {
            let c = &self.shared.credentials;
            text.push_str(&format!(
                "  {}\n  @connections callers sign with AWS_ACCESS_KEY_ID={} (the functions do)\n",
                exposed_warning(self.listen),
                c.access_key_id
            ));
        }
        text.push_str("Ctrl-C stops it.");
        text
    }

    /// The AWS services the gateway provides for the template's tables and secrets (a moto
    /// server on 127.0.0.1), with each resource's physical id by logical ID; `None` when the
    /// template has none.
    pub fn local_services(&self) -> Option<assembly::LocalServices> {
        let running = self.source.services.running()?;
        Some(assembly::LocalServices {
            endpoint: running.endpoint,
            pid: running.pid,
            resources: running
                .resources
                .into_iter()
                .map(|(id, provided)| (id, provided.physical_id))
                .collect(),
        })
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
        self.source.services.stop();
    }
}

/// A gateway dropped without `shutdown` (a failing test) still stops listening and closes its
/// connections; its processes die with their tasks.
impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.accept.abort();
        self.source.services.stop();
    }
}

/// What `dev` says, loudly, when it listens beyond this machine's loopback.
fn exposed_warning(listen: SocketAddr) -> String {
    format!(
        "WARNING: listening on {listen}, reachable from other machines: anyone on the network can connect and invoke the functions; @connections needs this run's credentials"
    )
}

/// Runs the gateway until Ctrl-C; `ready` runs once it listens.
pub async fn serve(opts: DevOptions, ready: impl FnOnce(&Gateway)) -> Result<(), Error> {
    serve_with(opts, Exposure::default(), ready).await
}

/// [`serve`] with what it lets in set (`cargo xtask dev --allow-origin`).
pub async fn serve_with(
    opts: DevOptions,
    exposure: Exposure,
    ready: impl FnOnce(&Gateway),
) -> Result<(), Error> {
    // Listening for the signals before anyone can send one.
    let stop = stop_requested();
    let gateway = start_with(opts, exposure).await?;
    ready(&gateway);
    let signal = stop.await?;
    log!(
        "gateway",
        "{signal}: closing connections and stopping the functions"
    );
    gateway.shutdown().await;
    Ok(())
}

/// Waits for Ctrl-C, SIGTERM (`kill`, a supervisor) or SIGHUP (the terminal closed), and says
/// which came: each stops the gateway the same way, so no function process outlives it.
/// Handlers are installed at the call, so a signal sent after it is never the default's kill.
pub fn stop_requested() -> impl Future<Output = Result<&'static str, Error>> {
    use tokio::signal::unix::{SignalKind, signal};
    let listening = (|| {
        Ok((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
            signal(SignalKind::hangup())?,
        ))
    })();
    async move {
        let (mut interrupt, mut term, mut hup) = listening.map_err(Error::CtrlC)?;
        Ok(tokio::select! {
            _ = interrupt.recv() => "Ctrl-C",
            _ = term.recv() => "SIGTERM",
            _ = hup.recv() => "SIGHUP",
        })
    }
}

/// Starts the gateway in this process; it serves until `Gateway::shutdown`.
pub async fn start(opts: DevOptions) -> Result<Gateway, Error> {
    start_with(opts, Exposure::default()).await
}

/// [`start`] with what it lets in set.
pub async fn start_with(opts: DevOptions, exposure: Exposure) -> Result<Gateway, Error> {
    let listen_error = |error| Error::Listen {
        host: opts.host,
        port: opts.port,
        error,
    };
    let unpacked = opts
        .unpacked
        .clone()
        .unwrap_or_else(|| opts.assembly.join(".dev"));
    let credentials = Credentials::generate();
    let mut source = Source {
        assembly: opts.assembly.clone(),
        services: services::Services::new(
            opts.local_services.clone(),
            unpacked.join("moto.log"),
            credentials.clone(),
        ),
        unpacked,
        stage: opts.stage.clone(),
        management: String::new(),
        max_concurrency: opts.max_concurrency,
        credentials,
        key_seed: ids::secret(32, b"0123456789abcdef"),
    };
    let (model, manifest) = source.read()?;
    let listener = TcpListener::bind((opts.host, opts.port))
        .await
        .map_err(listen_error)?;
    let addr = listener.local_addr().map_err(listen_error)?;
    let browsers = browsers::Browsers::new(addr.ip(), &exposure.allowed_origins);
    let listen = addr;
    let exposed = !addr.ip().is_loopback();
    if exposed {
        log!("gateway", "{}", exposed_warning(listen));
    }
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
        deployment: RwLock::new(Arc::new(Deployment::new(model, pools))),
        registry: Registry::default(),
        tasks: Tasks::new(stop_rx),
        idle_timeout: opts.idle_timeout,
        max_duration: opts.max_duration,
        addr,
        browsers,
        exposed,
        stage_throttling: exposure.stage_throttling,
        slots: Arc::new(server::Slots::new(server::connection_cap(
            exposure.max_connections,
        ))),
        credentials: source.credentials.clone(),
    });
    let accept = tokio::spawn(server::accept(listener, shared.clone()));
    Ok(Gateway {
        addr,
        listen,
        stage,
        shared,
        source,
        reloading: Mutex::new(()),
        stop,
        accept,
    })
}
