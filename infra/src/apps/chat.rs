//! `chat`: AWS's simple-websockets-chat-app done in typed Rust. Users connect with a signed
//! token (`?token=…`, an HS256 JWT whose key Secrets Manager generates and only the
//! authorizer may read); the connections table keeps who is connected; `sendmessage`
//! broadcasts to everyone, naming the sender from the authorizer, never from the message.

use crate::app::{
    ApiSpec, App, AuthorizerSpec, Connect, ConnectAuthorization, Grant, RouteSpec, SecretSpec,
    TableAction, TableSpec,
};

const CONNECTIONS: &str = "Connections";

pub const APP: App = App {
    name: "chat",
    description: "wsChat: a chat with a connections table and broadcast (API Gateway WebSocket + Lambda + DynamoDB)",
    api: ApiSpec {
        id: "WsChat",
        name: "wsChat",
        description: "chat: every message goes to every connected user",
        route_selection_expression: "$request.body.action",
    },
    routes: &[
        RouteSpec {
            key: "$connect",
            name: "Connect",
            package: "chat-connect",
            grants: &[Grant::Table {
                table: CONNECTIONS,
                actions: &[TableAction::PutItem],
            }],
        },
        RouteSpec {
            key: "$disconnect",
            name: "Disconnect",
            package: "chat-disconnect",
            grants: &[Grant::Table {
                table: CONNECTIONS,
                actions: &[TableAction::DeleteItem],
            }],
        },
        RouteSpec {
            key: "sendmessage",
            name: "SendMessage",
            package: "chat-send",
            grants: &[
                Grant::ManageConnections,
                Grant::Table {
                    table: CONNECTIONS,
                    actions: &[TableAction::Scan, TableAction::DeleteItem],
                },
            ],
        },
        RouteSpec {
            key: "$default",
            name: "Default",
            package: "default",
            grants: &[Grant::ManageConnections],
        },
    ],
    connect: Connect {
        authorization: ConnectAuthorization::Authorizer(AuthorizerSpec {
            name: "Token",
            package: "chat-authorizer",
            // A query parameter: browsers cannot set headers on a WebSocket.
            identity_sources: &["route.request.querystring.token"],
            grants: &[Grant::ReadSecret("SigningKey")],
        }),
        api_keys: None,
    },
    tables: &[TableSpec {
        id: CONNECTIONS,
        partition_key: "connectionId",
        // Entries of connections that vanished without `$disconnect` expire.
        ttl_attribute: Some("expiresAt"),
        variable: "CONNECTIONS_TABLE",
    }],
    secrets: &[SecretSpec {
        id: "SigningKey",
        description: "The key the chat's HS256 tokens are signed with",
        length: 64,
        variable: "SIGNING_KEY_SECRET_ARN",
    }],
};
