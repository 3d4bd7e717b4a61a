//! `deploy`, `diff`, `destroy` and `bootstrap`: a stack's life, from the first deploy to
//! its destruction.

use std::collections::BTreeMap;
use std::fs;
use std::time::Instant;

use assembly::{Assembly, OUTPUTS_FILE};
use deploy::{Outcome, TOOLKIT_STACK};
use serde_json::Value;
use testenv::fixture::{
    change_function_code, code_sha256, edit_template, function_logical_id, function_packages,
    write_assembly,
};
use testenv::moto::{Moto, REGION};

use crate::{
    account_role, aws_options, bootstrap_as_on_aws, bootstrap_options, code_hashes, deploy_options,
};

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn first_deploy_creates_everything_and_a_second_changes_nothing() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let stack = assembly.stack.stack_name.clone();

    let report = deploy::deploy(&assembly, &deploy_options(&moto)).expect("the first deploy");
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
        moto.resources(TOOLKIT_STACK, "AWS::S3::Bucket"),
        vec![("AssetsBucket".to_owned(), bucket.clone())]
    );
    // The zips the template names: the manifest may list more (the test assembly's folder
    // holds every function the workspace builds), which are never uploaded.
    let mut wanted: Vec<String> = assembly::template::function_code_keys(&assembly.template)
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    wanted.sort();
    wanted.dedup();
    assert_eq!(moto.bucket_keys(&bucket), wanted);
    let mut uploaded = report.uploaded.clone();
    uploaded.sort();
    assert_eq!(uploaded, wanted);

    // Every function with the runtime, handler and exactly the uploaded code.
    let packages = function_packages(&assembly);
    let functions = moto.resources(&stack, "AWS::Lambda::Function");
    assert_eq!(functions.len(), packages.len(), "{functions:?}");
    for package in &packages {
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
    let again = deploy::deploy(&Assembly::read(dir.path()).unwrap(), &deploy_options(&moto))
        .expect("the second deploy");
    eprintln!("no-change redeploy took {:?}", started.elapsed());
    assert_eq!(again.outcome, Outcome::NoChanges);
    assert!(again.uploaded.is_empty(), "{:?}", again.uploaded);
    assert_eq!(moto.stack_event_count(&stack), events_before);
    assert_eq!(
        moto.stack_status(&stack).as_deref(),
        Some("CREATE_COMPLETE")
    );
    // That CloudFormation, asked anyway, also reads as "no changes": the change set unit
    // tests.
}

fn diff_options(moto: &Moto) -> deploy::DiffOptions {
    deploy::DiffOptions {
        aws: aws_options(moto),
        template: None,
        assets_bucket: None,
        timeout: deploy::DEFAULT_TIMEOUT,
    }
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn a_code_change_is_diffed_then_uploads_one_zip_and_updates_only_that_function() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let stack = assembly.stack.stack_name.clone();
    deploy::deploy(&assembly, &deploy_options(&moto)).expect("the first deploy");
    let before = code_hashes(&moto, &stack);
    let echo = function_logical_id(&assembly, "echo");

    let unchanged = deploy::diff(&assembly, &diff_options(&moto)).expect("diff");
    assert!(!unchanged.changed, "{}", unchanged.text);
    assert!(unchanged.text.contains("no changes"), "{}", unchanged.text);

    let new_key = change_function_code(dir.path(), "echo");
    let changed = Assembly::read(dir.path()).unwrap();

    // diff names the function and the property, and changes nothing.
    let events_before = moto.stack_event_count(&stack);
    let shown = deploy::diff(&changed, &diff_options(&moto)).expect("diff");
    assert!(shown.changed);
    let modified: Vec<&str> = shown.text.lines().filter(|l| l.contains(" ~ ")).collect();
    assert_eq!(modified.len(), 1, "{}", shown.text);
    assert!(modified[0].contains(&echo), "{}", shown.text);
    assert!(modified[0].contains("Code.S3Key"), "{}", shown.text);
    assert_eq!(moto.stack_event_count(&stack), events_before);
    assert_eq!(code_hashes(&moto, &stack), before);

    let report = deploy::deploy(&changed, &deploy_options(&moto)).expect("the update");
    assert_eq!(report.outcome, Outcome::Deployed);
    assert_eq!(report.uploaded, vec![new_key.clone()]);
    assert_eq!(
        moto.stack_status(&stack).as_deref(),
        Some("UPDATE_COMPLETE")
    );

    let after = code_hashes(&moto, &stack);
    let zip = fs::read(dir.path().join(&new_key)).unwrap();
    assert_eq!(after[&echo], code_sha256(&zip));
    for (logical, hash) in &before {
        if *logical != echo {
            assert_eq!(&after[logical], hash, "{logical} is untouched");
        }
    }
    let bucket = report.assets_bucket.unwrap();
    assert_eq!(
        moto.bucket_keys(&bucket).len(),
        function_packages(&assembly).len() + 1
    );
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn destroy_removes_the_stack_and_its_functions_and_keeps_the_assets_unless_asked() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let stack = assembly.stack.stack_name.clone();
    let report = deploy::deploy(&assembly, &deploy_options(&moto)).expect("deploy");
    let bucket = report.assets_bucket.unwrap();
    let packages = function_packages(&assembly);
    let functions = moto.resources(&stack, "AWS::Lambda::Function");
    assert_eq!(functions.len(), packages.len());

    let opts = deploy::DestroyOptions {
        aws: aws_options(&moto),
        yes: true,
        with_assets: false,
        timeout: deploy::DEFAULT_TIMEOUT,
        progress: deploy::Progress::Plain,
    };
    deploy::destroy(&assembly.stack, &opts).expect("destroy");
    assert_eq!(moto.stack_status(&stack), None);
    for (_, physical) in &functions {
        assert!(
            moto.try_aws(&["lambda", "get-function", "--function-name", physical])
                .is_err(),
            "{physical} is gone"
        );
    }
    assert_eq!(
        moto.bucket_keys(&bucket).len(),
        packages.len(),
        "assets kept"
    );

    // Nothing left to delete is not an error; --with-assets takes the bucket too.
    deploy::destroy(
        &assembly.stack,
        &deploy::DestroyOptions {
            with_assets: true,
            ..opts
        },
    )
    .expect("destroy --with-assets");
    assert_eq!(moto.stack_status(TOOLKIT_STACK), None);
    assert!(
        moto.try_aws(&["s3api", "head-bucket", "--bucket", &bucket])
            .is_err(),
        "bucket {bucket} is gone"
    );
}

#[test]
#[ignore = "needs moto and the AWS CLI: `cargo xtask test` provides them"]
fn bootstrap_creates_a_locked_down_bucket_once() {
    let moto = Moto::start();
    let opts = bootstrap_options(&moto);
    assert_eq!(account_role(&moto), None, "a new account has no role");
    let bucket = deploy::bootstrap(REGION, &opts).expect("bootstrap");
    assert_eq!(
        moto.stack_status(TOOLKIT_STACK).as_deref(),
        Some("CREATE_COMPLETE")
    );
    let encryption = moto.aws(&["s3api", "get-bucket-encryption", "--bucket", &bucket]);
    assert_eq!(
        encryption.pointer(
            "/ServerSideEncryptionConfiguration/Rules/0/ApplyServerSideEncryptionByDefault/SSEAlgorithm"
        ),
        Some(&Value::from("AES256")),
        "{encryption}"
    );
    // moto applies neither the public access block, the versioning nor the bucket policy a
    // stack declares (get-public-access-block: NoSuchPublicAccessBlockConfiguration,
    // versioning: none); those settings of the template are checked by cfn-lint and checkov
    // in infra's tests.

    // The account had no API Gateway CloudWatch role: the toolkit holds one, retained, and
    // the setting pointing at it (which moto skips, so the account still has none).
    let template = moto.aws(&[
        "cloudformation",
        "get-template",
        "--stack-name",
        TOOLKIT_STACK,
    ]);
    assert_eq!(
        template["TemplateBody"]["Resources"]["ApiGatewayAccount"]["Type"],
        "AWS::ApiGateway::Account"
    );
    let role = moto.toolkit_role_arn(TOOLKIT_STACK);
    assert_eq!(account_role(&moto), None);

    // Again: same bucket, no update; and the setting, found not to be what the stack says
    // (changed outside CloudFormation; here: never applied by moto), is pointed back at the
    // toolkit's role.
    let events = moto.stack_event_count(TOOLKIT_STACK);
    assert_eq!(deploy::bootstrap(REGION, &opts).unwrap(), bucket);
    assert_eq!(moto.stack_event_count(TOOLKIT_STACK), events);
    assert_eq!(account_role(&moto).as_deref(), Some(role.as_str()));
}

#[test]
#[ignore = "needs the test assembly: `cargo xtask test` provides it"]
fn offline_diff_against_a_saved_template_names_resources_types_and_paths() {
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let saved = dir.path().join("saved-template.json");
    fs::copy(dir.path().join("template.json"), &saved).unwrap();
    let echo = function_logical_id(&assembly, "echo");

    change_function_code(dir.path(), "echo");
    edit_template(dir.path(), |t| {
        let resources = t["Resources"].as_object_mut().unwrap();
        resources.insert(
            "ExtraQueue".into(),
            serde_json::json!({"Type": "AWS::SQS::Queue", "Properties": {}}),
        );
    });
    let changed = Assembly::read(dir.path()).unwrap();
    // No AWS involved: an endpoint that doesn't answer and a CLI that isn't there.
    let report = deploy::diff(
        &changed,
        &deploy::DiffOptions {
            aws: deploy::AwsOptions {
                endpoint_url: Some("http://127.0.0.1:1".into()),
                cli: Some("/nonexistent/aws".into()),
                ..Default::default()
            },
            template: Some(saved.clone()),
            assets_bucket: None,
            timeout: deploy::DEFAULT_TIMEOUT,
        },
    )
    .expect("offline diff");
    assert!(report.changed);
    // What was compared: the saved template, named as the file.
    let saved_template: Value = serde_json::from_str(&fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(report.before.as_ref(), Some(&saved_template));
    assert_eq!(report.before_label, saved.display().to_string());
    let review = review::compare("s", report.before.as_ref(), Some(&changed.template));
    let kinds: Vec<(&str, review::ChangeKind)> = review
        .resources
        .iter()
        .map(|r| (r.logical_id.as_str(), r.change))
        .collect();
    assert_eq!(
        kinds,
        [
            (echo.as_str(), review::ChangeKind::Modified),
            ("ExtraQueue", review::ChangeKind::Added)
        ],
        "{}",
        report.text
    );
    assert_eq!(
        review.changed_paths(&echo),
        Some(vec!["Code.S3Key".to_owned()])
    );
    // And the text says so.
    for expected in ["ExtraQueue AWS::SQS::Queue", "Code.S3Key"] {
        assert!(
            report.text.contains(expected),
            "{expected}:\n{}",
            report.text
        );
    }

    let same = deploy::diff(
        &Assembly::read(dir.path()).unwrap(),
        &deploy::DiffOptions {
            aws: deploy::AwsOptions::default(),
            template: Some(dir.path().join("template.json")),
            assets_bucket: None,
            timeout: deploy::DEFAULT_TIMEOUT,
        },
    )
    .unwrap();
    assert!(!same.changed, "{}", same.text);
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn a_template_too_big_to_send_inline_goes_through_the_bucket() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let echo = function_logical_id(&assembly, "echo");
    // Past CloudFormation's 51,200-byte limit for an inline template.
    edit_template(dir.path(), |t| {
        t["Resources"][&echo]["Metadata"]["wsecho:padding"] = Value::from("x".repeat(60_000));
    });
    let big = Assembly::read(dir.path()).unwrap();
    assert!(big.template_text.len() > 51_200);
    let stack = big.stack.stack_name.clone();

    let report = deploy::deploy(&big, &deploy_options(&moto)).expect("deploy");
    assert_eq!(report.outcome, Outcome::Deployed);
    assert_eq!(
        moto.stack_status(&stack).as_deref(),
        Some("CREATE_COMPLETE")
    );
    assert_eq!(
        moto.resources(&stack, "AWS::Lambda::Function").len(),
        function_packages(&big).len()
    );
    let bucket = report.assets_bucket.unwrap();
    let template_key = format!(
        "templates/{}.json",
        assembly::sha256_hex(big.template_text.as_bytes())
    );
    assert!(
        moto.bucket_keys(&bucket).contains(&template_key),
        "{:?}",
        moto.bucket_keys(&bucket)
    );

    let again = deploy::deploy(&big, &deploy_options(&moto)).expect("redeploy");
    assert_eq!(again.outcome, Outcome::NoChanges);
}
