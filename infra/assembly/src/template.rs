//! What synthesis writes into a template for its readers, and how they find it.

use serde_json::{Map, Value};

/// The `Metadata` key naming the function crate (Cargo package) a Lambda function runs.
pub const PACKAGE_METADATA: &str = "wsecho:package";

/// The template parameter receiving the name of the bucket that holds the function zips.
pub const ASSETS_BUCKET_PARAMETER: &str = "AssetsBucket";

/// The logical ID of the toolkit stack's assets bucket: deploy finds the bucket by it (stack
/// outputs can't be relied on: moto's change sets drop them).
pub const TOOLKIT_BUCKET: &str = "AssetsBucket";

/// The resource type whose code comes from the assembly's zips.
pub const FUNCTION_TYPE: &str = "AWS::Lambda::Function";

/// The resource's `Type`.
pub fn resource_type(resource: &Value) -> Option<&str> {
    resource.get("Type").and_then(Value::as_str)
}

/// `(logical ID, resource)` of every resource of `type_name`, by logical ID.
pub fn resources_of_type<'a>(
    template: &'a Value,
    type_name: &'a str,
) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
    template
        .get("Resources")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(move |(_, resource)| resource_type(resource) == Some(type_name))
        .map(|(id, resource)| (id.as_str(), resource))
}

/// The resource's `Properties` (empty when it has none).
pub fn properties(resource: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    resource
        .get("Properties")
        .and_then(Value::as_object)
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// The function crate a resource runs, from its [`PACKAGE_METADATA`].
pub fn package(resource: &Value) -> Option<&str> {
    resource
        .get("Metadata")
        .and_then(|m| m.get(PACKAGE_METADATA))
        .and_then(Value::as_str)
}

/// `(logical ID, S3Key)` of every function whose code is a literal key.
pub fn function_code_keys(template: &Value) -> Vec<(String, String)> {
    resources_of_type(template, FUNCTION_TYPE)
        .filter_map(|(id, resource)| {
            let key = resource.pointer("/Properties/Code/S3Key")?.as_str()?;
            Some((id.to_owned(), key.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn functions_are_found_with_their_code_and_package() {
        let template = json!({"Resources": {
            "EchoFunction": {"Type": FUNCTION_TYPE, "Metadata": {PACKAGE_METADATA: "echo"},
                "Properties": {"Code": {"S3Key": "ab.zip"}}},
            "Inline": {"Type": FUNCTION_TYPE, "Properties": {"Code": {"ZipFile": "x"}}},
            "Role": {"Type": "AWS::IAM::Role"},
        }});
        assert_eq!(
            function_code_keys(&template),
            [("EchoFunction".to_owned(), "ab.zip".to_owned())]
        );
        let functions: Vec<&str> = resources_of_type(&template, FUNCTION_TYPE)
            .map(|(id, _)| id)
            .collect();
        assert_eq!(functions, ["EchoFunction", "Inline"]);
        assert_eq!(
            package(&template["Resources"]["EchoFunction"]),
            Some("echo")
        );
        assert_eq!(package(&template["Resources"]["Inline"]), None);
        assert!(properties(&template["Resources"]["Role"]).is_empty());
    }
}
