//! The gateway's connection lifecycle: `$connect` refusals, `$disconnect` on every kind of
//! close, the management API, limits and timeouts.

use std::time::Duration;

use crate::common::*;
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};

#[tokio::test]
async fn connect_refusals_use_the_function_status_and_502_for_failures() {
    bounded(async {
        let asm = Assembly::new("connect-refusal")
            .function("Main", 1)
            .route("$connect", "Main", false)
            .route("$default", "Main", true)
            .write();
        let gw = asm.start().await;
        let url = gw.url();
        assert_eq!(
            refused_status(&format!("{url}?testfn=refuse&status=403")).await,
            403
        );
        assert_eq!(
            refused_status(&format!("{url}?testfn=refuse&status=401")).await,
            401
        );
        assert_eq!(refused_status(&format!("{url}?testfn=error")).await, 502);
        // Not an HTTP final status: a malformed response.
        assert_eq!(
            refused_status(&format!("{url}?testfn=refuse&status=101")).await,
            502
        );
        // Longer than the 1 s Timeout.
        assert_eq!(
            refused_status(&format!("{url}?testfn=sleep&ms=3000")).await,
            502
        );
        // Wrong stage.
        let wrong = format!("ws://{}/other", gw.addr());
        assert_eq!(refused_status(&wrong).await, 403);
        // A refused connection never opened: no $disconnect for it, and nothing stays registered.
        assert_eq!(gw.connection_count(), 0);
        // And an accepted one still works after all that.
        let mut client = connect(&url).await;
        connection_id(&mut client).await;
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_timeout_counts_from_the_hand_over_even_on_a_cold_start() {
    bounded(async {
        let asm = Assembly::new("cold-timeout")
            .function("Main", 1)
            .route("$connect", "Main", false)
            .write();
        let gw = asm.start().await;
        // The very first invocation (a cold process) sleeps past the 1 s Timeout.
        let url = format!("{}?testfn=sleep&ms=2500", gw.url());
        assert_eq!(refused_status(&url).await, 502);
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn posting_from_inside_connect_gets_410() {
    bounded(async {
        let asm = Assembly::standard("connect-post").write();
        let gw = asm.start().await;
        // testfn refuses with 418 unless its POST got 410.
        let mut client = connect(&format!("{}?testfn=post", gw.url())).await;
        connection_id(&mut client).await;
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn connect_can_choose_a_subprotocol() {
    bounded(async {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let asm = Assembly::standard("subprotocol").write();
        let gw = asm.start().await;
        let mut request = format!("{}?testfn=protocol&protocol=chat", gw.url())
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "chat".parse().unwrap());
        let (_client, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn disconnect_runs_on_client_close_with_code_and_reason() {
    bounded(async {
        let asm = Assembly::standard("disconnect-close").write();
        let gw = asm.start().await;

        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;
        client
            .close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "bye".into(),
            }))
            .await
            .unwrap();
        let event = asm.recorded(&id, "disconnect").await;
        let ctx = &event["requestContext"];
        assert_eq!(ctx["eventType"], "DISCONNECT");
        assert_eq!(ctx["routeKey"], "$disconnect");
        assert_eq!(ctx["disconnectStatusCode"], 1000);
        assert_eq!(ctx["disconnectReason"], "bye");
        assert_eq!(ctx["connectionId"], id.as_str());
        assert!(
            ctx["connectedAt"].is_u64() && ctx["requestTimeEpoch"].is_u64(),
            "{ctx}"
        );
        assert_eq!(event["headers"]["Host"], gw.addr().to_string());

        // A close frame without a status.
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;
        client.close(None).await.unwrap();
        let ctx = asm.recorded(&id, "disconnect").await["requestContext"].clone();
        assert_eq!(ctx["disconnectStatusCode"], 1005);
        assert_eq!(
            ctx["disconnectReason"],
            "Client-side close frame status not set"
        );
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn disconnect_runs_when_the_client_drops_the_socket() {
    bounded(async {
        let asm = Assembly::standard("disconnect-drop").write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;
        drop(client);
        let ctx = asm.recorded(&id, "disconnect").await["requestContext"].clone();
        assert_eq!(ctx["disconnectStatusCode"], 1006);
        assert!(
            ctx["disconnectReason"]
                .as_str()
                .unwrap()
                .contains("abnormally"),
            "{ctx}"
        );
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn management_api_posts_describes_and_deletes() {
    bounded(async {
        let asm = Assembly::standard("management").write();
        let gw = asm.start().await;
        let addr = gw.addr();
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;

        // POST with and without the stage prefix; `=` escaped as the AWS SDK does.
        let escaped = id.replace('=', "%3D");
        for path in [
            format!("/test/@connections/{escaped}"),
            format!("/@connections/{id}"),
        ] {
            let (status, _, _) = http(addr, "POST", &path, b"pushed").await;
            assert_eq!(status, 200, "{path}");
            assert_eq!(next_text(&mut client).await, "pushed");
        }

        // GET, with and without the prefix.
        for path in [
            format!("/test/@connections/{id}"),
            format!("/@connections/{id}"),
        ] {
            let (status, _, body) = http(addr, "GET", &path, b"").await;
            assert_eq!(status, 200, "{path}");
            let info: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(info["identity"]["sourceIp"], "127.0.0.1");
            assert!(info["identity"]["userAgent"].is_string(), "{info}");
            let connected = info["connectedAt"].as_str().unwrap();
            let active = info["lastActiveAt"].as_str().unwrap();
            assert!(
                connected.ends_with('Z') && connected.len() == 24,
                "{connected}"
            );
            assert!(active >= connected, "{info}");
        }

        // lastActiveAt follows the client's messages.
        let path = format!("/@connections/{id}");
        let active = |body: String| -> String {
            let info: Value = serde_json::from_str(&body).unwrap();
            info["lastActiveAt"].as_str().unwrap().to_owned()
        };
        let before = active(http(addr, "GET", &path, b"").await.2);
        tokio::time::sleep(Duration::from_millis(20)).await;
        connection_id(&mut client).await;
        let after = active(http(addr, "GET", &path, b"").await.2);
        assert!(
            after > before,
            "lastActiveAt {before} did not advance: {after}"
        );

        // Too large: 128 KB is the limit.
        let big = vec![b'x'; 128 * 1024 + 1];
        let (status, headers, _) =
            http(addr, "POST", &format!("/test/@connections/{id}"), &big).await;
        assert_eq!(status, 413);
        assert!(headers.contains(&("x-amzn-errortype".into(), "PayloadTooLargeException".into())));
        let exactly = vec![b'y'; 128 * 1024];
        let (status, _, _) =
            http(addr, "POST", &format!("/test/@connections/{id}"), &exactly).await;
        assert_eq!(status, 200);
        assert_eq!(next_text(&mut client).await.len(), 128 * 1024);

        // Unknown connection.
        let (status, headers, _) =
            http(addr, "POST", "/test/@connections/AAAAAAAAAAAAAAA=", b"x").await;
        assert_eq!(status, 410);
        assert!(headers.contains(&("x-amzn-errortype".into(), "GoneException".into())));
        let (status, _, _) = http(addr, "GET", "/@connections/AAAAAAAAAAAAAAA=", b"").await;
        assert_eq!(status, 410);

        // DELETE closes the connection and runs $disconnect; afterwards it is gone.
        let (status, _, _) = http(addr, "DELETE", &format!("/test/@connections/{id}"), b"").await;
        assert_eq!(status, 204);
        let (code, _) = close_frame(&mut client).await;
        assert_eq!(code, 1000);
        let ctx = asm.recorded(&id, "disconnect").await["requestContext"].clone();
        assert_eq!(ctx["disconnectStatusCode"], 1000);
        for method in ["POST", "GET", "DELETE"] {
            let (status, _, _) = http(addr, method, &format!("/@connections/{id}"), b"late").await;
            assert_eq!(status, 410, "{method} after DELETE");
        }
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn message_over_128_kb_closes_1009_but_fragmented_messages_under_it_pass() {
    bounded(async {
        let asm = Assembly::standard("message-limit").write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        // 4 frames of 30 KB: a 120 KB message, each frame under the 32 KB frame limit.
        let chunk = "a".repeat(30 * 1024);
        send_fragmented(&mut client, &chunk, 4).await;
        let event = next_json(&mut client).await;
        assert_eq!(event["body"].as_str().unwrap().len(), 120 * 1024);
        assert_eq!(event["requestContext"]["routeKey"], "$default");

        // 5 frames: 150 KB.
        let id = event["requestContext"]["connectionId"]
            .as_str()
            .unwrap()
            .to_owned();
        send_fragmented(&mut client, &chunk, 5).await;
        let (code, _) = close_frame(&mut client).await;
        assert_eq!(code, 1009);
        let ctx = asm.recorded(&id, "disconnect").await["requestContext"].clone();
        assert_eq!(ctx["disconnectStatusCode"], 1009);
        gw.shutdown().await;
    })
    .await;
}

async fn send_fragmented(client: &mut Client, chunk: &str, frames: usize) {
    for i in 0..frames {
        let opcode = if i == 0 { Data::Text } else { Data::Continue };
        let frame = Frame::message(
            chunk.as_bytes().to_vec(),
            OpCode::Data(opcode),
            i + 1 == frames,
        );
        client.send(Message::Frame(frame)).await.unwrap();
    }
}

#[tokio::test]
async fn frame_over_32_kb_closes_1009() {
    bounded(async {
        let asm = Assembly::standard("frame-limit").write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;
        // One frame of 33 KB (a message well under 128 KB).
        send(&mut client, "b".repeat(33 * 1024)).await;
        let (code, _) = close_frame(&mut client).await;
        assert_eq!(code, 1009);
        let ctx = asm.recorded(&id, "disconnect").await["requestContext"].clone();
        assert_eq!(ctx["disconnectStatusCode"], 1009);
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn binary_frames_close_1003() {
    bounded(async {
        let asm = Assembly::standard("binary").write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;
        client.send(Message::binary(vec![1, 2, 3])).await.unwrap();
        let (code, _) = close_frame(&mut client).await;
        assert_eq!(code, 1003);
        let ctx = asm.recorded(&id, "disconnect").await["requestContext"].clone();
        assert_eq!(ctx["disconnectStatusCode"], 1003);
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn idle_connections_close_1001() {
    bounded(async {
        let asm = Assembly::standard("idle").write();
        let mut options = asm.options();
        options.idle_timeout = Duration::from_millis(800);
        let gw = gateway::start(options).await.unwrap();
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;
        let (code, _) = close_frame(&mut client).await;
        assert_eq!(code, 1001);
        let ctx = asm.recorded(&id, "disconnect").await["requestContext"].clone();
        assert_eq!(ctx["disconnectStatusCode"], 1001);
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn activity_keeps_a_connection_until_the_maximum_duration() {
    bounded(async {
        let asm = Assembly::standard("max-duration").write();
        let mut options = asm.options();
        options.idle_timeout = Duration::from_millis(1000);
        options.max_duration = Duration::from_millis(2500);
        let gw = gateway::start(options).await.unwrap();
        let started = std::time::Instant::now();
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;
        // Messages every 200 ms keep it past the idle timeout...
        let closed = loop {
            send(&mut client, json!({"action": "oneway"}).to_string()).await;
            match tokio::time::timeout(
                Duration::from_millis(200),
                futures_util::StreamExt::next(&mut client),
            )
            .await
            {
                Err(_) => continue,
                Ok(Some(Ok(Message::Close(frame)))) => break frame.map(|f| u16::from(f.code)),
                Ok(other) => panic!("unexpected {other:?}"),
            }
        };
        // ...until the maximum duration closes it.
        assert_eq!(closed, Some(1001));
        assert!(
            started.elapsed() >= Duration::from_millis(2400),
            "closed after {:?}",
            started.elapsed()
        );
        let ctx = asm.recorded(&id, "disconnect").await["requestContext"].clone();
        assert_eq!(ctx["disconnectStatusCode"], 1001);
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn shutdown_closes_connections_with_1001_and_runs_disconnect() {
    bounded(async {
        let asm = Assembly::standard("shutdown").write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;
        gw.shutdown().await;
        let (code, _) = close_frame(&mut client).await;
        assert_eq!(code, 1001);
        let ctx = asm.recorded(&id, "disconnect").await["requestContext"].clone();
        assert_eq!(ctx["disconnectStatusCode"], 1001);
    })
    .await;
}
