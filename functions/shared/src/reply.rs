//! The JSON messages posted back to the client.
//!
//! Every reply is built here so that its shape is the same from every function, and every reply
//! goes through [`within_limit`] so that a large request never produces a reply API Gateway
//! would refuse.

use crate::actions::Actions;
use crate::event::WebsocketInfo;
use crate::message::{Message, json_type};
use serde_json::{Value, json};

/// API Gateway's limit on one WebSocket message, and so on a PostToConnection payload (128 KB).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// How much of an unrecognised message is quoted back, so that the explanation always fits.
pub const MAX_QUOTE_BYTES: usize = 1024;

/// The reply of the `echo` route: what the client sent and the WebSocket facts of the request.
pub fn echo(received: &Value, info: &WebsocketInfo) -> Vec<u8> {
    to_bytes(&json!({
        "action": "echo",
        "received": received,
        "websocket": info,
    }))
}

/// The reply to a message no route handles: what was wrong, what was received, and which of
/// the API's `actions` to send instead.
pub fn not_recognised(message: &Message, info: &WebsocketInfo, actions: &Actions) -> Vec<u8> {
    let quoted: Vec<String> = actions.as_slice().iter().map(|a| json_string(a)).collect();
    let hint = match quoted.first() {
        Some(first) => format!(
            "Send a JSON object whose \"action\" is one of: {}, for example \
             {{\"action\":{first},\"data\":\"hello\"}}.",
            quoted.join(", ")
        ),
        None => "This API has no actions: every message goes to its default route.".to_owned(),
    };
    let (problem, received) = match message {
        Message::Empty => ("The message was empty.".to_owned(), Value::Null),
        Message::InvalidBase64 { error } => (
            format!("The message was marked base64-encoded but is not valid base64 ({error})."),
            Value::Null,
        ),
        Message::NotText { bytes } => (
            format!("The message was {bytes} bytes of binary data, not UTF-8 text."),
            Value::Null,
        ),
        Message::NotJson { text, error } => (
            format!("The message was not JSON ({error})."),
            Value::String(quote(text).to_owned()),
        ),
        Message::NotObject { value, text } => (
            format!(
                "The message was JSON but {} instead of an object.",
                json_type(value)
            ),
            quote_json(value, text),
        ),
        Message::MissingAction { value, text } => (
            "The message has no \"action\" field.".to_owned(),
            quote_json(value, text),
        ),
        Message::ActionNotString { value, text } => (
            format!(
                "The \"action\" field must be a string, but it was {}.",
                json_type(&value["action"])
            ),
            quote_json(value, text),
        ),
        Message::Action {
            action,
            value,
            text,
        } => {
            let quoted = Value::String(quote(action).to_owned());
            let problem = if actions.contains(action) {
                // Only a deployment without that action's route gets here.
                format!("The action {quoted} is supported but no route handled it.")
            } else {
                format!("The action {quoted} is not recognised.")
            };
            (problem, quote_json(value, text))
        }
    };
    to_bytes(&json!({
        "error": message.problem(),
        "message": format!("{problem} {hint}"),
        "received": received,
        "supportedActions": actions.as_slice(),
        "websocket": info,
    }))
}

/// The reply to a message whose action is known but whose fields are not what the action
/// takes: `error` names the problem (`missing_message`...), `explanation` says what to send
/// instead, `value` and `text` are the message as received (quoted back cut if long).
pub fn invalid_message(
    error: &str,
    explanation: &str,
    value: &Value,
    text: &str,
    info: &WebsocketInfo,
) -> Vec<u8> {
    to_bytes(&json!({
        "error": error,
        "message": explanation,
        "received": quote_json(value, text),
        "websocket": info,
    }))
}

/// Returns `reply` if API Gateway can deliver it, else a short message saying it was too large.
pub fn within_limit(reply: Vec<u8>, info: &WebsocketInfo) -> Vec<u8> {
    if reply.len() <= MAX_MESSAGE_BYTES {
        reply
    } else {
        too_large(reply.len(), info)
    }
}

/// The short message sent instead of a reply over the limit (ours, or the endpoint's 413).
pub fn too_large(size: usize, info: &WebsocketInfo) -> Vec<u8> {
    to_bytes(&json!({
        "error": "reply_too_large",
        "message": format!(
            "The reply would be {size} bytes, over API Gateway's limit of {MAX_MESSAGE_BYTES} \
             bytes per message. Send a smaller message."
        ),
        "size": size,
        "limit": MAX_MESSAGE_BYTES,
        "websocket": info,
    }))
}

/// The received JSON as it was, or its text cut to [`MAX_QUOTE_BYTES`] when long.
fn quote_json(value: &Value, text: &str) -> Value {
    if text.len() <= MAX_QUOTE_BYTES {
        value.clone()
    } else {
        Value::String(quote(text).to_owned())
    }
}

/// `text` cut to at most [`MAX_QUOTE_BYTES`], on a character boundary.
pub fn quote(text: &str) -> &str {
    if text.len() <= MAX_QUOTE_BYTES {
        return text;
    }
    let mut end = MAX_QUOTE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` as a JSON string literal (quotes and escapes included).
fn json_string(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

fn to_bytes(value: &Value) -> Vec<u8> {
    // Serializing a `Value` to a Vec fails only on a writer error, which a Vec never has.
    serde_json::to_vec(value).unwrap_or_default()
}
