//! The account's API Gateway CloudWatch role (`AWS::ApiGateway::Account`).
//!
//! Execution logging on a stage fails to deploy until the account has a CloudWatch role; the
//! setting is account- and region-wide, so two stacks setting it agree on the same policy.

use crate::error::SynthError;
use crate::intrinsics::{Handle, attr};
use crate::path::ConstructPath;
use crate::resources::apigateway::Account;
use crate::resources::iam::{Role, aws_managed_policy};
use crate::stack::Stack;

pub struct ApiGatewayAccount {
    pub account: Handle<Account>,
    pub role: Handle<Role>,
}

impl ApiGatewayAccount {
    /// Adds `ApiGatewayCloudWatchRole` and `ApiGatewayAccount` in `scope`.
    pub fn new(stack: &mut Stack, scope: &ConstructPath) -> Result<ApiGatewayAccount, SynthError> {
        let path = scope.child("ApiGateway");
        let mut role = Role::for_service("apigateway.amazonaws.com");
        role.description = Some("Lets API Gateway write execution and access logs".into());
        role.managed_policy_arns = vec![aws_managed_policy(
            "service-role/AmazonAPIGatewayPushToCloudWatchLogs",
        )];
        let role = stack.add(&path.child("CloudWatchRole"), role)?;
        let account = stack.add(
            &path.child("Account"),
            Account {
                cloud_watch_role_arn: role.get_att(attr::Arn),
            },
        )?;
        Ok(ApiGatewayAccount { account, role })
    }
}
