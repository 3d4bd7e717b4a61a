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
        source: Box<AwsError>,
    },

    /// `sts get-caller-identity` failed: no work is done without working credentials.
    #[error("cannot use AWS in {target}: check the credentials before deploying")]
    Credentials {
        target: String,
        #[source]
        source: Box<AwsError>,
    },

    /// `AWS_REGION` names another region than the stage file, and no `--region` says which.
    #[error(
        "AWS_REGION is {from_env} but the stage file says {stage_region}: the stage file decides \
         where its stack goes. Unset AWS_REGION to use {stage_region}, or pass --region \
         {from_env} to go there on purpose; nothing was changed"
    )]
    RegionConflict {
        from_env: String,
        stage_region: String,
    },

    // The boxed variants carry five or more fields; boxed, every `Result` of this crate stays
    // small (clippy's result_large_err).
    /// The credentials belong to another account than the one the stage file pins.
    #[error(transparent)]
    WrongAccount(Box<AccountMismatch>),

    /// API Gateway logging needs the account's CloudWatch role, and there is no working one.
    #[error(transparent)]
    NoAccountRole(Box<MissingAccountRole>),

    /// The assets bucket is in another region than the stack: Lambda can't read code from it.
    #[error(
        "the assets bucket {bucket} is in {bucket_region}, but stack {stack} deploys to \
         {region}, and Lambda reads code only from a bucket in its own region: bootstrap \
         {region} (`cargo xtask bootstrap --region {region}`) or pass --assets-bucket with a \
         bucket there; nothing was changed"
    )]
    BucketElsewhere {
        bucket: String,
        bucket_region: String,
        stack: String,
        region: String,
    },

    /// The stage reserves more concurrency than the account can give.
    #[error(transparent)]
    ConcurrencyExceeded(Box<ConcurrencyShortfall>),

    /// `gc` does not run while a stack may still need an old zip.
    #[error(
        "not collecting: {stacks} in {target} {verb} not settled, and a stack that is changing \
         or failed may need an old zip to roll back or recover. Wait for it to finish, or \
         resolve it (`aws cloudformation describe-stack-events --stack-name NAME`), then run gc \
         again; nothing was deleted",
        verb = if stacks.contains(", ") { "are" } else { "is" }
    )]
    StacksUnsettled { stacks: String, target: String },

    /// `delete-objects` answered, but some keys were not deleted (the CLI exits 0 then).
    #[error(
        "{failed} of {asked} object(s) could not be deleted from {bucket}: {errors}; the others \
         were deleted (the bucket keeps them as noncurrent versions)"
    )]
    ObjectsNotDeleted {
        bucket: String,
        asked: usize,
        failed: usize,
        errors: String,
    },

    /// `destroy --with-assets` would delete zips other stacks still deploy from.
    #[error(
        "not deleting the assets bucket {bucket}: {stacks} still {verb} code in it (a rollback \
         or the next update of {them} needs it). Destroy {them} first, or leave out \
         --with-assets; nothing was deleted",
        verb = if stacks.contains(", ") { "name" } else { "names" },
        them = if stacks.contains(", ") { "those stacks" } else { "that stack" }
    )]
    AssetsStillNamed { bucket: String, stacks: String },

    /// An object in the assets bucket has other bytes than the zip its name promises.
    #[error(
        "the assets bucket {bucket} holds {key} with other bytes (sha256 {found}, base64) than \
         the zip of that name: someone overwrote it, and a function deployed from it would run \
         that code. Delete the object (`aws s3api delete-object --bucket {bucket} --key {key}`) \
         and deploy again, which uploads the zip anew; nothing was changed"
    )]
    AssetOverwritten {
        bucket: String,
        key: String,
        found: String,
    },

    /// After a deploy, a function runs other code than the zip its template names.
    #[error(
        "after deploying stack {stack}, function {function} runs code with sha256 {found} \
         (base64), not the zip {key} its template names: its code was changed outside \
         CloudFormation (`aws lambda update-function-code`), or the object changed in the \
         bucket while CloudFormation read it. Find out who changed it; a deploy sets the code \
         again only when the function's zip changes"
    )]
    CodeMismatch {
        stack: String,
        function: String,
        key: String,
        found: String,
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

    #[error("cannot write the log lines")]
    WriteLogs(#[source] io::Error),

    /// `logs` has nothing to read: no stack, no log group, no such function.
    #[error("{0}")]
    NoLogs(String),

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

/// What [`Error::ConcurrencyExceeded`] says: the stage's reserved concurrency against the
/// account's Lambda limits.
#[derive(Debug, thiserror::Error)]
#[error(
    "stack {stack} reserves {wanted} concurrent executions ({functions}), {added} more than \
     it holds now, but account {account} in {region} can reserve only {available} more: \
     Lambda keeps {UNRESERVED_MINIMUM} of its {limit} unreserved, and {unreserved} are \
     unreserved now. Lower functions.reserved_concurrency in the stage file, or ask AWS for \
     a higher Lambda concurrency quota (Service Quotas: \"Concurrent executions\"); nothing \
     was changed",
    UNRESERVED_MINIMUM = crate::preflight::UNRESERVED_MINIMUM
)]
pub struct ConcurrencyShortfall {
    pub stack: String,
    pub wanted: u64,
    pub functions: String,
    pub added: u64,
    pub account: String,
    pub region: String,
    pub available: u64,
    pub limit: u64,
    pub unreserved: u64,
}

/// What [`Error::WrongAccount`] says: the account the stage file pins and the one the
/// credentials are for.
#[derive(Debug, thiserror::Error)]
#[error(
    "stack {stack} belongs to account {expected} (account_id in its stage file), but these \
     credentials are for account {actual} ({arn}) in {target}: use a profile of account \
     {expected} (--profile or AWS_PROFILE); nothing was changed"
)]
pub struct AccountMismatch {
    pub stack: String,
    pub expected: String,
    pub actual: String,
    pub arn: String,
    pub target: String,
}

/// What [`Error::NoAccountRole`] says: the stage's API Gateway logging and why the account's
/// role doesn't serve it.
#[derive(Debug, thiserror::Error)]
#[error(
    "stack {stack} turns on API Gateway logging ({logging}), which needs the account's \
     CloudWatch role, and account {account} has no working one in {target}: \
     {why}. Run `cargo xtask bootstrap` (it sets the toolkit stack's role when the account \
     has none), then deploy again; stack {stack} was not touched"
)]
pub struct MissingAccountRole {
    pub stack: String,
    pub logging: String,
    pub account: String,
    pub target: String,
    pub why: String,
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
