//! What a running `cargo xtask dev` provides for the template's AWS resources (tables,
//! secrets) on 127.0.0.1, written to a file beside the assembly it runs (not in it: a
//! `--watch` synthesis replaces the assembly folder) so that other commands (`cargo xtask
//! token`) can reach the same services. It names resources, never their secret values.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, write_atomically};

const HINT: &str = "is `cargo xtask dev` running for this app and stage?";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalServices {
    /// The AWS API endpoint on 127.0.0.1 (`http://127.0.0.1:PORT`).
    pub endpoint: String,
    /// The process serving it: the file is stale once that process is gone.
    pub pid: u32,
    /// The physical id of each provided resource by logical ID: a table's name, a secret's
    /// ARN, as `Ref` resolves them locally.
    pub resources: BTreeMap<String, String>,
}

impl LocalServices {
    /// Reads the file at `path`.
    pub fn read(path: &Path) -> Result<LocalServices, Error> {
        let path = path.to_owned();
        let text = std::fs::read_to_string(&path).map_err(|error| Error::Read {
            path: path.clone(),
            error,
            hint: HINT,
        })?;
        serde_json::from_str(&text).map_err(|error| Error::Parse {
            path,
            error,
            hint: HINT,
        })
    }

    /// Writes it to `path` at once (never half a file).
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let mut text = serde_json::to_string_pretty(self).expect("strings serialize");
        text.push('\n');
        write_atomically(path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_round_trips_and_a_missing_file_says_what_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.services.json");
        let err = LocalServices::read(&path).unwrap_err().to_string();
        assert!(err.contains("cargo xtask dev"), "{err}");
        let services = LocalServices {
            endpoint: "http://127.0.0.1:4566".into(),
            pid: 42,
            resources: BTreeMap::from([("ConnectionsTable".into(), "connections".into())]),
        };
        services.write(&path).unwrap();
        assert_eq!(LocalServices::read(&path).unwrap(), services);
    }
}
