//! The review over the repository's real templates (the committed snapshots).

use std::fs;
use std::path::Path;

use review::{FailOn, Replacement, compare};
use serde_json::{Value, json};

fn snapshots() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../snapshots");
    let mut templates: Vec<(String, Value)> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let text = fs::read_to_string(&path).unwrap();
            // An insta snapshot: a `---` header, then the template.
            let json = text.splitn(3, "---\n").nth(2).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, serde_json::from_str(json).unwrap())
        })
        .collect();
    templates.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(templates.len() >= 5, "{templates:?}");
    templates
}

fn snapshot(name: &str) -> Value {
    snapshots()
        .into_iter()
        .find(|(n, _)| n.starts_with(name))
        .unwrap()
        .1
}

#[test]
fn every_snapshot_against_itself_is_an_empty_review() {
    for (name, template) in snapshots() {
        let stack = compare(&name, Some(&template), Some(&template));
        assert!(stack.is_empty(), "{name}: {stack:?}");
        assert!(
            stack.resources.is_empty() && stack.security.is_empty(),
            "{name}"
        );
    }
}

#[test]
fn naming_the_chat_table_replaces_it() {
    let old = snapshot("chat-dev");
    let mut new = old.clone();
    new["Resources"]["ConnectionsTable"]["Properties"]["TableName"] = json!("chat-connections");
    let review = review::Review {
        base: "HEAD~1".to_owned(),
        head: "HEAD".to_owned(),
        stacks: vec![compare("chat/dev", Some(&old), Some(&new))],
    };
    let table = &review.stacks[0].resources[0];
    assert_eq!(table.logical_id, "ConnectionsTable");
    assert_eq!(table.replacement, Replacement::Yes);
    assert!(review.matches(FailOn::Replacement));
    assert!(!review.matches(FailOn::Security));
}

#[test]
fn changing_the_chat_tables_key_may_replace_it() {
    let old = snapshot("chat-dev");
    let mut new = old.clone();
    new["Resources"]["ConnectionsTable"]["Properties"]["KeySchema"][0]["AttributeName"] =
        json!("id");
    let stack = compare("chat/dev", Some(&old), Some(&new));
    assert_eq!(stack.resources[0].replacement, Replacement::Conditional);
    assert_eq!(
        stack.changed_paths("ConnectionsTable").unwrap(),
        ["KeySchema[0].AttributeName"]
    );
}

#[test]
fn dropping_the_guarded_connect_authorizer_is_a_widened_security_change() {
    let old = snapshot("guarded-dev");
    let mut new = old.clone();
    let route = new["Resources"]["ConnectRoute"]["Properties"]
        .as_object_mut()
        .unwrap();
    route.insert("AuthorizationType".into(), json!("NONE"));
    route.remove("AuthorizerId");
    let stack = compare("guarded/dev", Some(&old), Some(&new));
    assert_eq!(stack.security.len(), 1, "{:?}", stack.security);
    assert_eq!(stack.security[0].logical_id, "ConnectRoute");
    assert_eq!(stack.security[0].access, review::Access::Widened);
}

#[test]
fn the_signed_stack_no_longer_requiring_an_api_key_widens_access() {
    let old = snapshot("signed-dev");
    let mut new = old.clone();
    new["Resources"]["ConnectRoute"]["Properties"]["ApiKeyRequired"] = json!(false);
    let stack = compare("signed/dev", Some(&old), Some(&new));
    assert_eq!(stack.security.len(), 1, "{:?}", stack.security);
    assert_eq!(stack.security[0].access, review::Access::Widened);
}

#[test]
fn a_new_stack_lists_its_grants() {
    let template = snapshot("echo-dev");
    let stack = compare("echo/dev", None, Some(&template));
    assert_eq!(stack.status, review::StackStatus::Added);
    let resources = template["Resources"].as_object().unwrap().len();
    assert_eq!(stack.resources.len(), resources);
    // Every role's trust policy is a grant the new stack makes.
    let roles = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::IAM::Role")
        .count();
    let trusts = stack
        .security
        .iter()
        .filter(|c| {
            matches!(&c.detail, review::SecurityDetail::Statement(s)
                if s.policy == "AssumeRolePolicyDocument")
        })
        .count();
    assert_eq!(trusts, roles);
}

#[test]
fn the_markdown_of_many_new_stacks_fits_a_github_comment() {
    // Every snapshot, added three times over under other names: more than a comment holds.
    let mut stacks = Vec::new();
    for copy in 0..3 {
        for (name, template) in snapshots() {
            stacks.push(compare(&format!("{name}-{copy}"), None, Some(&template)));
        }
    }
    let review = review::Review {
        base: "main".to_owned(),
        head: "HEAD".to_owned(),
        stacks,
    };
    let md = review::render(&review, review::Format::Markdown, false);
    assert!(md.len() < 65_536, "{}", md.len());
    assert!(md.contains("Not shown, to fit a comment"), "{md}");
    assert!(
        md.contains("`cargo xtask diff --base main` shows everything"),
        "{md}"
    );
    assert!(md.contains("more rows not shown"), "{md}");
}
