//! Synth-time validation: each error names the construct path and says what to change.

use infra::app::{
    ApiKeySource, ApiKeysSpec, ApiSpec, App, AuthorizerSpec, Connect, ConnectAuthorization, Grant,
    RouteSpec, TableAction,
};
use infra::constructs::authorizer::{AuthorizerProps, IdentitySource, WebSocketAuthorizer};
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
        .add_route(
            &mut stack,
            "echo",
            &echo,
            RouteOptions {
                two_way: true,
                ..RouteOptions::default()
            },
        )
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
        connect: Connect::OPEN,
        tables: &[],
        secrets: &[],
    };
    let err = SHARED
        .synth(&stage("dev"), &manifest())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("route `$default` and route `echo`")
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

/// An app guarded by an authorizer with these identity sources, on echo's `$connect`.
fn guarded_app(identity_sources: &'static [&'static str]) -> App {
    App {
        name: "gate",
        description: "gate",
        api: ApiSpec {
            id: "Gate",
            name: "gate",
            description: "gate",
            route_selection_expression: "$request.body.action",
        },
        routes: &[RouteSpec {
            key: "$connect",
            name: "Connect",
            package: "connect",
            grants: &[],
        }],
        connect: Connect {
            authorization: ConnectAuthorization::Authorizer(AuthorizerSpec {
                name: "Token",
                package: "authorizer",
                identity_sources,
                grants: &[],
            }),
            api_keys: None,
        },
        tables: &[],
        secrets: &[],
    }
}

#[test]
fn an_identity_source_in_another_apis_form_names_the_authorizer_and_the_websocket_form() {
    let err = guarded_app(&["$request.header.Authorization"])
        .synth(&stage("dev"), &manifest())
        .unwrap_err()
        .to_string();
    assert!(err.contains("wsecho-dev/Token/Authorizer"), "{err}");
    assert!(
        err.contains("`$request.header.Authorization`")
            && err.contains("`route.request.header.Authorization`"),
        "{err}"
    );
    for (bad, needle) in [
        ("route.request.querystring.", "needs a name"),
        ("route.request.header.Bad Header", "not a header name"),
        ("request.header.Auth", "route.request.header.NAME"),
    ] {
        let sources: &'static [&'static str] = Box::leak(Box::new([bad]));
        let err = guarded_app(sources)
            .synth(&stage("dev"), &manifest())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Token/Authorizer") && err.contains(needle),
            "{bad}: {err}"
        );
    }
}

#[test]
fn a_repeated_identity_source_is_refused() {
    let mut stack = Stack::new("t");
    let root = stack.root();
    let mut api = api(&mut stack);
    let gate = function(&mut stack, "Gate", "authorizer").unwrap();
    let token = IdentitySource::QueryString("token".into());
    let err = WebSocketAuthorizer::new(
        &mut stack,
        &root,
        "Gate",
        &mut api,
        &gate,
        AuthorizerProps::new("gate", vec![token.clone(), token]),
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(
        err.contains("t/Gate/Authorizer") && err.contains("listed twice"),
        "{err}"
    );
}

#[test]
fn an_authorizer_iam_or_api_key_on_a_route_other_than_connect_is_refused() {
    let mut stack = Stack::new("t");
    let root = stack.root();
    let mut api = api(&mut stack);
    let gate = function(&mut stack, "Gate", "authorizer").unwrap();
    let authorizer = WebSocketAuthorizer::new(
        &mut stack,
        &root,
        "Gate",
        &mut api,
        &gate,
        AuthorizerProps::new("gate", vec![IdentitySource::Header("Auth".into())]),
    )
    .unwrap();
    let options = [
        RouteOptions {
            authorization: authorizer.authorization(),
            ..RouteOptions::default()
        },
        RouteOptions {
            authorization: infra::resources::apigatewayv2::RouteAuthorization::AwsIam,
            ..RouteOptions::default()
        },
        RouteOptions {
            api_key_required: true,
            ..RouteOptions::default()
        },
    ];
    for (key, options) in ["echo", "$default", "$disconnect"].into_iter().zip(options) {
        let err = api
            .add_route(&mut stack, key, &gate, options)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains(&format!("t/Test/{key}")) && err.contains("`$connect` only"),
            "{key}: {err}"
        );
    }
    // On `$connect` it is what the construct is for.
    api.add_route(
        &mut stack,
        "$connect",
        &gate,
        RouteOptions {
            authorization: authorizer.authorization(),
            api_key_required: true,
            ..RouteOptions::default()
        },
    )
    .unwrap();
}

#[test]
fn another_apis_authorizer_is_refused() {
    let mut stack = Stack::new("t");
    let root = stack.root();
    let mut first = api_with(&mut stack, "First", RouteIds::Scoped);
    let mut second = api_with(&mut stack, "Second", RouteIds::Scoped);
    let gate = function(&mut stack, "Gate", "authorizer").unwrap();
    let authorizer = WebSocketAuthorizer::new(
        &mut stack,
        &root,
        "Gate",
        &mut first,
        &gate,
        AuthorizerProps::new("gate", vec![IdentitySource::Header("Auth".into())]),
    )
    .unwrap();
    let err = second
        .add_route(
            &mut stack,
            "$connect",
            &gate,
            RouteOptions {
                authorization: authorizer.authorization(),
                ..RouteOptions::default()
            },
        )
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("GateAuthorizer") && err.contains("authorizer of this API"),
        "{err}"
    );
}

#[test]
fn keys_from_an_authorizer_need_one_and_a_guard_needs_a_connect_route() {
    let mut keyed = guarded_app(&["route.request.querystring.token"]);
    keyed.connect = Connect {
        authorization: ConnectAuthorization::Iam {
            client_role: "Client",
        },
        api_keys: Some(ApiKeysSpec {
            source: ApiKeySource::Authorizer,
            clients: &["ops"],
        }),
    };
    let err = keyed
        .synth(&stage("dev"), &manifest())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("wsecho-dev/Gate") && err.contains("usageIdentifierKey"),
        "{err}"
    );

    let mut unrouted = guarded_app(&["route.request.querystring.token"]);
    unrouted.routes = &[RouteSpec {
        key: "$default",
        name: "Default",
        package: "default",
        grants: &[],
    }];
    let err = unrouted
        .synth(&stage("dev"), &manifest())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("app `gate`") && err.contains("no `$connect` route"),
        "{err}"
    );
}

#[test]
fn a_grant_of_a_table_or_secret_the_app_lacks_names_the_function() {
    let mut app = guarded_app(&["route.request.querystring.token"]);
    app.routes = &[RouteSpec {
        key: "$connect",
        name: "Connect",
        package: "connect",
        grants: &[Grant::Table {
            table: "Rooms",
            actions: &[TableAction::PutItem],
        }],
    }];
    let err = app
        .synth(&stage("dev"), &manifest())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("wsecho-dev/Connect/Function") && err.contains("table `Rooms`"),
        "{err}"
    );
    app.routes = &[RouteSpec {
        key: "$connect",
        name: "Connect",
        package: "connect",
        grants: &[Grant::ReadSecret("ApiToken")],
    }];
    let err = app
        .synth(&stage("dev"), &manifest())
        .unwrap_err()
        .to_string();
    assert!(err.contains("secret `ApiToken`"), "{err}");
}
