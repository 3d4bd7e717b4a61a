//! `$connect`: logs who connected and accepts the connection.

use shared::event::{self, WebsocketInfo};
use shared::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest, response};

/// Logs the connection id, source IP, user agent and query parameters; always 200 (a non-2xx
/// here would refuse the handshake).
pub async fn handle(request: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let info = WebsocketInfo::from_request(&request);
    let query = event::query_parameters(&request);
    tracing::info!(
        connection_id = event::connection_id_for_logs(&request),
        source_ip = info.source_ip.as_deref(),
        user_agent = event::user_agent(&request),
        query_parameters = %serde_json::to_string(&query).unwrap_or_default(),
        request_id = info.request_id.as_deref(),
        "connected"
    );
    response::ok()
}
