//! Refusals: the wrong account, a disagreeing AWS_REGION, a bucket in another region, more
//! reserved concurrency than the account has, a stack deploy must not delete by itself, a
//! deletion nobody agreed to. Each says why and what to do, and leaves every stack, every
//! bucket and the account's settings as they were (`World`).

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use assembly::{Assembly, STACK_FILE};
use deploy::{AwsOptions, DeployOptions, Outcome};
use serde_json::{Value, json};
use testenv::fixture::{change_function_code, edit_template, write_assembly};
use testenv::moto::{Moto, REGION, aws_env};

use crate::standin::{self, Answer, StandIn};
use crate::{World, aws_options, bootstrap_as_on_aws, deploy_options, message};

/// Pins (or unpins) the assembly's stack to an account, as `account_id` in its stage file does.
fn pin(dir: &Path, account: Option<&str>) -> Assembly {
    let path = dir.join(STACK_FILE);
    let mut stack: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    match account {
        Some(a) => stack["accountId"] = Value::from(a),
        None => {
            stack.as_object_mut().unwrap().remove("accountId");
        }
    }
    fs::write(&path, stack.to_string()).unwrap();
    Assembly::read(dir).unwrap()
}

fn diff_options(aws: AwsOptions) -> deploy::DiffOptions {
    deploy::DiffOptions {
        aws,
        template: None,
        assets_bucket: None,
        timeout: deploy::DEFAULT_TIMEOUT,
    }
}

fn destroy_options(aws: AwsOptions) -> deploy::DestroyOptions {
    deploy::DestroyOptions {
        aws,
        yes: true,
        with_assets: true,
        timeout: deploy::DEFAULT_TIMEOUT,
        progress: deploy::Progress::Plain,
    }
}

/// A stack created by a change set that never ran: moto leaves one behind when executing a
/// broken template fails (CloudFormation: an interrupted first deploy).
fn leave_review_in_progress(moto: &Moto) {
    let dir = tempfile::tempdir().unwrap();
    write_assembly(dir.path());
    edit_template(dir.path(), |t| {
        t["Resources"].as_object_mut().unwrap().insert(
            "BrokenQueue".into(),
            json!({"Type": "AWS::SQS::Queue", "Properties": {
                "QueueName": {"Fn::GetAtt": ["NoSuchResource", "Arn"]}}}),
        );
    });
    let broken = Assembly::read(dir.path()).unwrap();
    deploy::deploy(&broken, &deploy_options(moto)).expect_err("a broken template fails");
    assert_eq!(
        moto.stack_status(&broken.stack.stack_name).as_deref(),
        Some("REVIEW_IN_PROGRESS")
    );
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn a_pinned_account_refuses_other_credentials_everywhere() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    deploy::deploy(&assembly, &deploy_options(&moto)).expect("deploy");
    change_function_code(dir.path(), "echo");

    // moto's credentials are account 123456789012's; the stage pins another.
    let pinned = pin(dir.path(), Some("111111111111"));
    let before = World::of(&moto);
    let errors = [
        deploy::deploy(&pinned, &deploy_options(&moto)).unwrap_err(),
        deploy::diff(&pinned, &diff_options(aws_options(&moto))).unwrap_err(),
        deploy::destroy(&pinned.stack, &destroy_options(aws_options(&moto))).unwrap_err(),
    ];
    for err in &errors {
        let err = message(err);
        eprintln!("error shown to the user:\n{err}");
        assert!(
            err.starts_with("stack wsecho-dev belongs to account 111111111111"),
            "{err}"
        );
        assert!(
            err.contains("credentials are for account 123456789012"),
            "{err}"
        );
        assert!(err.ends_with("nothing was changed"), "{err}");
    }
    assert_eq!(World::of(&moto), before, "a refusal changed something");

    // The right account: the summary names the account, the region and the stack.
    let right = pin(dir.path(), Some("123456789012"));
    let shown = deploy::diff(&right, &diff_options(aws_options(&moto))).expect("diff");
    assert!(
        shown
            .text
            .starts_with("Changes to stack wsecho-dev in account 123456789012, region us-east-1"),
        "{}",
        shown.text
    );
    let report = deploy::deploy(&right, &deploy_options(&moto)).expect("deploy");
    assert_eq!(report.outcome, Outcome::Deployed);
    assert_eq!(
        (report.account.as_str(), report.region.as_str()),
        ("123456789012", REGION)
    );
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn an_aws_region_that_disagrees_with_the_stage_file_is_an_error_naming_both() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let stage_region = assembly.stack.region.clone();
    assert_ne!(stage_region, REGION);
    // No --region; a shell left pointing at another region.
    let mut env = aws_env();
    env.push(("AWS_REGION".into(), REGION.into()));
    let aws = AwsOptions {
        region: None,
        env,
        ..aws_options(&moto)
    };
    let errors = [
        deploy::deploy(
            &assembly,
            &DeployOptions {
                aws: aws.clone(),
                ..deploy_options(&moto)
            },
        )
        .unwrap_err(),
        deploy::diff(&assembly, &diff_options(aws.clone())).unwrap_err(),
        deploy::destroy(&assembly.stack, &destroy_options(aws)).unwrap_err(),
    ];
    for err in &errors {
        let err = message(err);
        eprintln!("error shown to the user:\n{err}");
        assert!(
            err.starts_with(&format!(
                "AWS_REGION is {REGION} but the stage file says {stage_region}"
            )),
            "{err}"
        );
        assert!(err.contains(&format!("--region {REGION}")), "{err}");
    }
    assert_eq!(
        World::of(&moto),
        World {
            stacks: vec![],
            keys: vec![],
            account_role: None
        }
    );
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn a_bucket_in_another_region_is_refused_before_anything_changes() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    moto.aws(&[
        "s3api",
        "create-bucket",
        "--bucket",
        "wsecho-assets-ireland",
        "--create-bucket-configuration",
        "LocationConstraint=eu-west-1",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let before = World::of(&moto);
    let err = message(
        &deploy::deploy(
            &assembly,
            &DeployOptions {
                assets_bucket: Some("wsecho-assets-ireland".into()),
                ..deploy_options(&moto)
            },
        )
        .unwrap_err(),
    );
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.contains(
            "wsecho-assets-ireland is in eu-west-1, but stack wsecho-dev deploys to us-east-1"
        ),
        "{err}"
    );
    assert!(
        err.contains("cargo xtask bootstrap --region us-east-1"),
        "{err}"
    );
    assert_eq!(World::of(&moto), before, "the refusal changed something");
}

/// moto has no `lambda get-account-settings`: a stand-in answers it as a new account's
/// Lambda does (a concurrency quota of 10), everything else goes to moto.
#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn more_reserved_concurrency_than_the_account_has_is_refused() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    let lambda = StandIn::start(
        &moto,
        vec![standin::on_path(
            "GET",
            "/2016-08-19/account-settings",
            |_| Answer {
                status: 200,
                content_type: "application/json",
                body: json!({
                "AccountLimit": {"TotalCodeSize": 80530636800u64, "CodeSizeUnzipped": 262144000,
                    "CodeSizeZipped": 52428800, "ConcurrentExecutions": 10,
                    "UnreservedConcurrentExecutions": 10},
                "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0}})
                .to_string(),
            },
        )],
    );
    let dir = tempfile::tempdir().unwrap();
    write_assembly(dir.path());
    // What prod's stage file asks for: 50 for each function.
    edit_template(dir.path(), |t| {
        for resource in t["Resources"].as_object_mut().unwrap().values_mut() {
            if resource["Type"] == "AWS::Lambda::Function" {
                resource["Properties"]["ReservedConcurrentExecutions"] = Value::from(50);
            }
        }
    });
    let assembly = Assembly::read(dir.path()).unwrap();
    let before = World::of(&moto);
    let err = message(
        &deploy::deploy(
            &assembly,
            &DeployOptions {
                aws: lambda.options(&moto, &["LAMBDA"]),
                ..deploy_options(&moto)
            },
        )
        .unwrap_err(),
    );
    eprintln!("error shown to the user:\n{err}");
    assert!(err.contains("reserves 200 concurrent executions"), "{err}");
    assert!(err.contains("can reserve only 0 more"), "{err}");
    assert!(
        err.contains("Lower functions.reserved_concurrency"),
        "{err}"
    );
    assert_eq!(lambda.answered_count(), 1);
    assert_eq!(World::of(&moto), before, "the refusal changed something");
}

/// Real CloudFormation fails `get-template` for a stack in REVIEW_IN_PROGRESS; moto answers
/// it. A stand-in fails it as AWS does: the recovery must not depend on that answer.
#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn an_interrupted_first_deploy_is_recovered_though_get_template_fails() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    leave_review_in_progress(&moto);
    let cloudformation = StandIn::start(
        &moto,
        vec![standin::on_action(
            "GetTemplate",
            |r| r.form("StackName").as_deref() == Some("wsecho-dev"),
            |_| {
                standin::cloudformation_error(
                    "ValidationError",
                    "Stack wsecho-dev is in REVIEW_IN_PROGRESS state and has no template",
                )
            },
        )],
    );
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let report = deploy::deploy(
        &assembly,
        &DeployOptions {
            aws: cloudformation.options(&moto, &["CLOUDFORMATION"]),
            ..deploy_options(&moto)
        },
    )
    .expect("the deploy replaces the stack that never ran");
    assert_eq!(report.outcome, Outcome::Deployed);
    assert!(cloudformation.answered_count() >= 1);
    assert_eq!(
        moto.stack_status("wsecho-dev").as_deref(),
        Some("CREATE_COMPLETE")
    );
}

/// moto never leaves a stack in ROLLBACK_FAILED: a stand-in describes the (REVIEW_IN_PROGRESS)
/// stack so, and deploy must refuse, saying what to do, and delete nothing.
#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn a_stack_in_rollback_failed_is_never_deleted_by_deploy() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    leave_review_in_progress(&moto);
    let id = moto.aws(&[
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        "wsecho-dev",
    ])["Stacks"][0]["StackId"]
        .as_str()
        .unwrap()
        .to_owned();
    let cloudformation = StandIn::start(
        &moto,
        vec![standin::on_action(
            "DescribeStacks",
            |r| r.form("StackName").as_deref() == Some("wsecho-dev"),
            move |_| Answer {
                status: 200,
                content_type: "text/xml",
                body: format!(
                    "<DescribeStacksResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
                     <DescribeStacksResult><Stacks><member><StackId>{id}</StackId>\
                     <StackName>wsecho-dev</StackName><StackStatus>ROLLBACK_FAILED</StackStatus>\
                     <StackStatusReason>The following resource(s) failed to delete: [EchoFunctionRole].</StackStatusReason>\
                     <CreationTime>2026-01-01T00:00:00Z</CreationTime></member></Stacks>\
                     </DescribeStacksResult><ResponseMetadata><RequestId>standin</RequestId>\
                     </ResponseMetadata></DescribeStacksResponse>"
                ),
            },
        )],
    );
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let before = World::of(&moto);
    let err = message(
        &deploy::deploy(
            &assembly,
            &DeployOptions {
                aws: cloudformation.options(&moto, &["CLOUDFORMATION"]),
                ..deploy_options(&moto)
            },
        )
        .unwrap_err(),
    );
    eprintln!("error shown to the user:\n{err}");
    assert!(err.contains("stack wsecho-dev is ROLLBACK_FAILED"), "{err}");
    assert!(
        err.contains("deploy never deletes such a stack itself"),
        "{err}"
    );
    assert!(
        err.contains("aws cloudformation delete-stack --stack-name wsecho-dev"),
        "{err}"
    );
    assert_eq!(World::of(&moto), before, "the refusal changed something");
}

const CHILD: &str = "WSECHO_DEPLOY_REFUSALS_CHILD";

/// Without --yes and without a terminal, a deploy that would delete a stack (one that never
/// came to life) refuses, naming what it would delete and where, and deletes nothing.
fn no_deletion_without_consent() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    leave_review_in_progress(&moto);
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let before = World::of(&moto);
    let err = message(
        &deploy::deploy(
            &assembly,
            &DeployOptions {
                yes: false,
                ..deploy_options(&moto)
            },
        )
        .unwrap_err(),
    );
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.contains(
            "refusing to delete stack wsecho-dev (REVIEW_IN_PROGRESS) and create it again in \
             account 123456789012, region us-east-1"
        ),
        "{err}"
    );
    assert_eq!(World::of(&moto), before, "the refusal changed something");
    // With consent, the same deploy replaces it.
    let report = deploy::deploy(&assembly, &deploy_options(&moto)).expect("deploy --yes");
    assert_eq!(report.outcome, Outcome::Deployed);
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn nothing_is_deleted_without_consent() {
    if std::env::var_os(CHILD).is_some() {
        no_deletion_without_consent();
        return;
    }
    // In a child whose stdin is /dev/null: nobody can be asked, whatever runs the tests.
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "refusals::nothing_is_deleted_without_consent",
            "--include-ignored",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .stdin(Stdio::null())
        .status()
        .expect("the test binary runs");
    assert!(
        status.success(),
        "the consent scenario failed ({status}); see its output above"
    );
}
