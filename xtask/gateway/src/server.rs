//! The gateway's one port: WebSocket upgrades and the management API, behind the checks that
//! keep web pages out ([`crate::browsers`]) and the limits that keep one client from taking
//! the gateway down (a header-read timeout, header and URL sizes, concurrent connections).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::http::text;
use crate::log::log;
use crate::state::Shared;
use crate::{management, websocket};

/// A request's line and headers must arrive within this, or the connection is closed.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Request line + headers at most (API Gateway's documented cap for REST and HTTP APIs): 431.
pub(crate) const HEADER_LIMIT: usize = 10 * 1024;
/// A WebSocket URL at most (API Gateway's WebSocket quota): 414.
pub(crate) const URL_LIMIT: usize = 4096;

/// File descriptors kept for what is not a client connection: function processes' pipes and
/// Runtime APIs, the moto server, the assembly's files.
const FD_RESERVE: u64 = 256;

/// The connection cap that this process's open-file limit allows: the soft limit is raised
/// toward the hard one first (a server's usual start), and the cap stays below it, so a flood
/// is refused with a 503 instead of failing `accept` for everyone.
pub(crate) fn connection_cap(wanted: usize) -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let needed = wanted as u64 + FD_RESERVE;
    if let Some(current) = limit.current
        && current < needed
    {
        let raised = limit.maximum.map_or(needed, |max| max.min(needed));
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(raised),
                maximum: limit.maximum,
            },
        );
    }
    let cap = capped(wanted, getrlimit(Resource::Nofile).current);
    if cap < wanted {
        log!(
            "gateway",
            "at most {cap} connections at once (not {wanted}): the open-file limit is {} (ulimit -n)",
            getrlimit(Resource::Nofile).current.unwrap_or_default()
        );
    }
    cap
}

fn capped(wanted: usize, open_files: Option<u64>) -> usize {
    match open_files {
        Some(files) => wanted
            .min(usize::try_from(files.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX))
            .max(1),
        None => wanted,
    }
}

/// Counts the open TCP connections (HTTP ones and WebSockets): a connection holds a [`Slot`].
pub(crate) struct Slots {
    open: AtomicUsize,
    max: usize,
}

impl Slots {
    pub(crate) fn new(max: usize) -> Slots {
        Slots {
            open: AtomicUsize::new(0),
            max: max.max(1),
        }
    }

    fn take(self: &Arc<Self>) -> Option<Slot> {
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            })
            .is_ok();
        taken.then(|| Slot(self.clone()))
    }
}

/// One connection's place among [`Slots`], given back when dropped.
pub(crate) struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

pub(crate) async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_header_size(HEADER_LIMIT);
    let http = Arc::new(http);
    loop {
        let (mut stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                log!("gateway", "accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = shared.slots.take() else {
            log!(
                "gateway",
                "refused a connection from {peer}: {} connections are open (the limit)",
                shared.slots.max
            );
            // Answered without reading the request: a full gateway does no work for it.
            let body = format!(
                r#"{{"message": "Too many connections: the local gateway allows {} at once"}}"#,
                shared.slots.max
            );
            let response = format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                })
                .await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn_shared = shared.clone();
        let http = http.clone();
        shared.tasks.spawn_cancellable(async move {
            let slot = Arc::new(slot);
            let service = hyper::service::service_fn(move |req| {
                let shared = conn_shared.clone();
                let slot = slot.clone();
                async move { Ok::<_, Infallible>(route(shared, req, peer, slot).await) }
            });
            let _ = http
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

async fn route(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    peer: SocketAddr,
    slot: Arc<Slot>,
) -> Response<Full<Bytes>> {
    if let Err(refused) = shared.browsers.check(req.headers()) {
        log!(
            "gateway",
            "{} {} from {peer} refused: {refused}",
            req.method(),
            req.uri().path()
        );
        let status = match refused {
            crate::browsers::Refused::Host(_) => StatusCode::MISDIRECTED_REQUEST,
            crate::browsers::Refused::Origin(_) => StatusCode::FORBIDDEN,
        };
        let body = serde_json::json!({ "message": refused.to_string() }).to_string();
        return text(status, body);
    }
    let url_length = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if url_length > URL_LIMIT {
        log!(
            "gateway",
            "{} from {peer} refused: a {url_length}-character URL",
            req.method()
        );
        return text(
            StatusCode::URI_TOO_LONG,
            format!(r#"{{"message": "URL too long: at most {URL_LIMIT} characters"}}"#),
        );
    }
    if req.uri().path().contains("@connections") || req.uri().path().contains("%40connections") {
        return management::handle(&shared, req).await;
    }
    let wants_upgrade = req
        .headers()
        .get(hyper::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if wants_upgrade {
        return websocket::upgrade(shared, req, peer, slot).await;
    }
    text(
        StatusCode::UPGRADE_REQUIRED,
        r#"{"message": "This is a WebSocket endpoint: connect with a WebSocket client (ws://), or use /@connections/{id}"}"#,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_open_file_limit() {
        assert_eq!(capped(4096, None), 4096);
        assert_eq!(capped(4096, Some(1 << 20)), 4096);
        assert_eq!(capped(4096, Some(1024)), 1024 - 256);
        assert_eq!(capped(4096, Some(100)), 1);
    }
}
