//! The management API (`@connections`), as `ApiGatewayManagementApi` clients call it:
//! `POST` sends, `GET` describes, `DELETE` closes. SigV4 signatures are accepted unchecked.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use crate::connections::{Connection, Outbound};
use crate::events::percent_decode;
use crate::ids;
use crate::log::log;
use crate::state::{MESSAGE_LIMIT, Shared};

pub(crate) async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    // Reachable from other machines: only a caller with the run's credentials (the functions,
    // whose SDK signs with them) may send to or close connections.
    if shared.exposed
        && !signed_by(
            req.headers(),
            req.uri().query(),
            &shared.credentials.access_key_id,
        )
    {
        log!(
            "@connections",
            "{} {} -> 403: not signed with this run's credentials",
            req.method(),
            req.uri().path()
        );
        return error(
            StatusCode::FORBIDDEN,
            "ForbiddenException",
            "The security token included in the request is invalid.",
        );
    }
    let path = percent_decode(req.uri().path());
    // `/@connections/{id}` or `/{stage}/@connections/{id}`.
    let Some((prefix, id)) = path.split_once("/@connections/") else {
        return error(
            StatusCode::NOT_FOUND,
            "NotFoundException",
            "no such resource",
        );
    };
    if !(prefix.is_empty()
        || prefix.strip_prefix('/') == Some(shared.deployment().model.stage.as_str()))
    {
        return error(StatusCode::FORBIDDEN, "ForbiddenException", "Forbidden");
    }
    let id = id.trim_end_matches('/').to_owned();
    let method = req.method().clone();
    let found = shared.registry.get_open(&id);
    match method {
        Method::POST => {
            let body = match Limited::new(req.into_body(), MESSAGE_LIMIT).collect().await {
                Ok(body) => body.to_bytes(),
                Err(_) => {
                    log!("@connections", "POST {id} -> 413");
                    return error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "PayloadTooLargeException",
                        "Request entity too large",
                    );
                }
            };
            let sent = found.as_deref().is_some_and(|c| post(c, body.to_vec()));
            let status = if sent {
                StatusCode::OK
            } else {
                StatusCode::GONE
            };
            log!(
                "@connections",
                "POST {id} {} bytes -> {}",
                body.len(),
                status.as_u16()
            );
            if sent {
                ok(StatusCode::OK, Bytes::new())
            } else {
                gone()
            }
        }
        Method::GET => match found {
            Some(c) => ok(
                StatusCode::OK,
                json!({
                    "connectedAt": ids::iso8601(c.info.connected_at),
                    "identity": {"sourceIp": c.info.source_ip, "userAgent": c.info.user_agent},
                    "lastActiveAt": ids::iso8601(c.last_active_ms()),
                })
                .to_string()
                .into(),
            ),
            None => gone(),
        },
        Method::DELETE => {
            let closed = found.as_deref().is_some_and(|c| c.close(1000, ""));
            log!(
                "@connections",
                "DELETE {id} -> {}",
                if closed { 204 } else { 410 }
            );
            if closed {
                ok(StatusCode::NO_CONTENT, Bytes::new())
            } else {
                gone()
            }
        }
        _ => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowedException",
            "use POST, GET or DELETE",
        ),
    }
}

/// Whether a SigV4 `Authorization` header (or a presigned query) names this access key id.
/// The signature itself is not checked: the key id is the run's secret-enough proof that the
/// caller was given the run's credentials.
fn signed_by(headers: &hyper::HeaderMap, query: Option<&str>, access_key_id: &str) -> bool {
    let header = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("AWS4-HMAC-SHA256 "))
        .and_then(|v| {
            v.split(',')
                .find_map(|part| part.trim().strip_prefix("Credential="))
        })
        .map(str::to_owned);
    let presigned = query.and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("X-Amz-Credential="))
            .map(percent_decode)
    });
    header
        .or(presigned)
        .is_some_and(|credential| credential.split('/').next() == Some(access_key_id))
}

fn post(connection: &Connection, data: Vec<u8>) -> bool {
    match String::from_utf8(data) {
        Ok(text) => connection.send(Outbound::Text(text)),
        Err(e) => connection.send(Outbound::Binary(e.into_bytes())),
    }
}

fn ok(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-requestid", ids::uuid())
        .body(Full::new(body))
        .expect("valid response")
}

fn gone() -> Response<Full<Bytes>> {
    error(StatusCode::GONE, "GoneException", "")
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response<Full<Bytes>> {
    let body = if message.is_empty() {
        json!({ "message": null })
    } else {
        json!({ "message": message })
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-requestid", ids::uuid())
        .header("x-amzn-errortype", kind)
        .body(Full::new(body.to_string().into()))
        .expect("valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_runs_access_key_signs_for_an_exposed_gateway() {
        let mut headers = hyper::HeaderMap::new();
        assert!(!signed_by(&headers, None, "ASIARUN"));
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=ASIARUN/20261206/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00"
                .parse()
                .unwrap(),
        );
        assert!(signed_by(&headers, None, "ASIARUN"));
        assert!(!signed_by(&headers, None, "ASIAOTHER"));
        assert!(signed_by(
            &hyper::HeaderMap::new(),
            Some(
                "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIARUN%2F20261206%2Fus-east-1%2Fexecute-api%2Faws4_request"
            ),
            "ASIARUN"
        ));
        assert!(!signed_by(
            &hyper::HeaderMap::new(),
            Some("X-Amz-Credential=ASIARUNX%2F20261206"),
            "ASIARUN"
        ));
    }
}
