//! `chat-connect`'s tests, one binary: the handler called directly and the real binary run
//! through a Lambda Runtime API on 127.0.0.1, both against a real DynamoDB API (the pinned
//! moto server).

mod binary;
mod handler;

use shared::connections::{Connections, Settings};
use shared::test_support::local_aws::{self, client_settings};

/// The table the tests create on the moto server.
const TABLE: &str = "ChatConnections";

/// A connections table on the moto server at `endpoint`, and its client.
async fn table(endpoint: &str) -> Connections {
    local_aws::create_connections_table(endpoint, TABLE).await;
    client(endpoint)
}

/// The table's client, whether or not the table exists.
fn client(endpoint: &str) -> Connections {
    Connections::new(Settings {
        client: client_settings(endpoint),
        table: TABLE.to_owned(),
    })
}
