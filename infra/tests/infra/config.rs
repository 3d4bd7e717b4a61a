//! Stage files: the shipped ones load, bad ones give errors naming file, line, field and fix,
//! and the checked-in JSON Schema is current.

use std::path::Path;

use infra::config::{ConfigError, StageConfig, schema_json, stage_file, stage_files, stages_dir};

use super::common;

const GOOD: &str = "\
stage: dev
stack_name: wsecho-dev
region: eu-west-1
architecture: arm64
functions:
  memory_mb: 128
  timeout_seconds: 10
logs:
  retention_days: 7
  level: INFO
  data_trace: false
  detailed_metrics: false
throttling:
  burst_limit: 50
  rate_limit: 20
tracing: false
";

fn parse_error(text: &str) -> (ConfigError, String) {
    let err = StageConfig::parse(text, Path::new("infra/stages/echo/dev.yaml")).unwrap_err();
    let message = err.to_string();
    (err, message)
}

/// Asserts the error is a parse error at `line` whose message has every `needle`.
fn assert_parse_error(text: &str, line: usize, needles: &[&str]) {
    let (err, message) = parse_error(text);
    assert!(
        matches!(err, ConfigError::Parse { line: l, .. } if l == line),
        "expected line {line}: {message}"
    );
    assert!(
        message.starts_with(&format!("infra/stages/echo/dev.yaml:{line}:")),
        "{message}"
    );
    for needle in needles {
        assert!(message.contains(needle), "missing `{needle}` in: {message}");
    }
}

#[test]
fn the_sample_parses() {
    let config = StageConfig::parse(GOOD, Path::new("dev.yaml")).unwrap();
    assert_eq!(config.functions.for_package("echo").memory_mb, 128);
    assert_eq!(config.functions.log_level.directive(), "info");
}

#[test]
fn function_logs_have_their_own_level() {
    let debug = GOOD.replace(
        "  timeout_seconds: 10\n",
        "  timeout_seconds: 10\n  log_level: DEBUG\n",
    );
    let config = StageConfig::parse(&debug, Path::new("dev.yaml")).unwrap();
    assert_eq!(config.functions.log_level.directive(), "debug");
    // API Gateway's execution logging level is another setting.
    assert_eq!(config.logs.level, infra::config::LoggingLevel::Info);
    let loud = GOOD.replace(
        "  timeout_seconds: 10\n",
        "  timeout_seconds: 10\n  log_level: TRACE\n",
    );
    assert_parse_error(&loud, 8, &["log_level", "DEBUG"]);
}

#[test]
fn shipped_stage_files_load_and_reference_the_schema() {
    let files = stage_files("echo").unwrap();
    assert!(
        files.contains(&stage_file("echo", "dev")) && files.contains(&stage_file("echo", "prod")),
        "{files:?}"
    );
    for app in infra::apps::ALL {
        for file in stage_files(app.name).unwrap() {
            let config = StageConfig::load(&file).unwrap_or_else(|e| panic!("{e}"));
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                text.starts_with("# yaml-language-server: $schema=../stage.schema.json\n"),
                "{} must start with the schema comment",
                file.display()
            );
            assert_eq!(file.file_stem().unwrap(), config.stage.as_str());
        }
    }
}

#[test]
fn an_unknown_field_names_it_and_the_expected_ones() {
    let text = GOOD.replace("  memory_mb: 128", "  memory: 128");
    assert_parse_error(
        &text,
        6,
        &["unknown field `memory`", "memory_mb", "functions"],
    );
    let text = format!("{GOOD}colour: blue\n");
    assert_parse_error(&text, 17, &["unknown field `colour`", "stack_name"]);
}

#[test]
fn a_wrong_type_names_the_field() {
    let text = GOOD.replace("memory_mb: 128", "memory_mb: lots");
    assert_parse_error(
        &text,
        6,
        &["functions.memory_mb", "invalid type", "stage.schema.json"],
    );
    let text = GOOD.replace("tracing: false", "tracing: maybe");
    assert_parse_error(&text, 16, &["tracing", "invalid type"]);
}

#[test]
fn out_of_range_values_say_what_is_allowed() {
    let text = GOOD.replace("memory_mb: 128", "memory_mb: 64");
    assert_parse_error(
        &text,
        6,
        &["functions.memory_mb", "between 128 and 10240", "got 64"],
    );
    let text = GOOD.replace("timeout_seconds: 10", "timeout_seconds: 901");
    assert_parse_error(
        &text,
        7,
        &["functions.timeout_seconds", "between 1 and 900", "got 901"],
    );
    let text = GOOD.replace("timeout_seconds: 10", "timeout_seconds: 0");
    assert_parse_error(&text, 7, &["timeout_seconds", "got 0"]);
    let text = GOOD.replace("retention_days: 7", "retention_days: 10");
    assert_parse_error(&text, 9, &["logs.retention_days", "one of", "14", "got 10"]);
    let text = GOOD.replace("level: INFO", "level: DEBUG");
    assert_parse_error(&text, 10, &["logs.level", "DEBUG", "INFO"]);
    let text = GOOD.replace("rate_limit: 20", "rate_limit: -1");
    assert_parse_error(&text, 15, &["throttling.rate_limit", "more than 0"]);
}

#[test]
fn an_invalid_stage_name_says_the_rule() {
    let text = GOOD.replace("stage: dev", "stage: dev stage");
    assert_parse_error(
        &text,
        1,
        &["stage", "letters, digits, `_` or `-`", "`dev stage`"],
    );
    let text = GOOD.replace("region: eu-west-1", "region: Ireland");
    assert_parse_error(&text, 3, &["region", "eu-west-1", "`Ireland`"]);
    let text = GOOD.replace("architecture: arm64", "architecture: sparc");
    assert_parse_error(&text, 4, &["architecture", "sparc", "arm64", "x86_64"]);
}

#[test]
fn the_stage_must_match_the_file_name() {
    let err = StageConfig::parse(GOOD, Path::new("stages/prod.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("stages/prod.yaml") && err.contains("`dev`") && err.contains("`prod`"),
        "{err}"
    );
}

#[test]
fn a_missing_file_says_where_stages_live() {
    let err = StageConfig::load(&stages_dir().join("echo").join("nope.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nope.yaml") && err.contains("infra/stages/<app>/<stage>.yaml"),
        "{err}"
    );
}

#[test]
fn the_schema_describes_the_limits() {
    let schema: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
    let defs = &schema["$defs"];
    assert_eq!(defs["MemoryMb"]["minimum"], 128);
    assert_eq!(defs["MemoryMb"]["maximum"], 10240);
    assert_eq!(defs["RetentionDays"]["enum"][3], 7);
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn function_environment_is_per_package_and_refuses_reserved_names() {
    let with_env = GOOD.replace(
        "  timeout_seconds: 10\n",
        "  timeout_seconds: 10\n  overrides:\n    authorizer:\n      environment:\n        ALLOWED_TOKENS: abc\n",
    );
    let config = StageConfig::parse(&with_env, Path::new("dev.yaml")).unwrap();
    let env = config.functions.for_package("authorizer").environment;
    assert_eq!(
        env.iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        [("ALLOWED_TOKENS", "abc")]
    );
    assert!(config.functions.for_package("echo").environment.is_empty());

    let reserved = with_env.replace("ALLOWED_TOKENS", "AWS_REGION");
    let (_, message) = parse_error(&reserved);
    assert!(
        message.starts_with("infra/stages/echo/dev.yaml:"),
        "{message}"
    );
    assert!(
        message.contains("AWS_REGION") && message.contains("reserves"),
        "{message}"
    );
}

/// A throttle of 0 passes CloudFormation and then answers every request with 429
/// (terraform-provider-aws#14742): refused at the field.
#[test]
fn throttling_of_zero_is_refused() {
    let text = GOOD.replace("rate_limit: 20", "rate_limit: 0");
    assert_parse_error(
        &text,
        15,
        &["throttling.rate_limit", "more than 0", "429", "got 0"],
    );
    let text = GOOD.replace("burst_limit: 50", "burst_limit: 0");
    assert_parse_error(
        &text,
        14,
        &[
            "throttling.burst_limit",
            "between 1 and 5000",
            "429",
            "got 0",
        ],
    );
}

/// serde_yaml lets the last of two equal keys win: a package overridden twice would lose
/// its first block without a word.
#[test]
fn a_package_overridden_twice_is_refused_at_the_second() {
    let text = GOOD.replace(
        "  timeout_seconds: 10\n",
        "  timeout_seconds: 10\n  overrides:\n    echo:\n      memory_mb: 256\n    disconnect:\n      timeout_seconds: 5\n    echo:\n      timeout_seconds: 3\n",
    );
    assert_parse_error(
        &text,
        13,
        &["duplicate key `echo`", "functions.overrides", "appear once"],
    );
    let env = GOOD.replace(
        "  timeout_seconds: 10\n",
        "  timeout_seconds: 10\n  overrides:\n    echo:\n      environment:\n        A: x\n        A: y\n",
    );
    assert_parse_error(&env, 12, &["duplicate key `A`"]);
}

#[test]
fn the_retired_account_role_field_says_where_its_job_went() {
    let text = format!("{GOOD}account_cloudwatch_role: true\n");
    assert_parse_error(
        &text,
        17,
        &["toolkit stack", "cargo xtask bootstrap", "delete this line"],
    );
}

#[test]
fn an_account_pin_is_twelve_digits() {
    let pinned = GOOD.replace(
        "region: eu-west-1\n",
        "region: eu-west-1\naccount_id: \"012345678901\"\n",
    );
    let config = StageConfig::parse(&pinned, Path::new("dev.yaml")).unwrap();
    assert_eq!(
        config.account_id.as_ref().map(|a| a.as_str()),
        Some("012345678901")
    );
    assert_eq!(
        StageConfig::parse(GOOD, Path::new("dev.yaml"))
            .unwrap()
            .account_id,
        None
    );
    let short = pinned.replace("012345678901", "1234");
    assert_parse_error(&short, 4, &["account_id", "12 digits", "`1234`"]);
    // Unquoted, it is still the text as written: leading zeros kept.
    let unquoted = pinned.replace("\"012345678901\"", "012345678901");
    let config = StageConfig::parse(&unquoted, Path::new("dev.yaml")).unwrap();
    assert_eq!(
        config.account_id.as_ref().map(|a| a.as_str()),
        Some("012345678901")
    );
}

/// Two stage files of one stages folder (any apps) naming the same stack in the same region
/// would deploy over each other.
#[test]
fn two_stage_files_may_not_claim_one_stack() {
    let root = common::temp_dir("config-same-stack");
    std::fs::write(root.join("stage.schema.json"), "{}").unwrap();
    let write = |app: &str, text: &str| {
        std::fs::create_dir_all(root.join(app)).unwrap();
        let path = root.join(app).join("dev.yaml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let echo = write("echo", GOOD);
    let chat = write("chat", GOOD);
    for (this, other) in [(&echo, &chat), (&chat, &echo)] {
        let err = StageConfig::load(this).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, ConfigError::SameStack { line: 2, .. }),
            "{message}"
        );
        assert!(
            message.starts_with(&format!(
                "{}:2: stack_name: stack `wsecho-dev` in eu-west-1",
                this.display()
            )),
            "{message}"
        );
        assert!(
            message.contains(&format!("{}:2", other.display())),
            "{message}"
        );
    }
    // Another region, or pins to two different accounts: two stacks.
    write("chat", &GOOD.replace("eu-west-1", "us-east-1"));
    StageConfig::load(&echo).unwrap();
    write(
        "echo",
        &GOOD.replace(
            "region: eu-west-1\n",
            "region: eu-west-1\naccount_id: \"111111111111\"\n",
        ),
    );
    write(
        "chat",
        &GOOD.replace(
            "region: eu-west-1\n",
            "region: eu-west-1\naccount_id: \"222222222222\"\n",
        ),
    );
    StageConfig::load(&echo).unwrap();
    // A file outside a stages folder is checked alone.
    let alone = common::temp_dir("config-alone").join("dev.yaml");
    std::fs::write(&alone, GOOD).unwrap();
    StageConfig::load(&alone).unwrap();
}
