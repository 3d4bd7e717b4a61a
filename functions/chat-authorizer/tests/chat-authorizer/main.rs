//! `chat-authorizer`'s tests, one binary: the decision called directly, and the real binary
//! run through a Lambda Runtime API on 127.0.0.1 reading its key from a real Secrets Manager
//! API (the pinned moto server).

mod binary;
mod handler;

use shared::authorizer::AuthorizerRequest;
use shared::test_support::fixtures::AUTHORIZER;

/// A key as long as the stack generates.
const KEY: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// 2026-11-24T18:20:00Z, the fixtures' time.
const NOW: u64 = 1_795_544_400;

/// A token for `user` valid for an hour from [`NOW`], signed with `key`.
fn token(key: &[u8], user: &str) -> String {
    chat_token::sign(key, &chat_token::Claims::new(user, NOW, 3600).unwrap())
}

/// The authorizer fixture's JSON with `token` as its `token` query parameter.
fn event_json(token: &str) -> String {
    AUTHORIZER.replace("let-me-in", token)
}

/// The authorizer fixture with `token` as its `token` query parameter.
fn event(token: &str) -> AuthorizerRequest {
    serde_json::from_str(&event_json(token)).expect("the authorizer fixture parses")
}
