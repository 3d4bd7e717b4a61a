//! `$disconnect`: logs who left and why.

use shared::event::{self, WebsocketInfo};
use shared::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest, response};

/// Logs the connection id, `disconnectStatusCode` and `disconnectReason`; always 200
/// (API Gateway ignores the answer: the connection is already closed).
pub async fn handle(request: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let info = WebsocketInfo::from_request(&request);
    let context = &request.request_context;
    tracing::info!(
        connection_id = event::connection_id_for_logs(&request),
        disconnect_status_code = context.disconnect_status_code,
        disconnect_reason = context.disconnect_reason.as_deref(),
        request_id = info.request_id.as_deref(),
        "disconnected"
    );
    response::ok()
}
