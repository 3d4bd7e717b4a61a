//! Many clients at once, and Lambda-style scaling: a slow invocation never blocks others.

use std::collections::BTreeSet;

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn fifty_clients_get_their_own_echoes_and_nothing_else() {
    bounded(async {
        let asm = Assembly::standard("fifty").write();
        let gw = asm.start().await;
        let url = gw.url();
        let mut clients = tokio::task::JoinSet::new();
        for c in 0..50 {
            let url = url.clone();
            clients.spawn(async move {
                let mut client = connect(&url).await;
                let mut expected = BTreeSet::new();
                for m in 0..3 {
                    let token = format!("client{c}-message{m}");
                    send(
                        &mut client,
                        json!({"action": "echo", "token": token}).to_string(),
                    )
                    .await;
                    expected.insert(token);
                }
                let mut got = BTreeSet::new();
                let mut ids = BTreeSet::new();
                for _ in 0..3 {
                    let event = next_json(&mut client).await;
                    let body: serde_json::Value =
                        serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
                    got.insert(body["token"].as_str().unwrap().to_owned());
                    ids.insert(
                        event["requestContext"]["connectionId"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    );
                }
                assert_eq!(got, expected, "client {c} got someone else's echo");
                assert_eq!(ids.len(), 1, "client {c} saw several connection ids");
                // Nothing else is queued for this client: the next frame answers the next message.
                let event = echo(&mut client, json!({"action": "echo", "token": "last"})).await;
                assert!(
                    event["body"]
                        .as_str()
                        .unwrap()
                        .contains(r#""token":"last""#),
                    "{event}"
                );
                client.close(None).await.unwrap();
                ids.into_iter().next().unwrap()
            });
        }
        let mut ids = BTreeSet::new();
        while let Some(id) = clients.join_next().await {
            ids.insert(id.expect("a client task failed"));
        }
        assert_eq!(ids.len(), 50, "connection ids are not unique");
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_slow_invocation_does_not_block_other_connections_or_messages() {
    bounded(async {
        let asm = Assembly::standard("slow").write();
        let gw = asm.start().await;
        let mut slow = connect(&gw.url()).await;
        let mut fast = connect(&gw.url()).await;
        connection_id(&mut slow).await;
        connection_id(&mut fast).await;

        send(
            &mut slow,
            json!({"action": "echo", "do": "sleep", "ms": 2000}).to_string(),
        )
        .await;
        // Another connection is served meanwhile (by another process).
        tokio::select! {
            biased;
            event = echo(&mut fast, json!({"action": "echo", "token": "fast"})) => {
                assert!(event["body"].as_str().unwrap().contains("fast"));
            }
            text = next_text(&mut slow) => panic!("the slow reply came first: {text}"),
        }
        // So is another message on the same connection.
        send(
            &mut slow,
            json!({"action": "echo", "token": "second"}).to_string(),
        )
        .await;
        let first = next_json(&mut slow).await;
        assert!(
            first["body"].as_str().unwrap().contains("second"),
            "{first}"
        );
        let late = next_json(&mut slow).await;
        assert!(late["body"].as_str().unwrap().contains("sleep"), "{late}");
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn processes_scale_up_to_max_concurrency() {
    bounded(async {
        let asm = Assembly::standard("scale").write();
        let mut options = asm.options();
        options.max_concurrency = 2;
        let gw = gateway::start(options).await.unwrap();
        let mut clients = Vec::new();
        for _ in 0..6 {
            let mut client = connect(&gw.url()).await;
            send(
                &mut client,
                json!({"action": "echo", "do": "pid", "ms": 1000}).to_string(),
            )
            .await;
            clients.push(client);
        }
        let mut pids = BTreeSet::new();
        for client in &mut clients {
            pids.insert(next_text(client).await);
        }
        assert_eq!(pids.len(), 2, "six overlapping invocations ran in {pids:?}");
        gw.shutdown().await;
    })
    .await;
}
