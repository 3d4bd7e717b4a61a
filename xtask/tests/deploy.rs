//! `deploy`, `diff`, `destroy` and `bootstrap` end to end: the real AWS CLI against a real
//! moto server on 127.0.0.1.
//!
//! What moto checks and what it doesn't: it really creates the S3 bucket and objects, the
//! CloudFormation stack and change sets, the Lambda functions (storing their code), the IAM
//! roles with their inline policies and the log groups. It silently skips
//! `AWS::ApiGatewayV2::*` and `AWS::ApiGateway::Account`, so those resources are checked
//! elsewhere: cfn-lint against CloudFormation's schemas (infra's tests) and the local
//! gateway (`cargo xtask dev`), which serves the routes the template declares.
//!
//! These tests drive the library API (`xtask::deploy`), the same calls `cargo xtask deploy`
//! makes after parsing its flags.

#[path = "deploy_harness/mod.rs"]
mod harness;

use std::collections::BTreeMap;
use std::fs;
use std::time::Instant;

use harness::{Moto, PACKAGES, code_sha256, function_logical_id, write_assembly};
use serde_json::Value;
use xtask::assembly::{Assembly, OUTPUTS_FILE};
use xtask::deploy::{self, Outcome, toolkit};

#[test]
fn first_deploy_creates_everything_and_a_second_changes_nothing() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let stack = assembly.stack.stack_name.clone();

    let report = deploy::deploy(&assembly, &moto.deploy_options()).expect("the first deploy");
    assert_eq!(report.outcome, Outcome::Deployed);
    assert_eq!(
        moto.stack_status(&stack).as_deref(),
        Some("CREATE_COMPLETE")
    );

    // The assets bucket belongs to the toolkit stack and holds every zip under its hash.
    let bucket = report
        .assets_bucket
        .clone()
        .expect("the dev stack takes a bucket");
    assert_eq!(
        moto.resources(toolkit::TOOLKIT_STACK, "AWS::S3::Bucket"),
        vec![("AssetsBucket".to_owned(), bucket.clone())]
    );
    let mut wanted: Vec<String> = assembly
        .manifest
        .functions
        .iter()
        .map(|f| f.s3_key())
        .collect();
    wanted.sort();
    assert_eq!(moto.bucket_keys(&bucket), wanted);
    let mut uploaded = report.uploaded.clone();
    uploaded.sort();
    assert_eq!(uploaded, wanted);

    // Four functions with the runtime, handler and exactly the uploaded code.
    let functions = moto.resources(&stack, "AWS::Lambda::Function");
    assert_eq!(functions.len(), PACKAGES.len(), "{functions:?}");
    for package in PACKAGES {
        let logical = function_logical_id(&assembly, package);
        let physical = &functions
            .iter()
            .find(|(l, _)| *l == logical)
            .unwrap_or_else(|| panic!("{logical} in the stack"))
            .1;
        let f = moto.aws(&["lambda", "get-function", "--function-name", physical]);
        let config = &f["Configuration"];
        assert_eq!(config["Runtime"], "provided.al2023", "{package}");
        assert_eq!(config["Handler"], "bootstrap", "{package}");
        let asset = assembly.manifest.function(package).unwrap();
        let zip = fs::read(assembly.zip_path(asset)).unwrap();
        assert_eq!(config["CodeSha256"], code_sha256(&zip), "{package}");
    }

    // Every role exists; the ones the template gives inline policies have them.
    let template_roles: BTreeMap<&String, &Value> = assembly.template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IAM::Role")
        .collect();
    let roles = moto.resources(&stack, "AWS::IAM::Role");
    assert_eq!(roles.len(), template_roles.len(), "{roles:?}");
    for (logical, physical) in &roles {
        moto.aws(&["iam", "get-role", "--role-name", physical]);
        let policies = template_roles[logical]
            .pointer("/Properties/Policies")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let listed = moto.aws(&["iam", "list-role-policies", "--role-name", physical]);
        assert_eq!(
            listed["PolicyNames"].as_array().map_or(0, Vec::len),
            policies.len(),
            "inline policies of {logical}"
        );
        for policy in policies {
            let name = policy["PolicyName"].as_str().unwrap();
            let got = moto.aws(&[
                "iam",
                "get-role-policy",
                "--role-name",
                physical,
                "--policy-name",
                name,
            ]);
            assert_eq!(got["PolicyName"], name);
        }
    }

    // The log groups.
    let log_groups = moto.resources(&stack, "AWS::Logs::LogGroup");
    assert!(!log_groups.is_empty());
    let described = moto.aws(&["logs", "describe-log-groups"]);
    for (logical, physical) in &log_groups {
        assert!(
            described["logGroups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["logGroupName"] == physical.as_str()),
            "log group {logical} ({physical}) exists"
        );
    }

    // The outputs were saved with the assembly, as the stack reports them.
    let saved: BTreeMap<String, String> =
        serde_json::from_str(&fs::read_to_string(dir.path().join(OUTPUTS_FILE)).unwrap()).unwrap();
    let reported: BTreeMap<String, String> = report
        .outputs
        .as_ref()
        .unwrap()
        .outputs
        .iter()
        .map(|o| (o.key.clone(), o.value.clone()))
        .collect();
    assert_eq!(saved, reported);

    // Again, unchanged: nothing uploaded, no change set executed, no new stack events.
    let events_before = moto.stack_event_count(&stack);
    let started = Instant::now();
    let again = deploy::deploy(&Assembly::read(dir.path()).unwrap(), &moto.deploy_options())
        .expect("the second deploy");
    eprintln!("no-change redeploy took {:?}", started.elapsed());
    assert_eq!(again.outcome, Outcome::NoChanges);
    assert!(again.uploaded.is_empty(), "{:?}", again.uploaded);
    assert_eq!(moto.stack_event_count(&stack), events_before);
    assert_eq!(
        moto.stack_status(&stack).as_deref(),
        Some("CREATE_COMPLETE")
    );
}
