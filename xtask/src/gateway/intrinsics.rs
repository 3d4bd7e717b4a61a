//! Just enough of CloudFormation's intrinsic functions to read a template locally: find which
//! resources an expression points at, and turn environment values into strings.

use std::collections::BTreeMap;

use serde_json::Value;

/// Values a local run gives to pseudo parameters and resource references.
pub struct Context<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub stack: &'a str,
    /// What `Ref` of a logical ID gives locally (function name, api id, stage name...).
    pub refs: &'a BTreeMap<String, String>,
    /// What `GetAtt X.Arn` gives locally, by logical ID.
    pub arns: &'a BTreeMap<String, String>,
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
        match (attribute, self.arns.get(name)) {
            ("Arn", Some(arn)) => Ok(arn.clone()),
            _ => Err(format!(
                "`Fn::GetAtt: {name}.{attribute}` has no local value"
            )),
        }
    }
}

/// The logical IDs an expression refers to (`Ref`, `Fn::GetAtt`, `${X}` / `${X.Attr}` in
/// `Fn::Sub`), pseudo parameters left out.
pub fn referenced_ids(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_refs(value, &mut out);
    out.retain(|id| !id.starts_with("AWS::"));
    out.dedup();
    out
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if map.len() == 1 => {
            let (key, arg) = map.iter().next().expect("one entry");
            match (key.as_str(), arg) {
                ("Ref", Value::String(id)) => out.push(id.clone()),
                ("Fn::GetAtt", Value::Array(parts)) => {
                    if let Some(Value::String(id)) = parts.first() {
                        out.push(id.clone());
                    }
                }
                ("Fn::GetAtt", Value::String(dotted)) => {
                    out.push(dotted.split('.').next().unwrap_or_default().to_owned());
                }
                ("Fn::Sub", Value::String(text)) => sub_refs(text, out),
                ("Fn::Sub", Value::Array(parts)) => {
                    if let Some(Value::String(text)) = parts.first() {
                        sub_refs(text, out);
                    }
                    for part in parts.iter().skip(1) {
                        collect_refs(part, out);
                    }
                }
                _ => collect_refs(arg, out),
            }
        }
        Value::Object(map) => map.values().for_each(|v| collect_refs(v, out)),
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn sub_refs(text: &str, out: &mut Vec<String>) {
    for var in sub_variables(text) {
        out.push(var.split('.').next().unwrap_or_default().to_owned());
    }
}

/// `${Name}` placeholders of an `Fn::Sub` string (`${!Literal}` is an escape, not a variable).
fn sub_variables(text: &str) -> Vec<&str> {
    let mut vars = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let var = &after[..end];
        if !var.starts_with('!') {
            vars.push(var);
        }
        rest = &after[end + 1..];
    }
    vars
}

/// Evaluates an expression to a string, or says which part has no local value.
pub fn resolve(value: &Value, ctx: &Context<'_>) -> Result<String, String> {
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
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let var = &after[..end];
        if let Some(literal) = var.strip_prefix('!') {
            out.push_str("${");
            out.push_str(literal);
            out.push('}');
        } else if let Some(v) = vars.get(var) {
            out.push_str(v);
        } else if let Some((id, attr)) = var.split_once('.') {
            out.push_str(&ctx.attribute(id, attr)?);
        } else {
            out.push_str(&ctx.reference(var)?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_references_in_every_form() {
        let join = json!({"Fn::Join": ["", ["integrations/", {"Ref": "EchoIntegration"}]]});
        assert_eq!(referenced_ids(&join), ["EchoIntegration"]);
        let sub = json!({"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${EchoFunction.Arn}/invocations"});
        assert_eq!(referenced_ids(&sub), ["EchoFunction"]);
        let getatt = json!({"Fn::Join": ["", ["arn:", {"Fn::GetAtt": ["Fn", "Arn"]}]]});
        assert_eq!(referenced_ids(&getatt), ["Fn"]);
    }

    #[test]
    fn resolves_pseudo_parameters_and_references() {
        let refs = BTreeMap::from([("Api".to_owned(), "abc123".to_owned())]);
        let arns = BTreeMap::new();
        let ctx = Context {
            region: "eu-west-1",
            account: "000000000000",
            stack: "wsecho-dev",
            refs: &refs,
            arns: &arns,
        };
        let v = json!({"Fn::Sub": "${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${!x}"});
        assert_eq!(
            resolve(&v, &ctx).unwrap(),
            "abc123.execute-api.eu-west-1.amazonaws.com/${x}"
        );
        let err = resolve(&json!({"Ref": "Table"}), &ctx).unwrap_err();
        assert!(err.contains("Table"), "{err}");
    }
}
