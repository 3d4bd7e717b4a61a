//! API keys for `$connect` (`ApiKeyRequired`), read from the template: the keys valid for the
//! running stage are the enabled `AWS::ApiGateway::ApiKey`s that an `AWS::ApiGateway::UsagePlanKey`
//! puts in an `AWS::ApiGateway::UsagePlan` whose `ApiStages` name this API and stage. A key
//! without a `Value` gets one generated for the run (as API Gateway generates one at deploy).
//!
//! The API's `ApiKeySelectionExpression` says where a connection's key is: its `x-api-key`
//! header (the default), or the `usageIdentifierKey` its `$connect` authorizer returned.

use std::collections::BTreeMap;

use assembly::template::{properties, resource_type, resources_of_type};
use serde_json::{Map, Value};

use crate::error::Unsupported;
use crate::intrinsics;
use crate::template::short_id;

const API_KEY_TYPE: &str = "AWS::ApiGateway::ApiKey";
const USAGE_PLAN_TYPE: &str = "AWS::ApiGateway::UsagePlan";
const USAGE_PLAN_KEY_TYPE: &str = "AWS::ApiGateway::UsagePlanKey";
/// API Gateway's shortest key value.
const MIN_VALUE_LEN: usize = 20;

/// Where a connection's API key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// `$request.header.x-api-key`.
    Header,
    /// `$context.authorizer.usageIdentifierKey`.
    Authorizer,
}

impl KeySource {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            KeySource::Header => "header x-api-key",
            KeySource::Authorizer => "the authorizer's usageIdentifierKey",
        }
    }
}

/// An API key a client may connect with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub logical_id: String,
    /// Its `Name`, when the template gives a literal one.
    pub name: Option<String>,
    /// What `Ref` of the key gives: `requestContext.identity.apiKeyId`.
    pub id: String,
    /// The key a client presents: the template's `Value`, or one generated for this run.
    pub value: String,
    /// True when the template has no `Value`, so the value is this run's.
    pub generated: bool,
}

/// The API's key settings and the keys valid for the running stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiKeys {
    pub(crate) source: KeySource,
    pub(crate) valid: Vec<ApiKey>,
}

impl ApiKeys {
    /// `stages` are every stage's `(logical ID, StageName)`; `seed` makes the generated values
    /// of this run (the same seed gives the same values, so a reload keeps them).
    pub(crate) fn read(
        template: &Value,
        api_logical: &str,
        api: &Map<String, Value>,
        stage: &str,
        stages: &[(String, String)],
        seed: &str,
    ) -> Result<ApiKeys, Unsupported> {
        let source = match api.get("ApiKeySelectionExpression") {
            None => KeySource::Header,
            Some(Value::String(e)) if e == "$request.header.x-api-key" => KeySource::Header,
            Some(Value::String(e)) if e == "$context.authorizer.usageIdentifierKey" => {
                KeySource::Authorizer
            }
            Some(other) => {
                return Err(Unsupported(format!(
                    "{api_logical}: ApiKeySelectionExpression {other} is not one a WebSocket API takes (\"$request.header.x-api-key\" or \"$context.authorizer.usageIdentifierKey\")"
                )));
            }
        };
        let empty = Map::new();
        let resources = template
            .get("Resources")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        // The one resource of `ty` an expression refers to.
        let target = |id: &str, field: &str, value: Option<&Value>, ty: &str| {
            let refs = value.map(intrinsics::resource_ids).unwrap_or_default();
            match refs.as_slice() {
                [one] if resources.get(one).and_then(resource_type) == Some(ty) => Ok(one.clone()),
                _ => Err(Unsupported(format!(
                    "{id}: {field} must be a Ref to an {ty} of this template"
                ))),
            }
        };

        let mut keys = BTreeMap::new();
        for (id, resource) in resources_of_type(template, API_KEY_TYPE) {
            keys.insert(id.to_owned(), read_key(id, properties(resource), seed)?);
        }

        let mut plans_for_stage = Vec::new();
        for (id, resource) in resources_of_type(template, USAGE_PLAN_TYPE) {
            let api_stages = match properties(resource).get("ApiStages") {
                None => continue,
                Some(Value::Array(list)) => list,
                Some(_) => {
                    return Err(Unsupported(format!("{id}: ApiStages must be a list")));
                }
            };
            let names_this_stage = api_stages.iter().any(|entry| {
                let api_matches = entry
                    .get("ApiId")
                    .is_some_and(|v| intrinsics::resource_ids(v) == [api_logical]);
                let stage_matches = match entry.get("Stage") {
                    Some(Value::String(name)) => name == stage,
                    Some(other) => intrinsics::resource_ids(other).iter().any(|r| {
                        stages
                            .iter()
                            .any(|(logical, name)| logical == r && name == stage)
                    }),
                    None => false,
                };
                api_matches && stage_matches
            });
            if names_this_stage {
                plans_for_stage.push(id.to_owned());
            }
        }

        let mut valid: BTreeMap<String, ApiKey> = BTreeMap::new();
        for (id, resource) in resources_of_type(template, USAGE_PLAN_KEY_TYPE) {
            let p = properties(resource);
            match p.get("KeyType").and_then(Value::as_str) {
                Some("API_KEY") => {}
                other => {
                    return Err(Unsupported(format!(
                        "{id}: KeyType must be API_KEY, found {other:?}"
                    )));
                }
            }
            let key = target(id, "KeyId", p.get("KeyId"), API_KEY_TYPE)?;
            let plan = target(id, "UsagePlanId", p.get("UsagePlanId"), USAGE_PLAN_TYPE)?;
            let enabled_key = keys.get(&key).filter(|(_, enabled)| *enabled);
            if let Some((api_key, _)) = enabled_key
                && plans_for_stage.contains(&plan)
            {
                valid.insert(key.clone(), api_key.clone());
            }
        }
        Ok(ApiKeys {
            source,
            valid: valid.into_values().collect(),
        })
    }

    /// The valid key a client presented.
    pub(crate) fn find(&self, presented: &str) -> Option<&ApiKey> {
        self.valid.iter().find(|k| k.value == presented)
    }
}

/// A key and whether it is enabled.
fn read_key(id: &str, p: &Map<String, Value>, seed: &str) -> Result<(ApiKey, bool), Unsupported> {
    let enabled = match p.get("Enabled") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
        Some(other) => {
            return Err(Unsupported(format!(
                "{id}: Enabled must be true or false, found {other}"
            )));
        }
    };
    let (value, generated) = match p.get("Value") {
        None => (generated_value(seed, id), true),
        Some(Value::String(v)) if v.chars().count() >= MIN_VALUE_LEN => (v.clone(), false),
        Some(other) => {
            return Err(Unsupported(format!(
                "{id}: Value must be a literal string of at least {MIN_VALUE_LEN} characters (API Gateway's minimum), found {other}"
            )));
        }
    };
    let key = ApiKey {
        logical_id: id.to_owned(),
        name: p.get("Name").and_then(Value::as_str).map(str::to_owned),
        id: short_id(id),
        value,
        generated,
    };
    Ok((key, enabled))
}

/// 40 letters and digits, like the keys API Gateway generates, from the run's seed.
fn generated_value(seed: &str, logical_id: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = assembly::sha256(format!("{seed}/{logical_id}/0").as_bytes()).to_vec();
    bytes.extend(assembly::sha256(
        format!("{seed}/{logical_id}/1").as_bytes(),
    ));
    bytes
        .iter()
        .take(40)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(extra: Value) -> Value {
        let mut resources = json!({
            "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "WEBSOCKET"}},
            "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {"StageName": "dev"}},
            "Plan": {"Type": USAGE_PLAN_TYPE, "Properties": {
                "ApiStages": [{"ApiId": {"Ref": "Api"}, "Stage": {"Ref": "Stage"}}]}},
            "OtherPlan": {"Type": USAGE_PLAN_TYPE, "Properties": {
                "ApiStages": [{"ApiId": {"Ref": "Api"}, "Stage": "prod"}]}},
            "Generated": {"Type": API_KEY_TYPE, "Properties": {"Name": "gen"}},
            "Fixed": {"Type": API_KEY_TYPE, "Properties": {"Value": "0123456789abcdefghij"}},
            "Disabled": {"Type": API_KEY_TYPE, "Properties": {"Enabled": false}},
            "Elsewhere": {"Type": API_KEY_TYPE, "Properties": {}},
        });
        let link = |key: &str, plan: &str| {
            json!({"Type": USAGE_PLAN_KEY_TYPE, "Properties": {
                "KeyId": {"Ref": key}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": plan}}})
        };
        for (key, plan) in [
            ("Generated", "Plan"),
            ("Fixed", "Plan"),
            ("Disabled", "Plan"),
            ("Elsewhere", "OtherPlan"),
        ] {
            resources[format!("{key}Link")] = link(key, plan);
        }
        for (k, v) in extra.as_object().unwrap() {
            resources[k] = v.clone();
        }
        json!({"Resources": resources})
    }

    fn read(template: &Value, seed: &str) -> Result<ApiKeys, Unsupported> {
        let api = properties(&template["Resources"]["Api"]).clone();
        let stages = [("Stage".to_owned(), "dev".to_owned())];
        ApiKeys::read(template, "Api", &api, "dev", &stages, seed)
    }

    #[test]
    fn valid_keys_are_the_enabled_ones_of_this_stages_plans() {
        let keys = read(&template(json!({})), "run-1").unwrap();
        assert_eq!(keys.source, KeySource::Header);
        let ids: Vec<&str> = keys.valid.iter().map(|k| k.logical_id.as_str()).collect();
        assert_eq!(ids, ["Fixed", "Generated"]);
        let fixed = keys.find("0123456789abcdefghij").unwrap();
        assert!(!fixed.generated);
        assert_eq!(fixed.id, short_id("Fixed"));
        let generated = &keys.valid[1];
        assert!(generated.generated);
        assert_eq!(generated.name.as_deref(), Some("gen"));
        assert_eq!(generated.value.len(), 40);
        assert!(generated.value.chars().all(|c| c.is_ascii_alphanumeric()));
        // The same run keeps its values; another run gets others.
        assert_eq!(read(&template(json!({})), "run-1").unwrap(), keys);
        assert_ne!(
            read(&template(json!({})), "run-2").unwrap().valid[1].value,
            generated.value
        );
        assert!(keys.find("nope").is_none());
    }

    #[test]
    fn what_cannot_be_read_names_the_resource() {
        let err = read(
            &template(json!({"Short": {"Type": API_KEY_TYPE, "Properties": {"Value": "short"}}})),
            "s",
        )
        .unwrap_err()
        .0;
        assert!(err.contains("Short") && err.contains("20"), "{err}");
        let err = read(
            &template(
                json!({"BadLink": {"Type": USAGE_PLAN_KEY_TYPE, "Properties": {
                "KeyId": "abc", "KeyType": "API_KEY", "UsagePlanId": {"Ref": "Plan"}}}}),
            ),
            "s",
        )
        .unwrap_err()
        .0;
        assert!(err.contains("BadLink") && err.contains("KeyId"), "{err}");
        let mut t = template(json!({}));
        t["Resources"]["Api"]["Properties"]["ApiKeySelectionExpression"] =
            json!("$request.querystring.key");
        let err = read(&t, "s").unwrap_err().0;
        assert!(
            err.contains("Api") && err.contains("ApiKeySelectionExpression"),
            "{err}"
        );
        t["Resources"]["Api"]["Properties"]["ApiKeySelectionExpression"] =
            json!("$context.authorizer.usageIdentifierKey");
        assert_eq!(read(&t, "s").unwrap().source, KeySource::Authorizer);
    }
}
