//! The AWS_PROXY events API Gateway sends a WebSocket route's function, in the shape of
//! functions/shared/fixtures/*.json (captured from API Gateway).

use std::collections::BTreeMap;
use std::sync::Arc;

use hyper::HeaderMap;
use serde_json::{Map, Value, json};

use crate::access::Access;
use crate::ids;

/// What every event of one connection shares.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionInfo {
    pub(crate) connection_id: String,
    pub(crate) connected_at: u64,
    pub(crate) source_ip: String,
    pub(crate) user_agent: String,
    pub(crate) domain_name: String,
    pub(crate) stage: String,
    pub(crate) api_id: String,
    /// What `$connect`'s authorization granted, once per connection: the authorizer's
    /// principal and context, the IAM caller, the API key (none for an open `$connect`).
    pub(crate) access: Option<Arc<Access>>,
}

fn request_context(
    info: &ConnectionInfo,
    route_key: &str,
    event_type: &str,
    request_id: &str,
) -> Map<String, Value> {
    let now = ids::now_ms();
    let mut ctx = Map::new();
    ctx.insert("routeKey".into(), route_key.into());
    ctx.insert("eventType".into(), event_type.into());
    ctx.insert("extendedRequestId".into(), request_id.into());
    ctx.insert("requestTime".into(), ids::request_time(now).into());
    ctx.insert("messageDirection".into(), "IN".into());
    ctx.insert("stage".into(), info.stage.clone().into());
    ctx.insert("connectedAt".into(), info.connected_at.into());
    ctx.insert("requestTimeEpoch".into(), now.into());
    let mut identity = Map::new();
    identity.insert("userAgent".into(), info.user_agent.clone().into());
    identity.insert("sourceIp".into(), info.source_ip.clone().into());
    if let Some(access) = &info.access {
        identity.extend(access.identity.clone());
        if let Some(authorizer) = &access.authorizer {
            ctx.insert("authorizer".into(), authorizer.clone());
        }
    }
    ctx.insert("identity".into(), identity.into());
    ctx.insert("requestId".into(), request_id.into());
    ctx.insert("domainName".into(), info.domain_name.clone().into());
    ctx.insert("connectionId".into(), info.connection_id.clone().into());
    ctx.insert("apiId".into(), info.api_id.clone().into());
    ctx
}

/// `sec-websocket-key` → `Sec-WebSocket-Key`: header names as clients send them.
fn display_name(name: &str) -> String {
    name.split('-')
        .map(|word| match word {
            "websocket" => "WebSocket".to_owned(),
            "amzn" => "Amzn".to_owned(),
            _ => {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The upgrade request's parameters as events carry them.
struct Parameters {
    /// As clients name them, with what API Gateway's front end adds; single and multi-value.
    headers: Map<String, Value>,
    multi_value_headers: Map<String, Value>,
    /// Single and multi-value; `None` when the query string has none.
    query: Option<(Map<String, Value>, Map<String, Value>)>,
}

/// `hop_by_hop` keeps `Connection` and `Upgrade`, which an authorizer sees and `$connect` not.
fn request_parameters(
    info: &ConnectionInfo,
    headers: &HeaderMap,
    query: Option<&str>,
    port: u16,
    hop_by_hop: bool,
) -> Parameters {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in headers {
        // API Gateway consumes the hop-by-hop upgrade headers; functions never see them.
        if !hop_by_hop && (name == hyper::header::CONNECTION || name == hyper::header::UPGRADE) {
            continue;
        }
        let name = display_name(name.as_str());
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        single.insert(name.clone(), value.clone().into());
        multi
            .entry(name)
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .expect("an array")
            .push(value.into());
    }
    // What API Gateway's front end adds.
    let forwarded = [
        (
            "X-Amzn-Trace-Id",
            ids::trace_id()
                .split(';')
                .next()
                .unwrap_or_default()
                .to_owned(),
        ),
        ("X-Forwarded-For", info.source_ip.clone()),
        ("X-Forwarded-Port", port.to_string()),
        ("X-Forwarded-Proto", "http".to_owned()),
    ];
    for (name, value) in forwarded {
        single.insert(name.into(), value.clone().into());
        multi.insert(name.into(), json!([value]));
    }
    let params = query.map(parse_query).unwrap_or_default();
    let query = (!params.is_empty()).then(|| {
        let mut single = Map::new();
        let mut multi: Map<String, Value> = Map::new();
        for (k, v) in params {
            single.insert(k.clone(), v.clone().into());
            multi
                .entry(k)
                .or_insert_with(|| Value::Array(Vec::new()))
                .as_array_mut()
                .expect("an array")
                .push(v.into());
        }
        (single, multi)
    });
    Parameters {
        headers: single,
        multi_value_headers: multi,
        query,
    }
}

pub(crate) fn connect(
    info: &ConnectionInfo,
    request_id: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    port: u16,
) -> Value {
    let parameters = request_parameters(info, headers, query, port, false);
    let mut event = Map::new();
    event.insert("headers".into(), parameters.headers.into());
    event.insert(
        "multiValueHeaders".into(),
        parameters.multi_value_headers.into(),
    );
    if let Some((single, multi)) = parameters.query {
        event.insert("queryStringParameters".into(), single.into());
        event.insert("multiValueQueryStringParameters".into(), multi.into());
    }
    let mut ctx = request_context(info, "$connect", "CONNECT", request_id);
    ctx.insert("messageId".into(), Value::Null);
    event.insert("requestContext".into(), ctx.into());
    event.insert("isBase64Encoded".into(), false.into());
    event.into()
}

/// The WebSocket REQUEST authorizer event (functions/shared/fixtures/authorizer.json): the
/// upgrade request as `$connect` gets it plus its hop-by-hop headers, the stage variables, and
/// the `methodArn` the returned policy is evaluated against. Empty maps are sent as `{}`.
pub(crate) fn authorizer_request(
    info: &ConnectionInfo,
    request_id: &str,
    method_arn: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    stage_variables: &BTreeMap<String, String>,
    port: u16,
) -> Value {
    let Parameters {
        headers: mut single,
        multi_value_headers: mut multi,
        query,
    } = request_parameters(info, headers, query, port, true);
    single.insert("content-length".into(), "0".into());
    multi.insert("content-length".into(), json!(["0"]));
    let (query, multi_query) = query.unwrap_or_default();
    // `info` has no access yet: the authorizer decides it.
    let ctx = request_context(info, "$connect", "CONNECT", request_id);
    json!({
        "type": "REQUEST",
        "methodArn": method_arn,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "stageVariables": stage_variables,
        "requestContext": ctx,
    })
}

pub(crate) fn message(
    info: &ConnectionInfo,
    route_key: &str,
    request_id: &str,
    body: &str,
) -> Value {
    let mut ctx = request_context(info, route_key, "MESSAGE", request_id);
    ctx.insert("messageId".into(), ids::aws_id().into());
    json!({"requestContext": ctx, "body": body, "isBase64Encoded": false})
}

pub(crate) fn disconnect(
    info: &ConnectionInfo,
    request_id: &str,
    code: u16,
    reason: &str,
) -> Value {
    let mut ctx = request_context(info, "$disconnect", "DISCONNECT", request_id);
    ctx.insert("disconnectStatusCode".into(), code.into());
    ctx.insert("disconnectReason".into(), reason.into());
    json!({
        "headers": {"Host": info.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""},
        "multiValueHeaders": {"Host": [info.domain_name], "x-api-key": [""], "X-Forwarded-For": [""], "x-restapi": [""]},
        "requestContext": ctx,
        "isBase64Encoded": false,
    })
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// Decodes `%XX` escapes; malformed escapes stay as they are.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_queries_and_escapes() {
        assert_eq!(percent_decode("%40connections%2Fab%3D"), "@connections/ab=");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(
            parse_query("a=1&b=x+y&a=2"),
            [
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("a".into(), "2".into())
            ]
        );
        assert_eq!(display_name("sec-websocket-key"), "Sec-WebSocket-Key");
    }
}
