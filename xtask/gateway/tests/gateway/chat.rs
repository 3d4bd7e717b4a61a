//! End to end: the chat app's real functions (authorizer, connect, disconnect, sendmessage,
//! default) behind the local gateway, with its table and signing key in the moto server the
//! gateway starts, driven by real WebSocket clients.
//!
//! They need what `cargo xtask test` provides: the apps' assemblies (functions built for this
//! machine) and the pinned moto_server. Plain `cargo test` skips them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::*;
use crate::services::{aws, stopped};
use gateway::Gateway;
use serde_json::{Value, json};
use testenv::Need;

const TABLE_TYPE: &str = "AWS::DynamoDB::Table";
const SECRET_TYPE: &str = "AWS::SecretsManager::Secret";

/// The running chat: its gateway, the signing key moto holds, the connections table's name.
struct Chat {
    gw: Gateway,
    key: String,
    table: String,
    endpoint: String,
}

/// The logical ID of the chat template's only resource of this type.
fn only_resource(template: &Value, ty: &str) -> String {
    let found: Vec<&str> = assembly::template::resources_of_type(template, ty)
        .map(|(id, _)| id)
        .collect();
    let [one] = found.as_slice() else {
        panic!("the chat template should have one {ty}, it has {found:?}");
    };
    (*one).to_owned()
}

async fn start_chat() -> Chat {
    let assembly = testenv::app_assembly("chat");
    let template: Value = serde_json::from_str(
        &std::fs::read_to_string(assembly.join(assembly::TEMPLATE_FILE)).unwrap(),
    )
    .unwrap();
    let mut opts = gateway::DevOptions::new(&assembly);
    // Its own unpacked folder: the tests of this binary run at once.
    let unpacked = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "gateway-chat-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    opts.unpacked = Some(unpacked);
    opts.local_services = Some(Need::MotoServer.path());
    let gw = gateway::start(opts).await.unwrap_or_else(|e| {
        panic!(
            "the gateway cannot run {}: {}",
            assembly.display(),
            error_chain(&e)
        )
    });
    let services = gw
        .local_services()
        .expect("the chat has a table and a secret");
    let secret = &services.resources[&only_resource(&template, SECRET_TYPE)];
    let value = aws(
        &services.endpoint,
        "secretsmanager.GetSecretValue",
        json!({"SecretId": secret}),
    )
    .await;
    Chat {
        key: value["SecretString"].as_str().unwrap().to_owned(),
        table: services.resources[&only_resource(&template, TABLE_TYPE)].clone(),
        endpoint: services.endpoint,
        gw,
    }
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Chat {
    /// A token for `user`, signed with the stack's key as `cargo xtask token` signs it.
    fn token(&self, user: &str) -> String {
        let claims = chat_token::Claims::new(user, now(), 3600).unwrap();
        chat_token::sign(self.key.as_bytes(), &claims)
    }

    fn url_with(&self, token: &str) -> String {
        format!("{}?token={token}", self.gw.url())
    }

    async fn join(&self, user: &str) -> Client {
        connect(&self.url_with(&self.token(user))).await
    }

    /// The table's entries: connection id → user name.
    async fn entries(&self) -> Vec<(String, String)> {
        let scan = aws(
            &self.endpoint,
            "DynamoDB_20120810.Scan",
            json!({"TableName": self.table}),
        )
        .await;
        let mut entries: Vec<(String, String)> = scan["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                (
                    item["connectionId"]["S"].as_str().unwrap().to_owned(),
                    item["userName"]["S"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect();
        entries.sort();
        entries
    }

    /// Waits (bounded) until the table's entries satisfy `done`.
    async fn entries_until(&self, what: &str, done: impl Fn(&[(String, String)]) -> bool) {
        let waited = tokio::time::timeout(WAIT, async {
            loop {
                let entries = self.entries().await;
                if done(&entries) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        if waited.is_err() {
            panic!(
                "{what} within {WAIT:?}; the table: {:?}",
                self.entries().await
            );
        }
    }
}

fn users(entries: &[(String, String)]) -> Vec<&str> {
    let mut users: Vec<&str> = entries.iter().map(|(_, u)| u.as_str()).collect();
    users.sort_unstable();
    users
}

async fn say(client: &mut Client, message: Value) {
    send(client, message.to_string()).await;
}

/// The next broadcast a client gets: `{from, message, sentAt}`.
async fn heard(client: &mut Client) -> (String, String) {
    let got = next_json(client).await;
    assert!(
        got["sentAt"].is_string() || got["sentAt"].is_number(),
        "{got}"
    );
    (
        got["from"]
            .as_str()
            .unwrap_or_else(|| panic!("{got}"))
            .to_owned(),
        got["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{got}"))
            .to_owned(),
    )
}

#[tokio::test]
#[ignore = "needs the apps' assemblies and moto_server: `cargo xtask test` provides them"]
async fn three_users_chat_and_each_sees_every_message_from_its_sender() {
    bounded(async {
        let chat = start_chat().await;
        let mut alice = chat.join("alice").await;
        let mut bob = chat.join("bob").await;
        let mut carol = chat.join("carol").await;
        assert_eq!(users(&chat.entries().await), ["alice", "bob", "carol"]);

        // Each one speaks; everyone, the sender included, hears each message from its sender.
        for (speaker, text) in [("alice", "hi all"), ("bob", "hi alice"), ("carol", "hey")] {
            let client = match speaker {
                "alice" => &mut alice,
                "bob" => &mut bob,
                _ => &mut carol,
            };
            say(client, json!({"action": "sendmessage", "message": text})).await;
            for listener in [&mut alice, &mut bob, &mut carol] {
                assert_eq!(heard(listener).await, (speaker.to_owned(), text.to_owned()));
            }
        }

        // A message claiming another sender is still the sender's.
        say(
            &mut bob,
            json!({"action": "sendmessage", "message": "I am alice", "from": "alice"}),
        )
        .await;
        for listener in [&mut alice, &mut bob, &mut carol] {
            assert_eq!(heard(listener).await, ("bob".into(), "I am alice".into()));
        }

        // `$default` explains and lists what a message can do.
        say(&mut alice, json!({"action": "dance"})).await;
        let help = next_json(&mut alice).await;
        let actions: Vec<&str> = help["supportedActions"]
            .as_array()
            .unwrap_or_else(|| panic!("{help}"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(actions, ["sendmessage"], "{help}");

        // Carol leaves: her entry goes, and the others chat on without her.
        carol.close(None).await.unwrap();
        chat.entries_until("carol's entry is deleted", |e| users(e) == ["alice", "bob"])
            .await;
        say(
            &mut alice,
            json!({"action": "sendmessage", "message": "bye carol"}),
        )
        .await;
        for listener in [&mut alice, &mut bob] {
            assert_eq!(heard(listener).await, ("alice".into(), "bye carol".into()));
        }
        // Nothing more for carol: her socket only has the end of the close handshake.
        let after = tokio::time::timeout(Duration::from_secs(1), async {
            use futures_util::StreamExt;
            while let Some(Ok(frame)) = carol.next().await {
                if frame.is_text() {
                    return Some(frame);
                }
            }
            None
        })
        .await;
        assert!(
            matches!(after, Ok(None) | Err(_)),
            "carol got {after:?} after leaving"
        );

        alice.close(None).await.unwrap();
        bob.close(None).await.unwrap();
        chat.entries_until("every entry is deleted", <[_]>::is_empty)
            .await;
        let pid = chat.gw.local_services().unwrap().pid;
        chat.gw.shutdown().await;
        stopped(pid).await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the apps' assemblies and moto_server: `cargo xtask test` provides them"]
async fn connecting_without_a_valid_token_is_refused_with_401() {
    bounded(async {
        let chat = start_chat().await;
        // No token: API Gateway refuses before the authorizer runs.
        assert_eq!(refused_status(&chat.gw.url()).await, 401);
        // Not a token, a forged one, an expired one.
        assert_eq!(refused_status(&chat.url_with("not-a-token")).await, 401);
        let forged = chat_token::sign(
            b"another key of at least thirty-two bytes....",
            &chat_token::Claims::new("mallory", now(), 3600).unwrap(),
        );
        assert_eq!(refused_status(&chat.url_with(&forged)).await, 401);
        let expired = chat_token::sign(
            chat.key.as_bytes(),
            &chat_token::Claims::new("alice", now() - 7200, 3600).unwrap(),
        );
        assert_eq!(refused_status(&chat.url_with(&expired)).await, 401);
        assert!(
            chat.entries().await.is_empty(),
            "no refused connection is stored"
        );
        // A valid one gets in.
        let mut alice = chat.join("alice").await;
        assert_eq!(users(&chat.entries().await), ["alice"]);
        alice.close(None).await.unwrap();
        chat.gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the apps' assemblies and moto_server: `cargo xtask test` provides them"]
async fn an_entry_whose_connection_is_gone_is_deleted_during_a_broadcast() {
    bounded(async {
        let chat = start_chat().await;
        let mut alice = chat.join("alice").await;
        // A connection that vanished without `$disconnect`: its entry is still there, and
        // the management API answers 410 for it.
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        aws(
            &chat.endpoint,
            "DynamoDB_20120810.PutItem",
            json!({"TableName": chat.table, "Item": {
                "connectionId": {"S": "GoneGoneGone00A="},
                "userName": {"S": "ghost"},
                "connectedAt": {"N": now_ms.to_string()},
                "expiresAt": {"N": (now() + 3600).to_string()}}}),
        )
        .await;
        assert_eq!(users(&chat.entries().await), ["alice", "ghost"]);

        say(
            &mut alice,
            json!({"action": "sendmessage", "message": "anyone?"}),
        )
        .await;
        assert_eq!(heard(&mut alice).await, ("alice".into(), "anyone?".into()));
        chat.entries_until("the gone connection's entry is deleted", |e| {
            users(e) == ["alice"]
        })
        .await;
        alice.close(None).await.unwrap();
        chat.gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the apps' assemblies and moto_server: `cargo xtask test` provides them"]
async fn the_echo_app_starts_no_moto() {
    bounded(async {
        let assembly = testenv::app_assembly("echo");
        let mut opts = gateway::DevOptions::new(&assembly);
        opts.unpacked = Some(
            std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("gateway-echo-app-{}", std::process::id())),
        );
        opts.local_services = Some(Need::MotoServer.path());
        let gw = gateway::start(opts).await.unwrap_or_else(|e| {
            panic!("the echo app runs: {}", error_chain(&e));
        });
        assert!(gw.local_services().is_none());
        let mut client = connect(&gw.url()).await;
        say(&mut client, json!({"action": "echo", "message": "hi"})).await;
        let reply = next_json(&mut client).await;
        assert_eq!(reply["received"]["message"], "hi", "{reply}");
        client.close(None).await.unwrap();
        gw.shutdown().await;
    })
    .await;
}
