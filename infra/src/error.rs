//! Synthesis errors and warnings: each names the construct path and what to change.

use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("stack `{stack}` has no resources: add at least one construct before synthesizing")]
    EmptyStack { stack: String },

    #[error(
        "logical ID `{logical_id}` is used by both `{first}` and `{second}`: rename one of the constructs"
    )]
    LogicalIdCollision {
        logical_id: String,
        first: String,
        second: String,
    },

    #[error("`{path}` gives the invalid logical ID `{logical_id}`: {reason}")]
    InvalidLogicalId {
        path: String,
        logical_id: String,
        reason: String,
    },

    #[error("route key `{route_key}` is defined twice, by `{first}` and `{second}`: remove one")]
    DuplicateRoute {
        route_key: String,
        first: String,
        second: String,
    },

    #[error(
        "`{path}` has no routes; API Gateway refuses to deploy an API without one: add a route"
    )]
    NoRoutes { path: String },

    #[error(
        "`{path}`: route `{route_key}` has an authorization or requires an API key, but API Gateway checks them on `$connect` only (a WebSocket API authorizes connections, not messages): guard `$connect` instead"
    )]
    GuardOffConnect { path: String, route_key: String },

    #[error(
        "app `{app}` guards `$connect` but has no `$connect` route: add one to its route table (API Gateway runs the guard on `$connect`)"
    )]
    GuardWithoutConnectRoute { app: String },

    #[error(
        "`{path}`: API keys come from the authorizer's usageIdentifierKey, but `$connect` has no authorizer: use ApiKeySource::Header or add an authorizer"
    )]
    ApiKeySourceWithoutAuthorizer { path: String },

    #[error(
        "`{path}` is granted the {kind} `{id}`, which the app doesn't declare (it has: {known}); add it to the app's {kind}s or fix the id"
    )]
    UnknownAppResource {
        path: String,
        kind: &'static str,
        id: String,
        known: String,
    },

    #[error("`{path}`: identity source `{identity_source}` is not valid: {reason}")]
    InvalidIdentitySource {
        path: String,
        identity_source: String,
        reason: String,
    },

    #[error("`{path}`: malformed route key `{route_key}`: {reason}")]
    MalformedRouteKey {
        path: String,
        route_key: String,
        reason: String,
    },

    #[error(
        "`{path}` uses the function package `{package}`, which the asset manifest doesn't have (it has: {known}); add the crate under functions/ and run `cargo xtask build`, or fix the name"
    )]
    UnknownPackage {
        path: String,
        package: String,
        known: String,
    },

    #[error(
        "app `{app}`: {first} and {second} both name the function package `{package}`; give each its own function crate"
    )]
    SharedPackage {
        app: String,
        package: String,
        first: String,
        second: String,
    },

    #[error(
        "the asset manifest is for {manifest}, but its `{package}` asset is for {asset}: run `cargo xtask build` again"
    )]
    MixedArchitectures {
        package: String,
        manifest: String,
        asset: String,
    },

    #[error(
        "`{path}` references `{target}`, which is not a resource, parameter or pseudo parameter of this stack"
    )]
    DanglingReference { path: String, target: String },

    #[error("`{path}`: {what} `{value}` is {len} characters long; CloudFormation allows {limit}")]
    NameTooLong {
        path: String,
        what: &'static str,
        value: String,
        len: usize,
        limit: usize,
    },

    #[error("`{path}`: {what} `{value}` is not valid: {rule}")]
    InvalidName {
        path: String,
        what: &'static str,
        value: String,
        rule: &'static str,
    },

    #[error("stack `{stack}` has {count} {what}; CloudFormation allows {limit}: split the stack")]
    TooMany {
        stack: String,
        what: &'static str,
        count: usize,
        limit: usize,
    },

    #[error("`{path}` is not a {expected} of this stack (a handle from another stack?)")]
    WrongHandle {
        path: String,
        expected: &'static str,
    },

    #[error("`{path}` cannot be serialized: {source}")]
    Serialize {
        path: String,
        source: serde_json::Error,
    },
}

/// Something that synthesizes but deserves a look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Construct path (or config field) the warning is about.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "warning: `{}`: {}", self.path, self.message)
    }
}
