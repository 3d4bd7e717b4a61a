//! Which assets the stacks of a region still name: in the template each stack runs, and in
//! the templates of its change sets (a deploy waiting at its prompt, or one about to be
//! executed, needs its zips as much as a running stack does). Every stack counts, not only
//! wsecho's stages: a stage file deleted while its stack lives must not lose that stack's
//! code. Shared by `gc` and `destroy --with-assets`, which both delete from the bucket.

use std::collections::{BTreeMap, BTreeSet};
use std::thread;

use serde_json::Value;

use crate::aws::{Aws, AwsError};
use crate::{Error, Result};

/// How many stacks are read at once (each read is a few AWS CLI processes).
const PARALLEL: usize = 4;

/// A stack as `describe-stacks` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub id: String,
    pub status: String,
    /// When it last changed (creation time for a stack never updated): two listings that agree
    /// on this saw the same templates.
    pub changed: String,
}

/// Every stack of the region that is not deleted.
pub fn stacks(aws: &Aws) -> Result<Vec<Listed>> {
    let listed = aws
        .call(
            "cloudformation",
            "describe-stacks",
            &[
                "--query",
                "Stacks[].{Name: StackName, Id: StackId, Status: StackStatus, \
                 Created: CreationTime, Updated: LastUpdatedTime}",
            ],
        )
        .map_err(|source| Error::AwsCall {
            doing: "cannot list the stacks".to_owned(),
            source: Box::new(source),
        })?;
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some(Listed {
                name: text(s, "Name")?,
                id: text(s, "Id").unwrap_or_default(),
                status: text(s, "Status").unwrap_or_default(),
                changed: text(s, "Updated")
                    .or_else(|| text(s, "Created"))
                    .unwrap_or_default(),
            })
        })
        .collect())
}

/// Whether a stack is settled: not changing, not failed. One that is changing or failed may
/// still need old code (a rollback, `continue-update-rollback`); `REVIEW_IN_PROGRESS` counts as
/// changing (its change sets may be executed at any moment).
pub fn settled(status: &str) -> bool {
    !(status.ends_with("_IN_PROGRESS") || status.ends_with("_FAILED"))
}

/// The asset keys each stack names (by stack name), in its template and its change sets'.
/// Any failure to read stops the caller: deleting on a partial view could take a live
/// stack's code.
pub fn named_by(aws: &Aws, stacks: &[Listed]) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut named = BTreeMap::new();
    for batch in stacks.chunks(PARALLEL) {
        let read: Vec<Result<BTreeSet<String>>> = thread::scope(|s| {
            let calls: Vec<_> = batch
                .iter()
                .map(|stack| s.spawn(move || keys_of(aws, stack)))
                .collect();
            calls
                .into_iter()
                .map(|c| c.join().expect("reading a stack does not panic"))
                .collect()
        });
        for (stack, keys) in batch.iter().zip(read) {
            named.insert(stack.name.clone(), keys?);
        }
    }
    Ok(named)
}

fn keys_of(aws: &Aws, stack: &Listed) -> Result<BTreeSet<String>> {
    let doing = |what: &str| {
        format!(
            "cannot read {what} of stack {}; nothing deleted",
            stack.name
        )
    };
    let mut keys = BTreeSet::new();
    match template_text(aws, &stack.id, None) {
        Ok(text) => keys.extend(asset_keys_in(&text)),
        // A stack whose first change set never ran has no template of its own (real
        // CloudFormation fails the call); its change sets, read below, hold what it names.
        Err(_) if stack.status == "REVIEW_IN_PROGRESS" => {}
        Err(source) => {
            return Err(Error::AwsCall {
                doing: doing("the template"),
                source: Box::new(source),
            });
        }
    }
    let sets = aws
        .call(
            "cloudformation",
            "list-change-sets",
            &["--stack-name", &stack.id],
        )
        .map_err(|source| Error::AwsCall {
            doing: doing("the change sets"),
            source: Box::new(source),
        })?;
    for set in sets
        .get("Summaries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // moto lists every stack's change sets whatever the stack asked about.
        if set.get("StackId").and_then(Value::as_str) != Some(stack.id.as_str()) {
            continue;
        }
        // One that failed, or ran already (its template is the stack's), or can no longer
        // run, names nothing more.
        let status = |k: &str| set.get(k).and_then(Value::as_str).unwrap_or("");
        if status("Status") == "FAILED"
            || matches!(
                status("ExecutionStatus"),
                "EXECUTE_COMPLETE" | "EXECUTE_FAILED" | "OBSOLETE"
            )
        {
            continue;
        }
        let Some(id) = set.get("ChangeSetId").and_then(Value::as_str) else {
            continue;
        };
        let text = template_text(aws, &stack.id, Some(id)).map_err(|source| Error::AwsCall {
            doing: doing(&format!("change set {id}")),
            source: Box::new(source),
        })?;
        keys.extend(asset_keys_in(&text));
    }
    Ok(keys)
}

/// A stack's (or one of its change sets') template as text. A stack gone since the listing
/// names nothing.
fn template_text(aws: &Aws, stack: &str, change_set: Option<&str>) -> Result<String, AwsError> {
    let mut args = vec!["--stack-name", stack, "--query", "TemplateBody"];
    if let Some(id) = change_set {
        args.extend(["--change-set-name", id]);
    }
    match aws.call("cloudformation", "get-template", &args) {
        // JSON templates come back parsed, YAML ones as a string: keys show in both.
        Ok(Value::String(text)) => Ok(text),
        Ok(body) => Ok(body.to_string()),
        Err(e) if e.is_missing_stack() => Ok(String::new()),
        Err(e) => Err(e),
    }
}

/// Whether a key is one deploy writes (and so gc may manage): `<sha256>.zip` or
/// `templates/<sha256>.json`; anything else in the bucket is left alone.
pub fn is_ours(key: &str) -> bool {
    let hash = key
        .strip_suffix(".zip")
        .or_else(|| key.strip_prefix("templates/")?.strip_suffix(".json"));
    hash.is_some_and(is_sha256_hex)
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every `<sha256>.zip` and `templates/<sha256>.json` in a template's text.
pub fn asset_keys_in(text: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (suffix, prefix) in [(".zip", ""), (".json", "templates/")] {
        for (end, _) in text.match_indices(suffix) {
            let Some(start) = end.checked_sub(64 + prefix.len()) else {
                continue;
            };
            let Some(candidate) = text.get(start..end + suffix.len()) else {
                continue;
            };
            if is_ours(candidate) {
                keys.insert(candidate.to_owned());
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "097c026c579cfbf681c54488da613bb1c91632347e3641a14d0489b6490ec604";

    #[test]
    fn only_content_addressed_zips_and_templates_are_ours() {
        assert!(is_ours(&format!("{HASH}.zip")));
        assert!(is_ours(&format!("templates/{HASH}.json")));
        assert!(!is_ours("notes.txt"));
        assert!(!is_ours("gc/unreferenced.json"));
        assert!(!is_ours(&format!("backup/{HASH}.zip")));
        assert!(!is_ours(&format!("{}.zip", &HASH[1..])));
        assert!(!is_ours(&format!("{HASH}.json")));
    }

    #[test]
    fn keys_are_found_anywhere_in_a_template() {
        let other = HASH.replace('0', "f");
        let template = format!(
            r#"{{"Resources":{{"F":{{"Properties":{{"Code":{{"S3Key":"{HASH}.zip"}}}}}},
            "G":{{"Properties":{{"Code":{{"S3Key":{{"Fn::Sub":"{other}.zip"}}}}}}}}}},
            "Metadata":{{"x":"templates/{HASH}.json","y":"short.zip","z":"{HASH}"}}}}"#
        );
        let keys: Vec<String> = asset_keys_in(&template).into_iter().collect();
        assert_eq!(
            keys,
            [
                format!("{HASH}.zip"),
                format!("{other}.zip"),
                format!("templates/{HASH}.json")
            ]
        );
        assert!(asset_keys_in("").is_empty());
    }

    #[test]
    fn changing_and_failed_stacks_are_unsettled() {
        for status in [
            "CREATE_COMPLETE",
            "UPDATE_COMPLETE",
            "UPDATE_ROLLBACK_COMPLETE",
            "ROLLBACK_COMPLETE",
            "IMPORT_COMPLETE",
        ] {
            assert!(settled(status), "{status}");
        }
        for status in [
            "UPDATE_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "REVIEW_IN_PROGRESS",
            "UPDATE_ROLLBACK_FAILED",
            "ROLLBACK_FAILED",
            "DELETE_FAILED",
            "UPDATE_FAILED",
        ] {
            assert!(!settled(status), "{status}");
        }
    }
}
