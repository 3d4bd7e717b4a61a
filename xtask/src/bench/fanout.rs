//! Broadcast fan-out through the chat's real functions: `cargo xtask dev --app chat` (its
//! table and key in the local moto server), [`CLIENTS`] clients connected with a token from
//! `cargo xtask token`, one `sendmessage` per round, timed until the last client has it.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::future::try_join_all;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::Ctx;
use super::children::{Guard, child_pids, cpu_seconds};
use super::figures::Unit;
use super::report::{Section, Table, ms_cells};
use super::stats::Samples;
use super::wsload::{self, Ws};
use crate::process::Cmd;

/// Recipients of every broadcast, the sender among them.
const CLIENTS: usize = 100;
/// Longest wait for one broadcast to reach everyone.
const ROUND: Duration = Duration::from_secs(30);

pub fn run(ctx: &mut Ctx) -> Result<Section> {
    let rounds = ctx.reps(30, 20);
    let log = ctx.work.join("fanout.log");
    let mut command = Command::new(&ctx.xtask);
    // The functions as deploys build them: the figures are about the broadcast, not about
    // the quick local build.
    command.args(["dev", "--app", "chat", "--port", "0", "--release"]);
    let mut dev = Guard::spawn(
        "the chat (`cargo xtask dev --app chat --port 0 --release`)",
        command,
        &log,
    )?;
    let line = dev.wait_for_line("ws://", Duration::from_secs(1800), &log)?;
    let url = wsload::url_in(&line)?;
    let token = Cmd::new(&ctx.xtask)
        .args(["token", "--app", "chat", "--user", "bench"])
        .read()
        .context("`cargo xtask token` for the running chat")?;
    let url = format!("{url}?token={}", token.trim());
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let measured = runtime.block_on(measure(&url, dev.pid(), rounds));
    dev.interrupt(Duration::from_secs(30))?;
    let measured = measured.with_context(|| format!("the chat's log: {}", log.display()))?;
    Ok(section(rounds, &measured))
}

struct Measured {
    /// From the send to the last recipient's delivery, per round.
    last: Samples,
    /// From the send to the first recipient's delivery, per round.
    first: Samples,
    /// CPU per delivered message, in ms: the gateway, the functions and moto; the clients.
    server_cpu_ms: f64,
    clients_cpu_ms: f64,
}

async fn measure(url: &str, pid: u32, rounds: usize) -> Result<Measured> {
    eprintln!("[bench] fan-out: connecting {CLIENTS} clients");
    let mut clients = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        clients.push(wsload::connect(url).await?);
    }
    // Unmeasured: the first broadcasts start the function processes.
    for n in 0..2 {
        broadcast(&mut clients, &format!("warm-up {n}")).await?;
    }
    eprintln!("[bench] fan-out: {rounds} broadcasts to {CLIENTS} clients");
    let cpu_before = tree_cpu(pid);
    let clients_before = cpu_seconds(std::process::id()).unwrap_or(0.0);
    let mut last = Vec::new();
    let mut first = Vec::new();
    for round in 0..rounds {
        let (earliest, latest) = broadcast(&mut clients, &format!("round {round}")).await?;
        first.push(earliest);
        last.push(latest);
    }
    let delivered = (rounds * CLIENTS) as f64;
    let server = tree_cpu(pid).since(&cpu_before);
    let clients_cpu = cpu_seconds(std::process::id()).unwrap_or(0.0) - clients_before;
    for client in &mut clients {
        let _ = client.close(None).await;
    }
    Ok(Measured {
        last: Samples::from_durations(&last).context("no rounds")?,
        first: Samples::from_durations(&first).context("no rounds")?,
        server_cpu_ms: server * 1000.0 / delivered,
        clients_cpu_ms: clients_cpu * 1000.0 / delivered,
    })
}

/// Client 0 sends `text`; returns when the first and the last client received it.
async fn broadcast(clients: &mut [Ws], text: &str) -> Result<(Duration, Duration)> {
    let started = Instant::now();
    clients[0]
        .send(Message::text(
            json!({"action": "sendmessage", "message": text}).to_string(),
        ))
        .await
        .context("the sender's connection failed")?;
    let arrivals = try_join_all(
        clients
            .iter_mut()
            .enumerate()
            .map(|(i, client)| async move {
                tokio::time::timeout(ROUND, receive(client, text))
                    .await
                    .with_context(|| {
                        format!("client {i} did not get `{text}` within {ROUND:?}")
                    })??;
                anyhow::Ok(started.elapsed())
            }),
    )
    .await?;
    let earliest = arrivals.iter().min().copied().unwrap_or_default();
    let latest = arrivals.iter().max().copied().unwrap_or_default();
    Ok((earliest, latest))
}

/// Reads until the broadcast of `text` arrives (earlier rounds' stragglers are skipped).
async fn receive(client: &mut Ws, text: &str) -> Result<()> {
    loop {
        match client.next().await {
            Some(Ok(Message::Text(frame))) => {
                let message: Value = serde_json::from_str(&frame).context("a non-JSON message")?;
                if message.get("error").is_some() {
                    bail!("the chat answered with an error: {message}");
                }
                if message["message"] == text {
                    if message["from"] != "bench" {
                        bail!("the broadcast names the wrong sender: {message}");
                    }
                    return Ok(());
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e).context("a client's connection failed"),
            None => bail!("the gateway closed a client's connection"),
        }
    }
}

/// CPU seconds of a process and its descendants (the gateway: the functions and moto).
struct TreeCpu(Vec<(u32, f64)>);

fn tree_cpu(pid: u32) -> TreeCpu {
    let mut all = Vec::new();
    let mut queue = vec![pid];
    while let Some(next) = queue.pop() {
        if let Some(seconds) = cpu_seconds(next) {
            all.push((next, seconds));
        }
        queue.extend(child_pids(next));
    }
    TreeCpu(all)
}

impl TreeCpu {
    /// Processes started since `before` count from zero.
    fn since(&self, before: &TreeCpu) -> f64 {
        self.0
            .iter()
            .map(|(pid, now)| {
                let then = before.0.iter().find(|(p, _)| p == pid);
                now - then.map_or(0.0, |(_, t)| *t)
            })
            .sum()
    }
}

fn section(rounds: usize, measured: &Measured) -> Section {
    let mut section = Section::new(
        "Broadcast fan-out",
        &format!(
            "`cargo xtask dev --app chat --port 0 --release` (the chat's real functions as \
             deploys build them; its connections table and signing key in the pinned moto \
             server the gateway starts), {CLIENTS} clients connected with a token from `cargo \
             xtask token` (each through the authorizer and `chat-connect`, which stores it in \
             the table). Per round one client sends a `sendmessage`; `chat-send` reads the \
             table and posts to all {CLIENTS} (the sender included) through the gateway's \
             `@connections`; the round is timed from the send until the last (and the first) \
             client has the message. {rounds} rounds after 2 unmeasured ones. CPU: the \
             gateway, its function processes and moto over all rounds, per delivered \
             message; the clients' separately."
        ),
    );
    section.summary("fanout.last_delivery", &measured.last, Unit::Ms, true);
    section.summary("fanout.first_delivery", &measured.first, Unit::Ms, false);
    section.figure(
        "fanout.server_cpu_per_delivery_ms",
        measured.server_cpu_ms,
        Unit::Ms,
    );
    section.figure(
        "fanout.clients_cpu_per_delivery_ms",
        measured.clients_cpu_ms,
        Unit::Ms,
    );
    let mut table = Table::new(&["one sendmessage to 100 clients", "min", "median", "max"]);
    let mut row = vec!["until the last has it".to_owned()];
    row.extend(ms_cells(&measured.last));
    table.row(row);
    let mut row = vec!["until the first has it".to_owned()];
    row.extend(ms_cells(&measured.first));
    table.row(row);
    section.tables.push(table);
    section.notes.push(format!(
        "p99 until the last has it: {:.1} ms. CPU per delivered message: {:.3} ms in the \
         gateway, the functions and moto; {:.3} ms in the clients.",
        measured.last.percentile(99.0),
        measured.server_cpu_ms,
        measured.clients_cpu_ms
    ));
    section
}
