//! `AWS::Logs::LogGroup`.

use serde::Serialize;

use crate::intrinsics::Expr;
use crate::resources::resource;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogGroup {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<Expr>,
    pub retention_in_days: u32,
}
resource!(LogGroup, "AWS::Logs::LogGroup", Arn);
