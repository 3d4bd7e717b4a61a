//! `chat-disconnect`: the chat's `$disconnect`. Deletes the connection's entry from the
//! connections table, so broadcasts stop trying it.

use shared::connections::Connections;
use shared::event::{self, WebsocketInfo};
use shared::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest, response};

/// Deletes the entry and logs who left and why; always 200 (API Gateway ignores the answer:
/// the connection is already closed). A failed delete is logged: the entry then goes when a
/// broadcast finds the connection gone (410), or at its TTL.
pub async fn handle(
    request: ApiGatewayWebsocketProxyRequest,
    connections: &Connections,
) -> ApiGatewayProxyResponse {
    let info = WebsocketInfo::from_request(&request);
    let context = &request.request_context;
    let request_id = info.request_id.as_deref();
    let user = event::authorized_user(&request);
    let Some(connection_id) = info.connection_id.as_deref().filter(|id| !id.is_empty()) else {
        tracing::error!(
            request_id,
            "the event has no requestContext.connectionId: nothing to delete"
        );
        return response::ok();
    };
    match connections.delete(connection_id).await {
        Ok(()) => tracing::info!(
            connection_id,
            user,
            disconnect_status_code = context.disconnect_status_code,
            disconnect_reason = context.disconnect_reason.as_deref(),
            request_id,
            "disconnected"
        ),
        Err(error) => tracing::error!(
            connection_id,
            user,
            request_id,
            error_kind = error.kind,
            code = error.code.as_deref(),
            error = %error,
            "deleting the connection's entry failed; it expires with its TTL"
        ),
    }
    response::ok()
}
