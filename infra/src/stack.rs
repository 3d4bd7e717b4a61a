//! The wsEcho stack (and the toolkit stack holding the assets bucket).

use std::collections::BTreeMap;

use crate::config::{LoggingLevel as ConfigLoggingLevel, StageConfig};
use crate::construct::{Stack, Synthesized};
use crate::constructs::account::ApiGatewayAccount;
use crate::constructs::function::{Assets, FunctionProps, LambdaFunction};
use crate::constructs::stage::StageProps;
use crate::constructs::websocket_api::{RouteOptions, WebSocketApi, WebSocketApiProps};
use crate::error::SynthError;
use crate::intrinsics::{Expr, Pseudo, Sub, attr};
use crate::resources::apigatewayv2::LoggingLevel;
use crate::resources::iam::{Effect, PolicyDocument, Principal, Statement};
use crate::resources::s3::{
    AbortIncompleteMultipartUpload, Bucket, BucketEncryption, BucketPolicy, LifecycleConfiguration,
    LifecycleRule, NoncurrentVersionExpiration, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, RuleStatus, VersioningConfiguration,
    VersioningStatus,
};
use crate::template::{Output, Parameter, ParameterType};
use assembly::AssetManifest;

/// The template parameter naming the bucket that holds the function zips.
pub const ASSETS_BUCKET_PARAMETER: &str = "AssetsBucket";

/// API Gateway gives up on an integration after 29 seconds.
const INTEGRATION_TIMEOUT_SECONDS: u32 = 29;

/// The routes: route key → (construct name, function package).
const ROUTES: [(&str, &str, &str); 4] = [
    ("$connect", "Connect", "connect"),
    ("$disconnect", "Disconnect", "disconnect"),
    ("$default", "Default", "default"),
    ("echo", "Echo", "echo"),
];

/// Packages whose functions post back to clients through the management API.
const POSTS_BACK: [&str; 2] = ["default", "echo"];

/// Synthesizes the wsEcho stack for a stage.
pub fn ws_echo(config: &StageConfig, manifest: &AssetManifest) -> Result<Synthesized, SynthError> {
    let mut stack = Stack::new(config.stack_name.as_str());
    stack.set_description("wsEcho: echo websocket information (API Gateway WebSocket + Lambda)");

    for package in config.functions.overrides.keys() {
        if !ROUTES.iter().any(|(_, _, p)| p == package) {
            return Err(SynthError::UnknownPackage {
                path: format!(
                    "stage config `{}`: functions.overrides.{package}",
                    config.stage
                ),
                package: package.clone(),
                known: ROUTES.map(|(_, _, p)| p).join(", "),
            });
        }
    }

    let bucket = stack.add_parameter(
        &stack.root().child(ASSETS_BUCKET_PARAMETER),
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
        Some(ApiGatewayAccount::new(&mut stack)?)
    } else {
        None
    };

    let logging_level = match config.logs.level {
        ConfigLoggingLevel::Off => LoggingLevel::Off,
        ConfigLoggingLevel::Error => LoggingLevel::Error,
        ConfigLoggingLevel::Info => LoggingLevel::Info,
    };
    let mut api = WebSocketApi::new(
        &mut stack,
        "WsEcho",
        WebSocketApiProps {
            name: "wsEcho".into(),
            description: Some("echo websocket information".into()),
            route_selection_expression: "$request.body.action".into(),
            stage: StageProps {
                stage_name: config.stage.to_string(),
                log_retention_days: config.logs.retention_days.get(),
                logging_level,
                data_trace: config.logs.data_trace,
                detailed_metrics: config.logs.detailed_metrics,
                throttling_burst_limit: config.throttling.burst_limit.get(),
                throttling_rate_limit: config.throttling.rate_limit.get(),
            },
        },
    )?;
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
    let mut outputs = Vec::new();
    for (route_key, name, package) in ROUTES {
        let settings = config.functions.for_package(package);
        let function = LambdaFunction::new(
            &mut stack,
            name,
            &assets,
            FunctionProps {
                package: package.into(),
                function_name: format!("{}-{package}", config.stack_name),
                memory_mb: settings.memory_mb,
                timeout_seconds: settings.timeout_seconds,
                reserved_concurrency: settings.reserved_concurrency,
                log_retention_days: config.logs.retention_days.get(),
                tracing: config.tracing,
                environment: BTreeMap::from([
                    ("RUST_LOG".to_owned(), Expr::literal(log_level)),
                    (
                        "WSECHO_STAGE".to_owned(),
                        Expr::literal(config.stage.as_str()),
                    ),
                ]),
            },
        )?;
        if settings.timeout_seconds > INTEGRATION_TIMEOUT_SECONDS {
            stack.warn(
                function.path(),
                format!(
                    "timeout {} s is longer than API Gateway's {INTEGRATION_TIMEOUT_SECONDS} s integration timeout: the client gets an error while the function keeps running; lower timeout_seconds",
                    settings.timeout_seconds
                ),
            );
        }
        api.add_route(&mut stack, route_key, &function, RouteOptions::default())?;
        if POSTS_BACK.contains(&package) {
            api.grant_manage_connections(&mut stack, &function)?;
        }
        outputs.push((
            format!("{name}FunctionName"),
            format!("Name of the {package} function"),
            Expr::from(function.function.reference()),
        ));
    }

    let root = stack.root();
    stack.add_output(
        &root.child("WebSocketUrl"),
        Output {
            description: "wss:// URL clients connect to".into(),
            value: api.url(),
        },
    )?;
    stack.add_output(
        &root.child("CallbackUrl"),
        Output {
            description: "https:// base URL of the @connections management API".into(),
            value: api.callback_url(),
        },
    )?;
    stack.add_output(
        &root.child("ApiId"),
        Output {
            description: "The WebSocket API's id".into(),
            value: api.api.reference().into(),
        },
    )?;
    stack.add_output(
        &root.child("StageName"),
        Output {
            description: "The API stage".into(),
            value: Expr::literal(config.stage.as_str()),
        },
    )?;
    for (name, description, value) in outputs {
        stack.add_output(&root.child(&name), Output { description, value })?;
    }
    api.finish(&mut stack)?;
    stack.synth()
}

/// The toolkit stack: the private, encrypted, TLS-only bucket that `deploy` uploads zips to.
pub fn toolkit(stack_name: &str) -> Result<Synthesized, SynthError> {
    let mut stack = Stack::new(stack_name);
    stack.set_description("wsecho toolkit: the assets bucket deploys upload function zips to");
    let root = stack.root();
    let bucket = stack.add(
        &root.child("AssetsBucket"),
        Bucket {
            bucket_encryption: BucketEncryption::s3_managed(),
            lifecycle_configuration: Some(LifecycleConfiguration {
                rules: vec![LifecycleRule {
                    id: "CleanUp".into(),
                    status: RuleStatus::Enabled,
                    abort_incomplete_multipart_upload: Some(AbortIncompleteMultipartUpload {
                        days_after_initiation: 1,
                    }),
                    noncurrent_version_expiration: Some(NoncurrentVersionExpiration {
                        noncurrent_days: 30,
                    }),
                }],
            }),
            ownership_controls: Some(OwnershipControls {
                rules: vec![OwnershipControlsRule {
                    object_ownership: ObjectOwnership::BucketOwnerEnforced,
                }],
            }),
            public_access_block_configuration: PublicAccessBlockConfiguration::all_blocked(),
            versioning_configuration: Some(VersioningConfiguration {
                status: VersioningStatus::Enabled,
            }),
        },
    )?;
    stack.set_removal_policy(&bucket, crate::template::RemovalPolicy::Retain)?;
    stack.skip_checkov(
        &bucket,
        "CKV_AWS_18",
        "holds build artifacts only, written by deploys; access logs would need a second bucket (and its own logging) for no audit value CloudTrail does not already give",
    )?;
    let mut tls_only = Statement::allow(
        &["s3:*"],
        vec![
            bucket.get_att(attr::Arn).into(),
            Sub::new().var(bucket.get_att(attr::Arn)).text("/*").into(),
        ],
    );
    tls_only.sid = Some("DenyInsecureTransport".into());
    tls_only.effect = Effect::Deny;
    tls_only.principal = Some(Principal::Aws("*".into()));
    tls_only.condition = Some(BTreeMap::from([(
        "Bool".to_owned(),
        BTreeMap::from([("aws:SecureTransport".to_owned(), "false".to_owned())]),
    )]));
    stack.add(
        &root.child("AssetsBucketPolicy"),
        BucketPolicy {
            bucket: bucket.reference(),
            policy_document: PolicyDocument::new(vec![tls_only]),
        },
    )?;
    stack.add_output(
        &root.child("AssetsBucketName"),
        Output {
            description: "Pass as the AssetsBucket parameter of the wsEcho stack".into(),
            value: bucket.reference().into(),
        },
    )?;
    stack.add_output(
        &root.child("AssetsBucketRegion"),
        Output {
            description: "Region of the assets bucket".into(),
            value: Pseudo::Region.into(),
        },
    )?;
    stack.synth()
}
