//! A WebSocket stage with access logs, execution logging and throttling.
//!
//! Deployment: `AutoDeploy: true`, and the stage `DependsOn` every route (added by
//! `WebSocketApi::add_route`). AutoDeploy redeploys whenever a route or integration changes,
//! which a hand-written `AWS::ApiGatewayV2::Deployment` does not (its properties don't change
//! when routes do, so CloudFormation never replaces it). The `DependsOn` makes the first
//! automatic deployment happen after the routes exist ("At least one route is required").

use std::collections::BTreeMap;

use crate::constructs::log_group;
use crate::error::SynthError;
use crate::intrinsics::{Handle, Sub, attr};
use crate::path::ConstructPath;
use crate::resources::apigatewayv2::{AccessLogSettings, Api, LoggingLevel, RouteSettings, Stage};
use crate::resources::logs::LogGroup;
use crate::stack::Stack;

#[derive(Debug, Clone)]
pub struct StageProps {
    pub stage_name: String,
    /// Retention of the access and execution logs.
    pub log_retention_days: u32,
    pub logging_level: LoggingLevel,
    pub data_trace: bool,
    pub detailed_metrics: bool,
    /// `None`: the account's limit.
    pub throttling_burst_limit: Option<u32>,
    /// `None`: the account's limit.
    pub throttling_rate_limit: Option<f64>,
}

impl StageProps {
    /// A stage with CloudFormation's defaults (no execution logging, no data trace, no
    /// detailed metrics, the account's throttling) and logs kept for
    /// [`log_group::DEFAULT_RETENTION_DAYS`].
    pub fn new(stage_name: impl Into<String>) -> StageProps {
        StageProps {
            stage_name: stage_name.into(),
            log_retention_days: log_group::DEFAULT_RETENTION_DAYS,
            logging_level: LoggingLevel::Off,
            data_trace: false,
            detailed_metrics: false,
            throttling_burst_limit: None,
            throttling_rate_limit: None,
        }
    }
}

pub struct WebSocketStage {
    path: ConstructPath,
    name: String,
    pub stage: Handle<Stage>,
    pub access_logs: Handle<LogGroup>,
    pub execution_logs: Option<Handle<LogGroup>>,
}

/// What each access log line holds: one JSON object per request or message.
pub fn access_log_format() -> String {
    let fields: BTreeMap<&str, &str> = [
        ("requestId", "$context.requestId"),
        ("extendedRequestId", "$context.extendedRequestId"),
        ("connectionId", "$context.connectionId"),
        ("routeKey", "$context.routeKey"),
        ("eventType", "$context.eventType"),
        ("messageDirection", "$context.messageDirection"),
        ("status", "$context.status"),
        ("requestTime", "$context.requestTimeEpoch"),
        ("sourceIp", "$context.identity.sourceIp"),
        ("integrationStatus", "$context.integration.status"),
        ("integrationError", "$context.integration.error"),
        ("integrationLatency", "$context.integration.latency"),
        ("errorMessage", "$context.error.message"),
    ]
    .into_iter()
    .collect();
    serde_json::to_string(&fields).expect("a map of strings serializes")
}

impl WebSocketStage {
    /// Adds `<Api>Stage`, `<Api>StageAccessLogs` and, when execution logging is on,
    /// `<Api>StageExecutionLogs` (the group API Gateway would otherwise create without retention).
    pub fn new(
        stack: &mut Stack,
        api_path: &ConstructPath,
        api: &Handle<Api>,
        props: &StageProps,
    ) -> Result<WebSocketStage, SynthError> {
        let path = api_path.child("Stage");
        let access_logs = stack.add(
            &path.child("AccessLogs"),
            LogGroup {
                log_group_name: None,
                retention_in_days: props.log_retention_days,
            },
        )?;
        log_group::skip_checks(stack, &access_logs)?;

        let execution_logs = if props.logging_level == LoggingLevel::Off {
            None
        } else {
            // API Gateway writes execution logs to this fixed name; created here, it gets
            // the stage's retention instead of "never expire".
            let name = Sub::new()
                .text("API-Gateway-Execution-Logs_")
                .var(api.reference())
                .text(&format!("/{}", props.stage_name));
            let group = stack.add(
                &path.child("ExecutionLogs"),
                LogGroup {
                    log_group_name: Some(name.into()),
                    retention_in_days: props.log_retention_days,
                },
            )?;
            log_group::skip_checks(stack, &group)?;
            Some(group)
        };

        let stage = stack.add(
            &path,
            Stage {
                access_log_settings: Some(AccessLogSettings {
                    destination_arn: access_logs.get_att(attr::Arn),
                    format: access_log_format(),
                }),
                api_id: api.reference(),
                auto_deploy: Some(true),
                default_route_settings: Some(RouteSettings {
                    data_trace_enabled: props.data_trace,
                    detailed_metrics_enabled: props.detailed_metrics,
                    logging_level: props.logging_level,
                    throttling_burst_limit: props.throttling_burst_limit,
                    throttling_rate_limit: props.throttling_rate_limit,
                }),
                deployment_id: None,
                description: Some(format!("The {} stage", props.stage_name)),
                stage_name: props.stage_name.clone(),
            },
        )?;
        if props.logging_level != LoggingLevel::Off && props.data_trace {
            stack.warn(
                &path,
                "data trace logs full message bodies to CloudWatch; keep it off where messages may hold personal data",
            );
        }
        if let Some(group) = &execution_logs {
            // Created before the stage logs anything, or API Gateway creates it first and
            // CloudFormation fails with "already exists".
            stack.add_dependency(&stage, group)?;
        }
        Ok(WebSocketStage {
            path,
            name: props.stage_name.clone(),
            stage,
            access_logs,
            execution_logs,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> &ConstructPath {
        &self.path
    }
}
