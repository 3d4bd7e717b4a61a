//! The real `authorizer` binary, run through a Lambda Runtime API on 127.0.0.1: an Allow for
//! the fixture's token, the error message API Gateway turns into 401 for another, and no start
//! without a token list.

use std::process::Stdio;

use authorizer::entry_for;
use shared::test_support::bounded;
use shared::test_support::fixtures::AUTHORIZER;
use shared::test_support::runtime_api::{RuntimeApi, command, run_binary};

const BINARY: &str = env!("CARGO_BIN_EXE_authorizer");

#[tokio::test]
async fn the_binary_allows_a_known_token_and_refuses_another_without_logging_it() {
    let environment = vec![("ALLOWED_TOKENS".to_owned(), entry_for("alice", "let-me-in"))];
    let other = AUTHORIZER.replace("let-me-in", "guess");
    let run = bounded(run_binary(
        BINARY,
        &environment,
        vec![AUTHORIZER.to_owned(), other],
    ))
    .await;
    assert_eq!(run.outcomes[0].kind, "response");
    let allowed: serde_json::Value = serde_json::from_slice(&run.outcomes[0].body).unwrap();
    assert_eq!(allowed["principalId"], "alice", "{allowed}");
    assert_eq!(allowed["policyDocument"]["Statement"][0]["Effect"], "Allow");

    assert_eq!(run.outcomes[1].kind, "error");
    let refused: serde_json::Value = serde_json::from_slice(&run.outcomes[1].body).unwrap();
    assert_eq!(refused["errorMessage"], "Unauthorized", "{refused}");

    let logs = serde_json::to_string(&run.logs).unwrap();
    assert!(
        !logs.contains("guess") && !logs.contains("let-me-in"),
        "{logs}"
    );
    assert!(
        logs.contains("admitted") && logs.contains("refused"),
        "{logs}"
    );
}

#[tokio::test]
async fn without_a_token_list_the_binary_does_not_start() {
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
    assert!(stderr.contains("ALLOWED_TOKENS is not set"), "{stderr}");
}
