//! The local gateway (`cargo xtask dev`, the real function binaries behind it) against the
//! floor, a bare tokio-tungstenite echo server: round trips with one client, throughput with
//! 50, and 1,000 idle connections held (resident memory of the server process).

use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Ctx;
use super::children::{Guard, child_pids, cpu_seconds, proc_status_bytes};
use super::figures::Unit;
use super::report::{Section, Table};
use super::stats::Samples;
use super::wsload;

const CLIENTS: usize = 50;
const IDLE: usize = 1000;

struct Measured {
    round_trips: Samples,
    throughput: Samples,
    rss_start: u64,
    cpu: CpuPerEcho,
    idle: Idle,
    flood: Flood,
}

/// Frames of the flood, more than a connection may have in hand at once, each of nearly API
/// Gateway's largest frame (32 KB: a larger one closes the connection with 1009).
const FLOOD_FRAMES: usize = 300;
const FLOOD_FRAME_BYTES: usize = 32_000;

/// The server's memory around a flood of [`FLOOD_FRAMES`] frames from one client.
#[derive(Debug, Clone, Copy)]
struct Flood {
    rss_before: u64,
    /// `VmHWM`: the most resident memory the process ever had.
    peak: u64,
    rss_after: u64,
    answers: usize,
}

pub fn run(ctx: &mut Ctx) -> Result<Section> {
    let exe = ctx.xtask.clone();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let (warmup, n) = (ctx.reps(200, 50), ctx.reps(2000, 500));
    let (rounds, per_client) = (ctx.reps(3, 1), ctx.reps(200, 40));
    let plan = Plan {
        warmup,
        n,
        rounds,
        per_client,
    };

    let floor = {
        let log = ctx.work.join("floor.log");
        let mut command = Command::new(&exe);
        command.args(["bench", "--floor-server"]);
        let mut server = Guard::spawn("the floor echo server", command, &log)?;
        let line = server.wait_for_line("ws://", Duration::from_secs(30), &log)?;
        measure(&runtime, &wsload::url_in(&line)?, server.pid(), &plan)?
    };
    // The same floor with a 4 KiB read buffer (tungstenite's advice for many connections):
    // how much of the idle memory is that buffer.
    let small_buffer = {
        let log = ctx.work.join("floor-4k.log");
        let mut command = Command::new(&exe);
        command.args(["bench", "--floor-server", "--floor-read-buffer", "4096"]);
        let mut server = Guard::spawn("the floor echo server (4 KiB)", command, &log)?;
        let line = server.wait_for_line("ws://", Duration::from_secs(30), &log)?;
        let url = wsload::url_in(&line)?;
        runtime.block_on(wsload::round_trips(&url, 0, 10))?;
        measure_idle(&runtime, &url, server.pid())?
    };

    // The functions as deploys build them (`--release`), then as `dev` runs them by default.
    let log = ctx.work.join("gateway.log");
    let gw = measure_dev(ctx, &runtime, &plan, &["--release"], &log)?;
    let local_log = ctx.work.join("gateway-local.log");
    let local = measure_dev(ctx, &runtime, &plan, &[], &local_log)?;

    Ok(section(ctx, &plan, &gw, &local, &floor, small_buffer, &log))
}

/// `cargo xtask dev --port 0 <extra>` measured.
fn measure_dev(
    ctx: &Ctx,
    runtime: &tokio::runtime::Runtime,
    plan: &Plan,
    extra: &[&str],
    log: &Path,
) -> Result<Measured> {
    let mut command = Command::new(&ctx.xtask);
    command.args(["dev", "--port", "0"]).args(extra);
    let mut gateway = Guard::spawn(
        &format!(
            "the local gateway (`cargo xtask dev --port 0 {}`)",
            extra.join(" ")
        ),
        command,
        log,
    )?;
    // `dev` synthesizes first, which builds the zips if they are stale.
    let line = gateway.wait_for_line("ws://", Duration::from_secs(900), log)?;
    let measured = measure(runtime, &wsload::url_in(&line)?, gateway.pid(), plan);
    gateway.interrupt(Duration::from_secs(30))?;
    measured.with_context(|| format!("the gateway's log: {}", log.display()))
}

struct Plan {
    warmup: usize,
    n: usize,
    rounds: usize,
    per_client: usize,
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    pid: u32,
    plan: &Plan,
) -> Result<Measured> {
    let rss_start = proc_status_bytes(pid, "VmRSS")?;
    eprintln!("[bench] {url}: {} round trips, one client", plan.n);
    let round_trips = runtime.block_on(wsload::round_trips(url, plan.warmup, plan.n))?;
    eprintln!(
        "[bench] {url}: {CLIENTS} clients × {} round trips, {} rounds",
        plan.per_client, plan.rounds
    );
    // A short unmeasured round: the gateway starts its function processes on demand.
    runtime.block_on(wsload::throughput(url, CLIENTS, 10))?;
    let mut rates = Vec::new();
    let cpu_before = Cpu::of(pid);
    let started = Instant::now();
    for _ in 0..plan.rounds {
        rates.push(runtime.block_on(wsload::throughput(url, CLIENTS, plan.per_client))?);
    }
    let echoes = (plan.rounds * CLIENTS * plan.per_client) as f64;
    let cpu = Cpu::of(pid).per_echo_since(&cpu_before, echoes, started.elapsed());
    // Before the idle connections: `VmHWM` is the peak of the whole run so far.
    let flood = measure_flood(runtime, url, pid)?;
    let idle = measure_idle(runtime, url, pid)?;
    Ok(Measured {
        round_trips: Samples::from_durations(&round_trips).context("no round trips")?,
        throughput: Samples::new(rates).context("no rounds")?,
        rss_start,
        cpu,
        idle,
        flood,
    })
}

fn measure_flood(runtime: &tokio::runtime::Runtime, url: &str, pid: u32) -> Result<Flood> {
    let rss_before = proc_status_bytes(pid, "VmRSS")?;
    eprintln!("[bench] {url}: a flood of {FLOOD_FRAMES} frames of 32 kB");
    let answers = runtime.block_on(wsload::flood(url, FLOOD_FRAMES, FLOOD_FRAME_BYTES))?;
    // Let the closing connection's work finish before reading memory.
    thread::sleep(Duration::from_millis(500));
    Ok(Flood {
        rss_before,
        peak: proc_status_bytes(pid, "VmHWM")?,
        rss_after: proc_status_bytes(pid, "VmRSS")?,
        answers,
    })
}

/// CPU seconds used so far by the server process, by each of its children, and by this
/// process (the clients: during the throughput rounds nothing else runs in it).
struct Cpu {
    server: f64,
    children: Vec<(u32, f64)>,
    clients: f64,
}

/// CPU time per echo during the throughput rounds, in ms, and how many CPUs were busy with
/// it all (server, functions and clients) on average.
#[derive(Debug, Clone, Copy)]
struct CpuPerEcho {
    server: f64,
    children: f64,
    clients: f64,
    busy_cpus: f64,
}

impl Cpu {
    fn of(pid: u32) -> Cpu {
        Cpu {
            clients: cpu_seconds(std::process::id()).unwrap_or(0.0),
            server: cpu_seconds(pid).unwrap_or(0.0),
            children: child_pids(pid)
                .into_iter()
                .filter_map(|c| Some((c, cpu_seconds(c)?)))
                .collect(),
        }
    }

    /// Children started since `before` count from zero.
    fn per_echo_since(&self, before: &Cpu, echoes: f64, wall: Duration) -> CpuPerEcho {
        let children: f64 = self
            .children
            .iter()
            .map(|(pid, now)| {
                let then = before.children.iter().find(|(p, _)| p == pid);
                now - then.map_or(0.0, |(_, t)| *t)
            })
            .sum();
        let server = self.server - before.server;
        let clients = self.clients - before.clients;
        CpuPerEcho {
            server: server * 1000.0 / echoes,
            children: children * 1000.0 / echoes,
            clients: clients * 1000.0 / echoes,
            busy_cpus: (server + children + clients) / wall.as_secs_f64().max(1e-9),
        }
    }
}

/// Resident memory of the server process, and of its children, with `IDLE` connections held.
#[derive(Debug, Clone, Copy)]
struct Idle {
    rss_before: u64,
    rss_held: u64,
    /// The gateway's function processes (none for the floor).
    children_rss: u64,
    children: usize,
}

impl Idle {
    fn per_connection(&self) -> f64 {
        self.rss_held.saturating_sub(self.rss_before) as f64 / IDLE as f64
    }
}

fn measure_idle(runtime: &tokio::runtime::Runtime, url: &str, pid: u32) -> Result<Idle> {
    let rss_before = proc_status_bytes(pid, "VmRSS")?;
    eprintln!("[bench] {url}: holding {IDLE} idle connections");
    let held = runtime.block_on(wsload::hold(url, IDLE))?;
    if held.len() != IDLE {
        bail!("held {} connections, not {IDLE}", held.len());
    }
    // Let `$connect` work finish before reading memory.
    thread::sleep(Duration::from_millis(500));
    let rss_held = proc_status_bytes(pid, "VmRSS")?;
    let children = child_pids(pid);
    let children_rss = children
        .iter()
        .filter_map(|c| proc_status_bytes(*c, "VmRSS").ok())
        .sum();
    runtime.block_on(async move { drop(held) });
    Ok(Idle {
        rss_before,
        rss_held,
        children_rss,
        children: children.len(),
    })
}

fn section(
    ctx: &Ctx,
    plan: &Plan,
    gw: &Measured,
    local: &Measured,
    floor: &Measured,
    small_buffer: Idle,
    log: &Path,
) -> Section {
    let mut section = Section::new(
        "Local gateway",
        &format!(
            "`cargo xtask dev --port 0` (the xtask binary run as a child process, exactly as a \
             user runs it, its log going to a file) serving the dev stage synthesized for {}: \
             every message goes through route selection to the real `echo` function binary over \
             the local Lambda Runtime API, which replies through the `@connections` management \
             API. The floor is a bare WebSocket echo server written with the same library \
             (tokio-tungstenite), also in its own process (`xtask bench --floor-server`). The \
             clients run in the bench process, on the same {} CPUs. Message: \
             `{}`. **Round trip**: one client, {} messages one after another after {} \
             unmeasured. **Throughput**: {CLIENTS} clients at once, each sending its next \
             message when the previous echo arrives, {} messages each ({} in all) per round; \
             {} round(s) after an unmeasured one; the CPU time (user + system, from /proc) the server \
             process, its function processes and the clients used in those rounds, per echo, \
             says where the time goes, and \"CPUs busy\" whether the CPUs were the limit. **Idle connections**: {IDLE} connections \
             opened (50 at a time, each through `$connect`) and held; memory is the server \
             process's `VmRSS` from /proc, the gateway's function processes counted apart. \
             **Flood**: one client sends {FLOOD_FRAMES} frames of 32 kB (nearly API Gateway's \
             largest) without waiting \
             and reads what comes back (echoes, or refusals once its backlog is full) for up \
             to 60 s; the server's peak resident memory is `VmHWM`, the most it ever had. \
             The xtask binary, and so the gateway and the floor, is {} build in this run \
             (`cargo xtask` builds the `local` profile: opt-level 2, no debug assertions). \
             The gateway runs twice: with the functions as deploys build them (`dev --release`: \
             cargo-lambda, the release profile; the `gateway` figures) and as `dev` runs them by \
             default (the `local` profile, as xtask; the `gateway_local` figures).",
            ctx.host,
            cpus(),
            wsload::MESSAGE,
            plan.n,
            plan.warmup,
            plan.per_client,
            plan.per_client * CLIENTS,
            plan.rounds,
            if cfg!(debug_assertions) {
                "an unoptimized"
            } else {
                "an optimized"
            }
        ),
    );
    for (id, m) in [("gateway", gw), ("gateway_local", local), ("floor", floor)] {
        section.summary(
            &format!("gateway.roundtrip.{id}"),
            &m.round_trips,
            Unit::Ms,
            true,
        );
        section.summary(
            &format!("gateway.throughput.{id}"),
            &m.throughput,
            Unit::PerSecond,
            false,
        );
    }
    for (id, m) in [("gateway", gw), ("gateway_local", local), ("floor", floor)] {
        section.figure(
            format!("gateway.throughput.{id}.server_cpu_per_echo_ms"),
            m.cpu.server,
            Unit::Ms,
        );
    }
    for (id, m) in [("gateway", gw), ("gateway_local", local)] {
        section.figure(
            format!("gateway.throughput.{id}.functions_cpu_per_echo_ms"),
            m.cpu.children,
            Unit::Ms,
        );
    }
    for (id, m) in [("gateway", gw), ("floor", floor)] {
        section.figure(
            format!("gateway.throughput.{id}.clients_cpu_per_echo_ms"),
            m.cpu.clients,
            Unit::Ms,
        );
        section.figure(
            format!("gateway.throughput.{id}.busy_cpus"),
            m.cpu.busy_cpus,
            Unit::Count,
        );
    }
    let p50_ratio = gw.round_trips.median() / floor.round_trips.median();
    section.figure("gateway.roundtrip.p50_vs_floor", p50_ratio, Unit::Times);
    let rate_ratio = floor.throughput.median() / gw.throughput.median();
    section.figure(
        "gateway.throughput.floor_vs_gateway",
        rate_ratio,
        Unit::Times,
    );

    let mut rtt = Table::new(&["round trip", "min", "p50", "p99", "max", "p50 / floor's"]);
    let mut rate = Table::new(&[
        "throughput",
        "min",
        "median",
        "max",
        "floor's / this",
        "CPU per echo: server",
        "CPU per echo: functions",
        "CPU per echo: clients",
        "CPUs busy",
    ]);
    let rows = [
        ("local gateway, release build", gw),
        ("local gateway, local build", local),
        ("floor", floor),
    ];
    for (label, m) in rows {
        let s = &m.round_trips;
        rtt.row(vec![
            label.to_owned(),
            Unit::Ms.show(s.min()),
            Unit::Ms.show(s.median()),
            Unit::Ms.show(s.percentile(99.0)),
            Unit::Ms.show(s.max()),
            Unit::Times.show(s.median() / floor.round_trips.median()),
        ]);
        let t = &m.throughput;
        rate.row(vec![
            label.to_owned(),
            Unit::PerSecond.show(t.min()),
            Unit::PerSecond.show(t.median()),
            Unit::PerSecond.show(t.max()),
            Unit::Times.show(floor.throughput.median() / t.median()),
            Unit::Ms.show(m.cpu.server),
            if label == "floor" {
                "none".to_owned()
            } else {
                Unit::Ms.show(m.cpu.children)
            },
            Unit::Ms.show(m.cpu.clients),
            format!("{:.2} of {}", m.cpu.busy_cpus, cpus()),
        ]);
    }
    section.tables.push(rtt);
    section.tables.push(rate);

    let mut flood = Table::new(&[
        &format!("flood: {FLOOD_FRAMES} frames of 32 kB from one client"),
        "RSS before",
        "peak RSS (VmHWM)",
        "RSS after",
        "answers",
    ]);
    for (id, label, m) in [
        ("gateway", "local gateway, release build", gw),
        ("gateway_local", "local gateway, local build", local),
        ("floor", "floor", floor),
    ] {
        section.figure(
            format!("gateway.flood.{id}.peak_rss_bytes"),
            m.flood.peak as f64,
            Unit::Bytes,
        );
        section.figure(
            format!("gateway.flood.{id}.answers"),
            m.flood.answers as f64,
            Unit::Count,
        );
        flood.row(vec![
            label.to_owned(),
            Unit::Bytes.show(m.flood.rss_before as f64),
            Unit::Bytes.show(m.flood.peak as f64),
            Unit::Bytes.show(m.flood.rss_after as f64),
            format!("{} of {FLOOD_FRAMES}", m.flood.answers),
        ]);
    }
    section.tables.push(flood);

    section.figure("gateway.idle.connections", IDLE as f64, Unit::Count);
    section.figure(
        "gateway.idle.gateway_rss_bytes",
        gw.idle.rss_held as f64,
        Unit::Bytes,
    );
    section.figure(
        "gateway.idle.gateway_rss_per_connection_bytes",
        gw.idle.per_connection(),
        Unit::Bytes,
    );
    section.figure(
        "gateway.idle.functions_rss_bytes",
        gw.idle.children_rss as f64,
        Unit::Bytes,
    );
    section.figure(
        "gateway.idle.floor_rss_bytes",
        floor.idle.rss_held as f64,
        Unit::Bytes,
    );
    section.figure(
        "gateway.idle.floor_4k_rss_bytes",
        small_buffer.rss_held as f64,
        Unit::Bytes,
    );
    let mut idle = Table::new(&[
        &format!("{IDLE} idle connections"),
        "RSS at start",
        "RSS before",
        "RSS holding them",
        "per connection",
        "function processes",
    ]);
    let rows = [
        ("local gateway", Some(gw.rss_start), gw.idle),
        ("floor", Some(floor.rss_start), floor.idle),
        ("floor, 4 KiB read buffer", None, small_buffer),
    ];
    for (label, start, m) in rows {
        idle.row(vec![
            label.to_owned(),
            start.map_or("".to_owned(), |s| Unit::Bytes.show(s as f64)),
            Unit::Bytes.show(m.rss_before as f64),
            Unit::Bytes.show(m.rss_held as f64),
            Unit::Bytes.show(m.per_connection()),
            if m.children == 0 {
                "none".to_owned()
            } else {
                format!(
                    "{} processes, {} RSS in all",
                    m.children,
                    Unit::Bytes.show(m.children_rss as f64)
                )
            },
        ]);
    }
    section.tables.push(idle);
    section.notes.push(
        "tungstenite gives every connection a 128 KiB read buffer by default \
         (`WebSocketConfig::read_buffer_size`); its documentation advises about 4 KiB for many \
         mostly idle connections. The gateway sets 4 KiB; the floor keeps the library's \
         default, and the third row is the floor with 4 KiB."
            .to_owned(),
    );
    section.notes.push(format!(
        "The gateway logs a line per connection, message and function log line; here they go to \
         {} (a terminal would cost more).",
        log.strip_prefix(crate::workspace::root())
            .unwrap_or(log)
            .display()
    ));
    section
}

fn cpus() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}
