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
use crate::pool::Pool;
use crate::state::{Deployment, Shared};
use crate::template::{ApiModel, FunctionSpec, REGION};
use crate::unpack;

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Functions that got a new process pool, in logical-ID order.
    pub restarted: Vec<Restarted>,
    /// Functions no route invokes any more (labels); their processes stop.
    pub removed: Vec<String>,
    /// Route keys added, removed, or now invoking another function or with other settings.
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
}

/// The pools a model needs, and the functions that got a new one.
pub(crate) struct Pools {
    pub(crate) pools: BTreeMap<String, Arc<Pool>>,
    pub(crate) restarted: Vec<Restarted>,
}

impl Source {
    /// The template's API and the asset manifest.
    pub(crate) fn read(&self) -> Result<(ApiModel, AssetManifest), Error> {
        let model = ApiModel::read(&self.assembly, self.stage.as_deref())?;
        let manifest = AssetManifest::read(&self.assembly.join(MANIFEST_FILE))?;
        Ok((model, manifest))
    }

    /// A pool for each function a route invokes: `current`'s when its spec is unchanged, a new
    /// one otherwise. Every bootstrap is unpacked unless cached: a synth replaces the whole
    /// assembly folder, `.dev` included, and a kept pool still starts processes.
    pub(crate) fn pools(
        &self,
        model: &ApiModel,
        manifest: &AssetManifest,
        current: &BTreeMap<String, Arc<Pool>>,
    ) -> Result<Pools, Error> {
        let mut pools = BTreeMap::new();
        let mut restarted = Vec::new();
        for route in model.routes.values() {
            if pools.contains_key(&route.function) {
                continue;
            }
            let spec = &model.functions[&route.function];
            let bootstrap = unpack::bootstrap(&self.assembly, &self.unpacked, manifest, spec)?;
            let why = match current.get(&route.function) {
                Some(pool) if pool.spec == *spec => {
                    pools.insert(route.function.clone(), pool.clone());
                    continue;
                }
                Some(pool) => differences(&pool.spec, spec),
                None => vec!["new"],
            };
            let environment = function_environment(spec, &self.management);
            pools.insert(
                route.function.clone(),
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
        .filter(|(key, route)| current.model.routes.get(*key) != Some(*route))
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

    *shared.deployment.write().expect("not poisoned") = Arc::new(Deployment { model, pools });
    for pool in replaced {
        pool.retire();
    }
    Ok(report)
}

/// The template's variables plus what Lambda itself sets and what a local run needs.
fn function_environment(spec: &FunctionSpec, management: &str) -> BTreeMap<String, String> {
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
