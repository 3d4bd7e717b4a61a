//! Synth-time checks: names and CloudFormation limits, references that resolve.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::construct::ConstructPath;
use crate::error::SynthError;
use crate::intrinsics::Pseudo;
use crate::template::Template;

/// CloudFormation's limits (Service Quotas defaults).
const MAX_RESOURCES: usize = 500;
const MAX_OUTPUTS: usize = 200;
const MAX_PARAMETERS: usize = 200;
const MAX_LOGICAL_ID: usize = 255;
const MAX_STACK_NAME: usize = 128;
/// A template uploaded through S3 (the deploy does that) may be 1 MB.
const MAX_TEMPLATE_BYTES: usize = 1_000_000;

pub(crate) fn logical_id(path: &ConstructPath, id: &str) -> Result<(), SynthError> {
    if id.is_empty() {
        return Err(SynthError::InvalidLogicalId {
            path: path.to_string(),
            logical_id: id.to_owned(),
            reason: "it is empty: give the construct a name with letters or digits".into(),
        });
    }
    if id.len() > MAX_LOGICAL_ID {
        return Err(SynthError::NameTooLong {
            path: path.to_string(),
            what: "logical ID",
            value: id.to_owned(),
            len: id.len(),
            limit: MAX_LOGICAL_ID,
        });
    }
    Ok(())
}

pub(crate) fn stack_name(name: &str) -> Result<(), SynthError> {
    if name.len() > MAX_STACK_NAME {
        return Err(SynthError::NameTooLong {
            path: name.to_owned(),
            what: "stack name",
            value: name.to_owned(),
            len: name.len(),
            limit: MAX_STACK_NAME,
        });
    }
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !starts_with_letter || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(SynthError::InvalidName {
            path: name.to_owned(),
            what: "stack name",
            value: name.to_owned(),
            rule: "a stack name starts with a letter and has only letters, digits and hyphens",
        });
    }
    Ok(())
}

/// A Lambda function name: `[A-Za-z0-9_-]{1,64}`.
pub(crate) fn function_name(path: &ConstructPath, name: &str) -> Result<(), SynthError> {
    if name.len() > 64 {
        return Err(SynthError::NameTooLong {
            path: path.to_string(),
            what: "function name",
            value: name.to_owned(),
            len: name.len(),
            limit: 64,
        });
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(SynthError::InvalidName {
            path: path.to_string(),
            what: "function name",
            value: name.to_owned(),
            rule: "a Lambda function name has only letters, digits, hyphens and underscores",
        });
    }
    Ok(())
}

/// The route keys API Gateway gives meaning to.
pub const PREDEFINED_ROUTE_KEYS: [&str; 3] = ["$connect", "$disconnect", "$default"];

/// A WebSocket route key: one of the predefined `$` keys, or a value of the route selection
/// expression (printable, no whitespace, at most 128 characters).
pub(crate) fn route_key(path: &ConstructPath, key: &str) -> Result<(), SynthError> {
    let malformed = |reason: &str| SynthError::MalformedRouteKey {
        path: path.to_string(),
        route_key: key.to_owned(),
        reason: reason.to_owned(),
    };
    if key.is_empty() {
        return Err(malformed(
            "it is empty; name the action the route handles (`echo`)",
        ));
    }
    if key.len() > 128 {
        return Err(malformed("it is longer than 128 characters; shorten it"));
    }
    if key.starts_with('$') && !PREDEFINED_ROUTE_KEYS.contains(&key) {
        return Err(malformed(
            "only `$connect`, `$disconnect` and `$default` may start with `$`; drop the `$`",
        ));
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(malformed(
            "it contains whitespace or control characters; remove them",
        ));
    }
    Ok(())
}

/// Limits and references of a whole template. `paths` maps logical IDs (and `Outputs/<name>`)
/// to construct paths, for the messages.
pub(crate) fn template(
    stack: &str,
    template: &Template,
    paths: &BTreeMap<String, String>,
) -> Result<(), SynthError> {
    for (what, count, limit) in [
        ("resources", template.resources.len(), MAX_RESOURCES),
        ("outputs", template.outputs.len(), MAX_OUTPUTS),
        ("parameters", template.parameters.len(), MAX_PARAMETERS),
    ] {
        if count > limit {
            return Err(SynthError::TooMany {
                stack: stack.to_owned(),
                what,
                count,
                limit,
            });
        }
    }
    let known: BTreeSet<&str> = template
        .resources
        .keys()
        .chain(template.parameters.keys())
        .map(String::as_str)
        .chain(Pseudo::ALL.iter().map(|p| p.name()))
        .collect();
    let path_of = |key: &str| paths.get(key).cloned().unwrap_or_else(|| key.to_owned());
    for (id, entry) in &template.resources {
        let mut targets = references(&entry.properties);
        targets.extend(entry.depends_on.iter().cloned());
        if let Some(target) = targets.into_iter().find(|t| !known.contains(t.as_str())) {
            return Err(SynthError::DanglingReference {
                path: path_of(id),
                target,
            });
        }
    }
    for (name, output) in &template.outputs {
        let value =
            serde_json::to_value(&output.value).map_err(|source| SynthError::Serialize {
                path: path_of(&format!("Outputs/{name}")),
                source,
            })?;
        if let Some(target) = references(&value)
            .into_iter()
            .find(|t| !known.contains(t.as_str()))
        {
            return Err(SynthError::DanglingReference {
                path: path_of(&format!("Outputs/{name}")),
                target,
            });
        }
    }
    let size = template.to_json().len();
    if size > MAX_TEMPLATE_BYTES {
        return Err(SynthError::TooMany {
            stack: stack.to_owned(),
            what: "bytes of template",
            count: size,
            limit: MAX_TEMPLATE_BYTES,
        });
    }
    Ok(())
}

/// Every name a value references: `Ref`s, `Fn::GetAtt` targets, `Fn::Sub` variables.
pub fn references(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect(value, &mut found);
    found
}

fn collect(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) if map.len() == 1 => {
            let (key, inner) = map.iter().next().expect("one entry");
            match (key.as_str(), inner) {
                ("Ref", Value::String(name)) => found.push(name.clone()),
                ("Fn::GetAtt", Value::Array(args)) => {
                    if let Some(Value::String(name)) = args.first() {
                        found.push(name.clone());
                    }
                }
                ("Fn::GetAtt", Value::String(dotted)) => {
                    found.push(dotted.split('.').next().unwrap_or_default().to_owned());
                }
                ("Fn::Sub", Value::String(template)) => found.extend(sub_variables(template)),
                ("Fn::Sub", Value::Array(args)) => {
                    let locals: BTreeSet<&String> = match args.get(1) {
                        Some(Value::Object(vars)) => vars.keys().collect(),
                        _ => BTreeSet::new(),
                    };
                    if let Some(Value::String(template)) = args.first() {
                        found.extend(
                            sub_variables(template)
                                .into_iter()
                                .filter(|v| !locals.contains(v)),
                        );
                    }
                    args.iter().skip(1).for_each(|a| collect(a, found));
                }
                _ => collect(inner, found),
            }
        }
        Value::Object(map) => map.values().for_each(|v| collect(v, found)),
        Value::Array(items) => items.iter().for_each(|v| collect(v, found)),
        _ => {}
    }
}

/// `${Name}` and `${Name.Attr}` variables of an `Fn::Sub` template (not `${!literal}`).
pub fn sub_variables(template: &str) -> Vec<String> {
    let mut vars = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let var = &after[..end];
        if !var.starts_with('!') {
            vars.push(var.split('.').next().unwrap_or_default().to_owned());
        }
        rest = &after[end + 1..];
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_cover_ref_getatt_and_sub_but_not_escapes() {
        let value = json!({
            "A": {"Ref": "One"},
            "B": [{"Fn::GetAtt": ["Two", "Arn"]}],
            "C": {"Fn::Sub": "${Three.Arn}/${AWS::Region}/${!Literal}"},
            "D": {"Fn::Sub": ["${Local}-${Four}", {"Local": {"Ref": "Five"}}]},
        });
        let mut refs = references(&value);
        refs.sort();
        assert_eq!(refs, ["AWS::Region", "Five", "Four", "One", "Three", "Two"]);
    }

    #[test]
    fn route_keys_are_checked() {
        let path = crate::construct::Stack::new("s").root().child("r");
        assert!(route_key(&path, "$connect").is_ok());
        assert!(route_key(&path, "echo").is_ok());
        let err = route_key(&path, "$echo").unwrap_err().to_string();
        assert!(err.contains("drop the `$`") && err.contains("s/r"), "{err}");
        assert!(route_key(&path, "").is_err());
        assert!(route_key(&path, "a b").is_err());
        assert!(route_key(&path, &"x".repeat(129)).is_err());
    }

    #[test]
    fn stack_and_function_names_are_checked() {
        assert!(stack_name("wsecho-dev").is_ok());
        assert!(stack_name("1abc").is_err());
        assert!(stack_name(&"a".repeat(129)).is_err());
        let path = crate::construct::Stack::new("s").root().child("f");
        assert!(function_name(&path, "wsecho-dev-echo").is_ok());
        let err = function_name(&path, &"f".repeat(65))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("65 characters") && err.contains("allows 64"),
            "{err}"
        );
        assert!(function_name(&path, "a.b").is_err());
    }
}
