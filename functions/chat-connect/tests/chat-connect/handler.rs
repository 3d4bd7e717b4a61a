//! `$connect` against moto: the entry it stores, and the connections it refuses.

use serde_json::{Value, json};
use shared::ApiGatewayWebsocketProxyRequest;
use shared::connections::{Connection, Connections};
use shared::test_support::fixtures::{self, CONNECT, CONNECT_AUTHORIZED};
use shared::test_support::{bounded, local_aws, logs};
use testenv::moto::Moto;

use crate::{TABLE, client, table};

async fn connect(
    request: ApiGatewayWebsocketProxyRequest,
    connections: &Connections,
) -> (i64, Vec<Value>) {
    let (response, lines) =
        bounded(logs::capture(chat_connect::handle(request, connections))).await;
    (response.status_code, lines)
}

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn stores_the_authorizers_user_with_a_ttl_two_hours_and_ten_minutes_on() {
    let moto = Moto::start();
    let connections = table(&moto.endpoint).await;
    // The client names someone else in the query string: only the authorizer counts.
    let mut raw: Value = serde_json::from_str(CONNECT_AUTHORIZED).unwrap();
    raw["queryStringParameters"]["user"] = json!("mallory");
    raw["multiValueQueryStringParameters"]["user"] = json!(["mallory"]);
    let (status, lines) = connect(serde_json::from_value(raw).unwrap(), &connections).await;
    assert_eq!(status, 200, "{lines:#?}");

    let items = local_aws::items(&moto.endpoint, TABLE).await;
    assert_eq!(items.len(), 1, "{items:#?}");
    let stored = Connection::from_item(&items["CX1a2cOoDoECIbQ="]).expect("a complete entry");
    assert_eq!(
        stored,
        Connection {
            connection_id: "CX1a2cOoDoECIbQ=".to_owned(),
            user_name: "alice".to_owned(),
            connected_at: 1_795_544_400_000,
            // Seconds, for DynamoDB's TTL: API Gateway's 2 h limit plus 10 min.
            expires_at: 1_795_544_400 + 2 * 3600 + 600,
        }
    );
    // Exactly these four attributes, with DynamoDB's types.
    let item = &items["CX1a2cOoDoECIbQ="];
    assert_eq!(item.len(), 4);
    assert!(item["connectedAt"].is_n() && item["expiresAt"].is_n());
    assert!(item["userName"].is_s());

    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["message"], "connected");
    assert_eq!(lines[0]["user"], "alice");
    assert_eq!(lines[0]["connection_id"], "CX1a2cOoDoECIbQ=");
    // The token is in the event's query string; it is not logged.
    let token = fixtures::parse(CONNECT_AUTHORIZED)
        .query_string_parameters
        .first("token")
        .unwrap()
        .to_owned();
    assert!(!serde_json::to_string(&lines).unwrap().contains(&token));
}

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn a_connection_no_authorizer_admitted_is_refused_and_not_stored() {
    let moto = Moto::start();
    let connections = table(&moto.endpoint).await;
    // The echo app's `$connect` event: no requestContext.authorizer, a name in the query.
    let (status, lines) = connect(fixtures::parse(CONNECT), &connections).await;
    assert_eq!(status, 500);
    assert!(local_aws::items(&moto.endpoint, TABLE).await.is_empty());
    assert_eq!(lines[0]["level"], "ERROR");
    assert!(
        lines[0]["message"]
            .as_str()
            .unwrap()
            .contains("names no user"),
        "{lines:#?}"
    );
}

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn a_failed_put_refuses_the_connection() {
    let moto = Moto::start();
    // No table: DynamoDB answers ResourceNotFoundException.
    let (status, lines) =
        connect(fixtures::parse(CONNECT_AUTHORIZED), &client(&moto.endpoint)).await;
    assert_eq!(status, 500);
    let line = lines
        .iter()
        .find(|line| line["level"] == "ERROR")
        .unwrap_or_else(|| panic!("no error line in {lines:#?}"));
    assert_eq!(line["code"], "ResourceNotFoundException", "{line}");
    assert_eq!(line["connection_id"], "CX1a2cOoDoECIbQ=");
    assert!(line["error"].as_str().unwrap().contains(TABLE), "{line}");
}

#[tokio::test]
async fn an_event_without_a_connection_id_is_refused_without_a_call() {
    // Port 9 (discard) is never asked: the event is refused before any call.
    let connections = client("http://127.0.0.1:9");
    let mut raw: Value = serde_json::from_str(CONNECT_AUTHORIZED).unwrap();
    raw["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("connectionId");
    let (status, _) = connect(serde_json::from_value(raw).unwrap(), &connections).await;
    assert_eq!(status, 400);
}
