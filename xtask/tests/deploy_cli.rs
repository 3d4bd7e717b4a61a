//! `cargo xtask deploy|diff|destroy|bootstrap|gc` as a user runs them: the real xtask binary,
//! the real AWS CLI, a real moto server.

use std::process::{Command, Output, Stdio};

use testenv::Need;
use testenv::fixture::{change_function_code, write_assembly};
use testenv::moto::{Moto, REGION, aws_env};

fn xtask(moto: &Moto, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args)
        .args([
            "--endpoint-url",
            &moto.endpoint,
            "--region",
            REGION,
            "--aws-cli",
        ])
        .arg(Need::AwsCli.path())
        .stdin(Stdio::null());
    for (k, v) in aws_env() {
        cmd.env(k, v);
    }
    cmd.output().expect("xtask runs")
}

/// `cargo xtask bootstrap --yes`, then what CloudFormation does on AWS and moto skips: the
/// toolkit's `AWS::ApiGateway::Account` points the account's logging setting at its role,
/// which a stage with execution logging needs.
fn bootstrap_as_on_aws(moto: &Moto) {
    let boot = xtask(moto, &["bootstrap", "--yes"]);
    assert!(boot.status.success(), "{}", text(&boot));
    moto.set_account_role(&moto.toolkit_role_arn(deploy::TOOLKIT_STACK));
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn deploy_diff_and_destroy_from_the_command_line() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let stack = assembly.stack.stack_name.clone();
    let dir_arg = dir.path().to_str().unwrap();
    bootstrap_as_on_aws(&moto);

    let first = xtask(&moto, &["deploy", "--assembly", dir_arg, "--yes"]);
    assert!(first.status.success(), "{}", text(&first));
    assert_eq!(
        moto.stack_status(&stack).as_deref(),
        Some("CREATE_COMPLETE")
    );

    let started = std::time::Instant::now();
    let again = xtask(&moto, &["deploy", "--assembly", dir_arg, "--yes"]);
    eprintln!(
        "`xtask deploy` with no changes took {:?}",
        started.elapsed()
    );
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("no changes"), "{}", text(&again));
    assert!(!text(&again).contains("uploading"), "{}", text(&again));

    change_function_code(dir.path(), "echo");
    let diff = xtask(&moto, &["diff", "--assembly", dir_arg]);
    assert!(diff.status.success(), "{}", text(&diff));
    assert!(text(&diff).contains("Code.S3Key"), "{}", text(&diff));
    // For CI: the deployed stack against the assembly as JSON, exit 2 on any change, and only
    // the JSON on stdout (CloudFormation's change set goes to stderr).
    let json = xtask(
        &moto,
        &[
            "diff",
            "--assembly",
            dir_arg,
            "--format",
            "json",
            "--fail-on",
            "any",
        ],
    );
    assert_eq!(json.status.code(), Some(2), "{}", text(&json));
    let review: serde_json::Value = serde_json::from_slice(&json.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&json)));
    assert_eq!(review["stacks"][0]["stack"], stack.as_str(), "{review:#}");
    assert!(
        review["base"].as_str().unwrap().contains(&stack),
        "{review:#}"
    );
    let changed: Vec<&str> = review["stacks"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["logical_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        changed.len(),
        1,
        "only the echo function changed: {review:#}"
    );
    let security = xtask(
        &moto,
        &["diff", "--assembly", dir_arg, "--fail-on", "security"],
    );
    assert_eq!(security.status.code(), Some(0), "{}", text(&security));

    // stdin is not a terminal and there is no --yes: refused, non-zero.
    let refused = xtask(&moto, &["deploy", "--assembly", dir_arg]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("without --yes"),
        "{}",
        text(&refused)
    );

    let destroyed = xtask(&moto, &["destroy", "--assembly", dir_arg, "--yes"]);
    assert!(destroyed.status.success(), "{}", text(&destroyed));
    assert_eq!(moto.stack_status(&stack), None);
}

#[test]
#[ignore = "needs the test assembly: `cargo xtask test` provides it"]
fn a_missing_cli_fails_with_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    write_assembly(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "deploy",
            "--assembly",
            dir.path().to_str().unwrap(),
            "--yes",
        ])
        .args(["--aws-cli", "/nonexistent/bin/aws"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("install the AWS CLI"), "{}", text(&out));
}

#[test]
#[ignore = "needs moto and the AWS CLI: `cargo xtask test` provides them"]
fn gc_from_the_command_line_lists_refuses_without_yes_then_deletes() {
    let moto = Moto::start();
    let boot = xtask(&moto, &["bootstrap", "--yes"]);
    assert!(boot.status.success(), "{}", text(&boot));
    let bucket = String::from_utf8_lossy(&boot.stdout)
        .lines()
        .last()
        .expect("bootstrap prints the bucket")
        .trim()
        .to_owned();
    // A zip no stack names (left by an earlier deploy).
    let stray = format!("{}.zip", "ab".repeat(32));
    moto.aws(&["s3api", "put-object", "--bucket", &bucket, "--key", &stray]);

    let kept = xtask(&moto, &["gc", "--yes"]);
    assert!(kept.status.success(), "{}", text(&kept));
    assert!(text(&kept).contains("nothing to delete"), "{}", text(&kept));

    let listed = xtask(&moto, &["gc", "--keep-days", "0", "--dry-run"]);
    assert!(listed.status.success(), "{}", text(&listed));
    assert!(text(&listed).contains(&stray), "{}", text(&listed));

    let refused = xtask(&moto, &["gc", "--keep-days", "0"]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("without --yes") && text(&refused).contains("--dry-run"),
        "{}",
        text(&refused)
    );
    assert!(moto.bucket_keys(&bucket).contains(&stray));

    let deleted = xtask(&moto, &["gc", "--keep-days", "0", "--yes"]);
    assert!(deleted.status.success(), "{}", text(&deleted));
    assert!(!moto.bucket_keys(&bucket).contains(&stray));
}
