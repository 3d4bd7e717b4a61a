//! Deploys that go wrong, against a real moto server and the real AWS CLI: each gives a
//! clear error and fails, and nothing already deployed is lost.

#[path = "deploy_harness/mod.rs"]
mod harness;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use assembly::Assembly;
use harness::{Moto, PACKAGES, function_logical_id, write_assembly};
use serde_json::{Value, json};
use xtask::deploy::{self, AwsOptions, Outcome};

/// `CodeSha256` of every function of the stack, by logical ID.
fn code_hashes(moto: &Moto, stack: &str) -> BTreeMap<String, String> {
    code_of(moto, &moto.resources(stack, "AWS::Lambda::Function"))
}

/// `CodeSha256` of these functions (logical ID, function name), asked of Lambda directly.
fn code_of(moto: &Moto, functions: &[(String, String)]) -> BTreeMap<String, String> {
    functions
        .iter()
        .map(|(logical, physical)| {
            let f = moto.aws(&["lambda", "get-function", "--function-name", physical]);
            (
                logical.clone(),
                f["Configuration"]["CodeSha256"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

/// Stacks that aren't deleted (list-stacks also lists deleted ones).
fn live_stacks(moto: &Moto) -> Vec<String> {
    let stacks = moto.aws(&["cloudformation", "list-stacks"]);
    stacks["StackSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["StackStatus"] != "DELETE_COMPLETE")
        .map(|s| format!("{} {}", s["StackName"], s["StackStatus"]))
        .collect()
}

/// A resource whose property names a resource the template doesn't have: CloudFormation
/// refuses it at the change set, moto when executing it.
fn break_template(dir: &std::path::Path) {
    harness::edit_template(dir, |t| {
        t["Resources"].as_object_mut().unwrap().insert(
            "BrokenQueue".into(),
            json!({"Type": "AWS::SQS::Queue", "Properties": {
                "QueueName": {"Fn::GetAtt": ["NoSuchResource", "Arn"]}}}),
        );
    });
}

#[test]
fn a_template_moto_rejects_fails_clearly_and_the_next_deploy_recovers() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    write_assembly(dir.path());
    break_template(dir.path());
    let broken = Assembly::read(dir.path()).unwrap();
    let stack = broken.stack.stack_name.clone();

    // First create fails: the error names the cause and the state.
    let err = format!(
        "{:#}",
        deploy::deploy(&broken, &moto.deploy_options()).unwrap_err()
    );
    eprintln!("error shown to the user:\n{err}");
    assert!(err.contains("deploying stack wsecho-dev failed"), "{err}");
    assert!(err.contains("NoSuchResource"), "{err}");
    assert!(err.contains("the next deploy deletes it"), "{err}");

    // A fixed template deploys over the remains.
    let fixed_dir = tempfile::tempdir().unwrap();
    let fixed = write_assembly(fixed_dir.path());
    let report = deploy::deploy(&fixed, &moto.deploy_options()).expect("the fixed deploy");
    assert_eq!(report.outcome, Outcome::Deployed);
    assert_eq!(
        moto.stack_status(&stack).as_deref(),
        Some("CREATE_COMPLETE")
    );
    let functions = moto.resources(&stack, "AWS::Lambda::Function");
    let deployed = code_of(&moto, &functions);
    assert_eq!(deployed.len(), PACKAGES.len());

    // A broken update fails and leaves what was deployed.
    break_template(fixed_dir.path());
    let err = format!(
        "{:#}",
        deploy::deploy(
            &Assembly::read(fixed_dir.path()).unwrap(),
            &moto.deploy_options()
        )
        .unwrap_err()
    );
    eprintln!("error shown to the user:\n{err}");
    assert!(err.contains("NoSuchResource"), "{err}");
    assert!(err.contains("is still there"), "{err}");
    // Asked of Lambda: moto's own record of the stack is left inconsistent by the failed
    // update (list-stack-resources repeats the template error).
    assert_eq!(code_of(&moto, &functions), deployed);

    // And the next good deploy goes through.
    let good_dir = tempfile::tempdir().unwrap();
    write_assembly(good_dir.path());
    let new_key = harness::change_function_code(good_dir.path(), "echo");
    let report = deploy::deploy(
        &Assembly::read(good_dir.path()).unwrap(),
        &moto.deploy_options(),
    )
    .expect("the deploy after a failed update");
    assert_eq!(report.outcome, Outcome::Deployed);
    assert_eq!(report.uploaded, vec![new_key]);
}

#[test]
fn a_missing_bucket_is_named_with_what_to_do_and_bootstrap_repairs_it() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let stack = assembly.stack.stack_name.clone();

    // A bucket given by name that isn't there.
    let err = format!(
        "{:#}",
        deploy::deploy(
            &assembly,
            &deploy::DeployOptions {
                assets_bucket: Some("wsecho-no-such-bucket".into()),
                ..moto.deploy_options()
            }
        )
        .unwrap_err()
    );
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.contains("wsecho-no-such-bucket (from --assets-bucket) does not exist"),
        "{err}"
    );
    assert_eq!(moto.stack_status(&stack), None, "nothing deployed");

    // The toolkit's bucket deleted behind CloudFormation's back.
    let bucket = deploy::bootstrap(
        harness::REGION,
        &deploy::BootstrapOptions {
            aws: moto.aws_options(),
            yes: true,
            timeout: deploy::DEFAULT_TIMEOUT,
        },
    )
    .unwrap();
    moto.aws(&["s3api", "delete-bucket", "--bucket", &bucket]);
    let err = format!(
        "{:#}",
        deploy::deploy(&assembly, &moto.deploy_options()).unwrap_err()
    );
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.contains(&format!("{bucket} of stack wsecho-toolkit does not exist")),
        "{err}"
    );
    assert!(err.contains("run `cargo xtask bootstrap`"), "{err}");
    assert_eq!(moto.stack_status(&stack), None, "nothing deployed");

    // bootstrap brings a bucket back, and deploy works again.
    let repaired = deploy::bootstrap(
        harness::REGION,
        &deploy::BootstrapOptions {
            aws: moto.aws_options(),
            yes: true,
            timeout: deploy::DEFAULT_TIMEOUT,
        },
    )
    .expect("bootstrap repairs");
    moto.aws(&["s3api", "head-bucket", "--bucket", &repaired]);
    let report = deploy::deploy(&assembly, &moto.deploy_options()).expect("deploy");
    assert_eq!(report.assets_bucket.as_deref(), Some(repaired.as_str()));
    assert_eq!(
        moto.stack_status(&stack).as_deref(),
        Some("CREATE_COMPLETE")
    );
}

#[test]
fn a_missing_aws_cli_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let err = format!(
        "{:#}",
        deploy::deploy(
            &assembly,
            &deploy::DeployOptions {
                aws: AwsOptions {
                    cli: Some("/nonexistent/bin/aws".into()),
                    region: Some(harness::REGION.into()),
                    ..Default::default()
                },
                yes: true,
                assets_bucket: None,
                timeout: deploy::DEFAULT_TIMEOUT,
            }
        )
        .unwrap_err()
    );
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.contains("cannot run `aws sts get-caller-identity"),
        "{err}"
    );
    assert!(err.contains("install the AWS CLI"), "{err}");
    assert!(err.contains("--aws-cli PATH"), "{err}");
}

#[test]
fn missing_credentials_stop_the_deploy_before_any_work() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let mut aws = moto.aws_options();
    // Empty values count as unset for the AWS CLI.
    for key in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        aws.env.push((key.into(), "".into()));
    }
    let err = format!(
        "{:#}",
        deploy::deploy(
            &assembly,
            &deploy::DeployOptions {
                aws,
                ..moto.deploy_options()
            }
        )
        .unwrap_err()
    );
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.contains("check the credentials before deploying"),
        "{err}"
    );
    assert!(err.contains("Unable to locate credentials"), "{err}");
    assert!(err.contains("run `aws configure`"), "{err}");
    // Nothing was created.
    assert_eq!(live_stacks(&moto), Vec::<String>::new());
    let buckets = moto.aws(&["s3api", "list-buckets"]);
    assert_eq!(buckets["Buckets"], json!([]), "{buckets}");
}

#[test]
fn invalid_credentials_are_refused_with_what_to_do() {
    // With no unauthenticated actions allowed, moto checks keys like AWS does.
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let err = format!(
        "{:#}",
        deploy::deploy(&assembly, &moto.deploy_options()).unwrap_err()
    );
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.contains("check the credentials before deploying"),
        "{err}"
    );
    assert!(err.contains("InvalidClientTokenId"), "{err}");
    assert!(err.contains("the AWS credentials are not valid"), "{err}");
}

const CHILD: &str = "WSECHO_DEPLOY_TEST_CHILD";

/// Runs in a child process whose stdin is not a terminal (see the test below).
fn refusal_scenario() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let stack = assembly.stack.stack_name.clone();
    let no_yes = deploy::DeployOptions {
        yes: false,
        ..moto.deploy_options()
    };

    // Nothing there yet: not even the toolkit is created without --yes.
    let err = format!("{:#}", deploy::deploy(&assembly, &no_yes).unwrap_err());
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.contains("without --yes: stdin is not a terminal"),
        "{err}"
    );
    assert_eq!(live_stacks(&moto), Vec::<String>::new());

    // Deployed, then changed: refused, the change set is gone, the code is as it was.
    deploy::deploy(&assembly, &moto.deploy_options()).expect("deploy --yes");
    let echo = function_logical_id(&assembly, "echo");
    let before = code_hashes(&moto, &stack);
    harness::change_function_code(dir.path(), "echo");
    let changed = Assembly::read(dir.path()).unwrap();
    let err = format!("{:#}", deploy::deploy(&changed, &no_yes).unwrap_err());
    eprintln!("error shown to the user:\n{err}");
    assert!(err.contains("refusing to change stack wsecho-dev"), "{err}");
    assert_eq!(code_hashes(&moto, &stack), before, "{echo} unchanged");
    let sets = moto.aws(&["cloudformation", "list-change-sets", "--stack-name", &stack]);
    let pending: Vec<&Value> = sets["Summaries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["ExecutionStatus"] == "AVAILABLE")
        .collect();
    assert!(pending.is_empty(), "{sets}");

    // Unchanged needs no confirmation.
    let fresh = tempfile::tempdir().unwrap();
    let same = write_assembly(fresh.path());
    assert_eq!(
        deploy::deploy(&same, &no_yes)
            .expect("no-change deploy")
            .outcome,
        Outcome::NoChanges
    );
}

#[test]
fn without_yes_a_deploy_is_refused_when_stdin_is_not_a_terminal() {
    if std::env::var_os(CHILD).is_some() {
        refusal_scenario();
        return;
    }
    // Run this test again in a child whose stdin is /dev/null, so the outcome doesn't depend
    // on how the test runner was started.
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "without_yes_a_deploy_is_refused_when_stdin_is_not_a_terminal",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .stdin(Stdio::null())
        .status()
        .expect("the test binary runs");
    assert!(
        status.success(),
        "the refusal scenario failed ({status}); see its output above"
    );
}
