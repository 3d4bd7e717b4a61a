//! `chat-connect`: the chat's `$connect`. Stores the connection in the connections table with
//! the user the `$connect` authorizer admitted it as, so that broadcasts reach it.

use std::time::{SystemTime, UNIX_EPOCH};

use shared::connections::{Connection, Connections};
use shared::event::{self, WebsocketInfo};
use shared::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest, response};

/// Writes `{connectionId, userName, connectedAt, expiresAt}` and accepts the connection (200).
///
/// Refuses it (API Gateway answers the handshake with the status) when the entry cannot be
/// written (500): a connection missing from the table would receive no message, so it is
/// better refused than silently deaf. Also 500 when the event names no user: the API has no
/// authorizer on `$connect`, a deployment error that must not open the chat to anonymous
/// users.
pub async fn handle(
    request: ApiGatewayWebsocketProxyRequest,
    connections: &Connections,
) -> ApiGatewayProxyResponse {
    let info = WebsocketInfo::from_request(&request);
    let request_id = info.request_id.as_deref();
    let Some(connection_id) = info.connection_id.as_deref().filter(|id| !id.is_empty()) else {
        tracing::error!(
            request_id,
            "the event has no requestContext.connectionId: it is not an API Gateway WebSocket event"
        );
        return response::status(400, "missing requestContext.connectionId");
    };
    // From the authorizer's context only: the query string and headers are the client's.
    let Some(user) = event::authorized_user(&request) else {
        tracing::error!(
            connection_id,
            request_id,
            "requestContext.authorizer names no user: $connect must be guarded by the chat's \
             authorizer; connection refused"
        );
        return response::status(500, "no authorized user");
    };
    // API Gateway's time of the connection; a bare event (0) gets the time of this call.
    let connected_at = if info.connected_at > 0 {
        info.connected_at
    } else {
        now_ms()
    };
    let connection = Connection::new(connection_id, user, connected_at);
    match connections.put(&connection).await {
        Ok(()) => {
            tracing::info!(connection_id, user, request_id, "connected");
            // Personal data: only when the stage asks for DEBUG (`functions.log_level`).
            tracing::debug!(
                connection_id,
                source_ip = info.source_ip.as_deref(),
                user_agent = event::user_agent(&request),
                request_id,
                "where from"
            );
            response::ok()
        }
        Err(error) => {
            tracing::error!(
                connection_id,
                user,
                request_id,
                error_kind = error.kind,
                code = error.code.as_deref(),
                error = %error,
                "storing the connection failed; connection refused"
            );
            response::status(500, "storing the connection failed")
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}
