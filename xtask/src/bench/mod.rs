//! `cargo xtask bench`: wsecho side by side with what people use instead (AWS CDK, a bare
//! WebSocket echo server, published Node.js cold starts), written to `BENCHMARKS.md`; and
//! `--check`, the stable figures (sizes, counts) against `xtask/bench-budgets.json`, for CI.
//!
//! One module per benchmark; each returns a `Section` (tables for the report, figures for
//! the targets and budgets). Timings repeat and report min/median/max; ratios are taken
//! between figures of the same run.

mod artifacts;
mod children;
mod coldstart;
mod deploy;
mod fanout;
mod figures;
mod floor;
mod gateway;
mod inner_loop;
mod machine;
mod report;
mod stats;
mod synth;
mod wsload;

use std::fmt;
use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use assembly::Architecture;
use clap::{Args, ValueEnum};

use self::figures::{Budgets, Figure, Limit};
use self::machine::Machine;
use self::report::{Checked, Report, Section};
use crate::synth::{AppStage, Format, SynthOptions};
use crate::workspace;

/// The budgets `--check` enforces, relative to the workspace root.
pub const BUDGETS_FILE: &str = "xtask/bench-budgets.json";
/// The committed report, relative to the workspace root.
pub const REPORT_FILE: &str = "BENCHMARKS.md";

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// CI mode: measure only the stable figures (artifact sizes for this machine's
    /// architecture, deploy upload and update counts) and fail when one is outside its budget
    /// in xtask/bench-budgets.json. Writes no report.
    #[arg(long)]
    pub check: bool,
    /// Run only these benchmarks (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Bench>,
    /// Fewer repetitions: quicker, noisier.
    #[arg(long)]
    pub quick: bool,
    /// Where the report goes [default: BENCHMARKS.md when every benchmark ran, else
    /// target/wsecho/bench/BENCHMARKS.md].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Internal: serve the bare WebSocket echo server (the floor) and print its URL.
    #[arg(long, hide = true)]
    pub floor_server: bool,
    /// Internal: the floor server's per-connection read buffer in bytes.
    #[arg(long, hide = true)]
    pub floor_read_buffer: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Bench {
    /// Each function's zip and binary size, per architecture.
    Artifacts,
    /// Our synth binary vs `cdk synth` and `node app.js`; warm `cargo xtask synth`.
    Synth,
    /// Each function binary's init time and peak memory.
    Coldstart,
    /// The local gateway vs a bare tokio-tungstenite echo server.
    Gateway,
    /// A no-change redeploy against moto.
    Deploy,
    /// `dev --watch` on a scratch copy: first run from nothing, then edit → live.
    InnerLoop,
    /// The chat's broadcast to 100 clients through the real functions and moto.
    Fanout,
}

impl fmt::Display for Bench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self
            .to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default();
        f.write_str(&name)
    }
}

/// The targets the project set itself (timings included: reported, never enforced).
const TARGETS: &[(&str, &str, Limit)] = &[
    (
        "synth.wsecho.median_ms",
        "synthesis under 20 ms",
        Limit::at_most(20.0),
    ),
    (
        "synth.speedup_vs_cdk_synth",
        "at least 100× faster than `cdk synth`",
        Limit::at_least(100.0),
    ),
    (
        "synth.xtask_warm.median_ms",
        "warm `cargo xtask synth` under 1 s",
        Limit::at_most(1000.0),
    ),
    (
        "coldstart.*.init.median_ms",
        "init ≤ 20 ms",
        Limit::at_most(20.0),
    ),
    (
        "coldstart.*.peak_rss.median_bytes",
        "peak memory ≤ 30 MB",
        Limit::at_most(30e6),
    ),
    (
        "gateway.roundtrip.p50_vs_floor",
        "round trip p50 within 5× of the floor",
        Limit::at_most(5.0),
    ),
    (
        "gateway.roundtrip.gateway.median_ms",
        "round trip p50 ≤ 1 ms",
        Limit::at_most(1.0),
    ),
    (
        "gateway.throughput.gateway.server_cpu_per_echo_ms",
        "gateway CPU per echo ≤ 0.15 ms",
        Limit::at_most(0.15),
    ),
    (
        "fanout.last_delivery.median_ms",
        "a broadcast reaches 100 clients in ≤ 100 ms (p50)",
        Limit::at_most(100.0),
    ),
    (
        "inner_loop.handler.median_ms",
        "handler edit live in ≤ 3 s",
        Limit::at_most(3000.0),
    ),
    (
        "inner_loop.shared.median_ms",
        "shared edit live in ≤ 10 s",
        Limit::at_most(10_000.0),
    ),
    (
        "inner_loop.stage.median_ms",
        "stage edit live in ≤ 2 s",
        Limit::at_most(2000.0),
    ),
    (
        "inner_loop.infra.median_ms",
        "infra edit live in ≤ 15 s",
        Limit::at_most(15_000.0),
    ),
    (
        "inner_loop.first_run_ms",
        "fresh clone → first echo ≤ 4 min",
        Limit::at_most(240_000.0),
    ),
    (
        "gateway.idle.gateway_rss_bytes",
        "1,000 idle connections under 100 MB RSS",
        Limit::at_most(100e6),
    ),
];

/// What the benchmarks share: options, folders, and the host assembly (synthesized once).
pub struct Ctx {
    pub quick: bool,
    pub check: bool,
    pub host: Architecture,
    pub target_dir: PathBuf,
    /// Scratch space: `target/wsecho/bench`.
    pub work: PathBuf,
    pub budgets: Budgets,
    /// A copy of this binary, for child processes.
    pub xtask: PathBuf,
    host_assembly: Option<PathBuf>,
}

impl Ctx {
    /// Repetitions: `full` normally, `quick` with `--quick`.
    pub fn reps(&self, full: usize, quick: usize) -> usize {
        if self.quick { quick } else { full }
    }

    /// The echo app's dev stage synthesized for this machine (built first if stale), in our
    /// own folder so the user's `target/assembly/echo/dev` is left alone.
    pub fn host_assembly(&mut self) -> Result<PathBuf> {
        if let Some(dir) = &self.host_assembly {
            return Ok(dir.clone());
        }
        let dir = crate::synth::synth(&SynthOptions {
            target: AppStage::default(),
            format: Format::Json,
            out: Some(self.work.join("assembly")),
            arch: Some(self.host),
            profile: crate::build::BuildProfile::Release,
        })?;
        self.host_assembly = Some(dir.clone());
        Ok(dir)
    }
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if args.floor_server {
        return floor::serve_until_killed(args.floor_read_buffer);
    }
    let started = Instant::now();
    let host = Architecture::host()
        .context("this machine's architecture has no Lambda equivalent: the benchmarks run the functions here")?;
    let root = workspace::root();
    let target_dir: PathBuf = workspace::metadata()?.target_directory.into();
    let work = target_dir.join("wsecho").join("bench");
    fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    // Child processes (the floor, the gateway) run a copy of this binary: another cargo build
    // may replace target/local/xtask while the bench runs.
    let exe = std::env::current_exe().context("cannot find the xtask binary")?;
    let xtask_copy = work.join("xtask");
    fs::copy(&exe, &xtask_copy)
        .with_context(|| format!("cannot copy {} to {}", exe.display(), xtask_copy.display()))?;
    let mut ctx = Ctx {
        xtask: xtask_copy,
        quick: args.quick,
        check: args.check,
        host,
        target_dir,
        work,
        budgets: Budgets::read(&root.join(BUDGETS_FILE))?,
        host_assembly: None,
    };

    let all = if args.check {
        vec![Bench::Artifacts, Bench::Deploy]
    } else {
        Bench::value_variants().to_vec()
    };
    let selected: Vec<Bench> = all
        .iter()
        .copied()
        .filter(|b| args.only.is_empty() || args.only.contains(b))
        .collect();
    if selected.is_empty() {
        bail!("`--only` with `--check` can select artifacts and deploy only");
    }

    let machine = Machine::detect();
    let mut sections = Vec::new();
    let mut failed = Vec::new();
    for bench in &selected {
        eprintln!("[bench] {bench}: running");
        let bench_started = Instant::now();
        let result = match bench {
            Bench::Artifacts => artifacts::run(&mut ctx),
            Bench::Synth => synth::run(&mut ctx),
            Bench::Coldstart => coldstart::run(&mut ctx),
            Bench::Gateway => gateway::run(&mut ctx),
            Bench::Deploy => deploy::run(&mut ctx),
            Bench::InnerLoop => inner_loop::run(&mut ctx),
            Bench::Fanout => fanout::run(&mut ctx),
        };
        match result {
            Ok(section) => {
                eprintln!(
                    "[bench] {bench}: done in {:.0} s",
                    bench_started.elapsed().as_secs_f64()
                );
                if !args.check {
                    println!("{}", section.render());
                }
                sections.push(section);
            }
            Err(err) => {
                let chain: Vec<String> = err.chain().map(|c| c.to_string()).collect();
                eprintln!("[bench] {bench}: FAILED: {}", chain.join(": "));
                let mut section = Section::new(&format!("{bench} (failed)"), "");
                section
                    .notes
                    .push(format!("this benchmark failed: {}", chain.join(": ")));
                sections.push(section);
                failed.push(bench.to_string());
            }
        }
    }
    let figures: Vec<Figure> = sections.iter().flat_map(|s| s.figures.clone()).collect();
    let elapsed = started.elapsed().as_secs_f64();

    // Budgets of benchmarks not selected with `--only` are not checked (figure ids start
    // with their benchmark's name); any other budget naming nothing is an error.
    let ran: Vec<String> = selected.iter().map(|b| b.to_string()).collect();
    let skipped = |pattern: &str| {
        let bench = pattern.split('.').next().unwrap_or_default();
        Bench::from_str(bench, false).is_ok() && !ran.iter().any(|r| r == bench)
    };
    let budgets: Vec<(&str, Limit)> = ctx.budgets.limits().filter(|(p, _)| !skipped(p)).collect();

    if args.check {
        let verdicts = figures::check(budgets.iter().copied(), &figures);
        for verdict in &verdicts {
            println!("{verdict}");
        }
        eprintln!("[bench] --check took {elapsed:.0} s");
        if !failed.is_empty() {
            bail!("benchmark(s) failed: {}", failed.join(", "));
        }
        let problems: Vec<String> = verdicts.iter().filter_map(|v| v.problem()).collect();
        if !problems.is_empty() {
            bail!(
                "{} figure(s) outside their budgets ({BUDGETS_FILE}):\n  - {}",
                problems.len(),
                problems.join("\n  - ")
            );
        }
        eprintln!("[bench] every budgeted figure is within its budget");
        return Ok(());
    }

    let mut checked: Vec<Checked> = figures::check(
        TARGETS.iter().map(|(pattern, _, limit)| (*pattern, *limit)),
        &figures,
    )
    .into_iter()
    .filter(|v| v.figure.is_some())
    .map(|verdict| Checked {
        kind: "target",
        what: TARGETS
            .iter()
            .find(|(p, _, _)| *p == verdict.pattern)
            .map_or(String::new(), |(_, what, _)| (*what).to_owned()),
        verdict,
    })
    .collect();
    checked.extend(
        figures::check(budgets.iter().copied(), &figures)
            .into_iter()
            .filter(|v| v.figure.is_some())
            .map(|verdict| Checked {
                kind: "budget (CI)",
                what: "`bench --check`".to_owned(),
                verdict,
            }),
    );

    let complete = failed.is_empty() && selected.len() == Bench::value_variants().len();
    let out = args.out.clone().unwrap_or_else(|| {
        if complete {
            root.join(REPORT_FILE)
        } else {
            ctx.work.join(REPORT_FILE)
        }
    });
    let mut command = String::from("cargo xtask bench");
    if args.quick {
        command.push_str(" --quick");
    }
    if !args.only.is_empty() {
        let names: Vec<String> = args.only.iter().map(|b| b.to_string()).collect();
        command.push_str(&format!(" --only {}", names.join(",")));
    }
    let text = Report {
        machine: &machine,
        command,
        duration_s: elapsed,
        sections: &sections,
        checked: &checked,
    }
    .render();
    assembly::write_atomically(&out, text.as_bytes())?;
    let figures_json = ctx.work.join("figures.json");
    assembly::write_atomically(
        &figures_json,
        serde_json::to_string_pretty(&figures)?.as_bytes(),
    )?;
    let missed: Vec<String> = checked
        .iter()
        .filter(|c| !c.verdict.ok())
        .map(|c| {
            format!(
                "{} ({})",
                c.verdict.figure.as_ref().map_or("", |f| &f.id),
                c.what
            )
        })
        .collect();
    eprintln!(
        "[bench] wrote {} and {} in {elapsed:.0} s; {} of {} targets and budgets met{}",
        out.display(),
        figures_json.display(),
        checked.len() - missed.len(),
        checked.len(),
        if missed.is_empty() {
            String::new()
        } else {
            format!("; missed: {}", missed.join(", "))
        }
    );
    if !failed.is_empty() {
        bail!("benchmark(s) failed: {} (see above)", failed.join(", "));
    }
    Ok(())
}
