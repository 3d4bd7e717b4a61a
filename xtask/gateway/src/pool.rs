//! Runs one function's binary as Lambda would: one invocation per process at a time, a new
//! process when all are busy (up to a concurrency limit), a crashed or timed-out process
//! discarded (the next invocation starts a fresh one), the template's Timeout enforced.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use crate::ids;
use crate::log::log;
use crate::runtime::{Invocation, Outcome, RuntimeApi};
use crate::template::FunctionSpec;
use crate::watchdog;

/// Lambda gives a runtime 10 s to initialise before its first invocation.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// A function's output line longer than this is cut (with a marker saying how much): the
/// log is read by a person, and a line never holds more memory than this.
const LINE_LIMIT: usize = 16 * 1024;

/// Invocations that may wait for a free instance, per instance the function may have: more
/// are throttled at once, so a flood holds no unbounded backlog of events.
const WAITING_PER_INSTANCE: usize = 100;

/// Why an invocation produced no response: API Gateway answers all of these with
/// "Internal server error".
#[derive(Debug)]
pub(crate) enum Failure {
    Function(String),
    Crashed(String),
    Timeout(Duration),
    /// The process did not ask the Runtime API for the invocation within Lambda's init limit
    /// (a cold start), or since its last answer.
    InitTimeout {
        cold: bool,
    },
    /// API Gateway stopped waiting (the integration timeout); the function runs on.
    IntegrationTimeout(Duration),
    Spawn(String),
    /// Too many invocations wait for a free instance already (see [`WAITING_PER_INSTANCE`]).
    Throttled(usize),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Function(body) => write!(f, "function error {body}"),
            Failure::Crashed(status) => write!(f, "process exited: {status}"),
            Failure::Timeout(limit) => write!(f, "timed out after {} s", limit.as_secs_f32()),
            Failure::InitTimeout { cold: true } => write!(
                f,
                "init timed out: the process did not ask the Runtime API for an invocation (GET …/invocation/next) within Lambda's {} s init limit; does its main call lambda_runtime::run?",
                INIT_TIMEOUT.as_secs()
            ),
            Failure::InitTimeout { cold: false } => write!(
                f,
                "the process did not ask the Runtime API for its next invocation within {} s of its last answer",
                INIT_TIMEOUT.as_secs()
            ),
            Failure::IntegrationTimeout(limit) => write!(
                f,
                "integration timed out after {} s (the function runs on)",
                limit.as_secs_f32()
            ),
            Failure::Spawn(why) => write!(f, "cannot start the function: {why}"),
            Failure::Throttled(waiting) => write!(
                f,
                "throttled: {waiting} invocations already wait for a free instance (Lambda's TooManyRequestsException)"
            ),
        }
    }
}

pub(crate) struct Pool {
    pub(crate) spec: FunctionSpec,
    bootstrap: PathBuf,
    environment: BTreeMap<String, String>,
    idle: Mutex<Vec<Instance>>,
    permits: Semaphore,
    /// Invocations waiting for a permit, at most `max_waiting`.
    waiting: AtomicUsize,
    max_waiting: usize,
    next_instance: AtomicU64,
    /// Replaced by a reload: processes stop once their invocation ends. Read and written with
    /// `idle` locked, so no process goes back to an idle list that was already emptied.
    retired: AtomicBool,
}

/// A running process, its Runtime API and the sender that feeds it. Dropping it stops the
/// Runtime API and kills the process.
struct Instance {
    number: u64,
    _runtime_api: RuntimeApi,
    invocations: mpsc::Sender<Invocation>,
    exited: watch::Receiver<Option<String>>,
    _kill: oneshot::Sender<()>,
}

impl Instance {
    fn has_exited(&self) -> bool {
        self.exited.borrow().is_some()
    }
}

impl Pool {
    pub(crate) fn new(
        spec: FunctionSpec,
        bootstrap: PathBuf,
        environment: BTreeMap<String, String>,
        max_concurrency: usize,
    ) -> Pool {
        Pool {
            spec,
            bootstrap,
            environment,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max_concurrency.max(1)),
            waiting: AtomicUsize::new(0),
            max_waiting: max_concurrency.max(1) * WAITING_PER_INSTANCE,
            next_instance: AtomicU64::new(1),
            retired: AtomicBool::new(false),
        }
    }

    /// A reload replaced this pool: idle processes stop now, busy ones when their invocation
    /// ends (its caller still gets the answer). An invocation that starts later still runs.
    pub(crate) fn retire(&self) {
        let stopped = {
            let mut idle = self.idle.lock().expect("not poisoned");
            self.retired.store(true, Ordering::Relaxed);
            std::mem::take(&mut *idle).len()
        };
        log!(
            self.spec.label(),
            "replaced by a reload: {stopped} idle instance(s) stopped, busy ones stop when done"
        );
    }

    /// Kills every idle process (busy ones die when their invocation ends and the pool is gone).
    pub(crate) fn shutdown(&self) {
        self.permits.close();
        self.idle.lock().expect("not poisoned").clear();
    }

    /// Invokes the function with an event; returns the response payload. An invocation still
    /// waiting for a free instance at `start_by` (the caller's integration timeout) is dropped,
    /// never run after its caller stopped waiting.
    pub(crate) async fn invoke(
        &self,
        event: Bytes,
        start_by: tokio::time::Instant,
    ) -> Result<Bytes, Failure> {
        let shutting_down = || Failure::Spawn("the gateway is shutting down".into());
        let _permit = match self.permits.try_acquire() {
            Ok(permit) => permit,
            Err(tokio::sync::TryAcquireError::Closed) => return Err(shutting_down()),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                let waiting = self.waiting.fetch_add(1, Ordering::AcqRel);
                let _waiting = Waiting(&self.waiting);
                if waiting >= self.max_waiting {
                    log!(
                        self.spec.label(),
                        "an invocation throttled: {waiting} already wait for a free instance"
                    );
                    return Err(Failure::Throttled(waiting));
                }
                match tokio::time::timeout_at(start_by, self.permits.acquire()).await {
                    Ok(permit) => permit.map_err(|_| shutting_down())?,
                    Err(_) => {
                        log!(
                            self.spec.label(),
                            "an invocation waited for a free instance past its integration timeout: dropped, not run"
                        );
                        return Err(Failure::IntegrationTimeout(Duration::ZERO));
                    }
                }
            }
        };
        let warm = loop {
            let candidate = self.idle.lock().expect("not poisoned").pop();
            match candidate {
                Some(instance) if instance.has_exited() => continue,
                other => break other,
            }
        };
        let (instance, cold) = match warm {
            Some(instance) => (instance, false),
            None => (self.spawn().await?, true),
        };
        let name = self.spec.label();
        let (reply_tx, reply_rx) = oneshot::channel();
        let (delivered_tx, delivered_rx) = oneshot::channel();
        let invocation = Invocation {
            request_id: ids::uuid(),
            event,
            timeout: self.spec.timeout,
            trace_id: ids::trace_id(),
            reply: reply_tx,
            delivered: delivered_tx,
        };
        if instance.invocations.send(invocation).await.is_err() {
            return Err(Failure::Crashed("runtime API closed".into()));
        }
        let result = self.outcome(&instance, cold, delivered_rx, reply_rx).await;
        match &result {
            Ok(_) | Err(Failure::Function(_)) => {
                let mut idle = self.idle.lock().expect("not poisoned");
                if self.retired.load(Ordering::Relaxed) {
                    drop(idle);
                    log!(
                        name,
                        "instance {} stopped: its function was replaced by a reload",
                        instance.number
                    );
                    drop(instance);
                } else {
                    idle.push(instance);
                }
            }
            Err(failure) => {
                log!(
                    name,
                    "instance {} discarded ({failure}); the next invocation starts a new process",
                    instance.number
                );
                drop(instance);
            }
        }
        result
    }

    /// Waits for the process to take the invocation (a cold one first initialises, within
    /// Lambda's 10 s init limit), then for its answer within the template's Timeout, which
    /// like Lambda's counts from the hand-over.
    async fn outcome(
        &self,
        instance: &Instance,
        cold: bool,
        delivered: oneshot::Receiver<()>,
        reply: oneshot::Receiver<Outcome>,
    ) -> Result<Bytes, Failure> {
        let exited = || {
            let mut exited = instance.exited.clone();
            async move {
                let status = exited.wait_for(Option::is_some).await;
                Failure::Crashed(
                    status
                        .map(|s| s.clone().unwrap_or_default())
                        .unwrap_or_default(),
                )
            }
        };
        tokio::select! {
            taken = delivered => {
                if taken.is_err() {
                    return Err(Failure::Crashed("runtime API closed".into()));
                }
            }
            failure = exited() => return Err(failure),
            () = tokio::time::sleep(INIT_TIMEOUT) => {
                return Err(Failure::InitTimeout { cold });
            }
        }
        tokio::select! {
            outcome = reply => match outcome {
                Ok(Outcome::Response(body)) => Ok(body),
                Ok(Outcome::Error(body)) => Err(Failure::Function(String::from_utf8_lossy(&body).into_owned())),
                Err(_) => Err(Failure::Crashed("runtime API closed".into())),
            },
            failure = exited() => Err(failure),
            () = tokio::time::sleep(self.spec.timeout) => Err(Failure::Timeout(self.spec.timeout)),
        }
    }

    async fn spawn(&self) -> Result<Instance, Failure> {
        let name = self.spec.label().to_owned();
        let number = self.next_instance.fetch_add(1, Ordering::Relaxed);
        let (queue_tx, queue_rx) = mpsc::channel(1);
        let mut api = RuntimeApi::start_private(self.spec.arn.clone(), queue_rx)
            .await
            .map_err(|e| Failure::Spawn(format!("cannot bind the Runtime API: {e}")))?;
        let task_root = self.bootstrap.parent().expect("bootstrap is in a folder");
        let mut command = Command::new(&self.bootstrap);
        command
            .env_clear()
            .envs(&self.environment)
            .env("AWS_LAMBDA_RUNTIME_API", api.endpoint())
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("local/[$LATEST]{number:032x}"),
            )
            .env("LAMBDA_TASK_ROOT", task_root)
            .current_dir(task_root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Out of the terminal's process group: Ctrl-C reaches the gateway only, which then
            // runs `$disconnect` for open connections before stopping the functions itself. If
            // the gateway dies first, the watchdog kills the group (and the process would exit
            // by itself once its Runtime API is gone).
            .process_group(0);
        let started = Instant::now();
        let mut attempt = 0;
        let mut child = loop {
            match command.spawn() {
                Ok(child) => break child,
                // "Text file busy": another thread forked while the binary was being written
                // (another gateway in this process unpacking it). It passes within moments.
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempt < 20 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => {
                    return Err(Failure::Spawn(format!(
                        "cannot run {}: {e}",
                        self.bootstrap.display()
                    )));
                }
            }
        };
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let name = name.clone();
            tokio::spawn(forward_output(stream, move |line| log!(&name, "{line}")));
        }
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let (exit_tx, exit_rx) = watch::channel(None);
        let init_error = api.init_error.clone();
        // Its own process group (`process_group(0)`): the group's id is its pid.
        let group = child
            .id()
            .and_then(|pid| rustix::process::Pid::from_raw(pid as i32));
        // Killed by the watchdog if the gateway dies before it (SIGKILL, a crash).
        let watched = child.id().map(watchdog::watch);
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
                _ = kill_rx => {
                    kill_group(group);
                    let _ = child.kill().await;
                    "killed".to_owned()
                }
            };
            // What it forked dies with it (a crashed process's children too).
            kill_group(group);
            drop(watched);
            let init = init_error.lock().expect("not poisoned").take();
            let status = match init {
                Some(init) => format!("{status} after an init error: {init}"),
                None => status,
            };
            let _ = exit_tx.send(Some(status));
        });
        if let Some(first_poll) = api.first_poll.take() {
            let name = name.clone();
            tokio::spawn(async move {
                if first_poll.await.is_ok() {
                    log!(
                        &name,
                        "instance {number} started in {} ms (spawn to first `next`)",
                        started.elapsed().as_millis()
                    );
                }
            });
        }
        Ok(Instance {
            number,
            _runtime_api: api,
            invocations: queue_tx,
            exited: exit_rx,
            _kill: kill_tx,
        })
    }
}

/// One invocation counted in [`Pool::waiting`] while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Kills a function's process group; an empty group is no error worth a line.
fn kill_group(group: Option<rustix::process::Pid>) {
    if let Some(group) = group {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
}

/// Hands each line of a function's stdout or stderr to `emit` until the process (and whatever
/// inherited the pipe) closes it: bytes, not text, so invalid UTF-8 is shown lossily rather
/// than ending the reading (a pipe nobody reads fails the function's next write); a line over
/// [`LINE_LIMIT`] is cut with a marker.
async fn forward_output(stream: impl AsyncRead + Unpin, mut emit: impl FnMut(String)) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    // Bytes of the current line beyond the limit, dropped.
    let mut cut = 0usize;
    let mut finish = |line: &mut Vec<u8>, cut: &mut usize| {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let mut text = String::from_utf8_lossy(line).into_owned();
        if *cut > 0 {
            text.push_str(&format!(" [… line cut: {cut} more bytes]"));
        }
        emit(text);
        line.clear();
        *cut = 0;
    };
    loop {
        let buffer = match reader.fill_buf().await {
            Ok(buffer) => buffer,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if buffer.is_empty() {
            break;
        }
        let newline = buffer.iter().position(|b| *b == b'\n');
        let chunk = &buffer[..newline.unwrap_or(buffer.len())];
        let room = LINE_LIMIT.saturating_sub(line.len()).min(chunk.len());
        line.extend_from_slice(&chunk[..room]);
        cut += chunk.len() - room;
        let consumed = newline.map_or(chunk.len(), |at| at + 1);
        reader.consume(consumed);
        if newline.is_some() {
            finish(&mut line, &mut cut);
        }
    }
    if !line.is_empty() || cut > 0 {
        finish(&mut line, &mut cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(output: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        forward_output(output, |line| lines.push(line)).await;
        lines
    }

    #[tokio::test]
    async fn output_is_read_as_bytes_and_long_lines_are_cut() {
        assert_eq!(
            lines_of(b"one\r\ninvalid \xff\xfe byte\n\nlast without newline").await,
            [
                "one",
                "invalid \u{fffd}\u{fffd} byte",
                "",
                "last without newline"
            ]
        );
        let mut long = vec![b'x'; LINE_LIMIT + 100];
        long.extend_from_slice(b"\nnext\n");
        let lines = lines_of(&long).await;
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            format!("{} [… line cut: 100 more bytes]", "x".repeat(LINE_LIMIT))
        );
        assert_eq!(lines[1], "next");
        assert!(lines_of(b"").await.is_empty());
    }
}
