//! `echo` against a real HTTP server on 127.0.0.1 standing in for the management endpoint.

use base64::Engine as _;
use serde_json::{Value, json};
use shared::reply::MAX_MESSAGE_BYTES;
use shared::test_support::endpoint::{Answer, Endpoint, Recorded};
use shared::test_support::fixtures::{self, MESSAGE};
use shared::test_support::{bounded, replier_for};

const PATH: &str = "/dev/@connections/CX1a2cOoDoECIbQ%3D";
const WEBSOCKET_JSON: &str = r#"{"connectedAt":1795544400000,"connectionId":"CX1a2cOoDoECIbQ=","requestId":"CX1bKGbYDoEFuJg=","routeKey":"echo","sourceIp":"203.0.113.42","stage":"dev"}"#;

/// Runs `echo` on the MESSAGE fixture with `body`; returns the status and what the server got.
async fn echo(body: Option<&str>, base64: bool, answer: Answer) -> (i64, Vec<Recorded>) {
    let server = Endpoint::start(vec![], answer).await;
    let replier = replier_for(&server.url("dev"));
    let request = fixtures::message_with_body(body, base64);
    let response = bounded(echo::handle(request, &replier)).await;
    (response.status_code, server.recorded())
}

fn only_post(recorded: &[Recorded]) -> &Recorded {
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(recorded[0].path, PATH);
    &recorded[0]
}

fn posted_json(recorded: &[Recorded]) -> Value {
    serde_json::from_slice(&only_post(recorded).body).expect("the reply is JSON")
}

#[tokio::test]
async fn echoes_the_message_and_the_websocket_information() {
    let (status, recorded) = echo(
        fixtures::parse(MESSAGE).body.as_deref(),
        false,
        Answer::ok(),
    )
    .await;
    assert_eq!(status, 200);
    let expected = format!(
        r#"{{"action":"echo","received":{{"action":"echo","data":"hello"}},"websocket":{WEBSOCKET_JSON}}}"#
    );
    assert_eq!(
        String::from_utf8(only_post(&recorded).body.clone()).unwrap(),
        expected
    );
}

#[tokio::test]
async fn unicode_is_echoed_as_utf8() {
    let body = r#"{"action":"echo","data":"日本語 🎉 é"}"#;
    let (status, recorded) = echo(Some(body), false, Answer::ok()).await;
    assert_eq!(status, 200);
    let posted = String::from_utf8(only_post(&recorded).body.clone()).unwrap();
    assert!(
        posted
            .starts_with(r#"{"action":"echo","received":{"action":"echo","data":"日本語 🎉 é"},"#),
        "{posted}"
    );
}

#[tokio::test]
async fn a_base64_body_is_decoded_and_echoed() {
    let body = base64::engine::general_purpose::STANDARD.encode(r#"{"action":"echo","n":1}"#);
    let (status, recorded) = echo(Some(&body), true, Answer::ok()).await;
    assert_eq!(status, 200);
    assert_eq!(
        posted_json(&recorded)["received"],
        json!({"action": "echo", "n": 1})
    );
}

#[tokio::test]
async fn a_128_kb_message_gets_a_short_too_large_reply() {
    let data = "z".repeat(128 * 1024);
    let body = json!({"action": "echo", "data": data}).to_string();
    let (status, recorded) = echo(Some(&body), false, Answer::ok()).await;
    assert_eq!(status, 200);
    let reply = posted_json(&recorded);
    assert_eq!(reply["error"], "reply_too_large");
    let size = reply["size"].as_u64().unwrap() as usize;
    assert!(size > MAX_MESSAGE_BYTES && size > body.len(), "{size}");
    assert_eq!(reply["websocket"]["connectionId"], "CX1a2cOoDoECIbQ=");
    assert!(only_post(&recorded).body.len() < 1024);
}

#[tokio::test]
async fn a_message_that_fits_just_under_the_limit_is_echoed_whole() {
    // The reply adds the envelope and the websocket facts; leave room for them.
    let data = "q".repeat(MAX_MESSAGE_BYTES - 2 * 1024);
    let body = json!({"action": "echo", "data": data}).to_string();
    let (status, recorded) = echo(Some(&body), false, Answer::ok()).await;
    assert_eq!(status, 200);
    let reply = posted_json(&recorded);
    assert_eq!(
        reply["received"]["data"].as_str().unwrap().len(),
        data.len()
    );
}

#[tokio::test]
async fn anything_but_an_echo_action_gets_the_explanation() {
    for (body, kind) in [
        (Some("not json"), "not_json"),
        (None, "empty_message"),
        (Some(r#"{"action":"other"}"#), "action_not_recognised"),
        (Some(r#"{"action":7}"#), "action_not_a_string"),
        (Some("[]"), "not_an_object"),
    ] {
        let (status, recorded) = echo(body, false, Answer::ok()).await;
        assert_eq!(status, 200, "{body:?}");
        let reply = posted_json(&recorded);
        assert_eq!(reply["error"], kind, "{body:?}");
        assert_eq!(reply["supportedActions"], json!(["echo"]));
    }
}

#[tokio::test]
async fn a_gone_connection_is_a_200_and_other_failures_a_500() {
    let body = fixtures::parse(MESSAGE).body;
    let (status, _) = echo(
        body.as_deref(),
        false,
        Answer::aws_error(410, "GoneException"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, recorded) = echo(body.as_deref(), false, Answer::bare(500)).await;
    assert_eq!(status, 500);
    assert_eq!(recorded.len(), 3);
}
