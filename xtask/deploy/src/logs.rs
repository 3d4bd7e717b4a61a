//! `logs`: the tutorial's last step ("check CloudWatch for the API and the Lambda functions")
//! as one command. Every log group of the stack (each function's, the stage's access and
//! execution logs) read through the AWS CLI (`logs filter-log-events`), interleaved by time,
//! each line naming its source; our functions' JSON lines rendered as `LEVEL message
//! key=value`.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::aws::Aws;
use crate::{AwsOptions, Error, Result, aws_for, login, stack};
use assembly::StackInfo;

#[derive(Debug, Clone)]
pub struct LogsOptions {
    pub aws: AwsOptions,
    /// Only this function's lines: its logical ID (`EchoFunction`), its name
    /// (`wsecho-dev-echo`) or the end of its name (`echo`).
    pub function: Option<String>,
    /// Lines from this long ago on.
    pub since: Duration,
    /// Keep printing new lines as they come (until interrupted).
    pub follow: bool,
}

/// How often `--follow` asks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// One of the stack's log groups and what to call it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    /// The function's name, or the log group's logical ID for the stage's logs.
    label: String,
    group: String,
}

/// One line of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    timestamp: i64,
    id: String,
    label: String,
    message: String,
}

/// Prints the stack's log lines to `out`; returns how many it printed. With `follow`, keeps
/// going until the process is interrupted.
pub fn logs(stack_info: &StackInfo, opts: &LogsOptions, out: &mut dyn Write) -> Result<usize> {
    let stack_name = stack_info.stack_name.as_str();
    let aws = aws_for(&opts.aws, stack_info)?;
    login(&aws, stack_name, Some(stack_info))?;
    if stack::describe(&aws, stack_name)?.is_none() {
        return Err(Error::NoLogs(format!(
            "stack {stack_name} does not exist in {}: nothing to show logs of (deploy it with \
             `cargo xtask deploy`)",
            aws.target()
        )));
    }
    let resources = resources(&aws, stack_name)?;
    let sources = sources(&resources, opts.function.as_deref()).map_err(Error::NoLogs)?;
    let now_ms = |at: SystemTime| at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()) as i64;
    let mut start = now_ms(
        SystemTime::now()
            .checked_sub(opts.since)
            .unwrap_or(UNIX_EPOCH),
    );
    let mut seen: HashSet<String> = HashSet::new();
    let mut printed = 0;
    loop {
        let lines = read(&aws, &sources, start)?;
        for line in lines.iter().filter(|l| !seen.contains(&l.id)) {
            writeln!(out, "{}", render(line)).map_err(Error::WriteLogs)?;
            printed += 1;
        }
        if !opts.follow {
            return Ok(printed);
        }
        // The next round starts at the newest line: lines of the same millisecond are
        // told apart by their event IDs.
        if let Some(last) = lines.iter().map(|l| l.timestamp).max() {
            start = last;
            seen = lines
                .iter()
                .filter(|l| l.timestamp == last)
                .map(|l| l.id.clone())
                .collect();
        }
        out.flush().map_err(Error::WriteLogs)?;
        thread::sleep(FOLLOW_EVERY);
    }
}

/// The stack's resources: (logical ID, type, physical ID).
fn resources(aws: &Aws, stack_name: &str) -> Result<Vec<(String, String, String)>> {
    let listed = aws.call(
        "cloudformation",
        "list-stack-resources",
        &["--stack-name", stack_name],
    )?;
    Ok(listed
        .get("StackResourceSummaries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let field = |k: &str| r.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
            Some((
                field("LogicalResourceId")?.to_owned(),
                field("ResourceType")?.to_owned(),
                field("PhysicalResourceId")?.to_owned(),
            ))
        })
        .collect())
}

/// The log groups to read: a function's group is `<Function>LogGroup` (as infra names it)
/// and is labelled with the function's name; every other group by its logical ID. With
/// `function`, only that function's group, or an error listing the functions there are.
fn sources(
    resources: &[(String, String, String)],
    function: Option<&str>,
) -> std::result::Result<Vec<Source>, String> {
    let functions: BTreeMap<&str, &str> = resources
        .iter()
        .filter(|(_, ty, _)| ty == "AWS::Lambda::Function")
        .map(|(logical, _, physical)| (logical.as_str(), physical.as_str()))
        .collect();
    let mut sources = Vec::new();
    for (logical, ty, group) in resources {
        if ty != "AWS::Logs::LogGroup" {
            continue;
        }
        let owner = logical
            .strip_suffix("LogGroup")
            .and_then(|f| functions.get_key_value(f));
        if let Some(wanted) = function {
            let Some((f_logical, f_name)) = owner else {
                continue;
            };
            let matches = wanted == *f_logical
                || wanted == *f_name
                || f_name.ends_with(&format!("-{wanted}"));
            if !matches {
                continue;
            }
        }
        sources.push(Source {
            label: owner.map_or_else(|| logical.clone(), |(_, name)| (*name).to_owned()),
            group: group.clone(),
        });
    }
    if sources.is_empty() {
        return Err(match function {
            Some(wanted) => format!(
                "no function {wanted} in the stack: its functions are {}",
                functions.values().copied().collect::<Vec<_>>().join(", ")
            ),
            None => "the stack has no log groups".to_owned(),
        });
    }
    Ok(sources)
}

/// Every source's lines from `start` (milliseconds since the epoch), read in parallel and
/// sorted by time. A group that isn't there yet (API Gateway creates the execution log group
/// on its first request) has no lines.
fn read(aws: &Aws, sources: &[Source], start: i64) -> Result<Vec<Line>> {
    let start = start.to_string();
    let mut lines: Vec<Line> = thread::scope(|s| {
        let reads: Vec<_> = sources
            .iter()
            .map(|source| {
                let start = &start;
                s.spawn(move || {
                    match aws.call(
                        "logs",
                        "filter-log-events",
                        &[
                            "--log-group-name",
                            source.group.as_str(),
                            "--start-time",
                            start,
                        ],
                    ) {
                        Ok(v) => Ok(events(&v, &source.label)),
                        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(Vec::new()),
                        Err(source_err) => Err(Error::AwsCall {
                            doing: format!("cannot read the log group {}", source.group),
                            source: Box::new(source_err),
                        }),
                    }
                })
            })
            .collect();
        reads
            .into_iter()
            .map(|r| r.join().expect("reading logs does not panic"))
            .collect::<Result<Vec<Vec<Line>>>>()
    })?
    .into_iter()
    .flatten()
    .collect();
    lines.sort_by(|a, b| (a.timestamp, &a.label, &a.id).cmp(&(b.timestamp, &b.label, &b.id)));
    Ok(lines)
}

/// The events of one `filter-log-events` answer.
fn events(answer: &Value, label: &str) -> Vec<Line> {
    answer
        .get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some(Line {
                timestamp: e.get("timestamp")?.as_i64()?,
                id: e
                    .get("eventId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                label: label.to_owned(),
                message: e.get("message")?.as_str()?.to_owned(),
            })
        })
        .collect()
}

/// `2026-12-06T06:00:00.123Z wsecho-dev-echo INFO message key=value`.
fn render(line: &Line) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(line.timestamp.max(0) as u64);
    format!(
        "{} {} {}",
        humantime::format_rfc3339_millis(at),
        line.label,
        readable(line.message.trim_end())
    )
}

/// A JSON line of our functions as `LEVEL message key=value …` (its own timestamp dropped:
/// the event's is shown); anything else as it is.
fn readable(message: &str) -> String {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(message) else {
        return message.to_owned();
    };
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut parts = Vec::new();
    if let Some(level) = fields.get("level") {
        parts.push(text(level));
    }
    if let Some(message) = fields.get("message").or_else(|| fields.get("msg")) {
        parts.push(text(message));
    }
    for (key, value) in &fields {
        if !matches!(
            key.as_str(),
            "level" | "message" | "msg" | "timestamp" | "time"
        ) {
            parts.push(format!("{key}={}", text(value)));
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(logical: &str, ty: &str, physical: &str) -> (String, String, String) {
        (logical.into(), ty.into(), physical.into())
    }

    fn stack() -> Vec<(String, String, String)> {
        vec![
            resource("EchoFunction", "AWS::Lambda::Function", "wsecho-dev-echo"),
            resource(
                "EchoFunctionLogGroup",
                "AWS::Logs::LogGroup",
                "/aws/lambda/wsecho-dev-echo",
            ),
            resource(
                "ConnectFunction",
                "AWS::Lambda::Function",
                "wsecho-dev-connect",
            ),
            resource(
                "ConnectFunctionLogGroup",
                "AWS::Logs::LogGroup",
                "/aws/lambda/wsecho-dev-connect",
            ),
            resource(
                "WsEchoStageAccessLogs",
                "AWS::Logs::LogGroup",
                "/wsecho/dev/access",
            ),
            resource("WsEchoApi", "AWS::ApiGatewayV2::Api", "abc123"),
        ]
    }

    #[test]
    fn every_log_group_is_a_source_named_after_its_function_or_itself() {
        let labels: Vec<String> = sources(&stack(), None)
            .unwrap()
            .into_iter()
            .map(|s| s.label)
            .collect();
        assert_eq!(
            labels,
            [
                "wsecho-dev-echo",
                "wsecho-dev-connect",
                "WsEchoStageAccessLogs"
            ]
        );
    }

    #[test]
    fn a_function_is_found_by_logical_id_name_or_the_end_of_its_name() {
        for wanted in ["EchoFunction", "wsecho-dev-echo", "echo"] {
            let found = sources(&stack(), Some(wanted)).unwrap();
            assert_eq!(
                found,
                [Source {
                    label: "wsecho-dev-echo".into(),
                    group: "/aws/lambda/wsecho-dev-echo".into()
                }],
                "{wanted}"
            );
        }
        let err = sources(&stack(), Some("nope")).unwrap_err();
        assert_eq!(
            err,
            "no function nope in the stack: its functions are wsecho-dev-connect, wsecho-dev-echo"
        );
    }

    #[test]
    fn json_lines_read_as_level_message_and_fields() {
        assert_eq!(
            readable(
                r#"{"timestamp":"2026-12-06T06:00:00Z","level":"INFO","message":"connected","connection_id":"abc","count":2}"#
            ),
            "INFO connected connection_id=abc count=2"
        );
        assert_eq!(readable("START RequestId: 1"), "START RequestId: 1");
        assert_eq!(readable("[1, 2]"), "[1, 2]");
        let line = Line {
            timestamp: 1_000,
            id: "1".into(),
            label: "wsecho-dev-echo".into(),
            message: "{\"level\":\"WARN\",\"message\":\"slow\"}\n".into(),
        };
        assert_eq!(
            render(&line),
            "1970-01-01T00:00:01.000Z wsecho-dev-echo WARN slow"
        );
    }
}
