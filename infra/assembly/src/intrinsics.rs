//! Reading CloudFormation intrinsic functions: which names an expression references
//! (`Ref`, `Fn::GetAtt`, `Fn::Sub` variables), and the parts of an `Fn::Sub` text. Synthesis
//! checks its references with it; the local gateway follows and evaluates them with it.

use std::collections::BTreeSet;

use serde_json::Value;

/// One piece of an `Fn::Sub` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubPart<'a> {
    /// Literal text (an unclosed `${` stays literal too).
    Text(&'a str),
    /// `${Name}` or `${Name.Attribute}`: the text between the braces.
    Variable(&'a str),
    /// `${!Literal}`: kept as `${Literal}` by CloudFormation; holds `Literal`.
    Escaped(&'a str),
}

/// Splits an `Fn::Sub` text into literal text, variables and escapes.
pub fn sub_parts(text: &str) -> Vec<SubPart<'_>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        if start > 0 {
            parts.push(SubPart::Text(&rest[..start]));
        }
        let inner = &after[..end];
        parts.push(match inner.strip_prefix('!') {
            Some(literal) => SubPart::Escaped(literal),
            None => SubPart::Variable(inner),
        });
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(SubPart::Text(rest));
    }
    parts
}

/// Pseudo parameters (`AWS::Region`…) are referenced like resources but are none.
pub fn is_pseudo_parameter(name: &str) -> bool {
    name.starts_with("AWS::")
}

/// Every name a value references, in order of appearance: `Ref` targets, `Fn::GetAtt`
/// resources and `Fn::Sub` variables (`${X.Arn}` references `X`), pseudo parameters
/// included. Variables an `Fn::Sub` defines itself are not references.
pub fn references(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect(value, &mut found);
    found
}

fn collect(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) if map.len() == 1 => {
            let Some((key, inner)) = map.iter().next() else {
                return;
            };
            match (key.as_str(), inner) {
                ("Ref", Value::String(name)) => found.push(name.clone()),
                ("Fn::GetAtt", Value::Array(args)) => {
                    if let Some(Value::String(name)) = args.first() {
                        found.push(name.clone());
                    }
                }
                ("Fn::GetAtt", Value::String(dotted)) => {
                    found.push(resource_of(dotted).to_owned());
                }
                ("Fn::Sub", Value::String(text)) => sub_references(text, &BTreeSet::new(), found),
                ("Fn::Sub", Value::Array(args)) => {
                    let locals: BTreeSet<&str> = match args.get(1) {
                        Some(Value::Object(vars)) => vars.keys().map(String::as_str).collect(),
                        _ => BTreeSet::new(),
                    };
                    if let Some(Value::String(text)) = args.first() {
                        sub_references(text, &locals, found);
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

fn sub_references(text: &str, locals: &BTreeSet<&str>, found: &mut Vec<String>) {
    for part in sub_parts(text) {
        if let SubPart::Variable(variable) = part
            && !locals.contains(variable)
        {
            found.push(resource_of(variable).to_owned());
        }
    }
}

/// `Name.Attribute` → `Name`.
fn resource_of(variable: &str) -> &str {
    variable.split('.').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_cover_ref_getatt_and_sub_but_not_escapes_or_locals() {
        let value = json!({
            "A": {"Ref": "One"},
            "B": [{"Fn::GetAtt": ["Two", "Arn"]}],
            "C": {"Fn::Sub": "${Three.Arn}/${AWS::Region}/${!Literal}"},
            "D": {"Fn::Sub": ["${Local}-${Four}", {"Local": {"Ref": "Five"}}]},
            "E": {"Fn::GetAtt": "Six.Arn"},
        });
        let mut refs = references(&value);
        refs.sort();
        assert_eq!(
            refs,
            ["AWS::Region", "Five", "Four", "One", "Six", "Three", "Two"]
        );
        let join = json!({"Fn::Join": ["", ["integrations/", {"Ref": "EchoIntegration"}]]});
        assert_eq!(references(&join), ["EchoIntegration"]);
    }

    #[test]
    fn sub_texts_split_into_text_variables_and_escapes() {
        assert_eq!(
            sub_parts("a${B}c${!d}${E.Arn}${unclosed"),
            [
                SubPart::Text("a"),
                SubPart::Variable("B"),
                SubPart::Text("c"),
                SubPart::Escaped("d"),
                SubPart::Variable("E.Arn"),
                SubPart::Text("${unclosed"),
            ]
        );
        assert_eq!(sub_parts(""), []);
        assert!(is_pseudo_parameter("AWS::URLSuffix"));
        assert!(!is_pseudo_parameter("Api"));
    }
}
