//! The real `chat-authorizer` binary, run through a Lambda Runtime API on 127.0.0.1, reading
//! its key from moto's Secrets Manager as the local gateway points it
//! (`AWS_ENDPOINT_URL_SECRETS_MANAGER`).

use std::process::Stdio;

use chat_authorizer::SECRET_VARIABLE;
use shared::test_support::bounded;
use shared::test_support::local_aws;
use shared::test_support::runtime_api::{RuntimeApi, command, run_binary};
use testenv::moto::Moto;

use crate::{KEY, event_json, token};

const BINARY: &str = env!("CARGO_BIN_EXE_chat-authorizer");

fn environment(endpoint: &str, secret: &str) -> Vec<(String, String)> {
    let mut environment = local_aws::endpoint_environment(endpoint);
    environment.push((SECRET_VARIABLE.to_owned(), secret.to_owned()));
    environment
}

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn the_binary_reads_the_key_once_and_admits_only_its_tokens() {
    let moto = Moto::start();
    let key = std::str::from_utf8(KEY).unwrap();
    let secret = local_aws::create_secret(&moto.endpoint, "ChatSigningKey", key).await;
    // Tokens for now: the binary checks `exp` against the clock.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let valid = chat_token::sign(KEY, &chat_token::Claims::new("alice", now, 600).unwrap());
    let forged = token(
        b"a key the stack never made, 32 bytes or more......",
        "mallory",
    );
    let run = bounded(run_binary(
        BINARY,
        &environment(&moto.endpoint, &secret),
        vec![event_json(&valid), event_json(&forged), event_json(&valid)],
    ))
    .await;
    assert_eq!(run.outcomes.len(), 3);
    for admitted in [&run.outcomes[0], &run.outcomes[2]] {
        assert_eq!(admitted.kind, "response");
        let response: serde_json::Value = serde_json::from_slice(&admitted.body).unwrap();
        assert_eq!(response["principalId"], "alice", "{response}");
        assert_eq!(response["context"]["user"], "alice", "{response}");
    }
    assert_eq!(run.outcomes[1].kind, "error");
    let refused: serde_json::Value = serde_json::from_slice(&run.outcomes[1].body).unwrap();
    assert_eq!(refused["errorMessage"], "Unauthorized", "{refused}");

    let reads = run
        .logs
        .iter()
        .filter(|line| line["message"] == "signing key read")
        .count();
    assert_eq!(reads, 1, "once per cold start: {:#?}", run.logs);
    let logs = serde_json::to_string(&run.logs).unwrap();
    for secret_text in [valid.as_str(), forged.as_str(), key] {
        assert!(
            !logs.contains(secret_text),
            "a token or the key logged: {logs}"
        );
    }
    assert!(logs.contains("bad token: refused"), "{logs}");
}

/// Runs the binary with `environment` and no event; returns its stderr once it exits.
async fn start_failure(environment: &[(String, String)]) -> String {
    let runtime = RuntimeApi::start(vec![]).await;
    let output = bounded(
        command(BINARY, &runtime, environment)
            .stderr(Stdio::piped())
            .output(),
    )
    .await
    .expect("run the binary");
    assert!(!output.status.success(), "the binary started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn without_the_secret_variable_the_binary_does_not_start() {
    let stderr = start_failure(&[]).await;
    assert!(
        stderr.contains("environment variable SIGNING_KEY_SECRET_ARN is not set"),
        "{stderr}"
    );
}

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn a_short_or_missing_key_stops_the_binary_naming_the_secret() {
    let moto = Moto::start();
    let short = local_aws::create_secret(&moto.endpoint, "Short", "too short").await;
    let stderr = start_failure(&environment(&moto.endpoint, &short)).await;
    assert!(
        stderr.contains(&short) && stderr.contains("at least 32"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("too short"),
        "the key's value printed: {stderr}"
    );

    let missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:Gone-AbCdEf";
    let stderr = start_failure(&environment(&moto.endpoint, missing)).await;
    assert!(stderr.contains("Gone"), "{stderr}");
}
