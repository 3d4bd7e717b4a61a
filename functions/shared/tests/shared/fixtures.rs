//! The reference events parse into the runtime's types, keep every field API Gateway sends,
//! and survive a serialize/parse round trip.

use shared::ApiGatewayWebsocketProxyRequest;
use shared::authorizer::AuthorizerRequest;
use shared::event::authorized_user;
use shared::test_support::fixtures::{
    self, AUTHORIZER, CONNECT, CONNECT_AUTHORIZED, DISCONNECT, DISCONNECT_AUTHORIZED, MESSAGE,
    MESSAGE_AUTHORIZED,
};

fn round_trip(json: &str) {
    let parsed = fixtures::parse(json);
    let serialized = serde_json::to_string(&parsed).expect("serialize");
    let reparsed: ApiGatewayWebsocketProxyRequest =
        serde_json::from_str(&serialized).expect("re-parse");
    assert_eq!(parsed, reparsed);
}

/// The fields `requestContext` always has, per the design's event shapes.
fn assert_common_context(json: &str, route_key: &str, event_type: &str) {
    let raw: serde_json::Value = serde_json::from_str(json).expect("fixture is JSON");
    let context = &raw["requestContext"];
    for field in [
        "routeKey",
        "eventType",
        "connectionId",
        "connectedAt",
        "requestTimeEpoch",
        "requestTime",
        "requestId",
        "extendedRequestId",
        "messageDirection",
        "stage",
        "domainName",
        "apiId",
    ] {
        assert!(
            context.get(field).is_some(),
            "requestContext.{field} missing"
        );
    }
    assert!(context["identity"]["sourceIp"].is_string());
    assert!(context["connectedAt"].is_i64());
    assert!(context["requestTimeEpoch"].is_i64());
    assert_eq!(context["messageDirection"], "IN");

    let parsed = fixtures::parse(json);
    let parsed_context = &parsed.request_context;
    assert_eq!(parsed_context.route_key.as_deref(), Some(route_key));
    assert_eq!(parsed_context.event_type.as_deref(), Some(event_type));
    assert_eq!(
        parsed_context.connection_id.as_deref(),
        Some("CX1a2cOoDoECIbQ=")
    );
    assert_eq!(parsed_context.connected_at, 1_795_544_400_000);
    assert!(parsed_context.request_time_epoch >= parsed_context.connected_at);
    assert_eq!(parsed_context.stage.as_deref(), Some("dev"));
    assert_eq!(
        parsed_context.domain_name.as_deref(),
        Some("a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com")
    );
    assert_eq!(parsed_context.apiid.as_deref(), Some("a1b2c3d4e5"));
    assert_eq!(
        parsed_context.identity.source_ip.as_deref(),
        Some("203.0.113.42")
    );
}

#[test]
fn connect_fixture_has_the_connect_shape() {
    assert_common_context(CONNECT, "$connect", "CONNECT");
    let raw: serde_json::Value = serde_json::from_str(CONNECT).unwrap();
    assert!(raw["requestContext"]["messageId"].is_null());
    let parsed = fixtures::parse(CONNECT);
    assert_eq!(parsed.request_context.message_id, None);
    assert_eq!(
        parsed.headers.get("user-agent").unwrap(),
        "wscat/6.0.1 (node 20.11.1)"
    );
    assert_eq!(
        parsed
            .multi_value_headers
            .get_all("x-forwarded-for")
            .iter()
            .count(),
        1
    );
    assert_eq!(parsed.query_string_parameters.first("name"), Some("ada"));
    assert_eq!(parsed.body, None);
    assert!(!parsed.is_base64_encoded);
}

#[test]
fn message_fixture_has_the_message_shape() {
    assert_common_context(MESSAGE, "echo", "MESSAGE");
    let parsed = fixtures::parse(MESSAGE);
    assert_eq!(
        parsed.request_context.message_id.as_deref(),
        Some("CX1bKeOaDoECIbQ=")
    );
    assert_eq!(
        parsed.body.as_deref(),
        Some(r#"{"action":"echo","data":"hello"}"#)
    );
    assert!(!parsed.is_base64_encoded);
    assert!(parsed.headers.is_empty());
}

#[test]
fn disconnect_fixture_has_the_disconnect_shape() {
    assert_common_context(DISCONNECT, "$disconnect", "DISCONNECT");
    let parsed = fixtures::parse(DISCONNECT);
    assert_eq!(parsed.request_context.disconnect_status_code, Some(1005));
    assert_eq!(
        parsed.request_context.disconnect_reason.as_deref(),
        Some("Client-side close frame status not set")
    );
    assert!(parsed.headers.contains_key("host"));
}

#[test]
fn fixtures_round_trip() {
    round_trip(CONNECT);
    round_trip(MESSAGE);
    round_trip(DISCONNECT);
    round_trip(CONNECT_AUTHORIZED);
    round_trip(MESSAGE_AUTHORIZED);
    round_trip(DISCONNECT_AUTHORIZED);
}

/// The events of an admitted connection: the same shapes, plus `requestContext.authorizer`
/// with the principal and the context flattened in, which survive a round trip.
#[test]
fn authorized_fixtures_carry_the_authorizers_user() {
    assert_common_context(CONNECT_AUTHORIZED, "$connect", "CONNECT");
    assert_common_context(MESSAGE_AUTHORIZED, "sendmessage", "MESSAGE");
    assert_common_context(DISCONNECT_AUTHORIZED, "$disconnect", "DISCONNECT");
    for json in [
        CONNECT_AUTHORIZED,
        MESSAGE_AUTHORIZED,
        DISCONNECT_AUTHORIZED,
    ] {
        let parsed = fixtures::parse(json);
        let fields = &parsed.request_context.authorizer.fields;
        assert_eq!(fields["principalId"], "alice", "{json}");
        assert_eq!(fields["user"], "alice", "{json}");
        assert_eq!(authorized_user(&parsed), Some("alice"));
        let reparsed = fixtures::parse(&serde_json::to_string(&parsed).unwrap());
        assert_eq!(authorized_user(&reparsed), Some("alice"));
    }
    let connect = fixtures::parse(CONNECT_AUTHORIZED);
    assert_eq!(
        connect.request_context.authorizer.fields["integrationLatency"],
        12
    );
    assert!(connect.query_string_parameters.first("token").is_some());
    let message = fixtures::parse(MESSAGE_AUTHORIZED);
    assert_eq!(
        message.body.as_deref(),
        Some(r#"{"action":"sendmessage","message":"hello"}"#)
    );
}

/// Without an authorizer there is no user; a context without `user` falls back to the
/// principal; blank or non-string values name nobody.
#[test]
fn the_authorized_user_comes_from_the_authorizer_only() {
    for json in [CONNECT, MESSAGE, DISCONNECT] {
        assert_eq!(authorized_user(&fixtures::parse(json)), None);
    }
    let with = |authorizer: serde_json::Value| {
        let mut raw: serde_json::Value = serde_json::from_str(MESSAGE_AUTHORIZED).unwrap();
        raw["requestContext"]["authorizer"] = authorizer;
        // The body claims someone else: it is never read for the user.
        raw["body"] = r#"{"action":"sendmessage","user":"mallory","from":"mallory"}"#.into();
        serde_json::from_value::<ApiGatewayWebsocketProxyRequest>(raw).unwrap()
    };
    let principal_only = with(serde_json::json!({"principalId": "bob"}));
    assert_eq!(authorized_user(&principal_only), Some("bob"));
    let both = with(serde_json::json!({"principalId": "bob", "user": "carol"}));
    assert_eq!(authorized_user(&both), Some("carol"));
    let blank = with(serde_json::json!({"principalId": "", "user": 7}));
    assert_eq!(authorized_user(&blank), None);
    assert_eq!(authorized_user(&with(serde_json::Value::Null)), None);
}

/// The authorizer event: `aws_lambda_events` reads it, it keeps what API Gateway sends a
/// WebSocket authorizer (the `$connect` context, no HTTP method, no path), and round-trips.
#[test]
fn the_authorizer_fixture_parses_and_round_trips() {
    let parsed: AuthorizerRequest = serde_json::from_str(AUTHORIZER).expect("parse");
    assert_eq!(parsed.type_.as_deref(), Some("REQUEST"));
    assert!(
        parsed
            .method_arn
            .as_deref()
            .is_some_and(|arn| arn.ends_with("/dev/$connect"))
    );
    assert_eq!(
        parsed.query_string_parameters.first("token"),
        Some("let-me-in")
    );
    assert!(parsed.http_method.is_none());
    let reparsed: AuthorizerRequest =
        serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).expect("re-parse");
    assert_eq!(parsed, reparsed);
    assert_common_context(AUTHORIZER, "$connect", "CONNECT");
}
