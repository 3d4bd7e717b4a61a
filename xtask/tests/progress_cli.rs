//! Live progress only on a terminal, without `--quiet` and off CI: `cargo xtask build` run in a
//! pseudo-terminal (util-linux `script`) draws its rows; `--quiet` or `CI` there, or a pipe,
//! give today's plain `[build]` lines. A stand-in cargo fails the compile at once (so nothing
//! is compiled), and its compiler error must reach the user in every mode.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What the user sees of `xtask build --profile local -p echo <extra>` on a terminal (or,
/// with `terminal` false, through a pipe), with `ci` as the `CI` variable.
fn build(dir: &Path, extra: &[&str], ci: Option<&str>, terminal: bool) -> String {
    let stand_in = stand_in_cargo(dir);
    let xtask = env!("CARGO_BIN_EXE_xtask");
    let out = dir.join("assets");
    let mut args = vec![
        xtask,
        "build",
        "--profile",
        "local",
        "-p",
        "echo",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let mut cmd = if terminal {
        let mut cmd = Command::new("script");
        // -q: no banner; -e: the command's exit status; -c: the command; no typescript file.
        cmd.args(["-qec", &args.join(" "), "/dev/null"]);
        cmd
    } else {
        let mut cmd = Command::new(args[0]);
        cmd.args(&args[1..]);
        cmd
    };
    cmd.env("CARGO", &stand_in)
        .env("WSECHO_REAL_CARGO", real_cargo())
        .env_remove("CI")
        .stdin(Stdio::null());
    if let Some(ci) = ci {
        cmd.env("CI", ci);
    }
    let output = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run `script` (util-linux), which gives the build a terminal: {e}")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !output.status.success(),
        "the stand-in fails the build:\n{text}"
    );
    text
}

fn real_cargo() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| "cargo".into(), PathBuf::from)
}

/// A cargo that answers `metadata` as cargo does and fails every build with one compiler
/// error: as JSON when asked for messages (the live view), as text otherwise.
fn stand_in_cargo(dir: &Path) -> PathBuf {
    let path = dir.join("cargo");
    std::fs::write(
        &path,
        r#"#!/bin/sh
if [ "$1" = metadata ]; then exec "$WSECHO_REAL_CARGO" "$@"; fi
case "$*" in
*--message-format=*)
    printf '%s\n' '{"reason":"compiler-message","package_id":"path+file:///w/functions/echo#0.1.0","manifest_path":"/w/functions/echo/Cargo.toml","target":{"kind":["bin"],"crate_types":["bin"],"name":"echo","src_path":"/w/functions/echo/src/main.rs","edition":"2024","doc":true,"doctest":false,"test":true},"message":{"message":"stand-in","code":null,"level":"error","spans":[],"children":[],"rendered":"error: the stand-in compile error\n"}}' ;;
*) echo 'error: the stand-in compile error' >&2 ;;
esac
echo 'error: could not compile `echo` (bin "echo") due to 1 previous error' >&2
exit 101
"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn assert_plain(text: &str, why: &str) {
    assert!(
        text.contains("[build] echo ("),
        "{why}: the plain lines\n{text}"
    );
    assert!(!text.contains('\u{1b}'), "{why}: no escape codes\n{text}");
    assert!(
        !text.contains("failed (cargo's messages above)"),
        "{why}\n{text}"
    );
}

#[test]
fn a_terminal_gets_live_rows_unless_quiet_or_ci_and_errors_show_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();

    let live = build(dir.path(), &[], None, true);
    assert!(
        live.contains("failed (cargo's messages above)"),
        "the function's row\n{live}"
    );
    assert!(live.contains('\u{1b}'), "drawn with escape codes\n{live}");
    assert!(!live.contains("[build] echo ("), "no plain lines\n{live}");

    let quiet = build(dir.path(), &["--quiet"], None, true);
    assert_plain(&quiet, "--quiet");
    assert_plain(&build(dir.path(), &["-q"], None, true), "-q");
    assert_plain(&build(dir.path(), &[], Some("true"), true), "CI set");
    assert_plain(&build(dir.path(), &[], None, false), "a pipe");

    for text in [&live, &quiet] {
        assert!(text.contains("the stand-in compile error"), "{text}");
        assert!(text.contains("could not compile `echo`"), "{text}");
        assert!(text.contains("building echo failed"), "{text}");
    }
}
