//! Bringing one stack to a template: look at where it is, propose a change set, show it,
//! ask, execute, follow it. Shared by the app stack and the toolkit stack.

use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::aws::Aws;
use crate::changeset::{self, ChangeSet, Created, Kind, Request};
use crate::confirm::confirm;
use crate::error::chain;
use crate::events::Watcher;
use crate::stack::{self, Next, Stack};
use crate::summary;
use crate::template_diff::diff_templates;
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
}

/// Where a stack stands before a deploy.
pub enum Prepared {
    /// Deployed with exactly this template and these parameters.
    Unchanged(Stack),
    /// Changes to propose: CREATE or UPDATE, with the deployed template for an update.
    Changes {
        kind: Kind,
        deployed_template: Option<Value>,
    },
}

/// Does the stack already have the values we'd send? The stack also lists parameters we
/// don't send; with an unchanged template those hold their defaults, as they would again.
pub fn same_parameters(deployed: &[(String, String)], wanted: &[(String, String)]) -> bool {
    wanted.iter().all(|w| deployed.contains(w))
}

/// What AWS says about a stack: its description and deployed template (both `None` when
/// there is no stack). Read in parallel: each AWS CLI call costs a process start.
pub struct Survey {
    pub stack: Option<Stack>,
    pub template: Option<Value>,
}

pub fn survey(aws: &Aws, stack_name: &str) -> Result<Survey> {
    thread::scope(|s| {
        let template = s.spawn(|| stack::template_if_any(aws, stack_name));
        let stack = stack::describe(aws, stack_name);
        let template = template.join().expect("reading a template does not panic");
        Ok(Survey {
            stack: stack?,
            template: template?,
        })
    })
}

/// Decides from a survey; clears a stack that never came to life; refuses a busy or broken
/// one. A stack deployed with the same template and parameters is `Unchanged` without asking
/// CloudFormation for a change set (it would only say "no changes", slower).
pub fn prepare(aws: &Aws, target: &Target, survey: Survey, timeout: Duration) -> Result<Prepared> {
    let Survey {
        stack: existing,
        template: deployed,
    } = survey;
    match stack::next_step(existing.as_ref()) {
        Next::Create => Ok(Prepared::Changes {
            kind: Kind::Create,
            deployed_template: None,
        }),
        Next::Blocked(why) => Err(Error::Blocked(why)),
        Next::Recreate(why) => {
            eprintln!("[deploy] {why}");
            let existing = existing.expect("only an existing stack is recreated");
            stack::delete(aws, &existing, timeout)?;
            Ok(Prepared::Changes {
                kind: Kind::Create,
                deployed_template: None,
            })
        }
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
            })
        }
    }
}

/// A change set, ready, and its summary.
pub struct Proposal {
    pub change_set: ChangeSet,
    pub summary: String,
}

/// Creates the change set and renders it; `None` when CloudFormation finds nothing to do.
pub fn propose(
    aws: &Aws,
    target: &Target,
    kind: Kind,
    deployed_template: Option<&Value>,
    timeout: Duration,
) -> Result<Option<Proposal>> {
    let created = changeset::create(
        aws,
        &Request {
            stack_name: target.stack_name,
            kind,
            template_text: target.template_text,
            template_url: target.template_url.as_deref(),
            parameters: &target.parameters,
            capabilities: &target.capabilities,
        },
        timeout,
    )?;
    let change_set = match created {
        Created::NoChanges => return Ok(None),
        Created::Ready(cs) => cs,
    };
    let empty = Value::Object(Default::default());
    let diff = diff_templates(deployed_template.unwrap_or(&empty), target.template);
    let summary = summary::render(target.stack_name, &change_set.changes, Some(&diff));
    Ok(Some(Proposal {
        change_set,
        summary,
    }))
}

/// How applying a proposal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// The user said no; the change set is gone.
    Declined,
}

/// Shows the proposal, asks, executes and follows the stack to the end.
pub fn apply(
    aws: &Aws,
    stack_name: &str,
    proposal: &Proposal,
    yes: bool,
    timeout: Duration,
) -> Result<Applied> {
    print!("{}", proposal.summary);
    let go = confirm(
        &format!("Deploy these changes to {stack_name}?"),
        &format!("change stack {stack_name}"),
        "review the changes with `cargo xtask diff`",
        yes,
    );
    match go {
        Ok(true) => {}
        Ok(false) => {
            changeset::discard(aws, &proposal.change_set);
            eprintln!("[deploy] not deployed: nothing changed");
            return Ok(Applied::Declined);
        }
        Err(err) => {
            changeset::discard(aws, &proposal.change_set);
            return Err(err);
        }
    }
    let watcher = Watcher::new(aws, &proposal.change_set.stack_id)?;
    eprintln!("[deploy] executing the changes to {stack_name}");
    if let Err(err) = changeset::execute(aws, &proposal.change_set) {
        // Real CloudFormation reports failures through the stack's events; emulators such as
        // moto fail the call itself.
        let _ = changeset::delete(aws, &proposal.change_set.id);
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
            Next::Recreate(_) => format!(
                "stack {stack_name} is {} and holds nothing: the next deploy deletes it and \
                 creates it again",
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
