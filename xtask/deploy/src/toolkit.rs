//! The toolkit stack `wsecho-toolkit`: what is account-wide, one per account and region,
//! shared by every stage: the assets bucket, and the account's API Gateway CloudWatch role
//! with the setting that points at it (see `account_role`). Created by `cargo xtask
//! bootstrap`, or by the first deploy that needs it.

use assembly::template::TOOLKIT_BUCKET;
use serde_json::Value;

use crate::aws::Aws;
use crate::{Result, account_role};

pub const TOOLKIT_STACK: &str = "wsecho-toolkit";

/// The toolkit template: a private, encrypted, versioned, TLS-only bucket, and the account's
/// API Gateway CloudWatch role and setting, all kept when the stack goes (`DeletionPolicy:
/// Retain`). Synthesized by the typed model in `infra` and shipped as a
/// checked-in file (`cargo xtask codegen` rewrites it, a test in xtask fails when it is stale),
/// as the AWS CDK CLI ships its bootstrap template: deploy reads templates, it never links the
/// model.
pub const TEMPLATE: &str = include_str!("../toolkit.template.json");

/// The toolkit template as bootstrap deploys it: as shipped, or without the account setting
/// when the account already has a working role of someone else's (left alone).
pub fn template(sets_account: bool) -> (String, Value) {
    let mut template: Value =
        serde_json::from_str(TEMPLATE).expect("the toolkit template is JSON (a test checks)");
    if sets_account {
        return (TEMPLATE.to_owned(), template);
    }
    if let Some(resources) = template.get_mut("Resources").and_then(Value::as_object_mut) {
        resources.remove(account_role::ACCOUNT_ID);
    }
    let mut text = serde_json::to_string_pretty(&template).expect("JSON serializes");
    text.push('\n');
    (text, template)
}

/// The physical ID of one of the toolkit stack's resources, or `None` when the stack (or
/// that resource) isn't there. Read with `list-stack-resources`: moto's
/// `describe-stack-resource(s)` fails with a 500 on a stack holding a resource type it skips
/// (the toolkit's `AWS::ApiGateway::Account`).
pub fn physical_id(aws: &Aws, logical_id: &str) -> Result<Option<String>> {
    let listed = match aws.call(
        "cloudformation",
        "list-stack-resources",
        &["--stack-name", TOOLKIT_STACK],
    ) {
        Ok(v) => v,
        Err(e) if e.is_missing_stack() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(listed
        .get("StackResourceSummaries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| r.get("LogicalResourceId").and_then(Value::as_str) == Some(logical_id))
        .and_then(|r| r.get("PhysicalResourceId").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_owned))
}

/// The assets bucket's name, or `None` when the toolkit stack (or its bucket resource)
/// isn't there.
pub fn assets_bucket(aws: &Aws) -> Result<Option<String>> {
    physical_id(aws, TOOLKIT_BUCKET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toolkit_template_has_the_bucket_deploy_looks_for() {
        let t: Value = serde_json::from_str(TEMPLATE).unwrap();
        assert_eq!(
            t.pointer(&format!("/Resources/{TOOLKIT_BUCKET}/Type"))
                .and_then(Value::as_str),
            Some("AWS::S3::Bucket")
        );
        // Deploy reads no parameters into it.
        assert!(t.get("Parameters").is_none());
        // The account's role and setting, where bootstrap looks for them, both retained.
        for id in [account_role::ROLE_ID, account_role::ACCOUNT_ID] {
            assert_eq!(
                t.pointer(&format!("/Resources/{id}/DeletionPolicy")),
                Some(&Value::from("Retain")),
                "{id}"
            );
        }
    }

    #[test]
    fn without_the_setting_only_the_setting_goes() {
        let (_, full) = template(true);
        let (text, lean) = template(false);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), lean);
        let mut expected = full.clone();
        expected["Resources"]
            .as_object_mut()
            .unwrap()
            .remove(account_role::ACCOUNT_ID);
        assert_eq!(lean, expected);
        assert!(lean["Resources"][account_role::ROLE_ID].is_object());
    }
}
