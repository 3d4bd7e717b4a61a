//! Synthesis: our synth binary against AWS CDK synthesizing the same stack, process for
//! process; and `cargo xtask synth` end to end with nothing changed.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Ctx;
use super::figures::Unit;
use super::report::{Section, Table, ms_cells};
use super::stats::Samples;
use crate::process::Cmd;
use crate::tools::{Source, Tool};
use crate::workspace;

/// AWS CDK: the library the reference app uses and the CLI (`cdk synth`). The CLI is
/// versioned apart from the library since 2.1000; 2.1148.1 came out after aws-cdk-lib
/// 2.276.0 and reads its cloud assembly schema.
pub const AWS_CDK: Tool = Tool {
    name: "aws-cdk",
    source: Source::Npm(&[
        "aws-cdk-lib@2.276.0",
        "aws-cdk@2.1148.1",
        "constructs@10.8.1",
    ]),
    exe: "cdk",
};

/// The reference CDK app (the same stack as the echo app's), plain CommonJS.
const CDK_APP: &str = include_str!("cdk_app.js");
const CDK_TEMPLATE: &str = "WsEchoStack.template.json";

pub fn run(ctx: &mut Ctx) -> Result<Section> {
    let assembly = ctx.host_assembly()?;
    let root = workspace::root();
    let dir = ctx.work.join("synth");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;

    eprintln!("[bench] building the synth binary (cargo build --release -p infra --bin synth)");
    Cmd::new(cargo())
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "infra",
            "--bin",
            "synth",
        ])
        .current_dir(&root)
        .run()?;
    let synth_bin = ctx.target_dir.join("release").join("synth");
    let cdk = AWS_CDK.ensure()?;
    let app = cdk_app(&dir, &assembly, &AWS_CDK.bin_dir())?;

    let ours_out = dir.join("ours");
    let ours = Cmd::new(&synth_bin)
        .args(["--app", "echo", "--stage-file"])
        .arg(infra::config::stage_file("echo", "dev"))
        .arg("--assets")
        .arg(assembly.join(assembly::MANIFEST_FILE))
        .arg("--out")
        .arg(&ours_out);
    let node_out = dir.join("node-out");
    let node = Cmd::new("node")
        .arg("app.js")
        .env("CDK_OUTDIR", &node_out)
        .current_dir(&app)
        .missing_hint("Node.js is needed for the AWS CDK anchor");
    let cdk_synth = Cmd::new(&cdk)
        .args(["synth", "--quiet", "--no-notices"])
        .env("CDK_DISABLE_CLI_TELEMETRY", "true")
        .current_dir(&app);
    let xtask_out = dir.join("xtask-assembly");
    let xtask = Cmd::new(cargo())
        .args(["xtask", "synth", "--arch", ctx.host.as_str(), "--out"])
        .arg(&xtask_out)
        .current_dir(&root);

    let ours_t = time(&ours, ctx.reps(30, 10), &ours_out.join("template.json"))?;
    let node_t = time(&node, ctx.reps(5, 3), &node_out.join(CDK_TEMPLATE))?;
    let cdk_t = time(
        &cdk_synth,
        ctx.reps(5, 2),
        &app.join("cdk.out").join(CDK_TEMPLATE),
    )?;
    let xtask_t = time(&xtask, ctx.reps(10, 3), &xtask_out.join("template.json"))?;

    let mut section = Section::new(
        "Synthesis",
        &format!(
            "Wall time from starting a process to its template written, the function zips \
             already built, repeated after one unmeasured run. **wsecho**: the synth binary \
             (`target/release/synth --app echo --stage-file infra/stages/echo/dev.yaml --assets \
             assets.json --out DIR`: reads the stage config and the asset manifest, builds the typed \
             model, writes `template.json`). **AWS CDK** (aws-cdk-lib 2.276.0, CLI 2.1148.1, \
             Node {}): the same stack written with its L2 constructs \
             (`xtask/src/bench/cdk_app.js`, plain CommonJS, no TypeScript step), with the real \
             `bootstrap` binaries as its four asset folders; `cdk synth --quiet --no-notices` \
             (telemetry off) as a user runs it, and `node app.js` alone (the app's own \
             synthesis, without the CLI). **`cargo xtask synth --arch {}`** end to end with \
             nothing changed, as a user runs it: cargo's freshness check, `cargo metadata`, \
             the zips' freshness check, synthesis and the assembly written (into our own \
             folder, leaving `target/assembly/echo/dev` alone).",
            Cmd::new("node")
                .arg("--version")
                .read()
                .map(|v| v.trim().to_owned())
                .unwrap_or_default(),
            ctx.host
        ),
    );
    let mut table = Table::new(&["", "runs", "min", "median", "max", "median / wsecho's"]);
    let rows = [
        ("wsecho synth binary", "wsecho", &ours_t),
        ("`cdk synth`", "cdk_synth", &cdk_t),
        ("`node app.js` (CDK app alone)", "node_app", &node_t),
        ("`cargo xtask synth` (warm)", "xtask_warm", &xtask_t),
    ];
    for (label, id, samples) in rows {
        section.summary(&format!("synth.{id}"), samples, Unit::Ms, false);
        let mut row = vec![label.to_owned(), samples.len().to_string()];
        row.extend(ms_cells(samples));
        row.push(Unit::Times.show(samples.median() / ours_t.median()));
        table.row(row);
    }
    section.figure(
        "synth.speedup_vs_cdk_synth",
        cdk_t.median() / ours_t.median(),
        Unit::Times,
    );
    section.figure(
        "synth.speedup_vs_node_app",
        node_t.median() / ours_t.median(),
        Unit::Times,
    );
    section.tables.push(table);
    Ok(section)
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The CDK app folder: app.js, cdk.json, the four asset folders with the real binaries of
/// this machine, and the provisioned node_modules linked in.
fn cdk_app(dir: &Path, assembly: &Path, cdk_bin_dir: &Path) -> Result<std::path::PathBuf> {
    let app = dir.join("cdk-app");
    fs::create_dir_all(&app)?;
    fs::write(app.join("app.js"), CDK_APP)?;
    fs::write(app.join("cdk.json"), "{\"app\": \"node app.js\"}\n")?;
    // The assets CDK fingerprints and stages: the same binaries our zips hold.
    super::coldstart::unpack(assembly, &app.join("lambda"))?;
    let node_modules = cdk_bin_dir
        .parent()
        .context("the CDK's bin folder is inside node_modules")?;
    std::os::unix::fs::symlink(node_modules, app.join("node_modules"))
        .context("cannot link node_modules into the CDK app")?;
    Ok(app)
}

/// Runs `cmd` once unmeasured, then `runs` times; each must write `output`.
fn time(cmd: &Cmd, runs: usize, output: &Path) -> Result<Samples> {
    let mut samples: Vec<Duration> = Vec::new();
    for i in 0..=runs {
        let _ = fs::remove_file(output);
        let started = Instant::now();
        let out = cmd.output()?;
        let elapsed = started.elapsed();
        if !out.status.success() {
            bail!(
                "`{cmd}` failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if !output.is_file() {
            bail!("`{cmd}` succeeded but did not write {}", output.display());
        }
        if i > 0 {
            samples.push(elapsed);
        }
    }
    eprintln!("[bench] timed `{cmd}` {runs} times");
    Samples::from_durations(&samples).context("no runs")
}
