//! One stack per name in an account and region: two stage files naming the same stack in the
//! same region would deploy over each other (each deploy replacing the other's API), so a
//! stage file is refused when another one in the same stages folder claims its stack.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;

/// The fields that say where a stage's stack goes; everything else in the file is ignored.
#[derive(Deserialize)]
struct Place {
    stack_name: String,
    region: String,
    #[serde(default)]
    account_id: Option<String>,
}

/// Whether two stages' stacks are the same stack: same name and region, and not pinned to
/// two different accounts.
fn same_stack(a: &Place, b: &Place) -> bool {
    a.stack_name == b.stack_name
        && a.region == b.region
        && match (&a.account_id, &b.account_id) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
}

/// The 1-based line of `field:` at the top level of a stage file (0 when absent).
fn line_of(text: &str, field: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(&format!("{field}:")))
        .map_or(0, |i| i + 1)
}

/// The stage files beside `path` in its stages folder (`<stages>/<app>/<stage>.yaml`), when
/// that folder is one (it holds `stage.schema.json`); none for a file anywhere else.
fn siblings(path: &Path) -> Vec<PathBuf> {
    let Some(root) = path.parent().and_then(Path::parent) else {
        return Vec::new();
    };
    if !root.join("stage.schema.json").is_file() {
        return Vec::new();
    }
    let mut files = Vec::new();
    for app in std::fs::read_dir(root).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(app.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let file = file.path();
            if file.extension().is_some_and(|e| e == "yaml") && !same_file(&file, path) {
                files.push(file);
            }
        }
    }
    files.sort();
    files
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Refuses `path` (whose text is `text`) when another stage file claims the same stack.
/// Files that don't parse are skipped here: loading them reports their own errors.
pub(super) fn check_unique(path: &Path, text: &str) -> Result<(), ConfigError> {
    let Ok(this) = serde_yaml::from_str::<Place>(text) else {
        return Ok(());
    };
    for other_path in siblings(path) {
        let Ok(other_text) = std::fs::read_to_string(&other_path) else {
            continue;
        };
        let Ok(other) = serde_yaml::from_str::<Place>(&other_text) else {
            continue;
        };
        if same_stack(&this, &other) {
            return Err(ConfigError::SameStack {
                path: path.to_owned(),
                line: line_of(text, "stack_name"),
                stack: this.stack_name,
                region: this.region,
                other: other_path,
                other_line: line_of(&other_text, "stack_name"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(name: &str, region: &str, account: Option<&str>) -> Place {
        Place {
            stack_name: name.into(),
            region: region.into(),
            account_id: account.map(Into::into),
        }
    }

    #[test]
    fn a_stack_is_its_name_in_a_region_and_account() {
        let dev = place("wsecho-dev", "eu-west-1", None);
        assert!(same_stack(&dev, &place("wsecho-dev", "eu-west-1", None)));
        assert!(same_stack(
            &dev,
            &place("wsecho-dev", "eu-west-1", Some("111111111111"))
        ));
        assert!(!same_stack(&dev, &place("wsecho-dev", "us-east-1", None)));
        assert!(!same_stack(&dev, &place("wsecho-prod", "eu-west-1", None)));
        assert!(!same_stack(
            &place("wsecho-dev", "eu-west-1", Some("111111111111")),
            &place("wsecho-dev", "eu-west-1", Some("222222222222"))
        ));
    }

    #[test]
    fn lines_are_found_at_the_top_level() {
        let text = "stage: dev\n  stack_name: nested\nstack_name: x\n";
        assert_eq!(line_of(text, "stack_name"), 3);
        assert_eq!(line_of(text, "region"), 0);
    }
}
