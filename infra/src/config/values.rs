//! Validated config values: each checks itself while parsing, so serde_yaml's error names
//! the field, line and column, and the message says what is allowed.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

macro_rules! bounded_u32 {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:expr, $max:expr, $why:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "u32", into = "u32")]
        pub struct $name(u32);

        impl $name {
            pub const MIN: u32 = $min;
            pub const MAX: u32 = $max;
            pub fn get(self) -> u32 {
                self.0
            }
        }

        impl TryFrom<u32> for $name {
            type Error = String;
            fn try_from(value: u32) -> Result<Self, String> {
                if ($min..=$max).contains(&value) {
                    Ok($name(value))
                } else {
                    Err(format!(
                        "{} must be between {} and {} ({}); got {value}",
                        $field, $min, $max, $why
                    ))
                }
            }
        }

        impl From<$name> for u32 {
            fn from(value: $name) -> u32 {
                value.0
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "integer",
                    "minimum": $min,
                    "maximum": $max,
                    "description": $why,
                })
            }
        }
    };
}

bounded_u32!(
    /// Function memory in MB.
    MemoryMb,
    "memory_mb",
    128,
    10240,
    "Lambda's memory range, in MB"
);
bounded_u32!(
    /// Function timeout in seconds.
    TimeoutSeconds,
    "timeout_seconds",
    1,
    900,
    "Lambda's timeout range, in seconds; API Gateway stops waiting after 29"
);
bounded_u32!(
    /// Reserved concurrent executions of a function.
    ReservedConcurrency,
    "reserved_concurrency",
    1,
    10000,
    "at least 1 (0 would disable the function) and within the account's concurrency quota"
);
bounded_u32!(
    /// Stage-wide burst limit in requests.
    BurstLimit,
    "burst_limit",
    1,
    5000,
    "0 would answer every request with 429 Too Many Requests; API Gateway's default account burst quota is 5000"
);

/// The retention periods CloudWatch Logs accepts, in days.
pub const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Log retention in days: one of the values CloudWatch Logs accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct RetentionDays(u32);

impl RetentionDays {
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for RetentionDays {
    type Error = String;
    fn try_from(value: u32) -> Result<Self, String> {
        if RETENTION_DAYS.contains(&value) {
            return Ok(RetentionDays(value));
        }
        let list: Vec<String> = RETENTION_DAYS.iter().map(u32::to_string).collect();
        Err(format!(
            "retention_days must be one of CloudWatch Logs' values: {}; got {value}",
            list.join(", ")
        ))
    }
}

impl From<RetentionDays> for u32 {
    fn from(value: RetentionDays) -> u32 {
        value.0
    }
}

impl JsonSchema for RetentionDays {
    fn schema_name() -> Cow<'static, str> {
        "RetentionDays".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "enum": RETENTION_DAYS,
            "description": "A retention period CloudWatch Logs accepts, in days",
        })
    }
}

/// Steady-state request rate per second of a stage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct RateLimit(f64);

impl RateLimit {
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for RateLimit {
    type Error = String;
    fn try_from(value: f64) -> Result<Self, String> {
        // 0 passes CloudFormation and then throttles every request (429): refused here.
        if value.is_finite() && value > 0.0 && value <= 10000.0 {
            Ok(RateLimit(value))
        } else {
            Err(format!(
                "rate_limit must be more than 0 and at most 10000 requests per second (0 would answer every request with 429 Too Many Requests; 10000 is API Gateway's default account quota); got {value}"
            ))
        }
    }
}

impl From<RateLimit> for f64 {
    fn from(value: RateLimit) -> f64 {
        value.0
    }
}

impl JsonSchema for RateLimit {
    fn schema_name() -> Cow<'static, str> {
        "RateLimit".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 10000,
            "description": "Requests per second, more than 0 (0 throttles every request); API Gateway's default account quota is 10000",
        })
    }
}

macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $pattern:literal, $check:expr, $message:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                let check: fn(&str) -> bool = $check;
                if check(&value) {
                    Ok($name(value))
                } else {
                    Err(format!(concat!($message, "; got `{}`"), value))
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": $message,
                })
            }
        }
    };
}

checked_string!(
    /// An API Gateway stage name.
    StageName,
    "^[A-Za-z0-9_-]{1,128}$",
    |s| (1..=128).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
    "stage must be 1 to 128 letters, digits, `_` or `-` (API Gateway's stage name rule)"
);

checked_string!(
    /// A CloudFormation stack name.
    StackName,
    "^[A-Za-z][A-Za-z0-9-]{0,127}$",
    |s| s.len() <= 128
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
    "stack_name must start with a letter and have at most 128 letters, digits or `-` (CloudFormation's rule)"
);

checked_string!(
    /// An AWS region code.
    Region,
    "^[a-z]{2}(-[a-z]+)+-[0-9]+$",
    |s| {
        let parts: Vec<&str> = s.split('-').collect();
        parts.len() >= 3
            && parts[0].len() == 2
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
            && parts[parts.len() - 1]
                .chars()
                .all(|c| c.is_ascii_digit())
            && !parts[parts.len() - 1].is_empty()
    },
    "region must be an AWS region code such as `eu-west-1`"
);

checked_string!(
    /// An AWS account ID: the account a stage is pinned to.
    AccountId,
    "^[0-9]{12}$",
    |s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()),
    "account_id must be the 12 digits of an AWS account ID (`aws sts get-caller-identity` shows it)"
);

checked_string!(
    /// The name of an environment variable a stage file sets on a function.
    EnvironmentName,
    "^(?!AWS_|LAMBDA_|WSECHO_|_HANDLER$|RUST_LOG$|TZ$)[A-Za-z][A-Za-z0-9_]{0,127}$",
    |s| (1..=128).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !["AWS_", "LAMBDA_", "WSECHO_"].iter().any(|p| s.starts_with(p))
        && !["_HANDLER", "RUST_LOG", "TZ"].contains(&s),
    "an environment variable name is a letter then letters, digits or `_`, and not one Lambda reserves (AWS_*, LAMBDA_*, _HANDLER, TZ) or wsecho sets (RUST_LOG, WSECHO_*)"
);

/// The JSON Schema of [`assembly::Architecture`] (stage files name one).
pub(crate) struct ArchitectureSchema;

impl JsonSchema for ArchitectureSchema {
    fn schema_name() -> Cow<'static, str> {
        "Architecture".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "enum": ["arm64", "x86_64"],
            "description": "A Lambda instruction set architecture",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_check_their_ranges() {
        assert!(MemoryMb::try_from(128).is_ok());
        assert!(
            MemoryMb::try_from(10241)
                .unwrap_err()
                .contains("between 128 and 10240")
        );
        assert!(TimeoutSeconds::try_from(0).is_err());
        assert!(RetentionDays::try_from(7).is_ok());
        assert!(RetentionDays::try_from(8).unwrap_err().contains("14"));
        assert!(RateLimit::try_from(f64::NAN).is_err());
        assert!(RateLimit::try_from(0.0).unwrap_err().contains("429"));
        assert!(RateLimit::try_from(0.5).is_ok());
        assert!(BurstLimit::try_from(0).unwrap_err().contains("429"));
        assert!(AccountId::try_from("123456789012".to_owned()).is_ok());
        for bad in ["12345678901", "1234567890123", "12345678901a", ""] {
            assert!(AccountId::try_from(bad.to_owned()).is_err(), "{bad}");
        }
        assert!(StageName::try_from("dev_1-a".to_owned()).is_ok());
        assert!(StageName::try_from("dev!".to_owned()).is_err());
        assert!(StageName::try_from(String::new()).is_err());
        assert!(Region::try_from("us-gov-west-1".to_owned()).is_ok());
        assert!(Region::try_from("Europe".to_owned()).is_err());
        assert!(StackName::try_from("1stack".to_owned()).is_err());
        assert!(EnvironmentName::try_from("ALLOWED_TOKENS".to_owned()).is_ok());
        for reserved in [
            "AWS_REGION",
            "WSECHO_ACTIONS",
            "RUST_LOG",
            "TZ",
            "1A",
            "A-B",
            "",
        ] {
            assert!(
                EnvironmentName::try_from(reserved.to_owned()).is_err(),
                "{reserved}"
            );
        }
    }
}
