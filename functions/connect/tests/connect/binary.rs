//! The real `connect` binary, run through a Lambda Runtime API on 127.0.0.1.

use shared::test_support::bounded;
use shared::test_support::fixtures::CONNECT;
use shared::test_support::runtime_api::run_binary;

#[tokio::test]
async fn the_binary_answers_200_and_logs_json() {
    let run = bounded(run_binary(
        env!("CARGO_BIN_EXE_connect"),
        &[],
        vec![CONNECT.to_owned()],
    ))
    .await;
    assert_eq!(run.outcomes[0].kind, "response");
    let response: serde_json::Value = serde_json::from_slice(&run.outcomes[0].body).unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    let line = run
        .logs
        .iter()
        .find(|line| line["message"] == "connected")
        .unwrap_or_else(|| panic!("no log line in {:#?}", run.logs));
    assert_eq!(line["connection_id"], "CX1a2cOoDoECIbQ=");
    assert_eq!(line["level"], "INFO");
}
