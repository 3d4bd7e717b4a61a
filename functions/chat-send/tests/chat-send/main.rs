//! `chat-send`'s tests, one binary: the handler called directly and the real binary run
//! through a Lambda Runtime API on 127.0.0.1, against a real DynamoDB API (the pinned moto
//! server) and a real management endpoint stand-in on 127.0.0.1.

mod binary;
mod broadcast;
mod replies;

use shared::ApiGatewayWebsocketProxyRequest;
use shared::actions::Actions;
use shared::connections::{Connection, Connections, Settings};
use shared::delivery::Replier;
use shared::management::Management;
use shared::test_support::fixtures::{self, MESSAGE_AUTHORIZED};
use shared::test_support::local_aws::{self, client_settings};
use shared::test_support::settings_for;

use chat_send::Sender;

/// The table the tests create on the moto server.
const TABLE: &str = "ChatConnections";

/// The sender of the MESSAGE_AUTHORIZED fixture (`alice`).
const SENDER: &str = "CX1a2cOoDoECIbQ=";

/// What the chat app's template hands its replying functions.
fn chat_actions() -> Actions {
    Actions::new(["sendmessage"])
}

/// The request target of a post to `connection_id` on the `dev` stage, as the SDK encodes it.
fn post_path(connection_id: &str) -> String {
    format!("/dev/@connections/{}", connection_id.replace('=', "%3D"))
}

/// A sender posting to `management` (a stand-in's URL) and reading the table at `dynamodb`.
fn sender(management: &str, dynamodb: &str) -> Sender {
    Sender {
        replier: Replier {
            management: Management::new(settings_for(management)),
            actions: chat_actions(),
        },
        connections: Connections::new(Settings {
            client: client_settings(dynamodb),
            table: TABLE.to_owned(),
        }),
    }
}

/// Creates the table at `endpoint` holding `(connection id, user)` entries.
async fn table_with(endpoint: &str, entries: &[(&str, &str)]) {
    local_aws::create_connections_table(endpoint, TABLE).await;
    let connections: Vec<Connection> = entries
        .iter()
        .map(|(id, user)| Connection::new(id, user, 1_795_544_400_000))
        .collect();
    local_aws::put_connections(endpoint, TABLE, &connections).await;
}

/// The sendmessage fixture (from `alice`, on [`SENDER`]) with another body.
fn message(body: &str) -> ApiGatewayWebsocketProxyRequest {
    let mut request = fixtures::parse(MESSAGE_AUTHORIZED);
    request.body = Some(body.to_owned());
    request
}
