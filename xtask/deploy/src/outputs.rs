//! The stack's outputs: shown after a deploy (the `wss://` URL first, with a line to try it)
//! and saved as the assembly's `outputs.json` (`{"OutputKey": "value", ...}`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use assembly::OUTPUTS_FILE;
use assembly::write_atomically;

use crate::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub key: String,
    pub value: String,
    pub description: Option<String>,
}

/// A deployed stack's outputs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outputs {
    pub stack_name: String,
    /// WebSocket URLs first, then by key.
    pub outputs: Vec<Output>,
}

impl Outputs {
    pub(crate) fn new(stack_name: &str, mut outputs: Vec<Output>) -> Outputs {
        outputs.sort_by(|a, b| {
            (!a.value.starts_with("wss://"), &a.key).cmp(&(!b.value.starts_with("wss://"), &b.key))
        });
        Outputs {
            stack_name: stack_name.to_owned(),
            outputs,
        }
    }

    /// The WebSocket URL, when the stack has one.
    pub(crate) fn websocket_url(&self) -> Option<&str> {
        self.outputs
            .iter()
            .map(|o| o.value.as_str())
            .find(|v| v.starts_with("wss://"))
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if self.outputs.is_empty() {
            let _ = writeln!(out, "Stack {} has no outputs.", self.stack_name);
            return out;
        }
        let _ = writeln!(out, "Outputs of {}:", self.stack_name);
        let width = self.outputs.iter().map(|o| o.key.len()).max().unwrap_or(0);
        for o in &self.outputs {
            let _ = writeln!(out, "  {:<width$}  {}", o.key, o.value);
        }
        if let Some(url) = self.websocket_url() {
            let _ = writeln!(out, "\nTry it:\n  wscat -c {url}");
        }
        out
    }

    /// `{"Key": "value"}` sorted by key, pretty, newline-terminated.
    pub(crate) fn to_json(&self) -> String {
        let map: BTreeMap<&str, &str> = self
            .outputs
            .iter()
            .map(|o| (o.key.as_str(), o.value.as_str()))
            .collect();
        let mut text = serde_json::to_string_pretty(&map).expect("a map of strings serializes");
        text.push('\n');
        text
    }

    /// Writes `outputs.json` into the assembly folder.
    pub(crate) fn save(&self, assembly_dir: &Path) -> Result<()> {
        Ok(write_atomically(
            &assembly_dir.join(OUTPUTS_FILE),
            self.to_json().as_bytes(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(key: &str, value: &str) -> Output {
        Output {
            key: key.into(),
            value: value.into(),
            description: None,
        }
    }

    #[test]
    fn the_websocket_url_comes_first_with_a_way_to_try_it() {
        let outputs = Outputs::new(
            "wsecho-dev",
            vec![
                output("ApiId", "abc123"),
                output(
                    "CallbackUrl",
                    "https://abc123.execute-api.us-east-1.amazonaws.com/dev",
                ),
                output(
                    "WebSocketUrl",
                    "wss://abc123.execute-api.us-east-1.amazonaws.com/dev",
                ),
            ],
        );
        assert_eq!(outputs.outputs[0].key, "WebSocketUrl");
        let text = outputs.render();
        assert!(
            text.contains("wscat -c wss://abc123.execute-api.us-east-1.amazonaws.com/dev"),
            "{text}"
        );
        let json: BTreeMap<String, String> = serde_json::from_str(&outputs.to_json()).unwrap();
        assert_eq!(json["ApiId"], "abc123");
        assert_eq!(json.len(), 3);
    }
}
