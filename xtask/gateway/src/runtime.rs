//! The Lambda Runtime API for one function process, on its own 127.0.0.1 port: the process
//! polls `next`, gets one invocation, and posts its response or error.
//!
//! One listener per process, so each request unambiguously belongs to that process. The
//! gateway's process pools run on it, and so do the function crates' tests of their binaries
//! (`shared::test_support::runtime_api`): one host, so those tests exercise what `dev` runs.
//!
//! Use: [`RuntimeApi::start`] with the receiving end of a queue, start the binary with
//! `AWS_LAMBDA_RUNTIME_API` set to [`RuntimeApi::endpoint`], send it [`Invocation`]s and await
//! each one's [`Outcome`]. [`RuntimeApi::start_private`] serves it under a random path prefix
//! (`http://127.0.0.1:PORT/<prefix>`, which the Rust runtime client reads): another local
//! process that finds the port cannot take events (with their headers and tokens) or forge
//! answers by accident.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::ids;

/// The bytes of events and answers.
pub use bytes::Bytes;

/// What the host hands a function process.
pub struct Invocation {
    pub request_id: String,
    pub event: Bytes,
    /// The function's Timeout: the deadline counts from when the process takes the invocation.
    pub timeout: Duration,
    pub trace_id: String,
    pub reply: oneshot::Sender<Outcome>,
    /// Fires when the process takes the invocation.
    pub delivered: oneshot::Sender<()>,
}

/// What the process posted back.
#[derive(Debug)]
pub enum Outcome {
    Response(Bytes),
    Error(Bytes),
}

/// A Runtime API being served; it stops when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    /// `/<random>` for a private one, else empty.
    prefix: String,
    /// Fires when the process first asks for an invocation (the end of its cold start).
    pub(crate) first_poll: Option<oneshot::Receiver<()>>,
    /// The body of `/runtime/init/error`, if the process sent one.
    pub(crate) init_error: Arc<Mutex<Option<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct State {
    function_arn: String,
    prefix: String,
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    first_poll: Mutex<Option<oneshot::Sender<()>>>,
    init_error: Arc<Mutex<Option<String>>>,
}

const PREFIX: &str = "/2018-06-01/runtime/";

/// Lambda's limit on a synchronous invocation's response (6 MB, as its error message counts it).
const RESPONSE_LIMIT: usize = 6_291_556;
/// What Lambda answers a larger one with; the invocation fails with it.
const TOO_LARGE: &str = r#"{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}"#;

impl RuntimeApi {
    /// Serves the Runtime API on a free 127.0.0.1 port: each `next` gets the following
    /// invocation from `queue` (and waits for one, as Lambda does between invocations; once
    /// `queue` is closed it answers 410). `function_arn` is what the process is told it runs as.
    pub async fn start(
        function_arn: impl Into<String>,
        queue: mpsc::Receiver<Invocation>,
    ) -> std::io::Result<RuntimeApi> {
        RuntimeApi::serve(function_arn.into(), queue, String::new()).await
    }

    /// [`Self::start`] under a random path prefix: only a process given
    /// [`Self::endpoint`] reaches it; any other path is 404.
    pub async fn start_private(
        function_arn: impl Into<String>,
        queue: mpsc::Receiver<Invocation>,
    ) -> std::io::Result<RuntimeApi> {
        let prefix = format!(
            "/{}",
            ids::secret(32, b"0123456789abcdefghijklmnopqrstuvwxyz")
        );
        RuntimeApi::serve(function_arn.into(), queue, prefix).await
    }

    async fn serve(
        function_arn: String,
        queue: mpsc::Receiver<Invocation>,
        prefix: String,
    ) -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (first_tx, first_rx) = oneshot::channel();
        let init_error = Arc::new(Mutex::new(None));
        let state = Arc::new(State {
            function_arn,
            prefix: prefix.clone(),
            queue: tokio::sync::Mutex::new(queue),
            in_flight: Mutex::new(HashMap::new()),
            first_poll: Mutex::new(Some(first_tx)),
            init_error: init_error.clone(),
        });
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            prefix,
            first_poll: Some(first_rx),
            init_error,
            task,
        })
    }

    /// Its address; the whole of `AWS_LAMBDA_RUNTIME_API` for one started without a prefix.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`: `127.0.0.1:PORT`, or
    /// `http://127.0.0.1:PORT/<prefix>` for a private one (a path needs the scheme).
    pub fn endpoint(&self) -> String {
        if self.prefix.is_empty() {
            self.addr.to_string()
        } else {
            format!("http://{}{}", self.addr, self.prefix)
        }
    }
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let Some(route) = path
        .strip_prefix(state.prefix.as_str())
        .and_then(|path| path.strip_prefix(PREFIX))
    else {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            r#"{"errorMessage":"not found"}"#,
        ));
    };
    let method = req.method().clone();
    let segments: Vec<&str> = route.split('/').collect();
    Ok(match (method, segments.as_slice()) {
        (Method::GET, ["invocation", "next"]) => next(&state).await,
        (Method::POST, ["invocation", id, kind @ ("response" | "error")]) => {
            let Ok(body) = read_capped(req.into_body()).await else {
                return Ok(reply(
                    StatusCode::BAD_REQUEST,
                    r#"{"errorMessage":"bad body"}"#,
                ));
            };
            let waiting = state.in_flight.lock().expect("not poisoned").remove(*id);
            match waiting {
                Some(tx) if body.is_none() => {
                    let _ = tx.send(Outcome::Error(Bytes::from_static(TOO_LARGE.as_bytes())));
                    reply(StatusCode::PAYLOAD_TOO_LARGE, TOO_LARGE)
                }
                Some(tx) => {
                    let body = body.unwrap_or_default();
                    let outcome = if *kind == "response" {
                        Outcome::Response(body)
                    } else {
                        Outcome::Error(body)
                    };
                    let _ = tx.send(outcome);
                    reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
                }
                None => reply(
                    StatusCode::BAD_REQUEST,
                    r#"{"errorMessage":"unknown or already answered request id","errorType":"InvalidRequestID"}"#,
                ),
            }
        }
        (Method::POST, ["init", "error"]) => {
            let body = req.into_body().collect().await.map(|b| b.to_bytes());
            let text = body
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            *state.init_error.lock().expect("not poisoned") = Some(text);
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        _ => reply(StatusCode::NOT_FOUND, r#"{"errorMessage":"not found"}"#),
    })
}

/// The body, or `None` if it is over [`RESPONSE_LIMIT`]: then read to its end and dropped, so
/// the runtime gets its 413 on a connection it can go on using, as on Lambda.
async fn read_capped(mut body: Incoming) -> Result<Option<Bytes>, hyper::Error> {
    // Chunks kept as they come: a body in one chunk (most) is not copied.
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut length = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            length += data.len();
            if length <= RESPONSE_LIMIT {
                chunks.push(data);
            }
        }
    }
    Ok((length <= RESPONSE_LIMIT).then(|| match chunks.len() {
        1 => chunks.pop().unwrap_or_default(),
        _ => Bytes::from(chunks.concat()),
    }))
}

async fn next(state: &State) -> Response<Full<Bytes>> {
    if let Some(tx) = state.first_poll.lock().expect("not poisoned").take() {
        let _ = tx.send(());
    }
    let invocation = state.queue.lock().await.recv().await;
    let Some(invocation) = invocation else {
        // The gateway is discarding this process; it will be killed.
        return reply(StatusCode::GONE, r#"{"errorMessage":"shutting down"}"#);
    };
    let deadline_ms = ids::now_ms() + invocation.timeout.as_millis() as u64;
    state
        .in_flight
        .lock()
        .expect("not poisoned")
        .insert(invocation.request_id.clone(), invocation.reply);
    let _ = invocation.delivered.send(());
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &invocation.request_id)
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header("lambda-runtime-invoked-function-arn", &state.function_arn)
        .header("lambda-runtime-trace-id", &invocation.trace_id)
        .body(Full::new(invocation.event))
        .expect("valid response")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One HTTP/1.1 exchange; returns the status line, lower-cased head and body.
    async fn exchange(
        addr: SocketAddr,
        method: &str,
        path: &str,
        body: &str,
    ) -> (String, String, String) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let (status, head) = head.split_once("\r\n").unwrap();
        (
            status.to_owned(),
            head.to_ascii_lowercase(),
            body.to_owned(),
        )
    }

    #[tokio::test]
    async fn serves_the_lambda_runtime_api_contract() {
        let (tx, rx) = mpsc::channel(1);
        let mut api = RuntimeApi::start("arn:aws:lambda:us-east-1:000000000000:function:f", rx)
            .await
            .unwrap();
        let (reply_tx, reply_rx) = oneshot::channel();
        let (delivered_tx, delivered_rx) = oneshot::channel();
        tx.send(Invocation {
            request_id: "req-1".into(),
            event: Bytes::from_static(br#"{"hello":1}"#),
            timeout: Duration::from_secs(3),
            trace_id: "Root=1-abc".into(),
            reply: reply_tx,
            delivered: delivered_tx,
        })
        .await
        .unwrap();

        let (status, head, body) =
            exchange(api.addr(), "GET", "/2018-06-01/runtime/invocation/next", "").await;
        assert!(status.contains("200"), "{status}");
        assert_eq!(body, r#"{"hello":1}"#);
        for header in [
            "lambda-runtime-aws-request-id: req-1",
            "lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:f",
            "lambda-runtime-trace-id: root=1-abc",
        ] {
            assert!(head.contains(header), "{header} missing from {head}");
        }
        assert!(api.first_poll.take().unwrap().await.is_ok());
        assert!(delivered_rx.await.is_ok());
        let deadline: u64 = head
            .lines()
            .find_map(|l| l.strip_prefix("lambda-runtime-deadline-ms: "))
            .expect("a deadline header")
            .parse()
            .unwrap();
        let now = ids::now_ms();
        assert!(
            deadline > now && deadline <= now + 3000,
            "deadline {deadline}, now {now}"
        );

        let (status, _, _) = exchange(
            api.addr(),
            "POST",
            "/2018-06-01/runtime/invocation/req-1/response",
            "done",
        )
        .await;
        assert!(status.contains("202"), "{status}");
        match reply_rx.await.unwrap() {
            Outcome::Response(body) => assert_eq!(&body[..], b"done"),
            other => panic!("{other:?}"),
        }
        // Answering twice, or an unknown id, is refused.
        let (status, _, _) = exchange(
            api.addr(),
            "POST",
            "/2018-06-01/runtime/invocation/req-1/error",
            "{}",
        )
        .await;
        assert!(status.contains("400"), "{status}");

        let (status, _, _) = exchange(
            api.addr(),
            "POST",
            "/2018-06-01/runtime/init/error",
            r#"{"errorMessage":"boom"}"#,
        )
        .await;
        assert!(status.contains("202"), "{status}");
        assert!(
            api.init_error
                .lock()
                .unwrap()
                .as_deref()
                .unwrap()
                .contains("boom")
        );
    }

    #[tokio::test]
    async fn function_errors_are_passed_back() {
        let (tx, rx) = mpsc::channel(1);
        let api = RuntimeApi::start("arn", rx).await.unwrap();
        let (reply_tx, reply_rx) = oneshot::channel();
        let (delivered, _) = oneshot::channel();
        tx.send(Invocation {
            request_id: "req-2".into(),
            event: Bytes::from_static(b"{}"),
            timeout: Duration::from_secs(1),
            trace_id: String::new(),
            reply: reply_tx,
            delivered,
        })
        .await
        .unwrap();
        exchange(api.addr(), "GET", "/2018-06-01/runtime/invocation/next", "").await;
        exchange(
            api.addr(),
            "POST",
            "/2018-06-01/runtime/invocation/req-2/error",
            r#"{"errorType":"E"}"#,
        )
        .await;
        match reply_rx.await.unwrap() {
            Outcome::Error(body) => assert_eq!(&body[..], br#"{"errorType":"E"}"#),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_private_one_answers_only_under_its_prefix() {
        let (tx, rx) = mpsc::channel(1);
        let api = RuntimeApi::start_private("arn", rx).await.unwrap();
        let endpoint = api.endpoint();
        let prefix = endpoint
            .strip_prefix(&format!("http://{}", api.addr()))
            .unwrap()
            .to_owned();
        assert_eq!(prefix.len(), 33, "{endpoint}");
        let (reply, _) = oneshot::channel();
        let (delivered, _) = oneshot::channel();
        tx.send(Invocation {
            request_id: "req-3".into(),
            event: Bytes::from_static(b"{}"),
            timeout: Duration::from_secs(1),
            trace_id: String::new(),
            reply,
            delivered,
        })
        .await
        .unwrap();
        let (status, _, _) =
            exchange(api.addr(), "GET", "/2018-06-01/runtime/invocation/next", "").await;
        assert!(status.contains("404"), "{status}");
        let (status, _, body) = exchange(
            api.addr(),
            "GET",
            &format!("{prefix}/2018-06-01/runtime/invocation/next"),
            "",
        )
        .await;
        assert!(status.contains("200"), "{status}");
        assert_eq!(body, "{}");
    }
}
