//! Every template wsecho synthesizes passes cfn-lint (no errors, no warnings) and checkov
//! (nothing failed; what doesn't apply is skipped with a reason in the resource's Metadata).
//! The linters come from `cargo xtask test` (WSECHO_CFN_LINT, WSECHO_CHECKOV).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use infra::config::LoggingLevel;
use infra::constructs::function::{Assets, FunctionProps, LambdaFunction};
use infra::constructs::stage::StageProps;
use infra::constructs::websocket_api::{RouteOptions, WebSocketApi, WebSocketApiProps};
use infra::resources::apigatewayv2::LoggingLevel as StageLoggingLevel;
use infra::{Stack, Template};

use common::{assets_bucket, manifest, run, stage, temp_dir, tool, write};

/// A small stack with a two-way route, built from the constructs directly.
fn two_way_stack() -> Template {
    let manifest = manifest();
    let mut stack = Stack::new("wsecho-twoway");
    let bucket = assets_bucket(&mut stack);
    let assets = Assets {
        manifest: &manifest,
        bucket: bucket.reference(),
    };
    let mut api = WebSocketApi::new(
        &mut stack,
        "Chat",
        WebSocketApiProps {
            name: "chat".into(),
            description: None,
            route_selection_expression: "$request.body.action".into(),
            stage: StageProps {
                stage_name: "test".into(),
                log_retention_days: 1,
                logging_level: StageLoggingLevel::Off,
                data_trace: false,
                detailed_metrics: false,
                throttling_burst_limit: 10,
                throttling_rate_limit: 5.0,
            },
        },
    )
    .unwrap();
    let echo = LambdaFunction::new(
        &mut stack,
        "Echo",
        &assets,
        FunctionProps {
            package: "echo".into(),
            function_name: "wsecho-twoway-echo".into(),
            memory_mb: 128,
            timeout_seconds: 3,
            reserved_concurrency: Some(2),
            log_retention_days: 1,
            tracing: false,
            environment: BTreeMap::new(),
        },
    )
    .unwrap();
    api.add_route(
        &mut stack,
        "$default",
        &echo,
        RouteOptions { two_way: true },
    )
    .unwrap();
    api.finish(&mut stack).unwrap();
    stack.synth().unwrap().template
}

/// dev, prod, the config variants that change the template's shape, a two-way route and the
/// toolkit stack; the dev template also as YAML.
fn templates() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in ["dev", "prod"] {
        out.push((format!("{name}.json"), common::synth_json(&stage(name))));
    }
    let mut bare = stage("dev");
    bare.account_cloudwatch_role = false;
    bare.logs.level = LoggingLevel::Off;
    bare.tracing = true;
    out.push(("dev-bare.json".into(), common::synth_json(&bare)));
    let mut verbose = stage("prod");
    verbose.logs.level = LoggingLevel::Info;
    verbose.logs.data_trace = true;
    verbose.tracing = false;
    verbose.functions.reserved_concurrency = None;
    verbose.functions.overrides.clear();
    out.push(("prod-verbose.json".into(), common::synth_json(&verbose)));
    out.push(("two-way.json".into(), two_way_stack().to_json()));
    let toolkit = infra::stack::toolkit("wsecho-toolkit").unwrap().template;
    out.push(("toolkit.json".into(), toolkit.to_json()));
    let dev = infra::stack::ws_echo(&stage("dev"), &manifest()).unwrap();
    out.push(("dev.yaml".into(), dev.template.to_yaml().unwrap()));
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
fn templates_pass_cfn_lint_without_errors_or_warnings() {
    let cfn_lint = tool("WSECHO_CFN_LINT");
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
fn cfn_lint_does_catch_a_broken_template() {
    // Guards the test above: a linter that passes everything would prove nothing.
    let cfn_lint = tool("WSECHO_CFN_LINT");
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
fn templates_pass_checkov() {
    let checkov = tool("WSECHO_CHECKOV");
    let (dir, files) = write_templates("checkov");
    assert_eq!(files.len(), 7);
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
