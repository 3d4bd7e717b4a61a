//! The decision: known tokens are admitted with their name, anything else is `Unauthorized`.

use authorizer::{Tokens, entry_for, handle};
use shared::authorizer::{AuthorizerRequest, Unauthorized};
use shared::test_support::fixtures::AUTHORIZER;

fn tokens() -> Tokens {
    let list = [
        entry_for("alice", "let-me-in"),
        entry_for("bob", "bobs-token"),
    ]
    .join(",");
    Tokens::parse(&list).unwrap()
}

fn request_with_token(token: Option<&str>) -> AuthorizerRequest {
    let mut raw: serde_json::Value = serde_json::from_str(AUTHORIZER).unwrap();
    match token {
        Some(token) => {
            raw["queryStringParameters"] = serde_json::json!({ "token": token });
            raw["multiValueQueryStringParameters"] = serde_json::json!({ "token": [token] });
        }
        None => {
            raw["queryStringParameters"] = serde_json::Value::Null;
            raw["multiValueQueryStringParameters"] = serde_json::Value::Null;
        }
    }
    serde_json::from_value(raw).unwrap()
}

#[tokio::test]
async fn a_known_token_is_allowed_on_exactly_its_connection_with_its_name() {
    let tokens = tokens();
    let request = request_with_token(Some("bobs-token"));
    let response = handle(request.clone(), &tokens).await.unwrap();
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["principalId"], "bob");
    assert_eq!(json["context"], serde_json::json!({"user": "bob"}));
    let statement = &json["policyDocument"]["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(
        statement["Resource"],
        serde_json::json!([request.method_arn.unwrap()])
    );
}

#[tokio::test]
async fn unknown_missing_and_empty_tokens_are_unauthorized() {
    let tokens = tokens();
    for token in [Some("let-me-in "), Some("LET-ME-IN"), Some(""), None] {
        let outcome = handle(request_with_token(token), &tokens).await;
        assert_eq!(outcome.unwrap_err(), Unauthorized, "{token:?}");
    }
}

#[test]
fn the_token_list_is_checked() {
    assert!(Tokens::parse(&entry_for("alice", "x")).is_ok());
    for bad in [
        "",
        "alice",
        "alice:abc",
        ":0000000000000000000000000000000000000000000000000000000000000000",
        "alice:zz00000000000000000000000000000000000000000000000000000000000000",
    ] {
        let error = Tokens::parse(bad).unwrap_err().to_string();
        assert!(error.contains("ALLOWED_TOKENS"), "{bad}: {error}");
    }
    let tokens = tokens();
    assert_eq!(tokens.name_of("let-me-in"), Some("alice"));
    assert_eq!(tokens.name_of("nobody"), None);
}
