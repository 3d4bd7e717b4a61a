//! The AWS services the gateway provides for a template's tables and secrets (moto on
//! 127.0.0.1): created from their properties, resolved in the functions' environment, kept
//! across reloads, killed with the gateway; refused when nothing can provide them.
//!
//! The ones that run moto need the pinned moto_server `cargo xtask test` provides.

use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};
use testenv::Need;

/// A connections-style table and a generated secret, as the chat app declares them.
pub fn with_table_and_secret(asm: Assembly) -> Assembly {
    asm.resource(
        "Table",
        json!({"Type": "AWS::DynamoDB::Table", "Properties": {
            "AttributeDefinitions": [{"AttributeName": "connectionId", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "connectionId", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
            "SSESpecification": {"SSEEnabled": true},
            "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": true}}}),
    )
    .resource(
        "Key",
        json!({"Type": "AWS::SecretsManager::Secret", "Properties": {
            "Description": "signing key",
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": true}}}),
    )
    .resource("Role", json!({"Type": "AWS::IAM::Role", "Properties": {}}))
    .env("Main", "TABLE", json!({"Ref": "Table"}))
    .env("Main", "TABLE_ARN", json!({"Fn::GetAtt": ["Table", "Arn"]}))
    .env("Main", "KEY_ARN", json!({"Ref": "Key"}))
}

fn with_moto(asm: &Assembly) -> gateway::DevOptions {
    let mut opts = asm.options();
    opts.local_services = Some(Need::MotoServer.path());
    opts
}

/// One AWS JSON-protocol call to moto, made independently of the gateway's client (moto
/// checks no signatures).
pub async fn aws(endpoint: &str, target: &str, body: Value) -> Value {
    let (service, content_type) = if target.starts_with("DynamoDB") {
        ("dynamodb", "application/x-amz-json-1.0")
    } else {
        ("secretsmanager", "application/x-amz-json-1.1")
    };
    let addr: std::net::SocketAddr = endpoint.trim_start_matches("http://").parse().unwrap();
    let body = body.to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nX-Amz-Target: {target}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        String::from_utf8_lossy(&response).into_owned()
    };
    let text = tokio::time::timeout(WAIT, exchange)
        .await
        .expect("moto answers in time");
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{target}: {head}\n{body}"
    );
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{target}: not JSON ({e}): {body}"))
}

/// Whether a process runs (a reaped process has no /proc entry, a zombie has state Z).
pub fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

pub async fn stopped(pid: u32) {
    tokio::time::timeout(WAIT, async {
        while running(pid) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("moto (pid {pid}) still runs {WAIT:?} after the gateway stopped"));
}

#[tokio::test]
#[ignore = "needs moto_server: `cargo xtask test` provides it"]
async fn tables_and_secrets_are_created_in_moto_and_reach_the_functions() {
    bounded(async {
        let asm = with_table_and_secret(Assembly::standard("services-create")).write();
        let gw = gateway::start(with_moto(&asm)).await.unwrap_or_else(|e| {
            panic!("the gateway starts: {}", error_chain(&e));
        });
        let services = gw
            .local_services()
            .expect("the template has a table and a secret");
        assert!(
            services.endpoint.starts_with("http://127.0.0.1:"),
            "{services:?}"
        );
        assert!(running(services.pid), "{services:?}");
        assert_eq!(
            services.resources.keys().collect::<Vec<_>>(),
            ["Key", "Table"],
            "{services:?}"
        );
        assert_eq!(services.resources["Table"], "Table");
        let secret_arn = &services.resources["Key"];
        assert!(
            secret_arn.starts_with("arn:aws:secretsmanager:us-east-1:000000000000:secret:Key-"),
            "{secret_arn}"
        );
        let banner = gw.banner();
        assert!(
            banner.contains(&services.endpoint)
                && banner.contains("DynamoDB table Table")
                && banner.contains("Secrets Manager secret Key"),
            "{banner}"
        );

        // The table, from its properties.
        let table = aws(
            &services.endpoint,
            "DynamoDB_20120810.DescribeTable",
            json!({"TableName": "Table"}),
        )
        .await;
        let table = &table["Table"];
        assert_eq!(
            table["KeySchema"][0]["AttributeName"], "connectionId",
            "{table}"
        );
        assert_eq!(table["KeySchema"][0]["KeyType"], "HASH", "{table}");
        assert_eq!(
            table["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST",
            "{table}"
        );
        let ttl = aws(
            &services.endpoint,
            "DynamoDB_20120810.DescribeTimeToLive",
            json!({"TableName": "Table"}),
        )
        .await;
        assert_eq!(
            ttl["TimeToLiveDescription"]["AttributeName"], "expiresAt",
            "{ttl}"
        );
        assert_eq!(
            ttl["TimeToLiveDescription"]["TimeToLiveStatus"], "ENABLED",
            "{ttl}"
        );
        // The secret, generated as the template asks: 64 letters and digits.
        let secret = aws(
            &services.endpoint,
            "secretsmanager.GetSecretValue",
            json!({"SecretId": secret_arn}),
        )
        .await;
        let value = secret["SecretString"].as_str().unwrap();
        assert_eq!(value.len(), 64, "{secret}");
        assert!(value.chars().all(|c| c.is_ascii_alphanumeric()), "{value}");

        // The functions get the physical ids and the endpoints.
        let mut client = connect(&gw.url()).await;
        send(
            &mut client,
            json!({"action": "echo", "do": "env"}).to_string(),
        )
        .await;
        let env: Value = serde_json::from_str(&next_text(&mut client).await).unwrap();
        assert_eq!(env["TABLE"], "Table", "{env}");
        assert_eq!(env["TABLE_ARN"], table["TableArn"], "{env}");
        assert_eq!(env["KEY_ARN"], secret_arn.as_str(), "{env}");
        assert_eq!(env["AWS_ENDPOINT_URL_DYNAMODB"], services.endpoint, "{env}");
        assert_eq!(
            env["AWS_ENDPOINT_URL_SECRETS_MANAGER"], services.endpoint,
            "{env}"
        );
        assert_eq!(env["AWS_ACCESS_KEY_ID"], gw.credentials().access_key_id);

        client.close(None).await.unwrap();
        let pid = services.pid;
        gw.shutdown().await;
        stopped(pid).await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs moto_server: `cargo xtask test` provides it"]
async fn table_contents_survive_a_reload_and_new_resources_are_created() {
    bounded(async {
        let asm = with_table_and_secret(Assembly::standard("services-reload")).write();
        let gw = gateway::start(with_moto(&asm)).await.unwrap_or_else(|e| {
            panic!("the gateway starts: {}", error_chain(&e));
        });
        let before = gw.local_services().unwrap();
        aws(
            &before.endpoint,
            "DynamoDB_20120810.PutItem",
            json!({"TableName": "Table", "Item": {"connectionId": {"S": "kept"}}}),
        )
        .await;

        // The template changes: another table, and the function gets its name.
        let asm = asm
            .resource(
                "Other",
                json!({"Type": "AWS::DynamoDB::Table", "Properties": {
                "TableName": "other-table",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST"}}),
            )
            .env("Main", "OTHER", json!({"Ref": "Other"}));
        std::fs::write(
            asm.dir.join("template.json"),
            serde_json::to_string_pretty(&asm.template()).unwrap(),
        )
        .unwrap();
        let report = gw
            .reload()
            .unwrap_or_else(|e| panic!("{}", error_chain(&e)));
        assert!(
            report
                .restarted
                .iter()
                .any(|r| r.why.contains(&"environment")),
            "{report:?}"
        );

        let after = gw.local_services().unwrap();
        assert_eq!(after.pid, before.pid, "the same moto serves on");
        assert_eq!(after.endpoint, before.endpoint);
        assert_eq!(after.resources["Key"], before.resources["Key"]);
        assert_eq!(after.resources["Other"], "other-table");
        let item = aws(
            &after.endpoint,
            "DynamoDB_20120810.GetItem",
            json!({"TableName": "Table", "Key": {"connectionId": {"S": "kept"}}}),
        )
        .await;
        assert_eq!(item["Item"]["connectionId"]["S"], "kept", "{item}");

        let mut client = connect(&gw.url()).await;
        send(
            &mut client,
            json!({"action": "echo", "do": "env"}).to_string(),
        )
        .await;
        let env: Value = serde_json::from_str(&next_text(&mut client).await).unwrap();
        assert_eq!(env["OTHER"], "other-table", "{env}");
        client.close(None).await.unwrap();

        // Dropped without shutdown (a failing test): moto still dies.
        drop(gw);
        stopped(after.pid).await;
    })
    .await;
}

#[tokio::test]
async fn a_table_without_moto_is_refused_naming_it_and_what_provides_it() {
    bounded(async {
        let asm = with_table_and_secret(Assembly::standard("services-no-moto")).write();
        let error = match gateway::start(asm.options()).await {
            Ok(_) => panic!("a template with a table needs moto"),
            Err(e) => error_chain(&e),
        };
        assert!(
            error.contains("Key") || error.contains("Table"),
            "names the resource: {error}"
        );
        assert!(error.contains("moto"), "says what provides it: {error}");
    })
    .await;
}

#[tokio::test]
async fn a_resource_the_gateway_cannot_provide_is_refused_naming_it() {
    bounded(async {
        // A function that needs a queue: there is no local queue, so the gateway must not
        // start as if there were (moto is given; it is not even started).
        let asm = Assembly::standard("services-queue")
            .resource("Jobs", json!({"Type": "AWS::SQS::Queue", "Properties": {}}))
            .env("Main", "QUEUE_URL", json!({"Ref": "Jobs"}));
        let asm = asm.write();
        let mut opts = asm.options();
        opts.local_services = Some("/nonexistent/moto_server".into());
        let error = match gateway::start(opts).await {
            Ok(_) => panic!("a queue cannot be provided"),
            Err(e) => error_chain(&e),
        };
        assert!(
            error.contains("Jobs") && error.contains("AWS::SQS::Queue"),
            "names the resource and its type: {error}"
        );

        // Referred to from the environment, a resource the gateway only ignores (a log group)
        // has no local value either.
        let asm = Assembly::standard("services-loggroup")
            .resource(
                "Logs",
                json!({"Type": "AWS::Logs::LogGroup", "Properties": {}}),
            )
            .env("Main", "LOGS", json!({"Ref": "Logs"}))
            .write();
        let error = match gateway::start(asm.options()).await {
            Ok(_) => panic!("a log group has no local value"),
            Err(e) => error_chain(&e),
        };
        assert!(
            error.contains("Logs (AWS::Logs::LogGroup)") && error.contains("LOGS"),
            "{error}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_template_without_tables_or_secrets_starts_no_moto() {
    bounded(async {
        let asm = Assembly::standard("services-none").write();
        let mut opts = asm.options();
        // It would fail to start: it is not started at all.
        opts.local_services = Some("/nonexistent/moto_server".into());
        let gw = gateway::start(opts).await.expect("the gateway starts");
        assert!(gw.local_services().is_none());
        assert!(!gw.banner().contains("local AWS"), "{}", gw.banner());
        let mut client = connect(&gw.url()).await;
        send(
            &mut client,
            json!({"action": "echo", "do": "env"}).to_string(),
        )
        .await;
        let env: Value = serde_json::from_str(&next_text(&mut client).await).unwrap();
        assert!(env.get("AWS_ENDPOINT_URL_DYNAMODB").is_none(), "{env}");
        assert!(
            env.get("AWS_ENDPOINT_URL_SECRETS_MANAGER").is_none(),
            "{env}"
        );
        client.close(None).await.unwrap();
        gw.shutdown().await;
    })
    .await;
}
