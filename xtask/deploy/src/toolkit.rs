//! The toolkit stack `wsecho-toolkit`: one assets bucket per account and region, shared by
//! every stage. Created by `cargo xtask bootstrap`, or by the first deploy that needs it.

use assembly::template::TOOLKIT_BUCKET;
use serde_json::Value;

use crate::Result;
use crate::aws::Aws;

pub const TOOLKIT_STACK: &str = "wsecho-toolkit";

/// The toolkit template: a private, encrypted, versioned, TLS-only bucket kept when the stack
/// goes (`DeletionPolicy: Retain`). Synthesized by the typed model in `infra` and shipped as a
/// checked-in file (`cargo xtask codegen` rewrites it, a test in xtask fails when it is stale),
/// as the AWS CDK CLI ships its bootstrap template: deploy reads templates, it never links the
/// model.
pub const TEMPLATE: &str = include_str!("../toolkit.template.json");

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
            TOOLKIT_BUCKET,
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
        let t: Value = serde_json::from_str(TEMPLATE).unwrap();
        assert_eq!(
            t.pointer(&format!("/Resources/{TOOLKIT_BUCKET}/Type"))
                .and_then(Value::as_str),
            Some("AWS::S3::Bucket")
        );
        // Deploy reads no parameters into it and needs no IAM capability for it.
        assert!(t.get("Parameters").is_none());
    }
}
