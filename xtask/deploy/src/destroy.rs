//! `destroy`: deletes the app stack (and, when asked, the shared assets bucket).

use serde_json::Value;

use crate::aws::{Aws, AwsError};
use crate::{DestroyOptions, Result, aws_for, bucket_exists, confirm, login, stack, toolkit};
use assembly::StackInfo;

/// Deletes the stack and waits for it to go. A stack that isn't there is not an error.
pub fn destroy(stack_info: &StackInfo, opts: &DestroyOptions) -> Result<()> {
    let stack_name = stack_info.stack_name.as_str();
    let aws = aws_for(&opts.aws, stack_info);
    login(&aws, stack_name)?;
    match stack::describe(&aws, stack_name)? {
        None => eprintln!(
            "[destroy] stack {stack_name} does not exist in {}: nothing to delete",
            aws.target()
        ),
        Some(s) => {
            if !confirm::confirm(
                &format!(
                    "Delete stack {stack_name} ({}) and everything in it?",
                    s.status
                ),
                &format!("delete stack {stack_name}"),
                "check the stage and region named above",
                opts.yes,
            )? {
                eprintln!("[destroy] not deleted");
                return Ok(());
            }
            eprintln!("[destroy] deleting stack {stack_name}");
            stack::delete(&aws, &s, opts.timeout)?;
            eprintln!("[destroy] stack {stack_name} deleted");
        }
    }
    if opts.with_assets {
        destroy_toolkit(&aws, opts)?;
    } else {
        eprintln!(
            "[destroy] the assets bucket (stack {}) is kept: other stages may use it; \
             `--with-assets` deletes it too",
            toolkit::TOOLKIT_STACK
        );
    }
    Ok(())
}

fn destroy_toolkit(aws: &Aws, opts: &DestroyOptions) -> Result<()> {
    let Some(toolkit) = stack::describe(aws, toolkit::TOOLKIT_STACK)? else {
        eprintln!("[destroy] no toolkit stack: no assets bucket to delete");
        return Ok(());
    };
    if !confirm::confirm(
        &format!(
            "Also empty and delete the assets bucket (stack {}), shared by every stage in {}?",
            toolkit::TOOLKIT_STACK,
            aws.target()
        ),
        "delete the assets bucket",
        "every stage's stack in this region deploys from it",
        opts.yes,
    )? {
        return Ok(());
    }
    let bucket = toolkit::assets_bucket(aws)?;
    eprintln!("[destroy] deleting stack {}", toolkit::TOOLKIT_STACK);
    stack::delete(aws, &toolkit, opts.timeout)?;
    // The stack keeps its bucket when it goes (DeletionPolicy: Retain): delete it here.
    if let Some(bucket) = bucket
        && bucket_exists(aws, &bucket)?
    {
        empty_bucket(aws, &bucket)?;
        aws.call("s3api", "delete-bucket", &["--bucket", &bucket])?;
        eprintln!("[destroy] bucket {bucket} deleted");
    }
    Ok(())
}

/// Deletes every object version and delete marker (a versioned bucket must be empty to go).
fn empty_bucket(aws: &Aws, bucket: &str) -> Result<()> {
    let listed = match aws.call("s3api", "list-object-versions", &["--bucket", bucket]) {
        Ok(v) => v,
        Err(e) if e.code() == Some("NoSuchBucket") => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut objects: Vec<Value> = Vec::new();
    for list in ["Versions", "DeleteMarkers"] {
        for v in listed
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(key) = v.get("Key") {
                let mut o = serde_json::json!({"Key": key});
                if let Some(id) = v.get("VersionId").filter(|i| !i.is_null()) {
                    o["VersionId"] = id.clone();
                }
                objects.push(o);
            }
        }
    }
    eprintln!(
        "[destroy] emptying {bucket} ({} object versions)",
        objects.len()
    );
    Ok(delete_objects(aws, bucket, &objects)?)
}

/// `delete-objects` for `{"Key": …[, "VersionId": …]}` entries, 500 (S3's limit) per call.
pub(crate) fn delete_objects(aws: &Aws, bucket: &str, objects: &[Value]) -> Result<(), AwsError> {
    for chunk in objects.chunks(500) {
        let delete = serde_json::json!({"Objects": chunk, "Quiet": true}).to_string();
        aws.call(
            "s3api",
            "delete-objects",
            &["--bucket", bucket, "--delete", &delete],
        )?;
    }
    Ok(())
}
