//! `echo`: the tutorial's wsEcho API. Every message's `action` selects its route; `echo`
//! sends the client its message back, `$default` explains what to send instead.

use crate::app::{ApiSpec, App, Connect, Grant, RouteSpec};

/// The tutorial's four routes; the guarded apps reuse them.
pub(crate) const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        key: "$connect",
        name: "Connect",
        package: "connect",
        grants: &[],
    },
    RouteSpec {
        key: "$disconnect",
        name: "Disconnect",
        package: "disconnect",
        grants: &[],
    },
    RouteSpec {
        key: "$default",
        name: "Default",
        package: "default",
        grants: &[Grant::ManageConnections],
    },
    RouteSpec {
        key: "echo",
        name: "Echo",
        package: "echo",
        grants: &[Grant::ManageConnections],
    },
];

pub const APP: App = App {
    name: "echo",
    description: "wsEcho: echo websocket information (API Gateway WebSocket + Lambda)",
    api: ApiSpec {
        id: "WsEcho",
        name: "wsEcho",
        description: "echo websocket information",
        route_selection_expression: "$request.body.action",
    },
    routes: ROUTES,
    connect: Connect::OPEN,
    tables: &[],
    secrets: &[],
};
