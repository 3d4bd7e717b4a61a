//! `$default`: tells the client its message matched no route, and what to send instead.

use shared::delivery::{self, Replier};
use shared::event::{self, WebsocketInfo};
use shared::message::Message;
use shared::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest, reply};

/// Posts an explanation (what was wrong with the message, the supported actions, the
/// WebSocket facts) to the sender.
pub async fn handle(
    request: ApiGatewayWebsocketProxyRequest,
    replier: &Replier,
) -> ApiGatewayProxyResponse {
    let info = WebsocketInfo::from_request(&request);
    let message = Message::from_request(&request);
    tracing::info!(
        connection_id = event::connection_id_for_logs(&request),
        request_id = info.request_id.as_deref(),
        message_kind = message.kind(),
        action = message.action(),
        "message not routed"
    );
    let reply = reply::not_recognised(&message, &info, &replier.actions);
    delivery::reply_to_sender(&replier.management, &request, reply).await
}
