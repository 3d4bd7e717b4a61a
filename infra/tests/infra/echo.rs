//! The echo app (the tutorial's wsEcho): snapshots of its dev and prod templates, and the
//! semantic properties a snapshot would hide.

use std::collections::BTreeSet;

use assembly::sha256_hex;
use infra::app::Grant;
use serde_json::Value;

use super::common::{self, echo, manifest, redact_hashes, stage, synth, synth_json};

fn template(stage_name: &str) -> Value {
    serde_json::from_str(&synth_json(&stage(stage_name))).unwrap()
}

fn resources_of<'a>(t: &'a Value, ty: &str) -> Vec<(&'a str, &'a Value)> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

fn sub(value: &Value) -> &str {
    value["Fn::Sub"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an Fn::Sub, got {value}"))
}

#[test]
fn redaction_replaces_only_the_asset_hashes() {
    let json = synth_json(&stage("dev"));
    let redacted = redact_hashes(&json, &manifest());
    let functions = echo().packages().len();
    assert_eq!(redacted.matches("[sha256].zip").count(), functions);
    assert_eq!(
        json.len() - redacted.len(),
        functions * (64 - "[sha256]".len()),
        "only the functions' hashes change"
    );
}

#[test]
fn two_syntheses_are_byte_identical() {
    for name in ["dev", "prod"] {
        let config = stage(name);
        assert_eq!(synth_json(&config), synth_json(&config), "{name}");
    }
}

#[test]
fn every_route_has_an_integration_and_a_permission_scoped_to_its_route_key() {
    for name in ["dev", "prod"] {
        let t = template(name);
        let routes = resources_of(&t, "AWS::ApiGatewayV2::Route");
        let keys: BTreeSet<&str> = routes
            .iter()
            .map(|(_, r)| r["Properties"]["RouteKey"].as_str().unwrap())
            .collect();
        let table: BTreeSet<&str> = echo().routes.iter().map(|r| r.key).collect();
        assert_eq!(keys, table);
        assert!(table.is_superset(&BTreeSet::from([
            "$connect",
            "$disconnect",
            "$default",
            "echo"
        ])));
        let permissions = resources_of(&t, "AWS::Lambda::Permission");
        assert_eq!(permissions.len(), routes.len());
        for (id, route) in routes {
            let props = &route["Properties"];
            let key = props["RouteKey"].as_str().unwrap();
            assert_eq!(props["ApiId"]["Ref"], "WsEchoApi", "{id}");
            let target = sub(&props["Target"]);
            let integration_id = target
                .strip_prefix("integrations/${")
                .and_then(|rest| rest.strip_suffix('}'))
                .unwrap_or_else(|| panic!("{id}: target {target}"));
            let integration = &t["Resources"][integration_id];
            assert_eq!(integration["Type"], "AWS::ApiGatewayV2::Integration");
            assert_eq!(integration["Properties"]["IntegrationType"], "AWS_PROXY");
            let uri = sub(&integration["Properties"]["IntegrationUri"]);
            let function_id = uri
                .split("functions/${")
                .nth(1)
                .and_then(|rest| rest.split(".Arn}").next())
                .unwrap();
            assert_eq!(t["Resources"][function_id]["Type"], "AWS::Lambda::Function");

            // The permission for this function, scoped to this API, this stage and this key.
            let expected = format!(
                "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{WsEchoApi}}/{name}/{key}"
            );
            let matching: Vec<&str> = permissions
                .iter()
                .filter(|(_, p)| p["Properties"]["FunctionName"]["Fn::GetAtt"][0] == function_id)
                .map(|(_, p)| sub(&p["Properties"]["SourceArn"]))
                .collect();
            assert_eq!(matching, [expected.as_str()], "{id}");
        }
    }
}

/// Only the functions the route table grants `ManageConnections` (the tutorial's: `echo` and
/// `$default`) may post, and only to this API and stage.
#[test]
fn only_the_granted_functions_may_manage_connections_of_this_api_and_stage() {
    for name in ["dev", "prod"] {
        let t = template(name);
        let mut granted = BTreeSet::new();
        for (id, role) in resources_of(&t, "AWS::IAM::Role") {
            let text = role.to_string();
            assert!(
                !text.contains("AmazonAPIGatewayInvokeFullAccess"),
                "{id} has the tutorial's full-access policy"
            );
            let Some(policies) = role["Properties"]["Policies"].as_array() else {
                continue;
            };
            for statement in policies
                .iter()
                .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
            {
                let actions = statement["Action"].as_array().unwrap();
                if actions.iter().any(|a| a == "execute-api:ManageConnections") {
                    assert_eq!(actions.len(), 1, "{id}: {statement}");
                    let resources = statement["Resource"].as_array().unwrap();
                    let arns: Vec<&str> = resources.iter().map(sub).collect();
                    assert_eq!(
                        arns,
                        [format!(
                            "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{WsEchoApi}}/{name}/POST/@connections/*"
                        )],
                        "{id}"
                    );
                    granted.insert(id);
                }
            }
        }
        let roles: Vec<String> = echo()
            .routes
            .iter()
            .filter(|r| r.grants.contains(&Grant::ManageConnections))
            .map(|r| format!("{}FunctionRole", r.name))
            .collect();
        assert_eq!(
            granted,
            roles.iter().map(String::as_str).collect::<BTreeSet<_>>(),
            "{name}"
        );
        assert!(granted.contains("DefaultFunctionRole") && granted.contains("EchoFunctionRole"));
    }
}

#[test]
fn the_stage_deploys_after_every_route() {
    for name in ["dev", "prod"] {
        let t = template(name);
        let stage = &t["Resources"]["WsEchoStage"];
        assert_eq!(stage["Properties"]["AutoDeploy"], true);
        let depends: BTreeSet<&str> = stage["DependsOn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        for (id, _) in resources_of(&t, "AWS::ApiGatewayV2::Route") {
            assert!(depends.contains(id), "{name}: stage doesn't wait for {id}");
        }
        assert!(resources_of(&t, "AWS::ApiGatewayV2::Deployment").is_empty());
    }
}

/// The API Gateway CloudWatch role is one per account and region: a stage stack that set it
/// would take every API's execution logging down with it on `destroy` (aws-cdk#10878). The
/// toolkit stack holds it; no stage's stack does, whatever its logging.
#[test]
fn no_stage_stack_holds_the_account_setting() {
    for shipped in common::every_stage() {
        let t = shipped.template();
        let name = format!("{}-{}", shipped.app.name, shipped.stage);
        assert!(
            resources_of(&t, "AWS::ApiGateway::Account").is_empty(),
            "{name}"
        );
        assert!(
            !t.to_string()
                .contains("AmazonAPIGatewayPushToCloudWatchLogs"),
            "{name}"
        );
    }
    let toolkit: Value = serde_json::from_str(
        &infra::toolkit::synth("wsecho-toolkit")
            .unwrap()
            .template
            .to_json(),
    )
    .unwrap();
    assert_eq!(resources_of(&toolkit, "AWS::ApiGateway::Account").len(), 1);
}

/// Every name a value references, collected independently of the crate's own validator.
fn referenced(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("Ref") {
                out.push(name.clone());
            }
            if let Some(Value::Array(args)) = map.get("Fn::GetAtt") {
                out.push(args[0].as_str().unwrap().to_owned());
            }
            if let Some(Value::String(template)) = map.get("Fn::Sub") {
                for piece in template.split("${").skip(1) {
                    let var = piece.split('}').next().unwrap();
                    if !var.starts_with('!') {
                        out.push(var.split('.').next().unwrap().to_owned());
                    }
                }
            }
            map.values().for_each(|v| referenced(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| referenced(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_and_output_resolves() {
    let pseudo = [
        "AWS::AccountId",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackName",
        "AWS::URLSuffix",
    ];
    for name in ["dev", "prod"] {
        let t = template(name);
        let mut known: BTreeSet<String> = t["Resources"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        known.extend(t["Parameters"].as_object().unwrap().keys().cloned());
        known.extend(pseudo.iter().map(|p| p.to_string()));
        let mut names = Vec::new();
        referenced(&t["Resources"], &mut names);
        referenced(&t["Outputs"], &mut names);
        for resource in t["Resources"].as_object().unwrap().values() {
            if let Some(depends) = resource["DependsOn"].as_array() {
                names.extend(depends.iter().map(|d| d.as_str().unwrap().to_owned()));
            }
        }
        assert!(names.len() > 40, "the walk found the references");
        for n in names {
            assert!(known.contains(&n), "{name}: `{n}` resolves to nothing");
        }
        let outputs = t["Outputs"].as_object().unwrap();
        assert_eq!(
            sub(&outputs["WebSocketUrl"]["Value"]),
            format!("wss://${{WsEchoApi}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{name}")
        );
        assert_eq!(
            sub(&outputs["CallbackUrl"]["Value"]),
            format!(
                "https://${{WsEchoApi}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{name}"
            )
        );
        assert!(!t["Outputs"].to_string().contains("ApiEndpoint"));
        for function in echo().routes.iter().map(|r| r.name) {
            assert_eq!(
                outputs[&format!("{function}FunctionName")]["Value"]["Ref"],
                format!("{function}Function")
            );
        }
    }
}

#[test]
fn s3_keys_are_content_addresses_of_the_manifest_assets() {
    let manifest = manifest();
    let t = template("dev");
    let functions = resources_of(&t, "AWS::Lambda::Function");
    assert_eq!(functions.len(), echo().packages().len());
    for (id, function) in functions {
        let props = &function["Properties"];
        let package = function["Metadata"]["wsecho:package"].as_str().unwrap();
        let key = props["Code"]["S3Key"].as_str().unwrap();
        assert_eq!(props["Code"]["S3Bucket"]["Ref"], "AssetsBucket", "{id}");
        let asset = manifest
            .by_s3_key(key)
            .unwrap_or_else(|| panic!("{id}: {key} not in the manifest"));
        assert_eq!(asset.package, package, "{id}");
        assert_eq!(
            key,
            format!("{}.zip", sha256_hex(&common::fake_zip(package)))
        );
        assert_eq!(props["Architectures"], serde_json::json!(["arm64"]));
        assert_eq!(props["Runtime"], "provided.al2023");
        assert_eq!(props["Handler"], "bootstrap");
    }
}

#[test]
fn functions_log_to_their_own_group_with_the_stage_retention() {
    for (name, retention) in [("dev", 7), ("prod", 365)] {
        let t = template(name);
        for (id, function) in resources_of(&t, "AWS::Lambda::Function") {
            let props = &function["Properties"];
            let group_id = props["LoggingConfig"]["LogGroup"]["Ref"].as_str().unwrap();
            let group = &t["Resources"][group_id]["Properties"];
            assert_eq!(
                group["LogGroupName"],
                format!("/aws/lambda/{}", props["FunctionName"].as_str().unwrap()),
                "{id}"
            );
            assert_eq!(group["RetentionInDays"], retention, "{id}");
        }
    }
}

#[test]
fn prod_overrides_and_tracing_reach_the_functions() {
    let t = template("prod");
    let disconnect = &t["Resources"]["DisconnectFunction"]["Properties"];
    assert_eq!(disconnect["Timeout"], 5);
    assert_eq!(disconnect["ReservedConcurrentExecutions"], 20);
    let echo = &t["Resources"]["EchoFunction"]["Properties"];
    assert_eq!(echo["Timeout"], 10);
    assert_eq!(echo["MemorySize"], 256);
    assert_eq!(echo["TracingConfig"]["Mode"], "Active");
    let role = t["Resources"]["EchoFunctionRole"].to_string();
    assert!(role.contains("AWSXRayDaemonWriteAccess"), "{role}");
    // Tracing off: no tracing config, and no X-Ray permission either.
    let mut untraced = stage("dev");
    untraced.tracing = false;
    let untraced: Value = serde_json::from_str(&synth_json(&untraced)).unwrap();
    assert!(
        untraced["Resources"]["EchoFunction"]["Properties"]
            .get("TracingConfig")
            .is_none()
    );
    assert!(!untraced.to_string().contains("AWSXRayDaemonWriteAccess"));
}

#[test]
fn yaml_output_carries_the_same_template() {
    let synthesized = synth(&stage("dev"));
    let yaml = synthesized.template.to_yaml().unwrap();
    let from_yaml: Value = serde_yaml::from_str(&yaml).unwrap();
    let from_json: Value = serde_json::from_str(&synthesized.template.to_json()).unwrap();
    assert_eq!(from_yaml, from_json);
}

#[test]
fn the_shipped_stages_synthesize_without_warnings() {
    for name in ["dev", "prod"] {
        let synthesized = synth(&stage(name));
        assert!(
            synthesized.warnings.is_empty(),
            "{:?}",
            synthesized.warnings
        );
    }
}
