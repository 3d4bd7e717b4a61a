//! `AWS::Lambda::Function` and `AWS::Lambda::Permission`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::intrinsics::{Expr, GetAtt, Ref, attr};
use crate::resources::iam::Role;
use crate::resources::logs::LogGroup;
use crate::resources::resource;
use crate::template::Param;
use assembly::Architecture;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Function {
    pub architectures: Vec<Architecture>,
    pub code: Code,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    pub handler: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging_config: Option<LoggingConfig>,
    pub memory_size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_concurrent_executions: Option<u32>,
    pub role: GetAtt<Role, attr::Arn>,
    pub runtime: Runtime,
    pub timeout: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing_config: Option<TracingConfig>,
}
resource!(Function, "AWS::Lambda::Function", Arn);

/// Code from S3: the assets bucket parameter and a content-addressed key.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Code {
    pub s3_bucket: Ref<Param>,
    pub s3_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Runtime {
    #[serde(rename = "provided.al2023")]
    ProvidedAl2023,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Environment {
    pub variables: BTreeMap<String, Expr>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfig {
    pub log_group: Ref<LogGroup>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TracingConfig {
    pub mode: TracingMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TracingMode {
    Active,
    PassThrough,
}

/// Lets a service principal invoke a function.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Permission {
    pub action: String,
    pub function_name: GetAtt<Function, attr::Arn>,
    pub principal: String,
    pub source_arn: Expr,
}
resource!(Permission, "AWS::Lambda::Permission");
