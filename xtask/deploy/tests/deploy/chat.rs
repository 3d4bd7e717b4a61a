//! The chat app's dev stack (issue #12) through its life on moto: deploy, a redeploy that
//! changes nothing, diff, destroy. It asserts what moto implements of the stack: the
//! connections table's key schema and billing mode, each function's role with exactly the
//! template's inline policies, the table and functions those policies and variables name.
//!
//! What moto (5.2.5) does not implement, and so is checked elsewhere: its CloudFormation
//! skips `AWS::SecretsManager::Secret` (a warning in its log, no physical resource), so the
//! signing key secret is checked in the template (generated, 64 characters, read grant only:
//! infra's snapshot and grant tests) and by the chat functions' tests against moto's Secrets
//! Manager API; it ignores the table's `TimeToLiveSpecification` and
//! `PointInTimeRecoverySpecification` (`describe-time-to-live` answers DISABLED), so those are
//! asserted in the template deploy sent; and it skips `AWS::ApiGatewayV2::*` (the local
//! gateway serves those, `cargo xtask dev --app chat`), so a policy naming the API keeps its
//! `${WsChatApi}` on moto.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use assembly::Assembly;
use deploy::{DestroyOptions, DiffOptions, Outcome};
use serde_json::{Value, json};
use testenv::app_assembly;
use testenv::moto::Moto;

use crate::{aws_options, bootstrap_as_on_aws, code_hashes, deploy_options};

/// A deployable copy of the chat app's dev assembly (deploying writes `outputs.json`).
fn chat_assembly(dir: &Path) -> Assembly {
    let from = app_assembly("chat");
    for entry in fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    Assembly::read(dir).unwrap_or_else(|e| panic!("{} is not an assembly: {e}", from.display()))
}

/// The template's resources of one type, by logical ID.
fn of_type<'a>(template: &'a Value, ty: &str) -> BTreeMap<&'a str, &'a Value> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

/// A policy document as IAM answers it. moto's CloudFormation stores an inline policy as the
/// Python text of its dict (`{'Version': '2012-10-17', …}`), not as JSON; AWS answers JSON
/// (the CLI decodes it into an object). Our policies hold no quotes in values, so the quotes
/// and `None` (what it makes of a reference to a resource it skipped) are all there is to turn.
fn document(answer: &Value) -> Value {
    match answer {
        Value::String(text) => serde_json::from_str(text)
            .or_else(|_| serde_json::from_str(&text.replace('\'', "\"").replace("None", "null")))
            .unwrap_or_else(|e| panic!("a policy document: {e}: {text}")),
        object => object.clone(),
    }
}

/// A policy's statements as (effect, sorted actions), in order.
fn statements(document: &Value) -> Vec<(String, Vec<String>)> {
    document["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut actions: Vec<String> = match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a.iter().map(|a| a.as_str().unwrap().to_owned()).collect(),
                other => panic!("an action list: {other}"),
            };
            actions.sort();
            (s["Effect"].as_str().unwrap().to_owned(), actions)
        })
        .collect()
}

/// The `${Name}`s an `Fn::Sub` left in a string.
fn unresolved(text: &str) -> Vec<&str> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

/// Whether moto's CloudFormation skips the resource (so it can't substitute it): the
/// `AWS::ApiGatewayV2::*` and `AWS::SecretsManager::Secret` resources. Pseudo parameters
/// (`AWS::Region`) and everything else must be resolved.
fn skipped_by_moto(template: &Value, name: &str) -> bool {
    template["Resources"][name]["Type"]
        .as_str()
        .is_some_and(|ty| {
            ty.starts_with("AWS::ApiGatewayV2::") || ty == "AWS::SecretsManager::Secret"
        })
}

/// A statement's resources as strings (one or a list).
fn resources_of(statement: &Value) -> Vec<Value> {
    match &statement["Resource"] {
        Value::Array(r) => r.clone(),
        one => vec![one.clone()],
    }
}

#[test]
#[ignore = "needs moto, the AWS CLI and the apps' assemblies: `cargo xtask test` provides them"]
fn the_chat_stack_deploys_redeploys_unchanged_diffs_clean_and_is_destroyed() {
    let moto = Moto::start();
    // The chat stage logs (execution and access logs): the account's role must be there.
    bootstrap_as_on_aws(&moto);
    let dir = tempfile::tempdir().unwrap();
    let assembly = chat_assembly(dir.path());
    let stack = assembly.stack.stack_name.clone();
    let template = &assembly.template;

    let report = deploy::deploy(&assembly, &deploy_options(&moto)).expect("the first deploy");
    assert_eq!(report.outcome, Outcome::Deployed);
    assert_eq!(
        moto.stack_status(&stack).as_deref(),
        Some("CREATE_COMPLETE")
    );

    // The connections table: the template's key schema and billing mode.
    let tables = moto.resources(&stack, "AWS::DynamoDB::Table");
    let wanted_tables = of_type(template, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "{tables:?}");
    assert_eq!(
        wanted_tables.keys().copied().collect::<Vec<_>>(),
        vec![tables[0].0.as_str()]
    );
    let (table_id, table_name) = &tables[0];
    let wanted = &wanted_tables[table_id.as_str()]["Properties"];
    let table = &moto.aws(&["dynamodb", "describe-table", "--table-name", table_name])["Table"];
    assert_eq!(table["KeySchema"], wanted["KeySchema"]);
    assert_eq!(
        table["KeySchema"],
        json!([{"AttributeName": "connectionId", "KeyType": "HASH"}])
    );
    assert_eq!(
        table["AttributeDefinitions"],
        wanted["AttributeDefinitions"]
    );
    assert_eq!(
        table["BillingModeSummary"]["BillingMode"],
        "PAY_PER_REQUEST"
    );
    assert_eq!(wanted["BillingMode"], "PAY_PER_REQUEST");
    let table_arn = table["TableArn"].as_str().unwrap().to_owned();
    // TTL and point-in-time recovery: moto's CloudFormation ignores both, so the template
    // deploy sent is what says them.
    assert_eq!(
        wanted["TimeToLiveSpecification"],
        json!({"AttributeName": "expiresAt", "Enabled": true})
    );
    assert_eq!(
        wanted["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );

    // The signing key secret: moto's CloudFormation skips the type (no physical resource),
    // so only the template can say it. Generated, never written in the template.
    let secrets = of_type(template, "AWS::SecretsManager::Secret");
    assert_eq!(secrets.len(), 1, "{secrets:?}");
    let secret = secrets.values().next().unwrap();
    assert!(secret["Properties"]["SecretString"].is_null(), "{secret}");
    assert_eq!(
        secret["Properties"]["GenerateSecretString"]["PasswordLength"],
        64
    );

    // Each role: there, with exactly the template's inline policies, each with its
    // statements; what they name of the table is the deployed table.
    let wanted_roles = of_type(template, "AWS::IAM::Role");
    let roles = moto.resources(&stack, "AWS::IAM::Role");
    assert_eq!(
        roles.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>(),
        wanted_roles.keys().copied().collect::<Vec<_>>()
    );
    let mut table_grants = 0;
    for (logical, physical) in &roles {
        moto.aws(&["iam", "get-role", "--role-name", physical]);
        let policies = wanted_roles[logical.as_str()]["Properties"]["Policies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let listed = moto.aws(&["iam", "list-role-policies", "--role-name", physical]);
        let mut names: Vec<&str> = listed["PolicyNames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        names.sort();
        let mut wanted_names: Vec<&str> = policies
            .iter()
            .map(|p| p["PolicyName"].as_str().unwrap())
            .collect();
        wanted_names.sort();
        assert_eq!(names, wanted_names, "inline policies of {logical}");
        for policy in &policies {
            let name = policy["PolicyName"].as_str().unwrap();
            let got = moto.aws(&[
                "iam",
                "get-role-policy",
                "--role-name",
                physical,
                "--policy-name",
                name,
            ]);
            let document = &document(&got["PolicyDocument"]);
            let wanted_document = &policy["PolicyDocument"];
            assert_eq!(
                statements(document),
                statements(wanted_document),
                "{logical}/{name}"
            );
            for (deployed, declared) in document["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .zip(wanted_document["Statement"].as_array().unwrap())
            {
                let deployed = resources_of(deployed);
                let declared = resources_of(declared);
                assert_eq!(deployed.len(), declared.len(), "{logical}/{name}");
                for (got, meant) in deployed.iter().zip(&declared) {
                    if meant.pointer("/Fn::GetAtt/0").and_then(Value::as_str)
                        == Some(table_id.as_str())
                    {
                        assert_eq!(got, table_arn.as_str(), "{logical}/{name}");
                        table_grants += 1;
                    }
                    // A reference to a resource moto skipped resolves to nothing there.
                    let named = meant
                        .get("Ref")
                        .or_else(|| meant.pointer("/Fn::GetAtt/0"))
                        .and_then(Value::as_str);
                    if got.is_null() && named.is_some_and(|n| skipped_by_moto(template, n)) {
                        continue;
                    }
                    let got = got.as_str().unwrap_or_else(|| panic!("{got} resolved"));
                    for left in unresolved(got) {
                        assert!(
                            skipped_by_moto(template, left),
                            "{logical}/{name}: {got}: ${{{left}}} resolved"
                        );
                    }
                }
            }
        }
    }
    assert!(table_grants >= 2, "the table is granted to its functions");

    // Every function with exactly its zip, and the table's name where the template puts it.
    let hashes = code_hashes(&moto, &stack);
    assert_eq!(
        hashes.len(),
        of_type(template, "AWS::Lambda::Function").len()
    );
    let mut told = 0;
    let functions = moto.resources(&stack, "AWS::Lambda::Function");
    for (logical, physical) in &functions {
        let declared = &template["Resources"][logical]["Properties"]["Environment"]["Variables"];
        let config = moto.aws(&[
            "lambda",
            "get-function-configuration",
            "--function-name",
            physical,
        ]);
        for (var, value) in declared.as_object().into_iter().flatten() {
            if value == &json!({"Ref": table_id}) {
                assert_eq!(
                    config["Environment"]["Variables"][var],
                    table_name.as_str(),
                    "{logical} {var}"
                );
                told += 1;
            }
        }
    }
    assert!(told >= 2, "the functions are told the table's name");

    // Again: no changes, nothing uploaded, no stack events; diff agrees.
    let events = moto.stack_event_count(&stack);
    let again = deploy::deploy(&Assembly::read(dir.path()).unwrap(), &deploy_options(&moto))
        .expect("the second deploy");
    assert_eq!(again.outcome, Outcome::NoChanges);
    assert!(again.uploaded.is_empty(), "{:?}", again.uploaded);
    assert_eq!(moto.stack_event_count(&stack), events);
    let diff = deploy::diff(
        &assembly,
        &DiffOptions {
            aws: aws_options(&moto),
            template: None,
            assets_bucket: None,
            timeout: deploy::DEFAULT_TIMEOUT,
        },
    )
    .expect("diff");
    assert!(!diff.changed, "{}", diff.text);
    assert_eq!(code_hashes(&moto, &stack), hashes);

    // Destroy: the stack, its table, roles and functions go; the assets stay.
    let bucket = report.assets_bucket.unwrap();
    let keys = moto.bucket_keys(&bucket);
    deploy::destroy(
        &assembly.stack,
        &DestroyOptions {
            aws: aws_options(&moto),
            yes: true,
            with_assets: false,
            timeout: deploy::DEFAULT_TIMEOUT,
            progress: deploy::Progress::Plain,
        },
    )
    .expect("destroy");
    assert_eq!(moto.stack_status(&stack), None);
    assert!(
        moto.try_aws(&["dynamodb", "describe-table", "--table-name", table_name])
            .is_err(),
        "table {table_name} is gone"
    );
    for (_, role) in &roles {
        assert!(
            moto.try_aws(&["iam", "get-role", "--role-name", role])
                .is_err(),
            "role {role} is gone"
        );
    }
    for (_, function) in &functions {
        assert!(
            moto.try_aws(&["lambda", "get-function", "--function-name", function])
                .is_err(),
            "function {function} is gone"
        );
    }
    assert_eq!(moto.bucket_keys(&bucket), keys, "the assets are kept");
}
