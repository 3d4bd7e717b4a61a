//! `authorizer`: a REQUEST authorizer for `$connect` that admits the holders of known tokens.
//!
//! The stage file lists the tokens by the SHA-256 of their value, with the name each one
//! stands for, in the function's `ALLOWED_TOKENS` (`alice:<hex sha256>,bob:<hex sha256>`):
//! the template holds no token, only its digest. A client connects with `?token=<value>`
//! (browsers cannot set headers on a WebSocket). A known token gets an Allow policy for the
//! connection's `methodArn`, the principal `alice` and the context `{"user": "alice"}`, which
//! API Gateway hands to every event of the connection; anything else is `Unauthorized` (401).
//!
//! A pattern to copy: parse what the stage gives once per process ([`Tokens::from_env`]),
//! decide in a plain function ([`handle`]), answer with `shared::authorizer`'s helpers.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use shared::authorizer::{self, AuthorizerRequest, AuthorizerResponse, Unauthorized};

/// The variable that lists the accepted tokens.
pub const TOKENS_VARIABLE: &str = "ALLOWED_TOKENS";
/// The query parameter clients put their token in (the template's identity source).
pub const TOKEN_PARAMETER: &str = "token";

/// The accepted tokens: the SHA-256 of each, with the name it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    digests: Vec<([u8; 32], String)>,
}

/// `ALLOWED_TOKENS` is missing or malformed: the function does not start (an init error),
/// so a misconfigured stage admits nobody rather than everybody.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    #[error(
        "{TOKENS_VARIABLE} is not set: list the accepted tokens as `name:<sha256 hex>,…` in the stage file (functions.overrides.authorizer.environment)"
    )]
    Missing,
    #[error("{TOKENS_VARIABLE}: entry {index} `{entry}` is not `name:<64 hex digits of SHA-256>`")]
    Malformed { index: usize, entry: String },
}

impl Tokens {
    pub fn from_env() -> Result<Tokens, shared::entry::Error> {
        let text = std::env::var(TOKENS_VARIABLE).map_err(|_| TokensError::Missing)?;
        Ok(Tokens::parse(&text)?)
    }

    /// Parses `name:<hex sha256>,…`.
    pub fn parse(text: &str) -> Result<Tokens, TokensError> {
        let mut digests = Vec::new();
        for (index, entry) in text.split(',').map(str::trim).enumerate() {
            let malformed = || TokensError::Malformed {
                index: index + 1,
                entry: entry.to_owned(),
            };
            let (name, hex) = entry.split_once(':').ok_or_else(malformed)?;
            if name.is_empty() || hex.len() != 64 {
                return Err(malformed());
            }
            let mut digest = [0u8; 32];
            for (i, byte) in digest.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| malformed())?;
            }
            digests.push((digest, name.to_owned()));
        }
        if digests.is_empty() {
            return Err(TokensError::Missing);
        }
        Ok(Tokens { digests })
    }

    /// The name `token` stands for, if it is one of the accepted tokens.
    pub fn name_of(&self, token: &str) -> Option<&str> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Digests, not tokens, are compared, so the comparison's timing says nothing about
        // a token; every entry is still looked at.
        self.digests.iter().fold(None, |found, (known, name)| {
            found.or((known == &digest).then_some(name.as_str()))
        })
    }
}

/// Admits a connection whose `token` query parameter is an accepted token.
pub async fn handle(
    request: AuthorizerRequest,
    tokens: &Tokens,
) -> Result<AuthorizerResponse, Unauthorized> {
    let request_id = request.request_context.request_id.as_deref();
    let token = request
        .query_string_parameters
        .first(TOKEN_PARAMETER)
        .unwrap_or_default();
    let Some(name) = tokens.name_of(token) else {
        // The token itself is never logged.
        tracing::info!(request_id, "unknown token: refused");
        return Err(Unauthorized);
    };
    tracing::info!(request_id, principal = name, "admitted");
    Ok(authorizer::allow(
        &request,
        name,
        BTreeMap::from([("user".to_owned(), name.into())]),
    ))
}

/// The `ALLOWED_TOKENS` entry for `name` holding `token`: what to put in a stage file.
pub fn entry_for(name: &str, token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{name}:{hex}")
}
