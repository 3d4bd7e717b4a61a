//! Reading a secret from Secrets Manager, once per process (the chat authorizer's signing
//! key). The template grants `secretsmanager:GetSecretValue` on that one secret to that one
//! function and hands it the ARN in a variable.
//!
//! A secret's value is never logged, nor put in an error.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::config::{
    BehaviorVersion, Config, Region, StalledStreamProtectionConfig,
};
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::aws::{self, ClientSettings, SettingsError};

/// Reading a secret failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "reading the secret {secret} failed ({kind}, status {status:?}, code {code:?}): {detail}"
    )]
    Read {
        secret: String,
        /// Which part failed: `service`, `timeout`, `dispatch`...
        kind: &'static str,
        status: Option<u16>,
        /// The service's error code (`ResourceNotFoundException`, `AccessDeniedException`...).
        code: Option<String>,
        detail: String,
    },
    #[error("the secret {0} has no SecretString (a binary secret?): a text secret is expected")]
    NotText(String),
}

/// The Secrets Manager client.
pub struct Secrets {
    client: Client,
}

impl Secrets {
    pub fn new(settings: ClientSettings) -> Secrets {
        let environment = &settings.environment;
        let mut config = Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(environment.region.clone()))
            .credentials_provider(environment.credentials.clone())
            .http_client(aws::https_client())
            .retry_config(aws::retry_config())
            .timeout_config(aws::timeout_config())
            // One small answer per process, bounded by the timeouts above.
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
        if let Some(endpoint) = &settings.endpoint_url {
            config = config.endpoint_url(endpoint);
        }
        Secrets {
            client: Client::from_conf(config.build()),
        }
    }

    /// Lambda's region and credentials, and the Secrets Manager endpoint variables
    /// (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL`).
    pub fn from_env() -> Result<Secrets, SettingsError> {
        Ok(Secrets::new(ClientSettings::from_lookup(
            aws::SECRETS_MANAGER,
            aws::env_lookup,
        )?))
    }

    /// The current `SecretString` of `secret` (its ARN or name).
    pub async fn secret_string(&self, secret: &str) -> Result<String, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(secret)
            .send()
            .await
            .map_err(|error| read_error(secret, error))?;
        output
            .secret_string
            .ok_or_else(|| SecretError::NotText(secret.to_owned()))
    }
}

fn read_error<E>(secret: &str, error: SdkError<E, HttpResponse>) -> SecretError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = DisplayErrorContext(&error).to_string();
    let (kind, status, code) = match &error {
        SdkError::ServiceError(context) => (
            "service",
            Some(context.raw().status().as_u16()),
            context.err().code().map(str::to_owned),
        ),
        SdkError::ResponseError(context) => {
            ("response", Some(context.raw().status().as_u16()), None)
        }
        SdkError::TimeoutError(_) => ("timeout", None, None),
        SdkError::DispatchFailure(_) => ("dispatch", None, None),
        SdkError::ConstructionFailure(_) => ("construction", None, None),
        _ => ("unknown", None, None),
    };
    SecretError::Read {
        secret: secret.to_owned(),
        kind,
        status,
        code,
        detail,
    }
}
