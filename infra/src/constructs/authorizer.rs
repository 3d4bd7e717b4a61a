//! A Lambda REQUEST authorizer of a WebSocket API: the Authorizer and the Permission that
//! lets this API (and only its authorizers path) invoke the function. It guards `$connect`,
//! the only route of a WebSocket API that API Gateway authorizes.

use std::fmt;
use std::str::FromStr;

use crate::constructs::function::LambdaFunction;
use crate::constructs::websocket_api::WebSocketApi;
use crate::error::SynthError;
use crate::intrinsics::{Handle, Pseudo, Sub, attr};
use crate::path::ConstructPath;
use crate::resources::apigatewayv2::{Authorizer, AuthorizerType, RouteAuthorization};
use crate::resources::lambda::Permission;
use crate::stack::Stack;

/// Where API Gateway finds a value the authorizer needs. A connection that lacks one, or has
/// it empty, is refused with 401 before the authorizer runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum IdentitySource {
    /// `route.request.header.NAME`: a header of the upgrade request (not settable by browsers).
    Header(String),
    /// `route.request.querystring.NAME`: a query parameter of the connection URL.
    QueryString(String),
    /// `stageVariables.NAME`: a variable of the stage.
    StageVariable(String),
    /// `context.NAME`: a `$context` variable (`context.identity.sourceIp`).
    Context(String),
}

impl IdentitySource {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            IdentitySource::Header(name) => ("route.request.header.", name),
            IdentitySource::QueryString(name) => ("route.request.querystring.", name),
            IdentitySource::StageVariable(name) => ("stageVariables.", name),
            IdentitySource::Context(name) => ("context.", name),
        }
    }

    /// Checks the name for its kind: `None` when valid, else why not.
    fn check(&self) -> Option<String> {
        let (prefix, name) = self.parts();
        if name.is_empty() {
            return Some(format!("`{prefix}` needs a name after it"));
        }
        let valid = match self {
            // RFC 9110's token characters.
            IdentitySource::Header(_) => name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)),
            // Unreserved URL characters: what a client sends without percent-encoding.
            IdentitySource::QueryString(_) => name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)),
            IdentitySource::StageVariable(_) => {
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            }
            IdentitySource::Context(_) => {
                !name.starts_with('.')
                    && !name.ends_with('.')
                    && !name.contains("..")
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            }
        };
        (!valid).then(|| {
            let rule = match self {
                IdentitySource::Header(_) => {
                    "a header name (letters, digits, `-` and RFC 9110's token symbols)"
                }
                IdentitySource::QueryString(_) => {
                    "a query parameter name (letters, digits, `-`, `.`, `_`, `~`)"
                }
                IdentitySource::StageVariable(_) => "a stage variable name (letters, digits, `_`)",
                IdentitySource::Context(_) => "a context variable path (`identity.sourceIp`)",
            };
            format!("`{name}` is not {rule}")
        })
    }
}

impl fmt::Display for IdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, name) = self.parts();
        write!(f, "{prefix}{name}")
    }
}

impl FromStr for IdentitySource {
    type Err = String;

    /// Reads the form WebSocket authorizers take (`route.request.querystring.token`). The
    /// HTTP and REST API forms (`$request.header.X`, `method.request.header.X`) are refused
    /// with the WebSocket form to use instead: API Gateway refuses them at deploy time.
    fn from_str(text: &str) -> Result<IdentitySource, String> {
        type Kind = fn(String) -> IdentitySource;
        let kinds: [(&str, Kind); 4] = [
            ("route.request.header.", IdentitySource::Header),
            ("route.request.querystring.", IdentitySource::QueryString),
            ("stageVariables.", IdentitySource::StageVariable),
            ("context.", IdentitySource::Context),
        ];
        for (prefix, kind) in kinds {
            if let Some(name) = text.strip_prefix(prefix) {
                let source = kind(name.to_owned());
                return match source.check() {
                    None => Ok(source),
                    Some(reason) => Err(reason),
                };
            }
        }
        let other_forms = [
            ("$request.header.", "route.request.header."),
            ("$request.querystring.", "route.request.querystring."),
            ("method.request.header.", "route.request.header."),
            ("method.request.querystring.", "route.request.querystring."),
            ("$stageVariables.", "stageVariables."),
            ("$context.", "context."),
        ];
        for (other, websocket) in other_forms {
            if let Some(name) = text.strip_prefix(other) {
                return Err(format!(
                    "`{text}` is the HTTP or REST API form; a WebSocket authorizer takes `{websocket}{name}`"
                ));
            }
        }
        Err(format!(
            "`{text}` is not an identity source of a WebSocket authorizer: use `route.request.header.NAME`, `route.request.querystring.NAME`, `stageVariables.NAME` or `context.NAME`"
        ))
    }
}

#[derive(Debug, Clone)]
pub struct AuthorizerProps {
    /// The authorizer's name in API Gateway.
    pub name: String,
    /// What every connection must carry; checked in order, all required.
    pub identity_sources: Vec<IdentitySource>,
}

impl AuthorizerProps {
    pub fn new(name: impl Into<String>, identity_sources: Vec<IdentitySource>) -> AuthorizerProps {
        AuthorizerProps {
            name: name.into(),
            identity_sources,
        }
    }
}

/// The resources an authorizer brought.
pub struct WebSocketAuthorizer {
    path: ConstructPath,
    pub authorizer: Handle<Authorizer>,
    pub permission: Handle<Permission>,
}

impl WebSocketAuthorizer {
    /// Adds `<Id>Authorizer` to `api`, calling `function`, and `<Id>AuthorizerPermission`
    /// (invoke, from this API's authorizers only). Attach it to `$connect` with
    /// [`WebSocketAuthorizer::authorization`].
    pub fn new(
        stack: &mut Stack,
        scope: &ConstructPath,
        id: &str,
        api: &mut WebSocketApi,
        function: &LambdaFunction,
        props: AuthorizerProps,
    ) -> Result<WebSocketAuthorizer, SynthError> {
        let path = scope.child(id).child("Authorizer");
        let mut seen = Vec::new();
        for source in &props.identity_sources {
            if let Some(reason) = source.check() {
                return Err(SynthError::InvalidIdentitySource {
                    path: path.to_string(),
                    identity_source: source.to_string(),
                    reason,
                });
            }
            if seen.contains(&source) {
                return Err(SynthError::InvalidIdentitySource {
                    path: path.to_string(),
                    identity_source: source.to_string(),
                    reason: "it is listed twice".into(),
                });
            }
            seen.push(source);
        }
        let authorizer = stack.add(
            &path,
            Authorizer {
                api_id: api.api.reference(),
                authorizer_type: AuthorizerType::Request,
                authorizer_uri: Sub::new()
                    .text("arn:")
                    .var(Pseudo::Partition)
                    .text(":apigateway:")
                    .var(Pseudo::Region)
                    .text(":lambda:path/2015-03-31/functions/")
                    .var(function.function.get_att(attr::Arn))
                    .text("/invocations")
                    .into(),
                identity_source: props
                    .identity_sources
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                name: props.name,
            },
        )?;
        let permission = stack.add(
            &path.child("Permission"),
            Permission {
                action: "lambda:InvokeFunction".into(),
                function_name: function.function.get_att(attr::Arn),
                principal: "apigateway.amazonaws.com".into(),
                source_arn: Sub::arn_prefix("execute-api")
                    .var(api.api.reference())
                    .text("/authorizers/")
                    .var(authorizer.reference())
                    .into(),
            },
        )?;
        api.own_authorizer(&authorizer);
        Ok(WebSocketAuthorizer {
            path,
            authorizer,
            permission,
        })
    }

    pub fn path(&self) -> &ConstructPath {
        &self.path
    }

    /// The route authorization that makes this authorizer guard a route (`$connect`).
    pub fn authorization(&self) -> RouteAuthorization {
        RouteAuthorization::Custom {
            authorizer_id: self.authorizer.reference(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_sources_round_trip_and_explain_other_forms() {
        for text in [
            "route.request.header.Authorization",
            "route.request.querystring.token",
            "stageVariables.tenant_1",
            "context.identity.sourceIp",
        ] {
            let source: IdentitySource = text.parse().unwrap();
            assert_eq!(source.to_string(), text);
        }
        let http = "$request.header.Authorization"
            .parse::<IdentitySource>()
            .unwrap_err();
        assert!(
            http.contains("route.request.header.Authorization"),
            "{http}"
        );
        let rest = "method.request.querystring.token"
            .parse::<IdentitySource>()
            .unwrap_err();
        assert!(rest.contains("route.request.querystring.token"), "{rest}");
        assert!("route.request.header.".parse::<IdentitySource>().is_err());
        assert!(
            "route.request.header.X Y"
                .parse::<IdentitySource>()
                .is_err()
        );
        assert!("context..a".parse::<IdentitySource>().is_err());
        assert!("header.X".parse::<IdentitySource>().is_err());
    }
}
