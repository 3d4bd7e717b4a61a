//! Reads what the gateway needs from an assembly's `template.json`: the WebSocket API, its
//! routes and integrations, the stage and the Lambda functions behind them, and who may
//! connect (`$connect`'s authorization and API key, the authorizers, the keys).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use assembly::TEMPLATE_FILE;
use assembly::template::{FUNCTION_TYPE, package, properties, resource_type, resources_of_type};
use serde_json::{Map, Value};

use crate::api_keys::ApiKeys;
use crate::authorizer::AuthorizerSpec;
use crate::error::{Error, Unsupported};
use crate::intrinsics::{self, Context};
use crate::selection::Selection;
use crate::services::{self, Available, Services};
use crate::throttle;

/// Refuses the template: `unsupported!("{id}: ...")` returns the error.
macro_rules! unsupported {
    ($($arg:tt)*) => {
        return Err(Unsupported(format!($($arg)*)))
    };
}

const API_TYPE: &str = "AWS::ApiGatewayV2::Api";
const STAGE_TYPE: &str = "AWS::ApiGatewayV2::Stage";
const ROUTE_TYPE: &str = "AWS::ApiGatewayV2::Route";
const ROUTE_RESPONSE_TYPE: &str = "AWS::ApiGatewayV2::RouteResponse";
const INTEGRATION_TYPE: &str = "AWS::ApiGatewayV2::Integration";
const AUTHORIZER_TYPE: &str = "AWS::ApiGatewayV2::Authorizer";

/// Region and account a local run pretends to be in.
pub(crate) const REGION: &str = "us-east-1";
pub(crate) const ACCOUNT: &str = "000000000000";
/// API Gateway's longest (and default) integration timeout for WebSocket APIs.
const MAX_INTEGRATION_TIMEOUT_MS: u64 = 29_000;

/// The WebSocket API as the template declares it.
#[derive(Debug)]
pub(crate) struct ApiModel {
    /// A short id derived from the API's logical ID, as `requestContext.apiId`.
    pub(crate) api_id: String,
    pub(crate) route_selection: Selection,
    pub(crate) stage: String,
    /// The stage's `StageVariables`.
    pub(crate) stage_variables: BTreeMap<String, String>,
    /// By route key (`$connect`, `$default`, `echo`...).
    pub(crate) routes: BTreeMap<String, Route>,
    /// By logical ID.
    pub(crate) functions: BTreeMap<String, FunctionSpec>,
    /// The API's authorizers, by logical ID.
    pub(crate) authorizers: BTreeMap<String, AuthorizerSpec>,
    pub(crate) api_keys: ApiKeys,
    /// The stage's throttling, per route key (`DefaultRouteSettings` and `RouteSettings`).
    pub(crate) throttling: throttle::Throttling,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) key: String,
    /// Logical ID of the function its AWS_PROXY integration invokes.
    pub(crate) function: String,
    /// The function's response body goes back to the client (RouteResponseSelectionExpression
    /// plus a `$default` RouteResponse).
    pub(crate) two_way: bool,
    /// How long API Gateway waits for the integration (`TimeoutInMillis`, at most 29 s).
    pub(crate) integration_timeout: Duration,
    /// Who may use it: only `$connect` can say (API Gateway checks nothing later).
    pub(crate) guard: Guard,
}

/// A route's `AuthorizationType` (+ `AuthorizerId`) and `ApiKeyRequired`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Guard {
    pub(crate) authorization: Authorization,
    pub(crate) api_key_required: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Authorization {
    #[default]
    None,
    /// `AWS_IAM`: a SigV4-signed upgrade.
    Iam,
    /// `CUSTOM`: the Lambda authorizer with this logical ID.
    Custom(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionSpec {
    pub(crate) logical_id: String,
    /// `FunctionName` when the template sets it, else the logical ID.
    pub(crate) name: String,
    pub(crate) arn: String,
    /// The function's package (`assembly::template::PACKAGE_METADATA`), for logs.
    pub(crate) package: Option<String>,
    pub(crate) s3_key: String,
    pub(crate) environment: BTreeMap<String, String>,
    pub(crate) memory_mb: u64,
    pub(crate) timeout: Duration,
}

impl FunctionSpec {
    /// How logs name the function: its package (`echo`), else its name.
    pub(crate) fn label(&self) -> &str {
        self.package.as_deref().unwrap_or(&self.name)
    }
}

impl ApiModel {
    /// Reads `template.json` from `assembly`; `stage` picks one of several stages; `key_seed`
    /// makes the values of API keys the template leaves to API Gateway (one per run);
    /// `services` provides the template's tables and secrets (creating those it has not yet).
    pub(crate) fn read(
        assembly: &Path,
        stage: Option<&str>,
        key_seed: &str,
        services: &Services,
    ) -> Result<ApiModel, Error> {
        let path = assembly.join(TEMPLATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|error| Error::ReadTemplate {
            path: path.clone(),
            error,
        })?;
        let template: Value =
            serde_json::from_str(&text).map_err(|error| Error::ParseTemplate {
                path: path.clone(),
                error,
            })?;
        let declared = services::declared(&template).map_err(|problem| Error::Unsupported {
            path: path.clone(),
            problem,
        })?;
        let available = services.provide(&declared)?;
        ApiModel::from_template(&template, stage, key_seed, &available)
            .map_err(|problem| Error::Unsupported { path, problem })
    }

    /// The functions this version invokes (routes' and their authorizers'), each once.
    pub(crate) fn invoked_functions(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for route in self.routes.values() {
            let authorizer = match &route.guard.authorization {
                Authorization::Custom(id) => Some(self.authorizers[id].function.as_str()),
                _ => None,
            };
            for id in std::iter::once(route.function.as_str()).chain(authorizer) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    fn from_template(
        template: &Value,
        stage: Option<&str>,
        key_seed: &str,
        available: &Available,
    ) -> Result<ApiModel, Unsupported> {
        let Some(resources) = template.get("Resources").and_then(Value::as_object) else {
            unsupported!("the template has no `Resources` object");
        };
        let of_type = |ty| resources_of_type(template, ty).collect::<Vec<_>>();

        let apis: Vec<_> = of_type(API_TYPE)
            .into_iter()
            .filter(|(_, r)| {
                properties(r).get("ProtocolType").and_then(Value::as_str) == Some("WEBSOCKET")
            })
            .collect();
        let (api_logical, api) = match apis.as_slice() {
            [one] => *one,
            [] => unsupported!("the template has no {API_TYPE} with ProtocolType WEBSOCKET"),
            _ => {
                unsupported!("the template has several WebSocket APIs; the local gateway runs one")
            }
        };
        let expression = str_prop(api_logical, properties(api), "RouteSelectionExpression")?;
        let route_selection = Selection::parse(expression)
            .map_err(|e| Unsupported(format!("{api_logical}: RouteSelectionExpression: {e}")))?;
        let api_id = short_id(api_logical);

        let stages: Vec<(String, String)> = of_type(STAGE_TYPE)
            .into_iter()
            .map(|(id, r)| {
                Ok((
                    id.to_owned(),
                    str_prop(id, properties(r), "StageName")?.to_owned(),
                ))
            })
            .collect::<Result<_, Unsupported>>()?;
        let stage = match (stage, stages.as_slice()) {
            (Some(wanted), _) if stages.iter().any(|(_, s)| s == wanted) => wanted.to_owned(),
            (Some(wanted), _) => unsupported!(
                "the template has no stage `{wanted}` (it has: {})",
                stages
                    .iter()
                    .map(|(_, s)| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (None, [(_, one)]) => one.clone(),
            (None, []) => unsupported!("the template has no {STAGE_TYPE}"),
            (None, _) => unsupported!(
                "the template has several stages ({}); choose one with --stage",
                stages
                    .iter()
                    .map(|(_, s)| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };

        let stage_logical = stages
            .iter()
            .find(|(_, name)| *name == stage)
            .map(|(id, _)| id.clone())
            .unwrap_or_default();

        let mut refs: BTreeMap<String, String> = BTreeMap::new();
        let mut arns: BTreeMap<String, String> = BTreeMap::new();
        refs.insert(api_logical.to_owned(), api_id.clone());
        for (id, s) in &stages {
            refs.insert(id.clone(), s.clone());
        }
        let function_resources = of_type(FUNCTION_TYPE);
        for (id, r) in &function_resources {
            let name = properties(r)
                .get("FunctionName")
                .and_then(Value::as_str)
                .unwrap_or(id)
                .to_owned();
            arns.insert(
                (*id).to_owned(),
                format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"),
            );
            refs.insert((*id).to_owned(), name);
        }
        let mut attributes = BTreeMap::new();
        for (id, provided) in &available.resources {
            refs.insert(id.clone(), provided.physical_id.clone());
            attributes.insert(id.clone(), provided.attributes.clone());
        }
        let stack = format!("wsecho-{stage}");
        let ctx = Context {
            region: REGION,
            account: ACCOUNT,
            stack: &stack,
            refs: &refs,
            arns: &arns,
            attributes: &attributes,
        };
        // Every function reaches the local services the template has, as the SDK's
        // `AWS_ENDPOINT_URL_<SERVICE>` variables say (unless the template sets them itself).
        let endpoints: BTreeMap<&str, &str> = available
            .endpoint
            .as_deref()
            .map(|endpoint| {
                available
                    .resources
                    .values()
                    .map(|p| (p.kind.endpoint_variable(), endpoint))
                    .collect()
            })
            .unwrap_or_default();
        let mut functions = BTreeMap::new();
        for (id, r) in &function_resources {
            let mut function = read_function(id, r, &ctx)?;
            for (name, endpoint) in &endpoints {
                function
                    .environment
                    .entry((*name).to_owned())
                    .or_insert_with(|| (*endpoint).to_owned());
            }
            functions.insert((*id).to_owned(), function);
        }
        let mut stage_variables = BTreeMap::new();
        if let Some(vars) = resources
            .get(&stage_logical)
            .map(properties)
            .and_then(|p| p.get("StageVariables"))
        {
            let vars = vars.as_object().ok_or_else(|| {
                Unsupported(format!("{stage_logical}: StageVariables must be an object"))
            })?;
            for (name, value) in vars {
                let value = intrinsics::resolve(value, &ctx).map_err(|e| {
                    Unsupported(format!("{stage_logical}: StageVariables.{name}: {e}"))
                })?;
                stage_variables.insert(name.clone(), value);
            }
        }
        let mut authorizers = BTreeMap::new();
        for (id, r) in of_type(AUTHORIZER_TYPE) {
            authorizers.insert(id.to_owned(), AuthorizerSpec::read(id, r, &functions)?);
        }
        let api_keys = ApiKeys::read(
            template,
            api_logical,
            properties(api),
            &stage,
            &stages,
            key_seed,
        )?;

        let integration_function = |id: &str| -> Result<(String, Duration), Unsupported> {
            let integration = resources.get(id).expect("checked by caller");
            let p = properties(integration);
            let ty = str_prop(id, p, "IntegrationType")?;
            if ty != "AWS_PROXY" {
                unsupported!(
                    "{id}: IntegrationType {ty} is not supported locally (only AWS_PROXY)"
                );
            }
            let uri = p
                .get("IntegrationUri")
                .ok_or_else(|| Unsupported(format!("{id}: no IntegrationUri")))?;
            let targets: Vec<String> = intrinsics::resource_ids(uri)
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
                        Unsupported(format!("{id}: TimeoutInMillis must be a whole number from 50 to 29000, found {v}"))
                    })?,
            };
            let timeout = Duration::from_millis(timeout_ms);
            match targets.as_slice() {
                [one] => Ok((one.clone(), timeout)),
                _ => unsupported!(
                    "{id}: IntegrationUri {uri} does not point at exactly one {FUNCTION_TYPE} of this template (use Fn::GetAtt <Function>.Arn in Fn::Sub or Fn::Join)"
                ),
            }
        };

        let route_responses: Vec<(String, String)> = of_type(ROUTE_RESPONSE_TYPE)
            .into_iter()
            .map(|(id, r)| {
                let p = properties(r);
                let key = str_prop(id, p, "RouteResponseKey")?.to_owned();
                let route = p
                    .get("RouteId")
                    .map(intrinsics::resource_ids)
                    .and_then(|ids| ids.into_iter().next())
                    .ok_or_else(|| {
                        Unsupported(format!("{id}: RouteId must be a Ref to a route"))
                    })?;
                Ok((route, key))
            })
            .collect::<Result<_, Unsupported>>()?;

        let mut routes = BTreeMap::new();
        for (id, r) in of_type(ROUTE_TYPE) {
            let p = properties(r);
            let key = str_prop(id, p, "RouteKey")?.to_owned();
            let guard = read_guard(id, &key, p, &authorizers)?;
            let target = p.get("Target").ok_or_else(|| {
                Unsupported(format!(
                    "{id}: route `{key}` has no Target; the local gateway needs an integration"
                ))
            })?;
            let integrations: Vec<String> = intrinsics::resource_ids(target)
                .into_iter()
                .filter(|t| resources.get(t).and_then(resource_type) == Some(INTEGRATION_TYPE))
                .collect();
            let [integration] = integrations.as_slice() else {
                unsupported!(
                    "{id}: Target {target} must be `integrations/` joined with a Ref to an {INTEGRATION_TYPE}"
                );
            };
            let (function, integration_timeout) = integration_function(integration)?;
            let two_way = p.get("RouteResponseSelectionExpression").is_some()
                && route_responses
                    .iter()
                    .any(|(route, k)| route == id && k == "$default");
            if routes.contains_key(&key) {
                unsupported!("{id}: route key `{key}` is declared twice");
            }
            routes.insert(
                key.clone(),
                Route {
                    key,
                    function,
                    two_way,
                    integration_timeout,
                    guard,
                },
            );
        }

        let throttling = match resources.get(&stage_logical).map(properties) {
            Some(stage) => throttle::Throttling::read(stage, routes.keys().map(String::as_str))
                .map_err(|e| Unsupported(format!("{stage_logical}: {e}")))?,
            None => throttle::Throttling::default(),
        };

        Ok(ApiModel {
            api_id,
            route_selection,
            stage,
            stage_variables,
            routes,
            functions,
            authorizers,
            api_keys,
            throttling,
        })
    }
}

/// A route's authorization and API key. API Gateway checks them on `$connect` only (a
/// WebSocket is authorized once, when it opens), so elsewhere they are refused: running them
/// elsewhere, or not at all, would differ from AWS.
fn read_guard(
    id: &str,
    key: &str,
    p: &Map<String, Value>,
    authorizers: &BTreeMap<String, AuthorizerSpec>,
) -> Result<Guard, Unsupported> {
    let authorization = match p.get("AuthorizationType").map(|v| (v, v.as_str())) {
        None | Some((_, Some("NONE"))) => Authorization::None,
        Some((_, Some("AWS_IAM"))) => Authorization::Iam,
        Some((_, Some("CUSTOM"))) => {
            let refs = p
                .get("AuthorizerId")
                .map(intrinsics::resource_ids)
                .unwrap_or_default();
            match refs.as_slice() {
                [one] if authorizers.contains_key(one) => Authorization::Custom(one.clone()),
                _ => unsupported!(
                    "{id}: route `{key}` has AuthorizationType CUSTOM, so its AuthorizerId must be a Ref to an {AUTHORIZER_TYPE} of this template (found {})",
                    p.get("AuthorizerId")
                        .map_or("none".to_owned(), Value::to_string)
                ),
            }
        }
        Some((v, _)) => unsupported!(
            "{id}: route `{key}` has AuthorizationType {v}; a WebSocket API takes NONE, AWS_IAM or CUSTOM"
        ),
    };
    let api_key_required = match p.get("ApiKeyRequired") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
        Some(other) => unsupported!("{id}: ApiKeyRequired must be true or false, found {other}"),
    };
    let guard = Guard {
        authorization,
        api_key_required,
    };
    if key != "$connect" && guard != Guard::default() {
        unsupported!(
            "{id}: route `{key}` requires authorization or an API key, which API Gateway checks on `$connect` only (a WebSocket is authorized once, when it opens)"
        );
    }
    Ok(guard)
}

fn read_function(
    id: &str,
    resource: &Value,
    ctx: &Context<'_>,
) -> Result<FunctionSpec, Unsupported> {
    let p = properties(resource);
    let code = p
        .get("Code")
        .and_then(Value::as_object)
        .ok_or_else(|| Unsupported(format!("{id}: no Code")))?;
    let s3_key = code.get("S3Key").and_then(Value::as_str).ok_or_else(|| {
        Unsupported(format!(
            "{id}: Code.S3Key must be a literal `<sha256>.zip` naming an asset of assets.json"
        ))
    })?;
    let mut environment = BTreeMap::new();
    if let Some(vars) = p.get("Environment").and_then(|e| e.get("Variables")) {
        let vars = vars
            .as_object()
            .ok_or_else(|| Unsupported(format!("{id}: Environment.Variables must be an object")))?;
        for (name, value) in vars {
            let value = intrinsics::resolve(value, ctx)
                .map_err(|e| Unsupported(format!("{id}: Environment.Variables.{name}: {e}")))?;
            environment.insert(name.clone(), value);
        }
    }
    let number = |name: &str, default: u64| -> Result<u64, Unsupported> {
        match p.get(name) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    Unsupported(format!("{id}: {name} must be a whole number, found {v}"))
                }),
        }
    };
    Ok(FunctionSpec {
        logical_id: id.to_owned(),
        name: ctx.refs.get(id).cloned().unwrap_or_else(|| id.to_owned()),
        arn: ctx.arns.get(id).cloned().unwrap_or_default(),
        package: package(resource).map(str::to_owned),
        s3_key: s3_key.to_owned(),
        environment,
        // Lambda's defaults.
        memory_mb: number("MemorySize", 128)?,
        timeout: Duration::from_secs(number("Timeout", 3)?),
    })
}

fn str_prop<'a>(
    id: &str,
    props: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a str, Unsupported> {
    props
        .get(name)
        .ok_or_else(|| Unsupported(format!("{id}: no {name}")))?
        .as_str()
        .ok_or_else(|| Unsupported(format!("{id}: {name} must be a literal string locally")))
}

/// A stable 10-character lower-case id, shaped like API Gateway's.
pub(crate) fn short_id(seed: &str) -> String {
    assembly::sha256(seed.as_bytes())
        .iter()
        .take(10)
        .map(|b| {
            let c = b % 36;
            char::from_digit(u32::from(c), 36).expect("below 36")
        })
        .collect()
}
