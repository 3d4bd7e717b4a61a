//! `diff`: what a deploy would change, without changing anything.

use std::fs;

use serde_json::Value;

use crate::changeset::{self, Kind, MAX_TEMPLATE_BODY};
use crate::{DiffOptions, DiffReport, Error, Result};
use crate::{app_target, assets, aws_for, flow, login, requirements, stack, toolkit};
use assembly::Assembly;
use assembly::template::ASSETS_BUCKET_PARAMETER;

/// What a deploy would change, without changing anything (a change set is made to ask
/// CloudFormation, then deleted; a stack that doesn't exist yet is diffed offline).
pub fn diff(assembly: &Assembly, opts: &DiffOptions) -> Result<DiffReport> {
    let stack_name = assembly.stack.stack_name.as_str();
    if let Some(path) = &opts.template {
        let text = fs::read_to_string(path).map_err(|source| Error::ReadTemplate {
            path: path.clone(),
            source,
        })?;
        let old: Value = serde_json::from_str(&text).map_err(|source| Error::NotJsonTemplate {
            path: path.clone(),
            source,
        })?;
        let d = review::compare(stack_name, Some(&old), Some(&assembly.template));
        let text = render(path.display().to_string(), assembly, &d);
        return Ok(DiffReport {
            changed: !d.is_empty(),
            text,
            before: Some(old),
            before_label: path.display().to_string(),
            notes: String::new(),
        });
    }

    let aws = aws_for(&opts.aws, &assembly.stack)?;
    let identity = login(&aws, stack_name, Some(&assembly.stack))?;
    let flow::Survey {
        stack: existing,
        template: deployed,
    } = flow::survey(&aws, stack_name)?;
    let before_label = format!(
        "stack {stack_name} in {}",
        flow::place(&aws, &identity.account)
    );
    let next = stack::next_step(existing.as_ref());
    if !matches!(next, stack::Next::Update) {
        // Nothing live: everything is new. Said without creating anything in AWS.
        let header = match (&existing, next) {
            (Some(_), stack::Next::Replace(why)) => {
                format!("{why}: a deploy offers to delete it and create it afresh\n")
            }
            (Some(_), stack::Next::Blocked(why)) => format!("{why}\n"),
            (Some(s), _) => format!("stack {stack_name} is {}\n", s.status),
            (None, _) => format!(
                "stack {stack_name} does not exist in {}: a deploy creates it\n",
                flow::place(&aws, &identity.account)
            ),
        };
        let d = review::compare(stack_name, None, Some(&assembly.template));
        return Ok(DiffReport {
            changed: true,
            text: header.clone() + &render(before_label.clone(), assembly, &d),
            before: None,
            before_label,
            notes: header,
        });
    }
    let existing = existing.expect("an updatable stack exists");
    let bucket = if !requirements::needs_assets_bucket(&assembly.template) {
        None
    } else if let Some(b) = &opts.assets_bucket {
        Some(b.clone())
    } else {
        // The bucket the stack uses now: a diff shouldn't create the toolkit.
        match toolkit::assets_bucket(&aws)? {
            Some(b) => Some(b),
            None => existing
                .parameters
                .iter()
                .find(|(k, _)| k == ASSETS_BUCKET_PARAMETER)
                .map(|(_, v)| v.clone()),
        }
    };
    let mut target = app_target(assembly, bucket.as_deref(), &identity.account)?;
    let deployed = match deployed {
        Some(t) => t,
        None => stack::template(&aws, stack_name)?,
    };
    let report = |changed, text: String, notes: String| DiffReport {
        changed,
        text,
        before: Some(deployed.clone()),
        before_label: before_label.clone(),
        notes,
    };
    let no_changes = || {
        report(
            false,
            format!("stack {stack_name}: no changes\n"),
            String::new(),
        )
    };
    if deployed == assembly.template
        && flow::same_parameters(&existing.parameters, &target.parameters)
    {
        return Ok(no_changes());
    }
    // Only a change set needs the template in the bucket: a diff that finds nothing uploads
    // nothing.
    if let Some(bucket) = &bucket
        && assembly.template_text.len() > MAX_TEMPLATE_BODY
    {
        target.template_url = Some(assets::upload_template(&aws, bucket, assembly)?);
    }
    let prepared = flow::Prepared::Changes {
        kind: Kind::Update,
        deployed_template: Some(deployed.clone()),
        replaces: None,
    };
    match flow::propose(&aws, &target, prepared, opts.timeout)? {
        None => Ok(no_changes()),
        Some(proposal) => {
            if let flow::Step::ChangeSet(change_set) = &proposal.step {
                changeset::delete(&aws, &change_set.id)?;
            }
            Ok(report(true, proposal.summary.clone(), proposal.summary))
        }
    }
}

/// The review of one stack as plain text.
fn render(before: String, assembly: &Assembly, stack: &review::StackReview) -> String {
    let review = review::Review {
        base: before,
        head: assembly.dir.display().to_string(),
        stacks: vec![stack.clone()],
    };
    review::render(&review, review::Format::Text, false)
}
