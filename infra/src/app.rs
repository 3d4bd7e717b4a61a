//! An app: one WebSocket API described as data. Its route table says, for each route, the
//! function crate that handles it and what that function may do; the stack, the functions'
//! permissions and the actions clients are told about all derive from the table.

use std::collections::BTreeMap;

use assembly::AssetManifest;
use assembly::template::ASSETS_BUCKET_PARAMETER;

use crate::config::{LoggingLevel as ConfigLoggingLevel, StageConfig};
use crate::constructs::account::ApiGatewayAccount;
use crate::constructs::function::{Assets, FunctionProps, LambdaFunction};
use crate::constructs::stage::StageProps;
use crate::constructs::websocket_api::{RouteIds, RouteOptions, WebSocketApi, WebSocketApiProps};
use crate::error::SynthError;
use crate::intrinsics::Expr;
use crate::resources::apigatewayv2::LoggingLevel;
use crate::stack::{Stack, Synthesized};
use crate::template::{Output, Parameter, ParameterType};

/// The environment variable that hands a function the actions clients may send, as a JSON
/// array of route keys (`["echo"]`): the functions that reply use it to say what to send.
pub const ACTIONS_VARIABLE: &str = "WSECHO_ACTIONS";

/// API Gateway gives up on an integration after 29 seconds.
const INTEGRATION_TIMEOUT_SECONDS: u32 = 29;

/// An app: one WebSocket API and its routes.
#[derive(Debug)]
pub struct App {
    /// What `--app` names; its stage files are `infra/stages/<name>/<stage>.yaml`.
    pub name: &'static str,
    /// The stack's description.
    pub description: &'static str,
    pub api: ApiSpec,
    /// The route table: one entry per route key.
    pub routes: &'static [RouteSpec],
}

/// The app's WebSocket API.
#[derive(Debug)]
pub struct ApiSpec {
    /// Construct id: the API's resources' logical IDs start with it (`WsEcho` → `WsEchoApi`).
    pub id: &'static str,
    /// The API's name in API Gateway.
    pub name: &'static str,
    pub description: &'static str,
    /// How a message selects its route (`$request.body.action`).
    pub route_selection_expression: &'static str,
}

/// One route: its key, the function behind it, and what that function may do.
#[derive(Debug)]
pub struct RouteSpec {
    /// `$connect`, `$disconnect`, `$default` or an action (`echo`).
    pub key: &'static str,
    /// Construct id of the route's function: its logical IDs start with it (`EchoFunction`).
    pub name: &'static str,
    /// The function crate (Cargo package under `functions/`); each route has its own.
    pub package: &'static str,
    /// What the function may do beyond writing its own logs.
    pub grants: &'static [Grant],
}

/// A permission a route's function gets, scoped to this app's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Post to (and so reply to) the clients of this API and stage through `@connections`.
    ManageConnections,
}

impl App {
    /// The function crates the app runs, in route-table order.
    pub fn packages(&self) -> Vec<&'static str> {
        self.routes.iter().map(|r| r.package).collect()
    }

    /// The actions clients may send: the route keys a message can select (not `$…`).
    pub fn actions(&self) -> Vec<&'static str> {
        self.routes
            .iter()
            .map(|r| r.key)
            .filter(|key| !key.starts_with('$'))
            .collect()
    }

    /// Synthesizes the app's stack for a stage.
    pub fn synth(
        &self,
        config: &StageConfig,
        manifest: &AssetManifest,
    ) -> Result<Synthesized, SynthError> {
        let mut stack = Stack::new(config.stack_name.as_str());
        stack.set_description(self.description);
        let root = stack.root();

        for (i, route) in self.routes.iter().enumerate() {
            if let Some(first) = self.routes[..i].iter().find(|r| r.package == route.package) {
                return Err(SynthError::SharedPackage {
                    app: self.name.to_owned(),
                    package: route.package.to_owned(),
                    first: first.key.to_owned(),
                    second: route.key.to_owned(),
                });
            }
        }
        let packages = self.packages();
        for package in config.functions.overrides.keys() {
            if !packages.contains(&package.as_str()) {
                return Err(SynthError::UnknownPackage {
                    path: format!(
                        "stage config `{}`: functions.overrides.{package}",
                        config.stage
                    ),
                    package: package.clone(),
                    known: packages.join(", "),
                });
            }
        }

        let bucket = stack.add_parameter(
            &root.child(ASSETS_BUCKET_PARAMETER),
            Parameter {
                type_name: ParameterType::String,
                description: "S3 bucket holding the function zips (keys are their sha256)".into(),
                allowed_pattern: Some("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$".into()),
                constraint_description: Some("an S3 bucket name".into()),
                default: None,
            },
        )?;
        let assets = Assets {
            manifest,
            bucket: bucket.reference(),
        };

        let account = if config.account_cloudwatch_role {
            Some(ApiGatewayAccount::new(&mut stack, &root)?)
        } else {
            None
        };

        let logging_level = match config.logs.level {
            ConfigLoggingLevel::Off => LoggingLevel::Off,
            ConfigLoggingLevel::Error => LoggingLevel::Error,
            ConfigLoggingLevel::Info => LoggingLevel::Info,
        };
        let mut stage = StageProps::new(config.stage.as_str());
        stage.log_retention_days = config.logs.retention_days.get();
        stage.logging_level = logging_level;
        stage.data_trace = config.logs.data_trace;
        stage.detailed_metrics = config.logs.detailed_metrics;
        stage.throttling_burst_limit = Some(config.throttling.burst_limit.get());
        stage.throttling_rate_limit = Some(config.throttling.rate_limit.get());
        let mut props =
            WebSocketApiProps::new(self.api.name, self.api.route_selection_expression, stage);
        props.description = Some(self.api.description.to_owned());
        // An app is one API: its routes need no API name in their logical IDs.
        props.route_ids = RouteIds::Short;
        let mut api = WebSocketApi::new(&mut stack, &root, self.api.id, props)?;
        match &account {
            Some(account) => stack.add_dependency(&api.stage.stage, &account.account)?,
            None if logging_level != LoggingLevel::Off => stack.warn(
                api.stage.path(),
                "execution logging is on but this stack doesn't set the account's CloudWatch role; the deploy fails unless the account already has one (set account_cloudwatch_role: true)",
            ),
            None => {}
        }

        let log_level = match config.logs.level {
            ConfigLoggingLevel::Info => "info",
            _ => "warn",
        };
        let actions =
            serde_json::to_string(&self.actions()).map_err(|source| SynthError::Serialize {
                path: root.child(self.api.id).to_string(),
                source,
            })?;
        let mut function_outputs = Vec::new();
        for route in self.routes {
            let settings = config.functions.for_package(route.package);
            let mut props = FunctionProps::new(route.package);
            props.function_name = Some(format!("{}-{}", config.stack_name, route.package));
            props.memory_mb = settings.memory_mb;
            props.timeout_seconds = settings.timeout_seconds;
            props.reserved_concurrency = settings.reserved_concurrency;
            props.log_retention_days = config.logs.retention_days.get();
            props.tracing = config.tracing;
            props.environment = BTreeMap::from([
                ("RUST_LOG".to_owned(), Expr::literal(log_level)),
                (
                    "WSECHO_STAGE".to_owned(),
                    Expr::literal(config.stage.as_str()),
                ),
            ]);
            props.environment.extend(
                settings
                    .environment
                    .iter()
                    .map(|(name, value)| (name.to_string(), Expr::literal(value))),
            );
            let replies = route.grants.contains(&Grant::ManageConnections);
            if replies {
                // A function that answers clients tells them what they may send.
                props
                    .environment
                    .insert(ACTIONS_VARIABLE.to_owned(), Expr::literal(&actions));
            }
            let function = LambdaFunction::new(&mut stack, &root, route.name, &assets, props)?;
            if settings.timeout_seconds > INTEGRATION_TIMEOUT_SECONDS {
                stack.warn(
                    function.path(),
                    format!(
                        "timeout {} s is longer than API Gateway's {INTEGRATION_TIMEOUT_SECONDS} s integration timeout: the client gets an error while the function keeps running; lower timeout_seconds",
                        settings.timeout_seconds
                    ),
                );
            }
            api.add_route(&mut stack, route.key, &function, RouteOptions::default())?;
            for grant in route.grants {
                match grant {
                    Grant::ManageConnections => {
                        api.grant_manage_connections(&mut stack, &function)?;
                    }
                }
            }
            function_outputs.push((
                format!("{}FunctionName", route.name),
                format!("Name of the {} function", route.package),
                Expr::from(function.function.reference()),
            ));
        }

        let outputs = [
            (
                "WebSocketUrl".to_owned(),
                "wss:// URL clients connect to".to_owned(),
                api.url(),
            ),
            (
                "CallbackUrl".to_owned(),
                "https:// base URL of the @connections management API".to_owned(),
                api.callback_url(),
            ),
            (
                "ApiId".to_owned(),
                "The WebSocket API's id".to_owned(),
                api.api.reference().into(),
            ),
            (
                "StageName".to_owned(),
                "The API stage".to_owned(),
                Expr::literal(config.stage.as_str()),
            ),
        ];
        for (name, description, value) in outputs.into_iter().chain(function_outputs) {
            stack.add_output(&root.child(&name), Output { description, value })?;
        }
        stack.synth()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: App = App {
        name: "t",
        description: "t",
        api: ApiSpec {
            id: "T",
            name: "t",
            description: "t",
            route_selection_expression: "$request.body.action",
        },
        routes: &[
            RouteSpec {
                key: "$connect",
                name: "Connect",
                package: "gate",
                grants: &[],
            },
            RouteSpec {
                key: "send",
                name: "Send",
                package: "send",
                grants: &[Grant::ManageConnections],
            },
            RouteSpec {
                key: "$default",
                name: "Default",
                package: "help",
                grants: &[Grant::ManageConnections],
            },
        ],
    };

    #[test]
    fn packages_and_actions_derive_from_the_table() {
        assert_eq!(TABLE.packages(), ["gate", "send", "help"]);
        assert_eq!(TABLE.actions(), ["send"]);
    }
}
