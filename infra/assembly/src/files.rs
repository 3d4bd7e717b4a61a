//! The files of an assembly, and how they are written.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Error;

/// The CloudFormation template: what deploy sends and the local gateway runs.
pub const TEMPLATE_FILE: &str = "template.json";
/// The same template as YAML, to read (`synth --format yaml`); nothing reads it back.
pub const TEMPLATE_YAML_FILE: &str = "template.yaml";
/// The asset manifest, beside the zips it names.
pub const MANIFEST_FILE: &str = "assets.json";
/// Where the stack goes.
pub const STACK_FILE: &str = "stack.json";
/// The stack's outputs after the last deploy.
pub const OUTPUTS_FILE: &str = "outputs.json";

/// Writes `bytes` to a temporary file beside `path`, then renames it into place: a reader
/// sees the old file or the new one, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    // Unique per process and call: two threads writing the same file don't share a temporary.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |name| name.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let failed = |error| {
        let _ = fs::remove_file(&tmp);
        Error::Write {
            path: path.to_owned(),
            error,
        }
    };
    fs::write(&tmp, bytes).map_err(failed)?;
    fs::rename(&tmp, path).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_and_leaves_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("template.json");
        fs::write(&path, "old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["template.json"]);
    }

    #[test]
    fn a_failed_write_names_the_file_and_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-folder").join("template.json");
        let err = write_atomically(&missing, b"new").unwrap_err().to_string();
        assert!(err.contains("no-such-folder/template.json"), "{err}");
    }
}
