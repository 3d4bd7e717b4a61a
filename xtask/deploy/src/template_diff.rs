//! Resource-level difference between two CloudFormation templates: added, removed and
//! modified logical IDs with their types and the property paths that changed. Used offline
//! (`diff --template FILE`) and to annotate a change set with what changed in each resource.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplateDiff {
    pub added: Vec<ResourceRef>,
    pub removed: Vec<ResourceRef>,
    pub modified: Vec<Modified>,
    /// Outputs and parameters whose definition changed (by name).
    pub outputs: Vec<String>,
    pub parameters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    pub logical_id: String,
    pub resource_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modified {
    pub logical_id: String,
    pub resource_type: String,
    /// Changed paths inside the resource: `Code.S3Key` for properties, `Metadata.x`,
    /// `DependsOn`, `Type` for everything else.
    pub paths: Vec<String>,
}

impl TemplateDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.modified.is_empty()
            && self.outputs.is_empty()
            && self.parameters.is_empty()
    }

    /// The changed paths of one resource, if it changed.
    pub fn paths_of(&self, logical_id: &str) -> Option<&[String]> {
        self.modified
            .iter()
            .find(|m| m.logical_id == logical_id)
            .map(|m| m.paths.as_slice())
    }

    /// A readable listing, one resource a line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.is_empty() {
            out.push_str("no differences\n");
            return out;
        }
        for r in &self.added {
            let _ = writeln!(out, "  + {:<40} {}", r.logical_id, r.resource_type);
        }
        for m in &self.modified {
            let _ = writeln!(
                out,
                "  ~ {:<40} {}  [{}]",
                m.logical_id,
                m.resource_type,
                m.paths.join(", ")
            );
        }
        for r in &self.removed {
            let _ = writeln!(out, "  - {:<40} {}", r.logical_id, r.resource_type);
        }
        if !self.parameters.is_empty() {
            let _ = writeln!(out, "  parameters changed: {}", self.parameters.join(", "));
        }
        if !self.outputs.is_empty() {
            let _ = writeln!(out, "  outputs changed: {}", self.outputs.join(", "));
        }
        out
    }
}

fn section<'a>(template: &'a Value, name: &str) -> Option<&'a Map<String, Value>> {
    template.get(name).and_then(Value::as_object)
}

fn resource_type(resource: &Value) -> String {
    resource
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned()
}

/// What changed going from `old` to `new`.
pub fn diff_templates(old: &Value, new: &Value) -> TemplateDiff {
    let empty = Map::new();
    let old_resources = section(old, "Resources").unwrap_or(&empty);
    let new_resources = section(new, "Resources").unwrap_or(&empty);
    let mut diff = TemplateDiff::default();
    for (id, resource) in new_resources {
        match old_resources.get(id) {
            None => diff.added.push(ResourceRef {
                logical_id: id.clone(),
                resource_type: resource_type(resource),
            }),
            Some(before) if before != resource => {
                let mut paths = Vec::new();
                changed_paths(before, resource, "", &mut paths);
                let paths = paths
                    .into_iter()
                    .map(|p| {
                        p.strip_prefix("Properties.")
                            .map_or(p.clone(), str::to_owned)
                    })
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                diff.modified.push(Modified {
                    logical_id: id.clone(),
                    resource_type: resource_type(resource),
                    paths,
                });
            }
            Some(_) => {}
        }
    }
    for (id, resource) in old_resources {
        if !new_resources.contains_key(id) {
            diff.removed.push(ResourceRef {
                logical_id: id.clone(),
                resource_type: resource_type(resource),
            });
        }
    }
    diff.outputs = changed_keys(section(old, "Outputs"), section(new, "Outputs"));
    diff.parameters = changed_keys(section(old, "Parameters"), section(new, "Parameters"));
    diff
}

fn changed_keys(old: Option<&Map<String, Value>>, new: Option<&Map<String, Value>>) -> Vec<String> {
    let empty = Map::new();
    let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect()
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn changed_paths(old: &Value, new: &Value, prefix: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) if x == y => {}
                    (Some(x), Some(y)) => changed_paths(x, y, &join(prefix, key), out),
                    _ => out.push(join(prefix, key)),
                }
            }
        }
        // Same length: name the elements that changed; otherwise the list as a whole.
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() && !prefix.is_empty() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if x != y {
                    changed_paths(x, y, &format!("{prefix}[{i}]"), out);
                }
            }
        }
        _ => out.push(if prefix.is_empty() {
            "(whole resource)".to_owned()
        } else {
            prefix.to_owned()
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn added_removed_and_modified_resources_with_paths() {
        let old = json!({
            "Parameters": {"AssetsBucket": {"Type": "String"}},
            "Resources": {
                "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                    "Code": {"S3Bucket": {"Ref": "AssetsBucket"}, "S3Key": "aa.zip"},
                    "Environment": {"Variables": {"A": "1"}},
                    "Architectures": ["arm64"]}},
                "Gone": {"Type": "AWS::SQS::Queue"},
                "Same": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}}
            },
            "Outputs": {"Url": {"Value": "a"}}
        });
        let new = json!({
            "Parameters": {"AssetsBucket": {"Type": "String"}},
            "Resources": {
                "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                    "Code": {"S3Bucket": {"Ref": "AssetsBucket"}, "S3Key": "bb.zip"},
                    "Environment": {"Variables": {"A": "1", "B": "2"}},
                    "Architectures": ["x86_64"]},
                    "DependsOn": ["Role"]},
                "New": {"Type": "AWS::IAM::Role"},
                "Same": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}}
            },
            "Outputs": {"Url": {"Value": "b"}}
        });
        let diff = diff_templates(&old, &new);
        assert_eq!(
            diff.added,
            vec![ResourceRef {
                logical_id: "New".into(),
                resource_type: "AWS::IAM::Role".into()
            }]
        );
        assert_eq!(diff.removed[0].logical_id, "Gone");
        assert_eq!(diff.modified.len(), 1);
        assert_eq!(
            diff.modified[0].paths,
            vec![
                "Architectures[0]",
                "Code.S3Key",
                "DependsOn",
                "Environment.Variables.B"
            ]
        );
        assert_eq!(diff.outputs, vec!["Url"]);
        assert!(diff.parameters.is_empty());
        let text = diff.render();
        assert!(text.contains("+ New"), "{text}");
        assert!(text.contains("- Gone"), "{text}");
        assert!(text.contains("[Architectures[0], Code.S3Key"), "{text}");
        assert!(!text.contains("Same"), "{text}");
    }

    #[test]
    fn identical_templates_have_no_differences() {
        let t = json!({"Resources": {"A": {"Type": "AWS::SQS::Queue"}}});
        let diff = diff_templates(&t, &t);
        assert!(diff.is_empty());
        assert_eq!(diff.render(), "no differences\n");
    }
}
