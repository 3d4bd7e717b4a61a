//! What can go wrong deploying: each message says what happened, to which stack, bucket or
//! file, and what to run. An AWS CLI call that fails is an [`AwsError`], kept as the source
//! so the chain shows the service's own words.

use std::io;
use std::path::PathBuf;

use crate::aws::AwsError;
use crate::changeset::MAX_TEMPLATE_BODY;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An AWS CLI call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),

    /// An AWS CLI call failed while doing what `doing` says.
    #[error("{doing}")]
    AwsCall {
        doing: String,
        #[source]
        source: AwsError,
    },

    /// `sts get-caller-identity` failed: no work is done without working credentials.
    #[error("cannot use AWS in {target}: check the credentials before deploying")]
    Credentials {
        target: String,
        #[source]
        source: AwsError,
    },

    /// AWS answered without something it always sends.
    #[error("{0}")]
    UnexpectedAnswer(String),

    /// Reading or writing the assembly.
    #[error(transparent)]
    Assembly(#[from] assembly::Error),

    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot read the template {path}")]
    ReadTemplate {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{path} is not a JSON template (diff reads JSON templates)")]
    NotJsonTemplate {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("the template needs the assets bucket (parameter {parameter}) but none is known")]
    NoAssetsBucket { parameter: String },

    #[error(
        "template parameter `{parameter}` has no Default, and deploy only supplies \
         `{assets_bucket}`: give it a Default in the stage config or the model",
        assets_bucket = assembly::template::ASSETS_BUCKET_PARAMETER
    )]
    ParameterWithoutDefault { parameter: String },

    #[error(
        "the template of {stack} is {size} bytes, over CloudFormation's {MAX_TEMPLATE_BODY}-byte \
         limit for an inline template, and there is no assets bucket to send it through"
    )]
    TemplateTooBig { stack: String, size: usize },

    #[error("the template names code {key}, which assets.json doesn't list")]
    UnlistedCode { key: String },

    #[error(
        "{path} does not match its name (sha256 {sha256}): the assembly changed after synth; \
         run `cargo xtask synth` again"
    )]
    AssetChanged { path: PathBuf, sha256: String },

    #[error(
        "the assets bucket {bucket} of stack {toolkit} does not exist (deleted outside \
         CloudFormation?): run `cargo xtask bootstrap` to recreate it, then deploy again; the \
         app stack was not touched",
        toolkit = crate::TOOLKIT_STACK
    )]
    ToolkitBucketMissing { bucket: String },

    #[error(
        "the assets bucket {bucket} (from --assets-bucket) does not exist: create it, or leave \
         --assets-bucket out to use the toolkit's (`cargo xtask bootstrap`); the app stack was \
         not touched"
    )]
    GivenBucketMissing { bucket: String },

    #[error("the toolkit stack was not deployed: there is no assets bucket to deploy with")]
    ToolkitDeclined,

    #[error("stack {stack} has no {logical_id} resource after bootstrapping")]
    NoBucketAfterBootstrap {
        stack: &'static str,
        logical_id: &'static str,
    },

    /// Nobody can be asked, and `--yes` was not given.
    #[error(
        "refusing to {action} without --yes: stdin is not a terminal, so nobody can confirm \
         ({review}, then run again with --yes)"
    )]
    Unconfirmed { action: String, review: String },

    #[error("cannot ask at the terminal")]
    Prompt(#[source] io::Error),

    /// The stack's status allows no deploy now: why, and what to do.
    #[error("{0}")]
    Blocked(String),

    #[error("CloudFormation rejected the changes to stack {stack}: {reason}")]
    Rejected { stack: String, reason: String },

    /// The change set or the stack operation failed; `state` says where that left the stack.
    #[error("deploying stack {stack} failed: {cause}\n{state}")]
    DeployFailed {
        stack: String,
        cause: String,
        state: String,
    },

    #[error("could not delete stack {stack}: {cause}")]
    DeleteFailed { stack: String, cause: String },

    #[error(
        "the change set for {stack} was still {status} after {seconds} s: gave up (it was deleted)"
    )]
    ChangeSetTimeout {
        stack: String,
        status: String,
        seconds: u64,
    },

    #[error(
        "stack {stack} is still {status} after {seconds} s: stopped waiting (it goes on in AWS; \
         watch it in the CloudFormation console or run the command again later)"
    )]
    StackTimeout {
        stack: String,
        status: String,
        seconds: u64,
    },

    #[error("stack {stack} vanished{}", if *after_deploy { " after deploying" } else { "" })]
    Vanished { stack: String, after_deploy: bool },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and its causes on one line, `a: b: c`, for messages that embed another error.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
