//! A DynamoDB table for an app's own data (a chat's connections): on demand, with
//! point-in-time recovery, encryption at rest and, if asked, a TTL attribute. Functions get
//! exactly the item actions they call, on this table only.

use crate::constructs::function::LambdaFunction;
use crate::error::SynthError;
use crate::intrinsics::{Handle, attr};
use crate::path::ConstructPath;
use crate::resources::dynamodb::{
    AttributeDefinition, AttributeType, BillingMode, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, SseSpecification, Table, TimeToLiveSpecification,
};
use crate::resources::iam::{InlinePolicy, PolicyDocument, Statement};
use crate::stack::Stack;

#[derive(Debug, Clone)]
pub struct TableProps {
    /// The partition key's attribute and type.
    pub partition_key: (String, AttributeType),
    /// An attribute holding an expiry time (epoch seconds): DynamoDB deletes the items whose
    /// time has passed, within a day or two.
    pub ttl_attribute: Option<String>,
}

impl TableProps {
    pub fn new(partition_key: impl Into<String>, key_type: AttributeType) -> TableProps {
        TableProps {
            partition_key: (partition_key.into(), key_type),
            ttl_attribute: None,
        }
    }
}

/// What a function may do with a table's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TableAction {
    GetItem,
    PutItem,
    UpdateItem,
    DeleteItem,
    Query,
    Scan,
}

impl TableAction {
    /// The IAM action.
    pub fn iam_action(self) -> &'static str {
        match self {
            TableAction::GetItem => "dynamodb:GetItem",
            TableAction::PutItem => "dynamodb:PutItem",
            TableAction::UpdateItem => "dynamodb:UpdateItem",
            TableAction::DeleteItem => "dynamodb:DeleteItem",
            TableAction::Query => "dynamodb:Query",
            TableAction::Scan => "dynamodb:Scan",
        }
    }
}

pub struct DynamoTable {
    path: ConstructPath,
    pub table: Handle<Table>,
}

impl DynamoTable {
    /// Adds `<Id>Table`.
    pub fn new(
        stack: &mut Stack,
        scope: &ConstructPath,
        id: &str,
        props: TableProps,
    ) -> Result<DynamoTable, SynthError> {
        let path = scope.child(id).child("Table");
        let (key, key_type) = props.partition_key;
        if key.is_empty() || key.len() > 255 {
            return Err(SynthError::InvalidName {
                path: path.to_string(),
                what: "partition key attribute",
                value: key,
                rule: "1 to 255 characters (DynamoDB's attribute name rule)",
            });
        }
        let table = stack.add(
            &path,
            Table {
                attribute_definitions: vec![AttributeDefinition {
                    attribute_name: key.clone(),
                    attribute_type: key_type,
                }],
                billing_mode: BillingMode::PayPerRequest,
                key_schema: vec![KeySchemaElement {
                    attribute_name: key,
                    key_type: KeyType::Hash,
                }],
                point_in_time_recovery_specification: PointInTimeRecoverySpecification {
                    point_in_time_recovery_enabled: true,
                },
                sse_specification: SseSpecification { sse_enabled: true },
                time_to_live_specification: props.ttl_attribute.map(|attribute_name| {
                    TimeToLiveSpecification {
                        attribute_name,
                        enabled: true,
                    }
                }),
            },
        )?;
        stack.skip_checkov(
            &table,
            "CKV_AWS_119",
            "encrypted at rest with the AWS-managed DynamoDB key (SSEEnabled); the items are connection ids and user names, not worth a customer-managed KMS key and its key policy",
        )?;
        Ok(DynamoTable { path, table })
    }

    pub fn path(&self) -> &ConstructPath {
        &self.path
    }

    /// Lets `function` do `actions` on this table's items, and nothing else.
    pub fn grant(
        &self,
        stack: &mut Stack,
        function: &LambdaFunction,
        actions: &[TableAction],
    ) -> Result<(), SynthError> {
        let mut actions: Vec<TableAction> = actions.to_vec();
        actions.sort_unstable();
        actions.dedup();
        let iam: Vec<&str> = actions.iter().map(|a| a.iam_action()).collect();
        function.add_policy(
            stack,
            InlinePolicy {
                policy_name: format!("{}Items", self.table.logical_id()),
                policy_document: PolicyDocument::new(vec![Statement::allow(
                    &iam,
                    vec![self.table.get_att(attr::Arn).into()],
                )]),
            },
        )
    }
}
