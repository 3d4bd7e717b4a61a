//! What the connection handlers share: the version of the assembly being served, the open
//! connections, the running tasks, and the limits.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::browsers::Browsers;
use crate::connections::Registry;
use crate::iam::Credentials;
use crate::pool::Pool;
use crate::server::Slots;
use crate::tasks::Tasks;
use crate::template::ApiModel;
use crate::throttle::Bucket;

/// API Gateway's limits, fixed by AWS.
pub(crate) const FRAME_LIMIT: usize = 32 * 1024;
pub(crate) const MESSAGE_LIMIT: usize = 128 * 1024;

pub(crate) struct Shared {
    /// Routes and function pools; `Gateway::reload` swaps it whole. Each `$connect`, message
    /// and `$disconnect` works with the one it read first.
    pub(crate) deployment: RwLock<Arc<Deployment>>,
    pub(crate) registry: Registry,
    pub(crate) tasks: Tasks,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_duration: Duration,
    /// Where clients and functions reach the gateway: events' `domainName`, whatever `Host`
    /// a client sent.
    pub(crate) addr: SocketAddr,
    pub(crate) browsers: Browsers,
    /// Listening beyond loopback: the management API then needs the run's credentials.
    pub(crate) exposed: bool,
    /// Whether the stage's throttling applies (`Exposure::stage_throttling`).
    pub(crate) stage_throttling: bool,
    pub(crate) slots: Arc<Slots>,
    /// The run's AWS credentials: the functions', and what IAM-authorized clients sign with.
    pub(crate) credentials: Credentials,
}

impl Shared {
    pub(crate) fn deployment(&self) -> Arc<Deployment> {
        self.deployment.read().expect("not poisoned").clone()
    }
}

/// One version of the assembly: what the template routes where, and a process pool for each
/// function a route invokes.
pub(crate) struct Deployment {
    pub(crate) model: ApiModel,
    /// By function logical ID.
    pub(crate) pools: BTreeMap<String, Arc<Pool>>,
    /// The stage's throttling, a bucket per throttled route key (full again after a reload).
    throttle: BTreeMap<String, Bucket>,
}

impl Deployment {
    pub(crate) fn new(model: ApiModel, pools: BTreeMap<String, Arc<Pool>>) -> Deployment {
        let throttle = model.throttling.buckets();
        Deployment {
            model,
            pools,
            throttle,
        }
    }

    /// Takes a token from the route's bucket; false when the request is throttled.
    pub(crate) fn admit(&self, route_key: &str) -> bool {
        self.throttle.get(route_key).is_none_or(Bucket::take)
    }
}
