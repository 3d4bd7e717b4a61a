//! `cargo xtask dev --watch`: polls the sources, rebuilds and re-synthesizes on a change, and
//! has the running gateway swap in the new functions while clients stay connected.
//!
//! Polling (every 500 ms, a few hundred `stat`s) instead of inotify: no new dependency, and it
//! works the same on network and container file systems.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, Result};
use infra::assets::MANIFEST_FILE;

use crate::build::{self, BuildOptions};
use crate::gateway::Gateway;
use crate::gateway::log::line;
use crate::sources::{self, Fingerprint};
use crate::synth::{self, SynthOptions};

pub const POLL: Duration = Duration::from_millis(500);
/// A save is often several writes (editors, `git checkout`): wait until the tree is quiet.
const QUIET: Duration = Duration::from_millis(300);
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
    /// Code compiled into this xtask (infra's stack, the gateway): only a restart applies it.
    Restart,
}

/// The paths `dev --watch` polls, relative to the workspace root.
pub fn watched(root: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = sources::ROOT_BUILD_FILES
        .iter()
        .map(|f| root.join(f))
        .collect();
    paths.extend(["functions", "infra", "xtask"].map(|d| root.join(d)));
    paths
}

pub fn classify(root: &Path, path: &Path) -> Kind {
    let relative = path.strip_prefix(root).unwrap_or(path);
    if relative.starts_with("infra/stages") {
        Kind::Stage
    } else if relative.starts_with("infra") || relative.starts_with("xtask") {
        Kind::Restart
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

    /// The files edited, added or removed since the last call (or `new`).
    pub fn poll(&mut self) -> Result<Vec<PathBuf>> {
        let now = Fingerprint::of(&self.paths)?;
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
            let more = self.poll()?;
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
    let root = crate::workspace::root();
    let mut watcher = Watcher::new(watched(&root))?;
    let arch = synth
        .arch
        .context("dev synthesizes for this machine's architecture")?;
    let target_dir: PathBuf = crate::workspace::metadata()?.target_directory.into();
    let assets = build::default_out(&target_dir, arch);
    line(
        "watch",
        &format!(
            "watching functions/, infra/, xtask/ and the workspace's Cargo files (every {} ms)",
            POLL.as_millis()
        ),
    );
    loop {
        tokio::time::sleep(POLL).await;
        let changed = match watcher.poll() {
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
        on_change(gateway, &synth, &assets, &root, &changed).await;
    }
}

async fn on_change(
    gateway: &Gateway,
    synth: &SynthOptions,
    assets: &Path,
    root: &Path,
    changed: &[PathBuf],
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
                "{} is compiled into this xtask: stop and restart `cargo xtask dev` to apply it (function code and stage files reload by themselves)",
                path.strip_prefix(root).unwrap_or(path).display()
            ),
        );
    }
    let functions: Vec<&Path> = kinds
        .iter()
        .filter(|(k, _)| *k == Kind::Function)
        .map(|(_, p)| p.as_path())
        .collect();
    if functions.is_empty() && !kinds.iter().any(|(k, _)| *k == Kind::Stage) {
        return;
    }

    let started = Instant::now();
    let force_build = !functions.is_empty() && synth_would_miss(&functions, assets);
    let opts = synth.clone();
    let assets = assets.to_owned();
    let rebuilt = tokio::task::spawn_blocking(move || -> Result<PathBuf> {
        if force_build {
            build::build(&BuildOptions {
                arch: opts.arch.context("dev synthesizes for this machine")?,
                packages: Vec::new(),
                out: Some(assets),
            })?;
        }
        synth::synth(&opts)
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
            &format!("reload refused, the previous version keeps serving: {e:#}"),
        ),
    }
}

/// True when synth's own freshness check (the assets folder's manifest newer than every
/// source) would skip a build these changes need: a file saved while the last build ran is
/// older than the manifest, and a deleted file has no time at all. Then the build runs anyway;
/// cargo knows what is stale.
fn synth_would_miss(changed: &[&Path], assets: &Path) -> bool {
    let built_at = std::fs::metadata(assets.join(MANIFEST_FILE))
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    changed.iter().any(|path| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map_or(true, |modified| modified <= built_at)
    })
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
        assert_eq!(kind("infra/stages/dev.yaml"), Kind::Stage);
        assert_eq!(kind("infra/src/stack.rs"), Kind::Restart);
        assert_eq!(kind("infra/Cargo.toml"), Kind::Restart);
        assert_eq!(kind("xtask/src/gateway/pool.rs"), Kind::Restart);
    }

    #[test]
    fn the_watched_paths_are_the_workspace_sources() {
        let root = Path::new("/ws");
        let paths = watched(root);
        for expected in ["functions", "infra", "xtask", "Cargo.toml", "Cargo.lock"] {
            assert!(
                paths.contains(&root.join(expected)),
                "{expected} not watched"
            );
        }
    }

    #[tokio::test]
    async fn a_touched_file_is_detected_once_and_an_unchanged_tree_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("functions/echo/src/lib.rs");
        std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
        std::fs::write(&lib, "fn a() {}").unwrap();
        let mut watcher = Watcher::new(vec![dir.path().join("functions")]).unwrap();
        assert_eq!(watcher.poll().unwrap(), Vec::<PathBuf>::new());

        let touched = SystemTime::now() + Duration::from_secs(2);
        std::fs::File::options()
            .write(true)
            .open(&lib)
            .unwrap()
            .set_modified(touched)
            .unwrap();
        let changed = watcher.poll().unwrap();
        assert_eq!(changed, vec![lib.clone()]);
        let settled = watcher.settle(changed).await.unwrap();
        assert_eq!(settled, vec![lib]);
        assert_eq!(watcher.poll().unwrap(), Vec::<PathBuf>::new());
    }

    #[test]
    fn a_change_older_than_the_zips_forces_a_build() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join(MANIFEST_FILE);
        let source = dir.path().join("lib.rs");
        std::fs::write(&manifest, "{}").unwrap();
        std::fs::write(&source, "fn a() {}").unwrap();
        let set = |path: &Path, time: SystemTime| {
            std::fs::File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(time)
                .unwrap();
        };
        let now = SystemTime::now();
        set(&manifest, now);
        set(&source, now + Duration::from_secs(1));
        assert!(!synth_would_miss(&[&source], dir.path()));
        // Saved while the last build ran: older than its zips.
        set(&source, now - Duration::from_secs(1));
        assert!(synth_would_miss(&[&source], dir.path()));
        let deleted = dir.path().join("gone.rs");
        assert!(synth_would_miss(&[&deleted], dir.path()));
    }
}
