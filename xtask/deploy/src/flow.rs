//! Bringing one stack to a template: look at where it is, work out the changes, show them
//! with the account, region and stack they land in, ask, and only then delete what must go,
//! execute, follow it. Shared by the app stack and the toolkit stack.

use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::aws::Aws;
use crate::changeset::{self, ChangeSet, Created, Kind, Request, ResourceChange};
use crate::confirm::confirm;
use crate::error::chain;
use crate::events::Watcher;
use crate::stack::{self, Next, Stack};
use crate::summary;
use crate::{Error, Result};

/// A stack and the template it should have.
pub struct Target<'a> {
    pub stack_name: &'a str,
    pub template_text: &'a str,
    /// The template's S3 URL when it's too big to send inline.
    pub template_url: Option<String>,
    pub template: &'a Value,
    pub parameters: Vec<(String, String)>,
    pub capabilities: Vec<&'static str>,
    /// The account the credentials belong to: the summary and the question name it, with the
    /// region and the stack, so nobody confirms a change to the wrong place.
    pub account: &'a str,
}

/// A stack that must go before its stack can be created, and why it holds nothing.
pub struct Replaced {
    pub stack: Stack,
    pub why: String,
}

/// Where a stack stands before a deploy.
pub enum Prepared {
    /// Deployed with exactly this template and these parameters.
    Unchanged(Stack),
    /// Changes to propose: CREATE or UPDATE, with the deployed template for an update, and
    /// for a CREATE the empty stack to delete first (only once the user agrees).
    Changes {
        kind: Kind,
        deployed_template: Option<Value>,
        replaces: Option<Replaced>,
    },
}

/// Does the stack already have the values we'd send? The stack also lists parameters we
/// don't send; with an unchanged template those hold their defaults, as they would again.
pub fn same_parameters(deployed: &[(String, String)], wanted: &[(String, String)]) -> bool {
    wanted.iter().all(|w| deployed.contains(w))
}

/// What AWS says about a stack: its description and deployed template (both `None` when
/// there is no stack, the template also when the stack has none to update from). Read in
/// parallel: each AWS CLI call costs a process start.
pub struct Survey {
    pub stack: Option<Stack>,
    pub template: Option<Value>,
}

pub fn survey(aws: &Aws, stack_name: &str) -> Result<Survey> {
    thread::scope(|s| {
        let template = s.spawn(|| stack::template_if_any(aws, stack_name));
        let stack = stack::describe(aws, stack_name)?;
        let template = template.join().expect("reading a template does not panic");
        // Only an update reads the deployed template. A stack that never came to life may
        // have none to give (real CloudFormation fails get-template for REVIEW_IN_PROGRESS):
        // that must not stand in the way of replacing it.
        let template = match stack::next_step(stack.as_ref()) {
            Next::Update => template?,
            _ => None,
        };
        Ok(Survey { stack, template })
    })
}

/// Decides from a survey, changing nothing: refuses a busy or broken stack, and plans (not
/// performs) the deletion of one that never came to life. A stack deployed with the same
/// template and parameters is `Unchanged` without asking CloudFormation for a change set (it
/// would only say "no changes", slower).
pub fn prepare(aws: &Aws, target: &Target, survey: Survey) -> Result<Prepared> {
    let Survey {
        stack: existing,
        template: deployed,
    } = survey;
    match stack::next_step(existing.as_ref()) {
        Next::Create => Ok(Prepared::Changes {
            kind: Kind::Create,
            deployed_template: None,
            replaces: None,
        }),
        Next::Blocked(why) => Err(Error::Blocked(why)),
        Next::Replace(why) => Ok(Prepared::Changes {
            kind: Kind::Create,
            deployed_template: None,
            replaces: Some(Replaced {
                stack: existing.expect("only an existing stack is replaced"),
                why,
            }),
        }),
        Next::Update => {
            let existing = existing.expect("only an existing stack is updated");
            let deployed = match deployed {
                Some(t) => t,
                None => stack::template(aws, target.stack_name)?,
            };
            if &deployed == target.template
                && same_parameters(&existing.parameters, &target.parameters)
            {
                return Ok(Prepared::Unchanged(existing));
            }
            Ok(Prepared::Changes {
                kind: Kind::Update,
                deployed_template: Some(deployed),
                replaces: None,
            })
        }
    }
}

/// What executing a proposal does.
pub enum Step {
    /// Execute this change set.
    ChangeSet(ChangeSet),
    /// Delete this stack, then create the target: CloudFormation takes no CREATE change set
    /// while the old stack holds the name, so its changes are worked out from the template.
    Replace(Replaced),
}

/// What a deploy would do, ready, and its summary.
pub struct Proposal {
    pub step: Step,
    pub summary: String,
}

/// "in account 123456789012, region eu-west-1": where a change lands, for every message
/// that asks for or reports one.
pub fn place(aws: &Aws, account: &str) -> String {
    format!("account {account}, region {}", aws.target())
}

/// Works out the changes and renders them; `None` when CloudFormation finds nothing to do.
pub fn propose(
    aws: &Aws,
    target: &Target,
    prepared: Prepared,
    timeout: Duration,
) -> Result<Option<Proposal>> {
    let Prepared::Changes {
        kind,
        deployed_template,
        replaces,
    } = prepared
    else {
        return Ok(None);
    };
    let place = place(aws, target.account);
    let diff = review::compare(
        target.stack_name,
        deployed_template.as_ref(),
        Some(target.template),
    );
    if let Some(replaced) = replaces {
        let pending = stack::pending_change_sets(aws, &replaced.stack).unwrap_or_default();
        let mut summary = format!(
            "{}: this deploy deletes it first, then creates it{}\n",
            replaced.why,
            if pending.is_empty() {
                String::new()
            } else {
                format!(
                    " (its change set(s) waiting to run are dropped with it: {})",
                    pending.join(", ")
                )
            }
        );
        let changes: Vec<ResourceChange> = diff
            .resources
            .iter()
            .filter(|r| r.change == review::ChangeKind::Added)
            .map(|r| ResourceChange {
                action: "Add".into(),
                logical_id: r.logical_id.clone(),
                resource_type: r.resource_type.clone(),
                replacement: None,
                targets: Vec::new(),
            })
            .collect();
        summary.push_str(&summary::render(
            target.stack_name,
            &place,
            &changes,
            Some(&diff),
        ));
        return Ok(Some(Proposal {
            step: Step::Replace(replaced),
            summary,
        }));
    }
    let change_set = match changeset::create(aws, &request(target, kind), timeout)? {
        Created::NoChanges => return Ok(None),
        Created::Ready(cs) => cs,
    };
    let summary = summary::render(target.stack_name, &place, &change_set.changes, Some(&diff));
    Ok(Some(Proposal {
        step: Step::ChangeSet(change_set),
        summary,
    }))
}

fn request<'a>(target: &'a Target, kind: Kind) -> Request<'a> {
    Request {
        stack_name: target.stack_name,
        kind,
        template_text: target.template_text,
        template_url: target.template_url.as_deref(),
        parameters: &target.parameters,
        capabilities: &target.capabilities,
    }
}

/// How applying a proposal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// The user said no; nothing changed (a change set made to ask is gone).
    Declined,
}

/// Shows the proposal, asks, then does it and follows the stack to the end. Everything that
/// changes something happens only after consent: `on_consent` first (deploy uploads the
/// zips there, so a refusal leaves the bucket as it was), then deleting a stack to replace,
/// then executing.
pub fn apply(
    aws: &Aws,
    target: &Target,
    proposal: Proposal,
    yes: bool,
    timeout: Duration,
    on_consent: &mut dyn FnMut() -> Result<()>,
) -> Result<Applied> {
    let stack_name = target.stack_name;
    let place = place(aws, target.account);
    print!("{}", proposal.summary);
    let (question, action) = match &proposal.step {
        Step::ChangeSet(_) => (
            format!("Deploy these changes to stack {stack_name} in {place}?"),
            format!("change stack {stack_name} in {place}"),
        ),
        Step::Replace(r) => (
            format!(
                "Delete stack {stack_name} ({}) and create it as above, in {place}?",
                r.stack.status
            ),
            format!(
                "delete stack {stack_name} ({}) and create it again in {place}",
                r.stack.status
            ),
        ),
    };
    let go = confirm(
        &question,
        &action,
        "review the changes with `cargo xtask diff`",
        yes,
    );
    let go = go.and_then(|go| {
        if go {
            on_consent()?;
        }
        Ok(go)
    });
    let change_set = match (go, proposal.step) {
        (Ok(true), Step::ChangeSet(cs)) => cs,
        (Ok(true), Step::Replace(replaced)) => replace(aws, target, &replaced, timeout)?,
        (Ok(false), step) => {
            if let Step::ChangeSet(cs) = &step {
                changeset::discard(aws, cs);
            }
            eprintln!("[deploy] not deployed: nothing changed");
            return Ok(Applied::Declined);
        }
        (Err(err), step) => {
            if let Step::ChangeSet(cs) = &step {
                changeset::discard(aws, cs);
            }
            return Err(err);
        }
    };
    let watcher = Watcher::new(aws, &change_set.stack_id)?;
    eprintln!("[deploy] executing the changes to {stack_name}");
    if let Err(err) = changeset::execute(aws, &change_set) {
        // Real CloudFormation reports failures through the stack's events; emulators such as
        // moto fail the call itself.
        let _ = changeset::delete(aws, &change_set.id);
        return Err(Error::DeployFailed {
            stack: stack_name.to_owned(),
            cause: err.to_string(),
            state: after_failure(aws, stack_name),
        });
    }
    let finished = watcher.wait(timeout)?;
    if !finished.succeeded() {
        return Err(Error::DeployFailed {
            stack: stack_name.to_owned(),
            cause: finished.explain(),
            state: after_failure(aws, stack_name),
        });
    }
    eprintln!("[deploy] {stack_name}: {}", finished.status);
    Ok(Applied::Done)
}

/// The agreed replacement: the empty stack goes, then the CREATE change set is made (its
/// changes were shown from the template).
fn replace(
    aws: &Aws,
    target: &Target,
    replaced: &Replaced,
    timeout: Duration,
) -> Result<ChangeSet> {
    let stack_name = target.stack_name;
    eprintln!(
        "[deploy] deleting stack {stack_name} ({}) as agreed",
        replaced.stack.status
    );
    stack::delete(aws, &replaced.stack, timeout)?;
    match changeset::create(aws, &request(target, Kind::Create), timeout) {
        Ok(Created::Ready(cs)) => Ok(cs),
        Ok(Created::NoChanges) => Err(Error::UnexpectedAnswer(format!(
            "CloudFormation found nothing to create for stack {stack_name}"
        ))),
        Err(err) => Err(Error::DeployFailed {
            stack: stack_name.to_owned(),
            cause: chain(&err),
            state: format!(
                "the empty stack {stack_name} was deleted as agreed and nothing was created: fix \
                 the cause and deploy again"
            ),
        }),
    }
}

/// What state a failure left the stack in, and what the next deploy does about it.
fn after_failure(aws: &Aws, stack_name: &str) -> String {
    match stack::describe(aws, stack_name) {
        Ok(None) => format!("stack {stack_name} does not exist: the next deploy creates it"),
        Ok(Some(s)) => match stack::next_step(Some(&s)) {
            Next::Update => format!(
                "stack {stack_name} is {}: what was deployed before is still there; fix the \
                 cause and deploy again",
                s.status
            ),
            Next::Replace(_) => format!(
                "stack {stack_name} is {} and holds nothing: the next deploy offers to delete \
                 it and create it again",
                s.status
            ),
            Next::Blocked(why) => why,
            Next::Create => unreachable!("an existing stack is never created"),
        },
        Err(err) => format!(
            "could not read the state of stack {stack_name}: {}",
            chain(&err)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn parameters_we_send_must_match_defaults_may_be_listed() {
        let deployed = [p("AssetsBucket", "b1"), p("LogLevel", "INFO")];
        assert!(same_parameters(&deployed, &[p("AssetsBucket", "b1")]));
        assert!(!same_parameters(&deployed, &[p("AssetsBucket", "b2")]));
        assert!(!same_parameters(&[], &[p("AssetsBucket", "b1")]));
    }
}
