//! Every kind of message a client can send is classified, none panics.

use base64::Engine as _;
use serde_json::json;
use shared::message::Message;
use shared::test_support::fixtures::message_with_body;

fn classify(body: Option<&str>, is_base64_encoded: bool) -> Message {
    Message::from_request(&message_with_body(body, is_base64_encoded))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn an_echo_action_is_recognised_with_its_value() {
    let message = classify(Some(r#"{"action":"echo","data":[1,2]}"#), false);
    assert_eq!(message.action(), Some("echo"));
    let Message::Action { value, .. } = message else {
        panic!("expected an action");
    };
    assert_eq!(value, json!({"action": "echo", "data": [1, 2]}));
}

#[test]
fn missing_and_empty_bodies_are_empty() {
    assert_eq!(classify(None, false), Message::Empty);
    assert_eq!(classify(Some(""), false), Message::Empty);
    assert_eq!(classify(Some(""), true), Message::Empty);
}

#[test]
fn text_that_is_not_json_keeps_its_text_and_the_parse_error() {
    let Message::NotJson { text, error } = classify(Some("hello there"), false) else {
        panic!("expected NotJson");
    };
    assert_eq!(text, "hello there");
    assert!(error.contains("line 1 column 1"), "{error}");
    // Truncated JSON is not JSON either.
    assert_eq!(classify(Some(r#"{"action":"#), false).kind(), "not_json");
}

#[test]
fn json_that_is_not_an_object_is_named() {
    for body in ["[1,2,3]", "\"echo\"", "42", "null", "true"] {
        let message = classify(Some(body), false);
        assert_eq!(message.kind(), "not_an_object", "{body}");
        assert_eq!(message.action(), None);
    }
}

#[test]
fn objects_without_a_string_action_are_named() {
    assert_eq!(
        classify(Some(r#"{"data":"x"}"#), false).kind(),
        "missing_action"
    );
    for body in [
        r#"{"action":1}"#,
        r#"{"action":null}"#,
        r#"{"action":["echo"]}"#,
        r#"{"action":{"name":"echo"}}"#,
    ] {
        let message = classify(Some(body), false);
        assert_eq!(message.kind(), "action_not_a_string", "{body}");
        assert_eq!(message.action(), None);
    }
}

#[test]
fn base64_bodies_are_decoded() {
    let body = b64(br#"{"action":"echo","data":"from binary"}"#);
    assert_eq!(classify(Some(&body), true).action(), Some("echo"));
    // The same text without the flag is just text that isn't JSON.
    assert_eq!(classify(Some(&body), false).kind(), "not_json");
}

#[test]
fn base64_that_is_not_utf8_or_not_base64_is_named() {
    let binary = b64(&[0xff, 0xfe, 0x00, 0x80]);
    assert_eq!(classify(Some(&binary), true), Message::NotText { bytes: 4 });
    let Message::InvalidBase64 { error } = classify(Some("not base64!"), true) else {
        panic!("expected InvalidBase64");
    };
    assert!(!error.is_empty());
}

#[test]
fn unicode_survives() {
    let body = r#"{"action":"échø","data":"日本語 🎉 \u0000"}"#;
    let message = classify(Some(body), false);
    assert_eq!(message.action(), Some("échø"));
    let Message::Action { value, .. } = message else {
        panic!("expected an action");
    };
    assert_eq!(value["data"], "日本語 🎉 \u{0}");
}

#[test]
fn a_128_kb_body_is_classified() {
    let data = "x".repeat(128 * 1024);
    let body = json!({"action": "echo", "data": data}).to_string();
    assert!(body.len() > 128 * 1024);
    assert_eq!(classify(Some(&body), false).action(), Some("echo"));
    assert_eq!(classify(Some(&data), false).kind(), "not_json");
}

#[test]
fn a_string_action_is_logged_as_an_action_and_only_replies_call_it_unrecognised() {
    let message = classify(Some(r#"{"action":"echo"}"#), false);
    assert_eq!(message.kind(), "action");
    assert_eq!(message.problem(), "action_not_recognised");
    let not_json = classify(Some("nope"), false);
    assert_eq!(not_json.problem(), not_json.kind());
}
