//! The log level from Lambda's environment, and the JSON line shape.

use shared::logging::level_from_env;
use shared::test_support::logs;
use tracing_subscriber::filter::LevelFilter;

fn level(vars: &[(&str, &str)]) -> LevelFilter {
    level_from_env(|name| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
}

#[test]
fn the_level_follows_lambdas_controls_then_rust_log() {
    assert_eq!(level(&[]), LevelFilter::INFO);
    assert_eq!(
        level(&[("AWS_LAMBDA_LOG_LEVEL", ""), ("RUST_LOG", " ")]),
        LevelFilter::INFO
    );
    assert_eq!(
        level(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]),
        LevelFilter::DEBUG
    );
    assert_eq!(
        level(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]),
        LevelFilter::ERROR
    );
    assert_eq!(
        level(&[("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("RUST_LOG", "trace")]),
        LevelFilter::WARN
    );
    assert_eq!(level(&[("RUST_LOG", "trace")]), LevelFilter::TRACE);
    assert_eq!(level(&[("RUST_LOG", "shared=debug")]), LevelFilter::INFO);
}

#[tokio::test]
async fn each_event_is_one_flat_json_object() {
    let ((), lines) = logs::capture(async {
        tracing::info!(connection_id = "abc", size = 3, "reply sent");
        tracing::debug!("below the level");
    })
    .await;
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["message"], "reply sent");
    assert_eq!(line["connection_id"], "abc");
    assert_eq!(line["size"], 3);
    assert!(line["timestamp"].is_string());
    assert!(line.get("fields").is_none(), "fields are flattened");
}

#[tokio::test]
async fn spans_are_switched_off_and_events_inside_them_still_log() {
    let (disabled, lines) = logs::capture(async {
        // What lambda_runtime opens around each invocation.
        let span = tracing::info_span!("Lambda runtime invoke", requestId = "request-1");
        let _entered = span.enter();
        tracing::info!("inside the invocation");
        span.is_disabled()
    })
    .await;
    assert!(disabled, "spans are created disabled");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["message"], "inside the invocation");
    assert!(!lines[0].to_string().contains("request-1"), "{}", lines[0]);
}
