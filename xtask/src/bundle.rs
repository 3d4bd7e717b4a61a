//! Reproducible Lambda zips: the same binary always gives the same bytes, so the same sha256,
//! so the same S3 key. Fixed timestamp, fixed permissions, one entry.

use std::io::{Cursor, Write};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// The name the `provided.al2023` runtime executes.
pub const BOOTSTRAP: &str = "bootstrap";

/// Zips `binary` as `bootstrap` (mode 0755, 1980-01-01 00:00:00, best compression).
pub fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(DateTime::default())
        .unix_permissions(0o755);
    let mut writer = ZipWriter::new(Cursor::new(Vec::with_capacity(binary.len() / 2)));
    writer
        .start_file(BOOTSTRAP, options)
        .context("cannot start the zip entry")?;
    writer
        .write_all(binary)
        .context("cannot write the zip entry")?;
    Ok(writer
        .finish()
        .context("cannot finish the zip")?
        .into_inner())
}

/// Lower-case hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of a digest (S3 keys and asset names spell hashes this way).
pub fn hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn same_binary_same_bytes() {
        let binary = b"\x7fELF pretend binary".repeat(1000);
        let a = zip_bootstrap(&binary).unwrap();
        let b = zip_bootstrap(&binary).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, zip_bootstrap(b"another").unwrap());
    }

    #[test]
    fn the_entry_is_an_executable_bootstrap() {
        let binary = b"#!/bin/sh\necho hi\n".to_vec();
        let bytes = zip_bootstrap(&binary).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode().unwrap() & 0o777, 0o755);
        assert_eq!(entry.last_modified(), Some(DateTime::default()));
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        assert_eq!(content, binary);
    }

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
