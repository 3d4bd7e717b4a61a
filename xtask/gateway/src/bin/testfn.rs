//! A Lambda function for the local gateway's tests: a real `lambda_runtime` binary whose
//! behaviour each test picks through the message (`"do"`) or the `$connect` query string
//! (`?testfn=...`).
//!
//! Every event is first parsed as `ApiGatewayWebsocketProxyRequest`, so an event the gateway
//! shapes wrongly fails the invocation. With `TESTFN_RECORD_DIR` set, `$connect` and
//! `$disconnect` events are written there as `<connectionId>.<connect|disconnect>.json`.

use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let raw = event.payload;
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
