//! The inner loop, as a user lives it: `cargo xtask dev --watch` on a scratch copy of the
//! workspace with a target folder of its own, first from nothing (the "first run": compile
//! xtask, build the functions, serve), then edits of each kind while one client stays
//! connected, each timed from the file write to the first message the new code answers.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::Ctx;
use super::children::Guard;
use super::figures::Unit;
use super::report::{Section, Table, ms_cells};
use super::stats::Samples;
use super::wsload::{self, Ws};
use crate::process::Cmd;

/// Longest wait for the first run (a cold compile of xtask and every function).
const FIRST_RUN: Duration = Duration::from_secs(1800);
/// Longest wait for one edit to go live.
const EDIT: Duration = Duration::from_secs(600);

/// What is edited, and how the new code shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit {
    /// `functions/echo/src/lib.rs`: the echo function alone.
    Handler,
    /// `functions/shared/src/reply.rs`: every function's shared library.
    Shared,
    /// `infra/stages/echo/dev.yaml`: the memory size.
    Stage,
    /// `infra/src/apps/echo.rs`: the echo route's key changed in the route table.
    Infra,
}

impl Edit {
    const ALL: [Edit; 4] = [Edit::Handler, Edit::Shared, Edit::Stage, Edit::Infra];

    fn id(self) -> &'static str {
        match self {
            Edit::Handler => "handler",
            Edit::Shared => "shared",
            Edit::Stage => "stage",
            Edit::Infra => "infra",
        }
    }

    fn file(self) -> &'static str {
        match self {
            Edit::Handler => "functions/echo/src/lib.rs",
            Edit::Shared => "functions/shared/src/reply.rs",
            Edit::Stage => "infra/stages/echo/dev.yaml",
            Edit::Infra => "infra/src/apps/echo.rs",
        }
    }

    /// The text the edits replace, as it is in the sources.
    fn original(self) -> &'static str {
        match self {
            Edit::Handler => r#"if action == "echo" =>"#,
            Edit::Shared => "        \"action\": \"echo\",\n",
            Edit::Stage => "  memory_mb: 128\n",
            Edit::Infra => "        key: \"echo\",\n",
        }
    }

    /// Edit `n`'s text in place of [`Edit::original`].
    fn edited(self, n: usize) -> String {
        match self {
            // An echo carrying `markN` now gets the "not recognised" reply.
            Edit::Handler => {
                format!(r#"if action == "echo" && value.get("mark{n}").is_none() =>"#)
            }
            // Every echo reply now carries `markN`.
            Edit::Shared => format!("        \"action\": \"echo\",\n        \"mark{n}\": true,\n"),
            Edit::Stage => format!("  memory_mb: {}\n", 130 + 2 * n),
            // The echo route's key is now `markN` (one function per route, so a route more
            // would need a crate more): it is among the supported actions.
            Edit::Infra => format!("        key: \"mark{n}\",\n"),
        }
    }

    /// The message that tells edit `n`'s code from the code before it.
    fn probe(self, n: usize) -> String {
        match self {
            Edit::Handler => json!({"action": "echo", "message": "probe", format!("mark{n}"): 1}),
            Edit::Shared | Edit::Stage => json!({"action": "echo", "message": "probe"}),
            Edit::Infra => json!({"action": format!("mark{n}")}),
        }
        .to_string()
    }

    /// Whether `reply` comes from edit `n`'s code. A stage edit changes nothing a reply
    /// shows: it is live once the gateway reloaded and an echo answers.
    fn answered_by_edit(self, n: usize, reply: &Value) -> bool {
        let mark = format!("mark{n}");
        match self {
            Edit::Handler => reply.get("error").is_some(),
            Edit::Shared => reply.get(&mark).is_some(),
            Edit::Stage => reply.get("received").is_some(),
            Edit::Infra => reply["supportedActions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|v| *v == json!(mark))),
        }
    }
}

struct FirstRun {
    total: Duration,
    /// The functions' build as `dev` reported it.
    functions_build: Option<f64>,
}

pub fn run(ctx: &mut Ctx) -> Result<Section> {
    let reps = ctx.reps(5, 2);
    let dir = ctx.work.join("inner-loop");
    let repo = dir.join("workspace");
    let target = dir.join("target");
    let _ = fs::remove_dir_all(&dir);
    copy_workspace(&crate::workspace::root(), &repo)?;
    fs::create_dir_all(&target)?;

    let log = dir.join("dev.log");
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .args(["xtask", "dev", "--watch", "--port", "0"])
        .current_dir(&repo)
        .env("CARGO_TARGET_DIR", &target);
    let started = Instant::now();
    let mut dev =
        Guard::spawn_logged("`cargo xtask dev --watch` on a scratch copy", command, &log)?;
    let url = wait_for_log(&mut dev, &log, FIRST_RUN, |text| {
        text.find("ws://").map(|at| {
            text[at..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
    })?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let measured = runtime.block_on(async {
        let mut client = wsload::connect(&url).await?;
        wsload::round_trip(&mut client).await?;
        let first = FirstRun {
            total: started.elapsed(),
            functions_build: functions_build_seconds(&fs::read_to_string(&log)?),
        };
        eprintln!(
            "[bench] inner loop: first echo {:.0} s after `cargo xtask dev` started",
            first.total.as_secs_f64()
        );
        let mut edits = Vec::new();
        for edit in Edit::ALL {
            let mut times = Vec::new();
            let mut current = edit.original().to_owned();
            for n in 0..reps {
                let next = edit.edited(n);
                let took = edit_once(&mut dev, &log, &repo, &mut client, edit, n, &current, &next)
                    .await
                    .with_context(|| format!("{} edit {n} ({})", edit.id(), edit.file()))?;
                eprintln!(
                    "[bench] inner loop: {} edit live in {:.2} s",
                    edit.id(),
                    took.as_secs_f64()
                );
                times.push(took);
                current = next;
            }
            edits.push((edit, Samples::from_durations(&times).context("no edits")?));
        }
        // The one client stayed connected through every reload.
        wsload::round_trip(&mut client).await?;
        anyhow::Ok((first, edits))
    });
    dev.interrupt(Duration::from_secs(30))?;
    let (first, edits) = measured.with_context(|| format!("the dev log: {}", log.display()))?;
    Ok(section(reps, &first, &edits, &log))
}

/// Writes one edit and waits until the client gets an answer from the new code.
#[allow(clippy::too_many_arguments)]
async fn edit_once(
    dev: &mut Guard,
    log: &Path,
    repo: &Path,
    client: &mut Ws,
    edit: Edit,
    n: usize,
    current: &str,
    next: &str,
) -> Result<Duration> {
    let path = repo.join(edit.file());
    let text = fs::read_to_string(&path)?;
    if text.matches(current).count() != 1 {
        bail!("{} does not hold `{current}` exactly once", path.display());
    }
    let reloads_before = reloads(&fs::read_to_string(log)?);
    // The watcher compares modification times: keep edits apart by more than their grain.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let written = Instant::now();
    fs::write(&path, text.replacen(current, next, 1))?;
    let probe = edit.probe(n);
    loop {
        if written.elapsed() > EDIT {
            bail!("not live {} s after the edit", EDIT.as_secs());
        }
        if let Some(status) = dev.child.try_wait()? {
            bail!("`cargo xtask dev` exited ({status})");
        }
        let reloaded = reloads(&fs::read_to_string(log)?) > reloads_before;
        if (edit != Edit::Stage || reloaded)
            && edit.answered_by_edit(n, &ask(client, &probe).await?)
        {
            return Ok(written.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `probe` and returns the JSON reply.
async fn ask(client: &mut Ws, probe: &str) -> Result<Value> {
    client
        .send(Message::text(probe))
        .await
        .context("the connection kept across reloads failed")?;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(30), client.next())
            .await
            .context("no reply within 30 s")?;
        match next {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).context("a reply that is not JSON");
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(other)) => bail!("unexpected message: {other:?}"),
            Some(Err(err)) => return Err(err).context("the connection kept across reloads failed"),
            None => bail!("the gateway closed the connection kept across reloads"),
        }
    }
}

fn reloads(log: &str) -> usize {
    log.matches("reloaded:").count()
}

/// `[build] … built and zipped in 12.3s`: the local build's time.
fn functions_build_seconds(log: &str) -> Option<f64> {
    log.lines()
        .find(|l| l.contains("[build]") && l.contains("built and zipped in"))
        .and_then(|l| l.rsplit("in ").next())
        .and_then(|s| s.trim_end_matches('s').trim().parse().ok())
}

/// Polls the log until `found` finds something in it.
fn wait_for_log<T>(
    dev: &mut Guard,
    log: &Path,
    timeout: Duration,
    found: impl Fn(&str) -> Option<T>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = found(&fs::read_to_string(log).unwrap_or_default()) {
            return Ok(value);
        }
        if let Some(status) = dev.child.try_wait()? {
            bail!(
                "`cargo xtask dev` exited ({status}); its log ({}):\n{}",
                log.display(),
                super::children::tail(log)
            );
        }
        if Instant::now() > deadline {
            bail!(
                "`cargo xtask dev` was not serving within {} s",
                timeout.as_secs()
            );
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// The workspace's files as git sees them (tracked and new, not ignored) into `to`: a clean
/// clone of the working tree, without `target/` or `.tools/`.
fn copy_workspace(root: &Path, to: &Path) -> Result<()> {
    let listed = Cmd::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .read()
        .context("listing the workspace's files")?;
    for file in listed.split('\0').filter(|f| !f.is_empty()) {
        let from = root.join(file);
        // Listed but deleted in the working tree.
        if !from.is_file() {
            continue;
        }
        let dest: PathBuf = to.join(file);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(&from, &dest)
            .with_context(|| format!("cannot copy {} to {}", from.display(), dest.display()))?;
    }
    Ok(())
}

fn section(reps: usize, first: &FirstRun, edits: &[(Edit, Samples)], log: &Path) -> Section {
    let mut section = Section::new(
        "Inner loop",
        &format!(
            "`cargo xtask dev --watch --port 0` run in a scratch copy of the workspace (its \
             tracked and new files, as a clone would have them) with a target folder of its \
             own, so nothing is built at first; the registries' crates are in cargo's cache. \
             **First run**: from starting the command to the first echo answered (compiling \
             xtask, the local build of every function, synthesis, start). Then, with one client \
             connected throughout, {reps} edits of each kind, each timed from the file write to \
             the first reply that only the new code gives: a **handler** edit \
             (`functions/echo/src/lib.rs`: an echo with a marker field now gets the \"not \
             recognised\" reply), a **shared** edit (`functions/shared/src/reply.rs`: echo \
             replies carry a marker; every function is rebuilt), a **stage** edit (the stage \
             file's memory size: no reply shows it, so until the gateway logged its reload and \
             an echo answered), an **infra** edit (`infra/src/apps/echo.rs`: the echo route's key \
             renamed in the route table, live once the new key is among the supported actions; \
             a synthesis by a child process built from the edited sources). The client sends \
             its probe every 50 ms and stays connected across every reload."
        ),
    );
    section.figure(
        "inner_loop.first_run_ms",
        first.total.as_secs_f64() * 1000.0,
        Unit::Ms,
    );
    let mut first_table = Table::new(&[
        "first run",
        "first echo after",
        "of which: the functions' local build",
    ]);
    first_table.row(vec![
        "`cargo xtask dev`, nothing built".to_owned(),
        format!("{:.0} s", first.total.as_secs_f64()),
        first
            .functions_build
            .map_or("not reported".to_owned(), |s| format!("{s:.0} s")),
    ]);
    section.tables.push(first_table);
    let mut table = Table::new(&["edit", "file", "min", "median", "max"]);
    for (edit, samples) in edits {
        section.summary(
            &format!("inner_loop.{}", edit.id()),
            samples,
            Unit::Ms,
            false,
        );
        let mut row = vec![edit.id().to_owned(), format!("`{}`", edit.file())];
        row.extend(ms_cells(samples));
        table.row(row);
    }
    section.tables.push(table);
    section.notes.push(format!(
        "The remainder of the first run (compiling xtask and what it links, synthesis, start) \
         is the first figure less the functions' build. dev's log: {}.",
        log.strip_prefix(crate::workspace::root())
            .unwrap_or(log)
            .display()
    ));
    section
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The edits find their text in today's sources: a refactor that moves it fails here,
    /// not half an hour into a bench.
    #[test]
    fn every_edit_applies_to_the_sources_once() {
        let root = crate::workspace::root();
        for edit in Edit::ALL {
            let text = fs::read_to_string(root.join(edit.file())).unwrap();
            assert_eq!(text.matches(edit.original()).count(), 1, "{}", edit.file());
            assert_ne!(edit.edited(0), edit.edited(1));
        }
    }

    #[test]
    fn the_build_time_is_read_from_devs_log() {
        let log = "[synth] …\n[build] connect, echo (x86_64, local)\n[build] connect, echo built and zipped in 41.5s\n";
        assert_eq!(functions_build_seconds(log), Some(41.5));
        assert_eq!(functions_build_seconds("nothing"), None);
    }

    #[test]
    fn probes_tell_the_new_code_from_the_old() {
        let old_echo = json!({"action": "echo", "received": {}, "websocket": {}});
        assert!(!Edit::Handler.answered_by_edit(0, &old_echo));
        assert!(Edit::Handler.answered_by_edit(0, &json!({"error": "x"})));
        assert!(!Edit::Shared.answered_by_edit(1, &old_echo));
        assert!(Edit::Shared.answered_by_edit(1, &json!({"mark1": true})));
        let routed = json!({"supportedActions": ["echo", "mark2"]});
        assert!(Edit::Infra.answered_by_edit(2, &routed));
        assert!(!Edit::Infra.answered_by_edit(3, &routed));
    }
}
