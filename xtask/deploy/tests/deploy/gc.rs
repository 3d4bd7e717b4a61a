//! `gc`: deploys the dev stack, replaces one function's code, and checks what the collection
//! keeps and deletes.

use assembly::Assembly;
use deploy::{GcOptions, GcReport};
use testenv::fixture::{
    change_function_code, function_logical_id, function_packages, write_assembly,
};
use testenv::moto::{Moto, REGION};

use crate::standin::{self, StandIn};
use crate::{World, aws_options, bootstrap_as_on_aws, deploy_options, message};

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
    bootstrap_as_on_aws(&moto);
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

/// The keys of the first deploy and of an update that replaced echo's code: (old, new).
fn deploy_twice(moto: &Moto, dir: &std::path::Path) -> (Assembly, String, String) {
    let assembly = write_assembly(dir);
    deploy::deploy(&assembly, &deploy_options(moto)).expect("the first deploy");
    let echo = function_logical_id(&assembly, "echo");
    let old_key = assembly::template::function_code_keys(&assembly.template)
        .into_iter()
        .find_map(|(id, key)| (id == echo).then_some(key))
        .expect("echo's first zip");
    let new_key = change_function_code(dir, "echo");
    deploy::deploy(&Assembly::read(dir).unwrap(), &deploy_options(moto)).expect("the update");
    (assembly, old_key, new_key)
}

fn try_gc(aws: deploy::AwsOptions, keep_days: u64) -> deploy::Result<GcReport> {
    deploy::gc(
        REGION,
        &GcOptions {
            aws,
            yes: true,
            keep_days,
            dry_run: false,
        },
    )
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn gc_refuses_while_any_stack_is_changing_or_failed() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    let dir = tempfile::tempdir().unwrap();
    deploy_twice(&moto, dir.path());
    // Someone's first deploy, waiting at its prompt: a stack in REVIEW_IN_PROGRESS.
    moto.aws(&[
        "cloudformation",
        "create-change-set",
        "--stack-name",
        "someone-elses-app",
        "--change-set-name",
        "pending",
        "--change-set-type",
        "CREATE",
        "--template-body",
        r#"{"Resources": {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}"#,
    ]);
    let before = World::of(&moto);
    let err = message(&try_gc(aws_options(&moto), 0).unwrap_err());
    eprintln!("error shown to the user:\n{err}");
    assert!(
        err.contains("someone-elses-app (REVIEW_IN_PROGRESS)") && err.contains("not settled"),
        "{err}"
    );
    assert!(err.ends_with("nothing was deleted"), "{err}");
    assert_eq!(World::of(&moto), before, "the refusal changed something");
}

/// moto's `get-template --change-set-name` gives the stack's template, not the change
/// set's: a stand-in answers it with the change set's, as CloudFormation does.
#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn a_change_set_waiting_to_run_keeps_the_zips_it_names() {
    let moto = Moto::start();
    let bucket = bootstrap_as_on_aws(&moto);
    let dir = tempfile::tempdir().unwrap();
    let (first, old_key, _) = deploy_twice(&moto, dir.path());
    // Someone's rollback to the first version, waiting at its prompt.
    let pending = moto.aws(&[
        "cloudformation",
        "create-change-set",
        "--stack-name",
        &first.stack.stack_name,
        "--change-set-name",
        "back-to-the-first",
        "--change-set-type",
        "UPDATE",
        "--template-body",
        &first.template_text,
        "--parameters",
        &format!("ParameterKey=AssetsBucket,ParameterValue={bucket}"),
        "--capabilities",
        "CAPABILITY_IAM",
        "CAPABILITY_NAMED_IAM",
    ]);
    let change_set = pending["Id"].as_str().unwrap().to_owned();
    let first_template = first.template_text.clone();
    let asked = change_set.clone();
    let cloudformation = StandIn::start(
        &moto,
        vec![standin::on_action(
            "GetTemplate",
            move |r| r.form("ChangeSetName").as_deref() == Some(asked.as_str()),
            move |_| standin::template_answer(&first_template),
        )],
    );
    let aws = cloudformation.options(&moto, &["CLOUDFORMATION"]);
    let report = try_gc(aws.clone(), 0).expect("gc");
    assert!(report.referenced.contains(&old_key), "{report:?}");
    assert!(report.unreferenced.is_empty(), "{report:?}");
    assert!(moto.bucket_keys(&bucket).contains(&old_key));
    assert!(cloudformation.answered_count() >= 1);

    // Once the change set is gone, nothing names the old zip.
    moto.aws(&[
        "cloudformation",
        "delete-change-set",
        "--change-set-name",
        &change_set,
    ]);
    let report = try_gc(aws, 0).expect("gc");
    assert_eq!(report.unreferenced, vec![old_key.clone()]);
    assert!(!moto.bucket_keys(&bucket).contains(&old_key));
}

/// Writes gc's record of when keys were first found unreferenced.
fn write_ledger(moto: &Moto, bucket: &str, marks: &[(&str, &str)]) {
    let since: serde_json::Map<String, serde_json::Value> = marks
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        serde_json::json!({ "unreferencedSince": since }).to_string(),
    )
    .unwrap();
    moto.aws(&[
        "s3api",
        "put-object",
        "--bucket",
        bucket,
        "--key",
        "gc/unreferenced.json",
        "--body",
        &file.path().to_string_lossy(),
    ]);
}

fn read_ledger(moto: &Moto, bucket: &str) -> serde_json::Value {
    let file = tempfile::NamedTempFile::new().unwrap();
    moto.aws(&[
        "s3api",
        "get-object",
        "--bucket",
        bucket,
        "--key",
        "gc/unreferenced.json",
        &file.path().to_string_lossy(),
    ]);
    serde_json::from_str(&std::fs::read_to_string(file.path()).unwrap()).unwrap()
}

fn days_ago(days: u64) -> String {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400);
    humantime::format_rfc3339_seconds(then).to_string()
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn age_counts_from_when_a_key_stopped_being_named_not_from_its_upload() {
    let moto = Moto::start();
    let bucket = bootstrap_as_on_aws(&moto);
    let dir = tempfile::tempdir().unwrap();
    let (_, old_key, new_key) = deploy_twice(&moto, dir.path());

    // First found unreferenced now: kept, and the moment recorded in the bucket.
    let report = try_gc(aws_options(&moto), 7).expect("gc");
    assert_eq!(report.recent, vec![old_key.clone()]);
    let ledger = read_ledger(&moto, &bucket);
    assert!(
        ledger["unreferencedSince"][&old_key].is_string(),
        "{ledger}"
    );
    assert!(
        ledger["unreferencedSince"].get(&new_key).is_none(),
        "{ledger}"
    );

    // Unreferenced for 8 days by the record: collected at --keep-days 7. The zip in use
    // with a stale mark (it was unreferenced once, then named again) is kept and unmarked.
    write_ledger(
        &moto,
        &bucket,
        &[
            (old_key.as_str(), &days_ago(8)),
            (new_key.as_str(), &days_ago(30)),
        ],
    );
    let report = try_gc(aws_options(&moto), 7).expect("gc");
    assert_eq!(report.unreferenced, vec![old_key.clone()]);
    assert!(report.referenced.contains(&new_key));
    let keys = moto.bucket_keys(&bucket);
    assert!(
        !keys.contains(&old_key) && keys.contains(&new_key),
        "{keys:?}"
    );
    let ledger = read_ledger(&moto, &bucket);
    assert_eq!(
        ledger["unreferencedSince"],
        serde_json::json!({}),
        "{ledger}"
    );
}

#[test]
#[ignore = "needs moto, the AWS CLI and the test assembly: `cargo xtask test` provides them"]
fn destroy_with_assets_keeps_the_bucket_while_another_stack_names_its_zips() {
    let moto = Moto::start();
    bootstrap_as_on_aws(&moto);
    let dir = tempfile::tempdir().unwrap();
    let assembly = write_assembly(dir.path());
    deploy::deploy(&assembly, &deploy_options(&moto)).expect("deploy");
    // A zip the stage deploys (the manifest also lists functions the stage doesn't).
    let (_, key) = assembly::template::function_code_keys(&assembly.template)
        .into_iter()
        .next()
        .expect("the stage deploys code");
    let other = serde_json::json!({"Resources": {"Handle": {
        "Type": "AWS::CloudFormation::WaitConditionHandle",
        "Metadata": {"Code": key},
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
    let before = World::of(&moto);
    let err = message(
        &deploy::destroy(
            &assembly.stack,
            &deploy::DestroyOptions {
                aws: aws_options(&moto),
                yes: true,
                with_assets: true,
                timeout: deploy::DEFAULT_TIMEOUT,
                progress: deploy::Progress::Plain,
            },
        )
        .unwrap_err(),
    );
    eprintln!("error shown to the user:\n{err}");
    assert!(err.contains("not-a-stage still names code in it"), "{err}");
    assert!(err.ends_with("nothing was deleted"), "{err}");
    assert_eq!(World::of(&moto), before, "the refusal changed something");
}
