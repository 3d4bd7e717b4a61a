//! Uploads the zips the assets bucket doesn't have. Keys are content addresses
//! (`<sha256>.zip`), so a key that is there should hold exactly these bytes: never
//! overwritten, never uploaded twice. Should, not does: anyone with write access can put
//! other bytes under the name, so a key that is there is checked (its SHA-256) before a
//! deploy relies on it, and after the deploy each function's code is checked against the zip
//! that was meant.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
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
    let mut named: Vec<String> = assembly::template::function_code_keys(&assembly.template)
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    named.sort();
    named.dedup();
    let (there, wanted): (Vec<String>, Vec<String>) =
        named.into_iter().partition(|key| have.contains(key));
    // Every key there is checked before anything goes up: a mismatch changes nothing.
    for batch in there.chunks(PARALLEL_UPLOADS) {
        thread::scope(|s| {
            let checks: Vec<_> = batch
                .iter()
                .map(|key| s.spawn(|| verify_existing(aws, assembly, bucket, key)))
                .collect();
            checks
                .into_iter()
                .try_for_each(|c| c.join().expect("a check does not panic"))
        })?;
    }
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

/// A zip of the assembly, read and checked against its name: the key promises these bytes,
/// so a zip changed since synth must not go up under it. Returns the path, the bytes and
/// their SHA-256.
fn read_zip(assembly: &Assembly, key: &str) -> Result<(PathBuf, Vec<u8>, [u8; 32])> {
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
    let digest = assembly::sha256(&bytes);
    let hex = assembly::hex(&digest);
    if hex != asset.sha256 {
        return Err(Error::AssetChanged { path, sha256: hex });
    }
    Ok((path, bytes, digest))
}

/// Whether the object under `key` holds the zip's bytes. S3 answers with the SHA-256 it
/// keeps for an object uploaded with one (as deploy uploads); for any other object (another
/// tool's upload, a multipart upload's composite checksum, an emulator that keeps none) the
/// object is read and hashed here.
fn verify_existing(aws: &Aws, assembly: &Assembly, bucket: &str, key: &str) -> Result<()> {
    let (_, _, digest) = read_zip(assembly, key)?;
    let wanted = BASE64.encode(digest);
    let head = aws
        .call(
            "s3api",
            "head-object",
            &[
                "--bucket",
                bucket,
                "--key",
                key,
                "--checksum-mode",
                "ENABLED",
            ],
        )
        .map_err(|source| Error::AwsCall {
            doing: format!("cannot check {key} in the assets bucket {bucket}"),
            source: Box::new(source),
        })?;
    let kept = head
        .get("ChecksumSHA256")
        .and_then(Value::as_str)
        .filter(|c| {
            !c.contains('-')
                && head.get("ChecksumType").and_then(Value::as_str) != Some("COMPOSITE")
        });
    let found = match kept {
        Some(checksum) => checksum.to_owned(),
        None => {
            let bytes = aws
                .get_object(bucket, key)
                .map_err(|source| Error::AwsCall {
                    doing: format!("cannot read {key} from the assets bucket {bucket} to check it"),
                    source: Box::new(source),
                })?;
            BASE64.encode(assembly::sha256(&bytes))
        }
    };
    if found != wanted {
        return Err(Error::AssetOverwritten {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            found,
        });
    }
    Ok(())
}

fn upload(aws: &Aws, assembly: &Assembly, bucket: &str, key: &str) -> Result<()> {
    let asset = assembly
        .manifest
        .by_s3_key(key)
        .ok_or_else(|| Error::UnlistedCode {
            key: key.to_owned(),
        })?;
    let (path, bytes, digest) = read_zip(assembly, key)?;
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

/// After a deploy: each function of the stack runs the code its template names, byte for
/// byte (Lambda's `CodeSha256` is the base64 SHA-256 of the zip it took).
pub fn check_deployed_code(aws: &Aws, assembly: &Assembly, stack: &str) -> Result<()> {
    let keys = assembly::template::function_code_keys(&assembly.template);
    if keys.is_empty() {
        return Ok(());
    }
    let physical = crate::stack::physical_ids(aws, stack)?;
    let mut checks = Vec::new();
    for (logical, key) in &keys {
        let Some(name) = physical.get(logical) else {
            return Err(Error::UnexpectedAnswer(format!(
                "stack {stack} has no function {logical} after the deploy"
            )));
        };
        let asset = assembly
            .manifest
            .by_s3_key(key)
            .ok_or_else(|| Error::UnlistedCode { key: key.clone() })?;
        checks.push((logical, name, key, hex_to_base64(&asset.sha256)));
    }
    for batch in checks.chunks(PARALLEL_UPLOADS) {
        thread::scope(|s| {
            let answers: Vec<_> = batch
                .iter()
                .map(|(logical, name, key, wanted)| {
                    s.spawn(move || {
                        let config = aws
                            .call(
                                "lambda",
                                "get-function-configuration",
                                &["--function-name", name.as_str()],
                            )
                            .map_err(|source| Error::AwsCall {
                                doing: format!(
                                    "cannot check the code of function {name} ({logical}) of \
                                     stack {stack}"
                                ),
                                source: Box::new(source),
                            })?;
                        let found = config.get("CodeSha256").and_then(Value::as_str);
                        if found == wanted.as_deref() {
                            Ok(())
                        } else {
                            Err(Error::CodeMismatch {
                                stack: stack.to_owned(),
                                function: format!("{name} ({logical})"),
                                key: (*key).clone(),
                                found: found.unwrap_or("nothing").to_owned(),
                            })
                        }
                    })
                })
                .collect();
            answers
                .into_iter()
                .try_for_each(|a| a.join().expect("a check does not panic"))
        })?;
    }
    Ok(())
}

/// The manifest's hex SHA-256 as Lambda and S3 spell it (base64 of the bytes); `None` for
/// something that isn't 64 hex digits.
fn hex_to_base64(hex: &str) -> Option<String> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    bytes.map(|b| BASE64.encode(b))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_hash_is_spelled_as_lambda_spells_it() {
        let zip = b"PK\x03\x04 not really a zip";
        let hex = assembly::hex(&assembly::sha256(zip));
        assert_eq!(
            hex_to_base64(&hex),
            Some(BASE64.encode(assembly::sha256(zip)))
        );
        assert_eq!(hex_to_base64("abc"), None);
        assert_eq!(hex_to_base64(&"zz".repeat(32)), None);
    }
}
