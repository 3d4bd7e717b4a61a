//! For the functions' tests: the reference events, a stand-in management endpoint, a stand-in
//! Lambda Runtime API to run the real binaries, log capture, a time bound, and (with an AWS
//! feature) the tables and secrets a local AWS needs.

pub mod endpoint;
pub mod fixtures;
#[cfg(feature = "aws")]
pub mod local_aws;
pub mod logs;
pub mod runtime_api;

use std::time::Duration;

/// How long any one test may take; a hang fails the test instead of the CI run.
pub const TEST_TIME_LIMIT: Duration = Duration::from_secs(30);

/// Runs `future`, failing the test if it takes longer than [`TEST_TIME_LIMIT`].
pub async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(TEST_TIME_LIMIT, future)
        .await
        .unwrap_or_else(|_| panic!("the test took longer than {TEST_TIME_LIMIT:?}"))
}

/// Management settings with dummy credentials and the endpoint override set to `endpoint`.
#[cfg(feature = "management")]
pub fn settings_for(endpoint: &str) -> crate::management::Settings {
    crate::management::Settings {
        region: "eu-west-1".to_owned(),
        credentials: aws_sdk_apigatewaymanagement::config::Credentials::new(
            "AKIDWSECHOTEST",
            "wsecho-test-secret",
            Some("wsecho-test-session".to_owned()),
            None,
            "test",
        ),
        endpoint_override: Some(endpoint.to_owned()),
    }
}

/// What `echo` and `default` build at start, posting to `endpoint`, told the echo app's
/// actions (`["echo"]`, as its template hands them over).
#[cfg(feature = "management")]
pub fn replier_for(endpoint: &str) -> crate::delivery::Replier {
    crate::delivery::Replier {
        management: crate::management::Management::new(settings_for(endpoint)),
        actions: crate::actions::Actions::new(["echo"]),
    }
}
