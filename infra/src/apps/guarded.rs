//! `guarded`: the echo API behind a Lambda REQUEST authorizer. A client connects with
//! `?token=…`; the `authorizer` crate admits the tokens the stage lists (by SHA-256) and names
//! the user in every event of the connection (`requestContext.authorizer`).

use crate::app::{ApiSpec, App, AuthorizerSpec, Connect, ConnectAuthorization};
use crate::apps::echo::ROUTES;

pub const APP: App = App {
    name: "guarded",
    description: "wsGuarded: echo for token holders (API Gateway WebSocket + Lambda REQUEST authorizer)",
    api: ApiSpec {
        id: "WsGuarded",
        name: "wsGuarded",
        description: "echo websocket information, for token holders",
        route_selection_expression: "$request.body.action",
    },
    routes: ROUTES,
    connect: Connect {
        authorization: ConnectAuthorization::Authorizer(AuthorizerSpec {
            name: "Token",
            package: "authorizer",
            // A query parameter: browsers cannot set headers on a WebSocket.
            identity_sources: &["route.request.querystring.token"],
            grants: &[],
        }),
        api_keys: None,
    },
    tables: &[],
    secrets: &[],
};
