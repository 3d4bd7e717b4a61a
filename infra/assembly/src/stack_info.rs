//! `stack.json`: where an assembly's stack goes.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::SYNTH_HINT;
use crate::{Error, STACK_FILE};

/// Where the assembly's stack goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StackInfo {
    pub stage: String,
    pub stack_name: String,
    pub region: String,
    /// The account the stage file pins the stack to: deploy, diff and destroy refuse
    /// credentials of another account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

impl StackInfo {
    /// Reads `stack.json` alone: `destroy` needs no template and no zips.
    pub fn read(assembly_dir: &Path) -> Result<StackInfo, Error> {
        let path = assembly_dir.join(STACK_FILE);
        let text = std::fs::read_to_string(&path).map_err(|error| Error::Read {
            path: path.clone(),
            error,
            hint: SYNTH_HINT,
        })?;
        serde_json::from_str(&text).map_err(|error| Error::Parse {
            path,
            error,
            hint: SYNTH_HINT,
        })
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("strings serialize");
        text.push('\n');
        text
    }
}
