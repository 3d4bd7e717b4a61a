//! `chat-authorizer`: the chat's REQUEST authorizer for `$connect`. A client connects with
//! `?token=<JWT>` (browsers cannot set headers on a WebSocket), a token `cargo xtask token`
//! signs with the key the stack's secret holds (`chat-token`: HS256, `sub` = the user,
//! `exp`).
//!
//! Once per cold start ([`SigningKey::from_env`]) the key is read from Secrets Manager, the
//! secret's ARN from `SIGNING_KEY_SECRET_ARN` (the template sets it; only this function's
//! role may read the secret). A failure there is an init error naming what is wrong, so a
//! misconfigured stage admits nobody.
//!
//! Each connection ([`handle`]): a valid token gets an Allow policy for exactly the
//! connection's `methodArn`, the principal `sub` and the context `{"user": sub}`, which API
//! Gateway hands to every event of the connection (`shared::event::authorized_user` reads
//! it). A missing, malformed, forged or expired token is `Unauthorized` (API Gateway answers
//! 401); why is logged, the token never.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use shared::authorizer::{self, AuthorizerRequest, AuthorizerResponse, Unauthorized};
use shared::aws::{self, SettingsError};
use shared::event::USER_CONTEXT_KEY;
use shared::secrets::{SecretError, Secrets};

/// The variable holding the signing key's secret ARN (the template sets it).
pub const SECRET_VARIABLE: &str = "SIGNING_KEY_SECRET_ARN";
/// The query parameter clients put their token in (the template's identity source).
pub const TOKEN_PARAMETER: &str = "token";
/// The shortest key accepted, in bytes: HS256 needs a key at least as long as SHA-256's
/// output (RFC 7518, 3.2). The stack generates 64 characters.
pub const MIN_KEY_LEN: usize = 32;

/// The key tokens are signed with. Its bytes are never logged nor printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(<{} bytes>)", self.0.len())
    }
}

/// The key could not be had: the function does not start (Lambda's init error, its message
/// printed).
#[derive(thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(
        "the secret {secret} holds {len} bytes: an HS256 signing key needs at least {MIN_KEY_LEN}"
    )]
    TooShort { secret: String, len: usize },
}

// `main` would print a returned error with `Debug`: make that the message.
impl std::fmt::Debug for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl SigningKey {
    /// `key` as a signing key, if it is long enough.
    pub fn new(key: impl Into<Vec<u8>>) -> Option<SigningKey> {
        let key = key.into();
        (key.len() >= MIN_KEY_LEN).then_some(SigningKey(key))
    }

    /// Reads the key from the secret `SIGNING_KEY_SECRET_ARN` names, with Lambda's region and
    /// credentials and the Secrets Manager endpoint variables (`AWS_ENDPOINT_URL_SECRETS_MANAGER`).
    pub async fn from_env() -> Result<SigningKey, shared::entry::Error> {
        let secret =
            aws::template_variable(SECRET_VARIABLE, aws::env_lookup).map_err(KeyError::from)?;
        let secrets = Secrets::from_env().map_err(KeyError::from)?;
        Ok(SigningKey::load(&secrets, &secret).await?)
    }

    /// Reads the key from `secret` (ARN or name): its `SecretString`, as it is.
    pub async fn load(secrets: &Secrets, secret: &str) -> Result<SigningKey, KeyError> {
        let value = secrets.secret_string(secret).await?;
        let len = value.len();
        let key = SigningKey::new(value).ok_or_else(|| KeyError::TooShort {
            secret: secret.to_owned(),
            len,
        })?;
        tracing::info!(secret, "signing key read");
        Ok(key)
    }

    /// The key's bytes (to sign a token with, in tests and tools).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Admits a connection whose `token` query parameter is a valid token signed with `key`.
pub async fn handle(
    request: AuthorizerRequest,
    key: &SigningKey,
) -> Result<AuthorizerResponse, Unauthorized> {
    authorize(&request, key, now_secs())
}

/// [`handle`]'s decision at `now` (seconds since the Unix epoch).
pub fn authorize(
    request: &AuthorizerRequest,
    key: &SigningKey,
    now: u64,
) -> Result<AuthorizerResponse, Unauthorized> {
    let request_id = request.request_context.request_id.as_deref();
    let Some(token) = request
        .query_string_parameters
        .first(TOKEN_PARAMETER)
        .filter(|token| !token.is_empty())
    else {
        tracing::info!(request_id, "no token: refused");
        return Err(Unauthorized);
    };
    match chat_token::verify(key.bytes(), token, now) {
        Ok(claims) => {
            let user = claims.sub.as_str();
            tracing::info!(request_id, user, "admitted");
            Ok(authorizer::allow(
                request,
                user,
                BTreeMap::from([(USER_CONTEXT_KEY.to_owned(), user.into())]),
            ))
        }
        Err(error) => {
            // The error's message never quotes the token.
            tracing::info!(request_id, reason = %error, "bad token: refused");
            Err(Unauthorized)
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
