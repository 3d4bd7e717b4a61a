//! Just enough of CloudFormation's intrinsic functions to run a template locally: which
//! resources an expression points at (read with `assembly::intrinsics`, the one reader synthesis
//! checks its references with), and the local value of an expression (environment variables).

use std::collections::BTreeMap;

use assembly::intrinsics::{SubPart, is_pseudo_parameter, references, sub_parts};
use serde_json::Value;

/// Values a local run gives to pseudo parameters and resource references.
pub(crate) struct Context<'a> {
    pub(crate) region: &'a str,
    pub(crate) account: &'a str,
    pub(crate) stack: &'a str,
    /// What `Ref` of a logical ID gives locally (function name, api id, stage name...).
    pub(crate) refs: &'a BTreeMap<String, String>,
    /// What `GetAtt X.Arn` gives locally, by logical ID.
    pub(crate) arns: &'a BTreeMap<String, String>,
    /// Other attributes `GetAtt` gives locally (a local table's `StreamArn`, a secret's `Id`),
    /// by logical ID, then attribute.
    pub(crate) attributes: &'a BTreeMap<String, BTreeMap<String, String>>,
}

impl Context<'_> {
    fn pseudo(&self, name: &str) -> Option<String> {
        Some(match name {
            "AWS::Region" => self.region.to_owned(),
            "AWS::AccountId" => self.account.to_owned(),
            "AWS::Partition" => "aws".to_owned(),
            "AWS::URLSuffix" => "amazonaws.com".to_owned(),
            "AWS::StackName" => self.stack.to_owned(),
            "AWS::StackId" => format!(
                "arn:aws:cloudformation:{}:{}:stack/{}/local",
                self.region, self.account, self.stack
            ),
            "AWS::NoValue" => String::new(),
            _ => return None,
        })
    }

    fn reference(&self, name: &str) -> Result<String, String> {
        if let Some(v) = self.pseudo(name) {
            return Ok(v);
        }
        if let Some(v) = self.refs.get(name) {
            return Ok(v.clone());
        }
        Err(format!("`Ref: {name}` has no local value"))
    }

    fn attribute(&self, name: &str, attribute: &str) -> Result<String, String> {
        let other = self.attributes.get(name).and_then(|a| a.get(attribute));
        match (attribute, self.arns.get(name), other) {
            ("Arn", Some(arn), _) | (_, _, Some(arn)) => Ok(arn.clone()),
            _ => Err(format!(
                "`Fn::GetAtt: {name}.{attribute}` has no local value"
            )),
        }
    }
}

/// The resources an expression refers to (`Ref`, `Fn::GetAtt`, `${X}` / `${X.Attr}` in
/// `Fn::Sub`), pseudo parameters left out.
pub(crate) fn resource_ids(value: &Value) -> Vec<String> {
    let mut ids = references(value);
    ids.retain(|id| !is_pseudo_parameter(id));
    ids.dedup();
    ids
}

/// Evaluates an expression to a string, or says which part has no local value.
pub(crate) fn resolve(value: &Value, ctx: &Context<'_>) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Object(map) if map.len() == 1 => {
            let (key, arg) = map.iter().next().expect("one entry");
            match (key.as_str(), arg) {
                ("Ref", Value::String(id)) => ctx.reference(id),
                ("Fn::GetAtt", Value::Array(parts)) => match parts.as_slice() {
                    [Value::String(id), Value::String(attr)] => ctx.attribute(id, attr),
                    _ => Err(format!("malformed Fn::GetAtt {arg}")),
                },
                ("Fn::GetAtt", Value::String(dotted)) => {
                    let (id, attr) = dotted.split_once('.').unwrap_or((dotted, ""));
                    ctx.attribute(id, attr)
                }
                ("Fn::Join", Value::Array(parts)) => match parts.as_slice() {
                    [Value::String(sep), Value::Array(items)] => {
                        let items = items
                            .iter()
                            .map(|item| resolve(item, ctx))
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok(items.join(sep))
                    }
                    _ => Err(format!("malformed Fn::Join {arg}")),
                },
                ("Fn::Sub", Value::String(text)) => substitute(text, &BTreeMap::new(), ctx),
                ("Fn::Sub", Value::Array(parts)) => match parts.as_slice() {
                    [Value::String(text), Value::Object(vars)] => {
                        let vars = vars
                            .iter()
                            .map(|(k, v)| Ok((k.clone(), resolve(v, ctx)?)))
                            .collect::<Result<BTreeMap<_, _>, String>>()?;
                        substitute(text, &vars, ctx)
                    }
                    _ => Err(format!("malformed Fn::Sub {arg}")),
                },
                _ => Err(format!("`{key}` is not supported locally")),
            }
        }
        other => Err(format!("cannot turn {other} into a string")),
    }
}

fn substitute(
    text: &str,
    vars: &BTreeMap<String, String>,
    ctx: &Context<'_>,
) -> Result<String, String> {
    let mut out = String::new();
    for part in sub_parts(text) {
        match part {
            SubPart::Text(text) => out.push_str(text),
            SubPart::Escaped(literal) => {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            }
            SubPart::Variable(var) => match (vars.get(var), var.split_once('.')) {
                (Some(value), _) => out.push_str(value),
                (None, Some((id, attr))) => out.push_str(&ctx.attribute(id, attr)?),
                (None, None) => out.push_str(&ctx.reference(var)?),
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_references_in_every_form() {
        let join = json!({"Fn::Join": ["", ["integrations/", {"Ref": "EchoIntegration"}]]});
        assert_eq!(resource_ids(&join), ["EchoIntegration"]);
        let sub = json!({"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${EchoFunction.Arn}/invocations"});
        assert_eq!(resource_ids(&sub), ["EchoFunction"]);
        let getatt = json!({"Fn::Join": ["", ["arn:", {"Fn::GetAtt": ["Fn", "Arn"]}]]});
        assert_eq!(resource_ids(&getatt), ["Fn"]);
    }

    #[test]
    fn resolves_pseudo_parameters_and_references() {
        let refs = BTreeMap::from([("Api".to_owned(), "abc123".to_owned())]);
        let arns = BTreeMap::new();
        let attributes = BTreeMap::from([(
            "Table".to_owned(),
            BTreeMap::from([("StreamArn".to_owned(), "arn:stream".to_owned())]),
        )]);
        let ctx = Context {
            region: "eu-west-1",
            account: "000000000000",
            stack: "wsecho-dev",
            refs: &refs,
            arns: &arns,
            attributes: &attributes,
        };
        let v = json!({"Fn::Sub": "${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${!x}"});
        assert_eq!(
            resolve(&v, &ctx).unwrap(),
            "abc123.execute-api.eu-west-1.amazonaws.com/${x}"
        );
        assert_eq!(
            resolve(&json!({"Fn::GetAtt": ["Table", "StreamArn"]}), &ctx).unwrap(),
            "arn:stream"
        );
        let err = resolve(&json!({"Ref": "Table"}), &ctx).unwrap_err();
        assert!(err.contains("Table"), "{err}");
    }
}
