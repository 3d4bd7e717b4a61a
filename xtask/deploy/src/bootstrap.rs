//! `bootstrap`: the toolkit stack, with its assets bucket and the account's API Gateway
//! CloudWatch role (see `account_role` for when it sets the account's setting).

use std::time::Duration;

use crate::account_role::{self, Existence, Plan};
use crate::aws::Aws;
use crate::flow::{self, Applied, Prepared, Target};
use crate::{BootstrapOptions, Error, Result, confirm, login, requirements, stack, toolkit};

/// Creates or updates the toolkit stack in `region` (the stage file's, unless the options say
/// otherwise); returns the assets bucket's name.
pub fn bootstrap(region: &str, opts: &BootstrapOptions) -> Result<String> {
    let mut aws = Aws::new(&opts.aws, region)?;
    aws.progress = opts.progress;
    let identity = login(&aws, toolkit::TOOLKIT_STACK, None)?;
    let bucket = bootstrap_with(&aws, &identity.account, opts.yes, opts.timeout)?;
    eprintln!("[bootstrap] assets bucket: {bucket}");
    Ok(bucket)
}

pub(crate) fn bucket_exists(aws: &Aws, bucket: &str) -> Result<bool> {
    match aws.call("s3api", "head-bucket", &["--bucket", bucket]) {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.code(), Some("404" | "NoSuchBucket" | "NotFound")) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// What to do about the account's API Gateway CloudWatch role, read before anything is set.
fn account_plan(aws: &Aws, account: &str) -> Result<Plan> {
    let current = account_role::current(aws)?;
    let ours = account_role::ours(aws)?;
    let existence = match &current {
        Some(arn) => account_role::existence(aws, arn, account),
        None => Existence::Gone,
    };
    Ok(account_role::decide(
        current.as_deref(),
        &existence,
        ours.as_deref(),
    ))
}

pub(crate) fn bootstrap_with(
    aws: &Aws,
    account: &str,
    yes: bool,
    timeout: Duration,
) -> Result<String> {
    let place = flow::place(aws, account);
    // A bucket deleted behind CloudFormation's back can't come back by an update (the
    // template is unchanged): the stack goes and comes again, once the user agrees.
    if let Some(bucket) = toolkit::assets_bucket(aws)?
        && !bucket_exists(aws, &bucket)?
        && let Some(s) = stack::describe(aws, toolkit::TOOLKIT_STACK)?
    {
        let toolkit = toolkit::TOOLKIT_STACK;
        eprintln!(
            "[bootstrap] the assets bucket {bucket} of stack {toolkit} is gone (deleted outside \
             CloudFormation): the stack must be deleted and created again, with a new bucket; \
             its CloudWatch role and the account setting stay (both are retained)"
        );
        if !confirm::confirm(
            &format!("Delete stack {toolkit} and create it again, in {place}?"),
            &format!("delete and recreate stack {toolkit} in {place}"),
            "its bucket is already gone",
            yes,
        )? {
            return Err(Error::ToolkitDeclined);
        }
        stack::delete(aws, &s, timeout)?;
    }

    let plan = account_plan(aws, account)?;
    eprintln!(
        "[bootstrap] API Gateway CloudWatch role: {}",
        plan.describe()
    );
    let (template_text, template) = toolkit::template(plan.sets_account());
    let target = Target {
        stack_name: toolkit::TOOLKIT_STACK,
        template_text: &template_text,
        template_url: None,
        template: &template,
        parameters: Vec::new(),
        capabilities: requirements::capabilities(&template),
        account,
    };
    let survey = flow::survey(aws, toolkit::TOOLKIT_STACK)?;
    match flow::prepare(aws, &target, survey)? {
        Prepared::Unchanged(_) => {
            if let Plan::SetOurs { why } = &plan {
                repair_setting(aws, why, &place, yes)?;
            }
        }
        changes => {
            if let Some(proposal) = flow::propose(aws, &target, changes, timeout)?
                && flow::apply(aws, &target, proposal, yes, timeout, &mut || Ok(()))?
                    == Applied::Declined
            {
                return Err(Error::ToolkitDeclined);
            }
        }
    }
    toolkit::assets_bucket(aws)?.ok_or(Error::NoBucketAfterBootstrap {
        stack: toolkit::TOOLKIT_STACK,
        logical_id: assembly::template::TOOLKIT_BUCKET,
    })
}

/// The toolkit stack holds the setting, yet the account has no working role: the setting was
/// changed outside CloudFormation, which won't set it again while the template is unchanged.
/// Points it back at the toolkit's role, once the user agrees.
fn repair_setting(aws: &Aws, why: &str, place: &str, yes: bool) -> Result<()> {
    let Some(role) = account_role::ours(aws)? else {
        return Ok(());
    };
    let arn = account_role::arn_of(aws, &role)?;
    eprintln!(
        "[bootstrap] stack {} sets the account's API Gateway CloudWatch role, but {why} \
         (changed outside CloudFormation)",
        toolkit::TOOLKIT_STACK
    );
    if confirm::confirm(
        &format!("Point the account's API Gateway CloudWatch role at {arn} again, in {place}?"),
        &format!("set the account's API Gateway CloudWatch role in {place}"),
        "`aws apigateway get-account` shows the setting",
        yes,
    )? {
        account_role::set(aws, &arn)?;
        eprintln!("[bootstrap] the account's API Gateway CloudWatch role is {arn}");
    }
    Ok(())
}
