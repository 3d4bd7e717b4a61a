//! The gateway attacked from outside, as a web page, a careless client or a hostile one
//! would: foreign origins and rebound `Host`s, slowloris handshakes, oversized headers and
//! URLs, more connections than allowed, bad frames, stalled readers, floods and throttling,
//! misbehaving functions; and, with the gateway in a process of its own ([`Apart`]), its
//! memory under a flood and what is left after a signal or SIGKILL. Loopback only; every wait
//! is bounded.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway::Exposure;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::*;

/// A WebSocket handshake with extra headers: the client, or the status it was refused with.
async fn handshake(url: &str, headers: &[(&'static str, &str)]) -> Result<Client, u16> {
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    let result = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("the handshake finishes in time");
    match result {
        Ok((client, _)) => Ok(client),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("expected an answer to the handshake, got {other}"),
    }
}

/// Writes `request` as it is and reads the answer until the gateway closes; returns the
/// status (0 if it closed without answering) and the whole response.
async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // A refusal may come before the whole request is written.
    let _ = stream.write_all(request).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("the gateway answers and closes in time");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn upgrade_head(addr: SocketAddr, path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn pages_of_other_origins_are_refused_loopback_pages_and_clis_get_in() {
    bounded(async {
        let asm = Assembly::standard("attack-origin").write();
        let gw = asm.start().await;
        let url = gw.url();
        for origin in ["https://evil.example", "null", "http://localhost.evil.example"] {
            assert_eq!(
                handshake(&url, &[("origin", origin)]).await.err(),
                Some(403),
                "{origin}"
            );
        }
        // Refused before `$connect`: the function never saw them.
        assert!(asm.recorded_ids("connect").is_empty());
        for origin in [
            "http://localhost:5173",
            "https://127.0.0.1",
            "http://[::1]:8080",
        ] {
            let mut client = handshake(&url, &[("origin", origin)])
                .await
                .unwrap_or_else(|status| panic!("{origin} refused with {status}"));
            connection_id(&mut client).await;
        }
        // No Origin: a CLI or an SDK.
        let mut client = connect(&url).await;
        connection_id(&mut client).await;
        // A page can't post to a connection either (a text/plain POST needs no preflight).
        let (status, _) = raw(
            gw.addr(),
            format!(
                "POST /test/@connections/x HTTP/1.1\r\nHost: {}\r\nOrigin: https://evil.example\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
                gw.addr()
            )
            .as_bytes(),
        )
        .await;
        assert_eq!(status, 403);
        gw.shutdown().await;

        // Opened up for one origin.
        let gw = gateway::start_with(
            asm.options(),
            Exposure {
                allowed_origins: vec!["https://app.example".into()],
                ..Exposure::default()
            },
        )
        .await
        .unwrap();
        let mut client = handshake(&gw.url(), &[("origin", "https://app.example")])
            .await
            .expect("the allowed origin connects");
        connection_id(&mut client).await;
        assert_eq!(
            handshake(&gw.url(), &[("origin", "https://other.example")])
                .await
                .err(),
            Some(403)
        );
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_rebound_host_is_refused_and_domain_name_is_the_listen_address() {
    bounded(async {
        let asm = Assembly::standard("attack-host").write();
        let gw = asm.start().await;
        let port = gw.addr().port();
        let url = gw.url();
        // DNS rebinding: a page at evil.example:PORT whose name now resolves to 127.0.0.1.
        let evil = format!("evil.example:{port}");
        assert_eq!(
            handshake(
                &url,
                &[("host", &evil), ("origin", &format!("http://{evil}"))]
            )
            .await
            .err(),
            Some(421)
        );
        assert_eq!(handshake(&url, &[("host", &evil)]).await.err(), Some(421));
        let (status, _) = raw(
            gw.addr(),
            format!(
                "DELETE /test/@connections/x HTTP/1.1\r\nHost: {evil}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
        assert_eq!(status, 421);
        assert!(asm.recorded_ids("connect").is_empty());
        // `localhost` is this gateway; events name the listen address whatever the Host.
        let mut client = handshake(&url, &[("host", &format!("localhost:{port}"))])
            .await
            .expect("localhost connects");
        let event = echo(&mut client, serde_json::json!({"action": "echo"})).await;
        assert_eq!(event["requestContext"]["domainName"], gw.addr().to_string());
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn half_sent_handshakes_are_closed_within_seconds() {
    bounded(async {
        let asm = Assembly::standard("attack-slowloris").write();
        let gw = asm.start().await;
        let started = Instant::now();
        let mut streams = Vec::new();
        for _ in 0..20 {
            let mut stream = TcpStream::connect(gw.addr()).await.unwrap();
            stream
                .write_all(
                    format!("GET /test HTTP/1.1\r\nHost: {}\r\nX-Slow: ", gw.addr()).as_bytes(),
                )
                .await
                .unwrap();
            streams.push(stream);
        }
        // One more byte now and then, as slowloris does: it must not keep the request alive.
        for stream in &mut streams {
            let _ = stream.write_all(b"a").await;
        }
        for mut stream in streams {
            let mut buffer = [0u8; 512];
            let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
                .await
                .expect("the gateway closes a half-sent request within 10 s");
            // Closed (0 bytes, or reset), never answered as a request.
            assert!(
                matches!(read, Ok(0) | Err(_)) || buffer.starts_with(b"HTTP/1.1 408"),
                "{read:?}"
            );
        }
        let took = started.elapsed();
        assert!(took < Duration::from_secs(8), "closed after {took:?}");
        // The gateway still serves.
        let mut client = connect(&gw.url()).await;
        connection_id(&mut client).await;
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn oversized_headers_and_urls_are_refused() {
    bounded(async {
        let asm = Assembly::standard("attack-sizes").write();
        let gw = asm.start().await;
        let addr = gw.addr();
        // 11 KB of headers: 431, before any of it reaches a function.
        let padding = format!("X-Padding: {}\r\n", "a".repeat(11 * 1024));
        let (status, _) = raw(addr, upgrade_head(addr, "/test", &padding).as_bytes()).await;
        assert_eq!(status, 431);
        // 100 KiB: the same, without reading it all.
        let padding = format!("X-Padding: {}\r\n", "a".repeat(100 * 1024));
        let (status, _) = raw(addr, upgrade_head(addr, "/test", &padding).as_bytes()).await;
        assert_eq!(status, 431);
        // A URL beyond API Gateway's 4,096 characters.
        let long = format!("/test?q={}", "b".repeat(4100));
        let (status, _) = raw(addr, upgrade_head(addr, &long, "").as_bytes()).await;
        assert_eq!(status, 414);
        assert!(asm.recorded_ids("connect").is_empty());
        // Just under both limits: connected.
        let url = format!("{}?q={}", gw.url(), "b".repeat(4000));
        let mut client = handshake(&url, &[("x-padding", &"c".repeat(5 * 1024))])
            .await
            .expect("a large but allowed handshake connects");
        connection_id(&mut client).await;
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn connections_beyond_the_limit_get_a_clear_refusal() {
    bounded(async {
        let asm = Assembly::standard("attack-connections").write();
        let gw = gateway::start_with(
            asm.options(),
            Exposure {
                max_connections: 3,
                ..Exposure::default()
            },
        )
        .await
        .unwrap();
        let mut clients = Vec::new();
        for _ in 0..3 {
            let mut client = connect(&gw.url()).await;
            connection_id(&mut client).await;
            clients.push(client);
        }
        let (status, response) =
            raw(gw.addr(), upgrade_head(gw.addr(), "/test", "").as_bytes()).await;
        assert_eq!(status, 503, "{response}");
        assert!(response.contains("Too many connections"), "{response}");
        assert_eq!(handshake(&gw.url(), &[]).await.err(), Some(503));
        // A closed connection frees its place (once its socket is gone).
        let mut closing = clients.pop().unwrap();
        closing.close(None).await.unwrap();
        let deadline = Instant::now() + WAIT;
        let mut client = loop {
            match handshake(&gw.url(), &[]).await {
                Ok(client) => break client,
                Err(503) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(status) => panic!("still refused ({status}) after a connection closed"),
            }
        };
        connection_id(&mut client).await;
        gw.shutdown().await;
    })
    .await;
}

/// A client frame as the bytes go on the wire: `first` is FIN, RSV and opcode; masked unless
/// told otherwise.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    assert!(payload.len() < 126, "short frames only");
    let mut bytes = vec![first, payload.len() as u8 | if masked { 0x80 } else { 0 }];
    if masked {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        bytes.extend_from_slice(&mask);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    } else {
        bytes.extend_from_slice(payload);
    }
    bytes
}

/// Opens a WebSocket by hand, writes `frames`, and returns the code of the close frame the
/// gateway answers with (`None` if it closed without one).
async fn close_code_for(addr: SocketAddr, frames: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(upgrade_head(addr, "/test", "").as_bytes())
        .await
        .unwrap();
    // The 101 first, alone: the gateway writes nothing else before it reads a frame.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(WAIT, stream.read(&mut byte))
            .await
            .expect("the handshake is answered in time")
            .unwrap();
        assert_eq!(read, 1, "closed during the handshake: {head:?}");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream.write_all(frames).await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut rest))
        .await
        .expect("the gateway closes in time");
    // Server frames are unmasked: 0x88, a length, the code, the reason.
    (rest.len() >= 4 && rest[0] == 0x88).then(|| u16::from_be_bytes([rest[2], rest[3]]))
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007_and_protocol_violations_with_1002() {
    bounded(async {
        let asm = Assembly::standard("attack-frames").write();
        let gw = asm.start().await;
        let addr = gw.addr();
        let cases: [(&str, Vec<u8>, u16); 6] = [
            (
                "invalid UTF-8 in a text frame",
                frame(0x81, b"{\"a\":\xff}", true),
                1007,
            ),
            (
                "UTF-8 cut between fragments, then ended",
                [frame(0x01, b"\xe2\x82", true), frame(0x80, b"", true)].concat(),
                1007,
            ),
            ("a reserved bit set", frame(0xc1, b"hello", true), 1002),
            (
                "an unmasked client frame",
                frame(0x81, b"hello", false),
                1002,
            ),
            ("an unknown opcode", frame(0x83, b"hello", true), 1002),
            ("a fragmented ping", frame(0x09, b"x", true), 1002),
        ];
        let expected: Vec<u16> = cases.iter().map(|(_, _, code)| *code).collect();
        for (i, (what, bytes, code)) in cases.into_iter().enumerate() {
            assert_eq!(close_code_for(addr, &bytes).await, Some(code), "{what}");
            // `$disconnect` ran with that code.
            let deadline = Instant::now() + WAIT;
            while asm.recorded_ids("disconnect").len() <= i {
                assert!(Instant::now() < deadline, "no $disconnect for {what}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let codes: Vec<u64> = futures_util::future::join_all(
                asm.recorded_ids("disconnect")
                    .iter()
                    .map(|id| asm.recorded(id, "disconnect")),
            )
            .await
            .iter()
            .map(|e| {
                e["requestContext"]["disconnectStatusCode"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
            assert_eq!(
                codes.iter().filter(|c| **c == u64::from(code)).count(),
                expected[..=i].iter().filter(|c| **c == code).count(),
                "{what}: {codes:?}"
            );
        }
        // The gateway still serves.
        let mut client = connect(&gw.url()).await;
        connection_id(&mut client).await;
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_function_printing_invalid_utf8_and_long_lines_keeps_answering() {
    bounded(async {
        let asm = Assembly::standard("attack-output").write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let before = pid_of(&mut client).await;
        // Each print writes more than a pipe holds (64 KiB): a pipe nobody reads would block
        // the function, one that was closed would fail its write.
        for long in [0, 200 * 1024, 10, 200 * 1024] {
            let event = echo(
                &mut client,
                serde_json::json!({"action": "echo", "do": "print", "long": long}),
            )
            .await;
            assert_eq!(event["requestContext"]["routeKey"], "echo", "{event}");
        }
        // The same process answered throughout: none failed or was discarded.
        assert_eq!(pid_of(&mut client).await, before);
        gw.shutdown().await;
    })
    .await;
}

/// The pid of the testfn process that answers.
async fn pid_of(client: &mut Client) -> String {
    send(
        client,
        serde_json::json!({"action": "echo", "do": "pid"}).to_string(),
    )
    .await;
    next_text(client).await
}

/// A WebSocket client that completes the handshake and then never reads, with a small receive
/// buffer so the gateway's writes back up at once; returns the socket and the connection id.
async fn stalled_client(asm: &Assembly, addr: SocketAddr) -> (TcpStream, String) {
    let before = asm.recorded_ids("connect");
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    stream
        .write_all(upgrade_head(addr, "/test", "").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(WAIT, stream.read(&mut byte))
            .await
            .expect("the handshake is answered in time")
            .unwrap();
        assert_eq!(read, 1, "closed during the handshake");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let id = asm
        .recorded_ids("connect")
        .into_iter()
        .find(|id| !before.contains(id))
        .expect("its $connect was recorded");
    (stream, id)
}

/// Frames of 100 KiB that stall the gateway's writer to a client that does not read, yet fit
/// its 4 MiB queue: the sockets' buffers on loopback take 1 to 3 MB of them (autotuned).
const STALL: usize = 45;

/// Posts `count` frames of 100 KiB to a connection; returns how many were accepted (200)
/// before the first refusal.
async fn push(addr: SocketAddr, id: &str, count: usize) -> usize {
    let body = vec![b'p'; 100 * 1024];
    for sent in 0..count {
        let (status, _, _) = http(addr, "POST", &format!("/test/@connections/{id}"), &body).await;
        if status != 200 {
            assert_eq!(status, 410, "a refused POST is a GoneException");
            return sent;
        }
    }
    count
}

/// The `$disconnect` event of a connection, and how long it took to come from `since`.
async fn disconnected(asm: &Assembly, id: &str, since: Instant) -> (u64, Duration) {
    let event = asm.recorded(id, "disconnect").await;
    let code = event["requestContext"]["disconnectStatusCode"]
        .as_u64()
        .unwrap();
    (code, since.elapsed())
}

#[tokio::test]
async fn delete_closes_a_stalled_reader_within_a_second() {
    bounded(async {
        let asm = Assembly::standard("attack-stalled-delete").write();
        let gw = asm.start().await;
        let (_stalled, id) = stalled_client(&asm, gw.addr()).await;
        assert_eq!(push(gw.addr(), &id, STALL).await, STALL);
        // Other clients are served meanwhile.
        let mut client = connect(&gw.url()).await;
        connection_id(&mut client).await;
        let asked = Instant::now();
        let (status, _, _) = http(
            gw.addr(),
            "DELETE",
            &format!("/test/@connections/{id}"),
            b"",
        )
        .await;
        assert_eq!(status, 204);
        let (code, took) = disconnected(&asm, &id, asked).await;
        assert_eq!(code, 1000);
        // The close grace (1 s) and `$disconnect`'s invocation.
        assert!(took < Duration::from_millis(1800), "closed after {took:?}");
        assert_eq!(gw.connection_count(), 1);
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_stalled_reader_is_closed_when_its_queue_fills_and_shutdown_does_not_wait_for_it() {
    bounded(async {
        let asm = Assembly::standard("attack-stalled-flood").write();
        let gw = asm.start().await;
        let (_flooded, id) = stalled_client(&asm, gw.addr()).await;
        let started = Instant::now();
        // The queue holds 4 MiB: by 10 MB the connection is gone.
        let accepted = push(gw.addr(), &id, 100).await;
        assert!(accepted < 100, "every POST was accepted");
        assert!(accepted >= 30, "refused after only {accepted} frames");
        let (code, _) = disconnected(&asm, &id, started).await;
        assert_eq!(code, 1008);
        assert_eq!(gw.connection_count(), 0);

        let (_stalled, id) = stalled_client(&asm, gw.addr()).await;
        assert_eq!(push(gw.addr(), &id, STALL).await, STALL);
        let stopping = Instant::now();
        gw.shutdown().await;
        let took = stopping.elapsed();
        assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
        let (code, _) = disconnected(&asm, &id, stopping).await;
        assert_eq!(code, 1001);
    })
    .await;
}

#[tokio::test]
async fn a_frame_the_client_does_not_take_within_the_send_timeout_closes_it() {
    bounded(async {
        let asm = Assembly::standard("attack-stalled-timeout").write();
        let gw = asm.start().await;
        let (_stalled, id) = stalled_client(&asm, gw.addr()).await;
        let started = Instant::now();
        assert_eq!(push(gw.addr(), &id, STALL).await, STALL);
        let (code, took) = disconnected(&asm, &id, started).await;
        assert_eq!(code, 1006);
        // The 10 s send timeout, counted from a frame that could not be sent.
        assert!(took >= Duration::from_secs(9), "closed after {took:?}");
        assert!(took < Duration::from_secs(14), "closed after {took:?}");
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn another_local_process_cannot_use_a_functions_runtime_api() {
    bounded(async {
        let asm = Assembly::standard("attack-runtime-api").write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        send(
            &mut client,
            serde_json::json!({"action": "echo", "do": "env"}).to_string(),
        )
        .await;
        let env: serde_json::Value = serde_json::from_str(&next_text(&mut client).await).unwrap();
        let endpoint = env["AWS_LAMBDA_RUNTIME_API"].as_str().unwrap().to_owned();
        let rest = endpoint
            .strip_prefix("http://")
            .expect("http://HOST:PORT/prefix");
        let (authority, prefix) = rest.split_once('/').expect("a path prefix");
        assert!(prefix.len() >= 32, "{endpoint}");
        let addr: SocketAddr = authority.parse().unwrap();
        // Someone who found the port: no event to take, no answer to forge.
        for (method, path) in [
            ("GET", "/2018-06-01/runtime/invocation/next"),
            ("POST", "/2018-06-01/runtime/invocation/x/response"),
            ("POST", "/2018-06-01/runtime/init/error"),
            ("GET", "/wrong-prefix/2018-06-01/runtime/invocation/next"),
        ] {
            let (status, _, _) = http(addr, method, path, b"{}").await;
            assert_eq!(status, 404, "{method} {path}");
        }
        // The function, which knows the prefix, still answers.
        connection_id(&mut client).await;
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_zip_that_is_not_the_manifests_is_never_unpacked() {
    bounded(async {
        let asm = Assembly::standard("attack-zip").write_with(true);
        let manifest = asm.manifest();
        let sha256 = manifest["functions"][0]["sha256"].as_str().unwrap();
        let zip = asm
            .dir
            .join(manifest["functions"][0]["zip"].as_str().unwrap());
        // Swapped after the build: one byte more, still a zip that unzips.
        let mut bytes = std::fs::read(&zip).unwrap();
        bytes.push(0);
        std::fs::remove_file(&zip).unwrap();
        std::fs::write(&zip, bytes).unwrap();
        let error = match gateway::start(asm.options()).await {
            Ok(_) => panic!("the gateway ran a zip the manifest does not name"),
            Err(error) => error_chain(&error),
        };
        assert!(
            error.contains("is not the zip the assembly's manifest names")
                && error.contains(sha256)
                && error.contains("cargo xtask synth"),
            "{error}"
        );
        assert!(!asm.dir.join(".dev").join(sha256).exists());
    })
    .await;
}

#[tokio::test]
async fn a_client_that_vanishes_during_connect_leaves_nothing_behind() {
    bounded(async {
        let asm = Assembly::standard("attack-vanish").write();
        let gw = asm.start().await;
        for _ in 0..3 {
            let mut stream = TcpStream::connect(gw.addr()).await.unwrap();
            stream
                .write_all(upgrade_head(gw.addr(), "/test?testfn=sleep&ms=1500", "").as_bytes())
                .await
                .unwrap();
            // Gone while `$connect` runs.
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(stream);
        }
        let deadline = Instant::now() + WAIT;
        while gw.connection_count() > 0 {
            assert!(
                Instant::now() < deadline,
                "{} connection(s) still registered",
                gw.connection_count()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // And the gateway serves on.
        let mut client = connect(&gw.url()).await;
        connection_id(&mut client).await;
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_subprotocol_that_is_no_header_value_is_a_500() {
    bounded(async {
        let asm = Assembly::standard("attack-subprotocol").write();
        let gw = asm.start().await;
        let url = format!(
            "{}?testfn=protocol&protocol=chat%0D%0AX-Injected:%20yes",
            gw.url()
        );
        assert_eq!(refused_status(&url).await, 500);
        assert_eq!(gw.connection_count(), 0);
        let mut client = connect(&gw.url()).await;
        connection_id(&mut client).await;
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn replies_over_lambdas_and_api_gateways_limits_are_errors() {
    bounded(async {
        let asm = Assembly::standard("attack-big-replies").write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let big = |bytes: usize| serde_json::json!({"action": "echo", "do": "big", "bytes": bytes});
        // Within both: sent.
        let ok = 100 * 1024;
        send(&mut client, big(ok).to_string()).await;
        assert_eq!(next_text(&mut client).await.len(), ok);
        // Over API Gateway's 128 KB: no frame, an error.
        for bytes in [200 * 1024, 7 * 1024 * 1024] {
            send(&mut client, big(bytes).to_string()).await;
            let answer = next_json(&mut client).await;
            assert_eq!(answer["message"], "Internal server error", "{bytes} bytes");
        }
        // The function answers on.
        connection_id(&mut client).await;
        gw.shutdown().await;
    })
    .await;
}

/// A gateway for `asm` that runs at most one instance of each function, so that invocations
/// queue behind it.
async fn one_instance(asm: &Assembly) -> gateway::Gateway {
    gateway::start(gateway::DevOptions {
        max_concurrency: 1,
        ..asm.options()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn an_invocation_past_its_integration_timeout_is_dropped_not_run_later() {
    bounded(async {
        let asm = Assembly::new("attack-late")
            .function("Main", 5)
            .route("$default", "Main", true)
            .route("echo", "Main", true)
            .route("oneway", "Main", false)
            .integration_timeout_ms(300)
            .write();
        let gw = one_instance(&asm).await;
        let mut client = connect(&gw.url()).await;
        connection_id(&mut client).await;
        // The one instance is busy for 1.5 s; the post waits for it past its 300 ms.
        send(
            &mut client,
            serde_json::json!({"action": "echo", "do": "sleep", "ms": 1500}).to_string(),
        )
        .await;
        send(
            &mut client,
            serde_json::json!({"action": "oneway", "do": "post", "text": "late"}).to_string(),
        )
        .await;
        let first = next_json(&mut client).await;
        assert_eq!(first["message"], "Internal server error", "{first}");
        let second = next_json(&mut client).await;
        assert_eq!(second["requestContext"]["routeKey"], "echo", "{second}");
        // Had the post run once the instance was free, its frame would come now.
        let late = tokio::time::timeout(Duration::from_millis(1500), next_text(&mut client)).await;
        assert!(late.is_err(), "a dropped invocation ran: {late:?}");
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_flood_of_messages_is_throttled_beyond_the_connections_backlog() {
    bounded(async {
        let asm = Assembly::new("attack-flood")
            .function("Main", 5)
            .route("$default", "Main", true)
            .route("oneway", "Main", false)
            .integration_timeout_ms(1000)
            .write();
        let gw = one_instance(&asm).await;
        let mut client = connect(&gw.url()).await;
        // One runs, 99 wait for the one instance, 50 are beyond the backlog of 100.
        let message =
            serde_json::json!({"action": "oneway", "do": "sleep", "ms": 2000}).to_string();
        for _ in 0..150 {
            send(&mut client, message.clone()).await;
        }
        let mut answers = std::collections::BTreeMap::<String, usize>::new();
        for _ in 0..150 {
            let answer = next_json(&mut client).await;
            *answers
                .entry(answer["message"].as_str().unwrap_or_default().to_owned())
                .or_default() += 1;
        }
        assert_eq!(answers.get("Too Many Requests"), Some(&50), "{answers:?}");
        // The backlog's 100 each failed on their integration timeout.
        assert_eq!(
            answers.get("Internal server error"),
            Some(&100),
            "{answers:?}"
        );
        // Its places are free again.
        send(
            &mut client,
            serde_json::json!({"action": "echo"}).to_string(),
        )
        .await;
        let event = next_json(&mut client).await;
        assert_eq!(event["requestContext"]["routeKey"], "$default", "{event}");
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn sigterm_stops_a_served_gateway_like_ctrl_c_leaving_no_process() {
    bounded(async {
        let asm = Assembly::standard("attack-sigterm").write();
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let serving = tokio::spawn(gateway::serve(asm.options(), move |gw| {
            let _ = addr_tx.send((gw.url(), gw.addr()));
        }));
        let (url, addr) = addr_rx.await.expect("the gateway started");
        let mut client = connect(&url).await;
        let id = connection_id(&mut client).await;
        let pid: u32 = pid_of(&mut client).await.parse().unwrap();
        // One that stopped reading, with frames backed up.
        let (_stalled, stalled_id) = stalled_client(&asm, addr).await;
        assert_eq!(push(addr, &stalled_id, STALL).await, STALL);

        let signalled = Instant::now();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(5), serving)
            .await
            .expect("the gateway stops within 5 s of SIGTERM")
            .unwrap()
            .expect("serve ends without error");
        let took = signalled.elapsed();
        assert_eq!(close_frame(&mut client).await.0, 1001);
        for id in [id, stalled_id] {
            let (code, _) = disconnected(&asm, &id, signalled).await;
            assert_eq!(code, 1001);
        }
        assert!(took < Duration::from_secs(3), "stopped after {took:?}");
        // The function's process is gone (a zombie reaped, not just killed).
        let process = std::path::PathBuf::from(format!("/proc/{pid}"));
        let deadline = Instant::now() + Duration::from_secs(2);
        while process.exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            !process.exists(),
            "function process {pid} outlived the gateway"
        );
    })
    .await;
}

/// A gateway for `asm` that enforces the stage's throttling (`dev --throttle`).
async fn throttled(asm: &Assembly) -> gateway::Gateway {
    gateway::start_with(
        asm.options(),
        Exposure {
            stage_throttling: true,
            ..Exposure::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_stages_throttling_is_enforced_with_api_gateways_429() {
    bounded(async {
        let asm = Assembly::standard("attack-throttle")
            .resource(
                "Stage",
                serde_json::json!({"Type": "AWS::ApiGatewayV2::Stage", "Properties": {
                    "ApiId": {"Ref": "Api"}, "StageName": "test", "AutoDeploy": true,
                    "DefaultRouteSettings": {"ThrottlingBurstLimit": 5, "ThrottlingRateLimit": 1}}}),
            )
            .write();
        let gw = throttled(&asm).await;
        // Each route has its own bucket of 5: the handshake takes one of `$connect`'s.
        let mut client = connect(&gw.url()).await;
        let echo_message = serde_json::json!({"action": "echo"}).to_string();
        for _ in 0..10 {
            send(&mut client, echo_message.clone()).await;
        }
        let mut throttled = 0;
        for _ in 0..10 {
            let answer = next_json(&mut client).await;
            if answer["message"] == "Too Many Requests" {
                throttled += 1;
            } else {
                assert_eq!(answer["requestContext"]["routeKey"], "echo", "{answer}");
            }
        }
        // `echo`'s burst of 5 (a sixth if a second passed), refilled at 1 a second.
        assert!((4..=5).contains(&throttled), "{throttled} of 10 throttled");
        // `$connect` has 4 left (a fifth if a second passed), then a handshake is refused.
        let mut refused = None;
        let mut others = Vec::new();
        for _ in 0..6 {
            match handshake(&gw.url(), &[]).await {
                Ok(other) => others.push(other),
                Err(status) => {
                    refused = Some(status);
                    break;
                }
            }
        }
        assert_eq!(refused, Some(429), "{} handshakes got in", others.len());
        assert!((4..=5).contains(&others.len()), "{}", others.len());
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let answer = echo(&mut client, serde_json::json!({"action": "echo"})).await;
        assert_eq!(answer["requestContext"]["routeKey"], "echo", "{answer}");
        gw.shutdown().await;

        // Off unless asked for.
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        for _ in 0..20 {
            send(&mut client, echo_message.clone()).await;
        }
        for _ in 0..20 {
            let answer = next_json(&mut client).await;
            assert_eq!(answer["requestContext"]["routeKey"], "echo", "{answer}");
        }
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn route_settings_throttle_their_route_alone_and_the_throttled_connection_stays_open() {
    bounded(async {
        let stage = |route_settings: serde_json::Value| {
            serde_json::json!({"Type": "AWS::ApiGatewayV2::Stage", "Properties": {
                "ApiId": {"Ref": "Api"}, "StageName": "test", "AutoDeploy": true,
                "DefaultRouteSettings": {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 100},
                "RouteSettings": route_settings}})
        };
        let asm = Assembly::standard("attack-route-throttle")
            .resource(
                "Stage",
                stage(serde_json::json!({
                    "echo": {"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 0.5}})),
            )
            .write();
        let gw = throttled(&asm).await;
        let mut client = connect(&gw.url()).await;
        let other = serde_json::json!({"action": "other"}).to_string();
        send(&mut client, other.clone()).await;
        let event = next_json(&mut client).await;
        assert_eq!(event["requestContext"]["routeKey"], "$default", "{event}");
        let id = event["requestContext"]["connectionId"]
            .as_str()
            .unwrap()
            .to_owned();

        // `echo` has 2 tokens, refilled one per 2 s: 2 of 6 pass, and each of the other 4
        // gets API Gateway's error frame.
        let echo_message = serde_json::json!({"action": "echo"}).to_string();
        for _ in 0..6 {
            send(&mut client, echo_message.clone()).await;
        }
        let mut throttled = Vec::new();
        for _ in 0..6 {
            let text = next_text(&mut client).await;
            let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
            if answer["message"] == "Too Many Requests" {
                throttled.push((text, answer));
            } else {
                assert_eq!(answer["requestContext"]["routeKey"], "echo", "{answer}");
            }
        }
        assert_eq!(throttled.len(), 4, "{throttled:?}");
        for (text, answer) in &throttled {
            let prefix = format!(
                r#"{{"message": "Too Many Requests", "connectionId":"{id}", "requestId":""#
            );
            assert!(text.starts_with(&prefix), "{text}");
            assert_eq!(answer.as_object().unwrap().len(), 3, "{text}");
            assert!(!answer["requestId"].as_str().unwrap().is_empty(), "{text}");
        }

        // Other routes keep the stage's defaults (100), and the connection is still open.
        for _ in 0..10 {
            send(&mut client, other.clone()).await;
        }
        for _ in 0..10 {
            let answer = next_json(&mut client).await;
            assert_eq!(answer["requestContext"]["routeKey"], "$default", "{answer}");
        }
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let answer = echo(&mut client, serde_json::json!({"action": "echo"})).await;
        assert_eq!(answer["requestContext"]["routeKey"], "echo", "{answer}");
        assert_eq!(gw.connection_count(), 1);
        gw.shutdown().await;

        // A route the API lacks is refused at start, as API Gateway refuses the stage.
        let asm = Assembly::standard("attack-route-throttle-unknown")
            .resource(
                "Stage",
                stage(serde_json::json!({"sendmessage": {"ThrottlingBurstLimit": 1}})),
            )
            .write();
        let error = match gateway::start(asm.options()).await {
            Err(e) => error_chain(&e),
            Ok(_) => panic!("a RouteSettings key that is no route is refused"),
        };
        assert!(error.contains("`sendmessage`"), "{error}");
    })
    .await;
}

/// Whether a process is gone: no /proc entry, or only a zombie waiting for its reaper.
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // `pid (comm) state ...`: the state follows the last `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

#[tokio::test]
async fn what_a_function_forked_dies_with_the_gateway() {
    bounded(async {
        let asm = Assembly::standard("attack-fork").write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        send(
            &mut client,
            serde_json::json!({"action": "echo", "do": "fork"}).to_string(),
        )
        .await;
        let grandchild: u32 = next_text(&mut client).await.parse().unwrap();
        let function: u32 = pid_of(&mut client).await.parse().unwrap();
        assert!(!process_gone(grandchild));
        gw.shutdown().await;
        let deadline = Instant::now() + Duration::from_secs(3);
        while !(process_gone(grandchild) && process_gone(function)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            process_gone(function),
            "function process {function} outlived the gateway"
        );
        assert!(
            process_gone(grandchild),
            "its child {grandchild} outlived the gateway"
        );
    })
    .await;
}

#[tokio::test]
async fn a_function_that_never_asks_for_an_invocation_is_an_init_timeout() {
    bounded(async {
        let asm = Assembly::new("attack-init-hang")
            .function("Main", 3)
            .route("$default", "Main", true)
            .env("Main", "TESTFN_HANG_AT_INIT", serde_json::json!("1"))
            .write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let started = Instant::now();
        send(&mut client, serde_json::json!({"action": "x"}).to_string()).await;
        let answer = next_json(&mut client).await;
        let took = started.elapsed();
        assert_eq!(answer["message"], "Internal server error", "{answer}");
        // Lambda's 10 s init limit, not the function's 3 s Timeout nor the route's 29 s.
        assert!(
            took >= Duration::from_millis(9500) && took < Duration::from_secs(14),
            "answered after {took:?}"
        );
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_function_throttles_invocations_beyond_its_backlog() {
    bounded(async {
        let asm = Assembly::new("attack-function-backlog")
            .function("Main", 6)
            .route("$default", "Main", true)
            .route("oneway", "Main", false)
            .integration_timeout_ms(3000)
            .write();
        let gw = one_instance(&asm).await;
        // Three connections within their own backlogs (60 each): one instance runs, 100 wait
        // for it, the other 79 are throttled at once.
        let message =
            serde_json::json!({"action": "oneway", "do": "sleep", "ms": 4000}).to_string();
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(connect(&gw.url()).await);
        }
        let started = Instant::now();
        for client in &mut clients {
            for _ in 0..60 {
                send(client, message.clone()).await;
            }
        }
        // Before the integration timeout, only throttled ones have their answer.
        let mut early = 0;
        for client in &mut clients {
            while let Ok(answer) =
                tokio::time::timeout(Duration::from_millis(300), next_json(client)).await
            {
                assert_eq!(answer["message"], "Internal server error", "{answer}");
                early += 1;
            }
        }
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "too slow to tell"
        );
        assert_eq!(early, 79);
        gw.shutdown().await;
    })
    .await;
}

/// Set in a copy of this test binary that [`Apart::start`] runs: the assembly its gateway
/// serves, and the moto_server it gets, if any.
const APART_ASSEMBLY: &str = "GATEWAY_TEST_APART_ASSEMBLY";
const APART_MOTO: &str = "GATEWAY_TEST_APART_MOTO";
/// Set when the gateway is to be served as `cargo xtask dev` serves it (stopping on Ctrl-C,
/// SIGTERM and SIGHUP), not only started.
const APART_SERVE: &str = "GATEWAY_TEST_APART_SERVE";

/// Not a test: the body of a gateway in a process of its own ([`Apart`]), so that it can be
/// killed with SIGKILL and its memory measured alone. Without its variable it returns at once.
#[tokio::test]
#[ignore = "a helper process that other tests start"]
async fn apart_gateway_process() {
    let Some(dir) = std::env::var_os(APART_ASSEMBLY) else {
        return;
    };
    let mut options = gateway::DevOptions::new(dir);
    options.local_services = std::env::var_os(APART_MOTO).map(Into::into);
    let ready = |gw: &gateway::Gateway| {
        // After a line break: libtest has written `test ... ` on the current line.
        println!("\nurl {}", gw.url());
        if let Some(services) = gw.local_services() {
            println!("moto {}", services.pid);
        }
        println!("ready");
    };
    if std::env::var_os(APART_SERVE).is_some() {
        let served = tokio::time::timeout(TEST_LIMIT, gateway::serve(options, ready)).await;
        served
            .expect("a signal stops it within the tests' bound")
            .unwrap_or_else(|e| panic!("serve: {}", error_chain(&e)));
        return;
    }
    let gw = gateway::start(options)
        .await
        .unwrap_or_else(|e| panic!("the gateway starts: {}", error_chain(&e)));
    ready(&gw);
    // Until killed, and never past the tests' bound.
    tokio::time::sleep(TEST_LIMIT).await;
}

/// A gateway in a child process (this test binary running [`apart_gateway_process`]),
/// killed with SIGKILL when dropped.
struct Apart {
    child: std::process::Child,
    url: String,
    moto: Option<u32>,
}

impl Apart {
    fn start(asm: &Assembly, moto: Option<std::path::PathBuf>, serve: bool) -> Apart {
        use std::io::BufRead;
        let log = std::fs::File::create(asm.dir.join("apart.log")).unwrap();
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", "attacks::apart_gateway_process"])
            .args(["--include-ignored", "--nocapture", "--test-threads=1"])
            .env(APART_ASSEMBLY, &asm.dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(log);
        if let Some(moto) = moto {
            command.env(APART_MOTO, moto);
        }
        if serve {
            command.env(APART_SERVE, "1");
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines) = std::sync::mpsc::channel();
        // Reads to the end, even once no one listens: the child's last lines must not meet
        // a closed pipe.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = lines_tx.send(line);
            }
        });
        let mut apart = Apart {
            child,
            url: String::new(),
            moto: None,
        };
        // moto imports its Python modules first: up to half the test's bound.
        let deadline = Instant::now() + TEST_LIMIT / 2;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines.recv_timeout(left).unwrap_or_else(|_| {
                let log = std::fs::read_to_string(asm.dir.join("apart.log")).unwrap_or_default();
                panic!("the gateway process did not start in time; its log:\n{log}")
            });
            if let Some(url) = line.strip_prefix("url ") {
                apart.url = url.to_owned();
            } else if let Some(pid) = line.strip_prefix("moto ") {
                apart.moto = Some(pid.parse().unwrap());
            } else if line == "ready" {
                return apart;
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`INT`, `HUP`...) and waits up to `limit` for the process to end; its
    /// exit status.
    async fn signal(&mut self, signal: &str, limit: Duration) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal}");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway still runs {limit:?} after SIG{signal}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no destructor, no signal handler runs in the gateway.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Apart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to `limit` for a process to be gone; whether it is.
async fn gone_within(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while !process_gone(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    process_gone(pid)
}

#[tokio::test]
#[ignore = "needs moto_server: `cargo xtask test` provides it"]
async fn a_gateway_killed_with_sigkill_leaves_no_process_behind() {
    bounded(async {
        let asm =
            crate::services::with_table_and_secret(Assembly::standard("attack-sigkill")).write();
        let mut apart = Apart::start(&asm, Some(testenv::Need::MotoServer.path()), false);
        let moto = apart.moto.expect("the template has a table: moto runs");
        let mut client = connect(&apart.url).await;
        let function: u32 = pid_of(&mut client).await.parse().unwrap();
        send(
            &mut client,
            serde_json::json!({"action": "echo", "do": "fork"}).to_string(),
        )
        .await;
        let grandchild: u32 = next_text(&mut client).await.parse().unwrap();
        for pid in [moto, function, grandchild] {
            assert!(!process_gone(pid), "{pid} runs");
        }

        apart.kill();
        // None of them runs on: the watchdog's pipe closed with the gateway, and it killed
        // moto's and the function's process groups.
        for (what, pid) in [
            ("moto", moto),
            ("the function process", function),
            ("what the function forked", grandchild),
        ] {
            assert!(
                gone_within(pid, Duration::from_secs(5)).await,
                "{what} (pid {pid}) outlived its gateway's SIGKILL by 5 s"
            );
        }
    })
    .await;
}

/// A process's resident memory now and at its peak (VmRSS, VmHWM), in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Sends `count` messages of 100 KiB as API Gateway's clients must (frames of at most
/// 32 KB: 32 + 32 + 32 + 4 KiB), to the one-way route; the replies (throttled ones, beyond
/// the connection's backlog) are read as they come so the gateway's writes never stall.
/// Returns how many were throttled.
async fn flood(client: Client, count: usize) -> (Client, usize) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

    let (mut sink, mut stream) = client.split();
    let reader = tokio::spawn(async move {
        let mut throttled = 0;
        let mut rest = Vec::new();
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_secs(2), stream.next()).await
        {
            if let Message::Text(text) = &message
                && text.contains("Too Many Requests")
            {
                throttled += 1;
            } else {
                rest.push(message);
            }
        }
        assert!(rest.is_empty(), "one-way messages get no reply: {rest:?}");
        (stream, throttled)
    });
    let mut body = serde_json::json!({"action": "oneway", "pad": ""}).to_string();
    body.insert_str(body.len() - 2, &"f".repeat(100 * 1024 - body.len()));
    assert_eq!(body.len(), 100 * 1024);
    let chunks: Vec<&[u8]> = body.as_bytes().chunks(32 * 1024).collect();
    for _ in 0..count {
        for (i, chunk) in chunks.iter().enumerate() {
            let opcode = OpCode::Data(if i == 0 { Data::Text } else { Data::Continue });
            let fin = i + 1 == chunks.len();
            let frame = Frame::message(chunk.to_vec(), opcode, fin);
            sink.feed(Message::Frame(frame))
                .await
                .expect("the gateway reads on");
        }
    }
    sink.flush().await.unwrap();
    let (stream, throttled) = reader.await.unwrap();
    (sink.reunite(stream).unwrap(), throttled)
}

#[tokio::test]
async fn a_flood_of_100_kib_messages_leaves_the_gateways_memory_bounded_and_it_echoes_on() {
    bounded(async {
        let asm = Assembly::standard("attack-rss").write();
        let apart = Apart::start(&asm, None, false);
        let mut client = connect(&apart.url).await;
        let answer = echo(&mut client, serde_json::json!({"action": "echo"})).await;
        assert_eq!(answer["requestContext"]["routeKey"], "echo", "{answer}");
        let (before, _) = memory_kib(apart.pid());

        // Two rounds of 200 (20 MiB each): the second must not grow what the first left.
        let (client, throttled_first) = flood(client, 200).await;
        let (after_first, _) = memory_kib(apart.pid());
        let (mut client, throttled_second) = flood(client, 200).await;
        let (after, peak) = memory_kib(apart.pid());
        eprintln!(
            "gateway RSS: {before} KiB before, {after_first} after 200 messages of 100 KiB, \
             {after} after 400, peak {peak}; throttled {throttled_first} + {throttled_second}"
        );

        let answer = echo(&mut client, serde_json::json!({"action": "echo"})).await;
        assert_eq!(answer["requestContext"]["routeKey"], "echo", "{answer}");
        // At most 100 messages of a connection are held (10 MiB) with their events: the peak
        // stays under 40 MiB above the start (12 MiB here, debug build), what is left after
        // under 24 MiB (11 MiB here: the allocator keeps what it freed), and the second round
        // adds less than 8 MiB to the first's (it holds nothing on).
        assert!(peak - before < 40 * 1024, "peak {peak} KiB from {before}");
        assert!(
            after - before < 24 * 1024,
            "{after} KiB after, from {before}"
        );
        assert!(
            after.saturating_sub(after_first) < 8 * 1024,
            "{after} KiB after the second round, {after_first} after the first"
        );
    })
    .await;
}

#[tokio::test]
async fn ctrl_c_and_sighup_stop_a_served_gateway_in_its_own_process_leaving_no_process() {
    bounded(async {
        for signal in ["INT", "HUP"] {
            let asm = Assembly::standard(&format!("attack-sig{signal}")).write();
            let mut apart = Apart::start(&asm, None, true);
            let mut client = connect(&apart.url).await;
            let id = connection_id(&mut client).await;
            let function: u32 = pid_of(&mut client).await.parse().unwrap();
            // One that stopped reading, with frames backed up, must not hold the stop up.
            let addr = apart.url["ws://".len()..]
                .split('/')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let (_stalled, stalled_id) = stalled_client(&asm, addr).await;
            assert_eq!(push(addr, &stalled_id, STALL).await, STALL);

            let signalled = Instant::now();
            let status = apart.signal(signal, Duration::from_secs(5)).await;
            assert!(
                status.success(),
                "SIG{signal}: the gateway exits cleanly: {status}"
            );
            assert_eq!(close_frame(&mut client).await.0, 1001, "SIG{signal}");
            for id in [id, stalled_id] {
                let (code, _) = disconnected(&asm, &id, signalled).await;
                assert_eq!(code, 1001, "SIG{signal}");
            }
            assert!(
                gone_within(function, Duration::from_secs(2)).await,
                "SIG{signal}: function process {function} outlived the gateway"
            );
        }
    })
    .await;
}
