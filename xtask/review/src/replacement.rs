//! Which property changes replace a resource: each type's `createOnlyProperties` from the
//! CloudFormation resource schemas that the pinned cfn-lint ships. `generate` writes the table
//! (`src/create_only.rs`) for the types the model uses; `cargo xtask codegen` calls it and a test
//! fails when the checked-in table is stale.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::Error;
use crate::create_only::CREATE_ONLY;

/// The JSON pointers (`/properties/TableName`) of a type's create-only properties, or `None`
/// when the type isn't in the generated table.
pub fn create_only(resource_type: &str) -> Option<&'static [&'static str]> {
    CREATE_ONLY
        .binary_search_by(|(name, _)| (*name).cmp(resource_type))
        .ok()
        .map(|i| CREATE_ONLY[i].1)
}

/// Whether a changed property path (`KeySchema[0].AttributeName`, as the review spells it)
/// falls under a create-only pointer (`/properties/KeySchema`), or contains one
/// (`Tags` vs `/properties/Tags/*/Key`): either way the change touches a property that
/// CloudFormation can only set by creating the resource anew.
pub(crate) fn path_matches(path: &str, pointer: &str) -> bool {
    let Some(pointer) = pointer.strip_prefix("/properties/") else {
        return false;
    };
    let path = path_segments(path);
    let pointer: Vec<&str> = pointer.split('/').collect();
    path.iter()
        .zip(&pointer)
        .all(|(seg, ptr)| *ptr == "*" || seg == ptr)
}

/// `A.B[0].C` → `["A", "B", "0", "C"]`.
fn path_segments(path: &str) -> Vec<String> {
    let mut segments = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            segments.push(rest[..open].to_owned());
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let close = stripped.find(']').unwrap_or(stripped.len());
                segments.push(stripped[..close].to_owned());
                rest = stripped.get(close + 1..).unwrap_or("");
            }
        } else {
            segments.push(rest.to_owned());
        }
    }
    segments
}

/// Rust source of `src/create_only.rs` for exactly `types`, from cfn-lint's schemas directory
/// (`…/site-packages/cfnlint/data/schemas`). Deterministic, and already as `rustfmt --edition
/// 2024` leaves it, so the freshness test can compare it byte for byte.
pub fn generate(schemas_dir: &Path, types: &BTreeSet<String>) -> Result<String, Error> {
    let version = cfn_lint_version(schemas_dir)?;
    let providers = schemas_dir.join("providers/us-east-1.json");
    let hashes: BTreeMap<String, String> = read_json(&providers).and_then(|v| {
        serde_json::from_value(v).map_err(|e| Error::Schema {
            path: providers.clone(),
            message: format!("not a map of type name to schema file: {e}"),
        })
    })?;
    let mut table = Vec::new();
    for resource_type in types {
        // Custom resources have no schema: the review says "replacement unknown" for them.
        if resource_type.starts_with("Custom::")
            || resource_type == "AWS::CloudFormation::CustomResource"
        {
            continue;
        }
        let hash = hashes
            .get(resource_type)
            .ok_or_else(|| Error::UnknownType {
                resource_type: resource_type.clone(),
                path: providers.clone(),
            })?;
        let path = schemas_dir.join("resources").join(format!("{hash}.json"));
        let schema = read_json(&path)?;
        let pointers: BTreeSet<String> =
            match schema.get("createOnlyProperties") {
                None => BTreeSet::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| {
                        item.as_str().map(str::to_owned).ok_or_else(|| Error::Schema {
                        path: path.clone(),
                        message: format!(
                            "{resource_type}: createOnlyProperties holds a non-string {item}"
                        ),
                    })
                    })
                    .collect::<Result<_, _>>()?,
                Some(other) => {
                    return Err(Error::Schema {
                        path,
                        message: format!(
                            "{resource_type}: createOnlyProperties is {other}, not a list"
                        ),
                    });
                }
            };
        table.push((resource_type.as_str(), pointers));
    }
    Ok(render_table(&version, &table))
}

fn read_json(path: &Path) -> Result<Value, Error> {
    let text = fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Schema {
        path: path.to_owned(),
        message: format!("not JSON: {e}"),
    })
}

/// cfn-lint's version, from `cfnlint/version.py` next to its `data/schemas`.
fn cfn_lint_version(schemas_dir: &Path) -> Result<String, Error> {
    let path: PathBuf = schemas_dir.join("../../version.py");
    let text = fs::read_to_string(&path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    text.lines()
        .find_map(|line| {
            let value = line.strip_prefix("__version__")?.trim_start();
            let value = value.strip_prefix('=')?.trim();
            Some(value.trim_matches(|c| c == '"' || c == '\'').to_owned())
        })
        .ok_or_else(|| Error::Schema {
            path,
            message: "no `__version__ = \"…\"` line".to_owned(),
        })
}

// rustfmt's defaults that decide whether a list stays on one line: `fn_call_width` for tuples,
// `array_width` for arrays, `max_width` for the line.
const FN_CALL_WIDTH: usize = 60;
const ARRAY_WIDTH: usize = 60;
const MAX_WIDTH: usize = 100;

fn render_table(version: &str, table: &[(&str, BTreeSet<String>)]) -> String {
    let mut out = format!(
        "// generated by `cargo xtask codegen` from cfn-lint {version}'s schemas: do not edit\n\n\
         /// Each resource type's `createOnlyProperties` (JSON pointers), sorted by type.\n\
         pub(crate) static CREATE_ONLY: &[(&str, &[&str])] = &[\n"
    );
    for (resource_type, pointers) in table {
        let name = quote(resource_type);
        let items: Vec<String> = pointers.iter().map(|p| quote(p)).collect();
        let one_line_array = format!("&[{}]", items.join(", "));
        // rustfmt keeps a one-element list on one line whenever it fits the line.
        let array_fits = items.len() == 1 || items.join(", ").len() <= ARRAY_WIDTH;
        let tuple_inner = format!("{name}, {one_line_array}");
        // 4 spaces of indent, the parentheses and the trailing comma.
        if array_fits
            && tuple_inner.len() <= FN_CALL_WIDTH
            && 4 + tuple_inner.len() + 3 <= MAX_WIDTH
        {
            let _ = writeln!(out, "    ({tuple_inner}),");
            continue;
        }
        let _ = writeln!(out, "    (\n        {name},");
        // 8 spaces of indent and the trailing comma.
        if array_fits && 8 + one_line_array.len() + ",".len() <= MAX_WIDTH {
            let _ = writeln!(out, "        {one_line_array},");
        } else {
            out.push_str("        &[\n");
            for item in &items {
                let _ = writeln!(out, "            {item},");
            }
            out.push_str("        ],\n");
        }
        out.push_str("    ),\n");
    }
    out.push_str("];\n");
    out
}

fn quote(s: &str) -> String {
    // Type names and pointers are ASCII without quotes or backslashes; escape anyway.
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_create_only_pointers_prefix_wise_both_ways() {
        assert!(path_matches("TableName", "/properties/TableName"));
        assert!(path_matches(
            "KeySchema[0].AttributeName",
            "/properties/KeySchema"
        ));
        assert!(path_matches("Tags", "/properties/Tags/*/Key"));
        assert!(path_matches("Tags[2].Key", "/properties/Tags/*/Key"));
        assert!(!path_matches("Tags[2].Value", "/properties/Tags/*/Key"));
        assert!(!path_matches("TableNameX", "/properties/TableName"));
        assert!(!path_matches("BillingMode", "/properties/TableName"));
    }

    #[test]
    fn the_table_answers_for_known_types_only() {
        let function = create_only("AWS::Lambda::Function").unwrap();
        assert!(
            function.contains(&"/properties/FunctionName"),
            "{function:?}"
        );
        assert_eq!(create_only("AWS::Nope::Nothing"), None);
        let names: Vec<&str> = CREATE_ONLY.iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            names, sorted,
            "the generated table must be sorted and unique"
        );
    }
}
