//! Unpacks each function's `bootstrap` from its zip into `<unpacked>/<sha256>/`, once
//! (`<unpacked>` is `<assembly>/.dev` unless `DevOptions::unpacked` says otherwise).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assembly::bundle::{BOOTSTRAP, read_bootstrap};
use assembly::{AssetManifest, MANIFEST_FILE};

use crate::error::Error;
use crate::ids;
use crate::template::FunctionSpec;

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
    let dir = unpacked.join(&asset.sha256);
    let target = dir.join(BOOTSTRAP);
    if target.is_file() {
        return Ok(target);
    }
    let zip = assembly.join(&asset.zip);
    let file = fs::File::open(&zip).map_err(|error| Error::OpenZip {
        logical_id: id.clone(),
        zip: zip.clone(),
        error,
    })?;
    let bytes = read_bootstrap(std::io::BufReader::new(file)).map_err(|error| Error::Unzip {
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
