//! Two templates → one stack's review.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::replacement::{conditional_create_only, create_only, path_matches};
use crate::{
    ChangeKind, NamedChange, PropertyChange, Replacement, ResourceChange, StackReview, StackStatus,
    security,
};

/// What changes going from `old` to `new`, for the stack `stack` (the name the output shows).
/// `None` means the stack doesn't exist on that side: the whole stack is added or removed.
pub fn compare(stack: &str, old: Option<&Value>, new: Option<&Value>) -> StackReview {
    let empty = Value::Object(Map::new());
    let (before, after) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
    let old_resources = section(before, "Resources");
    let new_resources = section(after, "Resources");

    let mut resources = Vec::new();
    let ids: BTreeSet<&String> = old_resources.keys().chain(new_resources.keys()).collect();
    for id in ids {
        match (old_resources.get(id), new_resources.get(id)) {
            (None, Some(resource)) => resources.push(whole(id, resource, ChangeKind::Added)),
            (Some(resource), None) => resources.push(whole(id, resource, ChangeKind::Removed)),
            (Some(a), Some(b)) if a != b => resources.push(modified(id, a, b)),
            _ => {}
        }
    }
    let mut security = security::changes(old_resources, new_resources);
    if new.is_none() {
        // The whole stack goes: no guard it removes leaves anything open.
        for change in &mut security {
            change.access = crate::Access::Narrowed;
        }
    }
    let outputs = named_changes(section(before, "Outputs"), section(after, "Outputs"));
    let parameters = named_changes(section(before, "Parameters"), section(after, "Parameters"));
    // A whole stack added or removed: its description and version aren't news.
    let sections = match (old, new) {
        (Some(a), Some(b)) => named_changes(&others(a), &others(b)),
        _ => Vec::new(),
    };
    let status = match (old, new) {
        (None, Some(_)) => StackStatus::Added,
        (Some(_), None) => StackStatus::Removed,
        _ if resources.is_empty()
            && outputs.is_empty()
            && parameters.is_empty()
            && sections.is_empty() =>
        {
            StackStatus::Unchanged
        }
        _ => StackStatus::Modified,
    };
    StackReview {
        stack: stack.to_owned(),
        status,
        resources,
        security,
        outputs,
        parameters,
        sections,
    }
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

pub(crate) fn section<'a>(template: &'a Value, name: &str) -> &'a Map<String, Value> {
    template
        .get(name)
        .and_then(Value::as_object)
        .unwrap_or(&EMPTY)
}

/// The template's top-level keys other than resources, outputs and parameters.
fn others(template: &Value) -> Map<String, Value> {
    template
        .as_object()
        .map(|map| {
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "Resources" | "Outputs" | "Parameters"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn resource_type(resource: &Value) -> &str {
    resource.get("Type").and_then(Value::as_str).unwrap_or("?")
}

fn whole(id: &str, resource: &Value, change: ChangeKind) -> ResourceChange {
    ResourceChange {
        logical_id: id.to_owned(),
        resource_type: resource_type(resource).to_owned(),
        change,
        replacement: Replacement::No,
        properties: Vec::new(),
    }
}

fn modified(id: &str, old: &Value, new: &Value) -> ResourceChange {
    let new_type = resource_type(new);
    let type_changed = resource_type(old) != new_type;
    let table = create_only(new_type);
    let conditional = conditional_create_only(new_type);
    let mut properties = Vec::new();

    let empty = Map::new();
    let props = |r: &'_ Value| -> Map<String, Value> {
        r.get("Properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty)
            .clone()
    };
    let mut changes = Vec::new();
    diff(
        &Value::Object(props(old)),
        &Value::Object(props(new)),
        "",
        &mut changes,
    );
    for (path, before, after) in changes {
        let replacement = if type_changed {
            Replacement::Yes
        } else {
            match table {
                None => Replacement::Unknown,
                Some(pointers) if pointers.iter().any(|p| path_matches(&path, p)) => {
                    Replacement::Yes
                }
                Some(_) if conditional.iter().any(|p| path_matches(&path, p)) => {
                    Replacement::Conditional
                }
                Some(_) => Replacement::No,
            }
        };
        properties.push(PropertyChange {
            path,
            old: before,
            new: after,
            replacement,
        });
    }
    // The rest of the resource (Type, DependsOn, Metadata, DeletionPolicy…): never a
    // property of the resource itself, so only a type change replaces.
    let rest = |r: &Value| -> Value {
        Value::Object(
            r.as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| k.as_str() != "Properties")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        )
    };
    let mut changes = Vec::new();
    diff(&rest(old), &rest(new), "", &mut changes);
    for (path, before, after) in changes {
        let replacement = if path == "Type" {
            Replacement::Yes
        } else {
            Replacement::No
        };
        properties.push(PropertyChange {
            path,
            old: before,
            new: after,
            replacement,
        });
    }
    properties.sort_by(|a, b| a.path.cmp(&b.path));

    let any = |r: Replacement| properties.iter().any(|p| p.replacement == r);
    let replacement = if any(Replacement::Yes) {
        Replacement::Yes
    } else if any(Replacement::Conditional) {
        Replacement::Conditional
    } else if properties
        .iter()
        .any(|p| p.replacement == Replacement::Unknown)
    {
        Replacement::Unknown
    } else {
        Replacement::No
    };
    ResourceChange {
        logical_id: id.to_owned(),
        resource_type: new_type.to_owned(),
        change: ChangeKind::Modified,
        replacement,
        properties,
    }
}

type Change = (String, Option<Value>, Option<Value>);

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The paths that differ, as the deploy crate's change-set annotation has always named them:
/// objects by key, same-length lists by index, anything else as a whole.
fn diff(old: &Value, new: &Value, prefix: &str, out: &mut Vec<Change>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) if x == y => {}
                    (Some(x), Some(y)) => diff(x, y, &join(prefix, key), out),
                    (x, y) => out.push((join(prefix, key), x.cloned(), y.cloned())),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() && !prefix.is_empty() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if x != y {
                    diff(x, y, &format!("{prefix}[{i}]"), out);
                }
            }
        }
        _ => out.push((
            if prefix.is_empty() {
                "(whole resource)".to_owned()
            } else {
                prefix.to_owned()
            },
            Some(old.clone()),
            Some(new.clone()),
        )),
    }
}

fn named_changes(old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<NamedChange> {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|name| {
            let change = match (old.get(name), new.get(name)) {
                (None, Some(_)) => ChangeKind::Added,
                (Some(_), None) => ChangeKind::Removed,
                (Some(a), Some(b)) if a != b => ChangeKind::Modified,
                _ => return None,
            };
            Some(NamedChange {
                name: name.clone(),
                change,
            })
        })
        .collect()
}
