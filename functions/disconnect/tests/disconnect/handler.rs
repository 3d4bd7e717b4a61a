//! `$disconnect` on the reference event and on a bare one.

use serde_json::Value;
use shared::ApiGatewayWebsocketProxyRequest;
use shared::test_support::fixtures::{self, DISCONNECT};
use shared::test_support::{bounded, logs};

async fn disconnect(request: ApiGatewayWebsocketProxyRequest) -> (i64, Vec<Value>) {
    let (response, lines) = bounded(logs::capture(disconnect::handle(request))).await;
    (response.status_code, lines)
}

#[tokio::test]
async fn logs_the_close_code_and_reason() {
    let (status, lines) = disconnect(fixtures::parse(DISCONNECT)).await;
    assert_eq!(status, 200);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert_eq!(line["message"], "disconnected");
    assert_eq!(line["connection_id"], "CX1a2cOoDoECIbQ=");
    assert_eq!(line["disconnect_status_code"], 1005);
    assert_eq!(
        line["disconnect_reason"],
        "Client-side close frame status not set"
    );
    assert_eq!(line["request_id"], "CX1cVFm2DoEFsHg=");
}

#[tokio::test]
async fn a_bare_event_is_accepted_without_panicking() {
    let bare: ApiGatewayWebsocketProxyRequest =
        serde_json::from_str(r#"{"requestContext":{"connectedAt":0,"requestTimeEpoch":0}}"#)
            .unwrap();
    let (status, lines) = disconnect(bare).await;
    assert_eq!(status, 200);
    assert_eq!(lines[0]["connection_id"], "<missing>");
    assert!(lines[0].get("disconnect_status_code").is_none());
}
