//! `signed`: the echo API for programs rather than people. A client signs the upgrade request
//! with SigV4 (IAM authorization: credentials of the stack's `ClientRole`, or of any principal
//! granted `execute-api:Invoke` on `$connect`) and sends its API key in `x-api-key`.

use crate::app::{ApiKeySource, ApiKeysSpec, ApiSpec, App, Connect, ConnectAuthorization};
use crate::apps::echo::ROUTES;

pub const APP: App = App {
    name: "signed",
    description: "wsSigned: echo for signed, keyed clients (API Gateway WebSocket + IAM authorization + API keys)",
    api: ApiSpec {
        id: "WsSigned",
        name: "wsSigned",
        description: "echo websocket information, for IAM-signed clients with an API key",
        route_selection_expression: "$request.body.action",
    },
    routes: ROUTES,
    connect: Connect {
        authorization: ConnectAuthorization::Iam {
            client_role: "Client",
        },
        api_keys: Some(ApiKeysSpec {
            source: ApiKeySource::Header,
            clients: &["dashboard"],
        }),
    },
    tables: &[],
    secrets: &[],
};
