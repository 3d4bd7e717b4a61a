//! Reads what the gateway needs from an assembly's `template.json`: the WebSocket API, its
//! routes and integrations, the stage and the Lambda functions behind them.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::{Map, Value};

use super::intrinsics::{self, Context};
use super::selection::Selection;

/// Region and account a local run pretends to be in.
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "000000000000";
/// API Gateway's longest (and default) integration timeout for WebSocket APIs.
const MAX_INTEGRATION_TIMEOUT_MS: u64 = 29_000;

/// The WebSocket API as the template declares it.
#[derive(Debug)]
pub struct ApiModel {
    /// A short id derived from the API's logical ID, as `requestContext.apiId`.
    pub api_id: String,
    pub route_selection: Selection,
    pub stage: String,
    /// By route key (`$connect`, `$default`, `echo`...).
    pub routes: BTreeMap<String, Route>,
    /// By logical ID.
    pub functions: BTreeMap<String, FunctionSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub key: String,
    /// Logical ID of the function its AWS_PROXY integration invokes.
    pub function: String,
    /// The function's response body goes back to the client (RouteResponseSelectionExpression
    /// plus a `$default` RouteResponse).
    pub two_way: bool,
    /// How long API Gateway waits for the integration (`TimeoutInMillis`, at most 29 s).
    pub integration_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// `FunctionName` when the template sets it, else the logical ID.
    pub name: String,
    pub arn: String,
    /// The `wsecho:package` metadata, for logs.
    pub package: Option<String>,
    pub s3_key: String,
    pub environment: BTreeMap<String, String>,
    pub memory_mb: u64,
    pub timeout: Duration,
}

impl FunctionSpec {
    /// How logs name the function: its package (`echo`), else its name.
    pub fn label(&self) -> &str {
        self.package.as_deref().unwrap_or(&self.name)
    }
}

impl ApiModel {
    /// Reads `template.json` from `assembly`; `stage` picks one of several stages.
    pub fn read(assembly: &Path, stage: Option<&str>) -> Result<ApiModel> {
        let path = assembly.join("template.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {}; run `cargo xtask synth` to write the assembly",
                path.display()
            )
        })?;
        let template: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?;
        ApiModel::from_template(&template, stage)
            .with_context(|| format!("cannot run {} locally", path.display()))
    }

    pub fn from_template(template: &Value, stage: Option<&str>) -> Result<ApiModel> {
        let resources = template
            .get("Resources")
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("the template has no `Resources` object"))?;
        let of_type = |ty: &str| -> Vec<(&String, &Value)> {
            resources
                .iter()
                .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(ty))
                .collect()
        };

        let apis: Vec<_> = of_type("AWS::ApiGatewayV2::Api")
            .into_iter()
            .filter(|(_, r)| {
                props(r).get("ProtocolType").and_then(Value::as_str) == Some("WEBSOCKET")
            })
            .collect();
        let (api_logical, api) = match apis.as_slice() {
            [one] => *one,
            [] => bail!("the template has no AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET"),
            _ => bail!("the template has several WebSocket APIs; the local gateway runs one"),
        };
        let expression = str_prop(api_logical, props(api), "RouteSelectionExpression")?;
        let route_selection = Selection::parse(expression)
            .map_err(|e| anyhow!("{api_logical}: RouteSelectionExpression: {e}"))?;
        let api_id = short_id(api_logical);

        let stages: Vec<(String, String)> = of_type("AWS::ApiGatewayV2::Stage")
            .into_iter()
            .map(|(id, r)| Ok((id.clone(), str_prop(id, props(r), "StageName")?.to_owned())))
            .collect::<Result<_>>()?;
        let stage = match (stage, stages.as_slice()) {
            (Some(wanted), _) if stages.iter().any(|(_, s)| s == wanted) => wanted.to_owned(),
            (Some(wanted), _) => bail!(
                "the template has no stage `{wanted}` (it has: {})",
                stages
                    .iter()
                    .map(|(_, s)| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (None, [(_, one)]) => one.clone(),
            (None, []) => bail!("the template has no AWS::ApiGatewayV2::Stage"),
            (None, _) => bail!(
                "the template has several stages ({}); choose one with --stage",
                stages
                    .iter()
                    .map(|(_, s)| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };

        let mut refs: BTreeMap<String, String> = BTreeMap::new();
        let mut arns: BTreeMap<String, String> = BTreeMap::new();
        refs.insert(api_logical.clone(), api_id.clone());
        for (id, s) in &stages {
            refs.insert(id.clone(), s.clone());
        }
        let function_resources = of_type("AWS::Lambda::Function");
        for (id, r) in &function_resources {
            let name = props(r)
                .get("FunctionName")
                .and_then(Value::as_str)
                .unwrap_or(id)
                .to_owned();
            arns.insert(
                (*id).clone(),
                format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"),
            );
            refs.insert((*id).clone(), name);
        }
        let stack = format!("wsecho-{stage}");
        let ctx = Context {
            region: REGION,
            account: ACCOUNT,
            stack: &stack,
            refs: &refs,
            arns: &arns,
        };
        let mut functions = BTreeMap::new();
        for (id, r) in &function_resources {
            functions.insert((*id).clone(), read_function(id, r, &ctx)?);
        }

        let integration_function = |id: &str| -> Result<(String, Duration)> {
            let integration = resources.get(id).expect("checked by caller");
            let p = props(integration);
            let ty = str_prop(id, p, "IntegrationType")?;
            if ty != "AWS_PROXY" {
                bail!("{id}: IntegrationType {ty} is not supported locally (only AWS_PROXY)");
            }
            let uri = p
                .get("IntegrationUri")
                .ok_or_else(|| anyhow!("{id}: no IntegrationUri"))?;
            let targets: Vec<String> = intrinsics::referenced_ids(uri)
                .into_iter()
                .filter(|r| functions.contains_key(r))
                .collect();
            let timeout_ms = match p.get("TimeoutInMillis") {
                None => MAX_INTEGRATION_TIMEOUT_MS,
                Some(v) => v
                    .as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .filter(|ms| (50..=MAX_INTEGRATION_TIMEOUT_MS).contains(ms))
                    .ok_or_else(|| {
                        anyhow!("{id}: TimeoutInMillis must be a whole number from 50 to 29000, found {v}")
                    })?,
            };
            let timeout = Duration::from_millis(timeout_ms);
            match targets.as_slice() {
                [one] => Ok((one.clone(), timeout)),
                _ => bail!(
                    "{id}: IntegrationUri {uri} does not point at exactly one AWS::Lambda::Function of this template (use Fn::GetAtt <Function>.Arn in Fn::Sub or Fn::Join)"
                ),
            }
        };

        let route_responses: Vec<(String, String)> = of_type("AWS::ApiGatewayV2::RouteResponse")
            .into_iter()
            .map(|(id, r)| {
                let p = props(r);
                let key = str_prop(id, p, "RouteResponseKey")?.to_owned();
                let route = p
                    .get("RouteId")
                    .map(intrinsics::referenced_ids)
                    .and_then(|ids| ids.into_iter().next())
                    .ok_or_else(|| anyhow!("{id}: RouteId must be a Ref to a route"))?;
                Ok((route, key))
            })
            .collect::<Result<_>>()?;

        let mut routes = BTreeMap::new();
        for (id, r) in of_type("AWS::ApiGatewayV2::Route") {
            let p = props(r);
            let key = str_prop(id, p, "RouteKey")?.to_owned();
            // Running without the authorizer would let through what AWS refuses.
            if let Some(auth) = p.get("AuthorizationType").and_then(Value::as_str)
                && auth != "NONE"
            {
                bail!(
                    "{id}: route `{key}` uses AuthorizationType {auth}, which the local gateway does not emulate (only NONE)"
                );
            }
            let target = p.get("Target").ok_or_else(|| {
                anyhow!("{id}: route `{key}` has no Target; the local gateway needs an integration")
            })?;
            let integrations: Vec<String> = intrinsics::referenced_ids(target)
                .into_iter()
                .filter(|t| {
                    resources
                        .get(t)
                        .and_then(|r| r.get("Type"))
                        .and_then(Value::as_str)
                        == Some("AWS::ApiGatewayV2::Integration")
                })
                .collect();
            let [integration] = integrations.as_slice() else {
                bail!(
                    "{id}: Target {target} must be `integrations/` joined with a Ref to an AWS::ApiGatewayV2::Integration"
                );
            };
            let (function, integration_timeout) = integration_function(integration)?;
            let two_way = p.get("RouteResponseSelectionExpression").is_some()
                && route_responses
                    .iter()
                    .any(|(route, k)| route == id && k == "$default");
            if routes.contains_key(&key) {
                bail!("{id}: route key `{key}` is declared twice");
            }
            routes.insert(
                key.clone(),
                Route {
                    key,
                    function,
                    two_way,
                    integration_timeout,
                },
            );
        }

        Ok(ApiModel {
            api_id,
            route_selection,
            stage,
            routes,
            functions,
        })
    }
}

fn read_function(id: &str, resource: &Value, ctx: &Context<'_>) -> Result<FunctionSpec> {
    let p = props(resource);
    let code = p
        .get("Code")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("{id}: no Code"))?;
    let s3_key = code.get("S3Key").and_then(Value::as_str).ok_or_else(|| {
        anyhow!("{id}: Code.S3Key must be a literal `<sha256>.zip` naming an asset of assets.json")
    })?;
    let mut environment = BTreeMap::new();
    if let Some(vars) = p.get("Environment").and_then(|e| e.get("Variables")) {
        let vars = vars
            .as_object()
            .ok_or_else(|| anyhow!("{id}: Environment.Variables must be an object"))?;
        for (name, value) in vars {
            let value = intrinsics::resolve(value, ctx)
                .map_err(|e| anyhow!("{id}: Environment.Variables.{name}: {e}"))?;
            environment.insert(name.clone(), value);
        }
    }
    let number = |name: &str, default: u64| -> Result<u64> {
        match p.get(name) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| anyhow!("{id}: {name} must be a whole number, found {v}")),
        }
    };
    Ok(FunctionSpec {
        logical_id: id.to_owned(),
        name: ctx.refs.get(id).cloned().unwrap_or_else(|| id.to_owned()),
        arn: ctx.arns.get(id).cloned().unwrap_or_default(),
        package: resource
            .get("Metadata")
            .and_then(|m| m.get("wsecho:package"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        s3_key: s3_key.to_owned(),
        environment,
        // Lambda's defaults.
        memory_mb: number("MemorySize", 128)?,
        timeout: Duration::from_secs(number("Timeout", 3)?),
    })
}

fn props(resource: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    resource
        .get("Properties")
        .and_then(Value::as_object)
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

fn str_prop<'a>(id: &str, props: &'a Map<String, Value>, name: &str) -> Result<&'a str> {
    props
        .get(name)
        .ok_or_else(|| anyhow!("{id}: no {name}"))?
        .as_str()
        .ok_or_else(|| anyhow!("{id}: {name} must be a literal string locally"))
}

/// A stable 10-character lower-case id, shaped like API Gateway's.
fn short_id(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    digest
        .iter()
        .take(10)
        .map(|b| {
            let c = b % 36;
            char::from_digit(u32::from(c), 36).expect("below 36")
        })
        .collect()
}
