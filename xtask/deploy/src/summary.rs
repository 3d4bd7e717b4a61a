//! The readable summary of a change set, shown before anything changes: what is added,
//! modified (replacements marked) and removed, with IAM changes called out.

use std::fmt::Write as _;

use crate::changeset::ResourceChange;
use review::StackReview;

/// Properties that grant permissions, wherever they appear.
const PERMISSION_PROPERTIES: &[&str] = &[
    "Policies",
    "PolicyDocument",
    "AssumeRolePolicyDocument",
    "ManagedPolicyArns",
    "PermissionsBoundary",
    "Role",
    "Principal",
    "SourceArn",
];

/// Does this change touch who may do what?
pub fn is_iam_change(change: &ResourceChange, paths: &[String]) -> bool {
    change.resource_type.starts_with("AWS::IAM::")
        || change.resource_type == "AWS::Lambda::Permission"
        || change.targets.iter().chain(paths).any(|p| {
            PERMISSION_PROPERTIES
                .iter()
                .any(|prop| p.split(['.', '[']).next() == Some(prop))
        })
}

fn symbol(action: &str) -> char {
    match action {
        "Add" => '+',
        "Remove" => '-',
        "Modify" | "Dynamic" => '~',
        "Import" => '>',
        _ => '?',
    }
}

/// `changes` from CloudFormation; `diff` (the deployed template against the new one) adds the
/// property paths where CloudFormation gives none. `place` (account and region) is named in
/// the first line with the stack: what is about to change, and where.
pub fn render(
    stack_name: &str,
    place: &str,
    changes: &[ResourceChange],
    diff: Option<&StackReview>,
) -> String {
    let mut out = String::new();
    let count = |a: &str| changes.iter().filter(|c| c.action == a).count();
    let _ = writeln!(
        out,
        "Changes to stack {stack_name} in {place}: {} to add, {} to modify, {} to remove",
        count("Add"),
        changes.len() - count("Add") - count("Remove"),
        count("Remove")
    );
    let width = changes
        .iter()
        .map(|c| c.logical_id.len())
        .max()
        .unwrap_or(0);
    let mut iam = Vec::new();
    for change in changes {
        let paths: Vec<String> = if change.targets.is_empty() {
            diff.and_then(|d| d.changed_paths(&change.logical_id))
                .unwrap_or_default()
        } else {
            change.targets.clone()
        };
        let mut line = format!(
            "  {} {:<width$}  {}",
            symbol(&change.action),
            change.logical_id,
            change.resource_type
        );
        if change.action == "Modify" {
            match change.replacement.as_deref() {
                Some("True") => line.push_str("  REPLACED"),
                Some("Conditional") => line.push_str("  may be replaced"),
                _ => {}
            }
            if !paths.is_empty() {
                let _ = write!(line, "  [{}]", paths.join(", "));
            }
        }
        if is_iam_change(change, &paths) {
            iam.push(format!(
                "  {} {} ({})",
                symbol(&change.action),
                change.logical_id,
                change.resource_type
            ));
        }
        out.push_str(&line);
        out.push('\n');
    }
    if !iam.is_empty() {
        let _ = writeln!(out, "IAM changes (who may do what), review them:");
        for line in iam {
            out.push_str(&line);
            out.push('\n');
        }
    }
    if let Some(d) = diff {
        let names = |changes: &[review::NamedChange]| {
            changes
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !d.outputs.is_empty() {
            let _ = writeln!(out, "Outputs changed: {}", names(&d.outputs));
        }
        if !d.parameters.is_empty() {
            let _ = writeln!(out, "Parameters changed: {}", names(&d.parameters));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(action: &str, id: &str, ty: &str, replacement: Option<&str>) -> ResourceChange {
        ResourceChange {
            action: action.into(),
            logical_id: id.into(),
            resource_type: ty.into(),
            replacement: replacement.map(Into::into),
            targets: vec![],
        }
    }

    #[test]
    fn summary_marks_replacements_paths_and_iam() {
        let changes = vec![
            change("Add", "NewRole", "AWS::IAM::Role", None),
            change(
                "Modify",
                "EchoFunction",
                "AWS::Lambda::Function",
                Some("False"),
            ),
            change("Modify", "Api", "AWS::ApiGatewayV2::Api", Some("True")),
            change("Remove", "Old", "AWS::SQS::Queue", None),
        ];
        let function = |key: &str| json!({"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Key": key}}});
        let diff = review::compare(
            "wsecho-dev",
            Some(&json!({"Resources": {"EchoFunction": function("a.zip")}})),
            Some(&json!({"Resources": {"EchoFunction": function("b.zip")}})),
        );
        let text = render(
            "wsecho-dev",
            "account 123456789012, region eu-west-1",
            &changes,
            Some(&diff),
        );
        assert!(
            text.starts_with(
                "Changes to stack wsecho-dev in account 123456789012, region eu-west-1: 1 to \
                 add, 2 to modify, 1 to remove"
            ),
            "{text}"
        );
        assert!(
            text.contains("~ EchoFunction  AWS::Lambda::Function  [Code.S3Key]"),
            "{text}"
        );
        assert!(
            text.contains("Api           AWS::ApiGatewayV2::Api  REPLACED"),
            "{text}"
        );
        assert!(text.contains("- Old"), "{text}");
        let iam = text.split("IAM changes").nth(1).expect("an IAM section");
        assert!(iam.contains("+ NewRole (AWS::IAM::Role)"), "{text}");
        assert!(!iam.contains("EchoFunction"), "{text}");
    }

    #[test]
    fn policy_edits_count_as_iam_changes() {
        let c = change("Modify", "Fn", "AWS::Lambda::Function", None);
        assert!(!is_iam_change(&c, &["Code.S3Key".into()]));
        assert!(is_iam_change(&c, &["Role".into()]));
        let p = change("Modify", "P", "AWS::SQS::QueuePolicy", None);
        assert!(is_iam_change(&p, &["PolicyDocument.Statement[0]".into()]));
    }
}
