//! `destroy`: deletes the app stack (and, when asked, the shared assets bucket). Never the
//! account's API Gateway CloudWatch role or setting: those are the toolkit stack's, retained
//! even when it goes.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::aws::Aws;
use crate::references;
use crate::{
    DestroyOptions, Error, Result, aws_for, bucket_exists, confirm, flow, login, stack, toolkit,
};
use assembly::StackInfo;

/// Deletes the stack and waits for it to go. A stack that isn't there is not an error.
pub fn destroy(stack_info: &StackInfo, opts: &DestroyOptions) -> Result<()> {
    let stack_name = stack_info.stack_name.as_str();
    let mut aws = aws_for(&opts.aws, stack_info)?;
    aws.progress = opts.progress;
    let identity = login(&aws, stack_name, Some(stack_info))?;
    let place = flow::place(&aws, &identity.account);
    // Refused before anything is deleted: --with-assets must not take code another stack
    // still runs or is about to.
    if opts.with_assets {
        refuse_named_assets(&aws, stack_name)?;
    }
    match stack::describe(&aws, stack_name)? {
        None => {
            eprintln!("[destroy] stack {stack_name} does not exist in {place}: nothing to delete")
        }
        Some(s) => {
            if !confirm::confirm(
                &format!(
                    "Delete stack {stack_name} ({}) and everything in it, in {place}?",
                    s.status
                ),
                &format!("delete stack {stack_name} in {place}"),
                "check the stage, account and region named above",
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
        destroy_toolkit(&aws, &place, opts)?;
    } else {
        eprintln!(
            "[destroy] the toolkit stack {} is kept: its assets bucket serves other stages, and \
             its API Gateway CloudWatch role every API's logging in the account; \
             `--with-assets` deletes the bucket",
            toolkit::TOOLKIT_STACK
        );
    }
    Ok(())
}

/// Refuses when a stack other than `leaving` (or one of its change sets) names a key in the
/// assets bucket.
fn refuse_named_assets(aws: &Aws, leaving: &str) -> Result<()> {
    let Some(bucket) = toolkit::assets_bucket(aws)? else {
        return Ok(());
    };
    let others: Vec<references::Listed> = references::stacks(aws)?
        .into_iter()
        .filter(|s| s.name != leaving && s.name != toolkit::TOOLKIT_STACK)
        .collect();
    let named = references::named_by(aws, &others)?;
    let keys: BTreeSet<String> = match aws.call(
        "s3api",
        "list-objects-v2",
        &["--bucket", &bucket, "--query", "Contents[].Key"],
    ) {
        Ok(v) => v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Err(e) if e.code() == Some("NoSuchBucket") => return Ok(()),
        Err(source) => {
            return Err(Error::AwsCall {
                doing: format!("cannot list the assets bucket {bucket}"),
                source: Box::new(source),
            });
        }
    };
    let users: Vec<&str> = named
        .iter()
        .filter(|(_, names)| !names.is_disjoint(&keys))
        .map(|(stack, _)| stack.as_str())
        .collect();
    if users.is_empty() {
        return Ok(());
    }
    Err(Error::AssetsStillNamed {
        bucket,
        stacks: users.join(", "),
    })
}

fn destroy_toolkit(aws: &Aws, place: &str, opts: &DestroyOptions) -> Result<()> {
    let Some(toolkit) = stack::describe(aws, toolkit::TOOLKIT_STACK)? else {
        eprintln!("[destroy] no toolkit stack: no assets bucket to delete");
        return Ok(());
    };
    if !confirm::confirm(
        &format!(
            "Also empty and delete the assets bucket (stack {}), shared by every stage in \
             {place}?",
            toolkit::TOOLKIT_STACK,
        ),
        &format!("delete the assets bucket in {place}"),
        "every stage's stack in this region deploys from it",
        opts.yes,
    )? {
        return Ok(());
    }
    let bucket = toolkit::assets_bucket(aws)?;
    eprintln!(
        "[destroy] deleting stack {} (its API Gateway CloudWatch role and the account setting \
         stay: every API's logging in the account may go through them)",
        toolkit::TOOLKIT_STACK
    );
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
    delete_objects(aws, bucket, &objects)
}

/// `delete-objects` for `{"Key": …[, "VersionId": …]}` entries, 500 (S3's limit) per call.
/// The CLI exits 0 when S3 refuses some keys (it lists them under `Errors`): those are an
/// error here, naming each key and why.
pub(crate) fn delete_objects(aws: &Aws, bucket: &str, objects: &[Value]) -> Result<()> {
    let mut errors = Vec::new();
    for chunk in objects.chunks(500) {
        let delete = serde_json::json!({"Objects": chunk, "Quiet": true}).to_string();
        let answer = aws
            .call(
                "s3api",
                "delete-objects",
                &["--bucket", bucket, "--delete", &delete],
            )
            .map_err(|source| Error::AwsCall {
                doing: format!("cannot delete objects from {bucket}"),
                source: Box::new(source),
            })?;
        errors.extend(refused(&answer));
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(Error::ObjectsNotDeleted {
        bucket: bucket.to_owned(),
        asked: objects.len(),
        failed: errors.len(),
        errors: errors.join("; "),
    })
}

/// The keys `delete-objects` refused, each with S3's code and message.
fn refused(answer: &Value) -> Vec<String> {
    answer
        .get("Errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("?");
            format!("{} ({}: {})", text("Key"), text("Code"), text("Message"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_s3_refused_are_named_with_why() {
        let answer = json!({"Errors": [
            {"Key": "a.zip", "Code": "AccessDenied", "Message": "Access Denied"},
            {"Key": "b.zip", "VersionId": "1", "Code": "InternalError", "Message": "try again"}]});
        assert_eq!(
            refused(&answer),
            [
                "a.zip (AccessDenied: Access Denied)",
                "b.zip (InternalError: try again)"
            ]
        );
        assert!(refused(&Value::Null).is_empty());
        assert!(refused(&json!({"Deleted": [{"Key": "a.zip"}]})).is_empty());
    }
}
