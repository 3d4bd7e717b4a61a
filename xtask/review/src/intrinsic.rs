//! CloudFormation intrinsics shown compactly, as `cdk diff` shows them: `${Table.Arn}` for
//! `Fn::GetAtt`, `${Name}` for `Ref`, a `Fn::Sub`'s template string, a `Fn::Join`'s parts
//! joined.

use serde_json::{Map, Value};

/// A value as one line of text: strings bare, intrinsics rendered, anything else as compact
/// JSON (with its intrinsics rendered).
pub(crate) fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(map) => match intrinsic(map) {
            Some(rendered) => rendered,
            None => compact(value).to_string(),
        },
        Value::Array(_) => compact(value).to_string(),
        other => other.to_string(),
    }
}

/// The value with every intrinsic replaced by its rendered string.
pub(crate) fn compact(value: &Value) -> Value {
    match value {
        Value::Object(map) => match intrinsic(map) {
            Some(rendered) => Value::String(rendered),
            None => Value::Object(map.iter().map(|(k, v)| (k.clone(), compact(v))).collect()),
        },
        Value::Array(items) => Value::Array(items.iter().map(compact).collect()),
        other => other.clone(),
    }
}

fn intrinsic(map: &Map<String, Value>) -> Option<String> {
    if map.len() != 1 {
        return None;
    }
    let (name, arg) = map.iter().next()?;
    match (name.as_str(), arg) {
        ("Ref", Value::String(target)) => Some(format!("${{{target}}}")),
        ("Fn::GetAtt", Value::Array(parts)) => {
            let parts: Vec<String> = parts.iter().map(text).collect();
            Some(format!("${{{}}}", parts.join(".")))
        }
        ("Fn::GetAtt", Value::String(dotted)) => Some(format!("${{{dotted}}}")),
        ("Fn::Sub", Value::String(template)) => Some(template.clone()),
        ("Fn::Sub", Value::Array(parts)) => match parts.first() {
            Some(Value::String(template)) => Some(template.clone()),
            _ => None,
        },
        ("Fn::Join", Value::Array(parts)) => match parts.as_slice() {
            [Value::String(separator), Value::Array(items)] => {
                Some(items.iter().map(text).collect::<Vec<_>>().join(separator))
            }
            _ => None,
        },
        ("Fn::ImportValue", export) => Some(format!("${{Import:{}}}", text(export))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn intrinsics_render_as_cdk_shows_them() {
        assert_eq!(
            text(&json!({"Fn::GetAtt": ["Table", "Arn"]})),
            "${Table.Arn}"
        );
        assert_eq!(text(&json!({"Ref": "AssetsBucket"})), "${AssetsBucket}");
        assert_eq!(
            text(&json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::x"})),
            "arn:${AWS::Partition}:s3:::x"
        );
        assert_eq!(
            text(&json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3"]]})),
            "arn:${AWS::Partition}:s3"
        );
        assert_eq!(
            compact(&json!({"A": [{"Ref": "X"}, 1]})),
            json!({"A": ["${X}", 1]})
        );
        // Not an intrinsic: two keys.
        assert_eq!(text(&json!({"Ref": "X", "B": 1})), r#"{"B":1,"Ref":"X"}"#);
    }
}
