//! Uploads the zips the assets bucket doesn't have. Keys are content addresses
//! (`<sha256>.zip`), so a key that is there holds exactly these bytes: never overwritten,
//! never uploaded twice.

use std::collections::HashSet;
use std::fs;
use std::thread;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use crate::aws::Aws;
use assembly::human_size;

use crate::{Error, Result};
use assembly::{Assembly, TEMPLATE_FILE};

/// Where the bucket's name came from, to say what to do when it isn't there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSource {
    Toolkit,
    /// `--assets-bucket`.
    Given,
}

/// The keys already in the bucket (every page).
fn existing_keys(aws: &Aws, bucket: &str, source: BucketSource) -> Result<HashSet<String>> {
    let listed = match aws.call(
        "s3api",
        "list-objects-v2",
        &["--bucket", bucket, "--query", "Contents[].Key"],
    ) {
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
                doing: format!("cannot list the assets bucket {bucket}"),
                source: Box::new(source),
            });
        }
    };
    Ok(listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect())
}

/// How many uploads run at once (each is an AWS CLI process).
const PARALLEL_UPLOADS: usize = 4;

/// Uploads what's missing; returns the keys it uploaded.
pub fn upload_missing(
    aws: &Aws,
    assembly: &Assembly,
    bucket: &str,
    source: BucketSource,
) -> Result<Vec<String>> {
    let have = existing_keys(aws, bucket, source)?;
    let mut wanted: Vec<String> = assembly::template::function_code_keys(&assembly.template)
        .into_iter()
        .map(|(_, key)| key)
        .filter(|key| !have.contains(key))
        .collect();
    wanted.sort();
    wanted.dedup();
    for batch in wanted.chunks(PARALLEL_UPLOADS) {
        thread::scope(|s| {
            let uploads: Vec<_> = batch
                .iter()
                .map(|key| s.spawn(|| upload(aws, assembly, bucket, key)))
                .collect();
            uploads
                .into_iter()
                .try_for_each(|u| u.join().expect("an upload does not panic"))
        })?;
    }
    Ok(wanted)
}

fn upload(aws: &Aws, assembly: &Assembly, bucket: &str, key: &str) -> Result<()> {
    let asset = assembly
        .manifest
        .by_s3_key(key)
        .ok_or_else(|| Error::UnlistedCode {
            key: key.to_owned(),
        })?;
    let path = assembly.zip_path(asset);
    let bytes = fs::read(&path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    // The key promises these bytes: a zip changed since synth must not go up under it.
    let digest = assembly::sha256(&bytes);
    let hex = assembly::hex(&digest);
    if hex != asset.sha256 {
        return Err(Error::AssetChanged { path, sha256: hex });
    }
    eprintln!(
        "[deploy] uploading {key} ({}, {})",
        asset.package,
        human_size(bytes.len() as u64)
    );
    let checksum = BASE64.encode(digest);
    aws.call(
        "s3api",
        "put-object",
        &[
            "--bucket",
            bucket,
            "--key",
            key,
            "--body",
            &path.to_string_lossy(),
            "--content-type",
            "application/zip",
            // S3 checks the bytes it received against this.
            "--checksum-sha256",
            &checksum,
        ],
    )
    .map_err(|source| Error::AwsCall {
        doing: format!("cannot upload {} to {bucket}", path.display()),
        source: Box::new(source),
    })?;
    Ok(())
}

/// Puts the assembly's template, too big to send inline, into the bucket under
/// `templates/<sha256>.json` (once) and returns the URL CloudFormation reads it from.
pub fn upload_template(aws: &Aws, bucket: &str, assembly: &Assembly) -> Result<String> {
    let text = &assembly.template_text;
    let digest = assembly::sha256(text.as_bytes());
    let hex = assembly::hex(&digest);
    let key = format!("templates/{hex}.json");
    let there = match aws.call("s3api", "head-object", &["--bucket", bucket, "--key", &key]) {
        Ok(_) => true,
        Err(e) if matches!(e.code(), Some("404" | "NoSuchKey" | "NotFound")) => false,
        Err(source) => {
            return Err(Error::AwsCall {
                doing: format!("cannot look for {key} in {bucket}"),
                source: Box::new(source),
            });
        }
    };
    if !there {
        eprintln!(
            "[deploy] uploading the template ({}, too big to send inline) as {key}",
            human_size(text.len() as u64)
        );
        let path = assembly.dir.join(TEMPLATE_FILE);
        aws.call(
            "s3api",
            "put-object",
            &[
                "--bucket",
                bucket,
                "--key",
                &key,
                "--body",
                &path.to_string_lossy(),
                "--content-type",
                "application/json",
                "--checksum-sha256",
                &BASE64.encode(digest),
            ],
        )
        .map_err(|source| Error::AwsCall {
            doing: format!("cannot upload {} to {bucket}", path.display()),
            source: Box::new(source),
        })?;
    }
    let region = &aws.region;
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(format!("https://{bucket}.s3.{region}.{suffix}/{key}"))
}
