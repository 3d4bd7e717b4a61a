//! A WebSocket API: routes to functions, each as Route + Integration + Permission; who may
//! connect (an authorizer, IAM or API keys on `$connect`).

use std::collections::BTreeMap;

use crate::constructs::function::LambdaFunction;
use crate::constructs::stage::{StageProps, WebSocketStage};
use crate::error::SynthError;
use crate::intrinsics::{Expr, Handle, Pseudo, Sub, attr};
use crate::path::ConstructPath;
use crate::resources::apigatewayv2::{
    Api, Integration, IntegrationType, ProtocolType, Route, RouteResponse,
};
use crate::resources::apigatewayv2::{ApiKeySelectionExpression, Authorizer, RouteAuthorization};
use crate::resources::iam::Role;
use crate::resources::iam::{InlinePolicy, PolicyDocument, Statement};
use crate::resources::lambda::Permission;
use crate::stack::Stack;
use crate::validate;

#[derive(Debug, Clone)]
pub struct WebSocketApiProps {
    pub name: String,
    pub description: Option<String>,
    /// `$request.body.action`
    pub route_selection_expression: String,
    pub stage: StageProps,
    pub route_ids: RouteIds,
    /// Where routes that require an API key find it (API Gateway's default: the
    /// `x-api-key` header).
    pub api_key_selection_expression: Option<ApiKeySelectionExpression>,
}

impl WebSocketApiProps {
    /// An API named `name` routing by `route_selection_expression` (both required by
    /// CloudFormation for WebSocket APIs), with one stage.
    pub fn new(
        name: impl Into<String>,
        route_selection_expression: impl Into<String>,
        stage: StageProps,
    ) -> WebSocketApiProps {
        WebSocketApiProps {
            name: name.into(),
            description: None,
            route_selection_expression: route_selection_expression.into(),
            stage,
            route_ids: RouteIds::default(),
            api_key_selection_expression: None,
        }
    }
}

/// How the logical IDs of an API's routes are made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RouteIds {
    /// `<Api><Key>Route`: unique whatever else the stack holds.
    #[default]
    Scoped,
    /// `<Key>Route`, for the only API of a stack (an app's); a second API with the same route
    /// key then collides, and synth names both.
    Short,
}

/// Options of one route.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteOptions {
    /// Send the function's response back to the client (a `$default` RouteResponse and a
    /// RouteResponseSelectionExpression on the route).
    pub two_way: bool,
    /// Who may use the route: `$connect` only (API Gateway authorizes connections, not
    /// messages); see `WebSocketAuthorizer::authorization` and `grant_connect`.
    pub authorization: RouteAuthorization,
    /// Require a valid API key of a usage plan of this stage (`$connect` only).
    pub api_key_required: bool,
}

/// The resources one route brought.
pub struct RouteResources {
    pub route: Handle<Route>,
    pub integration: Handle<Integration>,
    pub permission: Handle<Permission>,
    pub route_response: Option<Handle<RouteResponse>>,
}

struct RouteEntry {
    path: ConstructPath,
    function: ConstructPath,
}

pub struct WebSocketApi {
    /// Where the API's routes go: under the API's path, with or without its id in their
    /// logical IDs (`RouteIds`).
    routes_scope: ConstructPath,
    pub api: Handle<Api>,
    pub stage: WebSocketStage,
    routes: BTreeMap<String, RouteEntry>,
    /// Logical IDs of this API's authorizers: a route may only use one of these.
    authorizers: Vec<String>,
}

impl WebSocketApi {
    /// Adds `<Id>Api` and its stage (`<Id>Stage`, see `WebSocketStage`) in `scope`. Every
    /// API is checked when the stack synthesizes: it needs a route, and should have
    /// `$default`.
    pub fn new(
        stack: &mut Stack,
        scope: &ConstructPath,
        id: &str,
        props: WebSocketApiProps,
    ) -> Result<WebSocketApi, SynthError> {
        let path = scope.child(id);
        let routes_scope = match props.route_ids {
            RouteIds::Scoped => path.clone(),
            RouteIds::Short => scope.unnamed_scope(id),
        };
        let api = stack.add(
            &path.child("Api"),
            Api {
                description: props.description,
                api_key_selection_expression: props.api_key_selection_expression,
                name: props.name,
                protocol_type: ProtocolType::Websocket,
                route_selection_expression: props.route_selection_expression,
            },
        )?;
        let stage = WebSocketStage::new(stack, &path, &api, &props.stage)?;
        Ok(WebSocketApi {
            routes_scope,
            api,
            stage,
            routes: BTreeMap::new(),
            authorizers: Vec::new(),
        })
    }

    /// Records an authorizer added to this API (by `WebSocketAuthorizer::new`).
    pub(crate) fn own_authorizer(&mut self, authorizer: &Handle<Authorizer>) {
        self.authorizers.push(authorizer.logical_id().to_owned());
    }

    /// `arn:…:execute-api:<region>:<account>:<api>/<stage>/` followed by `rest`: the
    /// execute-api ARN of this API and stage.
    fn execute_api_arn(&self, rest: &str) -> Expr {
        Sub::arn_prefix("execute-api")
            .var(self.api.reference())
            .text(&format!("/{}/{rest}", self.stage.name()))
            .into()
    }

    /// Routes `route_key` to `function`: adds `<Key>Route`, `<Key>Integration` (AWS_PROXY),
    /// `<Key>Permission` (invoke, from this API, stage and route key only) and, for two-way
    /// routes, `<Key>RouteResponse`. The stage deploys after the route.
    pub fn add_route(
        &mut self,
        stack: &mut Stack,
        route_key: &str,
        function: &LambdaFunction,
        options: RouteOptions,
    ) -> Result<RouteResources, SynthError> {
        let path = self.routes_scope.child(route_key);
        validate::route_key(&path, route_key)?;
        if let Some(first) = self.routes.get(route_key) {
            return Err(SynthError::DuplicateRoute {
                route_key: route_key.to_owned(),
                first: format!("{} → {}", first.path, first.function),
                second: format!("{path} → {}", function.path()),
            });
        }
        let guarded = options.authorization != RouteAuthorization::None || options.api_key_required;
        if guarded && route_key != "$connect" {
            return Err(SynthError::GuardOffConnect {
                path: path.to_string(),
                route_key: route_key.to_owned(),
            });
        }
        if let RouteAuthorization::Custom { authorizer_id } = &options.authorization
            && !self
                .authorizers
                .iter()
                .any(|a| a == authorizer_id.logical_id())
        {
            return Err(SynthError::WrongHandle {
                path: format!("{path}: authorizer {}", authorizer_id.logical_id()),
                expected: "authorizer of this API",
            });
        }

        let integration = stack.add(
            &path.child("Integration"),
            Integration {
                api_id: self.api.reference(),
                integration_type: IntegrationType::AwsProxy,
                integration_uri: Sub::new()
                    .text("arn:")
                    .var(Pseudo::Partition)
                    .text(":apigateway:")
                    .var(Pseudo::Region)
                    .text(":lambda:path/2015-03-31/functions/")
                    .var(function.function.get_att(attr::Arn))
                    .text("/invocations")
                    .into(),
                timeout_in_millis: None,
            },
        )?;
        let route = stack.add(
            &path.child("Route"),
            Route {
                api_id: self.api.reference(),
                api_key_required: options.api_key_required,
                authorization: options.authorization.clone(),
                route_key: route_key.to_owned(),
                route_response_selection_expression: options.two_way.then(|| "$default".into()),
                target: Sub::new()
                    .text("integrations/")
                    .var(integration.reference())
                    .into(),
            },
        )?;
        let permission = stack.add(
            &path.child("Permission"),
            Permission {
                action: "lambda:InvokeFunction".into(),
                function_name: function.function.get_att(attr::Arn),
                principal: "apigateway.amazonaws.com".into(),
                source_arn: self.execute_api_arn(route_key),
            },
        )?;
        let route_response = if options.two_way {
            Some(stack.add(
                &path.child("RouteResponse"),
                RouteResponse {
                    api_id: self.api.reference(),
                    route_id: route.reference(),
                    route_response_key: "$default".into(),
                },
            )?)
        } else {
            None
        };
        stack.add_dependency(&self.stage.stage, &route)?;
        if let Some(response) = &route_response {
            stack.add_dependency(&self.stage.stage, response)?;
        }
        self.routes.insert(
            route_key.to_owned(),
            RouteEntry {
                path,
                function: function.path().clone(),
            },
        );
        Ok(RouteResources {
            route,
            integration,
            permission,
            route_response,
        })
    }

    /// Lets `function` post to this stage's connections (`POST @connections/{id}` of the
    /// management API), and nothing else.
    pub fn grant_manage_connections(
        &self,
        stack: &mut Stack,
        function: &LambdaFunction,
    ) -> Result<(), SynthError> {
        function.add_policy(
            stack,
            InlinePolicy {
                policy_name: "ManageConnections".into(),
                policy_document: PolicyDocument::new(vec![Statement::allow(
                    &["execute-api:ManageConnections"],
                    vec![self.execute_api_arn("POST/@connections/*")],
                )]),
            },
        )
    }

    /// Lets `role` open connections to this stage when `$connect` uses IAM authorization
    /// (`execute-api:Invoke` on this API, stage and `$connect`, and nothing else).
    pub fn grant_connect(&self, stack: &mut Stack, role: &Handle<Role>) -> Result<(), SynthError> {
        let arn = self.execute_api_arn("$connect");
        let role = stack.get_mut(role)?;
        role.policies.push(InlinePolicy {
            policy_name: "Connect".into(),
            policy_document: PolicyDocument::new(vec![Statement::allow(
                &["execute-api:Invoke"],
                vec![arn],
            )]),
        });
        Ok(())
    }

    /// `wss://<api>.execute-api.<region>.<suffix>/<stage>`, built without `ApiEndpoint`.
    pub fn url(&self) -> Expr {
        self.endpoint("wss")
    }

    /// `https://…/<stage>`: the management API's base URL.
    pub fn callback_url(&self) -> Expr {
        self.endpoint("https")
    }

    fn endpoint(&self, scheme: &str) -> Expr {
        Sub::new()
            .text(&format!("{scheme}://"))
            .var(self.api.reference())
            .text(".execute-api.")
            .var(Pseudo::Region)
            .text(".")
            .var(Pseudo::UrlSuffix)
            .text(&format!("/{}", self.stage.name()))
            .into()
    }
}
