//! The replies' exact shape, their explanations, and the size limit.

use serde_json::{Value, json};
use shared::actions::Actions;
use shared::event::WebsocketInfo;
use shared::message::Message;
use shared::reply::{self, MAX_MESSAGE_BYTES, MAX_QUOTE_BYTES};
use shared::test_support::fixtures::{self, MESSAGE};

fn info() -> WebsocketInfo {
    WebsocketInfo::from_request(&fixtures::parse(MESSAGE))
}

const WEBSOCKET_JSON: &str = r#"{"connectedAt":1795544400000,"connectionId":"CX1a2cOoDoECIbQ=","requestId":"CX1bKGbYDoEFuJg=","routeKey":"echo","sourceIp":"203.0.113.42","stage":"dev"}"#;

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("replies are JSON")
}

fn actions() -> Actions {
    Actions::new(["echo"])
}

fn not_recognised(text: &str) -> Value {
    parse(&reply::not_recognised(
        &Message::from_text(text.to_owned()),
        &info(),
        &actions(),
    ))
}

#[test]
fn websocket_info_comes_from_the_request_context() {
    assert_eq!(
        serde_json::to_string(&info()).unwrap().len(),
        WEBSOCKET_JSON.len()
    );
    assert_eq!(
        serde_json::to_value(info()).unwrap(),
        serde_json::from_str::<Value>(WEBSOCKET_JSON).unwrap()
    );
}

#[test]
fn echo_reply_is_exact() {
    let received = json!({"action": "echo", "data": "hello"});
    let bytes = reply::echo(&received, &info());
    let expected = format!(
        r#"{{"action":"echo","received":{{"action":"echo","data":"hello"}},"websocket":{WEBSOCKET_JSON}}}"#
    );
    assert_eq!(String::from_utf8(bytes).unwrap(), expected);
}

#[test]
fn an_unknown_action_is_quoted_with_the_supported_ones() {
    let reply = not_recognised(r#"{"action":"shout","data":1}"#);
    assert_eq!(reply["error"], "action_not_recognised");
    let message = reply["message"].as_str().unwrap();
    assert!(
        message.starts_with(r#"The action "shout" is not recognised."#),
        "{message}"
    );
    assert!(message.contains(r#"one of: "echo""#), "{message}");
    assert_eq!(reply["received"], json!({"action": "shout", "data": 1}));
    assert_eq!(reply["supportedActions"], json!(["echo"]));
    assert_eq!(reply["websocket"]["connectionId"], "CX1a2cOoDoECIbQ=");
}

#[test]
fn a_supported_action_that_reached_default_says_so() {
    let reply = not_recognised(r#"{"action":"echo"}"#);
    assert_eq!(reply["error"], "action_not_recognised");
    let message = reply["message"].as_str().unwrap();
    assert!(
        message.starts_with(r#"The action "echo" is supported but no route handled it."#),
        "{message}"
    );
}

#[test]
fn each_kind_of_bad_message_is_explained() {
    let cases = [
        ("", "empty_message", "The message was empty."),
        (
            "hello",
            "not_json",
            "The message was not JSON (expected value at line 1 column 1).",
        ),
        (
            "[1]",
            "not_an_object",
            "The message was JSON but an array instead of an object.",
        ),
        (
            "7",
            "not_an_object",
            "The message was JSON but a number instead of an object.",
        ),
        (
            r#"{"data":1}"#,
            "missing_action",
            r#"The message has no "action" field."#,
        ),
        (
            r#"{"action":false}"#,
            "action_not_a_string",
            r#"The "action" field must be a string, but it was a boolean."#,
        ),
    ];
    for (text, kind, problem) in cases {
        let reply = not_recognised(text);
        assert_eq!(reply["error"], kind, "{text}");
        let message = reply["message"].as_str().unwrap();
        assert!(message.starts_with(problem), "{text}: {message}");
        assert!(
            message.contains(r#"{"action":"echo","data":"hello"}"#),
            "{message}"
        );
        assert_eq!(reply["supportedActions"], json!(["echo"]));
    }
    assert_eq!(not_recognised("hello")["received"], "hello");
    assert_eq!(not_recognised("[1]")["received"], json!([1]));
    assert_eq!(not_recognised("")["received"], Value::Null);
}

#[test]
fn binary_and_bad_base64_are_explained_without_quoting() {
    let reply = parse(&reply::not_recognised(
        &Message::NotText { bytes: 4 },
        &info(),
        &actions(),
    ));
    assert_eq!(reply["error"], "not_text");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .starts_with("The message was 4 bytes of binary data")
    );
    assert_eq!(reply["received"], Value::Null);
    let invalid = Message::InvalidBase64 {
        error: "Invalid byte 33, offset 3.".into(),
    };
    let reply = parse(&reply::not_recognised(&invalid, &info(), &actions()));
    assert_eq!(reply["error"], "invalid_base64");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("Invalid byte 33")
    );
}

#[test]
fn long_messages_are_quoted_shortly_on_a_character_boundary() {
    // 3-byte characters: MAX_QUOTE_BYTES is not a multiple of 3, so a naive cut would split one.
    let text = "語".repeat(MAX_QUOTE_BYTES);
    let reply = not_recognised(&text);
    let quoted = reply["received"].as_str().unwrap();
    assert!(quoted.len() <= MAX_QUOTE_BYTES && quoted.len() > MAX_QUOTE_BYTES - 3);
    assert!(text.starts_with(quoted));
    // A long JSON object is quoted as (cut) text rather than re-sent whole.
    let long = json!({"action": "shout", "data": "y".repeat(200 * 1024)}).to_string();
    let reply = not_recognised(&long);
    assert_eq!(reply["received"].as_str().unwrap().len(), MAX_QUOTE_BYTES);
    assert!(
        reply::not_recognised(&Message::from_text(long), &info(), &actions()).len()
            < MAX_MESSAGE_BYTES
    );
}

#[test]
fn replies_over_the_limit_become_a_short_error() {
    let fits = vec![b'x'; MAX_MESSAGE_BYTES];
    assert_eq!(reply::within_limit(fits.clone(), &info()), fits);

    let over = vec![b'x'; MAX_MESSAGE_BYTES + 1];
    let replaced = parse(&reply::within_limit(over, &info()));
    assert_eq!(replaced["error"], "reply_too_large");
    assert_eq!(replaced["size"], MAX_MESSAGE_BYTES + 1);
    assert_eq!(replaced["limit"], MAX_MESSAGE_BYTES);
    assert_eq!(replaced["websocket"]["connectionId"], "CX1a2cOoDoECIbQ=");
    assert!(
        replaced["message"]
            .as_str()
            .unwrap()
            .contains("Send a smaller message")
    );
}

#[test]
fn the_hint_lists_the_actions_the_api_was_given() {
    let message = Message::from_text(r#"{"action":"shout"}"#.to_owned());
    let chat = Actions::new(["sendmessage", "join"]);
    let reply = parse(&reply::not_recognised(&message, &info(), &chat));
    assert_eq!(reply["supportedActions"], json!(["sendmessage", "join"]));
    assert!(
        reply["message"].as_str().unwrap().ends_with(
            r#"one of: "sendmessage", "join", for example {"action":"sendmessage","data":"hello"}."#
        ),
        "{reply}"
    );
    let none = parse(&reply::not_recognised(
        &message,
        &info(),
        &Actions::default(),
    ));
    assert_eq!(none["supportedActions"], json!([]));
    assert!(
        none["message"]
            .as_str()
            .unwrap()
            .ends_with("every message goes to its default route."),
        "{none}"
    );
}
