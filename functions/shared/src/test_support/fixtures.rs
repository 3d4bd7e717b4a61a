//! The reference events in `functions/shared/fixtures/`, shaped exactly as API Gateway sends
//! them (the local gateway uses them as its reference too).

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;

pub const CONNECT: &str = include_str!("../../fixtures/connect.json");
pub const MESSAGE: &str = include_str!("../../fixtures/message.json");
pub const DISCONNECT: &str = include_str!("../../fixtures/disconnect.json");
/// The events of a connection a `$connect` authorizer admitted as `alice` (principal and
/// context `{"user": "alice"}`, flattened into `requestContext.authorizer` as API Gateway does):
/// the chat app's. The message is a `sendmessage` of `"hello"`; the connect has a token.
pub const CONNECT_AUTHORIZED: &str = include_str!("../../fixtures/connect-authorized.json");
pub const MESSAGE_AUTHORIZED: &str = include_str!("../../fixtures/message-authorized.json");
pub const DISCONNECT_AUTHORIZED: &str = include_str!("../../fixtures/disconnect-authorized.json");
/// The event of a `$connect` REQUEST authorizer (`?token=let-me-in`).
pub const AUTHORIZER: &str = include_str!("../../fixtures/authorizer.json");

/// Parses one of the fixtures above.
pub fn parse(json: &str) -> ApiGatewayWebsocketProxyRequest {
    serde_json::from_str(json).expect("the fixture is a valid WebSocket event")
}

/// The MESSAGE fixture with another body.
pub fn message_with_body(
    body: Option<&str>,
    is_base64_encoded: bool,
) -> ApiGatewayWebsocketProxyRequest {
    let mut request = parse(MESSAGE);
    request.body = body.map(str::to_owned);
    request.is_base64_encoded = is_base64_encoded;
    request
}
