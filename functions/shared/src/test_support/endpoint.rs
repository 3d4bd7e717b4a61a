//! A real HTTP/1.1 server on 127.0.0.1 standing in for the management endpoint: it records
//! each request and answers from a script. Connections are kept alive, and counted, so tests
//! can tell a reused client (one connection) from one built per invocation.
//!
//! Hand-written on tokio's TCP rather than on hyper's server, so
//! that the tests don't turn on hyper features the functions don't use (which would build
//! hyper and the AWS SDK a second time).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The request target as sent (still percent-encoded).
    pub path: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// An answer to give: status, extra headers, body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// What API Gateway answers to a successful PostToConnection.
    pub fn ok() -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// An AWS error the way API Gateway sends it (`x-amzn-ErrorType` and a JSON body).
    pub fn aws_error(status: u16, error_type: &str) -> Self {
        Self {
            status,
            headers: vec![("x-amzn-ErrorType".to_owned(), error_type.to_owned())],
            body: r#"{"message":null}"#.to_owned(),
        }
    }

    /// A bare status with no error type, as a minimal emulator might send.
    pub fn bare(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }
}

struct State {
    connections: usize,
    recorded: Vec<Recorded>,
    /// Answers by request target, before the script.
    routes: Vec<(String, Answer)>,
    script: VecDeque<Answer>,
    fallback: Answer,
}

/// The server; it stops when dropped.
pub struct Endpoint {
    port: u16,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Endpoint {
    /// Starts a server answering `script` in order, then `fallback` to every further request.
    pub async fn start(script: Vec<Answer>, fallback: Answer) -> Self {
        Self::start_routed(Vec::new(), script, fallback).await
    }

    /// Starts a server answering a request for one of `routes`' targets (as sent, e.g.
    /// `/dev/@connections/abc%3D`) with that route's answer, whatever the order of requests
    /// (a broadcast posts concurrently); other requests as [`Endpoint::start`] does.
    pub async fn start_routed(
        routes: Vec<(String, Answer)>,
        script: Vec<Answer>,
        fallback: Answer,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(Mutex::new(State {
            connections: 0,
            recorded: Vec::new(),
            routes,
            script: script.into(),
            fallback,
        }));
        let task = tokio::spawn(serve(listener, state.clone()));
        Self { port, state, task }
    }

    /// The management endpoint URL for `stage` (what `WSECHO_MANAGEMENT_ENDPOINT` holds).
    pub fn url(&self, stage: &str) -> String {
        format!("http://127.0.0.1:{}/{stage}", self.port)
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.state.lock().expect("state lock").recorded.clone()
    }

    /// How many TCP connections clients opened.
    pub fn connections(&self) -> usize {
        self.state.lock().expect("state lock").connections
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(handle(stream, state.clone()));
    }
}

async fn handle(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    state.lock().expect("state lock").connections += 1;
    // Requests one after another on the connection, until the client closes it.
    while let Some(request) = read_request(&mut stream).await {
        let answer = {
            let mut state = state.lock().expect("state lock");
            let routed = state
                .routes
                .iter()
                .find(|(target, _)| *target == request.path)
                .map(|(_, answer)| answer.clone());
            state.recorded.push(request);
            let fallback = state.fallback.clone();
            routed.unwrap_or_else(|| state.script.pop_front().unwrap_or(fallback))
        };
        let mut head = format!(
            "HTTP/1.1 {} {}\r\ncontent-length: {}\r\n",
            answer.status,
            reason(answer.status),
            answer.body.len()
        );
        if !answer.body.is_empty() {
            head.push_str("content-type: application/json\r\n");
        }
        for (name, value) in &answer.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let written = stream.write_all(head.as_bytes()).await;
        if written.is_err() || stream.write_all(answer.body.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Reads one request with a `content-length` body; `None` if the client went away or sent
/// something this server doesn't handle (the test then sees no recorded request).
async fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 || buffer.len() > 64 * 1024 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = std::str::from_utf8(&buffer[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map_or(Some(0), |(_, value)| value.parse().ok())?;
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    body.truncate(length);
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        403 => "Forbidden",
        410 => "Gone",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Status",
    }
}
