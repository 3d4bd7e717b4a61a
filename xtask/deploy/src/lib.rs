//! `deploy`, `diff`, `destroy`, `bootstrap`, `gc` and `logs`: an assembly to AWS through the
//! user's AWS CLI. Reads the assembly only (`assembly`), never the Rust model that wrote it.
//!
//! deploy = check the region, the credentials and the account pin → make sure the toolkit
//! (assets bucket, the account's CloudWatch role) exists → preflight (bucket region, reserved
//! concurrency, the account's role when the stage logs) → change set → summary naming account,
//! region and stack → confirm → check the zips the bucket has (SHA-256), upload those it lacks
//! → execute with live events → check each function's code → outputs (printed and saved as
//! `outputs.json`). Nothing changed → nothing uploaded, nothing executed, "no changes".
//! Nothing is deleted or changed before the user agrees, and a refusal leaves the stack and
//! the bucket as they were.

mod account_role;
mod assets;
mod aws;
mod bootstrap;
mod changeset;
mod confirm;
mod destroy;
mod diff;
mod error;
mod events;
mod flow;
mod gc;
mod live;
mod logs;
mod outputs;
mod pin;
mod preflight;
mod references;
mod requirements;
mod stack;
mod summary;
mod toolkit;

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use serde_json::Value;

use assembly::{Assembly, StackInfo};
use aws::Aws;
pub use aws::{AwsError, AwsErrorKind, AwsOptions};
pub use bootstrap::bootstrap;
use bootstrap::{bootstrap_with, bucket_exists};
pub use destroy::destroy;
pub use diff::diff;
pub use error::{AccountMismatch, ConcurrencyShortfall, Error, MissingAccountRole, Result};
pub use events::Progress;
use flow::{Applied, Prepared, Target};
pub use gc::{GcOptions, GcReport, gc};
pub use logs::{LogsOptions, logs};
pub use outputs::{Output, Outputs};
pub use toolkit::TOOLKIT_STACK;

/// How long a stack operation may take before we stop waiting (it goes on in AWS).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone)]
pub struct DeployOptions {
    pub aws: AwsOptions,
    /// Deploy without asking (required when stdin is not a terminal).
    pub yes: bool,
    /// Upload to this bucket instead of the toolkit stack's.
    pub assets_bucket: Option<String>,
    pub timeout: Duration,
    /// How the stack's events show while it changes.
    pub progress: Progress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The stack already had this template and parameters.
    NoChanges,
    Deployed,
    /// The user said no at the prompt.
    Declined,
}

/// What a deploy did.
#[derive(Debug, Clone)]
pub struct DeployReport {
    pub outcome: Outcome,
    pub stack_name: String,
    /// The account the stack is in.
    pub account: String,
    /// The region the stack is in.
    pub region: String,
    /// The assets bucket used (`None` when the template takes none).
    pub assets_bucket: Option<String>,
    /// Keys uploaded by this deploy.
    pub uploaded: Vec<String>,
    /// The stack's outputs after the deploy (`None` when declined).
    pub outputs: Option<Outputs>,
}

/// The AWS CLI for a stage's stack: its stage file's region unless `--region` says otherwise.
fn aws_for(opts: &AwsOptions, stack: &StackInfo) -> Result<Aws> {
    let aws = Aws::new(opts, &stack.region)?;
    if aws.region != stack.region {
        eprintln!(
            "[deploy] note: deploying to {} (from --region); the stage file says {}",
            aws.region, stack.region
        );
    }
    Ok(aws)
}

/// Checks the credentials, says where the command works, and refuses another account than
/// the stage file pins (`pin`, when the command works on a stage's stack).
fn login(aws: &Aws, stack_name: &str, pin: Option<&StackInfo>) -> Result<aws::Identity> {
    let identity = aws.check_credentials()?;
    announce(aws, stack_name, &identity);
    if let Some(stack) = pin {
        pin::check(aws, stack, &identity)?;
    }
    Ok(identity)
}

fn announce(aws: &Aws, stack_name: &str, id: &aws::Identity) {
    eprintln!(
        "[deploy] stack {stack_name} in account {}, region {} (as {})",
        id.account,
        aws.target(),
        id.arn
    );
}

/// The app stack's target; checks locally what the template needs.
fn app_target<'a>(
    assembly: &'a Assembly,
    bucket: Option<&str>,
    account: &'a str,
) -> Result<Target<'a>> {
    Ok(Target {
        stack_name: &assembly.stack.stack_name,
        template_text: &assembly.template_text,
        template_url: None,
        template: &assembly.template,
        parameters: requirements::parameters(&assembly.template, bucket)?,
        capabilities: requirements::capabilities(&assembly.template),
        account,
    })
}

/// Deploys an assembly. Errors carry the root cause and what state the stack is in.
pub fn deploy(assembly: &Assembly, opts: &DeployOptions) -> Result<DeployReport> {
    let stack_name = assembly.stack.stack_name.as_str();
    let needs_bucket = requirements::needs_assets_bucket(&assembly.template);
    // Local checks first: a template we can't deploy fails before any AWS call.
    app_target(assembly, needs_bucket.then_some("placeholder"), "")?;
    let mut aws = aws_for(&opts.aws, &assembly.stack)?;
    aws.progress = opts.progress;

    // Credentials, the toolkit's bucket and the stack, read at once: a no-change deploy
    // costs one round of AWS CLI starts.
    let look_up_toolkit = needs_bucket && opts.assets_bucket.is_none();
    let (identity, toolkit_bucket, survey) = thread::scope(|s| {
        let identity = s.spawn(|| aws.check_credentials());
        let toolkit_bucket = s.spawn(|| {
            if look_up_toolkit {
                toolkit::assets_bucket(&aws)
            } else {
                Ok(None)
            }
        });
        let survey = flow::survey(&aws, stack_name);
        (
            identity.join().expect("no panic"),
            toolkit_bucket.join().expect("no panic"),
            survey,
        )
    });
    // Credentials first: without them the other answers are errors too.
    let identity = identity?;
    announce(&aws, stack_name, &identity);
    pin::check(&aws, &assembly.stack, &identity)?;
    let account = identity.account.as_str();
    let (toolkit_bucket, survey) = (toolkit_bucket?, survey?);

    let (bucket, source) = if !needs_bucket {
        (None, assets::BucketSource::Given)
    } else if let Some(bucket) = &opts.assets_bucket {
        (Some(bucket.clone()), assets::BucketSource::Given)
    } else {
        let bucket = match toolkit_bucket {
            Some(bucket) => bucket,
            None => {
                eprintln!(
                    "[deploy] no toolkit stack in {} yet: creating stack {} (what `cargo xtask \
                     bootstrap` does)",
                    aws.target(),
                    TOOLKIT_STACK
                );
                bootstrap_with(&aws, account, opts.yes, opts.timeout)?
            }
        };
        (Some(bucket), assets::BucketSource::Toolkit)
    };
    let mut target = app_target(assembly, bucket.as_deref(), account)?;
    let report = |outcome, uploaded: Vec<String>, outputs| DeployReport {
        outcome,
        stack_name: stack_name.to_owned(),
        account: account.to_owned(),
        region: aws.region.clone(),
        assets_bucket: bucket.clone(),
        uploaded,
        outputs,
    };

    let prepared = flow::prepare(&aws, &target, survey)?;
    let deployed_template = match &prepared {
        Prepared::Unchanged(stack) => {
            eprintln!("[deploy] {stack_name}: no changes");
            let outputs = finish(assembly, stack, &aws)?;
            return Ok(report(Outcome::NoChanges, Vec::new(), Some(outputs)));
        }
        Prepared::Changes {
            deployed_template, ..
        } => deployed_template.as_ref(),
    };

    // Preflight: what the stage asks of the account must be there before anything changes.
    if let Some(bucket) = &bucket {
        preflight::bucket(&aws, bucket, source, stack_name)?;
    }
    preflight::concurrency(
        &aws,
        account,
        stack_name,
        &assembly.template,
        deployed_template,
    )?;
    if let Some(logging) = account_role::logging(&assembly.template)
        && let Some(why) = account_role::missing(&aws, account)?
    {
        return Err(Error::NoAccountRole(Box::new(MissingAccountRole {
            stack: stack_name.to_owned(),
            logging,
            account: account.to_owned(),
            target: aws.target(),
            why,
        })));
    }

    if let Some(bucket) = &bucket
        && assembly.template_text.len() > changeset::MAX_TEMPLATE_BODY
    {
        target.template_url = Some(assets::upload_template(&aws, bucket, assembly)?);
    }
    let Some(proposal) = flow::propose(&aws, &target, prepared, opts.timeout)? else {
        eprintln!("[deploy] {stack_name}: no changes");
        let stack = stack::describe(&aws, stack_name)?.ok_or_else(|| Error::Vanished {
            stack: stack_name.to_owned(),
            after_deploy: false,
        })?;
        let outputs = finish(assembly, &stack, &aws)?;
        return Ok(report(Outcome::NoChanges, Vec::new(), Some(outputs)));
    };
    // The zips go up only once the user agrees: a refusal leaves the bucket as it was.
    let mut uploaded = Vec::new();
    let mut upload = || {
        if let Some(bucket) = &bucket {
            uploaded = assets::upload_missing(&aws, assembly, bucket, source)?;
            if uploaded.is_empty() {
                eprintln!("[deploy] assets: all already in the bucket");
            }
        }
        Ok(())
    };
    match flow::apply(&aws, &target, proposal, opts.yes, opts.timeout, &mut upload)? {
        Applied::Declined => Ok(report(Outcome::Declined, uploaded, None)),
        Applied::Done => {
            assets::check_deployed_code(&aws, assembly, stack_name)?;
            let stack = stack::describe(&aws, stack_name)?.ok_or_else(|| Error::Vanished {
                stack: stack_name.to_owned(),
                after_deploy: true,
            })?;
            let outputs = finish(assembly, &stack, &aws)?;
            Ok(report(Outcome::Deployed, uploaded, Some(outputs)))
        }
    }
}

/// Prints and saves the outputs.
fn finish(assembly: &Assembly, stack: &stack::Stack, aws: &Aws) -> Result<Outputs> {
    let outputs = Outputs::new(&stack.name, stack.outputs.clone());
    let declared = assembly
        .template
        .get("Outputs")
        .and_then(Value::as_object)
        .map_or(0, |o| o.len());
    if outputs.outputs.is_empty() && declared > 0 {
        eprintln!(
            "[deploy] warning: stack {} reports no outputs although its template declares {declared} \
             ({}; moto's change sets are known to drop outputs)",
            stack.name,
            aws.target()
        );
    }
    print!("{}", outputs.render());
    outputs.save(&assembly.dir)?;
    Ok(outputs)
}

#[derive(Debug, Clone)]
pub struct DiffOptions {
    pub aws: AwsOptions,
    /// Compare with this saved template instead of the deployed stack (offline).
    pub template: Option<PathBuf>,
    /// Use this bucket's name for the `AssetsBucket` parameter instead of the toolkit's.
    pub assets_bucket: Option<String>,
    pub timeout: Duration,
}

/// What `diff` found; the caller prints it (`cargo xtask diff` as text, markdown or JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffReport {
    /// Would a deploy change anything?
    pub changed: bool,
    /// The whole answer as lines to read: the stack's state and, for a live stack, the
    /// change set's summary (CloudFormation's own word on replacements).
    pub text: String,
    /// What the assembly's template was compared with: the saved template or the deployed
    /// one; `None` when no stack exists (everything is new).
    pub before: Option<Value>,
    /// Where `before` came from: the file, or `stack NAME in REGION`.
    pub before_label: String,
    /// What `text` says beyond the two templates' difference: the stack's state when it can't
    /// be updated, or the change set's summary.
    pub notes: String,
}

#[derive(Debug, Clone)]
pub struct DestroyOptions {
    pub aws: AwsOptions,
    pub yes: bool,
    /// Also empty and delete the assets bucket (the toolkit stack), which every stage in the
    /// account and region shares.
    pub with_assets: bool,
    pub timeout: Duration,
    /// How the stacks' events show while they go.
    pub progress: Progress,
}

#[derive(Debug, Clone)]
pub struct BootstrapOptions {
    pub aws: AwsOptions,
    pub yes: bool,
    pub timeout: Duration,
    /// How the toolkit stack's events show while it changes.
    pub progress: Progress,
}

#[cfg(test)]
mod tests {
    use testenv::Need;
    use testenv::moto::{Moto, REGION, aws_env};

    use super::AwsOptions;

    /// Options for the library against a moto server: throwaway credentials, no user config.
    pub(crate) fn moto_options(moto: &Moto) -> AwsOptions {
        AwsOptions {
            region: Some(REGION.into()),
            profile: None,
            endpoint_url: Some(moto.endpoint.clone()),
            cli: Some(Need::AwsCli.path()),
            env: aws_env(),
        }
    }
}
