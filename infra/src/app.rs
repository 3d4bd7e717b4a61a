//! An app: one WebSocket API described as data. Its route table says, for each route, the
//! function crate that handles it and what that function may do, and its `connect` says who
//! may connect; the stack, the functions' permissions and the actions clients are told about
//! all derive from them.

use std::collections::BTreeMap;

use assembly::AssetManifest;
use assembly::template::ASSETS_BUCKET_PARAMETER;

use crate::config::{LoggingLevel as ConfigLoggingLevel, StageConfig};
use crate::constructs::api_keys::{ApiKeys, ApiKeysProps};
use crate::constructs::authorizer::{AuthorizerProps, IdentitySource, WebSocketAuthorizer};
use crate::constructs::function::{Assets, FunctionProps, LambdaFunction};
use crate::constructs::secret::GeneratedSecret;
use crate::constructs::stage::StageProps;
pub use crate::constructs::table::TableAction;
use crate::constructs::table::{DynamoTable, TableProps};
use crate::constructs::websocket_api::{RouteIds, RouteOptions, WebSocketApi, WebSocketApiProps};
use crate::error::SynthError;
use crate::intrinsics::{Expr, Handle, Pseudo, Sub, attr};
use crate::path::{ConstructPath, pascal_case};
use crate::resources::apigatewayv2::{ApiKeySelectionExpression, LoggingLevel, RouteAuthorization};
use crate::resources::dynamodb::AttributeType;
use crate::resources::iam::{Effect, PolicyDocument, Principal, Role, Statement};
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
    /// Who may connect: how `$connect` is guarded.
    pub connect: Connect,
    /// The app's tables, which functions are granted by id.
    pub tables: &'static [TableSpec],
    /// The app's generated secrets, which functions are granted by id.
    pub secrets: &'static [SecretSpec],
}

/// How `$connect` is guarded: API Gateway authorizes connections, never single messages.
#[derive(Debug)]
pub struct Connect {
    pub authorization: ConnectAuthorization,
    /// Require an API key of this stage's usage plan.
    pub api_keys: Option<ApiKeysSpec>,
}

impl Connect {
    /// Anyone who knows the URL may connect.
    pub const OPEN: Connect = Connect {
        authorization: ConnectAuthorization::Open,
        api_keys: None,
    };
}

#[derive(Debug)]
pub enum ConnectAuthorization {
    Open,
    /// SigV4-signed connections from principals allowed `execute-api:Invoke` on `$connect`.
    /// The stack adds a role of that name (`<name>Role`) with exactly that permission, which
    /// the account's principals may assume; its ARN is an output.
    Iam {
        client_role: &'static str,
    },
    /// A Lambda REQUEST authorizer decides, and what it returns reaches every event of the
    /// connection (`requestContext.authorizer`).
    Authorizer(AuthorizerSpec),
}

/// The authorizer function and what every connection must carry for it.
#[derive(Debug)]
pub struct AuthorizerSpec {
    /// Construct id: its logical IDs start with it (`Authorizer` → `AuthorizerFunction`).
    pub name: &'static str,
    /// The function crate.
    pub package: &'static str,
    /// `route.request.header.NAME`, `route.request.querystring.NAME`,
    /// `stageVariables.NAME` or `context.NAME`; checked at synth.
    pub identity_sources: &'static [&'static str],
    /// What the authorizer may do beyond writing its own logs (read a signing key).
    pub grants: &'static [Grant],
}

/// API keys: one per client, in a usage plan of the stage.
#[derive(Debug)]
pub struct ApiKeysSpec {
    pub source: ApiKeySource,
    /// Client names; each gets its own key (its id is an output).
    pub clients: &'static [&'static str],
}

/// Where API Gateway finds a connection's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeySource {
    /// The `x-api-key` header of the upgrade request.
    Header,
    /// The `usageIdentifierKey` the authorizer returns (needs an authorizer).
    Authorizer,
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

/// A permission a function gets, scoped to this app's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Post to (and so reply to) the clients of this API and stage through `@connections`.
    ManageConnections,
    /// Do exactly `actions` on the items of the app's table `table` (a `TableSpec::id`); the
    /// function finds the table's name in the table's `variable`.
    Table {
        table: &'static str,
        actions: &'static [TableAction],
    },
    /// Read the value of the app's secret (a `SecretSpec::id`); the function finds its ARN in
    /// the secret's `variable`.
    ReadSecret(&'static str),
}

/// A DynamoDB table of the app (on demand, point-in-time recovery, encrypted).
#[derive(Debug)]
pub struct TableSpec {
    /// Construct id: `Connections` → `ConnectionsTable`.
    pub id: &'static str,
    /// The partition key (a string attribute).
    pub partition_key: &'static str,
    /// The attribute holding each item's expiry (epoch seconds), if items expire.
    pub ttl_attribute: Option<&'static str>,
    /// The environment variable that gives granted functions the table's name.
    pub variable: &'static str,
}

/// A secret of the app whose value Secrets Manager generates (never in the template).
#[derive(Debug)]
pub struct SecretSpec {
    /// Construct id: `SigningKey` → `SigningKeySecret`.
    pub id: &'static str,
    pub description: &'static str,
    /// Letters and digits.
    pub length: u32,
    /// The environment variable that gives granted functions the secret's ARN.
    pub variable: &'static str,
}

impl App {
    /// The function crates the app runs: the routes' in table order, then the authorizer's.
    pub fn packages(&self) -> Vec<&'static str> {
        let mut packages: Vec<&'static str> = self.routes.iter().map(|r| r.package).collect();
        if let ConnectAuthorization::Authorizer(authorizer) = &self.connect.authorization {
            packages.push(authorizer.package);
        }
        packages
    }

    /// Each function as (construct id, package, what it is for), routes first.
    fn functions(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut functions: Vec<_> = self
            .routes
            .iter()
            .map(|r| (r.name, r.package, format!("route `{}`", r.key)))
            .collect();
        if let ConnectAuthorization::Authorizer(authorizer) = &self.connect.authorization {
            functions.push((authorizer.name, authorizer.package, "the authorizer".into()));
        }
        functions
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

        let functions = self.functions();
        for (i, (_, package, role)) in functions.iter().enumerate() {
            if let Some((_, _, first)) = functions[..i].iter().find(|(_, p, _)| p == package) {
                return Err(SynthError::SharedPackage {
                    app: self.name.to_owned(),
                    package: (*package).to_owned(),
                    first: first.clone(),
                    second: role.clone(),
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
        props.api_key_selection_expression = match &self.connect.api_keys {
            None => None,
            Some(keys) => Some(match (keys.source, &self.connect.authorization) {
                (ApiKeySource::Header, _) => ApiKeySelectionExpression::Header,
                (ApiKeySource::Authorizer, ConnectAuthorization::Authorizer(_)) => {
                    ApiKeySelectionExpression::AuthorizerUsageIdentifierKey
                }
                (ApiKeySource::Authorizer, _) => {
                    return Err(SynthError::ApiKeySourceWithoutAuthorizer {
                        path: root.child(self.api.id).to_string(),
                    });
                }
            }),
        };
        let mut api = WebSocketApi::new(&mut stack, &root, self.api.id, props)?;
        // The account's API Gateway CloudWatch role, which execution logging needs, is
        // account-wide: the toolkit stack holds it (`cargo xtask bootstrap`), and deploy checks
        // the account has a working one before deploying a stage that logs.

        let log_level = config.functions.log_level.directive();
        let actions =
            serde_json::to_string(&self.actions()).map_err(|source| SynthError::Serialize {
                path: root.child(self.api.id).to_string(),
                source,
            })?;
        let mut tables = Vec::new();
        for spec in self.tables {
            let mut props = TableProps::new(spec.partition_key, AttributeType::S);
            props.ttl_attribute = spec.ttl_attribute.map(str::to_owned);
            tables.push((spec, DynamoTable::new(&mut stack, &root, spec.id, props)?));
        }
        let mut secrets = Vec::new();
        for spec in self.secrets {
            let secret =
                GeneratedSecret::new(&mut stack, &root, spec.id, spec.description, spec.length)?;
            secrets.push((spec, secret));
        }
        let functions = Functions {
            config,
            assets: &assets,
            root: &root,
            log_level,
            tables: &tables,
            secrets: &secrets,
        };
        let mut function_outputs = Vec::new();
        let mut access_outputs = Vec::new();
        let connect_route = self.routes.iter().any(|r| r.key == "$connect");
        let guarded = !matches!(self.connect.authorization, ConnectAuthorization::Open)
            || self.connect.api_keys.is_some();
        if guarded && !connect_route {
            return Err(SynthError::GuardWithoutConnectRoute {
                app: self.name.to_owned(),
            });
        }
        let authorization = match &self.connect.authorization {
            ConnectAuthorization::Open => RouteAuthorization::None,
            ConnectAuthorization::Iam { client_role } => {
                let role = client_role_for_account(&mut stack, &root.child(client_role))?;
                api.grant_connect(&mut stack, &role)?;
                access_outputs.push((
                    format!("{client_role}RoleArn"),
                    "Role whose credentials may connect (IAM authorization on $connect)".into(),
                    Expr::from(role.get_att(attr::Arn)),
                ));
                RouteAuthorization::AwsIam
            }
            ConnectAuthorization::Authorizer(spec) => {
                let path = root.child(spec.name).child("Authorizer");
                let identity_sources = spec
                    .identity_sources
                    .iter()
                    .map(|text| {
                        text.parse::<IdentitySource>().map_err(|reason| {
                            SynthError::InvalidIdentitySource {
                                path: path.to_string(),
                                identity_source: (*text).to_owned(),
                                reason,
                            }
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let function =
                    functions.add(&mut stack, &api, spec.name, spec.package, spec.grants, None)?;
                let authorizer = WebSocketAuthorizer::new(
                    &mut stack,
                    &root,
                    spec.name,
                    &mut api,
                    &function,
                    AuthorizerProps::new(spec.package, identity_sources),
                )?;
                function_outputs.push(function_output(spec.name, spec.package, &function));
                authorizer.authorization()
            }
        };
        for route in self.routes {
            // A function that answers clients tells them what they may send.
            let replies = route.grants.contains(&Grant::ManageConnections);
            let function = functions.add(
                &mut stack,
                &api,
                route.name,
                route.package,
                route.grants,
                replies.then_some(actions.as_str()),
            )?;
            let mut options = RouteOptions::default();
            if route.key == "$connect" {
                options.authorization = authorization.clone();
                options.api_key_required = self.connect.api_keys.is_some();
            }
            api.add_route(&mut stack, route.key, &function, options)?;
            function_outputs.push(function_output(route.name, route.package, &function));
        }
        for (spec, table) in &tables {
            access_outputs.push((
                format!("{}TableName", spec.id),
                format!("Name of the {} table", spec.id),
                Expr::from(table.table.reference()),
            ));
        }
        for (spec, secret) in &secrets {
            access_outputs.push((
                format!("{}SecretArn", spec.id),
                format!("ARN of the {} secret: {}", spec.id, spec.description),
                Expr::from(secret.secret.reference()),
            ));
        }
        if let Some(spec) = &self.connect.api_keys {
            let clients = spec.clients.iter().map(|c| (*c).to_owned()).collect();
            let keys = ApiKeys::new(&mut stack, &root, "Keys", &api, ApiKeysProps::new(clients))?;
            for (client, key) in keys.keys {
                access_outputs.push((
                    format!("{}ApiKeyId", pascal_case(&client)),
                    format!("Id of {client}'s API key (aws apigateway get-api-key --include-value --api-key <id>)"),
                    Expr::from(key.reference()),
                ));
            }
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
        for (name, description, value) in outputs
            .into_iter()
            .chain(access_outputs)
            .chain(function_outputs)
        {
            stack.add_output(&root.child(&name), Output { description, value })?;
        }
        stack.synth()
    }
}

/// Adds an app's functions, each with the stage's settings and its grants.
struct Functions<'a> {
    config: &'a StageConfig,
    assets: &'a Assets<'a>,
    root: &'a ConstructPath,
    log_level: &'static str,
    tables: &'a [(&'static TableSpec, DynamoTable)],
    secrets: &'a [(&'static SecretSpec, GeneratedSecret)],
}

impl Functions<'_> {
    /// Adds the function `name` of `package`; `actions` (a JSON array) is what a function
    /// that replies tells clients they may send.
    fn add(
        &self,
        stack: &mut Stack,
        api: &WebSocketApi,
        name: &str,
        package: &str,
        grants: &[Grant],
        actions: Option<&str>,
    ) -> Result<LambdaFunction, SynthError> {
        let path = self.root.child(name).child("Function");
        // What the grants hand the function: the names of its tables, the ARNs of its secrets.
        let mut granted = Vec::new();
        for grant in grants {
            match grant {
                Grant::ManageConnections => {}
                Grant::Table { table, .. } => {
                    let (spec, table) = self.table(&path, table)?;
                    granted.push((spec.variable, Expr::from(table.table.reference())));
                }
                Grant::ReadSecret(secret) => {
                    let (spec, secret) = self.secret(&path, secret)?;
                    granted.push((spec.variable, Expr::from(secret.secret.reference())));
                }
            }
        }
        let config = self.config;
        let settings = config.functions.for_package(package);
        let mut props = FunctionProps::new(package);
        props.function_name = Some(format!("{}-{package}", config.stack_name));
        props.memory_mb = settings.memory_mb;
        props.timeout_seconds = settings.timeout_seconds;
        props.reserved_concurrency = settings.reserved_concurrency;
        props.log_retention_days = config.logs.retention_days.get();
        props.tracing = config.tracing;
        props.environment = BTreeMap::from([
            ("RUST_LOG".to_owned(), Expr::literal(self.log_level)),
            (
                "WSECHO_STAGE".to_owned(),
                Expr::literal(config.stage.as_str()),
            ),
        ]);
        if let Some(actions) = actions {
            props
                .environment
                .insert(ACTIONS_VARIABLE.to_owned(), Expr::literal(actions));
        }
        for (variable, value) in granted {
            props.environment.insert(variable.to_owned(), value);
        }
        for (variable, value) in &settings.environment {
            // The stage file may add variables, not replace what the app wires up.
            if props.environment.contains_key(variable.as_str()) {
                return Err(SynthError::InvalidName {
                    path: path.to_string(),
                    what: "environment variable of the stage file",
                    value: variable.to_string(),
                    rule: "the app sets this variable itself (from its grants): choose another name",
                });
            }
            props
                .environment
                .insert(variable.to_string(), Expr::literal(value));
        }
        let function = LambdaFunction::new(stack, self.root, name, self.assets, props)?;
        for grant in grants {
            match grant {
                Grant::ManageConnections => api.grant_manage_connections(stack, &function)?,
                Grant::Table { table, actions } => {
                    self.table(&path, table)?
                        .1
                        .grant(stack, &function, actions)?;
                }
                Grant::ReadSecret(secret) => {
                    self.secret(&path, secret)?.1.grant_read(stack, &function)?;
                }
            }
        }
        if settings.timeout_seconds > INTEGRATION_TIMEOUT_SECONDS {
            stack.warn(
                function.path(),
                format!(
                    "timeout {} s is longer than API Gateway's {INTEGRATION_TIMEOUT_SECONDS} s integration timeout: the client gets an error while the function keeps running; lower timeout_seconds",
                    settings.timeout_seconds
                ),
            );
        }
        Ok(function)
    }
}

impl Functions<'_> {
    fn table(
        &self,
        path: &ConstructPath,
        id: &str,
    ) -> Result<&(&'static TableSpec, DynamoTable), SynthError> {
        self.tables
            .iter()
            .find(|(spec, _)| spec.id == id)
            .ok_or_else(|| SynthError::UnknownAppResource {
                path: path.to_string(),
                kind: "table",
                id: id.to_owned(),
                known: self
                    .tables
                    .iter()
                    .map(|(spec, _)| spec.id)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn secret(
        &self,
        path: &ConstructPath,
        id: &str,
    ) -> Result<&(&'static SecretSpec, GeneratedSecret), SynthError> {
        self.secrets
            .iter()
            .find(|(spec, _)| spec.id == id)
            .ok_or_else(|| SynthError::UnknownAppResource {
                path: path.to_string(),
                kind: "secret",
                id: id.to_owned(),
                known: self
                    .secrets
                    .iter()
                    .map(|(spec, _)| spec.id)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

fn function_output(name: &str, package: &str, function: &LambdaFunction) -> (String, String, Expr) {
    (
        format!("{name}FunctionName"),
        format!("Name of the {package} function"),
        Expr::from(function.function.reference()),
    )
}

/// A role any principal of this account may assume (when its own policies let it): what
/// clients of an IAM-authorized API use to connect. `grant_connect` gives it its one
/// permission.
fn client_role_for_account(
    stack: &mut Stack,
    path: &ConstructPath,
) -> Result<Handle<Role>, SynthError> {
    let account_root = Sub::new()
        .text("arn:")
        .var(Pseudo::Partition)
        .text(":iam::")
        .var(Pseudo::AccountId)
        .text(":root");
    let role = Role {
        assume_role_policy_document: PolicyDocument::new(vec![Statement {
            sid: None,
            effect: Effect::Allow,
            principal: Some(Principal::Aws(account_root.into())),
            action: vec!["sts:AssumeRole".into()],
            resource: Vec::new(),
            condition: None,
        }]),
        description: Some("Connects to the WebSocket API (IAM authorization on $connect)".into()),
        managed_policy_arns: Vec::new(),
        policies: Vec::new(),
    };
    stack.add(&path.child("Role"), role)
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
        connect: Connect::OPEN,
        tables: &[],
        secrets: &[],
    };

    #[test]
    fn packages_and_actions_derive_from_the_table() {
        assert_eq!(TABLE.packages(), ["gate", "send", "help"]);
        assert_eq!(TABLE.actions(), ["send"]);
    }
}
