//! `gc`: deletes the assets no stack needs any more from the toolkit's bucket.
//!
//! Every deploy of changed code uploads new content-addressed zips and leaves the old ones, so
//! the bucket only grows. gc must never take a zip a rollback or a pending deploy needs, so:
//! - it refuses to run while any stack of the region is changing or failed (`*_IN_PROGRESS`,
//!   `*_FAILED`): an update in progress rolls back to the previous template's zips, and a
//!   failed one may need them to recover; the stacks are listed again just before deleting,
//!   and any change since the first look stops it too;
//! - an object is a candidate only if it is one of ours (`<sha256>.zip`,
//!   `templates/<sha256>.json`) and no stack names it, in its template or in one of its change
//!   sets' (see `references`);
//! - age counts from when gc first found the key unreferenced, not from its upload: content
//!   addressing means a zip uploaded a year ago may have stopped being used a minute ago. gc
//!   records that moment in the bucket (`gc/unreferenced.json`), clears it when the key is
//!   named again, and deletes once it is older than `keep_days`: run it regularly (nightly)
//!   and a key goes `keep_days` after it stopped being used.
//!
//! The bucket is versioned, so a deleted object stays recoverable as a noncurrent version
//! until the bucket's lifecycle rule expires it (30 days).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::aws::Aws;
use crate::references::{self, Listed};
use assembly::human_size;

use crate::{AwsOptions, Error, Result, confirm, destroy, login, toolkit};

/// Where gc keeps when it first found each key unreferenced (not a key `is_ours` accepts, so
/// gc never collects its own record).
const LEDGER_KEY: &str = "gc/unreferenced.json";

#[derive(Debug, Clone)]
pub struct GcOptions {
    pub aws: AwsOptions,
    /// Delete without asking (required when stdin is not a terminal, unless `dry_run`).
    pub yes: bool,
    /// Keep unreferenced objects until this many days after gc first found them unreferenced.
    pub keep_days: u64,
    /// Only say what would be deleted (and record nothing).
    pub dry_run: bool,
}

/// What a collection found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// `None` when the region has no toolkit stack.
    pub bucket: Option<String>,
    pub stacks_scanned: usize,
    /// Our objects some stack (or change set) names.
    pub referenced: Vec<String>,
    /// Our unreferenced objects kept: unreferenced for less than `keep_days`.
    pub recent: Vec<String>,
    /// Our objects unreferenced for `keep_days` or more: deleted, unless a dry run or declined.
    pub unreferenced: Vec<String>,
    pub deleted: bool,
}

/// One object of the bucket listing.
#[derive(Debug, Clone)]
struct Object {
    key: String,
    size: u64,
}

/// What becomes of one of our objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Referenced,
    /// Unreferenced since then, for less than `keep_days`.
    Recent(SystemTime),
    /// Unreferenced since then, for `keep_days` or more.
    Collect(SystemTime),
}

/// The decision for one object: named by a stack, or unreferenced since the ledger says (or
/// since now, when gc finds it unreferenced for the first time).
fn verdict(
    referenced: bool,
    since: Option<SystemTime>,
    now: SystemTime,
    keep_days: u64,
) -> Verdict {
    if referenced {
        return Verdict::Referenced;
    }
    let since = since.filter(|s| *s <= now).unwrap_or(now);
    let keep = Duration::from_secs(keep_days.saturating_mul(86_400));
    let age = now.duration_since(since).unwrap_or_default();
    if age >= keep {
        Verdict::Collect(since)
    } else {
        Verdict::Recent(since)
    }
}

pub fn gc(region: &str, opts: &GcOptions) -> Result<GcReport> {
    let aws = Aws::new(&opts.aws, region)?;
    login(&aws, toolkit::TOOLKIT_STACK, None)?;
    let Some(bucket) = toolkit::assets_bucket(&aws)? else {
        eprintln!(
            "[gc] no stack {} in {}: no assets bucket, nothing to collect",
            toolkit::TOOLKIT_STACK,
            aws.target()
        );
        return Ok(GcReport::default());
    };
    let stacks = references::stacks(&aws)?;
    refuse_unsettled(&aws, &stacks)?;
    let objects: Vec<Object> = list_objects(&aws, &bucket)?
        .into_iter()
        .filter(|o| references::is_ours(&o.key))
        .collect();
    let referenced: BTreeSet<String> = references::named_by(&aws, &stacks)?
        .into_values()
        .flatten()
        .collect();
    let ledger = read_ledger(&aws, &bucket)?;
    let now = SystemTime::now();

    let mut report = GcReport {
        bucket: Some(bucket.clone()),
        stacks_scanned: stacks.len(),
        ..GcReport::default()
    };
    let mut marks: BTreeMap<String, SystemTime> = BTreeMap::new();
    let mut size = 0;
    for object in &objects {
        let since = ledger.get(&object.key).copied();
        match verdict(referenced.contains(&object.key), since, now, opts.keep_days) {
            Verdict::Referenced => report.referenced.push(object.key.clone()),
            Verdict::Recent(since) => {
                marks.insert(object.key.clone(), since);
                report.recent.push(object.key.clone());
            }
            Verdict::Collect(since) => {
                marks.insert(object.key.clone(), since);
                size += object.size;
                report.unreferenced.push(object.key.clone());
            }
        }
    }
    eprintln!(
        "[gc] bucket {bucket}: {} assets; {} named by the {} stack(s) in {} or their change \
         sets, {} unreferenced for less than {} day(s) (kept), {} unreferenced for longer ({})",
        objects.len(),
        report.referenced.len(),
        stacks.len(),
        aws.target(),
        report.recent.len(),
        opts.keep_days,
        report.unreferenced.len(),
        human_size(size)
    );
    if opts.dry_run {
        for key in &report.unreferenced {
            eprintln!("  - {key}");
        }
        eprintln!("[gc] dry run: nothing deleted, nothing recorded");
        return Ok(report);
    }
    if report.unreferenced.is_empty() {
        write_ledger(&aws, &bucket, &ledger, &marks)?;
        eprintln!("[gc] nothing to delete");
        return Ok(report);
    }
    for key in &report.unreferenced {
        eprintln!("  - {key}");
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
        write_ledger(&aws, &bucket, &ledger, &marks)?;
        eprintln!("[gc] nothing deleted");
        return Ok(report);
    }
    // The stacks may have moved while we read their templates: an update started since
    // would roll back to what we are about to delete.
    let again = references::stacks(&aws)?;
    refuse_unsettled(&aws, &again)?;
    if !same_stacks(&stacks, &again) {
        return Err(Error::StacksUnsettled {
            stacks: "stacks changed while gc read them, so what they name".to_owned(),
            target: aws.target(),
        });
    }
    let objects: Vec<Value> = report
        .unreferenced
        .iter()
        .map(|key| json!({ "Key": key }))
        .collect();
    let deleted = destroy::delete_objects(&aws, &bucket, &objects);
    // Whatever was deleted is no longer marked; what failed stays marked.
    let mut remaining = marks.clone();
    if deleted.is_ok() {
        for key in &report.unreferenced {
            remaining.remove(key);
        }
    }
    write_ledger(&aws, &bucket, &ledger, &remaining)?;
    deleted?;
    report.deleted = true;
    eprintln!(
        "[gc] deleted {} asset(s) ({}); the bucket keeps them as noncurrent versions until its \
         lifecycle rule expires them",
        report.unreferenced.len(),
        human_size(size)
    );
    Ok(report)
}

/// Refuses while any stack is changing or failed, naming them.
fn refuse_unsettled(aws: &Aws, stacks: &[Listed]) -> Result<()> {
    let unsettled: Vec<String> = stacks
        .iter()
        .filter(|s| !references::settled(&s.status))
        .map(|s| format!("{} ({})", s.name, s.status))
        .collect();
    if unsettled.is_empty() {
        return Ok(());
    }
    Err(Error::StacksUnsettled {
        stacks: format!("stack(s) {}", unsettled.join(", ")),
        target: aws.target(),
    })
}

/// The same stacks, in the same state, changed at the same times.
fn same_stacks(before: &[Listed], after: &[Listed]) -> bool {
    let key = |s: &[Listed]| {
        let mut v: Vec<Listed> = s.to_vec();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    };
    key(before) == key(after)
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
                "Contents[].{Key: Key, Size: Size}",
            ],
        )
        .map_err(|source| Error::AwsCall {
            doing: format!("cannot list the assets bucket {bucket}"),
            source: Box::new(source),
        })?;
    Ok(listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| {
            Some(Object {
                key: o.get("Key")?.as_str()?.to_owned(),
                size: o.get("Size").and_then(Value::as_u64).unwrap_or(0),
            })
        })
        .collect())
}

/// When gc first found each key unreferenced, as recorded in the bucket. No record yet is an
/// empty one; an unreadable record is too (every key then counts from now: kept longer,
/// never shorter).
fn read_ledger(aws: &Aws, bucket: &str) -> Result<BTreeMap<String, SystemTime>> {
    let url = format!("s3://{bucket}/{LEDGER_KEY}");
    let unreadable = |why: String| {
        eprintln!(
            "[gc] warning: could not read {url} ({why}): every unreferenced key counts from now"
        );
        BTreeMap::new()
    };
    let record = match aws.get_object(bucket, LEDGER_KEY) {
        Ok(bytes) => bytes,
        Err(e) if matches!(e.code(), Some("404" | "NoSuchKey" | "NotFound")) => {
            return Ok(BTreeMap::new());
        }
        Err(e) => return Ok(unreadable(e.to_string())),
    };
    let record: Value = match serde_json::from_slice(&record) {
        Ok(v) => v,
        Err(e) => return Ok(unreadable(format!("not JSON: {e}"))),
    };
    Ok(parse_ledger(&record))
}

fn parse_ledger(record: &Value) -> BTreeMap<String, SystemTime> {
    record
        .get("unreferencedSince")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(key, since)| {
            let since = humantime::parse_rfc3339_weak(since.as_str()?).ok()?;
            Some((key.clone(), since))
        })
        .collect()
}

fn render_ledger(marks: &BTreeMap<String, SystemTime>) -> String {
    let since: serde_json::Map<String, Value> = marks
        .iter()
        .map(|(key, at)| {
            (
                key.clone(),
                Value::from(humantime::format_rfc3339_seconds(*at).to_string()),
            )
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({
        "about": "written by `cargo xtask gc`: when it first found each asset unreferenced",
        "unreferencedSince": since,
    }))
    .expect("JSON serializes");
    text.push('\n');
    text
}

/// Records the marks, when they changed.
fn write_ledger(
    aws: &Aws,
    bucket: &str,
    before: &BTreeMap<String, SystemTime>,
    marks: &BTreeMap<String, SystemTime>,
) -> Result<()> {
    if parse_ledger(&serde_json::from_str(&render_ledger(before)).expect("our JSON"))
        == parse_ledger(&serde_json::from_str(&render_ledger(marks)).expect("our JSON"))
    {
        return Ok(());
    }
    let path = crate::aws::temp_path("json");
    std::fs::write(&path, render_ledger(marks)).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    let put = aws.call(
        "s3api",
        "put-object",
        &[
            "--bucket",
            bucket,
            "--key",
            LEDGER_KEY,
            "--body",
            &path.to_string_lossy(),
            "--content-type",
            "application/json",
        ],
    );
    let _ = std::fs::remove_file(&path);
    put.map_err(|source| Error::AwsCall {
        doing: format!("cannot record what is unreferenced in {bucket}/{LEDGER_KEY}"),
        source: Box::new(source),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn age_counts_from_when_a_key_stopped_being_named() {
        let now = SystemTime::UNIX_EPOCH + 1_000 * DAY;
        // Named: kept, whatever the record says.
        assert_eq!(
            verdict(true, Some(now - 30 * DAY), now, 7),
            Verdict::Referenced
        );
        // First found unreferenced now: kept for 7 days from now (its upload time plays no
        // part).
        assert_eq!(verdict(false, None, now, 7), Verdict::Recent(now));
        assert_eq!(
            verdict(false, Some(now - 6 * DAY), now, 7),
            Verdict::Recent(now - 6 * DAY)
        );
        assert_eq!(
            verdict(false, Some(now - 7 * DAY), now, 7),
            Verdict::Collect(now - 7 * DAY)
        );
        // --keep-days 0 collects what is unreferenced now.
        assert_eq!(verdict(false, None, now, 0), Verdict::Collect(now));
        // A record from the future (a clock gone wrong) counts from now.
        assert_eq!(
            verdict(false, Some(now + DAY), now, 7),
            Verdict::Recent(now)
        );
    }

    #[test]
    fn the_ledger_round_trips_and_unreadable_entries_are_dropped() {
        let at = SystemTime::UNIX_EPOCH + 20_000 * DAY;
        let marks = BTreeMap::from([("a.zip".to_owned(), at)]);
        let text = render_ledger(&marks);
        assert!(
            text.contains("\"a.zip\": \"2024-10-04T00:00:00Z\""),
            "{text}"
        );
        assert_eq!(parse_ledger(&serde_json::from_str(&text).unwrap()), marks);
        let odd = json!({"unreferencedSince": {"a.zip": "yesterday", "b.zip": 3}});
        assert!(parse_ledger(&odd).is_empty());
        assert!(parse_ledger(&Value::Null).is_empty());
    }

    #[test]
    fn a_listing_that_moved_is_not_the_same() {
        let stack = |status: &str, changed: &str| Listed {
            name: "wsecho-prod".into(),
            id: "arn:1".into(),
            status: status.into(),
            changed: changed.into(),
        };
        let before = [stack("UPDATE_COMPLETE", "t1")];
        assert!(same_stacks(&before, &[stack("UPDATE_COMPLETE", "t1")]));
        assert!(!same_stacks(&before, &[stack("UPDATE_COMPLETE", "t2")]));
        assert!(!same_stacks(&before, &[stack("UPDATE_IN_PROGRESS", "t2")]));
        assert!(!same_stacks(&before, &[]));
    }
}
