//! Offline review of infrastructure changes: what going from one CloudFormation template to
//! another adds, removes and modifies, which modifications replace a resource (from the
//! resource schemas' `createOnlyProperties`), and what changes who may do what (IAM, resource
//! policies, Lambda permissions, authorizers, route authorization), as `cdk diff` shows it.
//! Rendered as text for a terminal, Markdown for a pull-request comment, or JSON for tools.

mod compare;
mod create_only;
mod intrinsic;
mod markdown;
pub mod replacement;
mod security;
mod show;
mod text;

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

pub use compare::compare;
pub use markdown::MARKER;

/// The JSON format's version; bumped when a field changes meaning or goes away.
pub const JSON_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot read {path}: {source} (the pinned cfn-lint ships the resource schemas: `cargo xtask codegen` installs it into .tools/ when it is missing; remove .tools/py/cfn-lint to reinstall it)"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: {message} (is the pinned cfn-lint intact? remove .tools/py/cfn-lint and `cargo xtask codegen` reinstalls it)"
    )]
    Schema { path: PathBuf, message: String },
    #[error(
        "resource type {resource_type} is not in cfn-lint's schemas ({path}): check the type's spelling in the model, or update the pinned cfn-lint and run `cargo xtask codegen`"
    )]
    UnknownType {
        resource_type: String,
        path: PathBuf,
    },
}

/// Every stack's changes between two revisions.
#[derive(Clone, Debug, PartialEq)]
pub struct Review {
    /// What the templates are compared against (a git ref, a deployed stack, a file).
    pub base: String,
    /// What is reviewed (usually the working tree).
    pub head: String,
    pub stacks: Vec<StackReview>,
}

/// Which changes fail a CI check (`--fail-on`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum FailOn {
    /// A resource is or may be replaced: a create-only or conditionally create-only property
    /// changed, or its type did.
    Replacement,
    /// Anything in the security section.
    Security,
    /// Any change at all.
    Any,
}

/// text to read, markdown to post on a pull request, json for other tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Format {
    Text,
    Markdown,
    Json,
}

impl Review {
    /// No stack has any change.
    pub fn is_empty(&self) -> bool {
        self.stacks.iter().all(StackReview::is_empty)
    }

    /// Whether the review holds a change of the kind `fail_on` names. Removing a resource
    /// or a whole stack is not a replacement: it shows as a removal, and `Any` catches it.
    pub fn matches(&self, fail_on: FailOn) -> bool {
        match fail_on {
            FailOn::Replacement => self
                .stacks
                .iter()
                .flat_map(|s| &s.resources)
                .any(|r| r.replaces()),
            FailOn::Security => self.stacks.iter().any(|s| !s.security.is_empty()),
            FailOn::Any => !self.is_empty(),
        }
    }
}

/// One stack's changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StackReview {
    /// The stack as the caller names it (`echo/dev`).
    pub stack: String,
    pub status: StackStatus,
    /// Resources added, removed or modified, by logical ID.
    pub resources: Vec<ResourceChange>,
    /// Changes to who may do what: IAM statements and managed policies, resource policies,
    /// Lambda permissions, authorizers, route authorization.
    pub security: Vec<SecurityChange>,
    /// Outputs whose definition changed, by name.
    pub outputs: Vec<NamedChange>,
    /// Parameters whose definition changed, by name.
    pub parameters: Vec<NamedChange>,
    /// Other top-level template sections that changed (`Description`, `Conditions`,
    /// `Mappings`…), only for a stack on both sides.
    pub sections: Vec<NamedChange>,
}

impl StackReview {
    pub fn is_empty(&self) -> bool {
        self.status == StackStatus::Unchanged
    }

    /// The changed paths of a modified resource (`Code.S3Key`, `Environment.Variables.B`,
    /// `Architectures[0]`, `Metadata.x`, `DependsOn`, `Type`), sorted; `None` if the resource
    /// wasn't modified (unchanged, added or removed).
    pub fn changed_paths(&self, logical_id: &str) -> Option<Vec<String>> {
        self.resources
            .iter()
            .find(|r| r.logical_id == logical_id && r.change == ChangeKind::Modified)
            .map(|r| r.properties.iter().map(|p| p.path.clone()).collect())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StackStatus {
    /// The stack exists only in head.
    Added,
    /// The stack exists only in base.
    Removed,
    Modified,
    Unchanged,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Modified,
}

/// Whether a change replaces the resource (CloudFormation creates a new one, then deletes the
/// old: a new physical ID, and the data of a table or bucket does not move over).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Replacement {
    No,
    /// The type changed, or a property listed in the type's `createOnlyProperties`.
    Yes,
    /// A property listed in the type's `conditionalCreateOnlyProperties` changed: whether
    /// CloudFormation replaces depends on the change (a DynamoDB table's `KeySchema`).
    Conditional,
    /// The type is not in the generated table (`cargo xtask codegen` regenerates it).
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceChange {
    pub logical_id: String,
    /// The type in head (in base for a removed resource).
    pub resource_type: String,
    pub change: ChangeKind,
    /// `yes` if any property change replaces the resource, or its type changed; else
    /// `conditional` if one may; else `unknown` if the type isn't in the table.
    pub replacement: Replacement,
    /// What changed in a modified resource; empty for added and removed ones.
    pub properties: Vec<PropertyChange>,
}

impl ResourceChange {
    /// Whether the change replaces the resource, or may (`Conditional`).
    pub fn replaces(&self) -> bool {
        matches!(
            self.replacement,
            Replacement::Yes | Replacement::Conditional
        )
    }
}

/// One changed value inside a resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PropertyChange {
    /// `Environment.Variables.B`, `Architectures[0]` for properties; `Type`, `DependsOn`,
    /// `Metadata.x`, `DeletionPolicy` for the rest of the resource.
    pub path: String,
    /// The value in base, as JSON; absent when the path didn't exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The value in head, as JSON; absent when the path no longer exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    pub replacement: Replacement,
}

/// An output, parameter or template section that was added, removed or changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NamedChange {
    pub name: String,
    pub change: ChangeKind,
}

/// One change to who may do what.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecurityChange {
    pub logical_id: String,
    pub resource_type: String,
    /// `added` / `removed` for a statement, managed policy, permission, authorizer or guarded
    /// route; `modified` when one changed in place.
    pub change: ChangeKind,
    pub access: Access,
    pub detail: SecurityDetail,
}

/// What a security change does to access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// More is allowed: an Allow statement, managed policy or permission added; a Deny
    /// removed; an authorizer or a route's authorization removed; an API key no longer needed.
    Widened,
    /// The opposites.
    Narrowed,
    /// Changed in a way that is neither (another authorizer, a permission's source changed):
    /// read it.
    Changed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SecurityDetail {
    /// A policy statement added or removed (a changed statement is one of each).
    Statement(Statement),
    /// A managed policy attached or detached (`ManagedPolicyArns`).
    ManagedPolicy {
        /// The policy's ARN, intrinsics rendered as `${Ref}`.
        arn: String,
    },
    /// An `AWS::Lambda::Permission`: who may invoke which function.
    Permission {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        old: Option<Permission>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new: Option<Permission>,
    },
    /// An `AWS::ApiGatewayV2::Authorizer`.
    Authorizer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        old: Option<Authorizer>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new: Option<Authorizer>,
    },
    /// An `AWS::ApiGatewayV2::Route`'s authorization.
    RouteAuthorization {
        route_key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        old: Option<RouteAuthorization>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new: Option<RouteAuthorization>,
    },
}

/// A policy statement, normalized: lists sorted, intrinsics rendered (`${Table.Arn}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Statement {
    /// Which document: `AssumeRolePolicyDocument`, `Policies[WriteLogs]`, `PolicyDocument`,
    /// `PolicyDocument on ${Role}` for a policy attached to a role.
    pub policy: String,
    pub effect: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_resources: Vec<String>,
    /// `Service:lambda.amazonaws.com`, `AWS:${Role.Arn}`, `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_principals: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Permission {
    pub function: String,
    pub principal: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_account: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Authorizer {
    pub name: String,
    /// `REQUEST`, `JWT`.
    pub authorizer_type: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity_source: Vec<String>,
    /// The function that decides, for a REQUEST authorizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RouteAuthorization {
    /// `NONE`, `AWS_IAM`, `CUSTOM`, `JWT`.
    pub authorization_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_id: Option<String>,
    pub api_key_required: bool,
}

/// Infrastructure changes between two revisions, per stack, as `cargo xtask diff --format
/// json` writes them. Fields may be added within a version; `version` changes when one changes
/// meaning or goes away.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename = "Review")]
struct Document {
    /// The format's version: 1.
    #[schemars(range(min = 1, max = 1))]
    version: u32,
    /// What the templates are compared against (a git ref, a deployed stack, a file).
    base: String,
    /// What is reviewed.
    head: String,
    stacks: Vec<StackReview>,
}

#[derive(Serialize)]
struct DocumentRef<'a> {
    version: u32,
    base: &'a str,
    head: &'a str,
    stacks: &'a [StackReview],
}

impl Serialize for Review {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        DocumentRef {
            version: JSON_VERSION,
            base: &self.base,
            head: &self.head,
            stacks: &self.stacks,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Review {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let document = Document::deserialize(deserializer)?;
        if document.version != JSON_VERSION {
            return Err(serde::de::Error::custom(format!(
                "review format version {} (this build reads version {JSON_VERSION})",
                document.version
            )));
        }
        Ok(Review {
            base: document.base,
            head: document.head,
            stacks: document.stacks,
        })
    }
}

/// The review in `format`. `color` adds ANSI colours to the text format only.
pub fn render(review: &Review, format: Format, color: bool) -> String {
    match format {
        Format::Text => text::render(review, color),
        Format::Markdown => markdown::render(review),
        Format::Json => {
            let mut out = serde_json::to_string_pretty(review).expect("a review serializes");
            out.push('\n');
            out
        }
    }
}

/// The JSON Schema of the JSON format (`review.schema.json`), pretty, with a trailing newline.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Document);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

/// Counts for the summary line, shared by the text and Markdown formats.
#[derive(Default)]
struct Summary {
    stacks: usize,
    replacements: usize,
    security: usize,
    widened: usize,
    added: usize,
    removed: usize,
    modified: usize,
}

impl Summary {
    fn of(review: &Review) -> Summary {
        let mut summary = Summary::default();
        for stack in review.stacks.iter().filter(|s| !s.is_empty()) {
            summary.stacks += 1;
            summary.security += stack.security.len();
            summary.widened += stack
                .security
                .iter()
                .filter(|c| c.access == Access::Widened)
                .count();
            for resource in &stack.resources {
                match resource.change {
                    ChangeKind::Added => summary.added += 1,
                    ChangeKind::Removed => summary.removed += 1,
                    ChangeKind::Modified if resource.replaces() => summary.replacements += 1,
                    ChangeKind::Modified => summary.modified += 1,
                }
            }
        }
        summary
    }

    /// `1 replacement, 3 security changes (2 widened), 4 resources modified`; the headline
    /// (`2 stacks changed`) is the caller's.
    fn details(&self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut parts = Vec::new();
        if self.replacements > 0 {
            parts.push(plural(self.replacements, "replacement", "replacements"));
        }
        if self.security > 0 {
            let mut part = plural(self.security, "security change", "security changes");
            if self.widened > 0 {
                part.push_str(&format!(" ({} widened)", self.widened));
            }
            parts.push(part);
        }
        if self.added > 0 {
            parts.push(plural(self.added, "resource added", "resources added"));
        }
        if self.modified > 0 {
            parts.push(plural(
                self.modified,
                "resource modified",
                "resources modified",
            ));
        }
        if self.removed > 0 {
            parts.push(plural(
                self.removed,
                "resource removed",
                "resources removed",
            ));
        }
        if parts.is_empty() {
            parts.push("outputs, parameters or template sections only".to_owned());
        }
        parts.join(", ")
    }

    fn headline(&self) -> String {
        format!(
            "{} {} changed",
            self.stacks,
            if self.stacks == 1 { "stack" } else { "stacks" }
        )
    }
}
