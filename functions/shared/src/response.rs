//! Integration responses returned to API Gateway.
//!
//! For WebSocket routes without a route response API Gateway only looks at the status code
//! (on `$connect`, a non-2xx refuses the handshake); the body is for logs and local runs.

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body;

/// A response with `status_code` and a short text body.
pub fn status(status_code: u16, body: &str) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status_code);
    response.body = Some(Body::Text(body.to_owned()));
    response
}

/// 200: the route did its work (or there was nothing left to do, as for a gone connection).
pub fn ok() -> ApiGatewayProxyResponse {
    status(200, "OK")
}
