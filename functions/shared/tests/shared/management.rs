//! Settings from the environment and the endpoint a reply goes to.

use shared::management::{ENDPOINT_OVERRIDE_VAR, Management, Settings};
use shared::test_support::fixtures::{self, MESSAGE};
use std::collections::HashMap;

fn settings(vars: &[(&str, &str)]) -> Result<Settings, String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Settings::from_lookup(|name| vars.get(name).cloned()).map_err(|e| e.to_string())
}

const LAMBDA_ENV: &[(&str, &str)] = &[
    ("AWS_REGION", "eu-west-1"),
    ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY", "secret"),
    ("AWS_SESSION_TOKEN", "token"),
];

#[test]
fn settings_come_from_the_lambda_environment() {
    let settings = settings(LAMBDA_ENV).unwrap();
    assert_eq!(settings.region, "eu-west-1");
    assert_eq!(settings.credentials.access_key_id(), "AKIDEXAMPLE");
    assert_eq!(settings.credentials.secret_access_key(), "secret");
    assert_eq!(settings.credentials.session_token(), Some("token"));
    assert_eq!(settings.endpoint_override, None);
}

#[test]
fn the_session_token_is_optional_and_the_region_has_a_fallback() {
    let settings = settings(&[
        ("AWS_DEFAULT_REGION", "us-east-2"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", ""),
    ])
    .unwrap();
    assert_eq!(settings.region, "us-east-2");
    assert_eq!(settings.credentials.session_token(), None);
}

#[test]
fn a_missing_variable_is_named() {
    for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        let vars: Vec<_> = LAMBDA_ENV
            .iter()
            .copied()
            .filter(|(k, _)| *k != missing)
            .collect();
        let error = settings(&vars).unwrap_err();
        assert!(
            error.starts_with(&format!("environment variable {missing} is not set")),
            "{error}"
        );
        assert!(error.contains("dummy credentials"), "{error}");
    }
}

#[test]
fn the_endpoint_is_derived_from_the_event() {
    let management = Management::new(settings(LAMBDA_ENV).unwrap());
    let request = fixtures::parse(MESSAGE);
    assert_eq!(
        management.endpoint_for(&request).unwrap(),
        "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/dev"
    );

    let mut no_domain = request.clone();
    no_domain.request_context.domain_name = None;
    let error = management.endpoint_for(&no_domain).unwrap_err().to_string();
    assert!(error.contains("requestContext.domainName"), "{error}");
    assert!(error.contains(ENDPOINT_OVERRIDE_VAR), "{error}");

    let mut no_stage = request;
    no_stage.request_context.stage = Some(String::new());
    let error = management.endpoint_for(&no_stage).unwrap_err().to_string();
    assert!(error.contains("requestContext.stage"), "{error}");
}

#[test]
fn the_override_is_used_verbatim() {
    let mut vars = LAMBDA_ENV.to_vec();
    vars.push((ENDPOINT_OVERRIDE_VAR, "http://127.0.0.1:4510/dev"));
    let management = Management::new(settings(&vars).unwrap());
    let mut request = fixtures::parse(MESSAGE);
    // The override wins even when the event has no domain.
    request.request_context.domain_name = None;
    assert_eq!(
        management.endpoint_for(&request).unwrap(),
        "http://127.0.0.1:4510/dev"
    );
}
