//! Assets you can trust: a key already in the bucket is checked (SHA-256) before a deploy
//! relies on it, every S3 call names the account that must own the bucket, and after a deploy
//! each function runs the zip its template names.
//!
//! moto keeps no SHA-256 for an object (`head-object --checksum-mode ENABLED` answers none),
//! so these tests go through the path that reads and hashes the object; and it ignores
//! `x-amz-expected-bucket-owner`, so a stand-in in front of its S3 checks that every request
//! carries it.

use std::fs;
use std::sync::{Arc, Mutex};

use assembly::Assembly;
use deploy::{DeployOptions, GcOptions};
use testenv::fixture::{change_function_code, function_logical_id, write_assembly};
use testenv::moto::{Moto, REGION};

use crate::standin::{Answer, Request, StandIn};
use crate::{World, bootstrap_as_on_aws, code_hashes, deploy_options, message};

/// The account moto's credentials belong to.
const ACCOUNT: &str = "123456789012";

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn an_overwritten_zip_in_the_bucket_stops_the_deploy_and_changes_nothing() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let stack = assembly.stack.stack_name.clone();
    let report = deploy::deploy(&assembly, &deploy_options(&moto)).expect("the first deploy");
    let bucket = report.assets_bucket.unwrap();

    // Someone puts other bytes under the name of a zip the next deploy keeps using.
    let kept = assembly.manifest.function("connect").unwrap().s3_key();
    let other = dir.path().join("other.zip");
    fs::write(&other, b"not the connect function").unwrap();
    moto.aws(&[
        "s3api",
        "put-object",
        "--bucket",
        &bucket,
        "--key",
        &kept,
        "--body",
        other.to_str().unwrap(),
    ]);
    change_function_code(dir.path(), "echo");
    let changed = Assembly::read(dir.path()).unwrap();
    let before = World::of(&moto);
    let hashes = code_hashes(&moto, &stack);

    let err = message(&deploy::deploy(&changed, &deploy_options(&moto)).unwrap_err());
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.starts_with(&format!(
            "the assets bucket {bucket} holds {kept} with other bytes"
        )),
        "{err}"
    );
    assert!(err.contains("someone overwrote it"), "{err}");
    assert!(
        err.contains(&format!(
            "aws s3api delete-object --bucket {bucket} --key {kept}"
        )),
        "{err}"
    );
    assert!(err.ends_with("nothing was changed"), "{err}");
    // Nothing went up (not even the new echo zip), the stack and its code are as they were.
    assert_eq!(World::of(&moto), before, "the refusal changed something");
    assert_eq!(code_hashes(&moto, &stack), hashes);

    // Deleting the object, as the message says, lets the next deploy put the zip back.
    moto.aws(&[
        "s3api",
        "delete-object",
        "--bucket",
        &bucket,
        "--key",
        &kept,
    ]);
    let report = deploy::deploy(&changed, &deploy_options(&moto)).expect("the deploy after");
    assert!(report.uploaded.contains(&kept), "{:?}", report.uploaded);
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn a_function_whose_code_was_changed_outside_cloudformation_fails_the_check_after_deploy() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let stack = assembly.stack.stack_name.clone();
    deploy::deploy(&assembly, &deploy_options(&moto)).expect("the first deploy");

    // The connect function's code is replaced by hand; the next deploy changes only echo.
    let connect = function_logical_id(&assembly, "connect");
    let functions = moto.resources(&stack, "AWS::Lambda::Function");
    let (_, name) = functions.iter().find(|(l, _)| *l == connect).unwrap();
    let echo_zip = assembly.zip_path(assembly.manifest.function("echo").unwrap());
    moto.aws(&[
        "lambda",
        "update-function-code",
        "--function-name",
        name,
        "--zip-file",
        &format!("fileb://{}", echo_zip.display()),
    ]);
    change_function_code(dir.path(), "echo");
    let changed = Assembly::read(dir.path()).unwrap();

    let err = message(&deploy::deploy(&changed, &deploy_options(&moto)).unwrap_err());
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.starts_with(&format!(
            "after deploying stack {stack}, function {name} ({connect}) runs code"
        )),
        "{err}"
    );
    let key = assembly.manifest.function("connect").unwrap().s3_key();
    assert!(err.contains(&format!("not the zip {key}")), "{err}");
    assert!(err.contains("changed outside CloudFormation"), "{err}");
}

/// An S3 request: its method, path and expected bucket owner.
type Seen = (String, String, Option<String>);

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn every_s3_call_names_the_account_that_must_own_the_bucket() {
    let moto = Moto::start();
    // Every S3 request the commands send.
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let record = seen.clone();
    let standin = StandIn::start(
        &moto,
        vec![Box::new(move |r: &Request| -> Option<Answer> {
            record.lock().unwrap().push((
                r.method.clone(),
                r.path.clone(),
                r.header("x-amz-expected-bucket-owner").map(str::to_owned),
            ));
            None
        })],
    );
    let aws = standin.options(&moto, &["S3"]);

    let bucket = deploy::bootstrap(
        REGION,
        &deploy::BootstrapOptions {
            aws: aws.clone(),
            yes: true,
            timeout: deploy::DEFAULT_TIMEOUT,
            progress: deploy::Progress::Plain,
        },
    )
    .expect("bootstrap");
    moto.set_account_role(&moto.toolkit_role_arn(deploy::TOOLKIT_STACK));
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let opts = DeployOptions {
        aws: aws.clone(),
        ..deploy_options(&moto)
    };
    deploy::deploy(&assembly, &opts).expect("the first deploy");
    change_function_code(dir.path(), "echo");
    deploy::deploy(&Assembly::read(dir.path()).unwrap(), &opts).expect("the update");
    deploy::gc(
        REGION,
        &GcOptions {
            aws: aws.clone(),
            yes: true,
            keep_days: 0,
            dry_run: false,
        },
    )
    .expect("gc");
    deploy::destroy(
        &assembly.stack,
        &deploy::DestroyOptions {
            aws: aws.clone(),
            yes: true,
            with_assets: true,
            timeout: deploy::DEFAULT_TIMEOUT,
            progress: deploy::Progress::Plain,
        },
    )
    .expect("destroy --with-assets");

    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .any(|(m, p, _)| m == "PUT" && p.contains(".zip")),
        "the zips went up through the stand-in: {seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(m, p, _)| m == "DELETE" && p.contains(&bucket)),
        "the bucket was deleted through the stand-in: {seen:?}"
    );
    for (method, path, owner) in seen.iter() {
        assert_eq!(
            owner.as_deref(),
            Some(ACCOUNT),
            "{method} {path} names no expected bucket owner"
        );
    }
}
