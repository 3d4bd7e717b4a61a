//! The real `default` binary, run through a Lambda Runtime API on 127.0.0.1.

use serde_json::Value;
use shared::actions::ACTIONS_VARIABLE;
use shared::test_support::bounded;
use shared::test_support::endpoint::{Answer, Endpoint};
use shared::test_support::fixtures::MESSAGE;
use shared::test_support::runtime_api::run_binary;

#[tokio::test]
async fn the_binary_explains_a_message_that_is_not_json() {
    let server = Endpoint::start(vec![], Answer::ok()).await;
    let environment = vec![
        ("WSECHO_MANAGEMENT_ENDPOINT".to_owned(), server.url("dev")),
        // What the echo app's template gives the functions that reply.
        (ACTIONS_VARIABLE.to_owned(), r#"["echo"]"#.to_owned()),
    ];
    let mut event: Value = serde_json::from_str(MESSAGE).unwrap();
    event["requestContext"]["routeKey"] = "$default".into();
    event["body"] = "not json at all".into();
    let run = bounded(run_binary(
        env!("CARGO_BIN_EXE_default"),
        &environment,
        vec![event.to_string()],
    ))
    .await;
    let response: Value = serde_json::from_slice(&run.outcomes[0].body).unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 1);
    let reply: Value = serde_json::from_slice(&recorded[0].body).unwrap();
    assert_eq!(reply["error"], "not_json");
    assert_eq!(reply["received"], "not json at all");
    assert!(
        run.logs
            .iter()
            .any(|line| line["message"] == "message not routed")
    );
}
