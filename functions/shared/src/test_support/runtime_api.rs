//! Runs a function's real binary for a few invocations, through the Lambda Runtime API host
//! of the local gateway (`gateway::runtime`): the host `cargo xtask dev` runs the functions
//! on, so these tests exercise the same contract. This module only queues the events and
//! records what the function posts back.

use std::process::Stdio;
use std::time::Duration;

use gateway::runtime::{self, Bytes, Invocation};
use tokio::sync::{mpsc, oneshot};

/// The function the binary is told it runs as.
const FUNCTION_ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:wsecho-test";
/// Each invocation's deadline, from when the binary takes it.
const TIMEOUT: Duration = Duration::from_secs(30);
/// What Lambda passes in `Lambda-Runtime-Trace-Id` (X-Ray is off: not sampled).
const TRACE_ID: &str = "Root=1-6743a1b0-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=0";

/// What the function posted for one invocation.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub request_id: String,
    /// `response` or `error`.
    pub kind: String,
    pub body: Vec<u8>,
}

/// A Runtime API with events queued for the binary; it stops when dropped.
pub struct RuntimeApi {
    host: runtime::RuntimeApi,
    /// Kept open: once the events are taken, the binary's next poll waits, as it does on
    /// Lambda between invocations.
    _queue: mpsc::Sender<Invocation>,
    /// Request ID and the answer to come, for each event.
    answers: Vec<(String, oneshot::Receiver<runtime::Outcome>)>,
}

impl RuntimeApi {
    /// Starts a Runtime API that hands out `events` (JSON texts) in order, as request IDs
    /// `invocation-0`, `invocation-1`, ...
    pub async fn start(events: Vec<String>) -> Self {
        let (queue, invocations) = mpsc::channel(events.len().max(1));
        let host = runtime::RuntimeApi::start(FUNCTION_ARN, invocations)
            .await
            .expect("start the Runtime API on 127.0.0.1");
        let mut answers = Vec::new();
        for (index, event) in events.into_iter().enumerate() {
            let request_id = format!("invocation-{index}");
            let (reply, answer) = oneshot::channel();
            let (delivered, _) = oneshot::channel();
            queue
                .try_send(Invocation {
                    request_id: request_id.clone(),
                    event: Bytes::from(event),
                    timeout: TIMEOUT,
                    trace_id: TRACE_ID.to_owned(),
                    reply,
                    delivered,
                })
                .expect("the queue has room for every event");
            answers.push((request_id, answer));
        }
        Self {
            host,
            _queue: queue,
            answers,
        }
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API` (host:port, no scheme).
    pub fn address(&self) -> String {
        self.host.addr().to_string()
    }

    /// Waits for the function's answer to every event, in order.
    pub async fn outcomes(&mut self) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        for (request_id, answer) in std::mem::take(&mut self.answers) {
            let (kind, body) = match answer.await {
                Ok(runtime::Outcome::Response(body)) => ("response", body),
                Ok(runtime::Outcome::Error(body)) => ("error", body),
                Err(_) => panic!("the Runtime API stopped before {request_id} was answered"),
            };
            outcomes.push(Outcome {
                request_id,
                kind: kind.to_owned(),
                body: body.to_vec(),
            });
        }
        outcomes
    }
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
/// as many outcomes, then stops it and collects its logs. Panics if the binary exits first.
pub async fn run_binary(path: &str, environment: &[(String, String)], events: Vec<String>) -> Run {
    let mut runtime = RuntimeApi::start(events).await;
    let mut child = command(path, &runtime, environment)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("start {path}: {error}"));
    // A binary that stops before answering (a start-up error) fails the test at once.
    let outcomes = tokio::select! {
        outcomes = runtime.outcomes() => outcomes,
        status = child.wait() => match status {
            Ok(status) => panic!("{path} stopped ({status}) before answering every event"),
            Err(error) => panic!("cannot wait for {path}: {error}"),
        },
    };
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
