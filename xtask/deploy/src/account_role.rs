//! The account's API Gateway CloudWatch role: one setting per account and region
//! (`apigateway get-account`), through which every API there writes its execution logs,
//! other teams' included.
//!
//! The toolkit stack holds a role for it (`ApiGatewayCloudWatchRole`, retained) and the
//! setting (`ApiGatewayAccount`, retained). `bootstrap` reads the setting first and points it
//! at the toolkit's role only when there is none or the role it names no longer exists: a
//! working role of someone else's is left alone, and the setting is then left out of the
//! toolkit stack. `deploy` checks a stage that logs finds a working role, since API Gateway
//! refuses such a stage otherwise. Nothing here ever deletes the role or
//! resets the setting.

use serde_json::Value;

use crate::Result;
use crate::aws::Aws;

/// The toolkit template's role and account setting.
pub const ROLE_ID: &str = "ApiGatewayCloudWatchRole";
pub const ACCOUNT_ID: &str = "ApiGatewayAccount";

/// Whether the role an ARN names is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existence {
    Exists,
    Gone,
    /// It could not be checked (another account's role, or no permission to look).
    Unknown(String),
}

/// What `bootstrap` does about the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// No role, or one that no longer exists: the toolkit's own is set.
    SetOurs { why: String },
    /// The setting already names the toolkit's role.
    KeepOurs,
    /// A working role of someone else's, or one that could not be checked: left alone, and
    /// the setting left out of the toolkit stack.
    LeaveAlone { arn: String, why: String },
}

impl Plan {
    /// Whether the toolkit stack holds the setting.
    pub fn sets_account(&self) -> bool {
        !matches!(self, Plan::LeaveAlone { .. })
    }

    /// One line for the user.
    pub fn describe(&self) -> String {
        match self {
            Plan::SetOurs { why } => format!("{why}: the toolkit stack sets its own role"),
            Plan::KeepOurs => "API Gateway logs through the toolkit stack's role".to_owned(),
            Plan::LeaveAlone { arn, why } => format!("the account's role is {arn}: {why}"),
        }
    }
}

/// The role name an IAM role ARN ends with (`arn:aws:iam::1:role/path/name` → `name`).
fn role_name(arn: &str) -> Option<&str> {
    let (_, path) = arn.split_once(":role/")?;
    path.rsplit('/').next().filter(|n| !n.is_empty())
}

/// The account an ARN belongs to (`arn:aws:iam::123456789012:role/x` → `123456789012`).
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The decision, from what the account's setting names (`current`), whether that role is
/// there, and the toolkit's own role name (`ours`, once the toolkit has one).
pub fn decide(current: Option<&str>, existence: &Existence, ours: Option<&str>) -> Plan {
    let Some(arn) = current else {
        return Plan::SetOurs {
            why: "the account has no API Gateway CloudWatch role in this region".into(),
        };
    };
    if ours.is_some() && role_name(arn) == ours {
        return Plan::KeepOurs;
    }
    match existence {
        Existence::Gone => Plan::SetOurs {
            why: format!("the account's API Gateway CloudWatch role {arn} no longer exists"),
        },
        Existence::Exists => Plan::LeaveAlone {
            arn: arn.to_owned(),
            why: "it is not the toolkit's, and it exists: left alone".into(),
        },
        Existence::Unknown(reason) => Plan::LeaveAlone {
            arn: arn.to_owned(),
            why: format!("it could not be checked ({reason}), so it is left alone"),
        },
    }
}

/// The role the account's setting names, if any.
pub fn current(aws: &Aws) -> Result<Option<String>> {
    let account = aws.call("apigateway", "get-account", &[] as &[&str])?;
    Ok(account
        .get("cloudwatchRoleArn")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        .map(str::to_owned))
}

/// Whether the role `arn` names exists, asked of IAM in `account` (the credentials').
pub fn existence(aws: &Aws, arn: &str, account: &str) -> Existence {
    let Some(name) = role_name(arn) else {
        return Existence::Unknown(format!("{arn} is not a role ARN"));
    };
    if arn_account(arn) != Some(account) {
        return Existence::Unknown(format!("a role of another account than {account}"));
    }
    match aws.call("iam", "get-role", &["--role-name", name]) {
        Ok(_) => Existence::Exists,
        Err(e) if e.code() == Some("NoSuchEntity") => Existence::Gone,
        Err(e) => Existence::Unknown(e.message().to_owned()),
    }
}

/// Why the account has no working role, or `None` when it has one (or one that could not
/// be checked: the deploy then finds out).
pub fn missing(aws: &Aws, account: &str) -> Result<Option<String>> {
    let Some(arn) = current(aws)? else {
        return Ok(Some(
            "its API Gateway settings name no CloudWatch role".into(),
        ));
    };
    Ok(match existence(aws, &arn, account) {
        Existence::Gone => Some(format!(
            "its API Gateway settings name the role {arn}, which no longer exists"
        )),
        Existence::Exists => None,
        Existence::Unknown(why) => {
            eprintln!(
                "[deploy] warning: could not check the account's API Gateway CloudWatch role \
                 {arn} ({why}); deploying anyway"
            );
            None
        }
    })
}

/// What in a template needs the account's role, e.g. `LoggingLevel INFO on WsEchoStage`;
/// `None` when nothing does. For WebSocket (and REST) APIs, API Gateway writes both execution
/// and access logs through the account's role and refuses a stage that logs without one
/// ("CloudWatch Logs role ARN must be set in account settings to enable logging"); HTTP APIs,
/// which have no such stage settings, don't need it.
pub fn logging(template: &Value) -> Option<String> {
    let resources = template.get("Resources").and_then(Value::as_object)?;
    for (id, resource) in resources {
        let ty = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        if !matches!(ty, "AWS::ApiGatewayV2::Stage" | "AWS::ApiGateway::Stage") {
            continue;
        }
        let properties = resource.get("Properties");
        let defaults = properties.and_then(|p| p.get("DefaultRouteSettings"));
        let routes = properties
            .and_then(|p| p.get("RouteSettings"))
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|r| r.values());
        let methods = properties
            .and_then(|p| p.get("MethodSettings"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        if properties
            .and_then(|p| p.get("AccessLogSettings"))
            .is_some()
        {
            return Some(format!("access logging on {id}"));
        }
        for settings in defaults.into_iter().chain(routes).chain(methods) {
            let level = settings.get("LoggingLevel").and_then(Value::as_str);
            if let Some(level @ ("ERROR" | "INFO")) = level {
                return Some(format!("LoggingLevel {level} on {id}"));
            }
            if settings.get("DataTraceEnabled") == Some(&Value::Bool(true)) {
                return Some(format!("DataTraceEnabled on {id}"));
            }
        }
    }
    None
}

/// The toolkit stack's role name, or `None` when it has none yet.
pub fn ours(aws: &Aws) -> Result<Option<String>> {
    crate::toolkit::physical_id(aws, ROLE_ID)
}

/// Points the account's setting at `role_arn` (for a setting changed behind the toolkit
/// stack's back, which CloudFormation won't redo while the template is unchanged).
pub fn set(aws: &Aws, role_arn: &str) -> Result<()> {
    aws.call(
        "apigateway",
        "update-account",
        &[
            "--patch-operations",
            &format!("op=replace,path=/cloudwatchRoleArn,value={role_arn}"),
        ],
    )?;
    Ok(())
}

/// A role's ARN from its name.
pub fn arn_of(aws: &Aws, role: &str) -> Result<String> {
    let v = aws.call("iam", "get-role", &["--role-name", role])?;
    v.pointer("/Role/Arn")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| crate::Error::UnexpectedAnswer(format!("iam get-role gave no Arn: {v}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const OTHER: &str = "arn:aws:iam::123456789012:role/team/other-logs";
    const OURS: &str = "arn:aws:iam::123456789012:role/wsecho-toolkit-ApiGatewayCloudWatchRole-X";

    #[test]
    fn ours_is_set_only_where_there_is_none_or_it_is_gone() {
        let ours = Some("wsecho-toolkit-ApiGatewayCloudWatchRole-X");
        assert!(matches!(
            decide(None, &Existence::Unknown(String::new()), ours),
            Plan::SetOurs { .. }
        ));
        assert!(matches!(
            decide(None, &Existence::Unknown(String::new()), None),
            Plan::SetOurs { .. }
        ));
        assert!(
            matches!(decide(Some(OTHER), &Existence::Gone, ours), Plan::SetOurs { why } if why.contains("no longer exists"))
        );
        assert_eq!(
            decide(Some(OTHER), &Existence::Exists, ours),
            Plan::LeaveAlone {
                arn: OTHER.into(),
                why: "it is not the toolkit's, and it exists: left alone".into()
            }
        );
        assert!(matches!(
            decide(
                Some(OTHER),
                &Existence::Unknown("AccessDenied".into()),
                ours
            ),
            Plan::LeaveAlone { .. }
        ));
        assert_eq!(decide(Some(OURS), &Existence::Exists, ours), Plan::KeepOurs);
        assert!(!decide(Some(OTHER), &Existence::Exists, ours).sets_account());
        assert!(decide(Some(OURS), &Existence::Exists, ours).sets_account());
    }

    #[test]
    fn arns_give_their_role_name_and_account() {
        assert_eq!(role_name(OTHER), Some("other-logs"));
        assert_eq!(role_name("arn:aws:iam::1:role/plain"), Some("plain"));
        assert_eq!(role_name("arn:aws:iam::1:user/x"), None);
        assert_eq!(arn_account(OTHER), Some("123456789012"));
    }

    #[test]
    fn logging_is_a_level_data_trace_or_access_logs_on_any_stage() {
        let stage = |settings: Value| {
            json!({"Resources": {"S": {"Type": "AWS::ApiGatewayV2::Stage",
                "Properties": {"DefaultRouteSettings": settings}}}})
        };
        assert_eq!(
            logging(&stage(json!({"LoggingLevel": "INFO"}))).as_deref(),
            Some("LoggingLevel INFO on S")
        );
        assert!(logging(&stage(json!({"LoggingLevel": "ERROR"}))).is_some());
        assert!(logging(&stage(json!({"LoggingLevel": "OFF"}))).is_none());
        assert!(logging(&stage(json!({"DataTraceEnabled": true}))).is_some());
        let per_route = json!({"Resources": {"S": {"Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"RouteSettings": {"echo": {"LoggingLevel": "INFO"}}}}}});
        assert!(logging(&per_route).is_some());
        let access = json!({"Resources": {"S": {"Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"AccessLogSettings": {"DestinationArn": "x"},
                "DefaultRouteSettings": {"LoggingLevel": "OFF"}}}}});
        assert_eq!(logging(&access).as_deref(), Some("access logging on S"));
        let quiet = json!({"Resources": {"S": {"Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"DefaultRouteSettings": {"LoggingLevel": "OFF"}}}}});
        assert!(logging(&quiet).is_none());
    }
}
