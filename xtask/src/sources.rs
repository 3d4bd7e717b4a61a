//! The source trees builds depend on: walked without build output or editor droppings, for
//! `synth` (are the zips older than the sources?) and `dev --watch` (did anything change?).

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result};

/// Files at the workspace root that every function build reads.
pub const ROOT_BUILD_FILES: [&str; 3] = ["Cargo.toml", "Cargo.lock", ".cargo/config.toml"];

/// Calls `visit` with every file under `dir`, skipping `target` folders, hidden entries and
/// editor backups (`*~`, `*.swp`). A file deleted while the walk runs is skipped.
pub fn walk(dir: &Path, visit: &mut impl FnMut(&Path, &fs::Metadata)) -> Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "target"
            || name.starts_with('.')
            || name.ends_with('~')
            || name.ends_with(".swp")
        {
            continue;
        }
        let path = entry.path();
        // Symlinks are not followed (no loops); a link counts as a file.
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        if meta.is_dir() {
            match walk(&path, visit) {
                // Removed since it was listed.
                Err(_) if !path.exists() => {}
                other => other?,
            }
        } else {
            visit(&path, &meta);
        }
    }
    Ok(())
}

/// The newest modification time of the files under `dir` (the epoch for an empty tree).
pub fn newest_under(dir: &Path) -> Result<SystemTime> {
    let mut newest = SystemTime::UNIX_EPOCH;
    walk(dir, &mut |_, meta| {
        if let Ok(modified) = meta.modified() {
            newest = newest.max(modified);
        }
    })?;
    Ok(newest)
}

/// Modification time and size of every file under some paths (files or folders): two
/// fingerprints differ when a file was edited, added, removed or renamed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint(BTreeMap<PathBuf, (SystemTime, u64)>);

impl Fingerprint {
    /// A path that does not exist contributes nothing (it may appear later).
    pub fn of(paths: &[PathBuf]) -> Result<Fingerprint> {
        let mut files = BTreeMap::new();
        let mut record = |path: &Path, meta: &fs::Metadata| {
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            files.insert(path.to_owned(), (modified, meta.len()));
        };
        for path in paths {
            match fs::metadata(path) {
                Ok(meta) if meta.is_dir() => walk(path, &mut record)?,
                Ok(meta) => record(path, &meta),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            }
        }
        Ok(Fingerprint(files))
    }

    /// The files edited, added or removed since `earlier`, sorted.
    pub fn changed_since(&self, earlier: &Fingerprint) -> Vec<PathBuf> {
        let mut changed: Vec<PathBuf> = self
            .0
            .iter()
            .filter(|(path, stamp)| earlier.0.get(*path) != Some(*stamp))
            .map(|(path, _)| path.clone())
            .collect();
        changed.extend(
            earlier
                .0
                .keys()
                .filter(|path| !self.0.contains_key(*path))
                .cloned(),
        );
        changed.sort();
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn an_unchanged_tree_has_the_same_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("a/src/lib.rs"), "fn a() {}");
        write(&dir.path().join("Cargo.toml"), "[package]");
        let paths = [dir.path().join("a"), dir.path().join("Cargo.toml")];
        let first = Fingerprint::of(&paths).unwrap();
        assert_eq!(first.0.len(), 2);
        let second = Fingerprint::of(&paths).unwrap();
        assert_eq!(second.changed_since(&first), Vec::<PathBuf>::new());
    }

    #[test]
    fn edits_new_files_and_deletions_are_changes() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("a/src/lib.rs");
        let old = dir.path().join("a/src/old.rs");
        write(&lib, "fn a() {}");
        write(&old, "fn old() {}");
        let paths = [dir.path().join("a")];
        let before = Fingerprint::of(&paths).unwrap();

        // Same length, an mtime set explicitly: a change a coarse clock would hide.
        write(&lib, "fn b() {}");
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        fs::File::options()
            .write(true)
            .open(&lib)
            .unwrap()
            .set_modified(later)
            .unwrap();
        fs::remove_file(&old).unwrap();
        let new = dir.path().join("a/src/new.rs");
        write(&new, "fn new() {}");

        let after = Fingerprint::of(&paths).unwrap();
        let mut expected = vec![lib, new, old];
        expected.sort();
        assert_eq!(after.changed_since(&before), expected);
    }

    #[test]
    fn build_output_hidden_files_and_editor_backups_are_not_sources() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("a/src/lib.rs"), "fn a() {}");
        let paths = [dir.path().join("a")];
        let before = Fingerprint::of(&paths).unwrap();
        write(&dir.path().join("a/target/debug/out"), "binary");
        write(&dir.path().join("a/src/.lib.rs.swp"), "vim");
        write(&dir.path().join("a/src/lib.rs~"), "backup");
        write(&dir.path().join("a/src/x.swp"), "swap");
        let after = Fingerprint::of(&paths).unwrap();
        assert_eq!(after.changed_since(&before), Vec::<PathBuf>::new());
        assert_eq!(after.0.len(), 1);
    }

    #[test]
    fn a_missing_path_is_no_file_until_it_appears() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join(".cargo/config.toml");
        let before = Fingerprint::of(std::slice::from_ref(&config)).unwrap();
        assert!(before.0.is_empty());
        write(&config, "[build]");
        let after = Fingerprint::of(std::slice::from_ref(&config)).unwrap();
        assert_eq!(after.changed_since(&before), vec![config]);
    }

    #[test]
    fn newest_under_sees_nested_files_and_skips_target() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("a/src/lib.rs");
        write(&lib, "fn a() {}");
        let past = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        fs::File::options()
            .write(true)
            .open(&lib)
            .unwrap()
            .set_modified(past)
            .unwrap();
        write(&dir.path().join("a/target/newer"), "output");
        assert_eq!(newest_under(dir.path()).unwrap(), past);
    }
}
