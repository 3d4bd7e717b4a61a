//! The toolkit stack `wsecho-toolkit`: one assets bucket per account and region, shared by
//! every stage. Created by `cargo xtask bootstrap`, or by the first deploy that needs it.

use anyhow::{Context, Result};
use serde_json::Value;

use super::aws::Aws;

pub const TOOLKIT_STACK: &str = "wsecho-toolkit";

/// The bucket's logical ID: deploy finds the bucket as this resource's physical ID (moto's
/// change sets drop stack outputs, so the `BucketName` output alone can't be relied on).
pub const BUCKET_LOGICAL_ID: &str = "AssetsBucket";

/// The toolkit template, synthesized by the typed model (`infra::stack::toolkit`): a private,
/// encrypted, versioned, TLS-only bucket kept when the stack goes (`DeletionPolicy: Retain`).
pub fn template() -> Result<String> {
    let synthesized =
        infra::stack::toolkit(TOOLKIT_STACK).context("cannot synthesize the toolkit stack")?;
    Ok(synthesized.template.to_json())
}

/// The assets bucket's name, or `None` when the toolkit stack (or its bucket resource)
/// isn't there.
pub fn assets_bucket(aws: &Aws) -> Result<Option<String>> {
    match aws.call(
        "cloudformation",
        "describe-stack-resource",
        &[
            "--stack-name",
            TOOLKIT_STACK,
            "--logical-resource-id",
            BUCKET_LOGICAL_ID,
        ],
    ) {
        Ok(v) => Ok(v
            .pointer("/StackResourceDetail/PhysicalResourceId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)),
        Err(e) if e.code() == Some("ValidationError") && e.message().contains("does not exist") => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toolkit_template_has_the_bucket_deploy_looks_for() {
        let t: Value = serde_json::from_str(&template().unwrap()).unwrap();
        assert_eq!(
            t.pointer(&format!("/Resources/{BUCKET_LOGICAL_ID}/Type"))
                .and_then(Value::as_str),
            Some("AWS::S3::Bucket")
        );
        // Deploy reads no parameters into it and needs no IAM capability for it.
        assert!(t.get("Parameters").is_none());
    }
}
