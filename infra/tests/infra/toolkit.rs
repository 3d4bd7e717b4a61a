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
