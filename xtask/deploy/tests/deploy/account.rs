//! The account's API Gateway CloudWatch role: one per account and region, the toolkit
//! stack's, set only where the account has none or a dead one, checked before a stage that
//! logs is deployed, and never touched by `destroy`.
//!
//! moto answers `apigateway get-account` and `update-account` (the setting), and skips the
//! toolkit's `AWS::ApiGateway::Account`: what that resource would do on AWS, the tests do
//! with `set_account_role` / `bootstrap_as_on_aws`, and they check the decision in the
//! template bootstrap deployed.

use serde_json::Value;
use testenv::fixture::write_assembly;
use testenv::moto::{Moto, REGION};

use crate::{
    World, account_role, aws_options, bootstrap_as_on_aws, bootstrap_options, deploy_options,
    message,
};

/// Whether the toolkit stack, as deployed, holds the account setting.
fn toolkit_sets_account(moto: &Moto) -> bool {
    let t = moto.aws(&[
        "cloudformation",
        "get-template",
        "--stack-name",
        deploy::TOOLKIT_STACK,
    ]);
    t["TemplateBody"]["Resources"]
        .get("ApiGatewayAccount")
        .is_some()
}

fn create_role(moto: &Moto, name: &str) -> String {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = moto.aws(&[
        "iam",
        "create-role",
        "--role-name",
        name,
        "--assume-role-policy-document",
        trust,
    ]);
    role["Role"]["Arn"].as_str().unwrap().to_owned()
}

#[test]
#[ignore = "needs moto and the AWS CLI: `cargo xtask test` provides them"]
fn a_working_role_of_someone_elses_is_left_alone() {
    let moto = Moto::start();
    let theirs = create_role(&moto, "other-team-apigw-logs");
    moto.set_account_role(&theirs);

    deploy::bootstrap(REGION, &bootstrap_options(&moto)).expect("bootstrap");
    // The toolkit has its role ready, but doesn't take the setting.
    assert!(!toolkit_sets_account(&moto));
    moto.aws(&["iam", "get-role", "--role-name", "other-team-apigw-logs"]);
    assert_eq!(account_role(&moto).as_deref(), Some(theirs.as_str()));
    assert_ne!(moto.toolkit_role_arn(deploy::TOOLKIT_STACK), theirs);

    // A stage that logs deploys through their role.
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    deploy::deploy(&assembly, &deploy_options(&moto)).expect("deploy");
    assert_eq!(account_role(&moto).as_deref(), Some(theirs.as_str()));

    // A later bootstrap still leaves it alone, and changes nothing.
    let events = moto.stack_event_count(deploy::TOOLKIT_STACK);
    deploy::bootstrap(REGION, &bootstrap_options(&moto)).expect("bootstrap again");
    assert_eq!(moto.stack_event_count(deploy::TOOLKIT_STACK), events);
    assert_eq!(account_role(&moto).as_deref(), Some(theirs.as_str()));
}

#[test]
#[ignore = "needs moto and the AWS CLI: `cargo xtask test` provides them"]
fn a_setting_naming_a_deleted_role_gets_the_toolkits() {
    let moto = Moto::start();
    let gone = "arn:aws:iam::123456789012:role/deleted-long-ago";
    moto.set_account_role(gone);
    deploy::bootstrap(REGION, &bootstrap_options(&moto)).expect("bootstrap");
    assert!(toolkit_sets_account(&moto));
    // On AWS the stack's ApiGatewayAccount now names the toolkit's role; moto skipped it, so
    // the next bootstrap finds the dead role still there and points the setting at the
    // toolkit's (the repair for a setting changed behind the stack's back).
    assert_eq!(account_role(&moto).as_deref(), Some(gone));
    deploy::bootstrap(REGION, &bootstrap_options(&moto)).expect("bootstrap again");
    assert_eq!(
        account_role(&moto),
        Some(moto.toolkit_role_arn(deploy::TOOLKIT_STACK))
    );
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn a_stage_that_logs_needs_a_working_role_and_is_refused_without_one() {
    let moto = Moto::start();
    // The toolkit is there (bucket and role), but the account's setting is not applied.
    deploy::bootstrap(REGION, &bootstrap_options(&moto)).expect("bootstrap");
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let stack = assembly.stack.stack_name.clone();

    let before = World::of(&moto);
    let err = message(&deploy::deploy(&assembly, &deploy_options(&moto)).unwrap_err());
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.contains("stack wsecho-dev turns on API Gateway logging"),
        "{err}"
    );
    assert!(err.contains("name no CloudWatch role"), "{err}");
    assert!(err.contains("Run `cargo xtask bootstrap`"), "{err}");
    assert_eq!(World::of(&moto), before, "the refusal changed something");
    assert_eq!(moto.stack_status(&stack), None);

    // A setting naming a role that is gone is no better.
    moto.set_account_role("arn:aws:iam::123456789012:role/deleted");
    let before = World::of(&moto);
    let err = message(&deploy::deploy(&assembly, &deploy_options(&moto)).unwrap_err());
    assert!(err.contains("which no longer exists"), "{err}");
    assert_eq!(World::of(&moto), before, "the refusal changed something");

    // What the error says to run fixes it.
    deploy::bootstrap(REGION, &bootstrap_options(&moto)).expect("bootstrap");
    deploy::deploy(&assembly, &deploy_options(&moto)).expect("deploy");
    assert_eq!(
        moto.stack_status(&stack).as_deref(),
        Some("CREATE_COMPLETE")
    );
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn destroy_never_touches_the_account_role() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    let role = moto.toolkit_role_arn(deploy::TOOLKIT_STACK);
    let role_name = role.rsplit('/').next().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    deploy::deploy(&assembly, &deploy_options(&moto)).expect("deploy");
    // The stage's stack holds no account-wide resource.
    let t = moto.aws(&[
        "cloudformation",
        "get-template",
        "--stack-name",
        &assembly.stack.stack_name,
    ]);
    let types: Vec<&str> = t["TemplateBody"]["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|r| r["Type"].as_str())
        .collect();
    assert!(!types.contains(&"AWS::ApiGateway::Account"), "{types:?}");

    let opts = deploy::DestroyOptions {
        aws: aws_options(&moto),
        yes: true,
        with_assets: false,
        timeout: deploy::DEFAULT_TIMEOUT,
        progress: deploy::Progress::Plain,
    };
    deploy::destroy(&assembly.stack, &opts).expect("destroy");
    assert_eq!(account_role(&moto).as_deref(), Some(role.as_str()));
    moto.aws(&["iam", "get-role", "--role-name", &role_name]);

    // Even with the toolkit stack gone, the role and the setting stay (retained).
    deploy::destroy(
        &assembly.stack,
        &deploy::DestroyOptions {
            with_assets: true,
            ..opts
        },
    )
    .expect("destroy --with-assets");
    assert_eq!(moto.stack_status(deploy::TOOLKIT_STACK), None);
    assert_eq!(account_role(&moto).as_deref(), Some(role.as_str()));
    let kept = moto.aws(&["iam", "get-role", "--role-name", &role_name]);
    assert_eq!(kept["Role"]["Arn"], Value::from(role.as_str()));
}
