//! Unpacks each function's `bootstrap` from its zip into `<unpacked>/<sha256>/`, once
//! (`<unpacked>` is `<assembly>/.dev` unless `DevOptions::unpacked` says otherwise): only a
//! zip whose SHA-256 is the manifest's, named as a build names it, and of a size Lambda takes.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assembly::bundle::{BOOTSTRAP, read_bootstrap};
use assembly::{AssetManifest, MANIFEST_FILE};

use crate::error::Error;
use crate::ids;
use crate::template::FunctionSpec;

/// Lambda's limit on a function's unzipped code; a zip is smaller still.
const CODE_LIMIT: u64 = 250 << 20;

/// Checks what the manifest says before any of it becomes a path: a 64-hex-digit SHA-256 (the
/// folder name) and a plain file name for the zip, so nothing outside the folders is read or
/// written.
fn check_entry(asset: &assembly::FunctionAsset) -> Result<(), String> {
    let sha = &asset.sha256;
    if sha.len() != 64
        || !sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!("sha256 {sha:?} is not 64 lower-case hex digits"));
    }
    let plain = asset.zip.components().count() == 1
        && matches!(
            asset.zip.components().next(),
            Some(std::path::Component::Normal(_))
        );
    if !plain || asset.zip.extension().is_none_or(|e| e != "zip") {
        return Err(format!(
            "zip {} is not a file name ending in .zip",
            asset.zip.display()
        ));
    }
    if asset.size > CODE_LIMIT || asset.binary_size > CODE_LIMIT {
        return Err(format!(
            "sizes of {} (zip) and {} (binary) bytes: Lambda takes at most {} MiB",
            asset.size,
            asset.binary_size,
            CODE_LIMIT >> 20
        ));
    }
    Ok(())
}

/// Path of the function's executable, unpacked if it is not cached yet.
pub(crate) fn bootstrap(
    assembly: &Path,
    unpacked: &Path,
    manifest: &AssetManifest,
    function: &FunctionSpec,
) -> Result<PathBuf, Error> {
    let id = &function.logical_id;
    let asset = manifest
        .by_s3_key(&function.s3_key)
        .ok_or_else(|| Error::UnlistedCode {
            logical_id: id.clone(),
            key: function.s3_key.clone(),
            manifest: assembly.join(MANIFEST_FILE),
        })?;
    if let Some(host) = assembly::Architecture::host()
        && host != asset.architecture
    {
        return Err(Error::WrongArchitecture {
            logical_id: id.clone(),
            package: asset.package.clone(),
            built: asset.architecture,
            host,
        });
    }
    check_entry(asset).map_err(|problem| Error::ManifestEntry {
        logical_id: id.clone(),
        package: asset.package.clone(),
        problem,
    })?;
    let dir = unpacked.join(&asset.sha256);
    let target = dir.join(BOOTSTRAP);
    if target.is_file() {
        return Ok(target);
    }
    let zip = assembly.join(&asset.zip);
    let open_error = |error| Error::OpenZip {
        logical_id: id.clone(),
        zip: zip.clone(),
        error,
    };
    let file = fs::File::open(&zip).map_err(open_error)?;
    // Read whole (no more than the cap) and checked before it is unzipped.
    let mut bytes = Vec::new();
    file.take(CODE_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(open_error)?;
    let found = assembly::sha256_hex(&bytes);
    if found != asset.sha256 {
        return Err(Error::ZipDigest {
            logical_id: id.clone(),
            zip,
            expected: asset.sha256.clone(),
            found,
        });
    }
    let bytes = read_bootstrap(std::io::Cursor::new(bytes)).map_err(|error| Error::Unzip {
        logical_id: id.clone(),
        zip,
        error,
    })?;
    fs::create_dir_all(&dir).map_err(Error::file("create", &dir))?;
    // Written aside then renamed, so a half-written binary is never run.
    let partial = dir.join(format!(
        "{BOOTSTRAP}.{}.{}.partial",
        std::process::id(),
        ids::uuid()
    ));
    fs::write(&partial, &bytes).map_err(Error::file("write", &partial))?;
    fs::set_permissions(&partial, fs::Permissions::from_mode(0o755))
        .map_err(Error::file("make executable", &partial))?;
    fs::rename(&partial, &target).map_err(Error::file("rename into place", &partial))?;
    Ok(target)
}

/// Removes the unpacked binaries of zips `manifest` does not name (earlier builds).
pub(crate) fn prune(unpacked: &Path, manifest: &AssetManifest) -> Result<(), Error> {
    let entries = match fs::read_dir(unpacked) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::file("list", unpacked)(e)),
    };
    for entry in entries {
        let path = entry.map_err(Error::file("list", unpacked))?.path();
        let named = manifest
            .functions
            .iter()
            .any(|f| path.file_name() == Some(std::ffi::OsStr::new(&f.sha256)));
        if !named && path.is_dir() {
            fs::remove_dir_all(&path).map_err(Error::file("remove", &path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(sha256: &str, zip: &str) -> assembly::FunctionAsset {
        assembly::FunctionAsset {
            package: "echo".into(),
            architecture: assembly::Architecture::X86_64,
            zip: zip.into(),
            sha256: sha256.into(),
            size: 1000,
            binary_size: 3000,
        }
    }

    #[test]
    fn manifest_names_that_would_leave_the_folders_are_refused() {
        let sha = "ab".repeat(32);
        assert_eq!(check_entry(&asset(&sha, &format!("{sha}.zip"))), Ok(()));
        for (sha256, zip) in [
            ("../../etc", "x.zip"),
            (&*"AB".repeat(32), "x.zip"),
            (&*sha, "../x.zip"),
            (&*sha, "/tmp/x.zip"),
            (&*sha, "sub/x.zip"),
            (&*sha, "x.exe"),
        ] {
            assert!(check_entry(&asset(sha256, zip)).is_err(), "{sha256} {zip}");
        }
        let mut huge = asset(&sha, "x.zip");
        huge.binary_size = 300 << 20;
        assert!(check_entry(&huge).unwrap_err().contains("250 MiB"));
    }
}
