//! A minimal Lambda Runtime API on 127.0.0.1, enough to run a function's real binary for a few
//! invocations: it hands out the queued events on `/invocation/next` and records what the
//! function posts back. (The full host, with scaling and restarts, is xtask's local gateway.)

use super::endpoint::{read_request, reason};
use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// What the function posted for one invocation.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub request_id: String,
    /// `response` or `error`.
    pub kind: String,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct State {
    events: VecDeque<(String, String)>,
    outcomes: Vec<Outcome>,
}

/// The server; it stops when dropped.
pub struct RuntimeApi {
    port: u16,
    state: Arc<Mutex<State>>,
    posted: Arc<Notify>,
    task: JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts a Runtime API that will hand out `events` (JSON texts) in order.
    pub async fn start(events: Vec<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(Mutex::new(State {
            events: events
                .into_iter()
                .enumerate()
                .map(|(index, event)| (format!("invocation-{index}"), event))
                .collect(),
            outcomes: Vec::new(),
        }));
        let posted = Arc::new(Notify::new());
        let task = tokio::spawn(serve(listener, state.clone(), posted.clone()));
        Self {
            port,
            state,
            posted,
            task,
        }
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API` (host:port, no scheme).
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Waits until the function has posted `count` outcomes, and returns them.
    pub async fn outcomes(&self, count: usize) -> Vec<Outcome> {
        loop {
            let notified = self.posted.notified();
            {
                let state = self.state.lock().expect("state lock");
                if state.outcomes.len() >= count {
                    return state.outcomes.clone();
                }
            }
            notified.await;
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>, posted: Arc<Notify>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(handle(stream, state.clone(), posted.clone()));
    }
}

const PREFIX: &str = "/2018-06-01/runtime/";

async fn handle(mut stream: TcpStream, state: Arc<Mutex<State>>, posted: Arc<Notify>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let route = request.path.strip_prefix(PREFIX).unwrap_or_default();
    if request.method == "GET" && route == "invocation/next" {
        let next = state.lock().expect("state lock").events.pop_front();
        let Some((request_id, event)) = next else {
            // No more events: hold the poll open, as Lambda does between invocations.
            std::future::pending::<()>().await;
            return;
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|now| now.as_millis() + 30_000)
            .unwrap_or_default();
        let headers = [
            ("lambda-runtime-aws-request-id", request_id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:eu-west-1:123456789012:function:wsecho-test".to_owned(),
            ),
            ("content-type", "application/json".to_owned()),
        ];
        respond(&mut stream, 200, &headers, event.as_bytes()).await;
        return;
    }
    let outcome = route
        .strip_prefix("invocation/")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(_, kind)| *kind == "response" || *kind == "error");
    match (request.method.as_str(), outcome) {
        ("POST", Some((request_id, kind))) => {
            state.lock().expect("state lock").outcomes.push(Outcome {
                request_id: request_id.to_owned(),
                kind: kind.to_owned(),
                body: request.body,
            });
            posted.notify_waiters();
            respond(&mut stream, 202, &[], br#"{"status":"OK"}"#).await;
        }
        _ => respond(&mut stream, 404, &[], b"").await,
    }
}

async fn respond(stream: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-length: {}\r\nconnection: close\r\n",
        reason(status),
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

/// The environment Lambda gives every function, pointing at `runtime`.
pub fn lambda_environment(runtime: &RuntimeApi) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", "wsecho-test".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/wsecho-test".to_owned(),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/24/[$LATEST]test".to_owned(),
        ),
        ("AWS_REGION", "eu-west-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIDWSECHOTEST".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "wsecho-test-secret".to_owned()),
        ("AWS_SESSION_TOKEN", "wsecho-test-session".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// A command running the function binary at `path` against `runtime`, with the Lambda
/// environment plus `environment` (later entries win; an empty value counts as unset for the
/// functions' settings) and nothing else.
pub fn command(
    path: &str,
    runtime: &RuntimeApi,
    environment: &[(String, String)],
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(path);
    command
        .env_clear()
        .envs(
            lambda_environment(runtime)
                .into_iter()
                .chain(environment.iter().cloned()),
        )
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    command
}

/// What a binary run produced.
pub struct Run {
    pub outcomes: Vec<Outcome>,
    /// stdout, one JSON log object per line.
    pub logs: Vec<serde_json::Value>,
}

/// Runs the function binary at `path` with only `environment`, feeds it `events`, waits for
/// as many outcomes, then stops it and collects its logs.
pub async fn run_binary(path: &str, environment: &[(String, String)], events: Vec<String>) -> Run {
    let count = events.len();
    let runtime = RuntimeApi::start(events).await;
    let mut child = command(path, &runtime, environment)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("start {path}: {error}"));
    let outcomes = runtime.outcomes(count).await;
    child.start_kill().expect("stop the function");
    let output = child.wait_with_output().await.expect("collect the output");
    let logs = String::from_utf8(output.stdout)
        .expect("stdout is UTF-8")
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("log line {line:?} is not JSON: {error}"))
        })
        .collect();
    Run { outcomes, logs }
}
