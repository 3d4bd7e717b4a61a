//! `AWS::ApiGateway::Account`: the account-wide CloudWatch role API Gateway logs with.

use serde::Serialize;

use crate::intrinsics::{GetAtt, attr};
use crate::resources::iam::Role;
use crate::resources::resource;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Account {
    pub cloud_watch_role_arn: GetAtt<Role, attr::Arn>,
}
resource!(Account, "AWS::ApiGateway::Account");
