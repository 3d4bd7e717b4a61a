//! `AWS::IAM::Role` and policy documents.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::intrinsics::{Expr, Pseudo, Sub};
use crate::resources::resource;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    pub assume_role_policy_document: PolicyDocument,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub managed_policy_arns: Vec<Expr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<InlinePolicy>,
}
resource!(Role, "AWS::IAM::Role", Arn, RoleId);

impl Role {
    /// A role the given service (`lambda.amazonaws.com`) may assume.
    pub fn for_service(service: &str) -> Role {
        Role {
            assume_role_policy_document: PolicyDocument::new(vec![Statement {
                sid: None,
                effect: Effect::Allow,
                principal: Some(Principal::Service(service.to_owned())),
                action: vec!["sts:AssumeRole".into()],
                resource: Vec::new(),
                condition: None,
            }]),
            description: None,
            managed_policy_arns: Vec::new(),
            policies: Vec::new(),
        }
    }
}

/// The ARN of an AWS managed policy (`service-role/AWSLambdaBasicExecutionRole`), in the
/// stack's partition.
pub fn aws_managed_policy(name: &str) -> Expr {
    Sub::new()
        .text("arn:")
        .var(Pseudo::Partition)
        .text(&format!(":iam::aws:policy/{name}"))
        .into()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InlinePolicy {
    pub policy_name: String,
    pub policy_document: PolicyDocument,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    version: &'static str,
    pub statement: Vec<Statement>,
}

impl PolicyDocument {
    pub fn new(statement: Vec<Statement>) -> PolicyDocument {
        PolicyDocument {
            version: "2012-10-17",
            statement,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub effect: Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    pub action: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<Expr>,
    /// `{"Bool": {"aws:SecureTransport": "false"}}`: operator → key → value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<BTreeMap<String, BTreeMap<String, String>>>,
}

impl Statement {
    /// Allow `actions` on `resources`.
    pub fn allow(actions: &[&str], resources: Vec<Expr>) -> Statement {
        Statement {
            sid: None,
            effect: Effect::Allow,
            principal: None,
            action: actions.iter().map(|a| (*a).to_owned()).collect(),
            resource: resources,
            condition: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Principal {
    /// `{"Service": "lambda.amazonaws.com"}`
    Service(String),
    /// `{"AWS": "*"}` (anyone: for Deny statements) or an account or role ARN.
    #[serde(rename = "AWS")]
    Aws(Expr),
}
