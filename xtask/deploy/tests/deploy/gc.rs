//! `gc`: deploys the dev stack, replaces one function's code, and checks what the collection
//! keeps and deletes.

use assembly::Assembly;
use deploy::{GcOptions, GcReport};
use testenv::fixture::{
    change_function_code, function_logical_id, function_packages, write_assembly,
};
use testenv::moto::{Moto, REGION};

use crate::{aws_options, deploy_options};

fn gc(moto: &Moto, keep_days: u64, dry_run: bool) -> GcReport {
    deploy::gc(
        REGION,
        &GcOptions {
            aws: aws_options(moto),
            yes: true,
            keep_days,
            dry_run,
        },
    )
    .expect("gc")
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn only_old_assets_no_stack_names_are_deleted() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    let first = deploy::deploy(&assembly, &deploy_options(&moto)).expect("the first deploy");
    let bucket = first.assets_bucket.expect("an assets bucket");
    let functions = function_packages(&assembly).len();
    let echo = function_logical_id(&assembly, "echo");
    let old_key = assembly::template::function_code_keys(&assembly.template)
        .into_iter()
        .find_map(|(id, key)| (id == echo).then_some(key))
        .expect("echo's first zip");
    let new_key = change_function_code(dir.path(), "echo");
    deploy::deploy(&Assembly::read(dir.path()).unwrap(), &deploy_options(&moto))
        .expect("the update");
    // Something in the bucket that is not ours, and another stack (not a wsecho stage) that
    // names the old zip.
    moto.aws(&[
        "s3api",
        "put-object",
        "--bucket",
        &bucket,
        "--key",
        "notes.txt",
    ]);
    let other = serde_json::json!({"Resources": {"Handle": {
        "Type": "AWS::CloudFormation::WaitConditionHandle",
        "Metadata": {"Code": old_key},
    }}})
    .to_string();
    moto.aws(&[
        "cloudformation",
        "create-stack",
        "--stack-name",
        "not-a-stage",
        "--template-body",
        &other,
    ]);

    // Everything is a few seconds old: the default age limit keeps it all.
    let young = gc(&moto, 7, false);
    assert_eq!(young.bucket.as_deref(), Some(bucket.as_str()));
    assert!(young.unreferenced.is_empty(), "{young:?}");
    assert!(!young.deleted);
    assert_eq!(young.referenced.len(), functions + 1, "{young:?}");

    // Named by the other stack: kept at any age.
    let named = gc(&moto, 0, false);
    assert!(named.referenced.contains(&old_key), "{named:?}");
    assert!(named.unreferenced.is_empty(), "{named:?}");

    moto.aws(&[
        "cloudformation",
        "delete-stack",
        "--stack-name",
        "not-a-stage",
    ]);
    let dry = gc(&moto, 0, true);
    assert_eq!(dry.unreferenced, vec![old_key.clone()], "{dry:?}");
    assert!(!dry.deleted);
    assert!(moto.bucket_keys(&bucket).contains(&old_key));

    let collected = gc(&moto, 0, false);
    assert_eq!(collected.unreferenced, vec![old_key.clone()]);
    assert!(collected.deleted);
    let keys = moto.bucket_keys(&bucket);
    assert!(!keys.contains(&old_key), "{keys:?}");
    assert!(keys.contains(&new_key), "{keys:?}");
    assert!(keys.contains(&"notes.txt".to_owned()), "{keys:?}");
    assert_eq!(keys.len(), functions + 1, "{keys:?}");
    // The deployed stack still has all its code: a redeploy uploads nothing.
    let again = deploy::deploy(&Assembly::read(dir.path()).unwrap(), &deploy_options(&moto))
        .expect("a redeploy");
    assert!(again.uploaded.is_empty(), "{:?}", again.uploaded);

    assert!(gc(&moto, 0, false).unreferenced.is_empty());
}

#[test]
#[ignore = "needs moto and the AWS CLI: `cargo xtask test` provides them"]
fn without_a_toolkit_stack_there_is_nothing_to_collect() {
    let moto = Moto::start();
    let report = gc(&moto, 0, false);
    assert_eq!(report, GcReport::default());
}
