//! Every template wsecho synthesizes passes cfn-lint (no errors, no warnings) and checkov
//! (nothing failed; what doesn't apply is skipped with a reason in the resource's Metadata).
//! The linters come from `cargo xtask test` (testenv: WSECHO_CFN_LINT, WSECHO_CHECKOV).

use std::path::PathBuf;
use std::process::Command;

use infra::config::LoggingLevel;
use infra::constructs::function::{Assets, FunctionProps, LambdaFunction};
use infra::constructs::stage::StageProps;
use infra::constructs::websocket_api::{RouteOptions, WebSocketApi, WebSocketApiProps};
use infra::{Stack, Template};
use testenv::Need;

use super::common::{self, assets_bucket, manifest, run, stage, temp_dir, write};

/// A small stack with a two-way route, built from the constructs directly with their
/// defaults.
fn two_way_stack() -> Template {
    let manifest = manifest();
    let mut stack = Stack::new("wsecho-twoway");
    let root = stack.root();
    let bucket = assets_bucket(&mut stack);
    let assets = Assets {
        manifest: &manifest,
        bucket: bucket.reference(),
    };
    let mut stage = StageProps::new("test");
    stage.log_retention_days = 1;
    stage.throttling_burst_limit = Some(10);
    stage.throttling_rate_limit = Some(5.0);
    let mut api = WebSocketApi::new(
        &mut stack,
        &root,
        "Chat",
        WebSocketApiProps::new("chat", "$request.body.action", stage),
    )
    .unwrap();
    let mut props = FunctionProps::new("echo");
    props.reserved_concurrency = Some(2);
    props.log_retention_days = 1;
    let echo = LambdaFunction::new(&mut stack, &root, "Echo", &assets, props).unwrap();
    api.add_route(
        &mut stack,
        "$default",
        &echo,
        RouteOptions {
            two_way: true,
            ..RouteOptions::default()
        },
    )
    .unwrap();
    stack.synth().unwrap().template
}

/// Every stage of every app, the config variants that change the echo template's shape, a
/// two-way route and the toolkit stack; the echo dev template also as YAML.
fn templates() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for shipped in common::every_stage() {
        out.push((
            format!("{}-{}.json", shipped.app.name, shipped.stage),
            shipped.synthesized.template.to_json(),
        ));
    }
    let mut bare = stage("dev");
    bare.logs.level = LoggingLevel::Off;
    bare.tracing = true;
    out.push(("echo-dev-bare.json".into(), common::synth_json(&bare)));
    let mut verbose = stage("prod");
    verbose.logs.level = LoggingLevel::Info;
    verbose.logs.data_trace = true;
    verbose.tracing = false;
    verbose.functions.reserved_concurrency = None;
    verbose.functions.overrides.clear();
    out.push((
        "echo-prod-verbose.json".into(),
        common::synth_json(&verbose),
    ));
    out.push(("two-way.json".into(), two_way_stack().to_json()));
    let toolkit = infra::toolkit::synth("wsecho-toolkit").unwrap().template;
    out.push(("toolkit.json".into(), toolkit.to_json()));
    let dev = common::synth(&stage("dev"));
    out.push(("echo-dev.yaml".into(), dev.template.to_yaml().unwrap()));
    out
}

fn write_templates(name: &str) -> (PathBuf, Vec<PathBuf>) {
    let dir = temp_dir(name);
    let files = templates()
        .iter()
        .map(|(file, text)| write(&dir, file, text))
        .collect();
    (dir, files)
}

#[test]
#[ignore = "needs cfn-lint: `cargo xtask test` provides it"]
fn templates_pass_cfn_lint_without_errors_or_warnings() {
    let cfn_lint = Need::CfnLint.path();
    let (dir, files) = write_templates("cfn-lint");
    let (ok, output) = run(Command::new(&cfn_lint)
        .args(["--format", "parseable", "--"])
        .args(&files));
    assert!(
        ok && output.trim().is_empty(),
        "cfn-lint found problems:\n{output}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
#[ignore = "needs cfn-lint: `cargo xtask test` provides it"]
fn cfn_lint_does_catch_a_broken_template() {
    // Guards the test above: a linter that passes everything would prove nothing.
    let cfn_lint = Need::CfnLint.path();
    let dir = temp_dir("cfn-lint-broken");
    let broken =
        common::synth_json(&stage("dev")).replace("\"MemorySize\": 128", "\"MemorySize\": 1");
    let file = write(&dir, "broken.json", &broken);
    let (ok, output) = run(Command::new(&cfn_lint)
        .args(["--format", "parseable", "--"])
        .arg(&file));
    assert!(!ok && output.contains("E3034"), "{output}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
#[ignore = "needs checkov: `cargo xtask test` provides it"]
fn templates_pass_checkov() {
    let checkov = Need::Checkov.path();
    let (dir, files) = write_templates("checkov");
    // checkov reads the JSON and the YAML alike: every template above, none skipped.
    assert_eq!(files.len(), templates().len());
    let (ok, output) = run(Command::new(&checkov)
        .args([
            "--skip-download",
            "--framework",
            "cloudformation",
            "--compact",
            "--quiet",
            "-d",
        ])
        .arg(&dir));
    assert!(ok, "checkov found problems:\n{output}");
    assert!(output.contains("Failed checks: 0"), "{output}");
    std::fs::remove_dir_all(dir).unwrap();
}
