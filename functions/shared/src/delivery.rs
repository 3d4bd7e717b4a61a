//! Posting a reply to the client that sent the message, and turning the outcome into the
//! integration response.

use crate::actions::Actions;
use crate::entry::Error;
use crate::event::WebsocketInfo;
use crate::management::{Management, PostError};
use crate::{reply, response};
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};

/// What a function that answers clients builds once per process: the management API client
/// (and its connections) and the actions it tells clients about.
pub struct Replier {
    pub management: Management,
    pub actions: Actions,
}

impl Replier {
    /// From Lambda's environment and the template's (see [`Management::from_env`],
    /// [`Actions::from_env`]).
    pub fn from_env() -> Result<Replier, Error> {
        Ok(Replier {
            management: Management::from_env()?,
            actions: Actions::from_env()?,
        })
    }
}

/// Posts `reply` (cut to a short error if over the limit) to the sender of `request`.
///
/// - sent: 200;
/// - the connection is gone (410): logged at info, 200 (nothing left to do, and an error
///   would only make API Gateway log a failed integration);
/// - the endpoint says too large (413): the short "too large" message is posted instead;
/// - anything else: logged as an error with its kind, 500.
pub async fn reply_to_sender(
    management: &Management,
    request: &ApiGatewayWebsocketProxyRequest,
    reply: Vec<u8>,
) -> ApiGatewayProxyResponse {
    let info = WebsocketInfo::from_request(request);
    let Some(connection_id) = info.connection_id.as_deref().filter(|id| !id.is_empty()) else {
        tracing::error!(
            "the event has no requestContext.connectionId: it is not an API Gateway WebSocket event"
        );
        return response::status(400, "missing requestContext.connectionId");
    };
    let endpoint = match management.endpoint_for(request) {
        Ok(endpoint) => endpoint,
        Err(error) => {
            tracing::error!(connection_id, error = %error, "no management endpoint");
            return response::status(500, "no management endpoint");
        }
    };
    let reply = reply::within_limit(reply, &info);
    let size = reply.len();
    let outcome = match management.post(&endpoint, connection_id, reply).await {
        Err(PostError::PayloadTooLarge) => {
            tracing::warn!(
                connection_id,
                size,
                "the endpoint refused the reply as too large; sending a short error instead"
            );
            let short = reply::too_large(size, &info);
            management.post(&endpoint, connection_id, short).await
        }
        other => other,
    };
    match outcome {
        Ok(()) => {
            tracing::info!(
                connection_id,
                request_id = info.request_id.as_deref(),
                route_key = info.route_key.as_deref(),
                size,
                endpoint,
                "reply sent"
            );
            response::ok()
        }
        Err(PostError::Gone) => {
            tracing::info!(
                connection_id,
                "the connection is gone (410); the reply was dropped"
            );
            response::ok()
        }
        Err(PostError::PayloadTooLarge) => {
            tracing::error!(
                connection_id,
                error_kind = "payload_too_large",
                "the endpoint refused even the short error message as too large"
            );
            response::status(500, "reply refused as too large")
        }
        Err(PostError::Failed {
            kind,
            status,
            code,
            detail,
        }) => {
            tracing::error!(
                connection_id,
                error_kind = kind,
                status,
                code,
                error = detail,
                "posting the reply failed"
            );
            response::status(500, "posting the reply failed")
        }
    }
}
