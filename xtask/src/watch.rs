//! `cargo xtask dev --watch`: polls the sources, rebuilds and re-synthesizes on a change (the
//! app's infrastructure code by a child process), and has the running gateway swap in the new
//! routes and functions while clients stay connected.
//!
//! Polling (every 500 ms, a few hundred `stat`s) instead of inotify: no new dependency, and it
//! works the same on network and container file systems.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use gateway::Gateway;
use gateway::log::line;

use crate::build::{self, BuildOptions};
use crate::sources::{self, Fingerprint};
use crate::synth::{self, SynthOptions};
use crate::workspace::{self, FunctionCrate};

/// A poll only stats the source files, so polling often is cheap, and an edit waits half a
/// poll for it on average (BENCHMARKS.md, "Inner loop").
pub const POLL: Duration = Duration::from_millis(200);
/// A save is often several writes (editors, `git checkout`): wait until the tree is quiet.
const QUIET: Duration = Duration::from_millis(150);
/// ...but not forever while something keeps writing.
const MAX_SETTLE: Duration = Duration::from_secs(5);

/// What a changed file means for a running `dev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Function code or its build (functions/, the root Cargo.toml/Cargo.lock): rebuild,
    /// synthesize, reload.
    Function,
    /// A stage file: read by synth at run time, so synthesize and reload.
    Stage,
    /// The apps' infrastructure code (infra): synthesized from then on by a child process
    /// built from the sources as they are, then reload.
    Model,
    /// Code compiled into this xtask (the gateway, the assembly contract): only a restart
    /// applies it.
    Restart,
    /// Documentation: nothing to do.
    Docs,
}

/// The paths `dev --watch` polls: the workspace's Cargo files, what `tool_crates` (their
/// folders) compile into xtask (not their tests), the stage files and the functions.
pub fn watched(root: &Path, tool_crates: &[PathBuf]) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = sources::ROOT_BUILD_FILES
        .iter()
        .map(|f| root.join(f))
        .collect();
    for krate in tool_crates {
        paths.extend(["src", "Cargo.toml", "build.rs"].map(|p| krate.join(p)));
    }
    paths.push(root.join("infra/stages"));
    paths.push(root.join("functions"));
    paths
}

pub fn classify(root: &Path, path: &Path) -> Kind {
    let relative = path.strip_prefix(root).unwrap_or(path);
    if path.extension().is_some_and(|e| e == "md") {
        Kind::Docs
    } else if relative.starts_with("infra/stages") {
        Kind::Stage
    } else if relative.starts_with("infra/assembly") || relative.starts_with("xtask") {
        Kind::Restart
    } else if relative.starts_with("infra") {
        Kind::Model
    } else {
        Kind::Function
    }
}

/// Notices changes between polls.
pub struct Watcher {
    paths: Vec<PathBuf>,
    last: Fingerprint,
}

impl Watcher {
    pub fn new(paths: Vec<PathBuf>) -> Result<Watcher> {
        let last = Fingerprint::of(&paths)?;
        Ok(Watcher { paths, last })
    }

    /// The files edited, added or removed since the last call (or `new`). The `stat`s run on
    /// the blocking pool: the gateway's event loop is a single thread.
    pub async fn poll(&mut self) -> Result<Vec<PathBuf>> {
        let paths = self.paths.clone();
        let now = tokio::task::spawn_blocking(move || Fingerprint::of(&paths))
            .await
            .context("polling the sources panicked")??;
        let changed = now.changed_since(&self.last);
        self.last = now;
        Ok(changed)
    }

    /// After a first change, waits until a poll finds nothing new (at most `MAX_SETTLE`);
    /// returns every file changed meanwhile.
    pub async fn settle(&mut self, mut changed: Vec<PathBuf>) -> Result<Vec<PathBuf>> {
        let started = Instant::now();
        while started.elapsed() < MAX_SETTLE {
            tokio::time::sleep(QUIET).await;
            let more = self.poll().await?;
            if more.is_empty() {
                break;
            }
            changed.extend(more);
        }
        changed.sort();
        changed.dedup();
        Ok(changed)
    }
}

/// Watches until the future is dropped (Ctrl-C). `synth` is what `dev` synthesized at start.
pub async fn run(gateway: &Gateway, synth: SynthOptions) -> Result<()> {
    // Rebuilds print beside the gateway's log lines: a live build view would redraw over them.
    crate::progress::plain_from_now_on();
    let root = workspace::root();
    let tool_crates = workspace::tool_crates(&workspace::metadata()?);
    let mut watcher = Watcher::new(watched(&root, &tool_crates))?;
    // Once infra changed, the model compiled into this process is stale for good.
    let mut model_changed = false;
    line(
        "watch",
        &format!(
            "watching functions/, infra/stages/, the sources of infra and xtask, and the workspace's Cargo files (every {} ms)",
            POLL.as_millis()
        ),
    );
    loop {
        tokio::time::sleep(POLL).await;
        let changed = match watcher.poll().await {
            Ok(changed) if changed.is_empty() => continue,
            Ok(changed) => watcher.settle(changed).await,
            Err(e) => Err(e),
        };
        let changed = match changed {
            Ok(changed) => changed,
            Err(e) => {
                line("watch", &format!("cannot check the sources: {e:#}"));
                continue;
            }
        };
        on_change(gateway, &synth, &root, &changed, &mut model_changed).await;
    }
}

async fn on_change(
    gateway: &Gateway,
    synth: &SynthOptions,
    root: &Path,
    changed: &[PathBuf],
    model_changed: &mut bool,
) {
    let shown: Vec<String> = changed
        .iter()
        .take(3)
        .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
        .collect();
    let more = changed.len().saturating_sub(shown.len());
    line(
        "watch",
        &format!(
            "changed: {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ),
    );
    let kinds: Vec<(Kind, &PathBuf)> = changed.iter().map(|p| (classify(root, p), p)).collect();
    if let Some((_, path)) = kinds.iter().find(|(k, _)| *k == Kind::Restart) {
        line(
            "watch",
            &format!(
                "{} is compiled into this xtask: stop and restart `cargo xtask dev` to apply it (function code, infrastructure code and stage files reload by themselves)",
                path.strip_prefix(root).unwrap_or(path).display()
            ),
        );
    }
    let functions: Vec<&Path> = kinds
        .iter()
        .filter(|(k, _)| *k == Kind::Function)
        .map(|(_, p)| p.as_path())
        .collect();
    *model_changed |= kinds.iter().any(|(k, _)| *k == Kind::Model);
    if functions.is_empty()
        && !kinds
            .iter()
            .any(|(k, _)| matches!(k, Kind::Stage | Kind::Model))
    {
        return;
    }
    let in_child = *model_changed;

    let started = Instant::now();
    let opts = synth.clone();
    let functions: Vec<PathBuf> = functions.into_iter().map(Path::to_owned).collect();
    let rebuilt = tokio::task::spawn_blocking(move || -> Result<PathBuf> {
        // Built here rather than left to synth: cargo knows what is stale (synth compares
        // times, which misses a file saved during the previous build), and only the edited
        // functions are built, not every one.
        if !functions.is_empty() {
            let crates = workspace::functions(&workspace::metadata()?)?;
            let changed: Vec<&Path> = functions.iter().map(PathBuf::as_path).collect();
            // The app's functions, as long as its model is the one compiled in; after an
            // infrastructure edit it may name others: then every function.
            let app_packages = synth::load_app(&opts.target.app)?.packages();
            let scope = (!in_child).then_some(app_packages.as_slice());
            let packages = affected(&changed, &crates, scope);
            if !packages.is_empty() {
                build::build(&BuildOptions {
                    arch: opts.arch.context("dev synthesizes for this machine")?,
                    profile: opts.profile,
                    packages,
                    // Where synth looks: the architecture's default folder.
                    out: None,
                })?;
            }
        }
        if in_child {
            synth::synth_in_child(&opts)
        } else {
            synth::synth(&opts)
        }
    })
    .await
    .context("the rebuild task failed")
    .and_then(|r| r);
    let rebuild = started.elapsed();
    if let Err(e) = rebuilt {
        line(
            "watch",
            &format!(
                "rebuild failed after {:.1} s, the previous functions keep serving; save a fix to try again: {e:#}",
                rebuild.as_secs_f64()
            ),
        );
        return;
    }
    let swap = Instant::now();
    match gateway.reload() {
        Ok(report) => line(
            "watch",
            &format!(
                "reloaded: {report}; rebuild {:.1} s, swap {} ms; connections kept: {}",
                rebuild.as_secs_f64(),
                swap.elapsed().as_millis(),
                gateway.connection_count()
            ),
        ),
        Err(e) => line(
            "watch",
            &format!(
                "reload refused, the previous version keeps serving: {:#}",
                anyhow::Error::from(e)
            ),
        ),
    }
}

/// The function packages to rebuild for changed files: the edited crates among `scope` (the
/// app's packages; every function crate when `None`), or all of `scope` when a change is
/// elsewhere (`shared`, the Cargo files, a crate that is gone). An edit of a crate outside
/// the scope (another app's function) rebuilds nothing.
fn affected(changed: &[&Path], functions: &[FunctionCrate], scope: Option<&[&str]>) -> Vec<String> {
    let in_scope = |package: &str| scope.is_none_or(|scope| scope.contains(&package));
    let mut packages = Vec::new();
    for path in changed {
        match functions.iter().find(|f| path.starts_with(&f.manifest_dir)) {
            Some(function) if in_scope(&function.package) => {
                packages.push(function.package.clone());
            }
            Some(_) => {}
            None => {
                return functions
                    .iter()
                    .map(|f| f.package.clone())
                    .filter(|p| in_scope(p))
                    .collect();
            }
        }
    }
    packages.sort();
    packages.dedup();
    packages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_classified_by_where_they_are() {
        let root = Path::new("/ws");
        let kind = |p: &str| classify(root, &root.join(p));
        assert_eq!(kind("functions/echo/src/lib.rs"), Kind::Function);
        assert_eq!(kind("functions/shared/Cargo.toml"), Kind::Function);
        assert_eq!(kind("Cargo.lock"), Kind::Function);
        assert_eq!(kind("infra/stages/echo/dev.yaml"), Kind::Stage);
        assert_eq!(kind("infra/src/stack.rs"), Kind::Model);
        assert_eq!(kind("infra/src/apps/echo.rs"), Kind::Model);
        assert_eq!(kind("infra/Cargo.toml"), Kind::Model);
        assert_eq!(kind("infra/assembly/src/folder.rs"), Kind::Restart);
        assert_eq!(kind("xtask/src/dev.rs"), Kind::Restart);
        assert_eq!(kind("xtask/gateway/src/pool.rs"), Kind::Restart);
        assert_eq!(kind("functions/README.md"), Kind::Docs);
    }

    #[test]
    fn the_watched_paths_are_the_workspace_sources() {
        let root = Path::new("/ws");
        let crates = [root.join("infra"), root.join("xtask")];
        let paths = watched(root, &crates);
        for expected in [
            "functions",
            "infra/src",
            "infra/stages",
            "xtask/src",
            "Cargo.toml",
            "Cargo.lock",
        ] {
            assert!(
                paths.contains(&root.join(expected)),
                "{expected} not watched"
            );
        }
        assert!(!paths.contains(&root.join("xtask/tests")));
    }

    #[test]
    fn every_crate_outside_functions_is_a_tool_crate() {
        let metadata = workspace::metadata().unwrap();
        let root = workspace::root();
        let crates = workspace::tool_crates(&metadata);
        for krate in [
            "infra",
            "infra/assembly",
            "xtask",
            "xtask/gateway",
            "xtask/testenv",
        ] {
            assert!(crates.contains(&root.join(krate)), "{krate}: {crates:?}");
        }
        assert!(
            crates
                .iter()
                .all(|c| !c.starts_with(root.join("functions")))
        );
    }

    #[tokio::test]
    async fn a_touched_file_is_detected_once_and_an_unchanged_tree_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("functions/echo/src/lib.rs");
        std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
        std::fs::write(&lib, "fn a() {}").unwrap();
        let mut watcher = Watcher::new(vec![dir.path().join("functions")]).unwrap();
        assert_eq!(watcher.poll().await.unwrap(), Vec::<PathBuf>::new());

        let touched = std::time::SystemTime::now() + Duration::from_secs(2);
        std::fs::File::options()
            .write(true)
            .open(&lib)
            .unwrap()
            .set_modified(touched)
            .unwrap();
        let changed = watcher.poll().await.unwrap();
        assert_eq!(changed, vec![lib.clone()]);
        let settled = watcher.settle(changed).await.unwrap();
        assert_eq!(settled, vec![lib]);
        assert_eq!(watcher.poll().await.unwrap(), Vec::<PathBuf>::new());
    }

    #[test]
    fn only_the_edited_functions_are_rebuilt_unless_shared_code_changed() {
        let crate_at = |package: &str| FunctionCrate {
            package: package.to_owned(),
            bin: package.to_owned(),
            manifest_dir: PathBuf::from("/ws/functions").join(package),
        };
        let functions = [crate_at("echo"), crate_at("connect")];
        let echo = Path::new("/ws/functions/echo/src/lib.rs");
        let connect = Path::new("/ws/functions/connect/Cargo.toml");
        let shared = Path::new("/ws/functions/shared/src/reply.rs");
        let lock = Path::new("/ws/Cargo.lock");
        let every = Some(&["echo", "connect"][..]);
        assert_eq!(affected(&[echo], &functions, every), vec!["echo"]);
        assert_eq!(
            affected(&[echo, connect, echo], &functions, None),
            vec!["connect", "echo"]
        );
        assert_eq!(
            affected(&[echo, shared], &functions, every),
            vec!["echo", "connect"]
        );
        assert_eq!(affected(&[lock], &functions, None), vec!["echo", "connect"]);
        // A crate that does not exist (any more): all, which drops it from the manifest.
        let gone = Path::new("/ws/functions/hello/src/main.rs");
        assert_eq!(affected(&[gone], &functions, None), vec!["echo", "connect"]);
    }

    #[test]
    fn an_edit_of_another_apps_function_rebuilds_nothing_and_shared_only_the_apps() {
        let crate_at = |package: &str| FunctionCrate {
            package: package.to_owned(),
            bin: package.to_owned(),
            manifest_dir: PathBuf::from("/ws/functions").join(package),
        };
        let functions = [crate_at("echo"), crate_at("chat-send")];
        let echo_app = Some(&["echo"][..]);
        let chat = Path::new("/ws/functions/chat-send/src/lib.rs");
        let shared = Path::new("/ws/functions/shared/src/reply.rs");
        assert!(affected(&[chat], &functions, echo_app).is_empty());
        assert_eq!(affected(&[shared], &functions, echo_app), vec!["echo"]);
        assert_eq!(affected(&[chat], &functions, None), vec!["chat-send"]);
    }
}
