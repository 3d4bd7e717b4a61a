//! `AWS::ApiGatewayV2::{Api, Route, Integration, RouteResponse, Stage, Deployment}`.

use serde::Serialize;

use crate::intrinsics::{Expr, GetAtt, Ref, attr};
use crate::resources::logs::LogGroup;
use crate::resources::resource;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Api {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub name: String,
    pub protocol_type: ProtocolType,
    pub route_selection_expression: String,
}
resource!(Api, "AWS::ApiGatewayV2::Api", ApiEndpoint, ApiId);

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
    pub authorization_type: AuthorizationType,
    pub route_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_response_selection_expression: Option<String>,
    pub target: Expr,
}
resource!(Route, "AWS::ApiGatewayV2::Route");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AuthorizationType {
    #[serde(rename = "NONE")]
    None,
    #[serde(rename = "AWS_IAM")]
    AwsIam,
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
