//! A Lambda function for the local gateway's tests: a real `lambda_runtime` binary whose
//! behaviour each test picks through the message (`"do"`) or the `$connect` query string
//! (`?testfn=...`).
//!
//! Every event is first parsed as `ApiGatewayWebsocketProxyRequest`, or, an authorizer event
//! (`"type": "REQUEST"`), as `ApiGatewayCustomAuthorizerRequestTypeRequest`, so an event the
//! gateway shapes wrongly fails the invocation. With `TESTFN_RECORD_DIR` set, authorizer,
//! `$connect` and `$disconnect` events are written there as
//! `<connectionId>.<authorizer|connect|disconnect>.json`.
//!
//! As an authorizer it does what the `auth` query parameter (else the `x-auth` header) says:
//! see [`authorize`].

use std::time::Duration;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest,
};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // A function that never asks for an invocation (its init hangs).
    if std::env::var_os("TESTFN_HANG_AT_INIT").is_some() {
        std::future::pending::<()>().await;
    }
    lambda_runtime::run(service_fn(handle)).await
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let raw = event.payload;
    if raw.get("type").and_then(Value::as_str) == Some("REQUEST") {
        return authorize(raw).await;
    }
    let parsed: ApiGatewayWebsocketProxyRequest = serde_json::from_value(raw.clone())
        .map_err(|e| format!("the gateway sent an event aws_lambda_events cannot read: {e}"))?;
    let ctx = &parsed.request_context;
    let connection_id = ctx.connection_id.clone().unwrap_or_default();
    let event_type = ctx.event_type.clone().unwrap_or_default();
    match event_type.as_str() {
        "CONNECT" => {
            record(&connection_id, "connect", &raw).await?;
            let query = |name: &str| {
                parsed
                    .query_string_parameters
                    .first(name)
                    .map(str::to_owned)
            };
            match query("testfn").as_deref() {
                Some("refuse") => {
                    let status: u16 = query("status").and_then(|s| s.parse().ok()).unwrap_or(403);
                    Ok(json!({"statusCode": status, "body": "refused by testfn"}))
                }
                Some("error") => Err("testfn was asked to fail $connect".into()),
                Some("sleep") => {
                    let ms = query("ms").and_then(|s| s.parse().ok()).unwrap_or(0);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(json!({"statusCode": 200}))
                }
                // Posting to a connection whose $connect is still running must give 410; any
                // other answer refuses the handshake with 418 so the test sees it.
                Some("post") => {
                    let status = post_to_connection(&connection_id, "too early").await?;
                    let code = if status == 410 { 200 } else { 418 };
                    Ok(json!({"statusCode": code, "body": format!("POST gave {status}")}))
                }
                Some("protocol") => Ok(json!({
                    "statusCode": 200,
                    "headers": {"Sec-WebSocket-Protocol": query("protocol").unwrap_or_default()}
                })),
                _ => Ok(json!({"statusCode": 200})),
            }
        }
        "DISCONNECT" => {
            record(&connection_id, "disconnect", &raw).await?;
            Ok(json!({"statusCode": 200}))
        }
        "MESSAGE" => {
            let body: Value = parsed
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or(Value::Null);
            let number = |name: &str| body.get(name).and_then(Value::as_u64).unwrap_or(0);
            match body.get("do").and_then(Value::as_str).unwrap_or("echo") {
                "error" => Err("testfn was asked to fail".into()),
                "print" => {
                    // What a careless function prints: invalid UTF-8, a line of `long` bytes.
                    // A write that fails (a pipe the gateway stopped reading) fails the call.
                    use std::io::Write;
                    let mut line = b"testfn prints \xff\xfe, invalid UTF-8".to_vec();
                    line.extend(std::iter::repeat_n(b'x', number("long") as usize));
                    line.push(b'\n');
                    std::io::stdout().write_all(&line)?;
                    std::io::stdout().flush()?;
                    std::io::stderr().write_all(&line)?;
                    Ok(reply(&raw))
                }
                "panic" => panic!("testfn was asked to panic"),
                "exit" => std::process::exit(7),
                "abort" => std::process::abort(),
                "sleep" => {
                    tokio::time::sleep(Duration::from_millis(number("ms"))).await;
                    Ok(reply(&raw))
                }
                "pid" => {
                    // Even a zero sleep waits for the next timer tick (~1 ms): skip it.
                    if number("ms") > 0 {
                        tokio::time::sleep(Duration::from_millis(number("ms"))).await;
                    }
                    Ok(json!({"statusCode": 200, "body": std::process::id().to_string()}))
                }
                // A grandchild of the gateway that would outlive it: its pid.
                "fork" => {
                    let child = std::process::Command::new("sleep").arg("60").spawn()?;
                    Ok(json!({"statusCode": 200, "body": child.id().to_string()}))
                }
                // A reply body of `bytes` bytes.
                "big" => {
                    Ok(json!({"statusCode": 200, "body": "b".repeat(number("bytes") as usize)}))
                }
                "status" => Ok(json!({"statusCode": number("status"), "body": "with status"})),
                "post" => {
                    let text = body.get("text").and_then(Value::as_str).unwrap_or_default();
                    let target = body
                        .get("to")
                        .and_then(Value::as_str)
                        .unwrap_or(&connection_id)
                        .to_owned();
                    let status = post_to_connection(&target, text).await?;
                    Ok(json!({"statusCode": 200, "body": format!("POST gave {status}")}))
                }
                "env" => {
                    let env: serde_json::Map<String, Value> =
                        std::env::vars().map(|(k, v)| (k, v.into())).collect();
                    Ok(json!({"statusCode": 200, "body": Value::Object(env).to_string()}))
                }
                _ => Ok(reply(&raw)),
            }
        }
        other => Err(format!("unexpected eventType {other:?}").into()),
    }
}

/// An authorizer. `auth` (query string, else the `x-auth` header) picks what it answers:
/// `allow` (the default), `deny`, `wildcard` (an Allow of `…/*/$conne?t` in a list), `deny-wins`
/// (Allow `*` and Deny the ARN), `elsewhere` (an Allow of another stage), `unauthorized`
/// (the error `Unauthorized`), `error`, `sleep` (`ms`, then allow), `malformed` (no policy),
/// `nested` (an object in the context), `oversized` (a 9 KB context), `key` (allow with the
/// `key` parameter as usageIdentifierKey). An Allow's principal is the `principal` parameter
/// (default `testfn-user`) and its context `{"who": principal, "number": 42, "flag": true}`.
async fn authorize(raw: Value) -> Result<Value, Error> {
    let parsed: ApiGatewayCustomAuthorizerRequestTypeRequest = serde_json::from_value(raw.clone())
        .map_err(|e| {
            format!("the gateway sent an authorizer event aws_lambda_events cannot read: {e}")
        })?;
    let connection_id = raw
        .pointer("/requestContext/connectionId")
        .and_then(Value::as_str)
        .ok_or("the authorizer event has no requestContext.connectionId")?;
    record(connection_id, "authorizer", &raw).await?;
    let method_arn = parsed.method_arn.clone().ok_or("no methodArn")?;
    let query = |name: &str| {
        parsed
            .query_string_parameters
            .first(name)
            .map(str::to_owned)
    };
    let behaviour = query("auth")
        .or_else(|| {
            parsed
                .headers
                .get("x-auth")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "allow".to_owned());
    let principal = query("principal").unwrap_or_else(|| "testfn-user".to_owned());
    let policy = |statements: Value| {
        json!({
            "principalId": principal,
            "policyDocument": {"Version": "2012-10-17", "Statement": statements},
            "context": {"who": principal, "number": 42, "flag": true},
        })
    };
    let statement = |effect: &str, resource: Value| json!({"Effect": effect, "Action": "execute-api:Invoke", "Resource": resource});
    let allow = policy(json!([statement("Allow", json!(method_arn))]));
    Ok(match behaviour.as_str() {
        "deny" => policy(json!([statement("Deny", json!(method_arn))])),
        "wildcard" => {
            // `arn:aws:execute-api:region:account:api/stage/$connect` → `…:api/*/$conne?t`.
            let (api, _) = method_arn.split_once('/').ok_or("a methodArn without /")?;
            policy(json!([{"Effect": "Allow", "Action": ["execute-api:*"],
                "Resource": ["arn:aws:execute-api:*:*:nothing/*", format!("{api}/*/$conne?t")]}]))
        }
        "deny-wins" => policy(json!([
            statement("Allow", json!("*")),
            statement("Deny", json!(method_arn))
        ])),
        "elsewhere" => {
            let (api, _) = method_arn.split_once('/').ok_or("a methodArn without /")?;
            policy(json!([statement(
                "Allow",
                json!(format!("{api}/other-stage/$connect"))
            )]))
        }
        "unauthorized" => return Err("Unauthorized".into()),
        "error" => return Err("testfn was asked to fail the authorizer".into()),
        "sleep" => {
            let ms = query("ms").and_then(|s| s.parse().ok()).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            allow
        }
        "malformed" => json!({"principalId": principal}),
        "nested" => {
            let mut answer = allow;
            answer["context"]["nested"] = json!({"a": 1});
            answer
        }
        "oversized" => {
            let mut answer = allow;
            answer["context"]["padding"] = json!("x".repeat(9 * 1024));
            answer
        }
        "key" => {
            let mut answer = allow;
            answer["usageIdentifierKey"] = json!(query("key").unwrap_or_default());
            answer
        }
        _ => allow,
    })
}

/// The whole event back as the body, so tests can check every field.
fn reply(event: &Value) -> Value {
    json!({"statusCode": 200, "body": event.to_string()})
}

async fn record(connection_id: &str, kind: &str, event: &Value) -> Result<(), Error> {
    if let Ok(dir) = std::env::var("TESTFN_RECORD_DIR") {
        let path = std::path::Path::new(&dir).join(format!("{connection_id}.{kind}.json"));
        std::fs::write(&path, event.to_string())?;
    }
    Ok(())
}

/// `POST {WSECHO_MANAGEMENT_ENDPOINT}/@connections/{id}` over plain HTTP/1.1; returns the status.
async fn post_to_connection(connection_id: &str, data: &str) -> Result<u16, Error> {
    let endpoint = std::env::var("WSECHO_MANAGEMENT_ENDPOINT")?;
    let rest = endpoint
        .strip_prefix("http://")
        .ok_or("WSECHO_MANAGEMENT_ENDPOINT must be http:// locally")?;
    let (host, stage) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let request = format!(
        "POST /{stage}/@connections/{connection_id} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{data}",
        data.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {response:?}"))?;
    Ok(status)
}
