//! `$connect`: logs who connected and accepts the connection.

use shared::event::{self, WebsocketInfo};
use shared::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest, response};

/// Logs the connection id and the names of the query parameters; always 200 (a non-2xx here
/// would refuse the handshake). Their values (browsers put tokens there), the source IP and the
/// user agent only at DEBUG, which a stage turns on explicitly (`functions.log_level`).
pub async fn handle(request: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let info = WebsocketInfo::from_request(&request);
    let query = event::query_parameters(&request);
    let connection_id = event::connection_id_for_logs(&request);
    let request_id = info.request_id.as_deref();
    let names: Vec<&str> = query.keys().copied().collect();
    tracing::info!(
        connection_id,
        query_parameter_names = %names.join(","),
        request_id,
        "connected"
    );
    tracing::debug!(
        connection_id,
        source_ip = info.source_ip.as_deref(),
        user_agent = event::user_agent(&request),
        query_parameters = %serde_json::to_string(&query).unwrap_or_default(),
        request_id,
        "what the client sent"
    );
    response::ok()
}
