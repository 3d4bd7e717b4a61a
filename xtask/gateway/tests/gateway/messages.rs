//! The gateway's message path: events, route selection, two-way routes, gateway errors.

use crate::common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn echo_event_has_api_gateway_fields() {
    bounded(async {
        let asm = Assembly::standard("event-fields").write();
        let gw = asm.start().await;
        let url = format!("{}?name=ada&room=lobby", gw.url());
        let mut client = connect(&url).await;

        let sent = json!({"action": "echo", "data": "hello"}).to_string();
        send(&mut client, sent.clone()).await;
        let event = next_json(&mut client).await;
        let ctx = &event["requestContext"];
        assert_eq!(event["body"], sent.as_str());
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(ctx["routeKey"], "echo");
        assert_eq!(ctx["eventType"], "MESSAGE");
        assert_eq!(ctx["messageDirection"], "IN");
        assert_eq!(ctx["stage"], "test");
        assert_eq!(ctx["identity"]["sourceIp"], "127.0.0.1");
        assert!(ctx["messageId"].is_string(), "{ctx}");
        assert!(
            ctx["apiId"].as_str().is_some_and(|id| id.len() == 10),
            "{ctx}"
        );
        assert_eq!(ctx["domainName"], gw.addr().to_string());
        let connected_at = ctx["connectedAt"].as_u64().expect("connectedAt");
        let request_time = ctx["requestTimeEpoch"].as_u64().expect("requestTimeEpoch");
        assert!(request_time >= connected_at, "{ctx}");
        assert!(
            ctx["requestTime"].as_str().unwrap().ends_with(" +0000"),
            "{ctx}"
        );
        let id = ctx["connectionId"].as_str().unwrap().to_owned();
        assert_ne!(ctx["requestId"], ctx["messageId"]);

        // The $connect event testfn recorded for this connection.
        let connect = asm.recorded(&id, "connect").await;
        let cctx = &connect["requestContext"];
        assert_eq!(cctx["eventType"], "CONNECT");
        assert_eq!(cctx["routeKey"], "$connect");
        assert_eq!(cctx["messageId"], Value::Null);
        assert_eq!(cctx["connectedAt"], connected_at);
        assert_eq!(
            connect["queryStringParameters"],
            json!({"name": "ada", "room": "lobby"})
        );
        assert_eq!(
            connect["multiValueQueryStringParameters"]["name"],
            json!(["ada"])
        );
        assert_eq!(connect["headers"]["Sec-WebSocket-Version"], "13");
        assert_eq!(connect["headers"]["Host"], gw.addr().to_string());
        assert_eq!(
            connect["multiValueHeaders"]["Sec-WebSocket-Version"],
            json!(["13"])
        );
        assert_eq!(connect["isBase64Encoded"], false);

        client.close(None).await.unwrap();
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn functions_get_the_template_and_lambda_environment() {
    bounded(async {
        let asm = Assembly::standard("environment").write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        send(
            &mut client,
            json!({"action": "echo", "do": "env"}).to_string(),
        )
        .await;
        let env = next_json(&mut client).await;
        assert_eq!(env["FROM_TEMPLATE"], "Main");
        assert_eq!(env["WSECHO_MANAGEMENT_ENDPOINT"], gw.management_url());
        assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "Main");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
        assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/Main");
        for name in [
            "AWS_LAMBDA_RUNTIME_API",
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "AWS_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ] {
            assert!(
                env[name].as_str().is_some_and(|v| !v.is_empty()),
                "{name} missing: {env}"
            );
        }
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn route_selection_by_key_nested_path_and_template() {
    bounded(async {
        // Nested path.
        let asm = Assembly::new("select-nested")
            .selection("$request.body.a.b")
            .function("Main", 3)
            .route("$default", "Main", true)
            .route("x", "Main", true)
            .write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let route = |event: Value| {
            event["requestContext"]["routeKey"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            route(echo(&mut client, json!({"a": {"b": "x"}})).await),
            "x"
        );
        assert_eq!(
            route(echo(&mut client, json!({"a": {"b": "unknown"}})).await),
            "$default"
        );
        assert_eq!(
            route(echo(&mut client, json!({"a": {"b": 3}})).await),
            "$default"
        );
        assert_eq!(
            route(echo(&mut client, json!({"a": "x"})).await),
            "$default"
        );
        assert_eq!(route(echo(&mut client, json!({})).await), "$default");
        send(&mut client, "not json at all").await;
        let event = next_json(&mut client).await;
        assert_eq!(route(event.clone()), "$default");
        assert_eq!(event["body"], "not json at all");
        // A message cannot select the reserved routes.
        assert_eq!(
            route(echo(&mut client, json!({"a": {"b": "$connect"}})).await),
            "$default"
        );
        gw.shutdown().await;

        // Template of two keys.
        let asm = Assembly::new("select-template")
            .selection("${request.body.service}/${request.body.action}")
            .function("Main", 3)
            .route("$default", "Main", true)
            .route("chat/send", "Main", true)
            .write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let both = json!({"service": "chat", "action": "send"});
        assert_eq!(route(echo(&mut client, both).await), "chat/send");
        let one = json!({"service": "chat"});
        assert_eq!(route(echo(&mut client, one).await), "$default");
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn without_default_unmatched_messages_get_forbidden() {
    bounded(async {
        let asm = Assembly::new("forbidden")
            .function("Main", 3)
            .route("echo", "Main", true)
            .write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;
        for message in [
            json!({"action": "nope"}).to_string(),
            "plain text".to_owned(),
            json!({"action": 1}).to_string(),
        ] {
            send(&mut client, message).await;
            let text = next_text(&mut client).await;
            assert!(
                text.starts_with(r#"{"message": "Forbidden", "connectionId":""#),
                "{text}"
            );
            let reply: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(reply["connectionId"], id.as_str());
            assert!(reply["requestId"].as_str().is_some_and(|r| !r.is_empty()));
        }
        // The connection stays usable.
        assert_eq!(connection_id(&mut client).await, id);
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn one_way_routes_send_no_reply() {
    bounded(async {
        let asm = Assembly::standard("one-way").write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        // The function posts back through @connections (which arrives), and returns a body
        // (which a one-way route drops).
        send(
            &mut client,
            json!({"action": "oneway", "do": "post", "text": "posted"}).to_string(),
        )
        .await;
        assert_eq!(next_text(&mut client).await, "posted");
        let event = echo(&mut client, json!({"action": "echo"})).await;
        assert_eq!(
            event["requestContext"]["routeKey"], "echo",
            "a one-way route replied: {event}"
        );
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn integration_failures_answer_internal_server_error_and_keep_the_connection() {
    bounded(async {
        let asm = Assembly::standard("failures").write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;
        let first = pid(&mut client).await;
        let expect_error = |text: String| {
            assert!(
                text.starts_with(r#"{"message": "Internal server error", "connectionId":""#),
                "{text}"
            );
            let reply: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(reply["connectionId"], id.as_str());
            assert!(reply["requestId"].is_string());
        };
        // A returned error and a caught panic keep the process.
        for kind in ["error", "panic"] {
            send(
                &mut client,
                json!({"action": "echo", "do": kind}).to_string(),
            )
            .await;
            expect_error(next_text(&mut client).await);
            assert_eq!(pid(&mut client).await, first, "after {kind}");
        }
        // A crash costs the process; the next message gets a new one.
        let mut last = first.clone();
        for kind in ["exit", "abort"] {
            send(
                &mut client,
                json!({"action": "echo", "do": kind}).to_string(),
            )
            .await;
            expect_error(next_text(&mut client).await);
            let now = pid(&mut client).await;
            assert_ne!(now, last, "after {kind} the same process answered");
            last = now;
        }
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_template_timeout_is_enforced() {
    bounded(async {
        let asm = Assembly::new("timeout")
            .function("Main", 1)
            .route("$default", "Main", true)
            .write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;
        let started = std::time::Instant::now();
        send(&mut client, json!({"do": "sleep", "ms": 5000}).to_string()).await;
        let text = next_text(&mut client).await;
        assert!(
            text.contains(r#""message": "Internal server error""#),
            "{text}"
        );
        assert!(text.contains(&id), "{text}");
        assert!(
            started.elapsed() < std::time::Duration::from_millis(4500),
            "not cut at the 1 s Timeout"
        );
        // The killed process is replaced.
        let event = echo(&mut client, json!({"do": "echo"})).await;
        assert_eq!(event["requestContext"]["connectionId"], id.as_str());
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_integration_timeout_answers_before_the_function_ends() {
    bounded(async {
        let asm = Assembly::new("integration-timeout")
            .function("Main", 5)
            .route("$default", "Main", true)
            .integration_timeout_ms(500)
            .write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let first = pid(&mut client).await;
        let started = std::time::Instant::now();
        send(&mut client, json!({"do": "sleep", "ms": 2000}).to_string()).await;
        let text = next_text(&mut client).await;
        assert!(
            text.contains(r#""message": "Internal server error""#),
            "{text}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_millis(1900),
            "the 500 ms integration timeout did not answer first"
        );
        // The function was not killed: its process finishes the sleep and serves again.
        tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
        let mut pids = std::collections::BTreeSet::new();
        for _ in 0..3 {
            pids.insert(pid(&mut client).await);
        }
        assert!(
            pids.contains(&first),
            "the timed-out process was discarded: {first} not in {pids:?}"
        );
        gw.shutdown().await;
    })
    .await;
}

async fn pid(client: &mut Client) -> String {
    send(client, json!({"action": "echo", "do": "pid"}).to_string()).await;
    next_text(client).await
}
