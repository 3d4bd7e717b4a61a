//! The real `chat-send` binary, run through a Lambda Runtime API on 127.0.0.1, with the
//! environment the chat's template and the local gateway give it: the table, the actions, the
//! DynamoDB endpoint (moto) and the management endpoint (a stand-in).

use std::collections::BTreeSet;
use std::process::Stdio;

use serde_json::Value;
use shared::actions::ACTIONS_VARIABLE;
use shared::connections::TABLE_VARIABLE;
use shared::management::ENDPOINT_OVERRIDE_VAR;
use shared::test_support::bounded;
use shared::test_support::endpoint::{Answer, Endpoint};
use shared::test_support::fixtures::MESSAGE_AUTHORIZED;
use shared::test_support::local_aws;
use shared::test_support::runtime_api::{RuntimeApi, command, run_binary};
use testenv::moto::Moto;

use crate::{SENDER, TABLE, post_path, table_with};

const BINARY: &str = env!("CARGO_BIN_EXE_chat-send");

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn the_binary_broadcasts_twice_through_one_set_of_clients() {
    let moto = Moto::start();
    let bob = "CX2bbbbbbbbbbbb=";
    table_with(&moto.endpoint, &[(SENDER, "alice"), (bob, "bob")]).await;
    let server = Endpoint::start(vec![], Answer::ok()).await;
    let mut environment = local_aws::endpoint_environment(&moto.endpoint);
    environment.extend([
        (TABLE_VARIABLE.to_owned(), TABLE.to_owned()),
        (ACTIONS_VARIABLE.to_owned(), r#"["sendmessage"]"#.to_owned()),
        (ENDPOINT_OVERRIDE_VAR.to_owned(), server.url("dev")),
    ]);
    let run = bounded(run_binary(
        BINARY,
        &environment,
        vec![MESSAGE_AUTHORIZED.to_owned(), MESSAGE_AUTHORIZED.to_owned()],
    ))
    .await;
    for outcome in &run.outcomes {
        assert_eq!(outcome.kind, "response");
        let response: Value = serde_json::from_slice(&outcome.body).unwrap();
        assert_eq!(response["statusCode"], 200, "{response}");
    }
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 4, "{recorded:#?}");
    let targets: BTreeSet<String> = recorded.iter().map(|post| post.path.clone()).collect();
    assert_eq!(targets, BTreeSet::from([post_path(SENDER), post_path(bob)]));
    let sent: Value = serde_json::from_slice(&recorded[0].body).unwrap();
    assert_eq!(sent["from"], "alice");
    assert_eq!(sent["message"], "hello");
    let summaries: Vec<&Value> = run
        .logs
        .iter()
        .filter(|line| line["message"] == "message broadcast")
        .collect();
    assert_eq!(summaries.len(), 2, "{:#?}", run.logs);
    assert_eq!(summaries[1]["delivered"], 2);
}

#[tokio::test]
async fn without_the_table_variable_the_binary_does_not_start() {
    let runtime = RuntimeApi::start(vec![]).await;
    let environment = vec![(ACTIONS_VARIABLE.to_owned(), r#"["sendmessage"]"#.to_owned())];
    let output = bounded(
        command(BINARY, &runtime, &environment)
            .stderr(Stdio::piped())
            .output(),
    )
    .await
    .expect("run the binary");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("environment variable CONNECTIONS_TABLE is not set"),
        "{stderr}"
    );
}
