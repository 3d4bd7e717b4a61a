//! The synthesized template and its deterministic serialization.
//!
//! Maps are `BTreeMap`s and properties are serialized through `serde_json::Value` (sorted
//! keys), so the same model always gives the same bytes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::intrinsics::Expr;

/// A CloudFormation template, as `Stack::synth` produced it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Template {
    #[serde(rename = "AWSTemplateFormatVersion")]
    pub(crate) format_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) parameters: BTreeMap<String, Parameter>,
    pub(crate) resources: BTreeMap<String, ResourceEntry>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) outputs: BTreeMap<String, Output>,
}

impl Template {
    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        // Every value in the model is a string, number, bool, map or list: this cannot fail.
        let mut text = serde_json::to_string_pretty(self).expect("a template serializes to JSON");
        text.push('\n');
        text
    }

    /// The same template as YAML (long-form intrinsics: `Ref:`, `Fn::Sub:`).
    pub fn to_yaml(&self) -> Result<String, serde_yaml::Error> {
        serde_yaml::to_string(self)
    }

    pub fn resource_count(&self) -> usize {
        self.resources.len()
    }

    /// Logical IDs and CloudFormation types of the resources, sorted by logical ID.
    pub fn resource_types(&self) -> impl Iterator<Item = (&str, &str)> {
        self.resources
            .iter()
            .map(|(id, entry)| (id.as_str(), entry.type_name))
    }
}

/// One entry of `Resources`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceEntry {
    #[serde(rename = "Type")]
    pub(crate) type_name: &'static str,
    /// The typed resource, serialized (the public API only takes typed structs).
    pub(crate) properties: serde_json::Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) depends_on: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) deletion_policy: Option<RemovalPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) update_replace_policy: Option<RemovalPolicy>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub(crate) metadata: Metadata,
}

/// `DeletionPolicy` / `UpdateReplacePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RemovalPolicy {
    Delete,
    Retain,
    RetainExceptOnCreate,
    Snapshot,
}

/// A resource's `Metadata`: what wsecho and the linters read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Metadata {
    /// The function package a Lambda function runs (`deploy` and `dev` read it); the key is
    /// `assembly::template::PACKAGE_METADATA` (serde wants a literal here; a test checks it).
    #[serde(rename = "wsecho:package", skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// checkov findings that don't apply here, each with the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkov: Option<CheckovMetadata>,
}

impl Metadata {
    pub fn is_empty(&self) -> bool {
        self.package.is_none() && self.checkov.is_none()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckovMetadata {
    pub skip: Vec<CheckovSkip>,
}

/// A checkov check skipped on purpose: `comment` says why it doesn't apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckovSkip {
    pub id: String,
    pub comment: String,
}

/// A template parameter (only string parameters: that is all wsecho needs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    #[serde(rename = "Type")]
    pub type_name: ParameterType,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ParameterType {
    String,
}

/// Marker for `Ref`s to a template parameter.
#[derive(Debug)]
pub enum Param {}

/// A stack output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    pub description: String,
    pub value: Expr,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_metadata_key_is_the_one_readers_look_for() {
        let metadata = Metadata {
            package: Some("echo".into()),
            checkov: None,
        };
        let value = serde_json::to_value(&metadata).unwrap();
        assert_eq!(
            value[assembly::template::PACKAGE_METADATA],
            serde_json::json!("echo")
        );
    }
}
