//! Lambda REQUEST authorizers of `$connect` (`AWS::ApiGatewayV2::Authorizer`), as API Gateway
//! runs them:
//!
//! - every identity source must be present and not empty, else the handshake is refused with
//!   401 and the function is not invoked;
//! - the function gets the REQUEST authorizer event (`events::authorizer_request`);
//! - its error `Unauthorized` refuses with 401, any other error, a timeout or an answer that is
//!   not a valid authorizer result (no policy, a non-scalar context value, over 8 KB) with 500;
//! - its policy is evaluated against the `methodArn` (`policy`): no Allow, or a Deny, refuses
//!   with 403;
//! - an allowed connection carries `requestContext.authorizer` (the principal, the context
//!   with its values as strings, the authorizer's latency) in every event, and the result's
//!   `usageIdentifierKey` goes to the API-key check.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use assembly::template::properties;
use hyper::header::HeaderName;
use serde_json::{Map, Value};

use crate::access::Refusal;
use crate::error::Unsupported;
use crate::intrinsics;
use crate::policy::{self, Decision};
use crate::pool::Failure;
use crate::template::FunctionSpec;

/// API Gateway's quota on an authorizer's result.
const MAX_RESULT_BYTES: usize = 8 * 1024;
/// How long API Gateway waits for an authorizer (its longest integration timeout); the
/// function's own Timeout still applies.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(29);

/// Where an authorizer finds a value it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IdentitySource {
    /// `route.request.header.NAME` (any case).
    Header(String),
    /// `route.request.querystring.NAME`.
    QueryString(String),
    /// `stageVariables.NAME`: the stage's `StageVariables`.
    StageVariable(String),
    /// `context.NAME`: a `requestContext` variable, `.` walking into it (`context.identity.sourceIp`).
    Context(String),
}

impl IdentitySource {
    /// Reads the form WebSocket authorizers take; anything else says which forms there are.
    pub(crate) fn parse(text: &str) -> Result<IdentitySource, String> {
        const HEADER: &str = "route.request.header.";
        let (prefix, name) = [HEADER, "route.request.querystring.", "stageVariables.", "context."]
            .into_iter()
            .find_map(|prefix| text.strip_prefix(prefix).map(|name| (prefix, name)))
            .ok_or_else(|| {
                format!(
                    "`{text}` is not an identity source of a WebSocket authorizer: use route.request.header.NAME, route.request.querystring.NAME, stageVariables.NAME or context.NAME"
                )
            })?;
        if name.is_empty() {
            return Err(format!("`{text}` names nothing after `{prefix}`"));
        }
        let name = name.to_owned();
        Ok(match prefix {
            HEADER => {
                if HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(format!("`{text}`: `{name}` is not a valid header name"));
                }
                IdentitySource::Header(name)
            }
            "route.request.querystring." => IdentitySource::QueryString(name),
            "stageVariables." => IdentitySource::StageVariable(name),
            _ => IdentitySource::Context(name),
        })
    }

    /// How the banner names it: `header Authorization`, `query string token`.
    pub(crate) fn describe(&self) -> String {
        match self {
            IdentitySource::Header(name) => format!("header {name}"),
            IdentitySource::QueryString(name) => format!("query string {name}"),
            IdentitySource::StageVariable(name) => format!("stage variable {name}"),
            IdentitySource::Context(name) => format!("context {name}"),
        }
    }

    /// Its value in the authorizer event, when present and not empty.
    pub(crate) fn value(&self, event: &Value) -> Option<String> {
        let found = match self {
            IdentitySource::Header(name) => event
                .get("headers")
                .and_then(Value::as_object)?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v),
            IdentitySource::QueryString(name) => event.get("queryStringParameters")?.get(name),
            IdentitySource::StageVariable(name) => event.get("stageVariables")?.get(name),
            IdentitySource::Context(path) => path
                .split('.')
                .try_fold(event.get("requestContext")?, |v, key| v.get(key)),
        }?;
        let text = match found {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    }
}

/// The template's form.
impl fmt::Display for IdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentitySource::Header(name) => write!(f, "route.request.header.{name}"),
            IdentitySource::QueryString(name) => write!(f, "route.request.querystring.{name}"),
            IdentitySource::StageVariable(name) => write!(f, "stageVariables.{name}"),
            IdentitySource::Context(name) => write!(f, "context.{name}"),
        }
    }
}

/// An authorizer as the template declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthorizerSpec {
    pub(crate) logical_id: String,
    /// Its `Name`, for the banner and logs.
    pub(crate) name: String,
    /// Logical ID of the function its `AuthorizerUri` invokes.
    pub(crate) function: String,
    pub(crate) identity_sources: Vec<IdentitySource>,
}

impl AuthorizerSpec {
    /// Reads an `AWS::ApiGatewayV2::Authorizer`; `functions` are the template's functions.
    pub(crate) fn read(
        id: &str,
        resource: &Value,
        functions: &BTreeMap<String, FunctionSpec>,
    ) -> Result<AuthorizerSpec, Unsupported> {
        let p = properties(resource);
        match p.get("AuthorizerType").and_then(Value::as_str) {
            Some("REQUEST") => {}
            other => {
                return Err(Unsupported(format!(
                    "{id}: AuthorizerType {} is not supported; a WebSocket API's authorizers are REQUEST (Lambda) authorizers",
                    other.unwrap_or("(none)")
                )));
            }
        }
        let uri = p
            .get("AuthorizerUri")
            .ok_or_else(|| Unsupported(format!("{id}: no AuthorizerUri")))?;
        let targets: Vec<String> = intrinsics::resource_ids(uri)
            .into_iter()
            .filter(|r| functions.contains_key(r))
            .collect();
        let [function] = targets.as_slice() else {
            return Err(Unsupported(format!(
                "{id}: AuthorizerUri {uri} does not point at exactly one AWS::Lambda::Function of this template (use Fn::GetAtt <Function>.Arn in Fn::Sub or Fn::Join)"
            )));
        };
        let sources: Vec<&str> = match p.get("IdentitySource") {
            None => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(Value::as_str)
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    Unsupported(format!("{id}: IdentitySource must be a list of strings"))
                })?,
            // The older comma-separated form.
            Some(Value::String(text)) => text.split(',').map(str::trim).collect(),
            Some(other) => {
                return Err(Unsupported(format!(
                    "{id}: IdentitySource must be a list of strings, found {other}"
                )));
            }
        };
        let identity_sources = sources
            .into_iter()
            .map(|s| {
                IdentitySource::parse(s)
                    .map_err(|e| Unsupported(format!("{id}: IdentitySource {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(AuthorizerSpec {
            logical_id: id.to_owned(),
            name: p
                .get("Name")
                .and_then(Value::as_str)
                .unwrap_or(id)
                .to_owned(),
            function: function.clone(),
            identity_sources,
        })
    }

    /// The first identity source the event lacks (or has empty).
    pub(crate) fn missing_source(&self, event: &Value) -> Option<&IdentitySource> {
        self.identity_sources
            .iter()
            .find(|source| source.value(event).is_none())
    }
}

/// What an Allow gives the connection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Granted {
    /// `requestContext.authorizer` of every event of the connection.
    pub(crate) authorizer: Value,
    pub(crate) usage_identifier_key: Option<String>,
}

const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;
const DENIED: &str = r#"{"Message":"User is not authorized to access this resource"}"#;
const DENIED_EXPLICITLY: &str =
    r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#;
const CONFIGURATION_ERROR: &str = r#"{"message": null}"#;

/// A missing identity source: 401, the function not invoked.
pub(crate) fn missing(source: &IdentitySource) -> Refusal {
    Refusal::new(
        401,
        UNAUTHORIZED,
        format!("identity source {source} is missing or empty; the authorizer was not invoked"),
    )
}

/// The invocation failed: `Unauthorized` is 401, anything else 500.
pub(crate) fn failed(failure: &Failure) -> Refusal {
    let unauthorized = match failure {
        Failure::Function(body) => serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|e| {
                e.get("errorMessage")
                    .and_then(Value::as_str)
                    .map(|m| m == "Unauthorized")
            })
            .unwrap_or(false),
        _ => false,
    };
    if unauthorized {
        Refusal::new(401, UNAUTHORIZED, "the authorizer answered Unauthorized")
    } else {
        Refusal::new(
            500,
            CONFIGURATION_ERROR,
            format!("the authorizer failed: {failure}"),
        )
    }
}

/// Judges the authorizer's answer for `method_arn`; `latency` is how long it took.
pub(crate) fn judge(
    answer: &[u8],
    method_arn: &str,
    latency: Duration,
) -> Result<Granted, Refusal> {
    let malformed = |why: String| {
        Refusal::new(
            500,
            CONFIGURATION_ERROR,
            format!("the authorizer's answer is not a valid authorizer result: {why}"),
        )
    };
    let result: Value =
        serde_json::from_slice(answer).map_err(|e| malformed(format!("not JSON ({e})")))?;
    let Some(result) = result.as_object() else {
        return Err(malformed(format!("not a JSON object: {result}")));
    };
    // Measured as JSON without the function's own spacing.
    let size = Value::Object(result.clone()).to_string().len();
    if size > MAX_RESULT_BYTES {
        return Err(malformed(format!(
            "{size} bytes, over API Gateway's {MAX_RESULT_BYTES}-byte quota"
        )));
    }
    let principal = match result.get("principalId") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(p)) => Value::String(p.clone()),
        Some(other) => return Err(malformed(format!("principalId {other} is not a string"))),
    };
    let usage_identifier_key = match result.get("usageIdentifierKey") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(other) => {
            return Err(malformed(format!(
                "usageIdentifierKey {other} is not a string"
            )));
        }
    };
    // API Gateway hands the context on with every value as a string.
    let mut authorizer = Map::new();
    match result.get("context") {
        None | Some(Value::Null) => {}
        Some(Value::Object(context)) => {
            for (key, value) in context {
                let value = match value {
                    Value::String(s) => Value::String(s.clone()),
                    Value::Number(n) => Value::String(n.to_string()),
                    Value::Bool(b) => Value::String(b.to_string()),
                    Value::Null => Value::Null,
                    other => {
                        return Err(malformed(format!(
                            "context.{key} is {other}: context values must be strings, numbers or booleans"
                        )));
                    }
                };
                authorizer.insert(key.clone(), value);
            }
        }
        Some(other) => return Err(malformed(format!("context {other} is not an object"))),
    }
    let Some(document) = result.get("policyDocument") else {
        return Err(malformed("no policyDocument".into()));
    };
    let (decision, note) = policy::evaluate(document, policy::INVOKE, method_arn)
        .map_err(|policy::Malformed(why)| malformed(why))?;
    let with_note = |text: &str| match &note {
        Some(note) => format!("{text} ({note})"),
        None => text.to_owned(),
    };
    match decision {
        Decision::Allow => {}
        Decision::ImplicitDeny => {
            return Err(Refusal::new(
                403,
                DENIED,
                with_note(&format!(
                    "the authorizer's policy allows nothing that matches {method_arn}"
                )),
            ));
        }
        Decision::ExplicitDeny => {
            return Err(Refusal::new(
                403,
                DENIED_EXPLICITLY,
                with_note(&format!("the authorizer's policy denies {method_arn}")),
            ));
        }
    }
    authorizer.insert("principalId".into(), principal);
    authorizer.insert(
        "integrationLatency".into(),
        u64::try_from(latency.as_millis())
            .unwrap_or(u64::MAX)
            .into(),
    );
    Ok(Granted {
        authorizer: Value::Object(authorizer),
        usage_identifier_key,
    })
}

/// Runs the authorizer: identity sources, invocation, judgement. `event` is the authorizer
/// event; `invoke` runs the function with it.
pub(crate) async fn authorize<F>(
    spec: &AuthorizerSpec,
    event: Value,
    method_arn: &str,
    invoke: impl FnOnce(Value) -> F,
) -> Result<Granted, Refusal>
where
    F: Future<Output = Result<bytes::Bytes, Failure>>,
{
    if let Some(source) = spec.missing_source(&event) {
        return Err(missing(source));
    }
    let started = Instant::now();
    let answer = invoke(event).await;
    let latency = started.elapsed();
    match answer {
        Ok(answer) => judge(&answer, method_arn, latency),
        Err(failure) => Err(failed(&failure)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:000000000000:abc123/dev/$connect";

    fn allow_with(extra: Value) -> Vec<u8> {
        let mut result = json!({"principalId": "ada", "policyDocument": {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ARN}]}});
        for (k, v) in extra.as_object().unwrap() {
            result[k] = v.clone();
        }
        result.to_string().into_bytes()
    }

    #[test]
    fn identity_sources_parse_in_their_four_forms_only() {
        assert_eq!(
            IdentitySource::parse("route.request.header.Auth").unwrap(),
            IdentitySource::Header("Auth".into())
        );
        assert_eq!(
            IdentitySource::parse("route.request.querystring.token").unwrap(),
            IdentitySource::QueryString("token".into())
        );
        assert_eq!(
            IdentitySource::parse("stageVariables.key").unwrap(),
            IdentitySource::StageVariable("key".into())
        );
        assert_eq!(
            IdentitySource::parse("context.identity.sourceIp").unwrap(),
            IdentitySource::Context("identity.sourceIp".into())
        );
        for bad in [
            "$request.header.Auth",
            "method.request.header.Auth",
            "route.request.header.",
            "route.request.header.a b",
            "route.request.body.x",
        ] {
            let err = IdentitySource::parse(bad).unwrap_err();
            assert!(err.contains(bad.trim_end_matches('.')), "{err}");
        }
        let source = IdentitySource::parse("route.request.querystring.token").unwrap();
        assert_eq!(source.to_string(), "route.request.querystring.token");
    }

    #[test]
    fn identity_sources_find_their_values() {
        let event = json!({
            "headers": {"X-Token": "h"}, "queryStringParameters": {"token": "q", "empty": ""},
            "stageVariables": {"key": "s"},
            "requestContext": {"identity": {"sourceIp": "127.0.0.1"}, "connectedAt": 5}});
        let value = |s: &str| IdentitySource::parse(s).unwrap().value(&event);
        assert_eq!(value("route.request.header.x-token").as_deref(), Some("h"));
        assert_eq!(
            value("route.request.querystring.token").as_deref(),
            Some("q")
        );
        assert_eq!(value("route.request.querystring.empty"), None);
        assert_eq!(value("route.request.querystring.Token"), None);
        assert_eq!(value("stageVariables.key").as_deref(), Some("s"));
        assert_eq!(
            value("context.identity.sourceIp").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(value("context.connectedAt").as_deref(), Some("5"));
        assert_eq!(value("context.identity"), None);
        assert_eq!(value("context.nope"), None);
    }

    #[test]
    fn an_allow_gives_the_principal_and_the_context_as_strings() {
        let answer = allow_with(
            json!({"context": {"s": "x", "n": 42, "f": 1.5, "b": true, "z": null},
            "usageIdentifierKey": "key-1"}),
        );
        let granted = judge(&answer, ARN, Duration::from_millis(7)).unwrap();
        assert_eq!(
            granted.authorizer,
            json!({"principalId": "ada", "integrationLatency": 7,
                   "s": "x", "n": "42", "f": "1.5", "b": "true", "z": null})
        );
        assert_eq!(granted.usage_identifier_key.as_deref(), Some("key-1"));
    }

    #[test]
    fn refusals_have_api_gateways_statuses() {
        let status = |answer: &[u8]| judge(answer, ARN, Duration::ZERO).unwrap_err().status;
        let deny = json!({"principalId": "x", "policyDocument": {"Statement": [
            {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": ARN}]}});
        assert_eq!(status(deny.to_string().as_bytes()), 403);
        let elsewhere = json!({"policyDocument": {"Statement": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*/prod/*"}]}});
        assert_eq!(status(elsewhere.to_string().as_bytes()), 403);
        assert_eq!(status(b"not json"), 500);
        assert_eq!(status(b"[]"), 500);
        assert_eq!(status(br#"{"principalId": "x"}"#), 500);
        assert_eq!(
            status(&allow_with(json!({"context": {"o": {"a": 1}}}))),
            500
        );
        assert_eq!(status(&allow_with(json!({"context": {"l": [1]}}))), 500);
        assert_eq!(status(&allow_with(json!({"principalId": 7}))), 500);
        let big = "x".repeat(MAX_RESULT_BYTES);
        assert_eq!(status(&allow_with(json!({"context": {"big": big}}))), 500);

        let error = |message: &str| {
            failed(&Failure::Function(
                json!({"errorType": "E", "errorMessage": message}).to_string(),
            ))
            .status
        };
        assert_eq!(error("Unauthorized"), 401);
        assert_eq!(error("unauthorized"), 500);
        assert_eq!(error("boom"), 500);
        assert_eq!(
            failed(&Failure::Timeout(Duration::from_secs(3))).status,
            500
        );
        assert_eq!(missing(&IdentitySource::Header("A".into())).status, 401);
    }
}
