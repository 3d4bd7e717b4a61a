//! `$disconnect` against moto: the leaving connection's entry goes, the others stay, and a
//! failure is logged, never answered with an error.

use serde_json::Value;
use shared::ApiGatewayWebsocketProxyRequest;
use shared::connections::Connections;
use shared::test_support::fixtures::{self, DISCONNECT, DISCONNECT_AUTHORIZED};
use shared::test_support::{bounded, local_aws, logs};
use testenv::moto::Moto;

use crate::{LEAVING, STAYING, TABLE, client, table_with_two};

async fn disconnect(
    request: ApiGatewayWebsocketProxyRequest,
    connections: &Connections,
) -> (i64, Vec<Value>) {
    let (response, lines) =
        bounded(logs::capture(chat_disconnect::handle(request, connections))).await;
    (response.status_code, lines)
}

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn deletes_the_leaving_connection_and_keeps_the_others() {
    let moto = Moto::start();
    let connections = table_with_two(&moto.endpoint).await;
    let (status, lines) = disconnect(fixtures::parse(DISCONNECT_AUTHORIZED), &connections).await;
    assert_eq!(status, 200);
    let items = local_aws::items(&moto.endpoint, TABLE).await;
    assert!(!items.contains_key(LEAVING), "{items:#?}");
    assert!(items.contains_key(STAYING), "{items:#?}");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert_eq!(line["message"], "disconnected");
    assert_eq!(line["connection_id"], LEAVING);
    assert_eq!(line["user"], "alice");
    assert_eq!(line["disconnect_status_code"], 1005);

    // Again (API Gateway delivers `$disconnect` at least once): still 200, nothing else goes.
    let (status, _) = disconnect(fixtures::parse(DISCONNECT), &connections).await;
    assert_eq!(status, 200);
    assert_eq!(local_aws::items(&moto.endpoint, TABLE).await.len(), 1);
}

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn a_failed_delete_is_logged_and_still_200() {
    let moto = Moto::start();
    // No table: DynamoDB answers ResourceNotFoundException.
    let (status, lines) = disconnect(
        fixtures::parse(DISCONNECT_AUTHORIZED),
        &client(&moto.endpoint),
    )
    .await;
    assert_eq!(status, 200);
    let line = lines
        .iter()
        .find(|line| line["level"] == "ERROR")
        .unwrap_or_else(|| panic!("no error line in {lines:#?}"));
    assert_eq!(line["code"], "ResourceNotFoundException", "{line}");
    assert_eq!(line["connection_id"], LEAVING);
}

#[tokio::test]
async fn an_event_without_a_connection_id_is_200_without_a_call() {
    // Port 9 (discard) is never asked: there is nothing to delete.
    let connections = client("http://127.0.0.1:9");
    let bare: ApiGatewayWebsocketProxyRequest =
        serde_json::from_str(r#"{"requestContext":{"connectedAt":0,"requestTimeEpoch":0}}"#)
            .unwrap();
    let (status, lines) = disconnect(bare, &connections).await;
    assert_eq!(status, 200);
    assert_eq!(lines[0]["level"], "ERROR");
}
