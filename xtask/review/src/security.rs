//! The security section: who may do what, before and after, as `cdk diff`'s security diff
//! shows it. Policy statements are compared one by one after normalizing (lists sorted,
//! intrinsics rendered), so reordering a list is no change and a changed statement is one
//! removed and one added.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::compare::resource_type;
use crate::intrinsic::{compact, text};
use crate::{
    Access, Authorizer, ChangeKind, Permission, RouteAuthorization, SecurityChange, SecurityDetail,
    Statement,
};

pub(crate) fn changes(old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<SecurityChange> {
    let mut out = Vec::new();
    let ids: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for id in ids {
        let (before, after) = (old.get(id), new.get(id));
        if before == after {
            continue;
        }
        resource_changes(id, before, after, &mut out);
    }
    out
}

fn properties(resource: Option<&Value>) -> Option<&Map<String, Value>> {
    static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
    resource.map(|r| {
        r.get("Properties")
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY)
    })
}

fn resource_changes(
    id: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    out: &mut Vec<SecurityChange>,
) {
    let old_type = old.map(resource_type);
    let new_type = new.map(resource_type);
    let shown_type = new_type.or(old_type).unwrap_or("?").to_owned();
    let (old_props, new_props) = (properties(old), properties(new));
    let mut push = |change: ChangeKind, access: Access, detail: SecurityDetail| {
        out.push(SecurityChange {
            logical_id: id.to_owned(),
            resource_type: shown_type.clone(),
            change,
            access,
            detail,
        })
    };

    // Policy statements and managed policies, per side.
    let old_statements = old_type
        .zip(old_props)
        .map_or_else(Vec::new, |(t, p)| statements(t, p));
    let new_statements = new_type
        .zip(new_props)
        .map_or_else(Vec::new, |(t, p)| statements(t, p));
    let difference = set_difference(&old_statements, &new_statements);
    let removed: Vec<&Statement> = difference
        .iter()
        .filter(|(_, sign)| *sign == ChangeKind::Removed)
        .map(|(s, _)| s)
        .collect();
    for (statement, sign) in difference.clone() {
        let allow = statement.effect == "Allow";
        let access = match (sign, statement.effect.as_str()) {
            // What a removed statement allowed, or less (an action dropped from a list).
            (ChangeKind::Added, _) if allow && removed.iter().any(|r| covers(r, &statement)) => {
                Access::Narrowed
            }
            (ChangeKind::Added, _) if allow => Access::Widened,
            (ChangeKind::Removed, _) if allow => Access::Narrowed,
            (ChangeKind::Added, "Deny") => Access::Narrowed,
            (ChangeKind::Removed, "Deny") => Access::Widened,
            _ => Access::Changed,
        };
        push(sign, access, SecurityDetail::Statement(statement));
    }
    let old_managed = old_type
        .zip(old_props)
        .map_or_else(Vec::new, |(t, p)| managed(t, p));
    let new_managed = new_type
        .zip(new_props)
        .map_or_else(Vec::new, |(t, p)| managed(t, p));
    for (arn, sign) in set_difference(&old_managed, &new_managed) {
        let access = if sign == ChangeKind::Added {
            Access::Widened
        } else {
            Access::Narrowed
        };
        push(sign, access, SecurityDetail::ManagedPolicy { arn });
    }

    // Resources that are a grant or a guard as a whole.
    let old_permission = as_type(old_type, old_props, "AWS::Lambda::Permission").map(permission);
    let new_permission = as_type(new_type, new_props, "AWS::Lambda::Permission").map(permission);
    if old_permission != new_permission {
        let (change, access) = grant(&old_permission, &new_permission, false);
        push(
            change,
            access,
            SecurityDetail::Permission {
                old: old_permission,
                new: new_permission,
            },
        );
    }
    let old_authorizer =
        as_type(old_type, old_props, "AWS::ApiGatewayV2::Authorizer").map(authorizer);
    let new_authorizer =
        as_type(new_type, new_props, "AWS::ApiGatewayV2::Authorizer").map(authorizer);
    if old_authorizer != new_authorizer {
        // An authorizer guards: adding one narrows access, removing one widens it.
        let (change, access) = grant(&old_authorizer, &new_authorizer, true);
        push(
            change,
            access,
            SecurityDetail::Authorizer {
                old: old_authorizer,
                new: new_authorizer,
            },
        );
    }
    let old_route = as_type(old_type, old_props, "AWS::ApiGatewayV2::Route").map(route);
    let new_route = as_type(new_type, new_props, "AWS::ApiGatewayV2::Route").map(route);
    if let Some((route_key, change, access, old, new)) = route_change(old_route, new_route) {
        push(
            change,
            access,
            SecurityDetail::RouteAuthorization {
                route_key,
                old,
                new,
            },
        );
    }
}

fn as_type<'a>(
    resource_type: Option<&str>,
    props: Option<&'a Map<String, Value>>,
    want: &str,
) -> Option<&'a Map<String, Value>> {
    resource_type.filter(|t| *t == want).and(props)
}

/// The change and its effect for something that exists on one side or both: a grant
/// (permission) widens access when added; a guard (authorizer) narrows it when added.
fn grant<T>(old: &Option<T>, new: &Option<T>, guard: bool) -> (ChangeKind, Access) {
    let (more, less) = if guard {
        (Access::Narrowed, Access::Widened)
    } else {
        (Access::Widened, Access::Narrowed)
    };
    match (old, new) {
        (None, _) => (ChangeKind::Added, more),
        (Some(_), None) => (ChangeKind::Removed, less),
        (Some(_), Some(_)) => (ChangeKind::Modified, Access::Changed),
    }
}

/// Whether `wide` allows everything `narrow` does: same document, effect, principals and
/// condition, and each list of `narrow` within `wide`'s (wildcards are not expanded).
fn covers(wide: &Statement, narrow: &Statement) -> bool {
    let within = |n: &[String], w: &[String]| n.iter().all(|x| w.contains(x));
    wide.policy == narrow.policy
        && wide.effect == narrow.effect
        && wide.principals == narrow.principals
        && wide.not_principals == narrow.not_principals
        && wide.not_actions == narrow.not_actions
        && wide.not_resources == narrow.not_resources
        && wide.condition == narrow.condition
        && within(&narrow.actions, &wide.actions)
        && within(&narrow.resources, &wide.resources)
}

/// Items only in `old` (removed) and only in `new` (added), counting duplicates.
fn set_difference<T: Clone + PartialEq>(old: &[T], new: &[T]) -> Vec<(T, ChangeKind)> {
    let mut unmatched_new: Vec<Option<&T>> = new.iter().map(Some).collect();
    let mut out = Vec::new();
    for item in old {
        match unmatched_new
            .iter_mut()
            .find(|n| n.is_some_and(|n| n == item))
        {
            Some(slot) => *slot = None,
            None => out.push((item.clone(), ChangeKind::Removed)),
        }
    }
    out.extend(
        unmatched_new
            .into_iter()
            .flatten()
            .map(|item| (item.clone(), ChangeKind::Added)),
    );
    out
}

/// Every statement of every policy document the resource holds, with where it is.
fn statements(resource_type: &str, props: &Map<String, Value>) -> Vec<Statement> {
    let mut documents: Vec<(String, &Value)> = Vec::new();
    let mut attached = |document: &str, targets: &[&str]| {
        let Some(doc) = props.get(document) else {
            return;
        };
        let names: Vec<String> = targets
            .iter()
            .filter_map(|key| props.get(*key))
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().map(text).collect(),
                other => vec![text(other)],
            })
            .collect();
        if names.is_empty() {
            documents.push((document.to_owned(), doc));
        } else {
            // One entry per attachment, so attaching the policy to one more role shows as
            // that role's new statements.
            for name in names {
                documents.push((format!("{document} on {name}"), doc));
            }
        }
    };
    match resource_type {
        "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => {
            attached("AssumeRolePolicyDocument", &[]);
        }
        "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => {
            attached("PolicyDocument", &["Roles", "Users", "Groups"]);
        }
        "AWS::IAM::RolePolicy" => attached("PolicyDocument", &["RoleName"]),
        "AWS::IAM::UserPolicy" => attached("PolicyDocument", &["UserName"]),
        "AWS::IAM::GroupPolicy" => attached("PolicyDocument", &["GroupName"]),
        "AWS::S3::BucketPolicy" => attached("PolicyDocument", &["Bucket"]),
        "AWS::SQS::QueuePolicy" => attached("PolicyDocument", &["Queues"]),
        "AWS::SNS::TopicPolicy" => attached("PolicyDocument", &["Topics"]),
        "AWS::KMS::Key" => attached("KeyPolicy", &[]),
        "AWS::SecretsManager::ResourcePolicy" => attached("ResourcePolicy", &["SecretId"]),
        _ => {}
    }
    // Inline policies of roles, users and groups.
    if matches!(
        resource_type,
        "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group"
    ) && let Some(Value::Array(policies)) = props.get("Policies")
    {
        for policy in policies {
            let name = policy.get("PolicyName").map_or("?".to_owned(), text);
            if let Some(doc) = policy.get("PolicyDocument") {
                documents.push((format!("Policies[{name}]"), doc));
            }
        }
    }
    let mut out = Vec::new();
    for (label, document) in documents {
        let list = match document.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(single) => vec![single],
            // Not a document we can read (a string, an intrinsic): shown whole, so a change
            // to it still shows.
            None => {
                out.push(Statement {
                    policy: label,
                    effect: "?".to_owned(),
                    actions: Vec::new(),
                    not_actions: Vec::new(),
                    resources: vec![text(document)],
                    not_resources: Vec::new(),
                    principals: Vec::new(),
                    not_principals: Vec::new(),
                    condition: None,
                });
                continue;
            }
        };
        for statement in list {
            out.push(normalize(&label, statement));
        }
    }
    out
}

fn normalize(policy: &str, statement: &Value) -> Statement {
    let field = |key: &str| statement.get(key);
    Statement {
        policy: policy.to_owned(),
        effect: field("Effect").map_or_else(|| "?".to_owned(), text),
        actions: list(field("Action")),
        not_actions: list(field("NotAction")),
        resources: list(field("Resource")),
        not_resources: list(field("NotResource")),
        principals: principals(field("Principal")),
        not_principals: principals(field("NotPrincipal")),
        condition: field("Condition").map(compact),
    }
}

fn list(value: Option<&Value>) -> Vec<String> {
    let mut items: Vec<String> = match value {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(text).collect(),
        Some(single) => vec![text(single)],
    };
    items.sort();
    items.dedup();
    items
}

/// `{"Service": ["a", "b"]}` → `["Service:a", "Service:b"]`; `"*"` → `["*"]`.
fn principals(value: Option<&Value>) -> Vec<String> {
    let mut items = match value {
        Some(Value::Object(map)) if !map.keys().any(|k| k.starts_with("Fn::") || k == "Ref") => map
            .iter()
            .flat_map(|(kind, ids)| {
                list(Some(ids))
                    .into_iter()
                    .map(move |id| format!("{kind}:{id}"))
            })
            .collect(),
        other => list(other),
    };
    items.sort();
    items
}

fn managed(resource_type: &str, props: &Map<String, Value>) -> Vec<String> {
    if matches!(
        resource_type,
        "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group"
    ) {
        list(props.get("ManagedPolicyArns"))
    } else {
        Vec::new()
    }
}

fn optional(props: &Map<String, Value>, key: &str) -> Option<String> {
    props.get(key).map(text)
}

fn permission(props: &Map<String, Value>) -> Permission {
    Permission {
        function: optional(props, "FunctionName").unwrap_or_default(),
        principal: optional(props, "Principal").unwrap_or_default(),
        action: optional(props, "Action").unwrap_or_default(),
        source_arn: optional(props, "SourceArn"),
        source_account: optional(props, "SourceAccount"),
    }
}

fn authorizer(props: &Map<String, Value>) -> Authorizer {
    Authorizer {
        name: optional(props, "Name").unwrap_or_default(),
        authorizer_type: optional(props, "AuthorizerType").unwrap_or_default(),
        identity_source: list(props.get("IdentitySource")),
        uri: optional(props, "AuthorizerUri").or_else(|| optional(props, "JwtConfiguration")),
    }
}

fn route(props: &Map<String, Value>) -> (String, RouteAuthorization) {
    let api_key_required = match props.get("ApiKeyRequired") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    (
        optional(props, "RouteKey").unwrap_or_default(),
        RouteAuthorization {
            authorization_type: optional(props, "AuthorizationType")
                .unwrap_or_else(|| "NONE".to_owned()),
            authorizer_id: optional(props, "AuthorizerId"),
            api_key_required,
        },
    )
}

impl RouteAuthorization {
    fn guarded(&self) -> bool {
        self.authorization_type != "NONE" || self.api_key_required
    }
}

type RouteChange = (
    String,
    ChangeKind,
    Access,
    Option<RouteAuthorization>,
    Option<RouteAuthorization>,
);

/// A route's authorization, before and after. A route added or removed counts only if it is
/// guarded: an unguarded route on a WebSocket API is reachable only by clients `$connect`
/// already let in, so it says nothing about who gets in; removing a guarded `$connect`
/// removes its guard.
fn route_change(
    old: Option<(String, RouteAuthorization)>,
    new: Option<(String, RouteAuthorization)>,
) -> Option<RouteChange> {
    match (old, new) {
        (None, Some((key, auth))) if auth.guarded() => {
            Some((key, ChangeKind::Added, Access::Narrowed, None, Some(auth)))
        }
        (Some((key, auth)), None) if auth.guarded() => {
            Some((key, ChangeKind::Removed, Access::Widened, Some(auth), None))
        }
        (Some((_, a)), Some((key, b))) if a != b => {
            let type_effect = match (
                a.authorization_type == "NONE",
                b.authorization_type == "NONE",
            ) {
                (false, true) => Some(Access::Widened),
                (true, false) => Some(Access::Narrowed),
                _ if a.authorization_type != b.authorization_type
                    || a.authorizer_id != b.authorizer_id =>
                {
                    Some(Access::Changed)
                }
                _ => None,
            };
            let key_effect = match (a.api_key_required, b.api_key_required) {
                (true, false) => Some(Access::Widened),
                (false, true) => Some(Access::Narrowed),
                _ => None,
            };
            let access = match (type_effect, key_effect) {
                (Some(x), Some(y)) if x == y => x,
                (Some(_), Some(_)) => Access::Changed,
                (Some(x), None) | (None, Some(x)) => x,
                (None, None) => Access::Changed,
            };
            Some((key, ChangeKind::Modified, access, Some(a), Some(b)))
        }
        _ => None,
    }
}
