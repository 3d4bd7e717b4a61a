//! Checks before any change: what the stage asks of the account must be there, or the deploy
//! stops with nothing changed, rather than failing halfway through CloudFormation.
//! - the assets bucket exists and is in the deploy region (Lambda reads code only from its own
//!   region, and fails the function's creation otherwise);
//! - the reserved concurrency the stage adds fits what the account can still reserve (Lambda
//!   keeps 100 unreserved; a new account's quota can be as low as 10).

use serde_json::Value;

use crate::assets::BucketSource;
use crate::aws::Aws;
use crate::{ConcurrencyShortfall, Error, Result};

/// The concurrency Lambda always keeps unreserved in an account and region.
pub const UNRESERVED_MINIMUM: u64 = 100;

/// Refuses a bucket that is missing or in another region than the deploy.
pub fn bucket(aws: &Aws, bucket: &str, source: BucketSource, stack: &str) -> Result<()> {
    let located = match aws.call("s3api", "get-bucket-location", &["--bucket", bucket]) {
        Ok(v) => v,
        Err(e) if e.code() == Some("NoSuchBucket") => {
            let bucket = bucket.to_owned();
            return Err(match source {
                BucketSource::Toolkit => Error::ToolkitBucketMissing { bucket },
                BucketSource::Given => Error::GivenBucketMissing { bucket },
            });
        }
        Err(source) => {
            return Err(Error::AwsCall {
                doing: format!("cannot find out where the assets bucket {bucket} is"),
                source: Box::new(source),
            });
        }
    };
    let bucket_region = region_of(located.get("LocationConstraint"));
    if bucket_region != aws.region {
        return Err(Error::BucketElsewhere {
            bucket: bucket.to_owned(),
            bucket_region,
            stack: stack.to_owned(),
            region: aws.region.clone(),
        });
    }
    Ok(())
}

/// S3's `LocationConstraint`: none for us-east-1, `EU` for the oldest eu-west-1 buckets.
fn region_of(constraint: Option<&Value>) -> String {
    match constraint.and_then(Value::as_str) {
        None | Some("") => "us-east-1".to_owned(),
        Some("EU") => "eu-west-1".to_owned(),
        Some(region) => region.to_owned(),
    }
}

/// Each function's `ReservedConcurrentExecutions` in a template, by logical ID.
fn reserved(template: &Value) -> Vec<(String, u64)> {
    let mut found: Vec<(String, u64)> = template
        .get("Resources")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, r)| {
            r.get("Type").and_then(Value::as_str) == Some(assembly::template::FUNCTION_TYPE)
        })
        .filter_map(|(id, r)| {
            let n = r
                .pointer("/Properties/ReservedConcurrentExecutions")?
                .as_u64()?;
            Some((id.clone(), n))
        })
        .collect();
    found.sort();
    found
}

/// The account's concurrency: its limit and how much of it is unreserved now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Settings {
    limit: u64,
    unreserved: u64,
}

/// How much more the deploy reserves, and how much the account can still give: `Err` with
/// both when it doesn't fit.
fn fits(wanted: u64, held: u64, settings: Settings) -> Result<(), (u64, u64)> {
    let added = wanted.saturating_sub(held);
    let available = settings.unreserved.saturating_sub(UNRESERVED_MINIMUM);
    if added > available {
        Err((added, available))
    } else {
        Ok(())
    }
}

/// Refuses a deploy whose reserved concurrency the account can't give. `deployed` is the
/// stack's current template (what it already holds). Asks Lambda only when the deploy
/// reserves more than the stack holds; a failed question is a warning, not a refusal (the
/// permission to ask is not the permission to deploy).
pub fn concurrency(
    aws: &Aws,
    account: &str,
    stack: &str,
    template: &Value,
    deployed: Option<&Value>,
) -> Result<()> {
    let wanted = reserved(template);
    let wanted_total: u64 = wanted.iter().map(|(_, n)| n).sum();
    let held_total: u64 = deployed.map_or(0, |t| reserved(t).iter().map(|(_, n)| n).sum());
    if wanted_total <= held_total {
        return Ok(());
    }
    let settings = match aws.call("lambda", "get-account-settings", &[] as &[&str]) {
        Ok(v) => {
            let number = |key: &str| v.pointer(&format!("/AccountLimit/{key}"))?.as_u64();
            match (
                number("ConcurrentExecutions"),
                number("UnreservedConcurrentExecutions"),
            ) {
                (Some(limit), Some(unreserved)) => Settings { limit, unreserved },
                _ => {
                    eprintln!(
                        "[deploy] warning: lambda get-account-settings gave no concurrency \
                         limits ({v}); reserved concurrency not checked"
                    );
                    return Ok(());
                }
            }
        }
        Err(e) => {
            eprintln!(
                "[deploy] warning: could not read the account's Lambda concurrency ({e}); \
                 reserved concurrency not checked"
            );
            return Ok(());
        }
    };
    fits(wanted_total, held_total, settings).map_err(|(added, available)| {
        Error::ConcurrencyExceeded(Box::new(ConcurrencyShortfall {
            stack: stack.to_owned(),
            wanted: wanted_total,
            functions: wanted
                .iter()
                .map(|(id, n)| format!("{id} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            added,
            account: account.to_owned(),
            region: aws.region.clone(),
            available,
            limit: settings.limit,
            unreserved: settings.unreserved,
        }))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_bucket_location_is_a_region() {
        assert_eq!(region_of(None), "us-east-1");
        assert_eq!(region_of(Some(&Value::Null)), "us-east-1");
        assert_eq!(region_of(Some(&json!("EU"))), "eu-west-1");
        assert_eq!(region_of(Some(&json!("ap-south-1"))), "ap-south-1");
    }

    #[test]
    fn what_a_deploy_adds_must_leave_lambdas_hundred_unreserved() {
        let new_account = Settings {
            limit: 1000,
            unreserved: 1000,
        };
        // prod today reserves 170: fine on a default account...
        assert_eq!(fits(170, 0, new_account), Ok(()));
        assert_eq!(fits(900, 0, new_account), Ok(()));
        assert_eq!(fits(901, 0, new_account), Err((901, 900)));
        // ...not on a new one with a quota of 10, where nothing can be reserved.
        let tiny = Settings {
            limit: 10,
            unreserved: 10,
        };
        assert_eq!(fits(170, 0, tiny), Err((170, 0)));
        // What the stack already holds is counted once.
        let busy = Settings {
            limit: 1000,
            unreserved: 130,
        };
        assert_eq!(fits(170, 150, busy), Ok(()));
        assert_eq!(fits(200, 150, busy), Err((50, 30)));
    }

    #[test]
    fn reserved_concurrency_is_read_per_function() {
        let t = json!({"Resources": {
            "A": {"Type": "AWS::Lambda::Function", "Properties": {"ReservedConcurrentExecutions": 50}},
            "B": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "Q": {"Type": "AWS::SQS::Queue", "Properties": {"ReservedConcurrentExecutions": 9}}}});
        assert_eq!(reserved(&t), vec![("A".to_owned(), 50)]);
    }
}
