//! `deploy`, `diff`, `destroy`, `bootstrap` and `gc` end to end: the real AWS CLI against a
//! real moto server on 127.0.0.1, driving the library API, the same calls `cargo xtask deploy`
//! makes after parsing its flags. One test binary: one link for every deploy test.
//!
//! What moto checks and what it doesn't: it really creates the S3 bucket and objects, the
//! CloudFormation stack and change sets, the Lambda functions (storing their code), the IAM
//! roles with their inline policies and the log groups. It silently skips
//! `AWS::ApiGatewayV2::*` and `AWS::ApiGateway::Account`, so those resources are checked
//! elsewhere: cfn-lint against CloudFormation's schemas (infra's tests) and the local
//! gateway (`cargo xtask dev`), which serves the routes the template declares.
//!
//! Each test needs what `cargo xtask test` provides (the pinned moto and AWS CLI, the test
//! assembly): plain `cargo test` skips it and says why.

mod failures;
mod gc;
mod lifecycle;

use std::collections::BTreeMap;

use deploy::{AwsOptions, DEFAULT_TIMEOUT, DeployOptions};
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
