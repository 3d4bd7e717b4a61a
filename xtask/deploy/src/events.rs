//! Live progress: polls a stack's events and its status, shows each new event once (a plain
//! line: resource, status, reason, elapsed time; or, on a terminal, the live view of `live`),
//! and keeps the failures to name the root cause.

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::aws::Aws;
use crate::live::LiveView;
use crate::{Error, Result};

/// How a stack operation's events are shown while it runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Progress {
    /// A line per event as it comes: for logs, pipes and CI.
    #[default]
    Plain,
    /// For a terminal: a row per resource with its latest status, redrawn in place.
    Live,
}

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
    /// The live view, once waiting starts (when `aws.progress` asks for it).
    view: Option<LiveView>,
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
            view: None,
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

    /// Shows the events that are new since the last poll, oldest first.
    fn absorb(&mut self, events: Vec<Event>) {
        let mut fresh: Vec<Event> = events
            .into_iter()
            .filter(|e| !self.seen.contains(&e.id))
            .collect();
        fresh.reverse();
        for event in fresh {
            if let Some(view) = &mut self.view {
                view.show(&event, self.start.elapsed());
            } else {
                Self::print(&event, self.start.elapsed());
            }
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

    /// One event as a plain line.
    fn print(event: &Event, elapsed: Duration) {
        let elapsed = elapsed.as_secs();
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
    }

    /// Polls until the stack's status is terminal or `timeout` passes.
    pub fn wait(mut self, timeout: Duration) -> Result<Finished> {
        // Drawn from here on only: until now the caller may still print (and does).
        if self.aws.progress == Progress::Live {
            self.view = Some(LiveView::new(self.stack_name()));
        }
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
            view: None,
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

    /// A failed create followed to its end through a stand-in AWS CLI that answers with a
    /// scripted sequence of events, once with plain lines and once with the live view (drawn
    /// only on a terminal: run with `--nocapture` under `script` to watch it): both end the
    /// same way, with the function's own failure as the root cause, and the events from
    /// before the operation are not taken for its own.
    #[test]
    fn a_failed_create_is_followed_to_its_root_cause_plain_or_live() {
        for progress in [Progress::Plain, Progress::Live] {
            let dir = tempfile::tempdir().unwrap();
            let cli = scripted_cli(dir.path());
            let mut aws = Aws::new(
                &crate::AwsOptions {
                    region: Some("us-east-1".into()),
                    cli: Some(cli),
                    ..Default::default()
                },
                "us-east-1",
            )
            .unwrap();
            aws.progress = progress;
            let watcher =
                Watcher::new(&aws, "arn:aws:cloudformation:us-east-1:1:stack/app/uuid").unwrap();
            let finished = watcher.wait(Duration::from_secs(60)).unwrap();
            assert_eq!(finished.status, "ROLLBACK_COMPLETE", "{progress:?}");
            assert!(!finished.succeeded());
            assert_eq!(
                finished.explain(),
                "EchoFunction (AWS::Lambda::Function) CREATE_FAILED: Resource handler returned \
                 message: \"S3 key does not exist\"",
                "{progress:?}"
            );
        }
    }

    /// Writes an `aws` that answers `describe-stack-events` and `describe-stacks` with the
    /// next step of a failed create each time the events are read.
    fn scripted_cli(dir: &std::path::Path) -> std::path::PathBuf {
        use serde_json::json;
        let ev = |n: usize, logical: &str, ty: &str, status: &str, reason: &str| {
            json!({
                "EventId": format!("e{n}"),
                "LogicalResourceId": logical,
                "ResourceType": ty,
                "ResourceStatus": status,
                "ResourceStatusReason": reason,
            })
        };
        let stack = "AWS::CloudFormation::Stack";
        let (role, function) = ("AWS::IAM::Role", "AWS::Lambda::Function");
        // Oldest first; each step adds its events and sets the stack's status.
        let steps: Vec<(Vec<Value>, &str)> = vec![
            (
                vec![ev(
                    0,
                    "app",
                    stack,
                    "REVIEW_IN_PROGRESS",
                    "an earlier change set",
                )],
                "REVIEW_IN_PROGRESS",
            ),
            (
                vec![
                    ev(1, "app", stack, "CREATE_IN_PROGRESS", "User Initiated"),
                    ev(2, "EchoRole", role, "CREATE_IN_PROGRESS", ""),
                    ev(
                        3,
                        "EchoFunctionLogGroup",
                        "AWS::Logs::LogGroup",
                        "CREATE_IN_PROGRESS",
                        "",
                    ),
                ],
                "CREATE_IN_PROGRESS",
            ),
            (
                vec![
                    ev(4, "EchoRole", role, "CREATE_COMPLETE", ""),
                    ev(
                        5,
                        "EchoFunctionLogGroup",
                        "AWS::Logs::LogGroup",
                        "CREATE_COMPLETE",
                        "",
                    ),
                    ev(6, "EchoFunction", function, "CREATE_IN_PROGRESS", ""),
                ],
                "CREATE_IN_PROGRESS",
            ),
            (
                vec![
                    ev(
                        7,
                        "EchoFunction",
                        function,
                        "CREATE_FAILED",
                        "Resource handler returned message: \"S3 key does not exist\"",
                    ),
                    ev(
                        8,
                        "app",
                        stack,
                        "ROLLBACK_IN_PROGRESS",
                        "The following resource(s) failed to create: [EchoFunction].",
                    ),
                    ev(9, "EchoFunction", function, "DELETE_IN_PROGRESS", ""),
                    ev(10, "EchoRole", role, "DELETE_IN_PROGRESS", ""),
                ],
                "ROLLBACK_IN_PROGRESS",
            ),
            (
                vec![
                    ev(11, "EchoFunction", function, "DELETE_COMPLETE", ""),
                    ev(12, "EchoRole", role, "DELETE_COMPLETE", ""),
                    ev(
                        13,
                        "EchoFunctionLogGroup",
                        "AWS::Logs::LogGroup",
                        "DELETE_SKIPPED",
                        "",
                    ),
                    ev(14, "app", stack, "ROLLBACK_COMPLETE", ""),
                ],
                "ROLLBACK_COMPLETE",
            ),
        ];
        let mut so_far = Vec::new();
        for (n, (events, status)) in steps.into_iter().enumerate() {
            so_far.extend(events);
            let newest_first: Vec<&Value> = so_far.iter().rev().collect();
            std::fs::write(
                dir.join(format!("events-{n}.json")),
                json!({ "StackEvents": newest_first }).to_string(),
            )
            .unwrap();
            std::fs::write(
                dir.join(format!("stacks-{n}.json")),
                json!({ "Stacks": [{ "StackStatus": status }] }).to_string(),
            )
            .unwrap();
        }
        std::fs::write(dir.join("step"), "0").unwrap();
        let cli = dir.join("aws");
        std::fs::write(
            &cli,
            r#"#!/bin/sh
d="$(dirname "$0")"
n=$(cat "$d/step")
case "$*" in
*describe-stack-events*)
    cat "$d/events-$n.json"
    if [ -f "$d/events-$((n + 1)).json" ]; then
        echo $((n + 1)) > "$d/step.new" && mv "$d/step.new" "$d/step"
    fi ;;
*describe-stacks*) cat "$d/stacks-$n.json" ;;
*) echo "unexpected call: $*" >&2; exit 2 ;;
esac
"#,
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
        cli
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
