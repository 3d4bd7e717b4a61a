//! Posting a reply through a real HTTP server on 127.0.0.1 standing in for the management
//! endpoint, and what each of its answers turns into.

use serde_json::Value;
use shared::ApiGatewayProxyResponse;
use shared::delivery::reply_to_sender;
use shared::management::Management;
use shared::test_support::endpoint::{Answer, Endpoint, Recorded};
use shared::test_support::fixtures::{self, MESSAGE};
use shared::test_support::{bounded, logs, settings_for};

const CONNECTION_PATH: &str = "/dev/@connections/CX1a2cOoDoECIbQ%3D";

async fn deliver(endpoint: &str, reply: &[u8]) -> (ApiGatewayProxyResponse, Vec<Value>) {
    let management = Management::new(settings_for(endpoint));
    let request = fixtures::parse(MESSAGE);
    bounded(logs::capture(reply_to_sender(
        &management,
        &request,
        reply.to_vec(),
    )))
    .await
}

fn assert_post(recorded: &Recorded, path: &str, body: &[u8]) {
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.path, path);
    assert_eq!(recorded.body, body);
}

fn log_with<'a>(lines: &'a [Value], message: &str) -> &'a Value {
    lines
        .iter()
        .find(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.contains(message))
        })
        .unwrap_or_else(|| panic!("no log line containing {message:?} in {lines:#?}"))
}

#[tokio::test]
async fn a_reply_is_posted_signed_to_the_connection() {
    let server = Endpoint::start(vec![], Answer::ok()).await;
    let (response, lines) = deliver(&server.url("dev"), br#"{"hello":"world"}"#).await;
    assert_eq!(response.status_code, 200);
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 1);
    assert_post(&recorded[0], CONNECTION_PATH, br#"{"hello":"world"}"#);
    let authorization = recorded[0].header("authorization").unwrap();
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDWSECHOTEST/"),
        "{authorization}"
    );
    assert!(
        authorization.contains("/eu-west-1/execute-api/aws4_request"),
        "{authorization}"
    );
    assert_eq!(
        recorded[0].header("x-amz-security-token"),
        Some("wsecho-test-session")
    );
    // One INFO line per delivered reply, saying which message it answers.
    let sent = log_with(&lines, "reply sent");
    assert_eq!(sent["level"], "INFO");
    assert_eq!(sent["route_key"], "echo");
    assert_eq!(sent["request_id"], "CX1bKGbYDoEFuJg=");
    assert_eq!(
        lines.iter().filter(|l| l["level"] == "INFO").count(),
        1,
        "{lines:#?}"
    );
}

#[tokio::test]
async fn connection_ids_are_url_encoded_and_a_stageless_endpoint_works() {
    let server = Endpoint::start(vec![], Answer::ok()).await;
    let management = Management::new(settings_for(&server.url("")));
    let mut request = fixtures::parse(MESSAGE);
    request.request_context.connection_id = Some("a/b+c=".to_owned());
    let response = bounded(reply_to_sender(&management, &request, b"x".to_vec())).await;
    assert_eq!(response.status_code, 200);
    assert_post(&server.recorded()[0], "/@connections/a%2Fb%2Bc%3D", b"x");
}

#[tokio::test]
async fn a_gone_connection_is_logged_at_info_and_answered_200() {
    for answer in [Answer::aws_error(410, "GoneException"), Answer::bare(410)] {
        let server = Endpoint::start(vec![], answer).await;
        let (response, lines) = deliver(&server.url("dev"), b"{}").await;
        assert_eq!(response.status_code, 200);
        // Not retried: the connection will not come back.
        assert_eq!(server.recorded().len(), 1);
        assert_eq!(log_with(&lines, "connection is gone")["level"], "INFO");
        assert!(
            lines.iter().all(|line| line["level"] != "ERROR"),
            "{lines:#?}"
        );
    }
}

#[tokio::test]
async fn a_413_gets_the_short_error_message_instead() {
    let script = vec![Answer::aws_error(413, "PayloadTooLargeException")];
    let server = Endpoint::start(script, Answer::ok()).await;
    let reply = vec![b'x'; 1000];
    let (response, lines) = deliver(&server.url("dev"), &reply).await;
    assert_eq!(response.status_code, 200);
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 2);
    assert_post(&recorded[0], CONNECTION_PATH, &reply);
    let short: Value = serde_json::from_slice(&recorded[1].body).unwrap();
    assert_eq!(short["error"], "reply_too_large");
    assert_eq!(short["size"], 1000);
    assert_eq!(
        log_with(&lines, "refused the reply as too large")["level"],
        "WARN"
    );
}

#[tokio::test]
async fn a_413_for_the_short_message_too_is_a_500() {
    let server = Endpoint::start(vec![], Answer::bare(413)).await;
    let (response, lines) = deliver(&server.url("dev"), b"{}").await;
    assert_eq!(response.status_code, 500);
    assert_eq!(server.recorded().len(), 2);
    assert_eq!(
        log_with(&lines, "even the short error")["error_kind"],
        "payload_too_large"
    );
}

#[tokio::test]
async fn a_500_is_retried_then_logged_with_its_kind_and_answered_500() {
    let server = Endpoint::start(
        vec![],
        Answer::aws_error(500, "InternalServerErrorException"),
    )
    .await;
    let (response, lines) = deliver(&server.url("dev"), b"{}").await;
    assert_eq!(response.status_code, 500);
    let recorded = server.recorded();
    assert_eq!(recorded.len(), 3, "3 attempts");
    assert!(recorded.iter().all(|r| r.body == b"{}"));
    let line = log_with(&lines, "posting the reply failed");
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["error_kind"], "service");
    assert_eq!(line["status"], 500);
    assert_eq!(line["connection_id"], "CX1a2cOoDoECIbQ=");
}

#[tokio::test]
async fn a_500_then_success_is_a_200() {
    let server = Endpoint::start(vec![Answer::bare(500)], Answer::ok()).await;
    let (response, _) = deliver(&server.url("dev"), b"{}").await;
    assert_eq!(response.status_code, 200);
    assert_eq!(server.recorded().len(), 2);
}

#[tokio::test]
async fn forbidden_is_not_retried_and_is_a_500_with_its_code() {
    let server = Endpoint::start(vec![], Answer::aws_error(403, "ForbiddenException")).await;
    let (response, lines) = deliver(&server.url("dev"), b"{}").await;
    assert_eq!(response.status_code, 500);
    assert_eq!(server.recorded().len(), 1);
    let line = log_with(&lines, "posting the reply failed");
    assert_eq!(line["code"], "ForbiddenException");
    assert_eq!(line["status"], 403);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_dispatch_error() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (response, lines) = deliver(&format!("http://127.0.0.1:{port}/dev"), b"{}").await;
    assert_eq!(response.status_code, 500);
    assert_eq!(
        log_with(&lines, "posting the reply failed")["error_kind"],
        "dispatch"
    );
}

#[tokio::test]
async fn an_event_without_a_connection_id_posts_nothing() {
    let server = Endpoint::start(vec![], Answer::ok()).await;
    let management = Management::new(settings_for(&server.url("dev")));
    let mut request = fixtures::parse(MESSAGE);
    request.request_context.connection_id = None;
    let (response, lines) = bounded(logs::capture(reply_to_sender(
        &management,
        &request,
        b"{}".to_vec(),
    )))
    .await;
    assert_eq!(response.status_code, 400);
    assert!(server.recorded().is_empty());
    assert_eq!(
        log_with(&lines, "no requestContext.connectionId")["level"],
        "ERROR"
    );
}

#[tokio::test]
async fn an_event_without_a_domain_and_no_override_is_a_500() {
    let mut settings = settings_for("unused");
    settings.endpoint_override = None;
    let management = Management::new(settings);
    let mut request = fixtures::parse(MESSAGE);
    request.request_context.domain_name = None;
    let (response, lines) = bounded(logs::capture(reply_to_sender(
        &management,
        &request,
        b"{}".to_vec(),
    )))
    .await;
    assert_eq!(response.status_code, 500);
    let line = log_with(&lines, "no management endpoint");
    assert!(
        line["error"]
            .as_str()
            .unwrap()
            .contains("WSECHO_MANAGEMENT_ENDPOINT"),
        "{line}"
    );
}

#[tokio::test]
async fn replies_through_one_management_share_one_connection() {
    let server = Endpoint::start(vec![], Answer::ok()).await;
    let management = Management::new(settings_for(&server.url("dev")));
    let request = fixtures::parse(MESSAGE);
    for reply in [&b"first"[..], b"second", b"third"] {
        let response = bounded(reply_to_sender(&management, &request, reply.to_vec())).await;
        assert_eq!(response.status_code, 200);
    }
    let bodies: Vec<_> = server.recorded().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, [&b"first"[..], b"second", b"third"]);
    // The HTTP client (and its pool) lives in `Management`: one per process keeps the
    // connection, where one per invocation would open a new one each time.
    assert_eq!(server.connections(), 1);
}
