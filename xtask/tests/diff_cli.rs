//! `cargo xtask diff --base` as a user and the pull-request workflow run it: the real xtask
//! binary, reading a revision of a scratch git repository made here, against this working
//! tree's synthesis.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use serde_json::{Value, json};

/// The exit code of `--fail-on` finding what it names.
const MATCHED: i32 = 2;

fn snapshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshots")
}

fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "user.name=wsecho test",
            "-c",
            "user.email=test@example.com",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
}

/// A snapshot file's header and its template.
fn read_snapshot(path: &Path) -> (String, Value) {
    let text = std::fs::read_to_string(path).unwrap();
    let body = infra::snapshot::template_of(&text).expect("an insta file");
    let header = text[..text.len() - body.len()].to_owned();
    (header, serde_json::from_str(body).unwrap())
}

fn write_snapshot(dir: &Path, name: &str, header: &str, template: &Value) {
    let body = serde_json::to_string_pretty(template).unwrap();
    std::fs::write(dir.join(name), format!("{header}{body}\n")).unwrap();
}

/// A repository whose HEAD~1 holds the snapshots as they were "before" this change and whose
/// HEAD holds this working tree's: before, the chat table's key was another attribute (a
/// replacement now), echo's `$connect` had no permission to be invoked (one added now), and
/// an app `retired` existed (a stack removed now).
fn scratch_repo() -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path().join("snapshots");
    git(repo.path(), &["init", "-q", "-b", "main"]);
    copy_snapshots(&dir);

    let (header, mut chat) = read_snapshot(&snapshots().join("chat-dev.template.json.snap"));
    let resources = chat["Resources"].as_object_mut().unwrap();
    let table = resources
        .values_mut()
        .find(|r| r["Type"] == "AWS::DynamoDB::Table")
        .expect("the chat has a table");
    table["Properties"]["KeySchema"][0]["AttributeName"] = json!("legacyId");
    write_snapshot(&dir, "chat-dev.template.json.snap", &header, &chat);
    let (header, mut echo) = read_snapshot(&snapshots().join("echo-dev.template.json.snap"));
    echo["Resources"]
        .as_object_mut()
        .unwrap()
        .remove("ConnectPermission")
        .expect("echo's $connect has a permission");
    write_snapshot(&dir, "echo-dev.template.json.snap", &header, &echo);
    write_snapshot(
        &dir,
        "retired-dev.template.json.snap",
        &header,
        &json!({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}),
    );
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "before"]);

    std::fs::remove_dir_all(&dir).unwrap();
    copy_snapshots(&dir);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "after"]);
    repo
}

/// This working tree's snapshot files into `dir`.
fn copy_snapshots(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(snapshots()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "snap") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
}

fn diff(repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("diff")
        .arg("--repo")
        .arg(repo)
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::null())
        .output()
        .expect("xtask runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every table row of a Markdown document, as its cells' text.
fn table_rows(markdown: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row: Option<Vec<String>> = None;
    let mut cell: Option<String> = None;
    for event in Parser::new_ext(markdown, pulldown_cmark::Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::TableRow | Tag::TableHead) => row = Some(Vec::new()),
            Event::End(TagEnd::TableRow | TagEnd::TableHead) => rows.extend(row.take()),
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => {
                if let (Some(r), Some(c)) = (row.as_mut(), cell.take()) {
                    r.push(c);
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cell.as_mut() {
                    c.push_str(&t);
                }
            }
            _ => {}
        }
    }
    rows
}

#[test]
fn a_pull_request_comment_in_markdown_with_the_replacement_and_the_new_permission() {
    let repo = scratch_repo();
    let out = diff(
        repo.path(),
        &[
            "--base",
            "HEAD~1",
            "--format",
            "markdown",
            "--fail-on",
            "replacement",
        ],
    );
    assert_eq!(out.status.code(), Some(MATCHED), "{}", text(&out));
    let markdown = String::from_utf8(out.stdout).unwrap();
    assert!(
        markdown.starts_with("<!-- wsecho-diff -->"),
        "the workflow finds its comment by this marker:\n{markdown}"
    );
    let rows = table_rows(&markdown);
    let row_with = |needle: &str| rows.iter().find(|r| r.iter().any(|c| c.contains(needle)));
    let table = row_with("AWS::DynamoDB::Table")
        .unwrap_or_else(|| panic!("no row for the chat's table: {rows:?}\n{markdown}"));
    // A table's key schema is one of its conditionally create-only properties.
    assert!(
        table.iter().any(|c| c == "may be"),
        "the table's row does not say it may be replaced: {table:?}\n{markdown}"
    );
    assert!(
        markdown.contains("**3 stacks changed**"),
        "chat-dev, echo-dev and retired-dev changed, nothing else:\n{markdown}"
    );
    assert!(
        row_with("ConnectPermission").is_some(),
        "no row for echo's new permission: {rows:?}\n{markdown}"
    );
    assert!(markdown.contains("retired-dev"), "{markdown}");
    // Only the comment on stdout: what the PR workflow posts.
    assert!(!markdown.contains("[build]"), "{markdown}");
}

#[test]
fn fail_on_names_what_fails_the_check() {
    let repo = scratch_repo();
    let code = |args: &[&str]| {
        let out = diff(repo.path(), args);
        out.status
            .code()
            .unwrap_or_else(|| panic!("killed: {}", text(&out)))
    };
    // Against the revision it was made from, nothing differs: nothing fails.
    assert_eq!(code(&["--base", "HEAD", "--fail-on", "any"]), 0);
    assert_eq!(
        code(&["--base", "main~1", "--fail-on", "security"]),
        MATCHED
    );
    assert_eq!(code(&["--base", "HEAD~1", "--fail-on", "any"]), MATCHED);
    // Without --fail-on a difference is no failure.
    assert_eq!(code(&["--base", "HEAD~1"]), 0);
}

#[test]
fn json_names_every_stack_and_is_versioned() {
    let repo = scratch_repo();
    let out = diff(repo.path(), &["--base", "HEAD~1", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let review: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)));
    assert_eq!(review["version"], 1, "{review:#}");
    let stacks: Vec<&str> = review["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stack"].as_str().unwrap())
        .collect();
    for name in ["chat-dev", "echo-dev", "retired-dev", "guarded-dev"] {
        assert!(stacks.contains(&name), "{name} missing from {stacks:?}");
    }
}

#[test]
fn text_is_coloured_only_when_asked_or_on_a_terminal() {
    let repo = scratch_repo();
    let always = diff(repo.path(), &["--base", "HEAD~1", "--color", "always"]);
    assert!(always.status.success(), "{}", text(&always));
    assert!(String::from_utf8_lossy(&always.stdout).contains("\x1b["));
    // Auto: stdout is a pipe here, so plain.
    let auto = diff(repo.path(), &["--base", "HEAD~1"]);
    assert!(!String::from_utf8_lossy(&auto.stdout).contains('\x1b'));
    let never = diff(repo.path(), &["--base", "HEAD~1", "--color", "never"]);
    assert_eq!(never.stdout, auto.stdout);
    assert!(
        String::from_utf8_lossy(&never.stdout).contains("ConnectionsTable"),
        "{}",
        text(&never)
    );
}

#[test]
fn an_unknown_revision_is_an_error_that_says_what_to_fetch() {
    let repo = scratch_repo();
    let out = diff(repo.path(), &["--base", "no-such-branch"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("`no-such-branch` is not a commit") && said.contains("fetch-depth"),
        "{said}"
    );
}

/// `diff` with a terminal for stdout (util-linux `script` gives it one): what it printed.
fn diff_on_a_terminal(repo: &Path, no_color: bool) -> String {
    let command = format!(
        "{} diff --repo {} --base HEAD~1",
        env!("CARGO_BIN_EXE_xtask"),
        repo.display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"])
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .stdin(Stdio::null());
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run `script` (util-linux) for a terminal: {e}"));
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_terminal_gets_colour_unless_no_color_is_set() {
    let repo = scratch_repo();
    let coloured = diff_on_a_terminal(repo.path(), false);
    assert!(
        coloured.contains("\x1b["),
        "no colour on a terminal:\n{coloured}"
    );
    assert!(coloured.contains("ConnectionsTable"), "{coloured}");
    let plain = diff_on_a_terminal(repo.path(), true);
    assert!(
        !plain.contains("\x1b["),
        "colour despite NO_COLOR:\n{plain}"
    );
    assert!(plain.contains("ConnectionsTable"), "{plain}");
}
