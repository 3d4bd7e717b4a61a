//! Synth-time checks: names and CloudFormation limits, references that resolve, WebSocket
//! APIs that can deploy.

use std::collections::{BTreeMap, BTreeSet};

use assembly::intrinsics::references;
use serde_json::Value;

use crate::error::{SynthError, Warning};
use crate::intrinsics::Pseudo;
use crate::path::ConstructPath;
use crate::resources::Resource;
use crate::resources::apigatewayv2::{Api, Route};
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

/// What a WebSocket API needs to deploy and answer: at least one route (API Gateway refuses
/// to deploy an API without one), and a warning without `$default`. Run at synth, so no
/// construct has to remember to ask for it.
pub(crate) fn websocket_apis(
    template: &Template,
    paths: &BTreeMap<String, String>,
) -> Result<Vec<Warning>, SynthError> {
    let path_of = |key: &str| paths.get(key).cloned().unwrap_or_else(|| key.to_owned());
    let mut warnings = Vec::new();
    for (id, api) in &template.resources {
        if api.type_name != Api::TYPE
            || api.properties.get("ProtocolType") != Some(&Value::from("WEBSOCKET"))
        {
            continue;
        }
        let reference = serde_json::json!({ "Ref": id });
        let keys: Vec<&str> = template
            .resources
            .values()
            .filter(|r| r.type_name == Route::TYPE && r.properties.get("ApiId") == Some(&reference))
            .filter_map(|r| r.properties.get("RouteKey").and_then(Value::as_str))
            .collect();
        if keys.is_empty() {
            return Err(SynthError::NoRoutes { path: path_of(id) });
        }
        if !keys.contains(&"$default") {
            warnings.push(Warning {
                path: path_of(id),
                message: "no `$default` route: messages that match no route get `Forbidden`; add a `$default` route to answer them".into(),
            });
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_are_checked() {
        let path = ConstructPath::root("s").child("r");
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
        let path = ConstructPath::root("s").child("f");
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
