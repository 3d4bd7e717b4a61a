//! `$default` against a real HTTP server on 127.0.0.1 standing in for the management endpoint:
//! every kind of bad message gets a clear reply and never loses the connection.

use base64::Engine as _;
use serde_json::{Value, json};
use shared::reply::MAX_QUOTE_BYTES;
use shared::test_support::endpoint::{Answer, Endpoint, Recorded};
use shared::test_support::fixtures;
use shared::test_support::{bounded, replier_for};

const PATH: &str = "/dev/@connections/CX1a2cOoDoECIbQ%3D";
const WEBSOCKET_JSON: &str = r#"{"connectedAt":1795544400000,"connectionId":"CX1a2cOoDoECIbQ=","requestId":"CX1bKGbYDoEFuJg=","routeKey":"$default","sourceIp":"203.0.113.42","stage":"dev"}"#;

async fn default(body: Option<&str>, base64: bool, answer: Answer) -> (i64, Vec<Recorded>) {
    let server = Endpoint::start(vec![], answer).await;
    let replier = replier_for(&server.url("dev"));
    let mut request = fixtures::message_with_body(body, base64);
    request.request_context.route_key = Some("$default".to_owned());
    let response = bounded(default::handle(request, &replier)).await;
    (response.status_code, server.recorded())
}

fn only_post(recorded: &[Recorded]) -> &Recorded {
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(recorded[0].path, PATH);
    &recorded[0]
}

async fn reply_to(body: Option<&str>, base64: bool) -> Value {
    let (status, recorded) = default(body, base64, Answer::ok()).await;
    assert_eq!(status, 200, "{body:?}");
    serde_json::from_slice(&only_post(&recorded).body).expect("the reply is JSON")
}

#[tokio::test]
async fn an_unknown_action_gets_the_exact_explanation() {
    let (status, recorded) = default(Some(r#"{"action":"shout"}"#), false, Answer::ok()).await;
    assert_eq!(status, 200);
    let expected = format!(
        r#"{{"error":"action_not_recognised","message":"The action \"shout\" is not recognised. Send a JSON object whose \"action\" is one of: \"echo\", for example {{\"action\":\"echo\",\"data\":\"hello\"}}.","received":{{"action":"shout"}},"supportedActions":["echo"],"websocket":{WEBSOCKET_JSON}}}"#
    );
    assert_eq!(
        String::from_utf8(only_post(&recorded).body.clone()).unwrap(),
        expected
    );
}

#[tokio::test]
async fn a_message_that_is_not_json_is_quoted_and_said_so() {
    let reply = reply_to(Some("hello there"), false).await;
    assert_eq!(reply["error"], "not_json");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .starts_with("The message was not JSON")
    );
    assert_eq!(reply["received"], "hello there");
    assert_eq!(reply["websocket"]["routeKey"], "$default");
}

#[tokio::test]
async fn every_kind_of_bad_message_is_answered() {
    let binary = base64::engine::general_purpose::STANDARD.encode([0xc3, 0x28, 0xa0]);
    let cases: [(Option<&str>, bool, &str); 9] = [
        (None, false, "empty_message"),
        (Some(""), false, "empty_message"),
        (Some("[1,2]"), false, "not_an_object"),
        (Some("\"just a string\""), false, "not_an_object"),
        (Some(r#"{"data":"no action"}"#), false, "missing_action"),
        (
            Some(r#"{"action":{"nested":true}}"#),
            false,
            "action_not_a_string",
        ),
        (
            Some(r#"{"action":"émoji 🎉"}"#),
            false,
            "action_not_recognised",
        ),
        (Some(&binary), true, "not_text"),
        (Some("%%%"), true, "invalid_base64"),
    ];
    for (body, base64, kind) in cases {
        let reply = reply_to(body, base64).await;
        assert_eq!(reply["error"], kind, "{body:?}");
        assert_eq!(reply["supportedActions"], json!(["echo"]), "{body:?}");
        assert_eq!(reply["websocket"]["connectionId"], "CX1a2cOoDoECIbQ=");
        assert!(!reply["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_128_kb_message_is_quoted_shortly() {
    let body = "w".repeat(128 * 1024);
    let reply = reply_to(Some(&body), false).await;
    assert_eq!(reply["error"], "not_json");
    assert_eq!(reply["received"].as_str().unwrap().len(), MAX_QUOTE_BYTES);
}

#[tokio::test]
async fn a_gone_connection_is_a_200_and_forbidden_a_500() {
    let (status, _) = default(Some("x"), false, Answer::bare(410)).await;
    assert_eq!(status, 200);
    let (status, recorded) = default(
        Some("x"),
        false,
        Answer::aws_error(403, "ForbiddenException"),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(recorded.len(), 1);
}
