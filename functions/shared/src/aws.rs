//! What every AWS SDK client of the functions shares: the region and credentials Lambda puts in
//! the environment, the endpoint the SDK's standard variables name, and the HTTPS client.
//!
//! No `aws-config`: in Lambda the credentials and region are plain environment variables, so
//! reading them here keeps the SSO/STS/IMDS machinery (and its build time) out of the binary.
//! `aws-config` is also what reads `AWS_ENDPOINT_URL_<SERVICE>`; without it a client ignores
//! those variables, so [`endpoint_url`] reads them as the SDK documents them.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

/// A setting missing from the environment.
#[derive(thiserror::Error)]
pub enum SettingsError {
    #[error(
        "environment variable {0} is not set: Lambda sets it for every function; \
         for a local run set it (dummy credentials are fine against the local gateway)"
    )]
    Missing(&'static str),
    /// A variable the template sets for the function (a table name, a secret's ARN).
    #[error(
        "environment variable {0} is not set: the app's template sets it (run `cargo xtask synth`); \
         for a run by hand set it yourself"
    )]
    MissingFromTemplate(&'static str),
}

// `main` returns this error at startup and Rust prints it with `Debug`: make that the message.
impl std::fmt::Debug for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Who the functions sign as, and where: Lambda's region and the role's credentials.
#[derive(Debug, Clone)]
pub struct Environment {
    pub region: String,
    pub credentials: Credentials,
}

impl Environment {
    /// Reads `AWS_REGION` (or `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` (optional).
    pub fn from_env() -> Result<Environment, SettingsError> {
        Environment::from_lookup(env_lookup)
    }

    /// Like [`Environment::from_env`], reading variables through `lookup`. Empty values count
    /// as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let required = |name: &'static str| get(name).ok_or(SettingsError::Missing(name));
        let region = get("AWS_REGION")
            .or_else(|| get("AWS_DEFAULT_REGION"))
            .ok_or(SettingsError::Missing("AWS_REGION"))?;
        let credentials = Credentials::new(
            required("AWS_ACCESS_KEY_ID")?,
            required("AWS_SECRET_ACCESS_KEY")?,
            get("AWS_SESSION_TOKEN"),
            None,
            "lambda-environment",
        );
        Ok(Environment {
            region,
            credentials,
        })
    }
}

/// What a client of one service needs: who signs, and where to send requests.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub environment: Environment,
    /// `None`: the service's regional endpoint.
    pub endpoint_url: Option<String>,
}

impl ClientSettings {
    /// The [`Environment`] and the [`endpoint_url`] of `service`, read through `lookup`.
    pub fn from_lookup(
        service: Service,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ClientSettings, SettingsError> {
        Ok(ClientSettings {
            environment: Environment::from_lookup(&lookup)?,
            endpoint_url: endpoint_url(service, &lookup),
        })
    }
}

/// An AWS service, as its endpoint variable names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The SDK's service id in upper snake case: `DYNAMODB`, `SECRETS_MANAGER`.
    pub env_name: &'static str,
}

pub const DYNAMODB: Service = Service {
    env_name: "DYNAMODB",
};
pub const SECRETS_MANAGER: Service = Service {
    env_name: "SECRETS_MANAGER",
};

/// The endpoint to send `service`'s requests to, when the environment names one, as the SDKs
/// read it: `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, neither when
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`. `None`: the service's regional endpoint.
/// (The local gateway points these at its moto server.)
pub fn endpoint_url(service: Service, lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
    if get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
    {
        return None;
    }
    get(&format!("AWS_ENDPOINT_URL_{}", service.env_name)).or_else(|| get("AWS_ENDPOINT_URL"))
}

/// The variable `name`, for [`Environment::from_lookup`] and the like.
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The variable `name` that the template sets, or [`SettingsError::MissingFromTemplate`].
pub fn template_variable(
    name: &'static str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, SettingsError> {
    lookup(name)
        .filter(|value| !value.is_empty())
        .ok_or(SettingsError::MissingFromTemplate(name))
}

/// The HTTPS client for SDK clients: smithy's hyper 1 client on rustls with ring, not the
/// SDK's default on aws-lc (a large C build) — a smaller binary and no C toolchain dance. Plain
/// `http://` endpoints (the local gateway, moto) work through it too.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Quick retries: a function's caller is waiting (a client's handshake, the sender of a
/// message), and the whole invocation must finish well within the function's timeout.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(500))
}

/// Bounds on each call: a hung endpoint costs seconds, not the function's whole timeout.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_service_variable_wins_over_the_global_one() {
        let vars = lookup(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:2"),
        ]);
        assert_eq!(
            endpoint_url(DYNAMODB, &vars).as_deref(),
            Some("http://127.0.0.1:2")
        );
        assert_eq!(
            endpoint_url(SECRETS_MANAGER, &vars).as_deref(),
            Some("http://127.0.0.1:1")
        );
        let only_secrets = lookup(&[("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:3")]);
        assert_eq!(
            endpoint_url(SECRETS_MANAGER, &only_secrets).as_deref(),
            Some("http://127.0.0.1:3")
        );
        assert_eq!(endpoint_url(DYNAMODB, &only_secrets), None);
        assert_eq!(endpoint_url(DYNAMODB, lookup(&[])), None);
    }

    #[test]
    fn configured_endpoints_can_be_ignored_and_empty_ones_are_unset() {
        let ignored = lookup(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"),
        ]);
        assert_eq!(endpoint_url(DYNAMODB, ignored), None);
        let empty = lookup(&[
            ("AWS_ENDPOINT_URL_DYNAMODB", ""),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false"),
        ]);
        assert_eq!(
            endpoint_url(DYNAMODB, empty).as_deref(),
            Some("http://127.0.0.1:1")
        );
    }

    #[test]
    fn region_and_credentials_come_from_lambdas_variables() {
        let environment = Environment::from_lookup(lookup(&[
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]))
        .unwrap();
        assert_eq!(environment.region, "eu-west-1");
        assert_eq!(environment.credentials.access_key_id(), "AKID");
        assert_eq!(environment.credentials.session_token(), None);
        let missing = Environment::from_lookup(lookup(&[("AWS_REGION", "eu-west-1")]));
        assert_eq!(
            format!("{:?}", missing.unwrap_err()),
            "environment variable AWS_ACCESS_KEY_ID is not set: Lambda sets it for every \
             function; for a local run set it (dummy credentials are fine against the local gateway)"
        );
        let table = template_variable("CONNECTIONS_TABLE", lookup(&[])).unwrap_err();
        assert!(
            table.to_string().starts_with(
                "environment variable CONNECTIONS_TABLE is not set: the app's template"
            )
        );
    }
}
