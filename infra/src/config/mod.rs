//! Stage configuration: one YAML file per app and stage in `infra/stages/<app>/`, checked while parsing,
//! with a JSON Schema (`stage.schema.json`) for editors.

mod error;
mod stacks;
mod unique;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;

use assembly::Architecture;
use serde::{Deserialize, Serialize};

pub use error::ConfigError;
pub use values::{
    AccountId, BurstLimit, EnvironmentName, MemoryMb, RETENTION_DAYS, RateLimit, Region,
    ReservedConcurrency, RetentionDays, StackName, StageName, TimeoutSeconds,
};

/// Everything that differs between stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// The API Gateway stage name; also the file name (`dev` for `dev.yaml`).
    pub stage: StageName,
    /// The CloudFormation stack name.
    pub stack_name: StackName,
    /// The AWS region to deploy to. Authoritative: `deploy` goes elsewhere only when given
    /// `--region`, and an `AWS_REGION` that disagrees is an error.
    pub region: Region,
    /// The AWS account this stage belongs to (12 digits). When set, `deploy`, `diff` and
    /// `destroy` refuse credentials of any other account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<AccountId>,
    /// The Lambda architecture the functions are built for (`arm64` or `x86_64`).
    #[schemars(with = "values::ArchitectureSchema")]
    pub architecture: Architecture,
    pub functions: FunctionsConfig,
    pub logs: LogsConfig,
    pub throttling: ThrottlingConfig,
    /// X-Ray active tracing on every function.
    pub tracing: bool,
}

/// Settings of every function, with per-package overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionsConfig {
    pub memory_mb: MemoryMb,
    pub timeout_seconds: TimeoutSeconds,
    /// The functions' own log level (`RUST_LOG`), apart from API Gateway's execution logging
    /// (`logs.level`). `DEBUG` also logs what clients send that may be secret (the values of
    /// `$connect`'s query parameters, where browsers put tokens), source IPs and user agents.
    /// Default: `INFO`.
    #[serde(default = "FunctionLogLevel::info")]
    pub log_level: FunctionLogLevel,
    /// Reserved concurrency per function; leave out where the account can't reserve any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<ReservedConcurrency>,
    /// Per-package overrides, keyed by function package name (`echo`), each package once.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "unique::map"
    )]
    pub overrides: BTreeMap<String, FunctionOverride>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<MemoryMb>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<TimeoutSeconds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<ReservedConcurrency>,
    /// Environment variables of this function in this stage (literal strings; never
    /// secrets: they are part of the template), each name once.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "unique::map"
    )]
    pub environment: BTreeMap<EnvironmentName, String>,
}

/// The settings one function ends up with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSettings {
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub reserved_concurrency: Option<u32>,
    pub environment: BTreeMap<EnvironmentName, String>,
}

impl FunctionsConfig {
    /// Defaults with the package's overrides applied.
    pub fn for_package(&self, package: &str) -> FunctionSettings {
        let o = self.overrides.get(package).cloned().unwrap_or_default();
        FunctionSettings {
            memory_mb: o.memory_mb.unwrap_or(self.memory_mb).get(),
            timeout_seconds: o.timeout_seconds.unwrap_or(self.timeout_seconds).get(),
            reserved_concurrency: o
                .reserved_concurrency
                .or(self.reserved_concurrency)
                .map(ReservedConcurrency::get),
            environment: o.environment,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    /// Retention of function, access and execution logs.
    pub retention_days: RetentionDays,
    /// API Gateway execution logging level.
    pub level: LoggingLevel,
    /// Log full message bodies in execution logs (debugging only).
    pub data_trace: bool,
    /// Per-route CloudWatch metrics.
    pub detailed_metrics: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum LoggingLevel {
    Off,
    Error,
    Info,
}

/// A function log level, as `RUST_LOG` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum FunctionLogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl FunctionLogLevel {
    fn info() -> FunctionLogLevel {
        FunctionLogLevel::Info
    }

    /// The `RUST_LOG` value.
    pub fn directive(self) -> &'static str {
        match self {
            FunctionLogLevel::Error => "error",
            FunctionLogLevel::Warn => "warn",
            FunctionLogLevel::Info => "info",
            FunctionLogLevel::Debug => "debug",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThrottlingConfig {
    pub burst_limit: BurstLimit,
    pub rate_limit: RateLimit,
}

impl StageConfig {
    pub fn stage_name(&self) -> &str {
        self.stage.as_str()
    }

    pub fn stack_name(&self) -> &str {
        self.stack_name.as_str()
    }

    pub fn region(&self) -> &str {
        self.region.as_str()
    }

    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// Where this stage's stack goes, as its assembly records it for deploy and dev; `stage`
    /// is the stage file's name (`dev` for `dev.yaml`).
    pub fn stack_info(&self, stage: &str) -> assembly::StackInfo {
        assembly::StackInfo {
            stage: stage.to_owned(),
            stack_name: self.stack_name().to_owned(),
            region: self.region().to_owned(),
            account_id: self.account_id.as_ref().map(|a| a.as_str().to_owned()),
        }
    }

    /// Reads, parses and checks a stage file, and that no other stage file in its stages
    /// folder claims the same stack.
    pub fn load(path: &Path) -> Result<StageConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config = StageConfig::parse(&text, path)?;
        stacks::check_unique(path, &text)?;
        Ok(config)
    }

    /// Parses stage config text; `path` names it in errors, and its stem must match `stage`.
    pub fn parse(text: &str, path: &Path) -> Result<StageConfig, ConfigError> {
        let config: StageConfig =
            serde_yaml::from_str(text).map_err(|e| parse_error(e, text, path))?;
        if let Some(file_stage) = path.file_stem().and_then(|s| s.to_str())
            && file_stage != config.stage.as_str()
        {
            return Err(ConfigError::StageMismatch {
                path: path.to_owned(),
                stage: config.stage.to_string(),
                file_stage: file_stage.to_owned(),
            });
        }
        Ok(config)
    }
}

fn parse_error(error: serde_yaml::Error, text: &str, path: &Path) -> ConfigError {
    let location = error.location();
    let full = error.to_string();
    // serde_yaml appends " at line L column C": the location goes in front instead.
    let message = match full.rfind(" at line ") {
        Some(at) if location.is_some() => full[..at].to_owned(),
        _ => full,
    };
    let line = location.as_ref().map_or(0, |l| l.line());
    let column = location.as_ref().map_or(0, |l| l.column());
    let (line, column, message) = locate_value_error(text, line, column, message);
    let (line, column) = locate_duplicate(text, line, column, &message);
    let message = explain_retired(message);
    ConfigError::Parse {
        path: path.to_owned(),
        line,
        column,
        message,
    }
}

/// A value refused by its own check (`memory_mb must be …`) is reported by serde_yaml at the
/// enclosing mapping, with the mapping's path (`functions: memory_mb must be …`). This
/// points at the field's own line and gives its full path (`functions.memory_mb must be …`).
fn locate_value_error(
    text: &str,
    line: usize,
    column: usize,
    message: String,
) -> (usize, usize, String) {
    let (parent, rest) = match message.split_once(": ") {
        Some((parent, rest)) if !parent.contains(' ') => (Some(parent), rest),
        _ => (None, message.as_str()),
    };
    let Some((field, _)) = rest.split_once(" must ") else {
        return (line, column, message);
    };
    if field.is_empty() || !field.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        return (line, column, message);
    }
    let found = text
        .lines()
        .enumerate()
        .skip(line.saturating_sub(1))
        .find(|(_, l)| l.trim_start().starts_with(&format!("{field}:")));
    let Some((index, field_line)) = found else {
        return (line, column, message);
    };
    let indent = field_line.len() - field_line.trim_start().len();
    let full_path = match parent {
        Some(parent) => format!("{parent}.{field}"),
        None => field.to_owned(),
    };
    let rest = rest.replacen(field, &full_path, 1);
    (index + 1, indent + 1, rest)
}

/// A key given twice is reported at its mapping: this points at the second occurrence.
fn locate_duplicate(text: &str, line: usize, column: usize, message: &str) -> (usize, usize) {
    let Some(rest) = message.split_once(&format!("{} `", unique::DUPLICATE)) else {
        return (line, column);
    };
    let Some((key, _)) = rest.1.split_once('`') else {
        return (line, column);
    };
    let second = text
        .lines()
        .enumerate()
        .skip(line.saturating_sub(1))
        .filter(|(_, l)| l.trim_start().starts_with(&format!("{key}:")))
        .nth(1);
    match second {
        Some((index, l)) => (index + 1, l.len() - l.trim_start().len() + 1),
        None => (line, column),
    }
}

/// Fields that once existed: say where their job went instead of only "unknown field".
fn explain_retired(message: String) -> String {
    if message.contains("unknown field `account_cloudwatch_role`") {
        return "account_cloudwatch_role is no longer a stage setting: the API Gateway CloudWatch \
                role is one per account and region, so it belongs to the toolkit stack \
                (`cargo xtask bootstrap` sets it when the account has none, and leaves a working \
                one alone); delete this line"
            .to_owned();
    }
    message
}

/// The folder of the stage files (`infra/stages`): one folder per app, and the schema.
pub fn stages_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("stages")
}

/// The config file of an app's stage: `infra/stages/<app>/<stage>.yaml`.
pub fn stage_file(app: &str, stage: &str) -> PathBuf {
    stages_dir().join(app).join(format!("{stage}.yaml"))
}

/// Every stage file of an app, sorted by name.
pub fn stage_files(app: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(stages_dir().join(app))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The checked-in schema's path.
pub fn schema_file() -> PathBuf {
    stages_dir().join("stage.schema.json")
}

/// The JSON Schema of stage files, as `cargo xtask codegen` writes it (with a trailing newline).
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(StageConfig);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}
