//! Change sets: create one, wait for CloudFormation to work out the changes, read them, then
//! execute or discard it. Always addressed by ARN: names are only unique per stack.

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::aws::Aws;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Create,
    Update,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Create => "CREATE",
            Kind::Update => "UPDATE",
        }
    }
}

/// What to propose.
pub struct Request<'a> {
    pub stack_name: &'a str,
    pub kind: Kind,
    pub template_text: &'a str,
    /// Where the template was uploaded, for one too big to send inline.
    pub template_url: Option<&'a str>,
    pub parameters: &'a [(String, String)],
    pub capabilities: &'a [&'static str],
}

/// One resource's planned change, as CloudFormation describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    /// `Add`, `Modify`, `Remove`, `Import`, `Dynamic`.
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// `True`, `False`, `Conditional` for modifications.
    pub replacement: Option<String>,
    /// The properties or attributes CloudFormation says it changes.
    pub targets: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ChangeSet {
    pub id: String,
    pub stack_id: String,
    pub kind: Kind,
    pub changes: Vec<ResourceChange>,
}

pub enum Created {
    Ready(ChangeSet),
    /// CloudFormation found nothing to change (the change set was deleted).
    NoChanges,
}

/// CloudFormation refuses a change set that changes nothing with one of these reasons
/// (moto uses the first). Only these mean "no changes"; any other failure is an error.
const NO_CHANGE_REASONS: &[&str] = &[
    "The submitted information didn't contain changes",
    "No updates are to be performed",
];

pub fn is_no_change_reason(reason: &str) -> bool {
    NO_CHANGE_REASONS.iter().any(|r| reason.contains(r))
}

/// A name CloudFormation accepts (`[a-zA-Z][-a-zA-Z0-9]*`), unique enough per stack.
fn fresh_name() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("wsecho-{millis}-{}", std::process::id())
}

/// CloudFormation's limit for an inline template body; bigger ones go through S3.
pub const MAX_TEMPLATE_BODY: usize = 51_200;

pub fn create(aws: &Aws, req: &Request, timeout: Duration) -> Result<Created> {
    let template = match req.template_url {
        Some(url) => ["--template-url", url],
        None if req.template_text.len() > MAX_TEMPLATE_BODY => bail!(
            "the template of {} is {} bytes, over CloudFormation's {MAX_TEMPLATE_BODY}-byte limit \
             for an inline template, and there is no assets bucket to send it through",
            req.stack_name,
            req.template_text.len()
        ),
        None => ["--template-body", req.template_text],
    };
    let name = fresh_name();
    let mut args: Vec<String> = vec![
        "--stack-name".into(),
        req.stack_name.into(),
        "--change-set-name".into(),
        name,
        "--change-set-type".into(),
        req.kind.as_str().into(),
        template[0].into(),
        template[1].into(),
        "--description".into(),
        "cargo xtask deploy".into(),
    ];
    if !req.parameters.is_empty() {
        let params: Vec<Value> = req
            .parameters
            .iter()
            .map(|(k, v)| json!({"ParameterKey": k, "ParameterValue": v}))
            .collect();
        args.push("--parameters".into());
        args.push(Value::Array(params).to_string());
    }
    if !req.capabilities.is_empty() {
        args.push("--capabilities".into());
        args.extend(req.capabilities.iter().map(|c| c.to_string()));
    }
    let created = match aws.call("cloudformation", "create-change-set", &args) {
        Ok(created) => created,
        // Some emulators (moto, given parameters) refuse the change set itself instead of
        // failing it: the same answer, and there is nothing to delete.
        Err(e)
            if req.kind == Kind::Update
                && e.code() == Some("ValidationError")
                && is_no_change_reason(e.message()) =>
        {
            return Ok(Created::NoChanges);
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot propose changes to stack {}", req.stack_name));
        }
    };
    let text = |k: &str| created.get(k).and_then(Value::as_str).map(str::to_owned);
    let id = text("Id").context("create-change-set gave no Id")?;
    let stack_id = text("StackId").context("create-change-set gave no StackId")?;
    let change_set = ChangeSet {
        id,
        stack_id,
        kind: req.kind,
        changes: Vec::new(),
    };

    let start = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let v = aws.call(
            "cloudformation",
            "describe-change-set",
            &["--change-set-name", &change_set.id],
        )?;
        let status = v.get("Status").and_then(Value::as_str).unwrap_or("");
        let reason = v
            .get("StatusReason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        match status {
            "CREATE_COMPLETE" => {
                let changes = read_changes(aws, &change_set.id, v)?;
                return Ok(Created::Ready(ChangeSet {
                    changes,
                    ..change_set
                }));
            }
            "FAILED" if is_no_change_reason(&reason) && req.kind == Kind::Update => {
                delete(aws, &change_set.id)?;
                return Ok(Created::NoChanges);
            }
            "FAILED" => {
                discard(aws, &change_set);
                bail!(
                    "CloudFormation rejected the changes to stack {}: {reason}",
                    req.stack_name
                );
            }
            _ => {}
        }
        if start.elapsed() > timeout {
            discard(aws, &change_set);
            bail!(
                "the change set for {} was still {status} after {} s: gave up (it was deleted)",
                req.stack_name,
                timeout.as_secs()
            );
        }
        thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// All pages of a change set's resource changes.
fn read_changes(aws: &Aws, id: &str, first: Value) -> Result<Vec<ResourceChange>> {
    let mut changes = Vec::new();
    let mut page = first;
    loop {
        for c in page
            .get("Changes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(rc) = c.get("ResourceChange") else {
                continue;
            };
            let s = |k: &str| rc.get(k).and_then(Value::as_str).map(str::to_owned);
            let mut targets: Vec<String> = rc
                .get("Details")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|d| {
                    let t = d.get("Target")?;
                    t.get("Name")
                        .or_else(|| t.get("Attribute"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect();
            targets.sort();
            targets.dedup();
            changes.push(ResourceChange {
                action: s("Action").unwrap_or_default(),
                logical_id: s("LogicalResourceId").unwrap_or_default(),
                resource_type: s("ResourceType").unwrap_or_default(),
                replacement: s("Replacement"),
                targets,
            });
        }
        let Some(token) = page
            .get("NextToken")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            break;
        };
        page = aws.call(
            "cloudformation",
            "describe-change-set",
            &["--change-set-name", id, "--next-token", &token],
        )?;
    }
    Ok(changes)
}

pub fn delete(aws: &Aws, id: &str) -> Result<()> {
    aws.call(
        "cloudformation",
        "delete-change-set",
        &["--change-set-name", id],
    )?;
    Ok(())
}

/// Throws a change set away; for a CREATE change set also the empty stack it made, so
/// nothing is left behind. Best effort: this runs on the way out of another error.
pub fn discard(aws: &Aws, change_set: &ChangeSet) {
    if let Err(err) = delete(aws, &change_set.id) {
        eprintln!(
            "warning: could not delete change set {}: {err:#}",
            change_set.id
        );
    }
    if change_set.kind == Kind::Create
        && let Err(err) = aws.call(
            "cloudformation",
            "delete-stack",
            &["--stack-name", &change_set.stack_id],
        )
    {
        eprintln!(
            "warning: could not delete the empty stack {}: {err}",
            change_set.stack_id
        );
    }
}

pub fn execute(aws: &Aws, change_set: &ChangeSet) -> Result<()> {
    aws.call(
        "cloudformation",
        "execute-change-set",
        &["--change-set-name", &change_set.id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_known_reasons_mean_no_changes() {
        assert!(is_no_change_reason(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(is_no_change_reason("No updates are to be performed."));
        assert!(!is_no_change_reason(
            "Template error: instance of Fn::GetAtt references undefined resource X"
        ));
    }

    #[test]
    fn change_set_names_are_valid() {
        let name = fresh_name();
        assert!(name.starts_with(|c: char| c.is_ascii_alphabetic()));
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert!(name.len() <= 128);
    }
}
