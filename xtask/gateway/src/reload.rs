//! A version of the assembly as routes and process pools, read at start and again by
//! `Gateway::reload`, which swaps in what changed with every connection left open (same ids,
//! same registry).
//!
//! - A function whose spec changed (code, environment, memory, timeout, name) gets a new process
//!   pool: new invocations go there; invocations already running on the old pool finish, then
//!   its processes stop. A function that did not change keeps its pool and its warm processes.
//! - Routes, their integrations and the route selection expression are swapped together with
//!   the pools, as one value: each `$connect`, message and `$disconnect` uses the old version
//!   or the new one, never a mix.
//! - The stage name and the API are in every client's URL and every function's management
//!   endpoint: a change to them is refused with the old version still serving.
//!
//! All or nothing: an assembly that cannot be read or a zip that cannot be unpacked leaves the
//! running version untouched.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use assembly::{AssetManifest, MANIFEST_FILE};

use crate::error::Error;
use crate::iam::Credentials;
use crate::pool::Pool;
use crate::services::Services;
use crate::state::{Deployment, Shared};
use crate::template::{ApiModel, Authorization, FunctionSpec, REGION, Route};
use crate::unpack;

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Functions that got a new process pool, in logical-ID order.
    pub restarted: Vec<Restarted>,
    /// Functions no route invokes any more (labels); their processes stop.
    pub removed: Vec<String>,
    /// Route keys added, removed, or now invoking another function or with other settings
    /// (`$connect` also when its authorizer or the API keys changed).
    pub routes: Vec<String>,
    pub selection_changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restarted {
    pub logical_id: String,
    /// How logs name it (its package).
    pub label: String,
    /// What changed: `code`, `environment`, `memory`, `timeout`, `name`, or `new`.
    pub why: Vec<&'static str>,
}

impl ReloadReport {
    /// True when the assembly serves exactly what ran before.
    pub fn is_empty(&self) -> bool {
        self.restarted.is_empty()
            && self.removed.is_empty()
            && self.routes.is_empty()
            && !self.selection_changed
    }
}

/// One line: `restarted echo (code), connect (environment); routes: hello`.
impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no function or route changed");
        }
        let mut parts = Vec::new();
        if !self.restarted.is_empty() {
            let names: Vec<String> = self
                .restarted
                .iter()
                .map(|r| format!("{} ({})", r.label, r.why.join(", ")))
                .collect();
            parts.push(format!("restarted {}", names.join(", ")));
        }
        if !self.removed.is_empty() {
            parts.push(format!("stopped {}", self.removed.join(", ")));
        }
        if !self.routes.is_empty() {
            parts.push(format!("routes changed: {}", self.routes.join(", ")));
        }
        if self.selection_changed {
            parts.push("new route selection expression".to_owned());
        }
        f.write_str(&parts.join("; "))
    }
}

/// Where the gateway reads the assembly, so `reload` reads it again the way `start` did.
pub(crate) struct Source {
    pub(crate) assembly: PathBuf,
    pub(crate) unpacked: PathBuf,
    pub(crate) stage: Option<String>,
    /// The management endpoint the functions get.
    pub(crate) management: String,
    pub(crate) max_concurrency: usize,
    /// The run's credentials, which every function gets.
    pub(crate) credentials: Credentials,
    /// Makes the values of API keys the template leaves to API Gateway: one set per run.
    pub(crate) key_seed: String,
    /// The template's tables and secrets: created at start, kept across reloads.
    pub(crate) services: Services,
}

/// The pools a model needs, and the functions that got a new one.
pub(crate) struct Pools {
    pub(crate) pools: BTreeMap<String, Arc<Pool>>,
    pub(crate) restarted: Vec<Restarted>,
}

impl Source {
    /// The template's API and the asset manifest.
    pub(crate) fn read(&self) -> Result<(ApiModel, AssetManifest), Error> {
        let model = ApiModel::read(
            &self.assembly,
            self.stage.as_deref(),
            &self.key_seed,
            &self.services,
        )?;
        let manifest = AssetManifest::read(&self.assembly.join(MANIFEST_FILE))?;
        Ok((model, manifest))
    }

    /// A pool for each function a route or its authorizer invokes: `current`'s when its spec
    /// is unchanged, a new one otherwise. Every bootstrap is unpacked unless cached: a synth
    /// replaces the whole assembly folder, `.dev` included, and a kept pool still starts
    /// processes.
    pub(crate) fn pools(
        &self,
        model: &ApiModel,
        manifest: &AssetManifest,
        current: &BTreeMap<String, Arc<Pool>>,
    ) -> Result<Pools, Error> {
        let mut pools = BTreeMap::new();
        let mut restarted = Vec::new();
        for function in model.invoked_functions() {
            let spec = &model.functions[function];
            let bootstrap = unpack::bootstrap(&self.assembly, &self.unpacked, manifest, spec)?;
            let why = match current.get(function) {
                Some(pool) if pool.spec == *spec => {
                    pools.insert(function.to_owned(), pool.clone());
                    continue;
                }
                Some(pool) => differences(&pool.spec, spec),
                None => vec!["new"],
            };
            let environment = function_environment(spec, &self.management, &self.credentials);
            pools.insert(
                function.to_owned(),
                Arc::new(Pool::new(
                    spec.clone(),
                    bootstrap,
                    environment,
                    self.max_concurrency,
                )),
            );
            restarted.push(Restarted {
                logical_id: spec.logical_id.clone(),
                label: spec.label().to_owned(),
                why,
            });
        }
        restarted.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
        Ok(Pools { pools, restarted })
    }
}

fn differences(old: &FunctionSpec, new: &FunctionSpec) -> Vec<&'static str> {
    let mut why = Vec::new();
    if old.s3_key != new.s3_key {
        why.push("code");
    }
    if old.environment != new.environment {
        why.push("environment");
    }
    if old.memory_mb != new.memory_mb {
        why.push("memory");
    }
    if old.timeout != new.timeout {
        why.push("timeout");
    }
    if old.name != new.name || old.arn != new.arn || old.package != new.package {
        why.push("name");
    }
    why
}

/// Reads the assembly again and swaps in what changed; see the module comment. On error
/// nothing changed.
pub(crate) fn swap(source: &Source, shared: &Shared) -> Result<ReloadReport, Error> {
    swap_inner(source, shared).map_err(|error| Error::Reload {
        assembly: source.assembly.clone(),
        error: Box::new(error),
    })
}

fn swap_inner(source: &Source, shared: &Shared) -> Result<ReloadReport, Error> {
    let (model, manifest) = source.read()?;
    let current = shared.deployment();
    if model.stage != current.model.stage {
        return Err(Error::StageChanged {
            old: current.model.stage.clone(),
            new: model.stage,
        });
    }
    if model.api_id != current.model.api_id {
        return Err(Error::ApiChanged);
    }
    let Pools { pools, restarted } = source.pools(&model, &manifest, &current.pools)?;

    let mut routes: Vec<String> = model
        .routes
        .iter()
        .filter(|(key, route)| match current.model.routes.get(*key) {
            Some(old) => old != *route || guard_changed(&current.model, &model, route),
            None => true,
        })
        .map(|(key, _)| key.clone())
        .collect();
    routes.extend(
        current
            .model
            .routes
            .keys()
            .filter(|key| !model.routes.contains_key(*key))
            .cloned(),
    );
    routes.sort();
    let replaced: Vec<Arc<Pool>> = current
        .pools
        .iter()
        .filter(|(id, old)| !pools.get(*id).is_some_and(|new| Arc::ptr_eq(old, new)))
        .map(|(_, old)| old.clone())
        .collect();
    let removed = current
        .pools
        .iter()
        .filter(|(id, _)| !pools.contains_key(*id))
        .map(|(_, pool)| pool.spec.label().to_owned())
        .collect();
    let report = ReloadReport {
        restarted,
        removed,
        routes,
        selection_changed: model.route_selection != current.model.route_selection,
    };

    *shared.deployment.write().expect("not poisoned") = Arc::new(Deployment::new(model, pools));
    for pool in replaced {
        pool.retire();
    }
    Ok(report)
}

/// Whether what guards `route` (its authorizer, the API keys) changed between two versions
/// whose routes are equal.
fn guard_changed(old: &ApiModel, new: &ApiModel, route: &Route) -> bool {
    let authorizer_changed = match &route.guard.authorization {
        Authorization::Custom(id) => {
            old.authorizers.get(id) != new.authorizers.get(id)
                || old.stage_variables != new.stage_variables
        }
        _ => false,
    };
    authorizer_changed || (route.guard.api_key_required && old.api_keys != new.api_keys)
}

/// The template's variables plus what Lambda itself sets and what a local run needs.
fn function_environment(
    spec: &FunctionSpec,
    management: &str,
    credentials: &Credentials,
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
        // The run's credentials, as Lambda hands a function its role's session: the SDK wants
        // them, the local management API ignores signatures, IAM-authorized `$connect` checks
        // them (a function may connect to the API as a client).
        ("AWS_ACCESS_KEY_ID", credentials.access_key_id.clone()),
        (
            "AWS_SECRET_ACCESS_KEY",
            credentials.secret_access_key.clone(),
        ),
        ("AWS_SESSION_TOKEN", credentials.session_token.clone()),
        ("WSECHO_MANAGEMENT_ENDPOINT", management.to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("TZ", ":UTC".to_owned()),
    ];
    for (name, value) in lambda {
        env.insert(name.to_owned(), value);
    }
    env
}
