//! What a template needs from the deploy: the capabilities to acknowledge and the parameter
//! values to supply. Checked before anything is sent, so a gap is a clear local error.

use assembly::template::ASSETS_BUCKET_PARAMETER;
use serde_json::Value;

use crate::{Error, Result};

/// The IAM resource types whose explicit name needs `CAPABILITY_NAMED_IAM`.
const NAMED_IAM: &[(&str, &str)] = &[
    ("AWS::IAM::Role", "RoleName"),
    ("AWS::IAM::User", "UserName"),
    ("AWS::IAM::Group", "GroupName"),
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
    ("AWS::IAM::InstanceProfile", "InstanceProfileName"),
];

/// `CAPABILITY_IAM` when the template has IAM resources, `CAPABILITY_NAMED_IAM` when one of
/// them is named, `CAPABILITY_AUTO_EXPAND` for macros.
pub fn capabilities(template: &Value) -> Vec<&'static str> {
    let mut caps = Vec::new();
    let resources = template.get("Resources").and_then(Value::as_object);
    let iam = resources.into_iter().flatten().filter(|(_, r)| {
        r.get("Type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("AWS::IAM::"))
    });
    let mut any = false;
    let mut named = false;
    for (_, resource) in iam {
        any = true;
        let ty = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        named |= NAMED_IAM.iter().any(|(t, prop)| {
            *t == ty && resource.pointer(&format!("/Properties/{prop}")).is_some()
        });
    }
    if any {
        caps.push("CAPABILITY_IAM");
    }
    if named {
        caps.push("CAPABILITY_NAMED_IAM");
    }
    if template.get("Transform").is_some() {
        caps.push("CAPABILITY_AUTO_EXPAND");
    }
    caps
}

/// The parameter values to send: the assets bucket where the template declares it. Any
/// other parameter needs a `Default`, since deploy has nothing else to give.
pub fn parameters(template: &Value, assets_bucket: Option<&str>) -> Result<Vec<(String, String)>> {
    let mut values = Vec::new();
    let declared = template.get("Parameters").and_then(Value::as_object);
    for (name, def) in declared.into_iter().flatten() {
        if name == ASSETS_BUCKET_PARAMETER {
            match assets_bucket {
                Some(bucket) => values.push((name.clone(), bucket.to_owned())),
                None => {
                    return Err(Error::NoAssetsBucket {
                        parameter: name.clone(),
                    });
                }
            }
        } else if def.get("Default").is_none() {
            return Err(Error::ParameterWithoutDefault {
                parameter: name.clone(),
            });
        }
    }
    Ok(values)
}

/// Does this template take the assets bucket?
pub fn needs_assets_bucket(template: &Value) -> bool {
    template
        .pointer(&format!("/Parameters/{ASSETS_BUCKET_PARAMETER}"))
        .is_some()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn iam_resources_need_capabilities() {
        assert!(capabilities(&json!({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})).is_empty());
        assert_eq!(
            capabilities(
                &json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {}}}})
            ),
            vec!["CAPABILITY_IAM"]
        );
        assert_eq!(
            capabilities(&json!({"Resources": {"R": {"Type": "AWS::IAM::Role",
                "Properties": {"RoleName": "x"}}}})),
            vec!["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
        );
    }

    #[test]
    fn parameters_get_the_bucket_and_others_need_defaults() {
        let t = json!({"Parameters": {
            "AssetsBucket": {"Type": "String"},
            "LogLevel": {"Type": "String", "Default": "info"}}});
        assert_eq!(
            parameters(&t, Some("b")).unwrap(),
            vec![("AssetsBucket".to_owned(), "b".to_owned())]
        );
        let t = json!({"Parameters": {"Other": {"Type": "String"}}});
        let err = parameters(&t, Some("b")).unwrap_err().to_string();
        assert!(err.contains("`Other` has no Default"), "{err}");
    }
}
