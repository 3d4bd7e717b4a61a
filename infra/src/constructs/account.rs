//! The account's API Gateway CloudWatch role (`AWS::ApiGateway::Account`).
//!
//! Execution logging on a stage fails to deploy until the account has a CloudWatch role. The
//! setting is one per account and region, shared by every API there, other teams' included:
//! it belongs to the toolkit stack (one per account and region), never to a stage stack, whose
//! `destroy` would otherwise delete the role every API's logging goes through (CloudFormation
//! does not reset the setting when the role goes: aws-cdk#10878). Both resources are retained
//! when the toolkit stack goes, for the same reason.

use crate::error::SynthError;
use crate::intrinsics::{Handle, attr};
use crate::path::ConstructPath;
use crate::resources::apigateway::Account;
use crate::resources::iam::{Role, aws_managed_policy};
use crate::stack::Stack;
use crate::template::RemovalPolicy;

pub struct ApiGatewayAccount {
    pub account: Handle<Account>,
    pub role: Handle<Role>,
}

impl ApiGatewayAccount {
    /// Adds `ApiGatewayCloudWatchRole` and `ApiGatewayAccount` in `scope`, both retained.
    pub fn new(stack: &mut Stack, scope: &ConstructPath) -> Result<ApiGatewayAccount, SynthError> {
        let path = scope.child("ApiGateway");
        let mut role = Role::for_service("apigateway.amazonaws.com");
        role.description = Some(
            "Lets API Gateway write execution and access logs (the account's CloudWatch role)"
                .into(),
        );
        role.managed_policy_arns = vec![aws_managed_policy(
            "service-role/AmazonAPIGatewayPushToCloudWatchLogs",
        )];
        let role = stack.add(&path.child("CloudWatchRole"), role)?;
        stack.set_removal_policy(&role, RemovalPolicy::Retain)?;
        let account = stack.add(
            &path.child("Account"),
            Account {
                cloud_watch_role_arn: role.get_att(attr::Arn),
            },
        )?;
        stack.set_removal_policy(&account, RemovalPolicy::Retain)?;
        Ok(ApiGatewayAccount { account, role })
    }
}
