//! What holds for every app and every stage: the reviewed snapshots, one stack name per app
//! and stage, and templates that agree with the route table they come from.

use std::collections::BTreeMap;

use infra::app::{ACTIONS_VARIABLE, ApiKeySource, ConnectAuthorization, Grant, RouteSpec};
use serde_json::Value;

use super::common::{every_stage, manifest, redact_hashes};

#[test]
fn every_template_matches_its_reviewed_snapshot() {
    for shipped in every_stage() {
        // The form `cargo xtask diff --base` compares with these files.
        let json = infra::snapshot::reviewed_template(shipped.app, &shipped.config).unwrap();
        assert_eq!(
            json,
            redact_hashes(&shipped.synthesized.template.to_json(), &manifest()),
            "{} {}: the stand-in assets change more than the zips' hashes",
            shipped.app.name,
            shipped.stage
        );
        insta::with_settings!({
            snapshot_path => "../../../snapshots",
            prepend_module_to_snapshot => false,
        }, {
            let file = infra::snapshot::file_name(shipped.app.name, &shipped.stage);
            insta::assert_snapshot!(file.trim_end_matches(".snap"), json);
        });
    }
}

#[test]
fn every_app_and_stage_has_its_own_stack() {
    let shipped = every_stage();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for s in &shipped {
        let owner = format!("{}/{}", s.app.name, s.stage);
        if let Some(first) = owners.insert(s.config.stack_name.to_string(), owner.clone()) {
            panic!(
                "stack name `{}` is used by {first} and {owner}: a deploy of one would replace the other",
                s.config.stack_name
            );
        }
    }
    assert_eq!(owners.len(), shipped.len());
}

#[test]
fn the_shipped_stages_synthesize_without_warnings() {
    for s in every_stage() {
        assert!(
            s.synthesized.warnings.is_empty(),
            "{} {}: {:?}",
            s.app.name,
            s.stage,
            s.synthesized.warnings
        );
    }
}

#[test]
fn templates_have_exactly_the_routes_and_functions_of_the_table() {
    for shipped in every_stage() {
        let (app, stage, t) = (shipped.app, &shipped.stage, shipped.template());
        let resources = t["Resources"].as_object().unwrap();
        let of_type =
            |ty: &str| -> Vec<&Value> { resources.values().filter(|r| r["Type"] == ty).collect() };
        let mut keys: Vec<&str> = of_type("AWS::ApiGatewayV2::Route")
            .iter()
            .map(|r| r["Properties"]["RouteKey"].as_str().unwrap())
            .collect();
        keys.sort_unstable();
        let mut table: Vec<&str> = app.routes.iter().map(|r| r.key).collect();
        table.sort_unstable();
        assert_eq!(keys, table, "{} {stage}", app.name);

        for route in app.routes {
            let function = &resources[&format!("{}Function", route.name)];
            assert_eq!(
                function["Metadata"][assembly::template::PACKAGE_METADATA],
                route.package,
                "{} {stage}: route {}",
                app.name,
                route.key
            );
        }
        assert_eq!(
            of_type("AWS::Lambda::Function").len(),
            app.packages().len(),
            "{} {stage}: one function per route, and the authorizer's",
            app.name
        );
    }
}

/// What `$default` (and every function that replies) tells clients they may send comes from
/// the template, which takes it from the route table: they cannot disagree.
#[test]
fn the_functions_that_reply_get_the_actions_of_the_route_table() {
    for shipped in every_stage() {
        let (app, stage, t) = (shipped.app, &shipped.stage, shipped.template());
        let expected: Vec<&str> = app.actions();
        for route in app.routes {
            let variables = &t["Resources"][&format!("{}Function", route.name)]["Properties"]["Environment"]
                ["Variables"];
            let replies = route.grants.contains(&Grant::ManageConnections);
            match variables.get(ACTIONS_VARIABLE) {
                Some(Value::String(text)) => {
                    assert!(replies, "{} {stage}: {} gets actions", app.name, route.key);
                    let actions: Vec<String> = serde_json::from_str(text).unwrap();
                    assert_eq!(actions, expected, "{} {stage}: {}", app.name, route.key);
                }
                None => assert!(
                    !replies,
                    "{} {stage}: {} replies but is not told the actions",
                    app.name, route.key
                ),
                Some(other) => panic!("{ACTIONS_VARIABLE} must be a literal, got {other}"),
            }
        }
        assert!(
            app.routes.iter().any(|r| r.key == "$default"),
            "{}: without `$default` nobody explains what to send",
            app.name
        );
    }
}

/// Who may connect, as each app's `connect` says: the guard is on `$connect` and nowhere
/// else, the authorizer calls the app's authorizer function and only this API's authorizers
/// may invoke it, IAM clients get `execute-api:Invoke` on `$connect` only, and keys are in a
/// usage plan of this very stage.
#[test]
fn templates_guard_connect_as_the_app_says() {
    for shipped in every_stage() {
        let (app, stage, t) = (shipped.app, &shipped.stage, shipped.template());
        let resources = t["Resources"].as_object().unwrap();
        let of_type = |ty: &str| -> Vec<(&String, &Value)> {
            resources.iter().filter(|(_, r)| r["Type"] == ty).collect()
        };
        let at = format!("{} {stage}", app.name);
        for (id, route) in of_type("AWS::ApiGatewayV2::Route") {
            let p = &route["Properties"];
            if p["RouteKey"] != "$connect" {
                assert_eq!(p["AuthorizationType"], "NONE", "{at}: {id}");
                assert!(p.get("ApiKeyRequired").is_none(), "{at}: {id}");
                assert!(p.get("AuthorizerId").is_none(), "{at}: {id}");
            }
        }
        let connect = &resources["ConnectRoute"]["Properties"];
        let authorizers = of_type("AWS::ApiGatewayV2::Authorizer");
        match &app.connect.authorization {
            ConnectAuthorization::Open => {
                assert_eq!(connect["AuthorizationType"], "NONE", "{at}");
                assert!(authorizers.is_empty(), "{at}");
            }
            ConnectAuthorization::Iam { client_role } => {
                assert_eq!(connect["AuthorizationType"], "AWS_IAM", "{at}");
                let role = &resources[&format!("{client_role}Role")]["Properties"];
                let statements = role["Policies"][0]["PolicyDocument"]["Statement"]
                    .as_array()
                    .unwrap();
                assert_eq!(statements.len(), 1, "{at}: {role}");
                assert_eq!(
                    statements[0]["Action"],
                    serde_json::json!(["execute-api:Invoke"])
                );
                let arn = statements[0]["Resource"][0]["Fn::Sub"].as_str().unwrap();
                assert!(
                    arn.ends_with(&format!("/{stage}/$connect")) && arn.contains("${"),
                    "{at}: {arn}"
                );
            }
            ConnectAuthorization::Authorizer(spec) => {
                assert_eq!(connect["AuthorizationType"], "CUSTOM", "{at}");
                let [(authorizer_id, authorizer)] = authorizers.as_slice() else {
                    panic!("{at}: one authorizer expected, found {}", authorizers.len());
                };
                assert_eq!(
                    connect["AuthorizerId"]["Ref"],
                    authorizer_id.as_str(),
                    "{at}"
                );
                let p = &authorizer["Properties"];
                assert_eq!(p["AuthorizerType"], "REQUEST", "{at}");
                assert_eq!(
                    p["IdentitySource"],
                    serde_json::json!(spec.identity_sources),
                    "{at}"
                );
                let uri = p["AuthorizerUri"]["Fn::Sub"].as_str().unwrap();
                assert!(
                    uri.contains(&format!("${{{}Function.Arn}}", spec.name)),
                    "{at}: {uri}"
                );
                let permission = &resources[&format!("{authorizer_id}Permission")]["Properties"];
                let source = permission["SourceArn"]["Fn::Sub"].as_str().unwrap();
                assert!(
                    source.ends_with(&format!("/authorizers/${{{authorizer_id}}}")),
                    "{at}: {source}"
                );
                assert_eq!(
                    permission["FunctionName"]["Fn::GetAtt"][0],
                    format!("{}Function", spec.name)
                );
            }
        }
        let api = of_type("AWS::ApiGatewayV2::Api")[0].1;
        match &app.connect.api_keys {
            None => {
                assert!(connect.get("ApiKeyRequired").is_none(), "{at}");
                assert!(of_type("AWS::ApiGateway::ApiKey").is_empty(), "{at}");
            }
            Some(keys) => {
                assert_eq!(connect["ApiKeyRequired"], true, "{at}");
                let expression = match keys.source {
                    ApiKeySource::Header => "$request.header.x-api-key",
                    ApiKeySource::Authorizer => "$context.authorizer.usageIdentifierKey",
                };
                assert_eq!(api["Properties"]["ApiKeySelectionExpression"], expression);
                let plans = of_type("AWS::ApiGateway::UsagePlan");
                let [(plan_id, plan)] = plans.as_slice() else {
                    panic!("{at}: one usage plan expected");
                };
                let stages = &plan["Properties"]["ApiStages"][0];
                assert!(stages["Stage"]["Ref"].as_str().unwrap().ends_with("Stage"));
                assert_eq!(of_type("AWS::ApiGateway::ApiKey").len(), keys.clients.len());
                for (_, link) in of_type("AWS::ApiGateway::UsagePlanKey") {
                    assert_eq!(link["Properties"]["UsagePlanId"]["Ref"], plan_id.as_str());
                }
                assert_eq!(
                    of_type("AWS::ApiGateway::UsagePlanKey").len(),
                    keys.clients.len()
                );
            }
        }
    }
}

/// Each function's data permissions are exactly its grants: the item actions it was granted
/// on exactly its table's ARN, reading exactly its secret, and the variable naming each; a
/// function without such grants has no DynamoDB or Secrets Manager action at all.
#[test]
fn functions_get_exactly_the_table_and_secret_access_they_are_granted() {
    for shipped in every_stage() {
        let (app, stage, t) = (shipped.app, &shipped.stage, shipped.template());
        let mut functions: Vec<(&str, &[Grant])> = app
            .routes
            .iter()
            .map(|r: &RouteSpec| (r.name, r.grants))
            .collect();
        if let ConnectAuthorization::Authorizer(spec) = &app.connect.authorization {
            functions.push((spec.name, spec.grants));
        }
        for (name, grants) in functions {
            let at = format!("{} {stage}: {name}", app.name);
            let resources = &t["Resources"];
            let role = &resources[&format!("{name}FunctionRole")]["Properties"];
            let variables =
                &resources[&format!("{name}Function")]["Properties"]["Environment"]["Variables"];
            let mut data_statements: Vec<(Vec<String>, Value)> = Vec::new();
            for policy in role["Policies"].as_array().unwrap() {
                for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                    let actions: Vec<String> = statement["Action"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_owned())
                        .collect();
                    if actions
                        .iter()
                        .any(|a| a.starts_with("dynamodb:") || a.starts_with("secretsmanager:"))
                    {
                        data_statements.push((actions, statement["Resource"].clone()));
                    }
                }
            }
            let mut expected: Vec<(Vec<String>, Value)> = Vec::new();
            for grant in grants {
                match grant {
                    Grant::ManageConnections => {}
                    Grant::Table { table, actions } => {
                        let mut iam: Vec<String> =
                            actions.iter().map(|a| a.iam_action().to_owned()).collect();
                        iam.sort();
                        expected.push((
                            iam,
                            serde_json::json!([{"Fn::GetAtt": [format!("{table}Table"), "Arn"]}]),
                        ));
                        let spec = app.tables.iter().find(|s| s.id == *table).unwrap();
                        assert_eq!(
                            variables[spec.variable],
                            serde_json::json!({"Ref": format!("{table}Table")}),
                            "{at}"
                        );
                    }
                    Grant::ReadSecret(secret) => {
                        expected.push((
                            vec!["secretsmanager:GetSecretValue".to_owned()],
                            serde_json::json!([{"Ref": format!("{secret}Secret")}]),
                        ));
                        let spec = app.secrets.iter().find(|s| s.id == *secret).unwrap();
                        assert_eq!(
                            variables[spec.variable],
                            serde_json::json!({"Ref": format!("{secret}Secret")}),
                            "{at}"
                        );
                    }
                }
            }
            data_statements.sort_by(|a, b| a.0.cmp(&b.0));
            expected.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(data_statements, expected, "{at}");
        }
    }
}
