//! What holds for every app and every stage: the reviewed snapshots, one stack name per app
//! and stage, and templates that agree with the route table they come from.

use std::collections::BTreeMap;

use infra::app::{ACTIONS_VARIABLE, Grant};
use serde_json::Value;

use super::common::{every_stage, manifest, redact_hashes};

#[test]
fn every_template_matches_its_reviewed_snapshot() {
    for shipped in every_stage() {
        let json = redact_hashes(&shipped.synthesized.template.to_json(), &manifest());
        insta::with_settings!({
            snapshot_path => "../../../snapshots",
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!(
                format!("{}-{}.template.json", shipped.app.name, shipped.stage),
                json
            );
        });
    }
}

#[test]
fn every_app_and_stage_has_its_own_stack() {
    let shipped = every_stage();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for s in &shipped {
        let owner = format!("{}/{}", s.app.name, s.stage);
        if let Some(first) = owners.insert(s.config.stack_name.to_string(), owner.clone()) {
            panic!(
                "stack name `{}` is used by {first} and {owner}: a deploy of one would replace the other",
                s.config.stack_name
            );
        }
    }
    assert_eq!(owners.len(), shipped.len());
}

#[test]
fn the_shipped_stages_synthesize_without_warnings() {
    for s in every_stage() {
        assert!(
            s.synthesized.warnings.is_empty(),
            "{} {}: {:?}",
            s.app.name,
            s.stage,
            s.synthesized.warnings
        );
    }
}

#[test]
fn templates_have_exactly_the_routes_and_functions_of_the_table() {
    for shipped in every_stage() {
        let (app, stage, t) = (shipped.app, &shipped.stage, shipped.template());
        let resources = t["Resources"].as_object().unwrap();
        let of_type =
            |ty: &str| -> Vec<&Value> { resources.values().filter(|r| r["Type"] == ty).collect() };
        let mut keys: Vec<&str> = of_type("AWS::ApiGatewayV2::Route")
            .iter()
            .map(|r| r["Properties"]["RouteKey"].as_str().unwrap())
            .collect();
        keys.sort_unstable();
        let mut table: Vec<&str> = app.routes.iter().map(|r| r.key).collect();
        table.sort_unstable();
        assert_eq!(keys, table, "{} {stage}", app.name);

        for route in app.routes {
            let function = &resources[&format!("{}Function", route.name)];
            assert_eq!(
                function["Metadata"][assembly::template::PACKAGE_METADATA],
                route.package,
                "{} {stage}: route {}",
                app.name,
                route.key
            );
        }
        assert_eq!(
            of_type("AWS::Lambda::Function").len(),
            app.routes.len(),
            "{} {stage}: one function per route",
            app.name
        );
    }
}

/// What `$default` (and every function that replies) tells clients they may send comes from
/// the template, which takes it from the route table: they cannot disagree.
#[test]
fn the_functions_that_reply_get_the_actions_of_the_route_table() {
    for shipped in every_stage() {
        let (app, stage, t) = (shipped.app, &shipped.stage, shipped.template());
        let expected: Vec<&str> = app.actions();
        for route in app.routes {
            let variables = &t["Resources"][&format!("{}Function", route.name)]["Properties"]["Environment"]
                ["Variables"];
            let replies = route.grants.contains(&Grant::ManageConnections);
            match variables.get(ACTIONS_VARIABLE) {
                Some(Value::String(text)) => {
                    assert!(replies, "{} {stage}: {} gets actions", app.name, route.key);
                    let actions: Vec<String> = serde_json::from_str(text).unwrap();
                    assert_eq!(actions, expected, "{} {stage}: {}", app.name, route.key);
                }
                None => assert!(
                    !replies,
                    "{} {stage}: {} replies but is not told the actions",
                    app.name, route.key
                ),
                Some(other) => panic!("{ACTIONS_VARIABLE} must be a literal, got {other}"),
            }
        }
        assert!(
            app.routes.iter().any(|r| r.key == "$default"),
            "{}: without `$default` nobody explains what to send",
            app.name
        );
    }
}
