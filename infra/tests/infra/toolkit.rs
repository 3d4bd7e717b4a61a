//! The toolkit stack: the assets bucket every app's deploys upload to.

use serde_json::Value;

#[test]
fn the_toolkit_bucket_is_private_encrypted_tls_only_and_kept() {
    let t: Value = serde_json::from_str(
        &infra::toolkit::synth("wsecho-toolkit")
            .unwrap()
            .template
            .to_json(),
    )
    .unwrap();
    let bucket = &t["Resources"]["AssetsBucket"];
    assert_eq!(bucket["DeletionPolicy"], "Retain");
    let props = &bucket["Properties"];
    assert_eq!(
        props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
            ["SSEAlgorithm"],
        "AES256"
    );
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            props["PublicAccessBlockConfiguration"][flag], true,
            "{flag}"
        );
    }
    let rule = &props["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(rule["Status"], "Enabled");
    assert_eq!(
        rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"],
        1
    );
    let policy = &t["Resources"]["AssetsBucketPolicy"]["Properties"];
    assert_eq!(policy["Bucket"]["Ref"], "AssetsBucket");
    let statement = &policy["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(
        statement["Condition"]["Bool"]["aws:SecureTransport"],
        "false"
    );
    assert_eq!(statement["Resource"][1]["Fn::Sub"], "${AssetsBucket.Arn}/*");
}

/// The account's API Gateway CloudWatch role lives here, one per account and region, and
/// neither it nor the setting goes when the stack does: every API's logging in the account
/// goes through them.
#[test]
fn the_account_role_and_setting_are_the_toolkits_and_kept() {
    let t: Value = serde_json::from_str(
        &infra::toolkit::synth("wsecho-toolkit")
            .unwrap()
            .template
            .to_json(),
    )
    .unwrap();
    let role = &t["Resources"]["ApiGatewayCloudWatchRole"];
    assert_eq!(role["Type"], "AWS::IAM::Role");
    assert_eq!(role["DeletionPolicy"], "Retain");
    assert_eq!(role["UpdateReplacePolicy"], "Retain");
    assert_eq!(
        role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "apigateway.amazonaws.com"
    );
    let account = &t["Resources"]["ApiGatewayAccount"];
    assert_eq!(account["Type"], "AWS::ApiGateway::Account");
    assert_eq!(account["DeletionPolicy"], "Retain");
    assert_eq!(
        account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0],
        "ApiGatewayCloudWatchRole"
    );
    assert!(t["Outputs"]["ApiGatewayCloudWatchRoleArn"].is_object());
}
