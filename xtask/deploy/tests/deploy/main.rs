//! `deploy`, `diff`, `destroy`, `bootstrap` and `gc` end to end: the real AWS CLI against a
//! real moto server on 127.0.0.1, driving the library API, the same calls `cargo xtask deploy`
//! makes after parsing its flags. One test binary: one link for every deploy test.
//!
//! What moto checks and what it doesn't: it really creates the S3 bucket and objects, the
//! CloudFormation stack and change sets, the Lambda functions (storing their code), the IAM
//! roles with their inline policies and the log groups, and it answers `apigateway
//! get-account`. It silently skips `AWS::ApiGatewayV2::*` and `AWS::ApiGateway::Account`, so
//! those resources are checked elsewhere: cfn-lint against CloudFormation's schemas (infra's
//! tests) and the local gateway (`cargo xtask dev`), which serves the routes the template
//! declares; and where the toolkit stack's account setting would take effect, the tests apply
//! it as CloudFormation does on AWS ([`bootstrap_as_on_aws`]). Where moto lacks an API or
//! answers unlike AWS, a stand-in on 127.0.0.1 answers that one call (`standin`).
//!
//! Each test needs what `cargo xtask test` provides (the pinned moto and AWS CLI, the test
//! assembly): plain `cargo test` skips it and says why.

mod account;
mod assets;
mod chat;
mod failures;
mod gc;
mod lifecycle;
mod logs;
mod refusals;
mod standin;

use std::collections::BTreeMap;

use deploy::{AwsOptions, BootstrapOptions, DEFAULT_TIMEOUT, DeployOptions, TOOLKIT_STACK};
use testenv::Need;
use testenv::moto::{Moto, REGION, aws_env};

/// Options for the library: this server, throwaway credentials, no user config.
fn aws_options(moto: &Moto) -> AwsOptions {
    AwsOptions {
        region: Some(REGION.into()),
        profile: None,
        endpoint_url: Some(moto.endpoint.clone()),
        cli: Some(Need::AwsCli.path()),
        env: aws_env(),
    }
}

fn deploy_options(moto: &Moto) -> DeployOptions {
    DeployOptions {
        aws: aws_options(moto),
        yes: true,
        assets_bucket: None,
        timeout: DEFAULT_TIMEOUT,
        progress: deploy::Progress::Plain,
    }
}

/// The error as `cargo xtask` shows it, causes included, on one line.
fn message(err: &deploy::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// `CodeSha256` of every function of the stack, by logical ID.
fn code_hashes(moto: &Moto, stack: &str) -> BTreeMap<String, String> {
    code_of(moto, &moto.resources(stack, "AWS::Lambda::Function"))
}

/// `CodeSha256` of these functions (logical ID, function name), asked of Lambda directly.
fn code_of(moto: &Moto, functions: &[(String, String)]) -> BTreeMap<String, String> {
    functions
        .iter()
        .map(|(logical, physical)| {
            let f = moto.aws(&["lambda", "get-function", "--function-name", physical]);
            (
                logical.clone(),
                f["Configuration"]["CodeSha256"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

fn bootstrap_options(moto: &Moto) -> BootstrapOptions {
    BootstrapOptions {
        aws: aws_options(moto),
        yes: true,
        timeout: DEFAULT_TIMEOUT,
        progress: deploy::Progress::Plain,
    }
}

/// The role the account's API Gateway setting names, if any.
fn account_role(moto: &Moto) -> Option<String> {
    moto.aws(&["apigateway", "get-account"])["cloudwatchRoleArn"]
        .as_str()
        .map(str::to_owned)
}

/// `cargo xtask bootstrap --yes`, then what CloudFormation does on AWS and moto skips: the
/// toolkit's `AWS::ApiGateway::Account` points the account's setting at its role. Returns the
/// assets bucket.
fn bootstrap_as_on_aws(moto: &Moto) -> String {
    let bucket = deploy::bootstrap(REGION, &bootstrap_options(moto)).expect("bootstrap");
    moto.set_account_role(&moto.toolkit_role_arn(TOOLKIT_STACK));
    bucket
}

/// What a refusal must leave as it was: every stack's status and event count, every
/// bucket's keys, the account's API Gateway setting.
#[derive(Debug, PartialEq, Eq)]
struct World {
    stacks: Vec<(String, String, usize)>,
    keys: Vec<(String, Vec<String>)>,
    account_role: Option<String>,
}

impl World {
    fn of(moto: &Moto) -> World {
        let listed = moto.aws(&["cloudformation", "describe-stacks"]);
        let mut stacks: Vec<(String, String, usize)> = listed["Stacks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let id = s["StackId"].as_str().unwrap();
                let events = moto.aws(&[
                    "cloudformation",
                    "describe-stack-events",
                    "--stack-name",
                    id,
                ]);
                (
                    s["StackName"].as_str().unwrap().to_owned(),
                    s["StackStatus"].as_str().unwrap().to_owned(),
                    events["StackEvents"].as_array().map_or(0, Vec::len),
                )
            })
            .collect();
        stacks.sort();
        let buckets = moto.aws(&["s3api", "list-buckets"]);
        let mut keys: Vec<(String, Vec<String>)> = buckets["Buckets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                let name = b["Name"].as_str().unwrap().to_owned();
                let keys = moto.bucket_keys(&name);
                (name, keys)
            })
            .collect();
        keys.sort();
        World {
            stacks,
            keys,
            account_role: account_role(moto),
        }
    }
}
