//! Who may connect: the checks API Gateway makes on a WebSocket upgrade before `$connect`
//! runs, in its order: the route's authorization (a Lambda authorizer, or IAM), then its API
//! key, then `$connect` itself. What they grant ([`Access`]) is computed once per connection
//! and goes into every event of it.

use std::time::SystemTime;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{Map, Value};

use crate::api_keys::KeySource;
use crate::authorizer::{self, Granted};
use crate::events::{self, ConnectionInfo};
use crate::iam;
use crate::state::{Deployment, Shared};
use crate::template::{ACCOUNT, Authorization, Guard, REGION};
use crate::websocket;

/// What `$connect`'s checks add to the connection's events.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Access {
    /// `requestContext.authorizer`: principal, latency and context from the authorizer.
    pub(crate) authorizer: Option<Value>,
    /// Fields of `requestContext.identity`: the IAM caller's, the API key and its id.
    pub(crate) identity: Map<String, Value>,
}

/// A refused handshake: the status and body the client gets, and why (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) reason: String,
}

impl Refusal {
    pub(crate) fn new(status: u16, body: impl Into<String>, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            body: body.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect`: what an authorizer's
/// policy must allow.
pub(crate) fn connect_arn(api_id: &str, stage: &str) -> String {
    format!("arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/{stage}/$connect")
}

/// Runs the `$connect` route's checks on an upgrade request; `None` when the route has none.
pub(crate) async fn check(
    shared: &Shared,
    deployment: &Deployment,
    guard: &Guard,
    request: &Request<Incoming>,
    info: &ConnectionInfo,
    request_id: &str,
) -> Result<Option<Access>, Refusal> {
    if *guard == Guard::default() {
        return Ok(None);
    }
    let model = &deployment.model;
    let mut access = Access::default();
    let mut usage_identifier_key = None;
    match &guard.authorization {
        Authorization::None => {}
        Authorization::Iam => {
            iam::verify(
                request.method().as_str(),
                request.uri().path(),
                request.uri().query(),
                request.headers(),
                &shared.credentials,
                SystemTime::now(),
            )
            .map_err(|denied| {
                Refusal::new(
                    403,
                    serde_json::json!({"message": denied.message}).to_string(),
                    format!("IAM: {}", denied.detail),
                )
            })?;
            access.identity.extend(shared.credentials.identity());
        }
        Authorization::Custom(id) => {
            let spec = &model.authorizers[id];
            let method_arn = connect_arn(&model.api_id, &model.stage);
            let event = events::authorizer_request(
                info,
                request_id,
                &method_arn,
                request.headers(),
                request.uri().query(),
                &model.stage_variables,
                shared.addr.port(),
            );
            let pool = &deployment.pools[&spec.function];
            let timeout = authorizer::TIMEOUT;
            let Granted {
                authorizer,
                usage_identifier_key: key,
            } = authorizer::authorize(spec, event, &method_arn, |event| {
                websocket::invoke(shared, pool, timeout, false, event)
            })
            .await
            .map_err(|refusal| Refusal {
                reason: format!("authorizer {}: {}", spec.name, refusal.reason),
                ..refusal
            })?;
            access.authorizer = Some(authorizer);
            usage_identifier_key = key;
        }
    }
    if guard.api_key_required {
        let keys = &model.api_keys;
        let presented = match keys.source {
            KeySource::Header => request
                .headers()
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            KeySource::Authorizer => usage_identifier_key,
        };
        let forbidden = |why: String| Refusal::new(403, r#"{"message":"Forbidden"}"#, why);
        let Some(presented) = presented.filter(|k| !k.is_empty()) else {
            return Err(forbidden(format!(
                "no API key ({})",
                keys.source.describe()
            )));
        };
        let Some(key) = keys.find(&presented) else {
            return Err(forbidden(format!(
                "the API key from {} is not a key of this stage",
                keys.source.describe()
            )));
        };
        access
            .identity
            .insert("apiKey".into(), key.value.clone().into());
        access
            .identity
            .insert("apiKeyId".into(), key.id.clone().into());
    }
    Ok(Some(access))
}
