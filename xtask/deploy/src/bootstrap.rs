//! `bootstrap`: the toolkit stack and its assets bucket.

use std::time::Duration;

use serde_json::Value;

use crate::aws::Aws;
use crate::flow::{self, Applied, Prepared, Target};
use crate::{BootstrapOptions, Error, Result, login, requirements, stack, toolkit};

/// Creates or updates the toolkit stack in `region` (or the one the options and environment
/// name); returns the assets bucket's name.
pub fn bootstrap(region: &str, opts: &BootstrapOptions) -> Result<String> {
    let aws = Aws::new(&opts.aws, region);
    login(&aws, toolkit::TOOLKIT_STACK)?;
    let bucket = bootstrap_with(&aws, opts.yes, opts.timeout)?;
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

pub(crate) fn bootstrap_with(aws: &Aws, yes: bool, timeout: Duration) -> Result<String> {
    let template_text = toolkit::TEMPLATE;
    let template: Value =
        serde_json::from_str(template_text).expect("the toolkit template is JSON (a test checks)");
    let target = Target {
        stack_name: toolkit::TOOLKIT_STACK,
        template_text,
        template_url: None,
        template: &template,
        parameters: Vec::new(),
        capabilities: requirements::capabilities(&template),
    };
    // A bucket deleted behind CloudFormation's back can't come back by an update (the
    // template is unchanged): the stack goes and comes again.
    if let Some(bucket) = toolkit::assets_bucket(aws)?
        && !bucket_exists(aws, &bucket)?
        && let Some(s) = stack::describe(aws, toolkit::TOOLKIT_STACK)?
    {
        eprintln!(
            "[bootstrap] the assets bucket {bucket} is gone: recreating stack {}",
            toolkit::TOOLKIT_STACK
        );
        stack::delete(aws, &s, timeout)?;
    }
    let survey = flow::survey(aws, toolkit::TOOLKIT_STACK)?;
    match flow::prepare(aws, &target, survey, timeout)? {
        Prepared::Unchanged(_) => {}
        Prepared::Changes {
            kind,
            deployed_template,
        } => {
            if let Some(proposal) =
                flow::propose(aws, &target, kind, deployed_template.as_ref(), timeout)?
                && flow::apply(aws, toolkit::TOOLKIT_STACK, &proposal, yes, timeout)?
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
