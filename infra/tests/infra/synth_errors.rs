//! Synth-time validation: each error names the construct path and says what to change.

use infra::app::{ApiSpec, App, RouteSpec};
use infra::constructs::function::{Assets, FunctionProps, LambdaFunction};
use infra::constructs::stage::StageProps;
use infra::constructs::websocket_api::{RouteIds, RouteOptions, WebSocketApi, WebSocketApiProps};
use infra::resources::iam::Role;
use infra::resources::lambda::Permission;
use infra::{Stack, SynthError};

use super::common::{assets_bucket, echo, manifest, manifest_with, stage};

fn api_with(stack: &mut Stack, id: &str, route_ids: RouteIds) -> WebSocketApi {
    let root = stack.root();
    let mut props = WebSocketApiProps::new(
        id.to_lowercase(),
        "$request.body.action",
        StageProps::new("t"),
    );
    props.route_ids = route_ids;
    WebSocketApi::new(stack, &root, id, props).unwrap()
}

fn api(stack: &mut Stack) -> WebSocketApi {
    api_with(stack, "Test", RouteIds::Short)
}

/// Adds the bucket parameter and one function (one per stack: the parameter is claimed once).
fn function(stack: &mut Stack, name: &str, package: &str) -> Result<LambdaFunction, SynthError> {
    let manifest = manifest();
    let bucket = assets_bucket(stack).reference();
    let root = stack.root();
    let mut props = FunctionProps::new(package);
    props.function_name = Some(format!("test-{package}"));
    props.log_retention_days = 1;
    LambdaFunction::new(
        stack,
        &root,
        name,
        &Assets {
            manifest: &manifest,
            bucket,
        },
        props,
    )
}

#[test]
fn an_unknown_function_package_names_the_construct_and_the_fix() {
    let err = echo()
        .synth(
            &stage("dev"),
            &manifest_with(&["connect", "default", "disconnect"]),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("wsecho-dev/Echo/Function"), "{err}");
    assert!(
        err.contains("`echo`") && err.contains("connect, default, disconnect"),
        "{err}"
    );
    assert!(err.contains("cargo xtask build"), "{err}");
}

#[test]
fn an_override_for_an_unknown_package_is_refused() {
    let mut config = stage("dev");
    config
        .functions
        .overrides
        .insert("ecko".into(), Default::default());
    let err = echo().synth(&config, &manifest()).unwrap_err().to_string();
    assert!(
        err.contains("functions.overrides.ecko") && err.contains("echo"),
        "{err}"
    );
}

#[test]
fn names_over_limits_are_refused() {
    let mut config = stage("dev");
    config.stack_name = "w".repeat(60).try_into().unwrap();
    let err = echo().synth(&config, &manifest()).unwrap_err().to_string();
    assert!(
        err.contains("function name") && err.contains("allows 64"),
        "{err}"
    );
}

#[test]
fn a_duplicate_route_key_names_both_routes() {
    let mut stack = Stack::new("dup");
    let mut api = api(&mut stack);
    let echo = function(&mut stack, "Echo", "echo").unwrap();
    api.add_route(&mut stack, "echo", &echo, RouteOptions::default())
        .unwrap();
    let err = match api.add_route(&mut stack, "echo", &echo, RouteOptions::default()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a second `echo` route was accepted"),
    };
    assert!(
        err.contains("`echo` is defined twice")
            && err.contains("dup/Test/echo → dup/Echo/Function"),
        "{err}"
    );
}

#[test]
fn a_malformed_route_key_says_how_to_fix_it() {
    let mut stack = Stack::new("bad");
    let mut api = api(&mut stack);
    let echo = function(&mut stack, "Echo", "echo").unwrap();
    let err = match api.add_route(&mut stack, "$echo", &echo, RouteOptions::default()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("`$echo` was accepted"),
    };
    assert!(
        err.contains("bad/Test/$echo") && err.contains("drop the `$`"),
        "{err}"
    );
}

#[test]
fn route_keys_differing_only_in_case_collide_on_logical_ids() {
    let mut stack = Stack::new("case");
    let mut api = api(&mut stack);
    let echo = function(&mut stack, "Echo", "echo").unwrap();
    api.add_route(&mut stack, "echo", &echo, RouteOptions::default())
        .unwrap();
    let err = match api.add_route(&mut stack, "Echo", &echo, RouteOptions::default()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("`Echo` and `echo` both got logical IDs"),
    };
    assert!(
        err.contains("`EchoIntegration`")
            && err.contains("case/Test/echo/Integration")
            && err.contains("case/Test/Echo/Integration"),
        "{err}"
    );
}

#[test]
fn a_stack_without_default_route_warns_and_without_routes_fails() {
    let mut stack = Stack::new("nodefault");
    let mut api_with_route = api(&mut stack);
    let echo = function(&mut stack, "Echo", "echo").unwrap();
    api_with_route
        .add_route(&mut stack, "echo", &echo, RouteOptions { two_way: true })
        .unwrap();
    let synthesized = stack.synth().unwrap();
    let warnings: Vec<String> = synthesized
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("nodefault/Test") && warnings[0].contains("$default"),
        "{warnings:?}"
    );
    let types: Vec<&str> = synthesized
        .template
        .resource_types()
        .map(|(_, t)| t)
        .collect();
    assert!(
        types.contains(&"AWS::ApiGatewayV2::RouteResponse"),
        "{types:?}"
    );

    // Nothing to remember: the stack checks every API when it synthesizes.
    let mut empty = Stack::new("noroutes");
    api(&mut empty);
    let err = empty.synth().unwrap_err().to_string();
    assert!(
        err.contains("noroutes/Test") && err.contains("add a route"),
        "{err}"
    );
}

#[test]
fn a_reference_to_another_stacks_resource_is_dangling() {
    let mut other = Stack::new("other");
    let foreign = function(&mut other, "Echo", "echo").unwrap();
    let mut stack = Stack::new("mine");
    stack
        .add(
            &stack.root().child("Invoke"),
            Permission {
                action: "lambda:InvokeFunction".into(),
                function_name: foreign.function.get_att(infra::intrinsics::attr::Arn),
                principal: "apigateway.amazonaws.com".into(),
                source_arn: "arn:aws:execute-api:eu-west-1:123456789012:abc/t/echo".into(),
            },
        )
        .unwrap();
    let err = stack.synth().unwrap_err().to_string();
    assert!(
        err.contains("`mine/Invoke`") && err.contains("`EchoFunction`"),
        "{err}"
    );
}

#[test]
fn a_long_timeout_is_a_warning() {
    let mut config = stage("dev");
    config.functions.timeout_seconds = 60.try_into().unwrap();
    let synthesized = echo().synth(&config, &manifest()).unwrap();
    // One per function.
    assert_eq!(synthesized.warnings.len(), echo().routes.len());
    assert!(
        synthesized.warnings[0].to_string().contains("29 s"),
        "{:?}",
        synthesized.warnings
    );
}

#[test]
fn execution_logging_without_the_account_role_is_a_warning() {
    let mut config = stage("dev");
    config.account_cloudwatch_role = false;
    let synthesized = echo().synth(&config, &manifest()).unwrap();
    let text: Vec<String> = synthesized
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        text.iter()
            .any(|w| w.contains("account_cloudwatch_role: true")),
        "{text:?}"
    );
}

#[test]
fn roles_are_reachable_typed_through_their_handles() {
    let mut stack = Stack::new("typed");
    let echo = function(&mut stack, "Echo", "echo").unwrap();
    let role: &mut Role = stack.get_mut(&echo.role).unwrap();
    assert_eq!(role.policies.len(), 1);
}

#[test]
fn two_apis_in_one_stack_keep_their_routes_apart() {
    let mut stack = Stack::new("two");
    let echo = function(&mut stack, "Echo", "echo").unwrap();
    let mut chat = api_with(&mut stack, "Chat", RouteIds::Scoped);
    let mut game = api_with(&mut stack, "Game", RouteIds::Scoped);
    chat.add_route(&mut stack, "$default", &echo, RouteOptions::default())
        .unwrap();
    game.add_route(&mut stack, "$default", &echo, RouteOptions::default())
        .unwrap();
    let synthesized = stack.synth().unwrap();
    let ids: Vec<&str> = synthesized
        .template
        .resource_types()
        .filter(|(_, t)| *t == "AWS::ApiGatewayV2::Route")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["ChatDefaultRoute", "GameDefaultRoute"]);

    // Short route IDs are for a stack's only API: a second one collides, and synth says where.
    let mut stack = Stack::new("short");
    let echo = function(&mut stack, "Echo", "echo").unwrap();
    let mut chat = api_with(&mut stack, "Chat", RouteIds::Short);
    let mut game = api_with(&mut stack, "Game", RouteIds::Short);
    chat.add_route(&mut stack, "$default", &echo, RouteOptions::default())
        .unwrap();
    let err = match game.add_route(&mut stack, "$default", &echo, RouteOptions::default()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("two `DefaultIntegration`s were accepted"),
    };
    assert!(
        err.contains("short/Chat/$default/Integration")
            && err.contains("short/Game/$default/Integration"),
        "{err}"
    );
}

#[test]
fn a_route_table_giving_two_routes_one_package_is_refused() {
    const SHARED: App = App {
        name: "shared",
        description: "two routes, one crate",
        api: ApiSpec {
            id: "Shared",
            name: "shared",
            description: "shared",
            route_selection_expression: "$request.body.action",
        },
        routes: &[
            RouteSpec {
                key: "$default",
                name: "Default",
                package: "echo",
                grants: &[],
            },
            RouteSpec {
                key: "echo",
                name: "Echo",
                package: "echo",
                grants: &[],
            },
        ],
    };
    let err = SHARED
        .synth(&stage("dev"), &manifest())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`$default` and `echo`")
            && err.contains("`echo`")
            && err.contains("own function crate"),
        "{err}"
    );
}

#[test]
fn an_unknown_app_lists_the_apps() {
    let err = infra::apps::find("chat2").unwrap_err().to_string();
    assert!(err.contains("`chat2`") && err.contains("echo"), "{err}");
}
