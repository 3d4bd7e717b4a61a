//! Unpacks each function's `bootstrap` from its zip into `<unpacked>/<sha256>/`, once
//! (`<unpacked>` is `<assembly>/.dev` unless `DevOptions::unpacked` says otherwise).

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use assembly::{AssetManifest, MANIFEST_FILE};

use super::template::FunctionSpec;

/// Path of the function's executable, unpacked if it is not cached yet.
pub fn unpack(
    assembly: &Path,
    unpacked: &Path,
    manifest: &AssetManifest,
    function: &FunctionSpec,
) -> Result<PathBuf> {
    let id = &function.logical_id;
    let asset = manifest.by_s3_key(&function.s3_key).ok_or_else(|| {
        anyhow!(
            "{id}: Code.S3Key {} is not in {}; run `cargo xtask synth` again",
            function.s3_key,
            assembly.join(MANIFEST_FILE).display()
        )
    })?;
    if let Some(host) = assembly::Architecture::host()
        && host != asset.architecture
    {
        bail!(
            "{id}: the assembly's `{}` zip is built for {}, this machine runs {host}; synthesize with `--arch {host}` for local runs",
            asset.package,
            asset.architecture
        );
    }
    let dir = unpacked.join(&asset.sha256);
    let target = dir.join("bootstrap");
    if target.is_file() {
        return Ok(target);
    }
    let zip_path = assembly.join(&asset.zip);
    let file = fs::File::open(&zip_path)
        .with_context(|| format!("{id}: cannot open {}", zip_path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{id}: {} is not a zip", zip_path.display()))?;
    let mut entry = archive
        .by_name("bootstrap")
        .with_context(|| format!("{id}: {} has no `bootstrap`", zip_path.display()))?;
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry.read_to_end(&mut bytes)?;
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Written aside then renamed, so a half-written binary is never run.
    let partial = dir.join(format!(
        "bootstrap.{}.{}.partial",
        std::process::id(),
        super::ids::uuid()
    ));
    fs::write(&partial, &bytes).with_context(|| format!("cannot write {}", partial.display()))?;
    fs::set_permissions(&partial, fs::Permissions::from_mode(0o755))?;
    fs::rename(&partial, &target)?;
    Ok(target)
}

/// Removes the unpacked binaries of zips `manifest` does not name (earlier builds).
pub fn prune(unpacked: &Path, manifest: &AssetManifest) -> Result<()> {
    let entries = match fs::read_dir(unpacked) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", unpacked.display())),
    };
    for entry in entries {
        let path = entry?.path();
        let named = manifest
            .functions
            .iter()
            .any(|f| path.file_name() == Some(std::ffi::OsStr::new(&f.sha256)));
        if !named && path.is_dir() {
            fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}
