//! The events the gateway sends have the shape of the ones API Gateway sends, as captured in
//! functions/shared/fixtures/*.json: the same fields with the same JSON types.

use crate::common::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../functions/shared/fixtures/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Type of a JSON value, by name.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences in fields and types between what API Gateway sent and what the gateway sent.
/// Header names depend on the client, so only their presence is compared.
fn differences(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    if kind(expected) != kind(actual) {
        out.push(format!(
            "{path}: API Gateway sends {}, the gateway {}",
            kind(expected),
            kind(actual)
        ));
        return;
    }
    if let (Value::Object(e), Value::Object(a)) = (expected, actual) {
        if path.ends_with("eaders") {
            return;
        }
        for key in e.keys().filter(|k| !a.contains_key(*k)) {
            out.push(format!("{path}.{key}: missing"));
        }
        for key in a.keys().filter(|k| !e.contains_key(*k)) {
            out.push(format!("{path}.{key}: API Gateway does not send it"));
        }
        for (key, value) in e {
            if let Some(other) = a.get(key) {
                differences(&format!("{path}.{key}"), value, other, out);
            }
        }
    }
}

/// Fails naming every field whose presence or JSON type differs from fixture `name`'s.
pub fn assert_same_shape(name: &str, actual: &Value) {
    let mut out = Vec::new();
    differences(name, &fixture(name), actual, &mut out);
    assert!(
        out.is_empty(),
        "{name} event differs from API Gateway's:\n{}\n{actual:#}",
        out.join("\n")
    );
}

#[tokio::test]
async fn connect_message_and_disconnect_events_match_api_gateway() {
    bounded(async {
        let asm = Assembly::standard("event-shapes").write();
        let gw = asm.start().await;
        let mut request = format!("{}?name=ada&room=lobby", gw.url())
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("user-agent", "gateway-test/1".parse().unwrap());
        let (mut client, _) = tokio_tungstenite::connect_async(request).await.unwrap();

        let message = echo(&mut client, json!({"action": "echo", "data": "hello"})).await;
        assert_same_shape("message", &message);
        let id = message["requestContext"]["connectionId"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            message["requestContext"]["identity"]["userAgent"],
            "gateway-test/1"
        );

        let connect = asm.recorded(&id, "connect").await;
        assert_same_shape("connect", &connect);
        assert_eq!(connect["headers"]["User-Agent"], "gateway-test/1");
        assert!(connect["headers"].get("Connection").is_none(), "{connect}");

        client.close(None).await.unwrap();
        let disconnect = asm.recorded(&id, "disconnect").await;
        assert_same_shape("disconnect", &disconnect);
        gw.shutdown().await;
    })
    .await;
}
