//! What the functions read from an API Gateway WebSocket event.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use serde::Serialize;
use std::collections::BTreeMap;

/// The WebSocket facts of a request, echoed back to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebsocketInfo {
    pub connection_id: Option<String>,
    pub request_id: Option<String>,
    pub route_key: Option<String>,
    pub stage: Option<String>,
    /// Milliseconds since the Unix epoch, as API Gateway gives it.
    pub connected_at: i64,
    pub source_ip: Option<String>,
}

impl WebsocketInfo {
    pub fn from_request(request: &ApiGatewayWebsocketProxyRequest) -> Self {
        let context = &request.request_context;
        Self {
            connection_id: context.connection_id.clone(),
            request_id: context.request_id.clone(),
            route_key: context.route_key.clone(),
            stage: context.stage.clone(),
            connected_at: context.connected_at,
            source_ip: context.identity.source_ip.clone(),
        }
    }
}

/// The client's `User-Agent`: the handshake header if present, else what API Gateway put in
/// `identity.userAgent`.
pub fn user_agent(request: &ApiGatewayWebsocketProxyRequest) -> Option<&str> {
    request
        .headers
        .get("user-agent")
        .and_then(|value| value.to_str().ok())
        .or(request.request_context.identity.user_agent.as_deref())
}

/// The query string parameters of the handshake, each name with all its values, in name order
/// (for logging).
pub fn query_parameters(request: &ApiGatewayWebsocketProxyRequest) -> BTreeMap<&str, Vec<&str>> {
    let multi = &request.multi_value_query_string_parameters;
    // API Gateway sends both maps; the multi-value one also carries repeated names.
    let map = if multi.is_empty() {
        &request.query_string_parameters
    } else {
        multi
    };
    let mut parameters: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, value) in map.iter() {
        parameters.entry(name).or_default().push(value);
    }
    parameters
}

/// The connection id, or `"<missing>"` for logs of a malformed event.
pub fn connection_id_for_logs(request: &ApiGatewayWebsocketProxyRequest) -> &str {
    request
        .request_context
        .connection_id
        .as_deref()
        .unwrap_or("<missing>")
}

/// The key of the authorizer context that names the user (`{"user": "alice"}`), which API
/// Gateway flattens into `requestContext.authorizer` of every event of the connection.
pub const USER_CONTEXT_KEY: &str = "user";

/// The user `$connect`'s authorizer admitted the connection as: the context's
/// [`USER_CONTEXT_KEY`], else the `principalId`. `None` without an authorizer (or with one
/// that named nobody). Never read from the query string or the body, which the client
/// writes.
pub fn authorized_user(request: &ApiGatewayWebsocketProxyRequest) -> Option<&str> {
    let fields = &request.request_context.authorizer.fields;
    let named = |key: &str| {
        fields
            .get(key)
            .and_then(|value| value.as_str())
            .filter(|name| !name.is_empty())
    };
    named(USER_CONTEXT_KEY).or_else(|| named("principalId"))
}
