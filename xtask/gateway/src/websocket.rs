//! One WebSocket connection, API Gateway style: who may connect (`access`) and `$connect`
//! during the upgrade, route selection per text message, `$disconnect` on every close, API
//! Gateway's limits and timeouts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

use crate::access;
use crate::connections::{Connection, MESSAGE_BACKLOG, Outbound, Receivers};
use crate::events::{self, ConnectionInfo};
use crate::http::text;
use crate::ids;
use crate::log::log;
use crate::pool::{Failure, Pool};
use crate::server::Slot;
use crate::state::{FRAME_LIMIT, MESSAGE_LIMIT, Shared};

/// tungstenite's advice for many connections; messages larger than this take a few reads.
const READ_BUFFER: usize = 4 * 1024;

/// Answers a WebSocket upgrade: checks who may connect, runs `$connect`, then either refuses or
/// switches protocols and hands the socket to a connection task.
pub(crate) async fn upgrade(
    shared: Arc<Shared>,
    mut req: Request<Incoming>,
    peer: SocketAddr,
    slot: Arc<Slot>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().trim_end_matches('/');
    let deployment = shared.deployment();
    let stage = &deployment.model.stage;
    if !(path.is_empty() || path.strip_prefix('/') == Some(stage.as_str())) {
        return text(StatusCode::FORBIDDEN, r#"{"message":"Forbidden"}"#);
    }
    if shared.stage_throttling && !deployment.admit("$connect") {
        log!(
            "connect",
            "a handshake from {peer} throttled: over $connect's ThrottlingRateLimit/BurstLimit"
        );
        return text(
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"message":"Too Many Requests"}"#,
        );
    }
    let headers = req.headers();
    let Some(key) = headers
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec())
    else {
        return text(
            StatusCode::BAD_REQUEST,
            r#"{"message":"missing Sec-WebSocket-Key"}"#,
        );
    };
    if headers.get("sec-websocket-version").map(|v| v.as_bytes()) != Some(b"13") {
        return text(
            StatusCode::BAD_REQUEST,
            r#"{"message":"Sec-WebSocket-Version must be 13"}"#,
        );
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut info = ConnectionInfo {
        connection_id: ids::aws_id(),
        connected_at: ids::now_ms(),
        source_ip: peer.ip().to_string(),
        user_agent: header("user-agent"),
        // The listen address, as API Gateway's is its own: a client's `Host` names nothing.
        domain_name: shared.addr.to_string(),
        stage: stage.clone(),
        api_id: deployment.model.api_id.clone(),
        access: None,
    };
    let id = info.connection_id.clone();
    // One request: the authorizer and `$connect` share its id, as on AWS.
    let request_id = ids::aws_id();
    if let Some(route) = deployment.model.routes.get("$connect") {
        let started = Instant::now();
        match access::check(&shared, &deployment, &route.guard, &req, &info, &request_id).await {
            Ok(access) => info.access = access.map(Arc::new),
            Err(refusal) => {
                log!(
                    "connect",
                    "{id} refused {} in {} ms: {}",
                    refusal.status,
                    started.elapsed().as_millis(),
                    refusal.reason
                );
                return text(refusal.status_code(), refusal.body);
            }
        }
    }
    // Registered before `$connect` so the management API can tell "not open yet" (410).
    let (connection, receivers) = shared.registry.add(info.clone());
    // Forgets it if the handshake ends here: a refusal, or the request dropped mid-`$connect`
    // because its client went away.
    let mut registered = Registered {
        shared: shared.clone(),
        connection: Some(connection.clone()),
    };

    let mut protocol = None;
    if let Some(route) = deployment.model.routes.get("$connect") {
        let event = events::connect(
            &info,
            &request_id,
            req.headers(),
            req.uri().query(),
            shared.addr.port(),
        );
        let pool = &deployment.pools[&route.function];
        let started = Instant::now();
        let result = invoke(&shared, pool, route.integration_timeout, false, event).await;
        let took = started.elapsed();
        let refusal = match result {
            Ok(body) => {
                let (status, response) = proxy_status(&body);
                protocol = response
                    .get("headers")
                    .and_then(|h| h.as_object())
                    .and_then(|h| {
                        h.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-protocol"))
                    })
                    .and_then(|(_, v)| v.as_str().map(str::to_owned));
                log!(
                    "connect",
                    "{id} $connect -> {} {status} in {} ms",
                    pool.spec.label(),
                    took.as_millis()
                );
                (!(200..300).contains(&status)).then(|| {
                    let body = response
                        .get("body")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    (status, body.to_owned())
                })
            }
            Err(failure) => {
                log!(
                    "connect",
                    "{id} $connect -> {} failed in {} ms: {failure}",
                    pool.spec.label(),
                    took.as_millis()
                );
                Some((502, r#"{"message": "Internal server error"}"#.to_owned()))
            }
        };
        if let Some((status, body)) = refusal {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            return text(status, body);
        }
    } else {
        log!("connect", "{id} connected (no $connect route)");
    }

    // The function's choice goes into the 101 as it is: one that is no header value fails the
    // handshake as API Gateway does, with a 500.
    let protocol = match protocol
        .map(hyper::header::HeaderValue::try_from)
        .transpose()
    {
        Ok(protocol) => protocol,
        Err(_) => {
            log!(
                "connect",
                "{id} $connect chose a Sec-WebSocket-Protocol that is no header value -> 500"
            );
            drop(registered);
            disconnect(
                &shared,
                &connection,
                1006,
                "Connection was closed abnormally",
            )
            .await;
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"message": "Internal server error"}"#,
            );
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let task_shared = shared.clone();
    // From here the connection's task forgets it.
    registered.connection = None;
    shared.tasks.spawn(async move {
        // The connection counts until the socket is gone.
        let _slot = slot;
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                log!("connect", "{id} upgrade failed: {e}");
                task_shared.registry.remove(&connection);
                disconnect(
                    &task_shared,
                    &connection,
                    1006,
                    "Connection was closed abnormally",
                )
                .await;
                return;
            }
        };
        let config = WebSocketConfig::default()
            .max_frame_size(Some(FRAME_LIMIT))
            .max_message_size(Some(MESSAGE_LIMIT))
            // Allocated per connection up front: 128 KiB by default, mostly idle.
            .read_buffer_size(READ_BUFFER);
        let ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        task_shared.registry.open(&connection);
        run(task_shared, connection, ws, receivers).await;
    });

    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(hyper::header::CONNECTION, "upgrade")
        .header(hyper::header::UPGRADE, "websocket")
        .header("sec-websocket-accept", derive_accept_key(&key));
    if let Some(protocol) = protocol {
        response = response.header("sec-websocket-protocol", protocol);
    }
    response
        .body(Full::new(Bytes::new()))
        .expect("valid response")
}

/// A connection registered for the handshake, removed from the registry when dropped unless
/// its task took it over (`connection` set to `None`).
struct Registered {
    shared: Arc<Shared>,
    connection: Option<Arc<Connection>>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.shared.registry.remove(&connection);
        }
    }
}

/// Status code and parsed body of a Lambda proxy response. No `statusCode` counts as 200, like
/// a `$connect` function that returns nothing; one that is no HTTP final status is a malformed
/// response, which API Gateway answers with 502.
fn proxy_status(body: &[u8]) -> (u16, Value) {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let status = match value.get("statusCode") {
        None => 200,
        Some(code) => code
            .as_u64()
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (200..=599).contains(c))
            .unwrap_or(502),
    };
    (status, value)
}

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// A frame that cannot be sent within this (a client that stopped reading, its socket's
/// buffers full) closes the connection.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing connection's writer gets to send what is queued and the close frame
/// before the socket is dropped: closes take effect within it whatever the client does.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

fn close_with(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    }))
}

async fn run(shared: Arc<Shared>, connection: Arc<Connection>, ws: Socket, receivers: Receivers) {
    let id = connection.info.connection_id.clone();
    log!("connect", "{id} open from {}", connection.info.source_ip);
    let (sink, mut stream) = ws.split();
    let Receivers { outbound, close } = receivers;
    let mut close_requested = close;
    // The writer runs on its own: a client that stops reading stalls only it, never the
    // reading, the timeouts or a close.
    let (finish, finish_rx) = tokio::sync::oneshot::channel();
    let mut writer = tokio::spawn(write(sink, outbound, finish_rx, connection.clone()));
    let stopped = shared.tasks.stopped();
    tokio::pin!(stopped);
    let opened = Instant::now();
    let max_deadline = tokio::time::Instant::now() + shared.max_duration;
    // The code and reason `$disconnect` gets, and the close frame to send, if any.
    let (code, reason, frame): (u16, String, Option<Message>) = loop {
        let idle_for =
            Duration::from_millis(ids::now_ms().saturating_sub(connection.last_active_ms()));
        let idle_deadline =
            tokio::time::Instant::now() + shared.idle_timeout.saturating_sub(idle_for);
        tokio::select! {
            incoming = stream.next() => match incoming {
                None => break (1006, "Connection was closed abnormally".into(), None),
                Some(Ok(Message::Text(body))) => {
                    connection.touch();
                    let Some(handling) = connection.handle_message() else {
                        log!(
                            "message",
                            "{id} {} bytes throttled: {MESSAGE_BACKLOG} messages of this connection are being handled",
                            body.len()
                        );
                        let error = gateway_error("Too Many Requests", &id, &ids::aws_id());
                        connection.send(Outbound::Text(error));
                        continue;
                    };
                    let shared = shared.clone();
                    shared.tasks.clone().spawn_cancellable(async move {
                        on_message(&shared, handling.connection(), body.as_str()).await;
                    });
                }
                Some(Ok(Message::Binary(_))) => {
                    let reason = "Binary frames are not supported";
                    break (1003, reason.into(), Some(close_with(1003, reason)));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => connection.touch(),
                Some(Ok(Message::Close(frame))) => {
                    // tungstenite answers the close frame itself.
                    break match frame {
                        Some(frame) => (u16::from(frame.code), frame.reason.to_string(), None),
                        None => (1005, "Client-side close frame status not set".into(), None),
                    };
                }
                Some(Ok(Message::Frame(_))) => {}
                Some(Err(WsError::Capacity(e))) => {
                    let reason = match e {
                        CapacityError::MessageTooLong { .. } => "Message too big",
                        _ => "Frame too big",
                    };
                    break (1009, reason.into(), Some(close_with(1009, reason)));
                }
                // The client broke the protocol: told with the code API Gateway closes with.
                Some(Err(WsError::Utf8(_))) => {
                    let reason = "Invalid UTF-8 in a text frame";
                    break (1007, reason.into(), Some(close_with(1007, reason)));
                }
                Some(Err(WsError::Protocol(e)))
                    if !matches!(e, ProtocolError::ResetWithoutClosingHandshake) =>
                {
                    break (
                        1002,
                        format!("Protocol error: {e}"),
                        Some(close_with(1002, "Protocol error")),
                    );
                }
                Some(Err(e)) => {
                    break (1006, format!("Connection was closed abnormally: {e}"), None);
                }
            },
            // A management API DELETE, or a client that left its queue full.
            requested = &mut close_requested => {
                let (code, reason) = requested.unwrap_or((1000, String::new()));
                let frame = close_with(code, &reason);
                break (code, reason, Some(frame));
            }
            written = &mut writer => {
                let why = match written {
                    Ok(Err(why)) => why,
                    Ok(Ok(())) => "the writer stopped".to_owned(),
                    Err(e) => e.to_string(),
                };
                break (1006, format!("Connection was closed abnormally: {why}"), None);
            }
            () = tokio::time::sleep_until(idle_deadline) => {
                break (1001, "Going away (idle timeout)".into(), Some(close_with(1001, "Going away")));
            }
            () = tokio::time::sleep_until(max_deadline) => {
                break (
                    1001,
                    "Going away (maximum connection duration)".into(),
                    Some(close_with(1001, "Going away")),
                );
            }
            () = &mut stopped => {
                break (
                    1001,
                    "Going away (gateway shutting down)".into(),
                    Some(close_with(1001, "Going away")),
                );
            }
        }
    };
    shared.registry.remove(&connection);
    // What is queued, the close frame, the close handshake: within the grace, then the socket
    // is dropped whatever state the writer is in.
    if !writer.is_finished() {
        let _ = finish.send(frame);
        if tokio::time::timeout(CLOSE_GRACE, &mut writer)
            .await
            .is_err()
        {
            writer.abort();
        }
    }
    drop(stream);
    log!(
        "disconnect",
        "{id} closed {code} {reason:?} after {:.1} s",
        opened.elapsed().as_secs_f32()
    );
    disconnect(&shared, &connection, code, &reason).await;
}

/// Sends the connection's queued frames, each within [`SEND_TIMEOUT`], until told to finish:
/// then what is still queued, the close frame (if any) and the close handshake. Returns why it
/// stopped early.
async fn write(
    mut sink: SplitSink<Socket, Message>,
    mut outbound: tokio::sync::mpsc::UnboundedReceiver<Outbound>,
    mut finish: tokio::sync::oneshot::Receiver<Option<Message>>,
    connection: Arc<Connection>,
) -> Result<(), String> {
    let frame = loop {
        tokio::select! {
            biased;
            message = outbound.recv() => {
                // The connection holds a sender, so the queue does not end first.
                let Some(message) = message else { return Ok(()) };
                send(&mut sink, &connection, message).await?;
            }
            frame = &mut finish => break frame.ok().flatten(),
        }
    };
    while let Ok(message) = outbound.try_recv() {
        send(&mut sink, &connection, message).await?;
    }
    if let Some(frame) = frame {
        sink.send(frame).await.map_err(|e| e.to_string())?;
    }
    let _ = sink.close().await;
    Ok(())
}

async fn send(
    sink: &mut SplitSink<Socket, Message>,
    connection: &Connection,
    message: Outbound,
) -> Result<(), String> {
    connection.dequeued(message.weight());
    let message = match message {
        Outbound::Text(text) => Message::text(text),
        Outbound::Binary(bytes) => Message::binary(bytes),
    };
    let mut sending = std::pin::pin!(sink.send(message));
    // Most sends finish at once: only one that waits for the socket sets a timer.
    let first = std::future::poll_fn(|cx| Poll::Ready(sending.as_mut().poll(cx))).await;
    let sent = match first {
        Poll::Ready(sent) => sent,
        Poll::Pending => tokio::time::timeout(SEND_TIMEOUT, sending)
            .await
            .map_err(|_| {
                format!(
                    "a frame could not be sent within {} s (the client stopped reading)",
                    SEND_TIMEOUT.as_secs()
                )
            })?,
    };
    sent.map_err(|e| e.to_string())
}

/// `$disconnect`, best effort: its failure is only logged.
async fn disconnect(shared: &Shared, connection: &Connection, code: u16, reason: &str) {
    let deployment = shared.deployment();
    let Some(route) = deployment.model.routes.get("$disconnect") else {
        return;
    };
    let id = &connection.info.connection_id;
    let pool = &deployment.pools[&route.function];
    let event = events::disconnect(&connection.info, &ids::aws_id(), code, reason);
    let started = Instant::now();
    let result = invoke(shared, pool, route.integration_timeout, true, event).await;
    let took = started.elapsed().as_millis();
    match result {
        Ok(body) => log!(
            "disconnect",
            "{id} $disconnect -> {} {} in {took} ms",
            pool.spec.label(),
            proxy_status(&body).0
        ),
        Err(failure) => log!(
            "disconnect",
            "{id} $disconnect -> {} failed in {took} ms: {failure}",
            pool.spec.label()
        ),
    }
}

async fn on_message(shared: &Shared, connection: &Connection, body: &str) {
    let id = &connection.info.connection_id;
    let request_id = ids::aws_id();
    let deployment = shared.deployment();
    let model = &deployment.model;
    let selected = model.route_selection.route_key(body);
    // `$connect` and `$disconnect` are never selected by a message.
    let route = selected
        .as_deref()
        .filter(|key| !key.starts_with('$'))
        .and_then(|key| model.routes.get(key))
        .or_else(|| model.routes.get("$default"));
    let Some(route) = route else {
        log!(
            "message",
            "{id} {} bytes, no route for {selected:?} and no $default -> Forbidden",
            body.len()
        );
        connection.send(Outbound::Text(gateway_error("Forbidden", id, &request_id)));
        return;
    };
    // The selected route's bucket: `RouteSettings` may throttle one route and not another.
    // The client gets an error frame and the connection stays open, as on AWS.
    if shared.stage_throttling && !deployment.admit(&route.key) {
        log!(
            "message",
            "{id} {} bytes to `{}` throttled: over its ThrottlingRateLimit/BurstLimit",
            body.len(),
            route.key
        );
        connection.send(Outbound::Text(gateway_error(
            "Too Many Requests",
            id,
            &request_id,
        )));
        return;
    }
    let pool = &deployment.pools[&route.function];
    let event = events::message(&connection.info, &route.key, &request_id, body);
    let started = Instant::now();
    let result = invoke(shared, pool, route.integration_timeout, false, event).await;
    let took = started.elapsed().as_millis();
    match result {
        Ok(response) => {
            let (status, value) = proxy_status(&response);
            let mut reply = route
                .two_way
                .then(|| value.get("body").and_then(Value::as_str).map(str::to_owned))
                .flatten();
            // API Gateway sends no frame over its 128 KB message limit: the client gets an error.
            if let Some(text) = reply.take_if(|text| text.len() > MESSAGE_LIMIT) {
                log!(
                    "message",
                    "{id} {} -> {} {status} in {took} ms, but its {}-byte reply is over API Gateway's {} KB",
                    route.key,
                    pool.spec.label(),
                    text.len(),
                    MESSAGE_LIMIT / 1024
                );
                connection.send(Outbound::Text(gateway_error(
                    "Internal server error",
                    id,
                    &request_id,
                )));
                return;
            }
            log!(
                "message",
                "{id} {} -> {} {status} in {took} ms{}",
                route.key,
                pool.spec.label(),
                if reply.is_some() { ", replied" } else { "" }
            );
            if let Some(reply) = reply {
                connection.send(Outbound::Text(reply));
            }
        }
        Err(failure) => {
            log!(
                "message",
                "{id} {} -> {} failed in {took} ms: {failure}",
                route.key,
                pool.spec.label()
            );
            connection.send(Outbound::Text(gateway_error(
                "Internal server error",
                id,
                &request_id,
            )));
        }
    }
}

/// Invokes a function, waiting at most `timeout` (a route's integration timeout, an
/// authorizer's); like on AWS, a function that started runs on when API Gateway stops waiting,
/// and one still waiting for a free instance then is dropped. Shutdown
/// cancels invocations, except those that `finish_on_shutdown` (`$disconnect`'s), which
/// shutdown waits for.
pub(crate) async fn invoke(
    shared: &Shared,
    pool: &Arc<Pool>,
    timeout: Duration,
    finish_on_shutdown: bool,
    event: Value,
) -> Result<Bytes, Failure> {
    let pool = pool.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let start_by = tokio::time::Instant::now() + timeout;
    let task = async move {
        let _ = tx.send(pool.invoke(Bytes::from(event.to_string()), start_by).await);
    };
    if finish_on_shutdown {
        shared.tasks.spawn(task);
    } else {
        shared.tasks.spawn_cancellable(task);
    }
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(Failure::Spawn("the gateway is shutting down".into())),
        Err(_) => Err(Failure::IntegrationTimeout(timeout)),
    }
}

/// API Gateway's own error replies, spaced exactly as it sends them: a text frame
/// `{"message": "<reason>", "connectionId":"...", "requestId":"..."}` on the open connection
/// (observed for "Internal server error" in aws-samples/simple-websockets-chat-app#46 and
/// aws/aws-cdk#18208). A throttled message gets the same frame with "Too Many Requests", the
/// text API Gateway's throttling returns (docs: "Protect your WebSocket APIs in API Gateway",
/// websocket-api-protect: clients "may receive 429 Too Many Requests").
fn gateway_error(message: &str, connection_id: &str, request_id: &str) -> String {
    format!(
        r#"{{"message": "{message}", "connectionId":"{connection_id}", "requestId":"{request_id}"}}"#
    )
}
