//! Every app's and stage's template in its reviewed form (`infra::snapshot`): at a git
//! revision, read from the snapshots committed there; in the working tree, synthesized.
//!
//! The base side reads snapshots rather than synthesizing in a scratch worktree: it needs no
//! build (milliseconds, not minutes of compiling another revision), works on any machine that
//! has the history, and shows the templates that revision's reviewers approved. It is exact
//! for every landed commit, since CI fails on a snapshot that differs from the synthesis or is
//! left pending. The price: zip hashes are redacted on both sides, so a change to a function's
//! code alone is not an infrastructure change here (its code diff is the review).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use infra::config::StageConfig;
use serde_json::Value;

use crate::process::Cmd;

/// Templates by snapshot name (`echo-dev`).
pub type Templates = BTreeMap<String, Value>;

/// The snapshot name of an app's stage: its file name without `.template.json.snap`.
fn key(file_name: &str) -> Option<&str> {
    file_name.strip_suffix(".template.json.snap")
}

/// The full commit `rev` names in the repository at `repo`.
pub fn resolve(repo: &Path, rev: &str) -> Result<String> {
    let out = git(repo)
        .args([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])
        .output()?;
    if !out.status.success() {
        bail!(
            "`{rev}` is not a commit in {}: name a branch, tag or commit it has (on CI, fetch the \
             base first, e.g. actions/checkout with `fetch-depth: 0`)",
            repo.display()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The templates committed at `commit` in `snapshots/`.
pub fn at_revision(repo: &Path, commit: &str) -> Result<Templates> {
    let folder = infra::snapshot::FOLDER;
    let listing = git(repo)
        .args(["ls-tree", "--name-only", commit, &format!("{folder}/")])
        .read()?;
    let mut templates = Templates::new();
    for path in listing.lines() {
        let file = path.rsplit('/').next().unwrap_or(path);
        let Some(name) = key(file) else { continue };
        let text = git(repo)
            .arg("show")
            .arg(format!("{commit}:{path}"))
            .read()?;
        let body = infra::snapshot::template_of(&text)
            .with_context(|| format!("{path} at {commit}: not an insta snapshot file"))?;
        let template = serde_json::from_str(body)
            .with_context(|| format!("{path} at {commit}: its template is not JSON"))?;
        templates.insert(name.to_owned(), template);
    }
    Ok(templates)
}

/// Every app's every stage as the working tree synthesizes it.
pub fn working_tree() -> Result<Templates> {
    let mut templates = Templates::new();
    for app in infra::apps::ALL {
        let files = infra::config::stage_files(app.name)
            .with_context(|| format!("app {}: cannot list its stage files", app.name))?;
        for file in files {
            let stage = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let config = StageConfig::load(&file)?;
            let text = infra::snapshot::reviewed_template(app, &config)
                .with_context(|| format!("cannot synthesize app {} stage {stage}", app.name))?;
            let name = infra::snapshot::file_name(app.name, &stage);
            let name = key(&name).expect("snapshot names end as key() expects");
            templates.insert(name.to_owned(), serde_json::from_str(&text)?);
        }
    }
    Ok(templates)
}

fn git(repo: &Path) -> Cmd {
    Cmd::new("git")
        .arg("-C")
        .arg(repo)
        .missing_hint("`diff --base` reads the base revision with git: install git")
}
