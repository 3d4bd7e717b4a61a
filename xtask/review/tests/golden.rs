//! Golden outputs for each kind of change, in all three formats, and what `matches` says about
//! each: `cargo insta review` after an intended change to the output.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use review::{FailOn, Format, Review, compare, render};
use serde_json::{Value, json};

/// A small stack with one of everything the reviewer looks at: a table, a function and its
/// role, a WebSocket API with a guarded `$connect`, its authorizer and permissions.
fn base() -> Value {
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "a small chat",
        "Parameters": {"AssetsBucket": {"Type": "String"}},
        "Resources": {
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                "FunctionName": "chat-connect",
                "Architectures": ["arm64"],
                "Code": {"S3Bucket": {"Ref": "AssetsBucket"}, "S3Key": "aa.zip"},
                "Environment": {"Variables": {"TABLE": {"Ref": "Table"}}},
                "MemorySize": 128,
                "Role": {"Fn::GetAtt": ["FnRole", "Arn"]}}},
            "FnLogs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}},
            "FnRole": {"Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": ["sts:AssumeRole"],
                    "Principal": {"Service": "lambda.amazonaws.com"}}]},
                "Policies": [{"PolicyName": "Table", "PolicyDocument": {"Statement": [{
                    "Effect": "Allow",
                    "Action": ["dynamodb:PutItem", "dynamodb:DeleteItem"],
                    "Resource": [{"Fn::GetAtt": ["Table", "Arn"]}]}]}}]}},
            "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
                "Name": "chat", "ProtocolType": "WEBSOCKET",
                "RouteSelectionExpression": "$request.body.action"}},
            "Authorizer": {"Type": "AWS::ApiGatewayV2::Authorizer", "Properties": {
                "ApiId": {"Ref": "Api"}, "AuthorizerType": "REQUEST", "Name": "token",
                "IdentitySource": ["route.request.querystring.token"],
                "AuthorizerUri": {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${TokenFn.Arn}/invocations"}}},
            "ConnectRoute": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
                "ApiId": {"Ref": "Api"}, "RouteKey": "$connect",
                "AuthorizationType": "CUSTOM", "AuthorizerId": {"Ref": "Authorizer"},
                "Target": {"Fn::Sub": "integrations/${ConnectIntegration}"}}},
            "ConnectPermission": {"Type": "AWS::Lambda::Permission", "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Fn::GetAtt": ["Fn", "Arn"]},
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/dev/$connect"}}}
        },
        "Outputs": {"ApiId": {"Value": {"Ref": "Api"}}}
    })
}

fn edited(edit: impl FnOnce(&mut Value)) -> Value {
    let mut template = base();
    edit(&mut template);
    template
}

fn one(old: Option<Value>, new: Option<Value>) -> Review {
    Review {
        base: "main".to_owned(),
        head: "HEAD".to_owned(),
        stacks: vec![compare("chat/dev", old.as_ref(), new.as_ref())],
    }
}

fn modified(edit: impl FnOnce(&mut Value)) -> Review {
    one(Some(base()), Some(edited(edit)))
}

/// Every case: its name, the review, and what `matches` must say for
/// (replacement, security, any).
fn cases() -> Vec<(&'static str, Review, [bool; 3])> {
    vec![
        ("no_changes", modified(|_| {}), [false, false, false]),
        (
            "add",
            modified(|t| {
                t["Resources"]["Queue"] = json!({"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 60}});
                t["Outputs"]["QueueUrl"] = json!({"Value": {"Ref": "Queue"}});
            }),
            [false, false, true],
        ),
        (
            "remove",
            modified(|t| {
                t["Resources"].as_object_mut().unwrap().remove("FnLogs");
            }),
            [false, false, true],
        ),
        (
            "modify",
            modified(|t| {
                let fn_props = &mut t["Resources"]["Fn"]["Properties"];
                fn_props["Architectures"] = json!(["x86_64"]);
                fn_props["Code"]["S3Key"] = json!("bb.zip");
                fn_props["Environment"]["Variables"]["B"] = json!("2");
                fn_props["MemorySize"] = json!(256);
                t["Resources"]["Fn"]["DependsOn"] = json!(["FnLogs"]);
                t["Description"] = json!("a bigger chat");
            }),
            [false, false, true],
        ),
        (
            "replacement",
            modified(|t| {
                t["Resources"]["Table"]["Properties"]["TableName"] = json!("chat-connections");
                t["Resources"]["Fn"]["Properties"]["FunctionName"] = json!("chat-connect-v2");
            }),
            [true, false, true],
        ),
        (
            "conditional_replacement",
            modified(|t| {
                t["Resources"]["Table"]["Properties"]["KeySchema"][0]["AttributeName"] =
                    json!("connectionId");
                t["Resources"]["Table"]["Properties"]["AttributeDefinitions"][0]["AttributeName"] =
                    json!("connectionId");
            }),
            [true, false, true],
        ),
        (
            "type_change",
            modified(|t| {
                t["Resources"]["FnLogs"]["Type"] = json!("AWS::SQS::Queue");
            }),
            [true, false, true],
        ),
        (
            "replacement_unknown",
            modified(|t| {
                t["Resources"]["Seed"] = json!({"Type": "Custom::Seed", "Properties": {"Rows": 1}});
            })
            .pipe(|_| {
                let mut old = base();
                old["Resources"]["Seed"] =
                    json!({"Type": "Custom::Seed", "Properties": {"Rows": 1}});
                let mut new = base();
                new["Resources"]["Seed"] =
                    json!({"Type": "Custom::Seed", "Properties": {"Rows": 2}});
                one(Some(old), Some(new))
            }),
            [false, false, true],
        ),
        (
            "iam_widened",
            modified(|t| {
                let role = &mut t["Resources"]["FnRole"]["Properties"];
                role["Policies"][0]["PolicyDocument"]["Statement"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}));
                role["ManagedPolicyArns"] = json!([{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess"}]);
            }),
            [false, true, true],
        ),
        (
            "iam_narrowed",
            modified(|t| {
                let statements = &mut t["Resources"]["FnRole"]["Properties"]["Policies"][0]["PolicyDocument"]
                    ["Statement"];
                // One action fewer (the statement removed, a narrower one added), and a Deny.
                statements[0]["Action"] = json!(["dynamodb:PutItem"]);
                statements.as_array_mut().unwrap().push(json!({
                    "Effect": "Deny", "Action": ["dynamodb:DeleteTable"], "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}));
            }),
            [false, true, true],
        ),
        (
            "permission_added",
            modified(|t| {
                t["Resources"]["PublicPermission"] = json!({"Type": "AWS::Lambda::Permission", "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": {"Ref": "Fn"},
                    "Principal": "*"}});
            }),
            [false, true, true],
        ),
        (
            "bucket_policy_public_read",
            one(
                Some(edited(|t| {
                    t["Resources"]["Site"] = json!({"Type": "AWS::S3::Bucket"});
                })),
                Some(edited(|t| {
                    t["Resources"]["Site"] = json!({"Type": "AWS::S3::Bucket"});
                    t["Resources"]["SitePolicy"] = json!({"Type": "AWS::S3::BucketPolicy", "Properties": {
                        "Bucket": {"Ref": "Site"},
                        "PolicyDocument": {"Statement": {
                            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Site", "Arn"]}, "/*"]]}}}}});
                })),
            ),
            [false, true, true],
        ),
        (
            "authorizer_removed",
            modified(|t| {
                t["Resources"].as_object_mut().unwrap().remove("Authorizer");
                let route = &mut t["Resources"]["ConnectRoute"]["Properties"];
                route["AuthorizationType"] = json!("NONE");
                route.as_object_mut().unwrap().remove("AuthorizerId");
            }),
            [false, true, true],
        ),
        (
            "route_auth_removed",
            one(
                Some(edited(|t| {
                    t["Resources"]["ConnectRoute"]["Properties"]["ApiKeyRequired"] = json!(true);
                })),
                Some(edited(|t| {
                    let route = &mut t["Resources"]["ConnectRoute"]["Properties"];
                    route["AuthorizationType"] = json!("NONE");
                    route.as_object_mut().unwrap().remove("AuthorizerId");
                })),
            ),
            [false, true, true],
        ),
        ("stack_added", one(None, Some(base())), [false, true, true]),
        (
            "stack_removed",
            one(Some(base()), None),
            [false, true, true],
        ),
        (
            "two_stacks",
            Review {
                base: "main".to_owned(),
                head: "HEAD".to_owned(),
                stacks: vec![
                    compare(
                        "chat/dev",
                        Some(&base()),
                        Some(&edited(|t| {
                            t["Resources"]["Table"]["Properties"]["TableName"] = json!("a|b`c<d>");
                        })),
                    ),
                    compare("chat/prod", Some(&base()), Some(&base())),
                ],
            },
            [true, false, true],
        ),
    ]
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}

impl Pipe for Review {}

fn snapshot(name: &str, contents: &str) {
    insta::with_settings!({
        snapshot_path => "golden",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, contents);
    });
}

#[test]
fn golden_outputs_in_every_format() {
    for (name, review, _) in cases() {
        snapshot(
            &format!("{name}.txt"),
            &render(&review, Format::Text, false),
        );
        snapshot(
            &format!("{name}.md"),
            &render(&review, Format::Markdown, false),
        );
        snapshot(
            &format!("{name}.json"),
            &render(&review, Format::Json, false),
        );
    }
}

#[test]
fn text_is_coloured_only_when_asked() {
    for (name, review, _) in cases() {
        let plain = render(&review, Format::Text, false);
        assert!(!plain.contains('\u{1b}'), "{name}: {plain}");
        for format in [Format::Markdown, Format::Json] {
            assert!(!render(&review, format, true).contains('\u{1b}'), "{name}");
        }
    }
    let (_, review, _) = cases()
        .into_iter()
        .find(|(name, _, _)| *name == "replacement")
        .unwrap();
    let coloured = render(&review, Format::Text, true);
    assert!(
        coloured.contains("\u{1b}[31m"),
        "replacements are red: {coloured}"
    );
    snapshot("replacement_coloured.txt", &coloured);
}

#[test]
fn fail_on_matches_the_kind_of_change() {
    for (name, review, [replacement, security, any]) in cases() {
        assert_eq!(
            review.matches(FailOn::Replacement),
            replacement,
            "{name}: replacement"
        );
        assert_eq!(
            review.matches(FailOn::Security),
            security,
            "{name}: security"
        );
        assert_eq!(review.matches(FailOn::Any), any, "{name}: any");
        assert_eq!(review.is_empty(), !any, "{name}: is_empty");
    }
}

/// The tables of a Markdown document as GitHub reads them: rows of cells' text (code spans'
/// contents included), header row first.
fn tables_of(markdown: &str) -> Vec<Vec<Vec<String>>> {
    let mut tables = Vec::new();
    let mut cell: Option<String> = None;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Table(_)) => tables.push(Vec::new()),
            Event::Start(Tag::TableHead | Tag::TableRow) => {
                tables.last_mut().unwrap().push(Vec::new())
            }
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => {
                let text = cell.take().unwrap();
                tables.last_mut().unwrap().last_mut().unwrap().push(text);
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some(cell) = cell.as_mut() {
                    cell.push_str(&text);
                }
            }
            _ => {}
        }
    }
    tables
}

fn case(name: &str) -> Review {
    cases()
        .into_iter()
        .find(|(n, _, _)| *n == name)
        .unwrap_or_else(|| panic!("no case {name}"))
        .1
}

#[test]
fn markdown_is_a_comment_with_the_marker_a_summary_and_tables() {
    let md = render(&case("authorizer_removed"), Format::Markdown, false);
    let mut lines = md.lines();
    assert_eq!(lines.next(), Some(review::MARKER));
    assert!(
        lines.next().unwrap().starts_with("**1 stack changed**"),
        "{md}"
    );
    let tables = tables_of(&md);
    // Security first (no replacements here), then the stack's table.
    assert_eq!(tables.len(), 2, "{md}");
    let security = &tables[0];
    assert_eq!(security[0][5], "Change");
    assert_eq!(
        security.len(),
        1 + 2,
        "a header and two changes: {security:?}"
    );
    assert_eq!(security[1][3], "Authorizer");
    assert_eq!(security[1][1], "widened");
    assert_eq!(security[2][3], "ConnectRoute");
    assert!(security[2][5].contains("$connect"), "{:?}", security[2]);
    let stack = &tables[1];
    assert_eq!(stack[0], ["", "Logical ID", "Type", "Changes"]);
    assert_eq!(stack.len(), 1 + 2, "{stack:?}");
    assert_eq!(stack[1][1], "ConnectRoute");
    assert_eq!(
        stack[2][..3],
        ["-", "Authorizer", "AWS::ApiGatewayV2::Authorizer"]
    );

    let md = render(&case("replacement"), Format::Markdown, false);
    let tables = tables_of(&md);
    let replacements = &tables[0];
    assert_eq!(replacements.len(), 1 + 2, "{replacements:?}");
    assert_eq!(replacements[1][..2], ["chat/dev", "Fn"]);
    assert_eq!(replacements[2][1], "Table");
    assert_eq!(replacements[2][4], "TableName");
}

#[test]
fn markdown_escapes_what_would_break_a_table_cell() {
    let md = render(&case("two_stacks"), Format::Markdown, false);
    let tables = tables_of(&md);
    let stack = tables.last().unwrap();
    assert_eq!(
        stack.len(),
        2,
        "one row, the cell not split by `|`: {stack:?}"
    );
    assert_eq!(stack[1].len(), 4, "{stack:?}");
    assert!(stack[1][3].contains(r#""a|b`c<d>""#), "{:?}", stack[1][3]);
    // `<` inside a code span is text, not HTML.
    assert!(
        !Parser::new_ext(&md, Options::ENABLE_TABLES)
            .any(|e| matches!(e, Event::InlineHtml(ref h) if h.contains("<d>"))),
        "{md}"
    );
    assert!(md.contains("Unchanged: `chat/prod`."), "{md}");
}

#[test]
fn markdown_without_changes_says_so() {
    let md = render(&case("no_changes"), Format::Markdown, false);
    assert_eq!(
        md,
        format!(
            "{}\nNo infrastructure changes (`main` → `HEAD`).\n",
            review::MARKER
        )
    );
}

#[test]
fn json_round_trips_and_names_its_version_and_fields() {
    for (name, review, _) in cases() {
        let json = render(&review, Format::Json, false);
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["version"], 1, "{name}");
        assert_eq!(value["base"], "main");
        assert_eq!(value["head"], "HEAD");
        let back: Review = serde_json::from_str(&json).unwrap();
        assert_eq!(back, review, "{name}");
    }
    let json: Value =
        serde_json::from_str(&render(&case("iam_widened"), Format::Json, false)).unwrap();
    let stack = &json["stacks"][0];
    assert_eq!(stack["status"], "modified");
    let security = stack["security"].as_array().unwrap();
    assert_eq!(security[0]["access"], "widened");
    assert_eq!(security[0]["detail"]["kind"], "statement");
    assert_eq!(security[0]["detail"]["actions"], json!(["dynamodb:*"]));
    assert_eq!(security[1]["detail"]["kind"], "managed_policy");
    let json: Value =
        serde_json::from_str(&render(&case("replacement"), Format::Json, false)).unwrap();
    let table = &json["stacks"][0]["resources"][1];
    assert_eq!(table["logical_id"], "Table");
    assert_eq!(table["replacement"], "yes");
    assert_eq!(table["properties"][0]["path"], "TableName");
    assert_eq!(table["properties"][0]["new"], "chat-connections");
    assert!(
        table["properties"][0].get("old").is_none(),
        "absent, not null"
    );
}

#[test]
fn json_of_another_version_is_refused() {
    let json =
        render(&case("add"), Format::Json, false).replace("\"version\": 1", "\"version\": 2");
    let error = serde_json::from_str::<Review>(&json)
        .unwrap_err()
        .to_string();
    assert!(error.contains("version 2"), "{error}");
}

#[test]
fn changed_paths_are_the_deploy_annotations_paths() {
    let review = case("modify");
    let stack = &review.stacks[0];
    assert_eq!(
        stack.changed_paths("Fn").unwrap(),
        [
            "Architectures[0]",
            "Code.S3Key",
            "DependsOn",
            "Environment.Variables.B",
            "MemorySize"
        ]
    );
    assert_eq!(stack.changed_paths("Table"), None, "unchanged");
    let added = case("add");
    assert_eq!(
        added.stacks[0].changed_paths("Queue"),
        None,
        "added, not modified"
    );
}

#[test]
fn the_security_section_classifies_each_change() {
    use review::{Access, ChangeKind, SecurityDetail};
    let kinds = |name: &str| -> Vec<(ChangeKind, Access, String)> {
        case(name).stacks[0]
            .security
            .iter()
            .map(|c| {
                let kind = match &c.detail {
                    SecurityDetail::Statement(s) => format!("{} {}", s.effect, s.actions.join(",")),
                    SecurityDetail::ManagedPolicy { .. } => "managed".to_owned(),
                    SecurityDetail::Permission { .. } => "permission".to_owned(),
                    SecurityDetail::Authorizer { .. } => "authorizer".to_owned(),
                    SecurityDetail::RouteAuthorization { .. } => "route".to_owned(),
                };
                (c.change, c.access, kind)
            })
            .collect()
    };
    use Access::*;
    use ChangeKind::*;
    assert_eq!(
        kinds("iam_widened"),
        [
            (Added, Widened, "Allow dynamodb:*".to_owned()),
            (Added, Widened, "managed".to_owned())
        ]
    );
    assert_eq!(
        kinds("iam_narrowed"),
        [
            (
                Removed,
                Narrowed,
                "Allow dynamodb:DeleteItem,dynamodb:PutItem".to_owned()
            ),
            (Added, Narrowed, "Allow dynamodb:PutItem".to_owned()),
            (Added, Narrowed, "Deny dynamodb:DeleteTable".to_owned()),
        ]
    );
    assert_eq!(
        kinds("permission_added"),
        [(Added, Widened, "permission".to_owned())]
    );
    assert_eq!(
        kinds("authorizer_removed"),
        [
            (Removed, Widened, "authorizer".to_owned()),
            (Modified, Widened, "route".to_owned())
        ]
    );
    assert_eq!(
        kinds("route_auth_removed"),
        [(Modified, Widened, "route".to_owned())]
    );
    assert_eq!(
        kinds("bucket_policy_public_read"),
        [(Added, Widened, "Allow s3:GetObject".to_owned())]
    );
    let review = case("bucket_policy_public_read");
    let SecurityDetail::Statement(statement) = &review.stacks[0].security[0].detail else {
        panic!("a statement");
    };
    assert_eq!(statement.policy, "PolicyDocument on ${Site}");
    assert_eq!(statement.principals, ["*"]);
    assert_eq!(statement.resources, ["${Site.Arn}/*"]);
    assert!(
        kinds("stack_removed")
            .iter()
            .all(|(c, a, _)| *c == Removed && *a == Narrowed)
    );
    assert!(kinds("modify").is_empty());
}

#[test]
fn markdown_outside_tables_keeps_pipes_and_backticks_as_written() {
    let mut review = case("add");
    review.base = "a|b".to_owned();
    review.stacks[0].stack = "chat`dev".to_owned();
    let md = render(&review, Format::Markdown, false);
    let mut code = Vec::new();
    for event in Parser::new_ext(&md, Options::ENABLE_TABLES) {
        if let Event::Code(text) = event {
            code.push(text.to_string());
        }
    }
    assert!(code.iter().any(|c| c == "a|b"), "{code:?}\n{md}");
    assert!(code.iter().any(|c| c == "chat`dev"), "{code:?}\n{md}");
}
