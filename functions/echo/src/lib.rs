//! `echo`: sends the client its message back, with the WebSocket facts of the request.

use shared::delivery::{self, Replier};
use shared::event::{self, WebsocketInfo};
use shared::message::Message;
use shared::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest, reply};

/// Posts `{"action":"echo","received":…,"websocket":{…}}` to the sender. A message that is not
/// an `echo` action (this route is selected by `$request.body.action`, so only a changed
/// route selection sends one) gets the same explanation as `$default`.
pub async fn handle(
    request: ApiGatewayWebsocketProxyRequest,
    replier: &Replier,
) -> ApiGatewayProxyResponse {
    let info = WebsocketInfo::from_request(&request);
    let message = Message::from_request(&request);
    // Debug only: the "reply sent" line that follows carries the route and request id, and
    // one line per echo, not two, is what a busy function's log bill wants.
    tracing::debug!(
        connection_id = event::connection_id_for_logs(&request),
        request_id = info.request_id.as_deref(),
        message_kind = message.kind(),
        action = message.action(),
        "message received"
    );
    let reply = match &message {
        Message::Action { action, value, .. } if action == "echo" => reply::echo(value, &info),
        other => reply::not_recognised(other, &info, &replier.actions),
    };
    delivery::reply_to_sender(&replier.management, &request, reply).await
}
