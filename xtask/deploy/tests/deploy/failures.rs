//! Deploys that go wrong: each gives a clear error and fails, and nothing already deployed
//! is lost.

use std::process::{Command, Stdio};

use assembly::Assembly;
use deploy::{AwsOptions, Outcome};
use serde_json::{Value, json};
use testenv::fixture::{
    change_function_code, edit_template, function_logical_id, function_packages, write_assembly,
};
use testenv::moto::{Moto, REGION};

use crate::{aws_options, bootstrap_as_on_aws, code_hashes, code_of, deploy_options, message};

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
    edit_template(dir, |t| {
        t["Resources"].as_object_mut().unwrap().insert(
            "BrokenQueue".into(),
            json!({"Type": "AWS::SQS::Queue", "Properties": {
                "QueueName": {"Fn::GetAtt": ["NoSuchResource", "Arn"]}}}),
        );
    });
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn a_template_moto_rejects_fails_clearly_and_the_next_deploy_recovers() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    let dir = tempfile::tempdir().unwrap();
    write_assembly(dir.path());
    break_template(dir.path());
    let broken = Assembly::read(dir.path()).unwrap();
    let stack = broken.stack.stack_name.clone();

    // First create fails: the error names the cause and the state.
    let err = message(&deploy::deploy(&broken, &deploy_options(&moto)).unwrap_err());
    eprintln!("error shown to the user:\n{err}");
    assert!(err.contains("deploying stack wsecho-dev failed"), "{err}");
    assert!(err.contains("NoSuchResource"), "{err}");
    assert!(err.contains("the next deploy offers to delete it"), "{err}");

    // A fixed template deploys over the remains.
    let fixed_dir = tempfile::tempdir().unwrap();
    let fixed = write_assembly(fixed_dir.path());
    let report = deploy::deploy(&fixed, &deploy_options(&moto)).expect("the fixed deploy");
    assert_eq!(report.outcome, Outcome::Deployed);
    assert_eq!(
        moto.stack_status(&stack).as_deref(),
        Some("CREATE_COMPLETE")
    );
    let functions = moto.resources(&stack, "AWS::Lambda::Function");
    let deployed = code_of(&moto, &functions);
    assert_eq!(deployed.len(), function_packages(&fixed).len());

    // A broken update fails and leaves what was deployed.
    break_template(fixed_dir.path());
    let err = message(
        &deploy::deploy(
            &Assembly::read(fixed_dir.path()).unwrap(),
            &deploy_options(&moto),
        )
        .unwrap_err(),
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
    let new_key = change_function_code(good_dir.path(), "echo");
    let report = deploy::deploy(
        &Assembly::read(good_dir.path()).unwrap(),
        &deploy_options(&moto),
    )
    .expect("the deploy after a failed update");
    assert_eq!(report.outcome, Outcome::Deployed);
    assert_eq!(report.uploaded, vec![new_key]);
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn a_missing_bucket_is_named_with_what_to_do_and_bootstrap_repairs_it() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let stack = assembly.stack.stack_name.clone();

    // A bucket given by name that isn't there.
    let err = message(
        &deploy::deploy(
            &assembly,
            &deploy::DeployOptions {
                assets_bucket: Some("wsecho-no-such-bucket".into()),
                ..deploy_options(&moto)
            },
        )
        .unwrap_err(),
    );
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.contains("wsecho-no-such-bucket (from --assets-bucket) does not exist"),
        "{err}"
    );
    assert_eq!(moto.stack_status(&stack), None, "nothing deployed");

    // The toolkit's bucket deleted behind CloudFormation's back.
    let bucket = deploy::bootstrap(
        REGION,
        &deploy::BootstrapOptions {
            aws: aws_options(&moto),
            yes: true,
            timeout: deploy::DEFAULT_TIMEOUT,
            progress: deploy::Progress::Plain,
        },
    )
    .unwrap();
    moto.aws(&["s3api", "delete-bucket", "--bucket", &bucket]);
    let err = message(&deploy::deploy(&assembly, &deploy_options(&moto)).unwrap_err());
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.contains(&format!("{bucket} of stack wsecho-toolkit does not exist")),
        "{err}"
    );
    assert!(err.contains("run `cargo xtask bootstrap`"), "{err}");
    assert_eq!(moto.stack_status(&stack), None, "nothing deployed");

    // bootstrap brings a bucket back, and deploy works again.
    let repaired = deploy::bootstrap(
        REGION,
        &deploy::BootstrapOptions {
            aws: aws_options(&moto),
            yes: true,
            timeout: deploy::DEFAULT_TIMEOUT,
            progress: deploy::Progress::Plain,
        },
    )
    .expect("bootstrap repairs");
    moto.aws(&["s3api", "head-bucket", "--bucket", &repaired]);
    // What the new toolkit stack's account setting does on AWS (moto skips it).
    moto.set_account_role(&moto.toolkit_role_arn(deploy::TOOLKIT_STACK));
    let report = deploy::deploy(&assembly, &deploy_options(&moto)).expect("deploy");
    assert_eq!(report.assets_bucket.as_deref(), Some(repaired.as_str()));
    assert_eq!(
        moto.stack_status(&stack).as_deref(),
        Some("CREATE_COMPLETE")
    );
}

#[test]
#[ignore = "needs the test assembly: `cargo xtask test` provides it"]
fn a_missing_aws_cli_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let err = message(
        &deploy::deploy(
            &assembly,
            &deploy::DeployOptions {
                aws: AwsOptions {
                    cli: Some("/nonexistent/bin/aws".into()),
                    region: Some(REGION.into()),
                    ..Default::default()
                },
                yes: true,
                assets_bucket: None,
                timeout: deploy::DEFAULT_TIMEOUT,
                progress: deploy::Progress::Plain,
            },
        )
        .unwrap_err(),
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
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn missing_credentials_stop_the_deploy_before_any_work() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let mut aws = aws_options(&moto);
    // Empty values count as unset for the AWS CLI.
    for key in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        aws.env.push((key.into(), "".into()));
    }
    let err = message(
        &deploy::deploy(
            &assembly,
            &deploy::DeployOptions {
                aws,
                ..deploy_options(&moto)
            },
        )
        .unwrap_err(),
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
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn invalid_credentials_are_refused_with_what_to_do() {
    // With no unauthenticated actions allowed, moto checks keys like AWS does.
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let err = message(&deploy::deploy(&assembly, &deploy_options(&moto)).unwrap_err());
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
        ..deploy_options(&moto)
    };

    // Nothing there yet: not even the toolkit is created without --yes.
    let err = message(&deploy::deploy(&assembly, &no_yes).unwrap_err());
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.contains("without --yes: stdin is not a terminal"),
        "{err}"
    );
    assert_eq!(live_stacks(&moto), Vec::<String>::new());

    // Deployed, then changed: refused, the change set is gone, the code is as it was.
    bootstrap_as_on_aws(&moto);
    deploy::deploy(&assembly, &deploy_options(&moto)).expect("deploy --yes");
    let echo = function_logical_id(&assembly, "echo");
    let before = code_hashes(&moto, &stack);
    change_function_code(dir.path(), "echo");
    let changed = Assembly::read(dir.path()).unwrap();
    let err = message(&deploy::deploy(&changed, &no_yes).unwrap_err());
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
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
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
            "failures::without_yes_a_deploy_is_refused_when_stdin_is_not_a_terminal",
            "--include-ignored",
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
