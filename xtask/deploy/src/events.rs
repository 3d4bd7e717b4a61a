//! Live progress: polls a stack's events and its status, prints each new event once
//! (resource, status, reason, elapsed time), and keeps the failures to name the root cause.

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::aws::Aws;
use crate::{Error, Result};

/// One stack event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
}

impl Event {
    fn from_json(v: &Value) -> Option<Event> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Event {
            id: s("EventId")?,
            logical_id: s("LogicalResourceId").unwrap_or_default(),
            resource_type: s("ResourceType").unwrap_or_default(),
            status: s("ResourceStatus").unwrap_or_default(),
            reason: s("ResourceStatusReason").filter(|r| !r.is_empty()),
        })
    }

    fn is_failure(&self) -> bool {
        self.status.ends_with("_FAILED")
    }
}

/// How a stack operation ended.
#[derive(Debug, Clone)]
pub struct Finished {
    pub status: String,
    pub status_reason: Option<String>,
    /// The first resource that failed, with CloudFormation's reason: the root cause.
    pub root_cause: Option<Event>,
}

impl Finished {
    /// `CREATE_COMPLETE`, `UPDATE_COMPLETE`, `DELETE_COMPLETE`, `IMPORT_COMPLETE`.
    pub fn succeeded(&self) -> bool {
        self.status.ends_with("_COMPLETE") && !self.status.contains("ROLLBACK")
    }

    /// "EchoFunction (AWS::Lambda::Function): CREATE_FAILED: reason" or the stack's reason.
    pub fn explain(&self) -> String {
        match (&self.root_cause, &self.status_reason) {
            (Some(e), _) => format!(
                "{} ({}) {}: {}",
                e.logical_id,
                e.resource_type,
                e.status,
                e.reason.as_deref().unwrap_or("no reason given")
            ),
            (None, Some(reason)) => format!("{}: {reason}", self.status),
            (None, None) => self.status.clone(),
        }
    }
}

/// Is this status the end of an operation?
pub fn is_terminal(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
}

/// Follows one stack operation.
pub struct Watcher<'a> {
    aws: &'a Aws,
    /// The stack's id (ARN): still answers after the stack is deleted, unlike its name.
    stack_id: String,
    seen: HashSet<String>,
    /// Statuses the stack itself reported through new events.
    stack_statuses: HashSet<String>,
    failures: Vec<Event>,
    start: Instant,
}

/// How long a terminal status without a matching stack event is taken for the old one.
const STALE_STATUS_GRACE: Duration = Duration::from_secs(60);

/// Events per poll: newest first, so the ones an operation adds come before the old ones.
const PAGE: &str = "100";

impl<'a> Watcher<'a> {
    /// Remembers the events already there, so only the operation's own are shown.
    pub fn new(aws: &'a Aws, stack_id: &str) -> Result<Watcher<'a>> {
        let mut watcher = Watcher {
            aws,
            stack_id: stack_id.to_owned(),
            seen: HashSet::new(),
            stack_statuses: HashSet::new(),
            failures: Vec::new(),
            start: Instant::now(),
        };
        for event in watcher.fetch()? {
            watcher.seen.insert(event.id);
        }
        watcher.start = Instant::now();
        Ok(watcher)
    }

    fn fetch(&self) -> Result<Vec<Event>> {
        let page = self.aws.call(
            "cloudformation",
            "describe-stack-events",
            &["--stack-name", &self.stack_id, "--max-items", PAGE],
        )?;
        Ok(page
            .get("StackEvents")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Event::from_json)
            .collect())
    }

    /// Prints the events that are new since the last poll, oldest first.
    fn absorb(&mut self, events: Vec<Event>) {
        let mut fresh: Vec<Event> = events
            .into_iter()
            .filter(|e| !self.seen.contains(&e.id))
            .collect();
        fresh.reverse();
        for event in fresh {
            let elapsed = self.start.elapsed().as_secs();
            eprintln!(
                "  {:>2}:{:02}  {:<28} {:<36} {}{}",
                elapsed / 60,
                elapsed % 60,
                event.status,
                event.resource_type,
                event.logical_id,
                event
                    .reason
                    .as_deref()
                    .map(|r| format!("  ({r})"))
                    .unwrap_or_default()
            );
            self.seen.insert(event.id.clone());
            if event.resource_type == "AWS::CloudFormation::Stack"
                && event.logical_id == self.stack_name()
            {
                self.stack_statuses.insert(event.status.clone());
            }
            if event.is_failure() {
                self.failures.push(event);
            }
        }
    }

    /// Polls until the stack's status is terminal or `timeout` passes.
    pub fn wait(mut self, timeout: Duration) -> Result<Finished> {
        let mut delay = Duration::from_millis(250);
        loop {
            // Status and events at once (each is an AWS CLI start); an event that lands
            // between the two reads is caught by the next poll, since a terminal status only
            // counts once the stack's own event for it has been seen.
            let (stacks, events) = thread::scope(|s| {
                let events = s.spawn(|| self.fetch());
                let stacks = self.aws.call(
                    "cloudformation",
                    "describe-stacks",
                    &["--stack-name", &self.stack_id],
                );
                (
                    stacks,
                    events.join().expect("reading events does not panic"),
                )
            });
            // A deleted stack may stop answering by id too; that's the end of a delete.
            let (status, reason) = match stacks {
                Ok(v) => (
                    v.pointer("/Stacks/0/StackStatus")
                        .and_then(Value::as_str)
                        .unwrap_or("UNKNOWN")
                        .to_owned(),
                    v.pointer("/Stacks/0/StackStatusReason")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                ),
                Err(e) if e.is_missing_stack() => ("DELETE_COMPLETE".to_owned(), None),
                Err(e) => return Err(e.into()),
            };
            match events {
                Ok(events) => self.absorb(events),
                // A deleted stack's events may be gone with it.
                Err(_) if status == "DELETE_COMPLETE" => {}
                Err(e) => return Err(e),
            }
            // Right after an execute, the stack may still show its previous (terminal)
            // status: trust a terminal status once the stack's own event reports it, or the
            // stack is gone, or after a grace period (should events lag).
            let settled = self.stack_statuses.contains(&status)
                || status == "DELETE_COMPLETE"
                || self.start.elapsed() > STALE_STATUS_GRACE;
            if is_terminal(&status) && settled {
                return Ok(Finished {
                    root_cause: self.root_cause(),
                    status,
                    status_reason: reason,
                });
            }
            if self.start.elapsed() > timeout {
                return Err(Error::StackTimeout {
                    stack: self.stack_id.clone(),
                    status,
                    seconds: timeout.as_secs(),
                });
            }
            thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_secs(3));
        }
    }

    /// The stack's name, from its id (`arn:…:stack/<name>/<uuid>`).
    fn stack_name(&self) -> &str {
        self.stack_id.rsplit('/').nth(1).unwrap_or(&self.stack_id)
    }

    /// The first real failure: a resource's own, not a cancellation it caused elsewhere.
    fn root_cause(&self) -> Option<Event> {
        let cancelled = |e: &&Event| {
            e.reason.as_deref().is_some_and(|r| {
                r.contains("cancelled") || r.starts_with("The following resource(s) failed")
            })
        };
        let stack_name = self.stack_name();
        self.failures
            .iter()
            .filter(|e| !cancelled(e))
            .find(|e| e.resource_type != "AWS::CloudFormation::Stack" || e.logical_id != stack_name)
            .or_else(|| self.failures.iter().find(|e| !cancelled(e)))
            .or_else(|| self.failures.first())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, logical: &str, ty: &str, status: &str, reason: Option<&str>) -> Event {
        Event {
            id: id.into(),
            logical_id: logical.into(),
            resource_type: ty.into(),
            status: status.into(),
            reason: reason.map(Into::into),
        }
    }

    #[test]
    fn the_root_cause_is_the_first_resource_failure_not_a_cancellation() {
        let aws = Aws::new(
            &crate::AwsOptions {
                region: Some("us-east-1".into()),
                ..Default::default()
            },
            "us-east-1",
        )
        .unwrap();
        let mut watcher = Watcher {
            aws: &aws,
            stack_id: "arn:aws:cloudformation:us-east-1:1:stack/app/uuid".into(),
            seen: HashSet::new(),
            stack_statuses: HashSet::new(),
            failures: Vec::new(),
            start: Instant::now(),
        };
        watcher.failures = vec![
            event(
                "1",
                "Other",
                "AWS::IAM::Role",
                "CREATE_FAILED",
                Some("Resource creation cancelled"),
            ),
            event(
                "2",
                "EchoFunction",
                "AWS::Lambda::Function",
                "CREATE_FAILED",
                Some("S3 key does not exist"),
            ),
            event(
                "3",
                "app",
                "AWS::CloudFormation::Stack",
                "ROLLBACK_IN_PROGRESS",
                Some("The following resource(s) failed to create: [EchoFunction]."),
            ),
        ];
        let cause = watcher.root_cause().unwrap();
        assert_eq!(cause.logical_id, "EchoFunction");
        let finished = Finished {
            status: "ROLLBACK_COMPLETE".into(),
            status_reason: None,
            root_cause: Some(cause),
        };
        assert!(!finished.succeeded());
        assert_eq!(
            finished.explain(),
            "EchoFunction (AWS::Lambda::Function) CREATE_FAILED: S3 key does not exist"
        );
    }

    #[test]
    fn terminal_statuses() {
        assert!(is_terminal("CREATE_COMPLETE"));
        assert!(is_terminal("UPDATE_ROLLBACK_COMPLETE"));
        assert!(is_terminal("DELETE_FAILED"));
        assert!(!is_terminal("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
        assert!(!is_terminal("REVIEW_IN_PROGRESS"));
    }
}
