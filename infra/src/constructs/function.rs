//! A Lambda function with its role, its log group (with retention) and its grants.

use std::collections::BTreeMap;

use crate::constructs::log_group;
use crate::error::SynthError;
use crate::intrinsics::{Expr, Handle, Ref, attr};
use crate::path::ConstructPath;
use crate::resources::iam::{InlinePolicy, PolicyDocument, Role, Statement, aws_managed_policy};
use crate::resources::lambda::{
    Code, Environment, Function, LoggingConfig, Runtime, TracingConfig, TracingMode,
};
use crate::resources::logs::LogGroup;
use crate::stack::Stack;
use crate::template::Param;
use crate::validate;
use assembly::AssetManifest;

/// Where function code comes from: the manifest's zips in the assets bucket.
pub struct Assets<'a> {
    pub manifest: &'a AssetManifest,
    pub bucket: Ref<Param>,
}

#[derive(Debug, Clone)]
pub struct FunctionProps {
    /// The function crate's package name, as in the asset manifest.
    pub package: String,
    /// The deployed function name (also names the log group `/aws/lambda/<name>`); `None`
    /// lets CloudFormation name both.
    pub function_name: Option<String>,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub reserved_concurrency: Option<u32>,
    pub log_retention_days: u32,
    /// X-Ray active tracing.
    pub tracing: bool,
    pub environment: BTreeMap<String, Expr>,
}

impl FunctionProps {
    /// The function crate `package` with Lambda's defaults (128 MB, 3 s, no reserved
    /// concurrency, no tracing, no environment) and logs kept for
    /// [`log_group::DEFAULT_RETENTION_DAYS`].
    pub fn new(package: impl Into<String>) -> FunctionProps {
        FunctionProps {
            package: package.into(),
            function_name: None,
            memory_mb: 128,
            timeout_seconds: 3,
            reserved_concurrency: None,
            log_retention_days: log_group::DEFAULT_RETENTION_DAYS,
            tracing: false,
            environment: BTreeMap::new(),
        }
    }
}

pub struct LambdaFunction {
    path: ConstructPath,
    pub function: Handle<Function>,
    pub role: Handle<Role>,
    pub log_group: Handle<LogGroup>,
}

impl LambdaFunction {
    /// Adds `<Id>Function`, `<Id>FunctionRole` and `<Id>FunctionLogGroup` in `scope`.
    pub fn new(
        stack: &mut Stack,
        scope: &ConstructPath,
        id: &str,
        assets: &Assets<'_>,
        props: FunctionProps,
    ) -> Result<LambdaFunction, SynthError> {
        let path = scope.child(id).child("Function");
        let asset =
            assets
                .manifest
                .function(&props.package)
                .ok_or_else(|| SynthError::UnknownPackage {
                    path: path.to_string(),
                    package: props.package.clone(),
                    known: known_packages(assets.manifest),
                })?;
        if asset.architecture != assets.manifest.architecture {
            return Err(SynthError::MixedArchitectures {
                package: asset.package.clone(),
                manifest: assets.manifest.architecture.to_string(),
                asset: asset.architecture.to_string(),
            });
        }
        if let Some(name) = &props.function_name {
            validate::function_name(&path, name)?;
        }

        let log_group = stack.add(
            &path.child("LogGroup"),
            LogGroup {
                log_group_name: props
                    .function_name
                    .as_ref()
                    .map(|name| format!("/aws/lambda/{name}").into()),
                retention_in_days: props.log_retention_days,
            },
        )?;
        log_group::skip_checks(stack, &log_group)?;

        // Least privilege for logs: write to this function's group only. The managed
        // AWSLambdaBasicExecutionRole would also allow logs:CreateLogGroup on `*`, which lets
        // Lambda recreate a deleted group without retention.
        let mut role = Role::for_service("lambda.amazonaws.com");
        role.description = Some(format!("Runs the {} function", props.package));
        role.policies.push(InlinePolicy {
            policy_name: "WriteLogs".into(),
            policy_document: PolicyDocument::new(vec![Statement::allow(
                &["logs:CreateLogStream", "logs:PutLogEvents"],
                vec![log_group.get_att(attr::Arn).into()],
            )]),
        });
        if props.tracing {
            role.managed_policy_arns = vec![aws_managed_policy("AWSXRayDaemonWriteAccess")];
        }
        let role = stack.add(&path.child("Role"), role)?;

        let function = stack.add(
            &path,
            Function {
                architectures: vec![asset.architecture],
                code: Code {
                    s3_bucket: assets.bucket.clone(),
                    s3_key: asset.s3_key(),
                },
                description: Some(format!("wsecho {} function", props.package)),
                environment: (!props.environment.is_empty()).then(|| Environment {
                    variables: props.environment.clone(),
                }),
                function_name: props.function_name.clone(),
                handler: "bootstrap".into(),
                logging_config: Some(LoggingConfig {
                    log_group: log_group.reference(),
                }),
                memory_size: props.memory_mb,
                reserved_concurrent_executions: props.reserved_concurrency,
                role: role.get_att(attr::Arn),
                runtime: Runtime::ProvidedAl2023,
                timeout: props.timeout_seconds,
                tracing_config: props.tracing.then_some(TracingConfig {
                    mode: TracingMode::Active,
                }),
            },
        )?;
        stack.set_package(&function, &props.package)?;
        skip_function_checks(stack, &function, props.reserved_concurrency.is_none())?;

        Ok(LambdaFunction {
            path,
            function,
            role,
            log_group,
        })
    }

    pub fn path(&self) -> &ConstructPath {
        &self.path
    }

    /// Adds an inline policy to the function's role.
    pub fn add_policy(&self, stack: &mut Stack, policy: InlinePolicy) -> Result<(), SynthError> {
        let role = stack.get_mut(&self.role)?;
        if let Some(existing) = role
            .policies
            .iter_mut()
            .find(|p| p.policy_name == policy.policy_name)
        {
            existing
                .policy_document
                .statement
                .extend(policy.policy_document.statement);
        } else {
            role.policies.push(policy);
        }
        Ok(())
    }
}

fn known_packages(manifest: &AssetManifest) -> String {
    let names: Vec<&str> = manifest
        .functions
        .iter()
        .map(|f| f.package.as_str())
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// checkov findings that don't apply to a WebSocket backend function, with the reasons.
fn skip_function_checks(
    stack: &mut Stack,
    function: &Handle<Function>,
    no_reserved_concurrency: bool,
) -> Result<(), SynthError> {
    stack.skip_checkov(
        function,
        "CKV_AWS_116",
        "API Gateway invokes the function synchronously; a DLQ only receives failed asynchronous invocations",
    )?;
    stack.skip_checkov(
        function,
        "CKV_AWS_117",
        "the function reaches only public AWS endpoints (the API Gateway management API); a VPC would add NAT cost and cold-start latency for nothing",
    )?;
    stack.skip_checkov(
        function,
        "CKV_AWS_173",
        "the environment holds no secrets (stage name, log level); Lambda encrypts it at rest with an AWS-owned key",
    )?;
    if no_reserved_concurrency {
        stack.skip_checkov(
            function,
            "CKV_AWS_115",
            "this stage sets no reserved concurrency (functions.reserved_concurrency in its config): new accounts have a concurrency quota of 10 and cannot reserve any",
        )?;
    }
    Ok(())
}
