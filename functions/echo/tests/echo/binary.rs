//! The real `echo` binary, run through a Lambda Runtime API on 127.0.0.1, posting to a
//! management endpoint on 127.0.0.1 named by `WSECHO_MANAGEMENT_ENDPOINT`.

use shared::actions::ACTIONS_VARIABLE;
use shared::test_support::bounded;
use shared::test_support::endpoint::{Answer, Endpoint};
use shared::test_support::fixtures::MESSAGE;
use shared::test_support::runtime_api::{RuntimeApi, command, run_binary};
use std::process::Stdio;

const BINARY: &str = env!("CARGO_BIN_EXE_echo");

#[tokio::test]
async fn the_binary_echoes_through_the_override_endpoint() {
    let server = Endpoint::start(vec![], Answer::ok()).await;
    let environment = vec![
        ("WSECHO_MANAGEMENT_ENDPOINT".to_owned(), server.url("dev")),
        // What the echo app's template gives the functions that reply.
        (ACTIONS_VARIABLE.to_owned(), r#"["echo"]"#.to_owned()),
    ];
    // Two invocations: the second reuses the process and its client.
    let run = bounded(run_binary(
        BINARY,
        &environment,
        vec![MESSAGE.to_owned(), MESSAGE.to_owned()],
    ))
    .await;

    assert_eq!(run.outcomes.len(), 2);
    for (index, outcome) in run.outcomes.iter().enumerate() {
        assert_eq!(outcome.request_id, format!("invocation-{index}"));
        assert_eq!(outcome.kind, "response");
        let response: serde_json::Value = serde_json::from_slice(&outcome.body).unwrap();
        assert_eq!(response["statusCode"], 200, "{response}");
    }
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 2);
    // `main` builds the management client once: the second reply reuses the connection.
    assert_eq!(server.connections(), 1);
    for post in &recorded {
        assert_eq!(post.path, "/dev/@connections/CX1a2cOoDoECIbQ%3D");
        let reply: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
        assert_eq!(reply["received"]["data"], "hello");
        let authorization = post.header("authorization").unwrap();
        assert!(
            authorization.contains("Credential=AKIDWSECHOTEST/"),
            "{authorization}"
        );
    }
    let sent: Vec<_> = run
        .logs
        .iter()
        .filter(|line| line["message"] == "reply sent")
        .collect();
    assert_eq!(sent.len(), 2, "{:#?}", run.logs);
    assert_eq!(sent[0]["connection_id"], "CX1a2cOoDoECIbQ=");
    // One line per echo at the default level: the reply line names the route and request.
    let info = run.logs.iter().filter(|line| line["level"] == "INFO");
    assert_eq!(info.count(), 2, "{:#?}", run.logs);
    assert_eq!(sent[0]["route_key"], "echo");
}

#[tokio::test]
async fn without_credentials_the_binary_stops_with_a_clear_error() {
    let runtime = RuntimeApi::start(vec![]).await;
    let environment = vec![("AWS_ACCESS_KEY_ID".to_owned(), String::new())];
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
        stderr.contains("environment variable AWS_ACCESS_KEY_ID is not set"),
        "{stderr}"
    );
}
