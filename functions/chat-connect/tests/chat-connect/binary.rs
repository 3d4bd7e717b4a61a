//! The real `chat-connect` binary, run through a Lambda Runtime API on 127.0.0.1, its DynamoDB
//! client pointed at moto by `AWS_ENDPOINT_URL_DYNAMODB` as the local gateway points it.

use std::process::Stdio;

use shared::connections::TABLE_VARIABLE;
use shared::test_support::bounded;
use shared::test_support::fixtures::CONNECT_AUTHORIZED;
use shared::test_support::local_aws;
use shared::test_support::runtime_api::{RuntimeApi, command, run_binary};
use testenv::moto::Moto;

use crate::{TABLE, table};

const BINARY: &str = env!("CARGO_BIN_EXE_chat-connect");

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn the_binary_stores_the_connection_in_the_table_the_template_names() {
    let moto = Moto::start();
    table(&moto.endpoint).await;
    let mut environment = local_aws::endpoint_environment(&moto.endpoint);
    environment.push((TABLE_VARIABLE.to_owned(), TABLE.to_owned()));
    let second = CONNECT_AUTHORIZED
        .replace("CX1a2cOoDoECIbQ=", "CX2bbbbbbbbbbbb=")
        .replace("\"alice\"", "\"bob\"");
    let run = bounded(run_binary(
        BINARY,
        &environment,
        vec![CONNECT_AUTHORIZED.to_owned(), second],
    ))
    .await;
    for outcome in &run.outcomes {
        assert_eq!(outcome.kind, "response");
        let response: serde_json::Value = serde_json::from_slice(&outcome.body).unwrap();
        assert_eq!(response["statusCode"], 200, "{response}");
    }
    let items = local_aws::items(&moto.endpoint, TABLE).await;
    assert_eq!(items.len(), 2, "{items:#?}");
    assert_eq!(
        items["CX1a2cOoDoECIbQ="]["userName"].as_s().unwrap(),
        "alice"
    );
    assert_eq!(items["CX2bbbbbbbbbbbb="]["userName"].as_s().unwrap(), "bob");
    let connected = run
        .logs
        .iter()
        .filter(|line| line["message"] == "connected")
        .count();
    assert_eq!(connected, 2, "{:#?}", run.logs);
}

#[tokio::test]
async fn without_the_table_variable_the_binary_does_not_start() {
    let runtime = RuntimeApi::start(vec![]).await;
    let output = bounded(
        command(BINARY, &runtime, &[])
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
