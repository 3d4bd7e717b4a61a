//! The decision: who is admitted, as whom, and what is refused with 401.

use chat_authorizer::{SigningKey, authorize};
use shared::authorizer::Unauthorized;

use crate::{KEY, NOW, event, token};

fn key() -> SigningKey {
    SigningKey::new(KEY).unwrap()
}

#[test]
fn a_valid_token_admits_its_user_to_exactly_this_connection() {
    let request = event(&token(KEY, "alice"));
    let response = authorize(&request, &key(), NOW + 60).unwrap();
    let response = serde_json::to_value(&response).unwrap();
    assert_eq!(response["principalId"], "alice");
    let statement = &response["policyDocument"]["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(
        statement["Resource"],
        serde_json::json!(["arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/dev/$connect"])
    );
    // What shared::event::authorized_user reads in every later event of the connection.
    assert_eq!(response["context"], serde_json::json!({"user": "alice"}));
}

#[test]
fn a_missing_or_empty_token_is_unauthorized() {
    let mut request = event("x");
    request.query_string_parameters = Default::default();
    request.multi_value_query_string_parameters = Default::default();
    assert_eq!(authorize(&request, &key(), NOW), Err(Unauthorized));
    assert_eq!(authorize(&event(""), &key(), NOW), Err(Unauthorized));
}

#[test]
fn forged_expired_and_malformed_tokens_are_unauthorized() {
    let other_key = b"another key, just as long as the one the stack made..";
    let valid = token(KEY, "alice");
    let (head, _signature) = valid.rsplit_once('.').unwrap();
    let cases = [
        ("signed with another key", token(other_key, "alice")),
        ("no signature", format!("{head}.")),
        ("not a JWT", "let-me-in".to_owned()),
        ("a signature of other claims", {
            let bob = token(KEY, "bob");
            format!("{head}.{}", bob.rsplit_once('.').unwrap().1)
        }),
    ];
    for (what, token) in cases {
        assert_eq!(
            authorize(&event(&token), &key(), NOW),
            Err(Unauthorized),
            "{what}"
        );
    }
    // Valid for an hour: refused from its `exp` on.
    assert!(authorize(&event(&valid), &key(), NOW + 3599).is_ok());
    assert_eq!(
        authorize(&event(&valid), &key(), NOW + 3600),
        Err(Unauthorized)
    );
}

#[test]
fn a_short_key_is_refused_and_a_key_never_prints() {
    assert!(SigningKey::new(&KEY[..31]).is_none());
    let printed = format!("{:?}", key());
    assert_eq!(printed, "SigningKey(<64 bytes>)");
}
