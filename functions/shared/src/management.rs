//! The API Gateway Management API client (`@connections`), built once per process, from the
//! environment as every client is (`crate::aws`).

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::config::http::HttpResponse;
use aws_sdk_apigatewaymanagement::config::{
    BehaviorVersion, Config, Credentials, Region, SharedHttpClient, StalledStreamProtectionConfig,
};
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use std::collections::HashMap;
use std::sync::Mutex;

pub use crate::aws::SettingsError;
use crate::aws::{self, Environment};

/// The variable that replaces `https://{domainName}/{stage}` as the management endpoint
/// (used verbatim, e.g. `http://127.0.0.1:4510/dev` for the local gateway).
pub const ENDPOINT_OVERRIDE_VAR: &str = "WSECHO_MANAGEMENT_ENDPOINT";

/// What the management client needs from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub region: String,
    pub credentials: Credentials,
    pub endpoint_override: Option<String>,
}

impl Settings {
    /// Reads `AWS_REGION` (or `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (optional) and the endpoint override.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(aws::env_lookup)
    }

    /// Like [`Settings::from_env`], reading variables through `lookup`. Empty values count as
    /// unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let Environment {
            region,
            credentials,
        } = Environment::from_lookup(&lookup)?;
        Ok(Self {
            region,
            credentials,
            endpoint_override: lookup(ENDPOINT_OVERRIDE_VAR).filter(|value| !value.is_empty()),
        })
    }
}

/// The event lacks what the endpoint is made of.
#[derive(Debug, thiserror::Error)]
#[error(
    "the event has no requestContext.{0}, needed for the management endpoint \
     https://{{domainName}}/{{stage}}; set {ENDPOINT_OVERRIDE_VAR} to override it"
)]
pub struct EndpointError(&'static str);

/// Why a post to a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// 410: the connection is closed, unknown or not open yet.
    #[error("the connection is gone (410)")]
    Gone,
    /// 413: the endpoint refused the payload as too large.
    #[error("the payload is too large for the connection (413)")]
    PayloadTooLarge,
    /// Anything else: `kind` says which part failed (service, timeout, dispatch...).
    #[error(
        "posting to the connection failed ({kind}, status {status:?}, code {code:?}): {detail}"
    )]
    Failed {
        kind: &'static str,
        status: Option<u16>,
        code: Option<String>,
        detail: String,
    },
}

/// Management API clients, one per endpoint, sharing one HTTP client (and its connection pool).
pub struct Management {
    settings: Settings,
    http_client: SharedHttpClient,
    clients: Mutex<HashMap<String, Client>>,
}

impl Management {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            http_client: aws::https_client(),
            clients: Mutex::new(HashMap::new()),
        }
    }

    pub fn from_env() -> Result<Self, SettingsError> {
        Ok(Self::new(Settings::from_env()?))
    }

    /// The endpoint to post replies for `request` to: the override if set, else
    /// `https://{domainName}/{stage}`.
    pub fn endpoint_for(
        &self,
        request: &ApiGatewayWebsocketProxyRequest,
    ) -> Result<String, EndpointError> {
        if let Some(endpoint) = &self.settings.endpoint_override {
            return Ok(endpoint.clone());
        }
        let context = &request.request_context;
        let domain = context
            .domain_name
            .as_deref()
            .filter(|domain| !domain.is_empty())
            .ok_or(EndpointError("domainName"))?;
        let stage = context
            .stage
            .as_deref()
            .filter(|stage| !stage.is_empty())
            .ok_or(EndpointError("stage"))?;
        Ok(format!("https://{domain}/{stage}"))
    }

    /// The client for `endpoint`, built on first use and kept for the life of the process.
    pub fn client(&self, endpoint: &str) -> Client {
        // A poisoned lock only means another invocation panicked while inserting; the map
        // itself is still sound.
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry(endpoint.to_owned())
            .or_insert_with(|| Client::from_conf(self.config(endpoint)))
            .clone()
    }

    fn config(&self, endpoint: &str) -> Config {
        Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.settings.region.clone()))
            .credentials_provider(self.settings.credentials.clone())
            .endpoint_url(endpoint)
            .http_client(self.http_client.clone())
            .retry_config(aws::retry_config())
            .timeout_config(aws::timeout_config())
            // A reply is at most 128 KB and every attempt has the timeout above: the
            // per-stream throughput watch adds work to each call and catches nothing more.
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .build()
    }

    /// Sends `data` to `connection_id` (PostToConnection) through `endpoint`.
    pub async fn post(
        &self,
        endpoint: &str,
        connection_id: &str,
        data: Vec<u8>,
    ) -> Result<(), PostError> {
        self.client(endpoint)
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

fn classify(error: SdkError<PostToConnectionError, HttpResponse>) -> PostError {
    let detail = DisplayErrorContext(&error).to_string();
    let (kind, status, code) = match &error {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = context.err().code().map(str::to_owned);
            // The status as well as the modeled code: an endpoint that omits the error type
            // header (as some emulators do) still means the same thing by 410 and 413.
            match (code.as_deref(), status) {
                (Some("GoneException"), _) | (_, 410) => return PostError::Gone,
                (Some("PayloadTooLargeException"), _) | (_, 413) => {
                    return PostError::PayloadTooLarge;
                }
                _ => ("service", Some(status), code),
            }
        }
        SdkError::ResponseError(context) => {
            ("response", Some(context.raw().status().as_u16()), None)
        }
        SdkError::TimeoutError(_) => ("timeout", None, None),
        SdkError::DispatchFailure(_) => ("dispatch", None, None),
        SdkError::ConstructionFailure(_) => ("construction", None, None),
        _ => ("unknown", None, None),
    };
    PostError::Failed {
        kind,
        status,
        code,
        detail,
    }
}
