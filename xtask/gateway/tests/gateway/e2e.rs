//! End to end: the real connect/disconnect/default/echo functions of a synthesized assembly
//! behind the local gateway, driven by a Rust client and by wscat.
//!
//! They need what `cargo xtask test` provides (`testenv`): the test assembly (zips for this
//! machine's architecture) and the pinned wscat. Plain `cargo test` skips them.

use std::process::Stdio;
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use testenv::Need;

async fn start_real() -> gateway::Gateway {
    let assembly = Need::Assembly.path();
    gateway::start(gateway::DevOptions::new(&assembly))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the gateway cannot run {}: {}",
                assembly.display(),
                error_chain(&e)
            )
        })
}

#[tokio::test]
#[ignore = "needs the test assembly: `cargo xtask test` provides it"]
async fn echo_and_default_round_trips_with_the_real_functions() {
    bounded(async {
        let gw = start_real().await;
        let mut client = connect(&gw.url()).await;

        send(
            &mut client,
            json!({"action": "echo", "message": "hi"}).to_string(),
        )
        .await;
        let reply = next_json(&mut client).await;
        assert_eq!(reply["action"], "echo", "{reply}");
        assert_eq!(reply["received"]["message"], "hi", "{reply}");
        let connection_id = reply["websocket"]["connectionId"].clone();
        assert!(connection_id.is_string(), "{reply}");

        send(&mut client, json!({"action": "no-such-action"}).to_string()).await;
        let reply = next_json(&mut client).await;
        assert!(reply["error"].is_string(), "{reply}");
        assert!(
            reply["message"]
                .as_str()
                .unwrap()
                .contains("no-such-action"),
            "{reply}"
        );
        // What `$default` advertises is exactly the actions the deployed API routes: the route
        // keys of the template's routes that a message can select.
        let template: Value = serde_json::from_str(
            &std::fs::read_to_string(Need::Assembly.path().join(assembly::TEMPLATE_FILE)).unwrap(),
        )
        .unwrap();
        let mut routed: Vec<&str> =
            assembly::template::resources_of_type(&template, "AWS::ApiGatewayV2::Route")
                .filter_map(|(_, route)| route["Properties"]["RouteKey"].as_str())
                .filter(|key| !key.starts_with('$'))
                .collect();
        routed.sort_unstable();
        let mut advertised: Vec<&str> = reply["supportedActions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        advertised.sort_unstable();
        assert_eq!(advertised, routed, "{reply}");
        assert!(routed.contains(&"echo"), "{routed:?}");
        assert_eq!(reply["websocket"]["connectionId"], connection_id);

        client.close(None).await.unwrap();
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs wscat and the test assembly: `cargo xtask test` provides them"]
async fn echo_round_trip_with_wscat() {
    bounded(async {
        let wscat = Need::Wscat.path();
        let gw = start_real().await;
        let message = json!({"action": "echo", "message": "hi from wscat"}).to_string();
        // wscat exits at once, printing nothing, when its stdin is closed: hold it open.
        let mut child = tokio::process::Command::new(&wscat)
            .args(["-c", &gw.url(), "-x", &message, "-w", "1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", wscat.display()));
        let _stdin = child.stdin.take();
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("wscat finishes within 30 s")
            .unwrap();
        let (mut out, mut err) = (String::new(), String::new());
        stdout.read_to_string(&mut out).await.unwrap();
        stderr.read_to_string(&mut err).await.unwrap();
        assert!(status.success(), "wscat failed ({status}): {out}{err}");
        let reply: Value = out
            .lines()
            .find_map(|line| serde_json::from_str(line.trim_start_matches("< ").trim()).ok())
            .unwrap_or_else(|| panic!("no JSON reply in wscat's output: {out}{err}"));
        assert_eq!(reply["action"], "echo", "{reply}");
        assert_eq!(reply["received"]["message"], "hi from wscat", "{reply}");
        gw.shutdown().await;
    })
    .await;
}
