//! `AWS::ApiGatewayV2::{Api, Authorizer, Route, Integration, RouteResponse, Stage, Deployment}`.

use serde::Serialize;

use crate::intrinsics::{Expr, GetAtt, Ref, attr};
use crate::resources::logs::LogGroup;
use crate::resources::resource;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Api {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_selection_expression: Option<ApiKeySelectionExpression>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub name: String,
    pub protocol_type: ProtocolType,
    pub route_selection_expression: String,
}
resource!(Api, "AWS::ApiGatewayV2::Api", ApiEndpoint, ApiId);

/// Where a route that requires an API key finds it: the only two WebSocket APIs accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ApiKeySelectionExpression {
    /// The client's `x-api-key` header.
    #[serde(rename = "$request.header.x-api-key")]
    Header,
    /// The `usageIdentifierKey` the `$connect` authorizer returns.
    #[serde(rename = "$context.authorizer.usageIdentifierKey")]
    AuthorizerUsageIdentifierKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProtocolType {
    Websocket,
    Http,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Route {
    pub api_id: Ref<Api>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub api_key_required: bool,
    /// `AuthorizationType`, and `AuthorizerId` exactly when it is `CUSTOM`.
    #[serde(flatten)]
    pub authorization: RouteAuthorization,
    pub route_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_response_selection_expression: Option<String>,
    pub target: Expr,
}
resource!(Route, "AWS::ApiGatewayV2::Route");

/// Who may use a route (WebSocket APIs check only `$connect`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(tag = "AuthorizationType")]
pub enum RouteAuthorization {
    #[default]
    #[serde(rename = "NONE")]
    None,
    /// A SigV4-signed request from a principal allowed `execute-api:Invoke` on the route.
    #[serde(rename = "AWS_IAM")]
    AwsIam,
    /// A Lambda authorizer decides.
    #[serde(rename = "CUSTOM")]
    Custom {
        #[serde(rename = "AuthorizerId")]
        authorizer_id: Ref<Authorizer>,
    },
}

/// A Lambda authorizer of a WebSocket API (REQUEST: the only type WebSocket APIs have).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Authorizer {
    pub api_id: Ref<Api>,
    pub authorizer_type: AuthorizerType,
    /// `arn:…:apigateway:<region>:lambda:path/2015-03-31/functions/<arn>/invocations`.
    pub authorizer_uri: Expr,
    /// `route.request.header.X`, `route.request.querystring.X`, `stageVariables.X`,
    /// `context.X`.
    pub identity_source: Vec<String>,
    pub name: String,
}
resource!(Authorizer, "AWS::ApiGatewayV2::Authorizer", AuthorizerId);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AuthorizerType {
    #[serde(rename = "REQUEST")]
    Request,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Integration {
    pub api_id: Ref<Api>,
    pub integration_type: IntegrationType,
    pub integration_uri: Expr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_in_millis: Option<u32>,
}
resource!(Integration, "AWS::ApiGatewayV2::Integration");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum IntegrationType {
    #[serde(rename = "AWS_PROXY")]
    AwsProxy,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteResponse {
    pub api_id: Ref<Api>,
    pub route_id: Ref<Route>,
    pub route_response_key: String,
}
resource!(RouteResponse, "AWS::ApiGatewayV2::RouteResponse");

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Stage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_log_settings: Option<AccessLogSettings>,
    pub api_id: Ref<Api>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_deploy: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_route_settings: Option<RouteSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<Ref<Deployment>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub stage_name: String,
}
resource!(Stage, "AWS::ApiGatewayV2::Stage");

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessLogSettings {
    pub destination_arn: GetAtt<LogGroup, attr::Arn>,
    pub format: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteSettings {
    pub data_trace_enabled: bool,
    pub detailed_metrics_enabled: bool,
    pub logging_level: LoggingLevel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttling_burst_limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttling_rate_limit: Option<f64>,
}

/// Execution logging level of a WebSocket stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LoggingLevel {
    Off,
    Error,
    Info,
}

/// A deployment of an API; deploy after every route exists (see `constructs::stage`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Deployment {
    pub api_id: Ref<Api>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
resource!(Deployment, "AWS::ApiGatewayV2::Deployment");
