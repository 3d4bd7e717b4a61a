//! A stack as CloudFormation reports it, and what its status allows the next deploy to do.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::aws::Aws;
use crate::events::Watcher;
use crate::outputs::Output;
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct Stack {
    /// The stack's ARN.
    pub id: String,
    pub name: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub parameters: Vec<(String, String)>,
    pub outputs: Vec<Output>,
}

/// `describe-stacks`, or `None` when there is no such stack.
pub fn describe(aws: &Aws, name: &str) -> Result<Option<Stack>> {
    let v = match aws.call("cloudformation", "describe-stacks", &["--stack-name", name]) {
        Ok(v) => v,
        Err(e) if e.is_missing_stack() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let s = v.pointer("/Stacks/0").ok_or_else(|| {
        Error::UnexpectedAnswer(format!("describe-stacks gave no stack for {name}: {v}"))
    })?;
    let text = |k: &str| s.get(k).and_then(Value::as_str).map(str::to_owned);
    let pairs = |list: &str, key: &str, value: &str| -> Vec<(String, String)> {
        s.get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    p.get(key)?.as_str()?.to_owned(),
                    p.get(value)?.as_str().unwrap_or("").to_owned(),
                ))
            })
            .collect()
    };
    let outputs = s
        .get("Outputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|o| {
            Some(Output {
                key: o.get("OutputKey")?.as_str()?.to_owned(),
                value: o.get("OutputValue")?.as_str().unwrap_or("").to_owned(),
                description: o
                    .get("Description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect();
    let required = |k: &str| {
        text(k).ok_or_else(|| Error::UnexpectedAnswer(format!("describe-stacks gave no {k}")))
    };
    Ok(Some(Stack {
        id: required("StackId")?,
        name: text("StackName").unwrap_or_else(|| name.to_owned()),
        status: required("StackStatus")?,
        status_reason: text("StackStatusReason"),
        parameters: pairs("Parameters", "ParameterKey", "ParameterValue"),
        outputs,
    }))
}

/// The template the stack was last deployed with, as submitted.
pub fn template(aws: &Aws, name: &str) -> Result<Value> {
    let v = aws.call(
        "cloudformation",
        "get-template",
        &["--stack-name", name, "--template-stage", "Original"],
    )?;
    match v.get("TemplateBody") {
        // JSON templates come back parsed, YAML ones as a string.
        Some(Value::String(text)) => Ok(serde_json::from_str(text).unwrap_or(Value::Null)),
        Some(body) => Ok(body.clone()),
        None => Err(Error::UnexpectedAnswer(format!(
            "get-template gave no TemplateBody for {name}"
        ))),
    }
}

/// The deployed template, or `None` when there is no stack.
pub fn template_if_any(aws: &Aws, name: &str) -> Result<Option<Value>> {
    match template(aws, name) {
        Ok(t) => Ok(Some(t)),
        Err(Error::Aws(e)) if e.is_missing_stack() => Ok(None),
        Err(e) => Err(e),
    }
}

/// What the next deploy of a stack in this status does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// No stack: create it.
    Create,
    /// A live stack: update it.
    Update,
    /// A stack that never came to life (its first create rolled back, or it was created by a
    /// change set that never ran): it holds nothing and must go before the stack can be
    /// created. Why, for the plan the user confirms: nothing is deleted without consent.
    Replace(String),
    /// Not now: why and what to do.
    Blocked(String),
}

pub fn next_step(stack: Option<&Stack>) -> Next {
    let Some(stack) = stack else {
        return Next::Create;
    };
    let name = &stack.name;
    match stack.status.as_str() {
        "ROLLBACK_COMPLETE" => Next::Replace(format!(
            "stack {name} is ROLLBACK_COMPLETE: its first create failed and was rolled back, so \
             it holds nothing"
        )),
        "REVIEW_IN_PROGRESS" => Next::Replace(format!(
            "stack {name} is REVIEW_IN_PROGRESS: created by a change set that never ran (an \
             interrupted deploy, or one still waiting at its prompt), so it holds nothing"
        )),
        // Not deleted for the user: the failed rollback may have left resources behind, and
        // deleting the stack could fail the same way or orphan them.
        "ROLLBACK_FAILED" => Next::Blocked(format!(
            "stack {name} is ROLLBACK_FAILED: its first create failed and so did the clean-up, so \
             resources may remain; deploy never deletes such a stack itself. See what failed \
             (`aws cloudformation describe-stack-events --stack-name {name}`), then delete it \
             (`aws cloudformation delete-stack --stack-name {name}`, with --retain-resources \
             for any resource it cannot delete) and deploy again"
        )),
        "DELETE_FAILED" => Next::Blocked(format!(
            "stack {name} is DELETE_FAILED{}: run `cargo xtask destroy` again (or fix the \
             resource named in its events), then deploy",
            stack
                .status_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )),
        "UPDATE_ROLLBACK_FAILED" => Next::Blocked(format!(
            "stack {name} is UPDATE_ROLLBACK_FAILED: run `aws cloudformation \
             continue-update-rollback --stack-name {name}`, wait for UPDATE_ROLLBACK_COMPLETE, \
             then deploy again"
        )),
        status if status.ends_with("_IN_PROGRESS") => Next::Blocked(format!(
            "stack {name} is busy ({status}): wait until it finishes, then run the command again"
        )),
        _ => Next::Update,
    }
}

/// The change sets waiting on a stack (names), e.g. another deploy at its prompt.
/// Logical ID → physical ID of the stack's resources (`list-stack-resources`, which moto
/// also answers for stacks holding resource types it skips).
pub fn physical_ids(aws: &Aws, name: &str) -> Result<BTreeMap<String, String>> {
    let listed = aws.call(
        "cloudformation",
        "list-stack-resources",
        &["--stack-name", name],
    )?;
    Ok(listed
        .get("StackResourceSummaries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let logical = r.get("LogicalResourceId")?.as_str()?;
            let physical = r.get("PhysicalResourceId")?.as_str()?;
            (!logical.is_empty() && !physical.is_empty())
                .then(|| (logical.to_owned(), physical.to_owned()))
        })
        .collect())
}

pub fn pending_change_sets(aws: &Aws, stack: &Stack) -> Result<Vec<String>> {
    let listed = aws.call(
        "cloudformation",
        "list-change-sets",
        &["--stack-name", &stack.id],
    )?;
    Ok(listed
        .get("Summaries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        // moto lists every stack's change sets whatever the stack asked about.
        .filter(|s| s.get("StackId").and_then(Value::as_str) == Some(stack.id.as_str()))
        .filter(|s| s.get("ExecutionStatus").and_then(Value::as_str) == Some("AVAILABLE"))
        .filter_map(|s| s.get("ChangeSetName").and_then(Value::as_str))
        .map(str::to_owned)
        .collect())
}

/// Deletes a stack and follows it to the end; fails with the root cause if it can't.
pub fn delete(aws: &Aws, stack: &Stack, timeout: Duration) -> Result<()> {
    let watcher = Watcher::new(aws, &stack.id)?;
    aws.call(
        "cloudformation",
        "delete-stack",
        &["--stack-name", &stack.id],
    )?;
    let finished = watcher.wait(timeout)?;
    if finished.status != "DELETE_COMPLETE" {
        return Err(Error::DeleteFailed {
            stack: stack.name.clone(),
            cause: finished.explain(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(status: &str) -> Stack {
        Stack {
            id: "arn".into(),
            name: "app".into(),
            status: status.into(),
            status_reason: None,
            parameters: vec![],
            outputs: vec![],
        }
    }

    #[test]
    fn what_each_status_allows() {
        assert_eq!(next_step(None), Next::Create);
        assert_eq!(next_step(Some(&stack("CREATE_COMPLETE"))), Next::Update);
        assert_eq!(
            next_step(Some(&stack("UPDATE_ROLLBACK_COMPLETE"))),
            Next::Update
        );
        assert!(matches!(
            next_step(Some(&stack("ROLLBACK_COMPLETE"))),
            Next::Replace(_)
        ));
        assert!(matches!(
            next_step(Some(&stack("REVIEW_IN_PROGRESS"))),
            Next::Replace(_)
        ));
        // Never deleted for the user: it may hold what the failed rollback left.
        assert!(
            matches!(next_step(Some(&stack("ROLLBACK_FAILED"))), Next::Blocked(m)
                if m.contains("never deletes") && m.contains("delete-stack --stack-name app"))
        );
        assert!(
            matches!(next_step(Some(&stack("UPDATE_IN_PROGRESS"))), Next::Blocked(m) if m.contains("busy"))
        );
        assert!(
            matches!(next_step(Some(&stack("UPDATE_ROLLBACK_FAILED"))), Next::Blocked(m) if m.contains("continue-update-rollback"))
        );
    }
}
