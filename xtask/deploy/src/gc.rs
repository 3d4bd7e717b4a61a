//! `gc`: deletes the assets no stack needs any more from the toolkit's bucket.
//!
//! Every deploy of changed code uploads new content-addressed zips and leaves the old ones, so
//! the bucket only grows. An object is deleted only when all of these hold:
//! - it is one of ours: a function zip (`<sha256>.zip`) or an uploaded template
//!   (`templates/<sha256>.json`); anything else in the bucket is left alone;
//! - no stack in the region names it in its template (every stack, not only wsecho's stages:
//!   a stage file deleted while its stack lives must not lose its code);
//! - it is older than `keep_days`: a deploy uploads before its change set exists, and a
//!   failed update rolls back to the previous template's zips.
//!
//! The bucket is versioned, so a deleted object stays recoverable as a noncurrent version
//! until the bucket's lifecycle rule expires it (30 days).

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::aws::{Aws, AwsError};
use assembly::human_size;

use crate::{AwsOptions, Error, Result, confirm, destroy, login, toolkit};

/// How many `get-template` calls run at once (each is an AWS CLI process).
const PARALLEL: usize = 4;

#[derive(Debug, Clone)]
pub struct GcOptions {
    pub aws: AwsOptions,
    /// Delete without asking (required when stdin is not a terminal, unless `dry_run`).
    pub yes: bool,
    /// Keep unreferenced objects younger than this many days.
    pub keep_days: u64,
    /// Only say what would be deleted.
    pub dry_run: bool,
}

/// What a collection found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// `None` when the region has no toolkit stack.
    pub bucket: Option<String>,
    pub stacks_scanned: usize,
    /// Our objects some stack names.
    pub referenced: Vec<String>,
    /// Our unreferenced objects kept for their age.
    pub recent: Vec<String>,
    /// Our unreferenced, old objects: deleted, unless a dry run or declined.
    pub unreferenced: Vec<String>,
    pub deleted: bool,
}

/// One object of the bucket listing.
#[derive(Debug, Clone)]
struct Object {
    key: String,
    last_modified: String,
    size: u64,
}

pub fn gc(region: &str, opts: &GcOptions) -> Result<GcReport> {
    let aws = Aws::new(&opts.aws, region);
    login(&aws, toolkit::TOOLKIT_STACK)?;
    let Some(bucket) = toolkit::assets_bucket(&aws)? else {
        eprintln!(
            "[gc] no stack {} in {}: no assets bucket, nothing to collect",
            toolkit::TOOLKIT_STACK,
            aws.target()
        );
        return Ok(GcReport::default());
    };
    let objects: Vec<Object> = list_objects(&aws, &bucket)?
        .into_iter()
        .filter(|o| is_ours(&o.key))
        .collect();
    let stacks = stack_names(&aws)?;
    let referenced = referenced_keys(&aws, &stacks)?;
    let cutoff = cutoff(SystemTime::now(), opts.keep_days);

    let mut report = GcReport {
        bucket: Some(bucket.clone()),
        stacks_scanned: stacks.len(),
        ..GcReport::default()
    };
    let mut size = 0;
    for object in &objects {
        if referenced.contains(&object.key) {
            report.referenced.push(object.key.clone());
        } else if !older_than(&object.last_modified, &cutoff) {
            report.recent.push(object.key.clone());
        } else {
            size += object.size;
            report.unreferenced.push(object.key.clone());
        }
    }
    eprintln!(
        "[gc] bucket {bucket}: {} assets; {} named by the {} stack(s) in {}, {} unreferenced \
         but younger than {} day(s) (kept), {} unreferenced ({})",
        objects.len(),
        report.referenced.len(),
        stacks.len(),
        aws.target(),
        report.recent.len(),
        opts.keep_days,
        report.unreferenced.len(),
        human_size(size)
    );
    if report.unreferenced.is_empty() {
        eprintln!("[gc] nothing to delete");
        return Ok(report);
    }
    for key in &report.unreferenced {
        eprintln!("  - {key}");
    }
    if opts.dry_run {
        eprintln!("[gc] dry run: nothing deleted");
        return Ok(report);
    }
    if !confirm::confirm(
        &format!(
            "Delete these {} asset(s) from {bucket}?",
            report.unreferenced.len()
        ),
        &format!("delete {} unreferenced asset(s)", report.unreferenced.len()),
        "see them with `cargo xtask gc --dry-run`",
        opts.yes,
    )? {
        eprintln!("[gc] nothing deleted");
        return Ok(report);
    }
    let objects: Vec<Value> = report
        .unreferenced
        .iter()
        .map(|key| serde_json::json!({ "Key": key }))
        .collect();
    destroy::delete_objects(&aws, &bucket, &objects).map_err(|source| Error::AwsCall {
        doing: format!("cannot delete unreferenced assets from {bucket}"),
        source,
    })?;
    report.deleted = true;
    eprintln!(
        "[gc] deleted {} asset(s) ({}); the bucket keeps them as noncurrent versions until its \
         lifecycle rule expires them",
        report.unreferenced.len(),
        human_size(size)
    );
    Ok(report)
}

fn list_objects(aws: &Aws, bucket: &str) -> Result<Vec<Object>> {
    let listed = aws
        .call(
            "s3api",
            "list-objects-v2",
            &[
                "--bucket",
                bucket,
                "--query",
                "Contents[].{Key: Key, LastModified: LastModified, Size: Size}",
            ],
        )
        .map_err(|source| Error::AwsCall {
            doing: format!("cannot list the assets bucket {bucket}"),
            source,
        })?;
    Ok(listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| {
            Some(Object {
                key: o.get("Key")?.as_str()?.to_owned(),
                last_modified: o
                    .get("LastModified")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                size: o.get("Size").and_then(Value::as_u64).unwrap_or(0),
            })
        })
        .collect())
}

/// Every stack in the region that has a template: not deleted, and not one whose first
/// change set was never executed (`REVIEW_IN_PROGRESS`, e.g. a declined first deploy).
fn stack_names(aws: &Aws) -> Result<Vec<String>> {
    let listed = aws
        .call(
            "cloudformation",
            "describe-stacks",
            &["--query", "Stacks[].[StackName, StackStatus]"],
        )
        .map_err(|source| Error::AwsCall {
            doing: "cannot list the stacks".to_owned(),
            source,
        })?;
    Ok(listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| {
            let name = pair.get(0)?.as_str()?;
            let status = pair.get(1).and_then(Value::as_str).unwrap_or_default();
            (status != "REVIEW_IN_PROGRESS").then(|| name.to_owned())
        })
        .collect())
}

/// The asset keys the stacks' templates name.
fn referenced_keys(aws: &Aws, stacks: &[String]) -> Result<BTreeSet<String>> {
    let mut keys = BTreeSet::new();
    for batch in stacks.chunks(PARALLEL) {
        let bodies: Vec<Result<String, AwsError>> = thread::scope(|s| {
            let calls: Vec<_> = batch
                .iter()
                .map(|name| s.spawn(move || template_text(aws, name)))
                .collect();
            calls
                .into_iter()
                .map(|c| c.join().expect("a get-template thread panicked"))
                .collect()
        });
        for (stack, body) in batch.iter().zip(bodies) {
            let body = body.map_err(|source| Error::AwsCall {
                doing: format!("cannot read the template of stack {stack}; nothing deleted"),
                source,
            })?;
            keys.extend(asset_keys_in(&body));
        }
    }
    Ok(keys)
}

/// A stack's template as text. A stack with none yet (`REVIEW_IN_PROGRESS`) or gone since the
/// listing names nothing; any other failure stops the collection: deleting on a partial view
/// could take a live stack's code.
fn template_text(aws: &Aws, stack: &str) -> Result<String, AwsError> {
    match aws.call(
        "cloudformation",
        "get-template",
        &["--stack-name", stack, "--query", "TemplateBody"],
    ) {
        // JSON templates come back parsed, YAML ones as a string: keys show in both.
        Ok(Value::String(text)) => Ok(text),
        Ok(body) => Ok(body.to_string()),
        Err(e) if e.is_missing_stack() => Ok(String::new()),
        Err(e) => Err(e),
    }
}

/// Whether `gc` may manage the key: the shapes deploy writes.
fn is_ours(key: &str) -> bool {
    let hash = key
        .strip_suffix(".zip")
        .or_else(|| key.strip_prefix("templates/")?.strip_suffix(".json"));
    hash.is_some_and(is_sha256_hex)
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every `<sha256>.zip` and `templates/<sha256>.json` in a template's text.
fn asset_keys_in(text: &str) -> BTreeSet<String> {
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

/// `YYYY-MM-DDTHH:MM:SS` (UTC) of `keep_days` before `now`.
fn cutoff(now: SystemTime, keep_days: u64) -> String {
    let age = Duration::from_secs(keep_days.saturating_mul(86_400));
    let then = now.checked_sub(age).unwrap_or(UNIX_EPOCH).max(UNIX_EPOCH);
    // `2026-11-17T18:20:00Z`: the seconds are what S3's times are compared at.
    humantime::format_rfc3339_seconds(then).to_string()[..19].to_owned()
}

/// S3's `LastModified` (ISO 8601, UTC, as the AWS CLI prints it) before `cutoff`. An
/// unreadable time counts as recent: kept.
fn older_than(last_modified: &str, cutoff: &str) -> bool {
    let Some(stamp) = last_modified.get(..19) else {
        return false;
    };
    let shaped = stamp.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b'T',
        13 | 16 => b == b':',
        _ => b.is_ascii_digit(),
    });
    shaped && stamp < cutoff
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
    fn ages_compare_in_utc_and_unreadable_times_are_kept() {
        // 2026-11-24T18:20:00.012Z, minus 7 days.
        let now = UNIX_EPOCH + Duration::from_millis(1_795_544_400_012);
        let cutoff = cutoff(now, 7);
        assert_eq!(cutoff, "2026-11-17T18:20:00");
        assert!(older_than("2026-11-17T18:19:59.000Z", &cutoff));
        assert!(older_than("2026-01-01T00:00:00+00:00", &cutoff));
        assert!(!older_than("2026-11-17T18:20:00+00:00", &cutoff));
        assert!(!older_than("2026-11-24T10:00:00.000Z", &cutoff));
        assert!(!older_than("", &cutoff));
        assert!(!older_than("yesterday, around noon", &cutoff));
    }
}
