//! The real `chat-disconnect` binary, run through a Lambda Runtime API on 127.0.0.1, its
//! DynamoDB client pointed at moto by `AWS_ENDPOINT_URL` (the variable for every service).

use shared::connections::TABLE_VARIABLE;
use shared::test_support::bounded;
use shared::test_support::fixtures::DISCONNECT_AUTHORIZED;
use shared::test_support::local_aws;
use shared::test_support::runtime_api::run_binary;
use testenv::moto::Moto;

use crate::{LEAVING, STAYING, TABLE, table_with_two};

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn the_binary_deletes_the_entry() {
    let moto = Moto::start();
    table_with_two(&moto.endpoint).await;
    let environment = vec![
        ("AWS_ENDPOINT_URL".to_owned(), moto.endpoint.clone()),
        (TABLE_VARIABLE.to_owned(), TABLE.to_owned()),
    ];
    let run = bounded(run_binary(
        env!("CARGO_BIN_EXE_chat-disconnect"),
        &environment,
        vec![DISCONNECT_AUTHORIZED.to_owned()],
    ))
    .await;
    assert_eq!(run.outcomes[0].kind, "response");
    let response: serde_json::Value = serde_json::from_slice(&run.outcomes[0].body).unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    let items = local_aws::items(&moto.endpoint, TABLE).await;
    assert_eq!(items.keys().collect::<Vec<_>>(), vec![STAYING]);
    let line = run
        .logs
        .iter()
        .find(|line| line["message"] == "disconnected")
        .unwrap_or_else(|| panic!("no log line in {:#?}", run.logs));
    assert_eq!(line["connection_id"], LEAVING);
}
