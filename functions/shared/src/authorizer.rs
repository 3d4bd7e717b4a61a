//! What a Lambda REQUEST authorizer of `$connect` returns: an IAM policy that allows (or
//! denies) `execute-api:Invoke` on the connection's `methodArn`, the principal, and a context
//! that API Gateway hands to every event of the connection (`requestContext.authorizer`).

use std::collections::BTreeMap;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::Value;

/// The event of a REQUEST authorizer.
pub type AuthorizerRequest = ApiGatewayCustomAuthorizerRequestTypeRequest;
/// The answer of a REQUEST authorizer.
pub type AuthorizerResponse = ApiGatewayCustomAuthorizerResponse<Value>;

/// Refuses the connection with 401: API Gateway answers 401 exactly when the authorizer
/// fails with the message `Unauthorized`. Say why in the logs, never to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Unauthorized")]
pub struct Unauthorized;

/// A context value: API Gateway passes on strings, numbers and booleans only (anything
/// else fails the connection with 500).
#[derive(Debug, Clone, PartialEq)]
pub enum ContextValue {
    String(String),
    Number(f64),
    Bool(bool),
}

impl From<&str> for ContextValue {
    fn from(value: &str) -> ContextValue {
        ContextValue::String(value.to_owned())
    }
}

impl From<String> for ContextValue {
    fn from(value: String) -> ContextValue {
        ContextValue::String(value)
    }
}

impl From<bool> for ContextValue {
    fn from(value: bool) -> ContextValue {
        ContextValue::Bool(value)
    }
}

impl From<f64> for ContextValue {
    fn from(value: f64) -> ContextValue {
        ContextValue::Number(value)
    }
}

impl ContextValue {
    fn into_json(self) -> Value {
        match self {
            ContextValue::String(s) => Value::String(s),
            ContextValue::Number(n) => serde_json::Number::from_f64(n)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            ContextValue::Bool(b) => Value::Bool(b),
        }
    }
}

/// Allows the connection `request` asks for, as `principal_id`, with `context`.
pub fn allow(
    request: &AuthorizerRequest,
    principal_id: &str,
    context: BTreeMap<String, ContextValue>,
) -> AuthorizerResponse {
    policy(request, IamPolicyEffect::Allow, principal_id, context)
}

/// Denies the connection (403): for a caller who is known but not allowed in; an unknown
/// caller gets [`Unauthorized`] (401) instead.
pub fn deny(request: &AuthorizerRequest, principal_id: &str) -> AuthorizerResponse {
    policy(
        request,
        IamPolicyEffect::Deny,
        principal_id,
        BTreeMap::new(),
    )
}

fn policy(
    request: &AuthorizerRequest,
    effect: IamPolicyEffect,
    principal_id: &str,
    context: BTreeMap<String, ContextValue>,
) -> AuthorizerResponse {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = effect;
    // Exactly this API, stage and `$connect`: a policy is about one connection.
    statement.resource = vec![request.method_arn.clone().unwrap_or_default()];
    let mut document = ApiGatewayCustomAuthorizerPolicy::default();
    document.version = Some("2012-10-17".to_owned());
    document.statement = vec![statement];
    let mut response = AuthorizerResponse::default();
    response.principal_id = Some(principal_id.to_owned());
    response.policy_document = document;
    response.context = Value::Object(
        context
            .into_iter()
            .map(|(key, value)| (key, value.into_json()))
            .collect(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_names_the_method_arn_and_keeps_scalar_context() {
        let mut request = AuthorizerRequest::default();
        request.method_arn = Some("arn:aws:execute-api:eu-west-1:1:abc/dev/$connect".into());
        let response = allow(
            &request,
            "alice",
            BTreeMap::from([
                ("user".to_owned(), "alice".into()),
                ("admin".to_owned(), false.into()),
            ]),
        );
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["principalId"], "alice");
        let statement = &json["policyDocument"]["Statement"][0];
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Action"][0], "execute-api:Invoke");
        assert_eq!(
            statement["Resource"][0],
            "arn:aws:execute-api:eu-west-1:1:abc/dev/$connect"
        );
        assert_eq!(
            json["context"],
            serde_json::json!({"user": "alice", "admin": false})
        );
        let denied = serde_json::to_value(deny(&request, "bob")).unwrap();
        assert_eq!(denied["policyDocument"]["Statement"][0]["Effect"], "Deny");
        assert_eq!(Unauthorized.to_string(), "Unauthorized");
    }
}
