//! `$connect` on the reference event and on a bare one: what is logged at INFO, and what
//! only at DEBUG.

use serde_json::{Value, json};
use shared::ApiGatewayWebsocketProxyRequest;
use shared::test_support::fixtures::{self, CONNECT};
use shared::test_support::logs::LevelFilter;
use shared::test_support::{bounded, logs};

async fn connect_at(
    level: LevelFilter,
    request: ApiGatewayWebsocketProxyRequest,
) -> (i64, Vec<Value>) {
    let (response, lines) = bounded(logs::capture_at(level, connect::handle(request))).await;
    (response.status_code, lines)
}

#[tokio::test]
async fn logs_who_connected_and_accepts_without_what_may_be_secret() {
    let (status, lines) = connect_at(LevelFilter::INFO, fixtures::parse(CONNECT)).await;
    assert_eq!(status, 200);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert_eq!(line["message"], "connected");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["connection_id"], "CX1a2cOoDoECIbQ=");
    assert_eq!(line["request_id"], "CX1a2GaBDoEFbQw=");
    assert_eq!(line["query_parameter_names"], "name,room");
    let text = serde_json::to_string(&lines).unwrap();
    for private in ["ada", "lobby", "203.0.113.42", "wscat"] {
        assert!(!text.contains(private), "{private} logged at INFO: {text}");
    }
}

#[tokio::test]
async fn at_debug_the_values_the_source_ip_and_the_user_agent_are_logged() {
    let (status, lines) = connect_at(LevelFilter::DEBUG, fixtures::parse(CONNECT)).await;
    assert_eq!(status, 200);
    let line = lines
        .iter()
        .find(|line| line["message"] == "what the client sent")
        .unwrap_or_else(|| panic!("no DEBUG line: {lines:#?}"));
    assert_eq!(line["level"], "DEBUG");
    assert_eq!(line["source_ip"], "203.0.113.42");
    assert_eq!(line["user_agent"], "wscat/6.0.1 (node 20.11.1)");
    let query: Value = serde_json::from_str(line["query_parameters"].as_str().unwrap()).unwrap();
    assert_eq!(query, json!({"name": ["ada"], "room": ["lobby"]}));
}

#[tokio::test]
async fn repeated_query_parameters_keep_every_value() {
    let mut raw: Value = serde_json::from_str(CONNECT).unwrap();
    raw["queryStringParameters"] = json!({"tag": "b"});
    raw["multiValueQueryStringParameters"] = json!({"tag": ["a", "b"]});
    let (status, lines) =
        connect_at(LevelFilter::DEBUG, serde_json::from_value(raw).unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(lines[0]["query_parameter_names"], "tag");
    assert_eq!(lines[1]["query_parameters"], r#"{"tag":["a","b"]}"#);
}

#[tokio::test]
async fn a_bare_event_is_accepted_without_panicking() {
    // The least the runtime types accept: no headers, no identity, no connection id.
    let bare: ApiGatewayWebsocketProxyRequest =
        serde_json::from_str(r#"{"requestContext":{"connectedAt":0,"requestTimeEpoch":0}}"#)
            .unwrap();
    let (status, lines) = connect_at(LevelFilter::DEBUG, bare).await;
    assert_eq!(status, 200);
    assert_eq!(lines[0]["connection_id"], "<missing>");
    assert_eq!(lines[0]["query_parameter_names"], "");
    assert_eq!(lines[1]["query_parameters"], "{}");
    assert!(lines[1].get("source_ip").is_none());
}
