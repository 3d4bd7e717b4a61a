//! `AWS::ApiGateway::Account`: the account-wide CloudWatch role API Gateway logs with; and
//! `ApiKey`, `UsagePlan`, `UsagePlanKey`: API keys, which WebSocket APIs share with REST APIs.

use serde::Serialize;

use crate::intrinsics::{GetAtt, Ref, attr};
use crate::resources::apigatewayv2::{Api, Stage};
use crate::resources::iam::Role;
use crate::resources::resource;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Account {
    pub cloud_watch_role_arn: GetAtt<Role, attr::Arn>,
}
resource!(Account, "AWS::ApiGateway::Account");

/// An API key. Without `Value`, API Gateway generates one (nothing secret in the template).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub enabled: bool,
    pub name: String,
}
resource!(ApiKey, "AWS::ApiGateway::ApiKey");

/// The stages a set of keys is valid for (and their throttling).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UsagePlan {
    pub api_stages: Vec<ApiStage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttle: Option<ThrottleSettings>,
    pub usage_plan_name: String,
}
resource!(UsagePlan, "AWS::ApiGateway::UsagePlan");

/// A WebSocket API's stage, by the API's id and the stage's name (`Ref` of either gives it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiStage {
    pub api_id: Ref<Api>,
    pub stage: Ref<Stage>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ThrottleSettings {
    pub burst_limit: u32,
    pub rate_limit: f64,
}

/// Puts a key in a usage plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UsagePlanKey {
    pub key_id: Ref<ApiKey>,
    pub key_type: KeyType,
    pub usage_plan_id: Ref<UsagePlan>,
}
resource!(UsagePlanKey, "AWS::ApiGateway::UsagePlanKey");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KeyType {
    #[serde(rename = "API_KEY")]
    ApiKey,
}
