//! Broadcasts against moto and a management endpoint stand-in: every connection, the
//! authorizer's name, gone recipients deleted, pages, bounded concurrency, the deadline.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use shared::test_support::endpoint::{Answer, Endpoint, Recorded};
use shared::test_support::{bounded, local_aws, logs};
use testenv::moto::Moto;
use tokio::net::TcpListener;

use chat_send::{MAX_IN_FLIGHT, Sender};

use crate::{SENDER, TABLE, message, post_path, sender, table_with};

/// Plenty: the handler is given a Lambda invocation's usual remaining time.
const REMAINING: Duration = Duration::from_secs(30);

async fn send(body: &str, sender: &Sender, remaining: Duration) -> (i64, Vec<Value>) {
    let (response, lines) = bounded(logs::capture(chat_send::handle(
        message(body),
        sender,
        remaining,
    )))
    .await;
    (response.status_code, lines)
}

/// The summary line every broadcast logs.
fn summary(lines: &[Value]) -> &Value {
    let summaries: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "message broadcast")
        .collect();
    assert_eq!(summaries.len(), 1, "{lines:#?}");
    summaries[0]
}

fn targets(recorded: &[Recorded]) -> BTreeSet<String> {
    recorded.iter().map(|post| post.path.clone()).collect()
}

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn reaches_every_connection_and_the_sender_named_by_the_authorizer_not_the_body() {
    let moto = Moto::start();
    let entries = [
        (SENDER, "alice"),
        ("CX2bbbbbbbbbbbb=", "bob"),
        ("CX3ccccccccccccc", "carol"),
    ];
    table_with(&moto.endpoint, &entries).await;
    let server = Endpoint::start(vec![], Answer::ok()).await;
    let sender = sender(&server.url("dev"), &moto.endpoint);

    // The body claims to come from someone else: the authorizer's `alice` wins.
    let body = r#"{"action":"sendmessage","message":"hi all 👋","from":"mallory"}"#;
    let (status, lines) = send(body, &sender, REMAINING).await;
    assert_eq!(status, 200, "{lines:#?}");

    let recorded = server.recorded();
    assert_eq!(recorded.len(), 3, "{recorded:#?}");
    let expected: BTreeSet<String> = entries.iter().map(|(id, _)| post_path(id)).collect();
    assert_eq!(targets(&recorded), expected);
    for post in &recorded {
        assert_eq!(post.method, "POST");
        let sent: Value = serde_json::from_slice(&post.body).unwrap();
        // Exactly these fields; `sentAt` is when API Gateway received the message.
        assert_eq!(
            sent,
            json!({"from": "alice", "message": "hi all 👋", "sentAt": 1_795_544_403_457_i64})
        );
    }
    let line = summary(&lines);
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["from"], "alice");
    assert_eq!(line["recipients"], 3);
    assert_eq!(line["delivered"], 3);
    assert_eq!(line["gone"], 0);
    assert_eq!(line["failed"], 0);
    assert_eq!(line["undelivered"], 0);
    assert_eq!(line["scan_complete"], true);
    // Nobody was deleted.
    assert_eq!(local_aws::items(&moto.endpoint, TABLE).await.len(), 3);
}

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn a_recipient_answering_410_is_deleted_and_the_senders_entry_is_kept() {
    let moto = Moto::start();
    let gone = "CX2bbbbbbbbbbbb=";
    table_with(
        &moto.endpoint,
        &[
            (SENDER, "alice"),
            (gone, "bob"),
            ("CX3ccccccccccccc", "carol"),
        ],
    )
    .await;
    // Only bob's connection is gone; one more recipient fails otherwise (500 each try).
    let broken = "CX4dddddddddddd=";
    local_aws::put_connections(
        &moto.endpoint,
        TABLE,
        &[shared::connections::Connection::new(broken, "dave", 1)],
    )
    .await;
    let server = Endpoint::start_routed(
        vec![
            (post_path(gone), Answer::aws_error(410, "GoneException")),
            (post_path(broken), Answer::bare(500)),
        ],
        vec![],
        Answer::ok(),
    )
    .await;
    let sender = sender(&server.url("dev"), &moto.endpoint);
    let (status, lines) = send(
        r#"{"action":"sendmessage","message":"bye bob"}"#,
        &sender,
        REMAINING,
    )
    .await;
    assert_eq!(status, 200, "{lines:#?}");

    let items = local_aws::items(&moto.endpoint, TABLE).await;
    let left: BTreeSet<&str> = items.keys().map(String::as_str).collect();
    // The recipient that was gone is deleted; the sender and the failing one are kept.
    assert_eq!(
        left,
        BTreeSet::from([SENDER, "CX3ccccccccccccc", broken]),
        "{lines:#?}"
    );
    let line = summary(&lines);
    assert_eq!(
        line["level"], "WARN",
        "a failure makes the summary a warning"
    );
    assert_eq!(line["recipients"], 4);
    assert_eq!(line["delivered"], 2);
    assert_eq!(line["gone"], 1);
    assert_eq!(line["failed"], 1);
    assert_eq!(line["undelivered"], 0);
    let failure = lines
        .iter()
        .find(|line| line["message"] == "posting the message failed")
        .unwrap_or_else(|| panic!("no failure line in {lines:#?}"));
    assert_eq!(failure["connection_id"], broken);
}

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn pages_of_the_table_are_all_read_with_bounded_concurrency() {
    let moto = Moto::start();
    let ids: Vec<String> = (0..75).map(|n| format!("CXpage{n:010}=")).collect();
    let entries: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), "user")).collect();
    table_with(&moto.endpoint, &entries).await;
    let server = Endpoint::start(vec![], Answer::ok()).await;
    let mut sender = sender(&server.url("dev"), &moto.endpoint);
    // 10 per page: 8 pages, the last one short.
    sender.connections = sender.connections.with_page_limit(10);
    let (status, lines) = send(
        r#"{"action":"sendmessage","message":"to everyone"}"#,
        &sender,
        REMAINING,
    )
    .await;
    assert_eq!(status, 200);

    let recorded = server.recorded();
    // Each connection exactly once.
    assert_eq!(recorded.len(), ids.len());
    let expected: BTreeSet<String> = ids.iter().map(|id| post_path(id)).collect();
    assert_eq!(targets(&recorded), expected);
    // Keep-alive connections, never more at once than posts in flight.
    assert!(
        server.connections() <= MAX_IN_FLIGHT,
        "{} connections",
        server.connections()
    );
    let line = summary(&lines);
    assert_eq!(line["pages"], 8, "{line}");
    assert_eq!(line["delivered"], 75);
    assert_eq!(line["scan_complete"], true);
}

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn the_broadcast_stops_at_its_deadline_and_says_how_many_it_left() {
    let moto = Moto::start();
    table_with(
        &moto.endpoint,
        &[
            (SENDER, "alice"),
            ("CX2bbbbbbbbbbbb=", "bob"),
            ("CX3ccccccccccccc", "carol"),
        ],
    )
    .await;
    // A management endpoint that takes connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/dev", listener.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let sender = sender(&url, &moto.endpoint);
    let started = std::time::Instant::now();
    // 1.5 s left: the broadcast gets 1 s, far less than one post's 3 s attempt timeout.
    let (status, lines) = send(
        r#"{"action":"sendmessage","message":"anyone?"}"#,
        &sender,
        Duration::from_millis(1500),
    )
    .await;
    let took = started.elapsed();
    hold.abort();
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_millis(1400),
        "the handler answered after {took:?}"
    );
    let line = summary(&lines);
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["timed_out"], true);
    assert_eq!(line["recipients"], 3);
    assert_eq!(line["delivered"], 0);
    assert_eq!(line["undelivered"], 3);
}

#[tokio::test]
#[ignore = "needs the moto server: `cargo xtask test` provides it"]
async fn an_unreadable_table_is_a_500_and_nothing_is_sent() {
    let moto = Moto::start();
    // No table: the scan answers ResourceNotFoundException.
    let server = Endpoint::start(vec![], Answer::ok()).await;
    let sender = sender(&server.url("dev"), &moto.endpoint);
    let (status, lines) = send(
        r#"{"action":"sendmessage","message":"hello?"}"#,
        &sender,
        REMAINING,
    )
    .await;
    assert_eq!(status, 500);
    assert!(server.recorded().is_empty());
    let error = lines
        .iter()
        .find(|line| line["level"] == "ERROR")
        .unwrap_or_else(|| panic!("no error line in {lines:#?}"));
    assert_eq!(error["code"], "ResourceNotFoundException", "{error}");
    assert_eq!(summary(&lines)["scan_complete"], false);
}
