//! What the gateway reads from an assembly, and the errors it gives for what it cannot run.

use std::os::unix::fs::PermissionsExt;

use crate::common::*;
use serde_json::{Value, json};

/// Starts the gateway on an assembly whose template `edit` changed; returns the error text.
async fn start_error(name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let asm = Assembly::standard(name).write();
    let mut template = asm.template();
    edit(&mut template);
    std::fs::write(asm.dir.join("template.json"), template.to_string()).unwrap();
    match gateway::start(asm.options()).await {
        Ok(_) => panic!("the gateway started on a template it cannot run"),
        Err(e) => error_chain(&e),
    }
}

fn resource_named<'a>(template: &'a mut Value, suffix: &str) -> &'a mut Value {
    let resources = template["Resources"].as_object_mut().unwrap();
    let key = resources
        .keys()
        .find(|k| k.ends_with(suffix))
        .unwrap()
        .clone();
    resources.get_mut(&key).unwrap()
}

#[tokio::test]
async fn unpacks_bootstrap_from_the_zip_once() {
    bounded(async {
        let asm = Assembly::standard("unpack").write_with(true);
        let gw = asm.start().await;
        let dev: Vec<_> = std::fs::read_dir(asm.dir.join(".dev")).unwrap().collect();
        assert_eq!(dev.len(), 1, "one folder per asset");
        let bootstrap = dev[0].as_ref().unwrap().path().join("bootstrap");
        let mode = std::fs::metadata(&bootstrap).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            std::fs::read(&bootstrap).unwrap(),
            std::fs::read(env!("CARGO_BIN_EXE_testfn")).unwrap()
        );
        let mut client = connect(&gw.url()).await;
        connection_id(&mut client).await;
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn unsupported_templates_get_errors_naming_the_resource() {
    bounded(async {
        let err = start_error("err-integration", |t| {
            resource_named(t, "echoIntegration")["Properties"]["IntegrationType"] =
                json!("HTTP_PROXY");
        })
        .await;
        assert!(
            err.contains("echoIntegration") && err.contains("HTTP_PROXY"),
            "{err}"
        );

        let err = start_error("err-target", |t| {
            resource_named(t, "echoRoute")["Properties"]["Target"] = json!("integrations/abc123");
        })
        .await;
        assert!(err.contains("echoRoute") && err.contains("Target"), "{err}");

        let err = start_error("err-uri", |t| {
            resource_named(t, "echoIntegration")["Properties"]["IntegrationUri"] =
                json!("arn:aws:lambda:us-east-1:123:function:elsewhere");
        })
        .await;
        assert!(
            err.contains("echoIntegration") && err.contains("IntegrationUri"),
            "{err}"
        );

        let err = start_error("err-asset", |t| {
            resource_named(t, "Main")["Properties"]["Code"]["S3Key"] = json!("0000.zip");
        })
        .await;
        assert!(
            err.contains("Main") && err.contains("0000.zip") && err.contains("cargo xtask synth"),
            "{err}"
        );

        let err = start_error("err-env", |t| {
            resource_named(t, "Main")["Properties"]["Environment"]["Variables"]["TABLE"] =
                json!({"Ref": "Table"});
        })
        .await;
        assert!(
            err.contains("Main") && err.contains("TABLE") && err.contains("Table"),
            "{err}"
        );

        let err = start_error("err-authorizer", |t| {
            resource_named(t, "connectRoute")["Properties"]["AuthorizationType"] = json!("CUSTOM");
        })
        .await;
        assert!(
            err.contains("connectRoute") && err.contains("CUSTOM"),
            "{err}"
        );

        let err = start_error("err-selection", |t| {
            resource_named(t, "Api")["Properties"]["RouteSelectionExpression"] =
                json!("$request.header.x");
        })
        .await;
        assert!(
            err.contains("Api") && err.contains("RouteSelectionExpression"),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn several_stages_need_a_choice() {
    bounded(async {
        let asm = Assembly::standard("stages").write();
        let mut template = asm.template();
        template["Resources"]["ProdStage"] = json!({"Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"ApiId": {"Ref": "Api"}, "StageName": "prod"}});
        std::fs::write(asm.dir.join("template.json"), template.to_string()).unwrap();
        let err = error_chain(&gateway::start(asm.options()).await.err().unwrap());
        assert!(
            err.contains("test") && err.contains("prod") && err.contains("--stage"),
            "{err}"
        );

        let mut options = asm.options();
        options.stage = Some("prod".into());
        let gw = gateway::start(options).await.unwrap();
        assert!(gw.url().ends_with("/prod"));
        let mut client = connect(&gw.url()).await;
        let event = echo(&mut client, json!({"action": "echo"})).await;
        assert_eq!(event["requestContext"]["stage"], "prod");
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_missing_assembly_says_how_to_make_one() {
    bounded(async {
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gateway-no-assembly");
        let err = error_chain(
            &gateway::start(gateway::DevOptions::new(&dir))
                .await
                .err()
                .unwrap(),
        );
        assert!(
            err.contains("template.json") && err.contains("cargo xtask synth"),
            "{err}"
        );
    })
    .await;
}
