//! The client's message: the event body decoded (base64 if API Gateway encoded it) and
//! classified, so the functions never have to guess what they were sent.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use base64::Engine as _;
use serde_json::Value;

/// What a client sent, from the most broken to a message with a usable action.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// No body, or an empty one.
    Empty,
    /// `isBase64Encoded` was set but the body was not valid base64.
    InvalidBase64 { error: String },
    /// The body decoded to bytes that are not UTF-8 text.
    NotText { bytes: usize },
    /// Text that does not parse as JSON.
    NotJson { text: String, error: String },
    /// JSON, but not an object (an array, a string, a number...).
    NotObject { value: Value, text: String },
    /// A JSON object without an `action` field.
    MissingAction { value: Value, text: String },
    /// A JSON object whose `action` is not a string.
    ActionNotString { value: Value, text: String },
    /// A JSON object with a string `action` (supported or not).
    Action {
        action: String,
        value: Value,
        text: String,
    },
}

impl Message {
    /// Decodes and classifies the body of a MESSAGE event.
    pub fn from_request(request: &ApiGatewayWebsocketProxyRequest) -> Self {
        let Some(body) = request.body.as_deref() else {
            return Self::Empty;
        };
        if !request.is_base64_encoded {
            return Self::from_text(body.to_owned());
        }
        match base64::engine::general_purpose::STANDARD.decode(body) {
            Err(error) => Self::InvalidBase64 {
                error: error.to_string(),
            },
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Self::from_text(text),
                Err(error) => Self::NotText {
                    bytes: error.as_bytes().len(),
                },
            },
        }
    }

    /// Classifies a text message.
    pub fn from_text(text: String) -> Self {
        if text.is_empty() {
            return Self::Empty;
        }
        let value = match serde_json::from_str::<Value>(&text) {
            Ok(value) => value,
            Err(error) => {
                return Self::NotJson {
                    text,
                    error: error.to_string(),
                };
            }
        };
        let Some(object) = value.as_object() else {
            return Self::NotObject { value, text };
        };
        match object.get("action") {
            None => Self::MissingAction { value, text },
            Some(Value::String(action)) => Self::Action {
                action: action.clone(),
                value,
                text,
            },
            Some(_) => Self::ActionNotString { value, text },
        }
    }

    /// The action, when the message is an object with a string `action`.
    pub fn action(&self) -> Option<&str> {
        match self {
            Self::Action { action, .. } => Some(action),
            _ => None,
        }
    }

    /// A short name of the message's kind, for logs; replies name the problem with
    /// [`Message::problem`].
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Empty => "empty_message",
            Self::InvalidBase64 { .. } => "invalid_base64",
            Self::NotText { .. } => "not_text",
            Self::NotJson { .. } => "not_json",
            Self::NotObject { .. } => "not_an_object",
            Self::MissingAction { .. } => "missing_action",
            Self::ActionNotString { .. } => "action_not_a_string",
            Self::Action { .. } => "action",
        }
    }

    /// What was wrong with the message when no route took it: the `error` of `$default`'s reply.
    pub fn problem(&self) -> &'static str {
        match self {
            Self::Action { .. } => "action_not_recognised",
            other => other.kind(),
        }
    }
}

/// The JSON type of a value, in words, for error messages.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
