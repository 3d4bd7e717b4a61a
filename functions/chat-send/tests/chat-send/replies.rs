//! What the sender alone gets: an explanation for a message that is not a valid sendmessage,
//! the "too large" reply; and what happens without an authorized user. None of these reads
//! the table (its endpoint is a closed port).

use serde_json::{Value, json};
use shared::reply::MAX_MESSAGE_BYTES;
use shared::test_support::endpoint::{Answer, Endpoint};
use shared::test_support::fixtures::{self, MESSAGE};
use shared::test_support::{bounded, logs};
use std::time::Duration;

use crate::{SENDER, message, post_path, sender};

/// Nothing listens there: a call to the table would fail the test's expectations.
const NO_TABLE: &str = "http://127.0.0.1:9";

/// Sends `body`; returns the status and the one reply posted, to the sender.
async fn reply_to(body: &str) -> (i64, Value) {
    let server = Endpoint::start(vec![], Answer::ok()).await;
    let sender = sender(&server.url("dev"), NO_TABLE);
    let response = bounded(chat_send::handle(
        message(body),
        &sender,
        Duration::from_secs(30),
    ))
    .await;
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 1, "{body}: {recorded:#?}");
    assert_eq!(recorded[0].path, post_path(SENDER));
    (
        response.status_code,
        serde_json::from_slice(&recorded[0].body).expect("the reply is JSON"),
    )
}

#[tokio::test]
async fn a_sendmessage_without_a_string_message_gets_an_explanation() {
    for (body, error, says) in [
        (
            r#"{"action":"sendmessage"}"#,
            "missing_message",
            "needs a \"message\" field",
        ),
        (
            r#"{"action":"sendmessage","message":7}"#,
            "message_not_a_string",
            "it was a number",
        ),
        (
            r#"{"action":"sendmessage","message":{"text":"hi"}}"#,
            "message_not_a_string",
            "it was an object",
        ),
        (
            r#"{"action":"sendmessage","message":null}"#,
            "message_not_a_string",
            "it was null",
        ),
    ] {
        let (status, reply) = reply_to(body).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(reply["error"], error, "{body}: {reply}");
        let text = reply["message"].as_str().unwrap();
        assert!(text.contains(says), "{body}: {text}");
        assert!(
            text.contains(r#"{"action":"sendmessage","message":"hello"}"#),
            "{text}"
        );
        assert_eq!(
            reply["received"],
            serde_json::from_str::<Value>(body).unwrap()
        );
        assert_eq!(reply["websocket"]["connectionId"], SENDER);
    }
}

#[tokio::test]
async fn anything_but_a_sendmessage_gets_the_default_explanation() {
    for (body, error) in [
        ("not json", "not_json"),
        (r#"{"action":"echo"}"#, "action_not_recognised"),
        ("[1]", "not_an_object"),
    ] {
        let (status, reply) = reply_to(body).await;
        assert_eq!(status, 200);
        assert_eq!(reply["error"], error, "{body}: {reply}");
        assert_eq!(reply["supportedActions"], json!(["sendmessage"]));
    }
}

#[tokio::test]
async fn a_message_too_large_to_broadcast_gets_the_short_reply() {
    // The message fits in one frame; with "from" and "sentAt" around it, not in a post.
    let text = "x".repeat(MAX_MESSAGE_BYTES - 40);
    let body = json!({"action": "sendmessage", "message": text}).to_string();
    let (status, reply) = reply_to(&body).await;
    assert_eq!(status, 200);
    assert_eq!(reply["error"], "reply_too_large");
    assert!(reply["size"].as_u64().unwrap() > MAX_MESSAGE_BYTES as u64);
}

#[tokio::test]
async fn without_an_authorized_user_nothing_is_sent() {
    let server = Endpoint::start(vec![], Answer::ok()).await;
    let sender = sender(&server.url("dev"), NO_TABLE);
    // The echo app's MESSAGE event (no authorizer) with a sendmessage naming a sender.
    let mut request = fixtures::parse(MESSAGE);
    request.body = Some(r#"{"action":"sendmessage","message":"hi","from":"mallory"}"#.into());
    let (response, lines) = bounded(logs::capture(chat_send::handle(
        request,
        &sender,
        Duration::from_secs(30),
    )))
    .await;
    assert_eq!(response.status_code, 500);
    assert!(server.recorded().is_empty());
    assert_eq!(lines[0]["level"], "ERROR", "{lines:#?}");
}
