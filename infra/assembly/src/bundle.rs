//! A function's code as the assembly carries it: a zip holding one executable, `bootstrap`,
//! reproducible (fixed timestamp, permissions and order), so the same binary always gives the
//! same bytes, the same sha256 and the same S3 key.

use std::io::{Cursor, Read, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

/// The executable Lambda's `provided.al2023` runtime starts.
pub const BOOTSTRAP: &str = "bootstrap";

/// Why a zip could not be written or read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BundleError(String);

/// Zips `binary` as `bootstrap` (mode 0755, 1980-01-01 00:00:00, best compression).
pub fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>, BundleError> {
    let failed = |what: &str| {
        let what = what.to_owned();
        move |e: zip::result::ZipError| BundleError(format!("cannot {what}: {e}"))
    };
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(DateTime::default())
        .unix_permissions(0o755);
    let mut writer = ZipWriter::new(Cursor::new(Vec::with_capacity(binary.len() / 2)));
    writer
        .start_file(BOOTSTRAP, options)
        .map_err(failed("start the zip entry"))?;
    writer
        .write_all(binary)
        .map_err(|e| BundleError(format!("cannot write the zip entry: {e}")))?;
    Ok(writer
        .finish()
        .map_err(failed("finish the zip"))?
        .into_inner())
}

/// Lambda's quota on a function's unzipped deployment package: a `bootstrap` beyond it could
/// never deploy, and reading one (a zip bomb) must not exhaust memory.
pub const MAX_UNZIPPED: u64 = 250 * 1024 * 1024;

/// The `bootstrap` a zip holds, refused beyond [`MAX_UNZIPPED`].
pub fn read_bootstrap(zip: impl Read + std::io::Seek) -> Result<Vec<u8>, BundleError> {
    read_bootstrap_within(zip, MAX_UNZIPPED)
}

fn read_bootstrap_within(
    zip: impl Read + std::io::Seek,
    limit: u64,
) -> Result<Vec<u8>, BundleError> {
    let mut archive = ZipArchive::new(zip).map_err(|e| BundleError(format!("not a zip: {e}")))?;
    let entry = archive
        .by_name(BOOTSTRAP)
        .map_err(|e| BundleError(format!("no `{BOOTSTRAP}` in the zip: {e}")))?;
    let too_big = || {
        BundleError(format!(
            "`{BOOTSTRAP}` unzips to more than {limit} bytes (Lambda's limit for a function's \
             unzipped package): rebuild it with `cargo xtask build`"
        ))
    };
    // The declared size is checked first and the read bounded too: a header can lie.
    if entry.size() > limit {
        return Err(too_big());
    }
    let mut binary = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    entry
        .take(limit + 1)
        .read_to_end(&mut binary)
        .map_err(|e| BundleError(format!("cannot unzip `{BOOTSTRAP}`: {e}")))?;
    if binary.len() as u64 > limit {
        return Err(too_big());
    }
    Ok(binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bootstrap_beyond_the_limit_is_refused_before_it_is_read_whole() {
        let bytes = zip_bootstrap(&[0u8; 2000]).unwrap();
        assert_eq!(
            read_bootstrap_within(Cursor::new(bytes.clone()), 2000)
                .unwrap()
                .len(),
            2000
        );
        let err = read_bootstrap_within(Cursor::new(bytes), 1999)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("more than 1999 bytes") && err.contains("cargo xtask build"),
            "{err}"
        );
    }

    #[test]
    fn same_binary_same_bytes() {
        let binary = b"\x7fELF pretend binary".repeat(1000);
        let a = zip_bootstrap(&binary).unwrap();
        let b = zip_bootstrap(&binary).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, zip_bootstrap(b"another").unwrap());
    }

    #[test]
    fn the_entry_is_an_executable_bootstrap_that_reads_back() {
        let binary = b"#!/bin/sh\necho hi\n".to_vec();
        let bytes = zip_bootstrap(&binary).unwrap();
        let mut archive = ZipArchive::new(Cursor::new(bytes.clone())).unwrap();
        assert_eq!(archive.len(), 1);
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode().unwrap() & 0o777, 0o755);
        assert_eq!(entry.last_modified(), Some(DateTime::default()));
        drop(entry);
        assert_eq!(read_bootstrap(Cursor::new(bytes)).unwrap(), binary);
        let err = read_bootstrap(Cursor::new(b"not a zip".to_vec()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a zip"), "{err}");
    }
}
