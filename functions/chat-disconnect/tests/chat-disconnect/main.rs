//! `chat-disconnect`'s tests, one binary: the handler called directly and the real binary run
//! through a Lambda Runtime API on 127.0.0.1, both against a real DynamoDB API (the pinned
//! moto server).

mod binary;
mod handler;

use shared::connections::{Connection, Connections, Settings};
use shared::test_support::local_aws::{self, client_settings};

/// The table the tests create on the moto server.
const TABLE: &str = "ChatConnections";

/// The connection of the DISCONNECT fixtures.
const LEAVING: &str = "CX1a2cOoDoECIbQ=";
/// Another connection, which stays.
const STAYING: &str = "CX9zzzzzzzzzzzz=";

/// A connections table on the moto server at `endpoint` holding [`LEAVING`] and [`STAYING`],
/// and its client.
async fn table_with_two(endpoint: &str) -> Connections {
    local_aws::create_connections_table(endpoint, TABLE).await;
    local_aws::put_connections(
        endpoint,
        TABLE,
        &[
            Connection::new(LEAVING, "alice", 1_795_544_400_000),
            Connection::new(STAYING, "bob", 1_795_544_401_000),
        ],
    )
    .await;
    client(endpoint)
}

/// The table's client, whether or not the table exists.
fn client(endpoint: &str) -> Connections {
    Connections::new(Settings {
        client: client_settings(endpoint),
        table: TABLE.to_owned(),
    })
}
