//! `logs` against moto's CloudWatch Logs: lines put into the deployed stack's log groups come
//! back interleaved by time, each naming its source, JSON lines readable, only those of the
//! asked-for window and function.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deploy::LogsOptions;
use serde_json::json;
use testenv::fixture::write_assembly;
use testenv::moto::Moto;

use crate::{aws_options, bootstrap_as_on_aws, deploy_options, message};

/// Puts `(milliseconds ago, message)` events into a log group, in one new stream.
fn put(moto: &Moto, group: &str, events: &[(u64, &str)]) {
    moto.aws(&[
        "logs",
        "create-log-stream",
        "--log-group-name",
        group,
        "--log-stream-name",
        "test",
    ]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let events: Vec<_> = events
        .iter()
        .map(|(ago, message)| json!({"timestamp": now - ago, "message": message}))
        .collect();
    moto.aws(&[
        "logs",
        "put-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        "test",
        "--log-events",
        &serde_json::to_string(&events).unwrap(),
    ]);
}

fn lines(stack: &assembly::StackInfo, opts: &LogsOptions) -> Vec<String> {
    let mut out = Vec::new();
    let printed = deploy::logs(stack, opts, &mut out).expect("logs");
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), printed);
    lines
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn the_stacks_log_lines_come_interleaved_by_time_with_their_source() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let stack = assembly.stack.stack_name.clone();
    deploy::deploy(&assembly, &deploy_options(&moto)).expect("deploy");

    let groups = moto.resources(&stack, "AWS::Logs::LogGroup");
    let group = |logical: &str| {
        groups
            .iter()
            .find(|(l, _)| l == logical)
            .unwrap_or_else(|| panic!("{logical} in {groups:?}"))
            .1
            .clone()
    };
    let functions = moto.resources(&stack, "AWS::Lambda::Function");
    let name = |logical: &str| {
        functions
            .iter()
            .find(|(l, _)| l == logical)
            .unwrap()
            .1
            .clone()
    };
    let (echo, connect) = (name("EchoFunction"), name("ConnectFunction"));
    put(
        &moto,
        &group("EchoFunctionLogGroup"),
        &[
            // An hour ago: outside a ten-minute window.
            (3_600_000, "too old"),
            (
                30_000,
                r#"{"timestamp":"x","level":"INFO","message":"echoed","bytes":5}"#,
            ),
            (10_000, "END RequestId: 2"),
        ],
    );
    put(
        &moto,
        &group("ConnectFunctionLogGroup"),
        &[(20_000, r#"{"level":"WARN","message":"slow","ms":900}"#)],
    );

    let opts = LogsOptions {
        aws: aws_options(&moto),
        function: None,
        since: Duration::from_secs(600),
        follow: false,
    };
    let all = lines(&assembly.stack, &opts);
    eprintln!("{}", all.join("\n"));
    let tails: Vec<String> = all
        .iter()
        .map(|l| l.split_once(' ').unwrap().1.to_owned())
        .collect();
    assert_eq!(
        tails,
        [
            format!("{echo} INFO echoed bytes=5"),
            format!("{connect} WARN slow ms=900"),
            format!("{echo} END RequestId: 2"),
        ]
    );
    // Each line starts with its time, oldest first.
    let times: Vec<&str> = all.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(times.iter().all(|t| t.ends_with('Z')), "{times:?}");

    // One function, by the end of its name; the hour-old line with a longer window.
    let only_echo = lines(
        &assembly.stack,
        &LogsOptions {
            function: Some("echo".into()),
            since: Duration::from_secs(7_200),
            ..opts.clone()
        },
    );
    assert_eq!(only_echo.len(), 3, "{only_echo:?}");
    assert!(
        only_echo[0].ends_with(&format!("{echo} too old")),
        "{only_echo:?}"
    );
    assert!(only_echo.iter().all(|l| l.contains(&echo)), "{only_echo:?}");

    let err = deploy::logs(
        &assembly.stack,
        &LogsOptions {
            function: Some("nope".into()),
            ..opts.clone()
        },
        &mut Vec::new(),
    )
    .unwrap_err();
    let err = message(&err);
    assert!(err.starts_with("no function nope in the stack"), "{err}");
    assert!(err.contains(&echo), "{err}");
}
