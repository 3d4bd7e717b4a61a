//! The toolkit stack: one per account and region, shared by every app and stage. It holds
//! what is account-wide: the assets bucket deploys upload function zips to, and the account's
//! API Gateway CloudWatch role with the account setting that points at it.

use std::collections::BTreeMap;

use crate::constructs::account::ApiGatewayAccount;
use crate::error::SynthError;
use crate::intrinsics::{Pseudo, Sub, attr};
use crate::resources::iam::{Effect, PolicyDocument, Principal, Statement};
use crate::resources::s3::{
    AbortIncompleteMultipartUpload, Bucket, BucketEncryption, BucketPolicy, LifecycleConfiguration,
    LifecycleRule, NoncurrentVersionExpiration, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, RuleStatus, VersioningConfiguration,
    VersioningStatus,
};
use crate::stack::{Stack, Synthesized};
use crate::template::{Output, RemovalPolicy};

/// The toolkit stack: the private, encrypted, TLS-only bucket that `deploy` uploads zips to,
/// and the account's API Gateway CloudWatch role and setting (`ApiGatewayCloudWatchRole`,
/// `ApiGatewayAccount`), all retained when the stack goes. `bootstrap` leaves the setting out
/// of what it deploys when the account already has a working role of someone else's.
pub fn synth(stack_name: &str) -> Result<Synthesized, SynthError> {
    let mut stack = Stack::new(stack_name);
    stack.set_description(
        "wsecho toolkit: the assets bucket deploys upload function zips to, and the account's API Gateway CloudWatch role",
    );
    let root = stack.root();
    let bucket = stack.add(
        &root.child(assembly::template::TOOLKIT_BUCKET),
        Bucket {
            bucket_encryption: BucketEncryption::s3_managed(),
            lifecycle_configuration: Some(LifecycleConfiguration {
                rules: vec![LifecycleRule {
                    id: "CleanUp".into(),
                    status: RuleStatus::Enabled,
                    abort_incomplete_multipart_upload: Some(AbortIncompleteMultipartUpload {
                        days_after_initiation: 1,
                    }),
                    noncurrent_version_expiration: Some(NoncurrentVersionExpiration {
                        noncurrent_days: 30,
                    }),
                }],
            }),
            ownership_controls: Some(OwnershipControls {
                rules: vec![OwnershipControlsRule {
                    object_ownership: ObjectOwnership::BucketOwnerEnforced,
                }],
            }),
            public_access_block_configuration: PublicAccessBlockConfiguration::all_blocked(),
            versioning_configuration: Some(VersioningConfiguration {
                status: VersioningStatus::Enabled,
            }),
        },
    )?;
    stack.set_removal_policy(&bucket, RemovalPolicy::Retain)?;
    stack.skip_checkov(
        &bucket,
        "CKV_AWS_18",
        "holds build artifacts only, written by deploys; access logs would need a second bucket (and its own logging) for no audit value CloudTrail does not already give",
    )?;
    let mut tls_only = Statement::allow(
        &["s3:*"],
        vec![
            bucket.get_att(attr::Arn).into(),
            Sub::new().var(bucket.get_att(attr::Arn)).text("/*").into(),
        ],
    );
    tls_only.sid = Some("DenyInsecureTransport".into());
    tls_only.effect = Effect::Deny;
    tls_only.principal = Some(Principal::Aws("*".into()));
    tls_only.condition = Some(BTreeMap::from([(
        "Bool".to_owned(),
        BTreeMap::from([("aws:SecureTransport".to_owned(), "false".to_owned())]),
    )]));
    stack.add(
        &root.child("AssetsBucketPolicy"),
        BucketPolicy {
            bucket: bucket.reference(),
            policy_document: PolicyDocument::new(vec![tls_only]),
        },
    )?;
    stack.add_output(
        &root.child("AssetsBucketName"),
        Output {
            description: "Pass as the AssetsBucket parameter of the wsEcho stack".into(),
            value: bucket.reference().into(),
        },
    )?;
    let account = ApiGatewayAccount::new(&mut stack, &root)?;
    stack.add_output(
        &root.child("ApiGatewayCloudWatchRoleArn"),
        Output {
            description: "The role API Gateway writes logs with in this account and region".into(),
            value: account.role.get_att(attr::Arn).into(),
        },
    )?;
    stack.add_output(
        &root.child("AssetsBucketRegion"),
        Output {
            description: "Region of the assets bucket".into(),
            value: Pseudo::Region.into(),
        },
    )?;
    stack.synth()
}
