//! Who may connect, as API Gateway decides it before `$connect` runs: a Lambda REQUEST
//! authorizer (testfn, told what to answer by `?auth=`), IAM (SigV4 signed as the AWS SDK
//! signs, with aws-sigv4), API keys (from the header or the authorizer's usageIdentifierKey),
//! and the templates the gateway refuses.

use std::time::{Duration, Instant, SystemTime};

use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;

use crate::common::*;

/// The template's `$connect` route.
fn connect_route(template: &mut Value) -> &mut Value {
    template["Resources"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .find(|r| r["Properties"]["RouteKey"] == "$connect")
        .expect("a $connect route")
}

/// Guards `$connect` with an authorizer running the `Auth` function (testfn).
fn add_authorizer(template: &mut Value, identity_sources: &[&str]) {
    template["Resources"]["TestAuthorizer"] = json!({
        "Type": "AWS::ApiGatewayV2::Authorizer",
        "Properties": {
            "ApiId": {"Ref": "Api"},
            "AuthorizerType": "REQUEST",
            "AuthorizerUri": {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Auth.Arn}/invocations"},
            "IdentitySource": identity_sources,
            "Name": "test-authorizer",
        }
    });
    let route = connect_route(template);
    route["Properties"]["AuthorizationType"] = json!("CUSTOM");
    route["Properties"]["AuthorizerId"] = json!({"Ref": "TestAuthorizer"});
}

const FIXED_KEY: &str = "fixed-key-0123456789abcdef";
const DISABLED_KEY: &str = "disabled-key-0123456789abc";
const OTHER_STAGE_KEY: &str = "other-stage-key-0123456789";

/// Requires an API key on `$connect`: `GeneratedKey` (no Value) and `FixedKey` are valid for
/// the stage; `DisabledKey` is disabled, `OtherStageKey` in another stage's plan.
fn add_api_keys(template: &mut Value, selection: Option<&str>) {
    if let Some(selection) = selection {
        template["Resources"]["Api"]["Properties"]["ApiKeySelectionExpression"] = json!(selection);
    }
    let resources = &mut template["Resources"];
    resources["GeneratedKey"] =
        json!({"Type": "AWS::ApiGateway::ApiKey", "Properties": {"Name": "generated"}});
    resources["FixedKey"] = json!({"Type": "AWS::ApiGateway::ApiKey", "Properties": {"Enabled": true, "Value": FIXED_KEY}});
    resources["DisabledKey"] = json!({"Type": "AWS::ApiGateway::ApiKey",
        "Properties": {"Enabled": false, "Value": DISABLED_KEY}});
    resources["OtherStageKey"] =
        json!({"Type": "AWS::ApiGateway::ApiKey", "Properties": {"Value": OTHER_STAGE_KEY}});
    resources["Plan"] = json!({"Type": "AWS::ApiGateway::UsagePlan", "Properties": {
        "ApiStages": [{"ApiId": {"Ref": "Api"}, "Stage": {"Ref": "Stage"}}], "UsagePlanName": "plan"}});
    resources["OtherPlan"] = json!({"Type": "AWS::ApiGateway::UsagePlan", "Properties": {
        "ApiStages": [{"ApiId": {"Ref": "Api"}, "Stage": "prod"}], "UsagePlanName": "other"}});
    for (key, plan) in [
        ("GeneratedKey", "Plan"),
        ("FixedKey", "Plan"),
        ("DisabledKey", "Plan"),
        ("OtherStageKey", "OtherPlan"),
    ] {
        resources[format!("{key}InPlan")] = json!({"Type": "AWS::ApiGateway::UsagePlanKey",
            "Properties": {"KeyId": {"Ref": key}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": plan}}});
    }
    connect_route(template)["Properties"]["ApiKeyRequired"] = json!(true);
}

/// The standard testfn assembly plus an `Auth` function, its template edited by `edit`.
fn guarded(name: &str, edit: impl FnOnce(&mut Value)) -> Assembly {
    let asm = Assembly::standard(name).function("Auth", 3).write();
    let mut template = asm.template();
    edit(&mut template);
    std::fs::write(asm.dir.join("template.json"), template.to_string()).unwrap();
    asm
}

fn request(url: &str, headers: &[(&str, &str)]) -> Request {
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    request
}

/// The handshake's status: 101 when accepted (the client is dropped), else the refusal's.
async fn status(request: Request) -> u16 {
    let result = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("the handshake finishes in time");
    match result {
        Ok((_, response)) => response.status().as_u16(),
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP answer, got {other}"),
    }
}

/// An accepted connection.
async fn open(request: Request) -> Client {
    let uri = request.uri().clone();
    let (client, response) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("the handshake finishes in time")
        .unwrap_or_else(|e| panic!("cannot connect to {uri}: {e}"));
    assert_eq!(response.status(), 101);
    client
}

/// The echoed event's `requestContext`.
async fn context(client: &mut Client) -> Value {
    echo(client, json!({"action": "echo"})).await["requestContext"].take()
}

#[tokio::test]
async fn every_identity_source_kind_is_required_before_the_authorizer_runs() {
    bounded(async {
        let asm = guarded("auth-sources", |t| {
            add_authorizer(
                t,
                &[
                    "route.request.header.X-Token",
                    "route.request.querystring.token",
                    "stageVariables.authStage",
                    "context.identity.sourceIp",
                ],
            );
            t["Resources"]["Stage"]["Properties"]["StageVariables"] = json!({"authStage": "on"});
        });
        let gw = asm.start().await;
        let url = gw.url();
        let token = [("x-token", "t1")];
        // Missing or empty: 401, and the authorizer never ran.
        assert_eq!(status(request(&url, &[])).await, 401);
        assert_eq!(status(request(&format!("{url}?token=q"), &[])).await, 401);
        assert_eq!(status(request(&url, &token)).await, 401);
        assert_eq!(status(request(&format!("{url}?token="), &token)).await, 401);
        assert_eq!(
            status(request(&format!("{url}?token=q"), &[("x-token", "")])).await,
            401
        );
        assert!(asm.recorded_ids("authorizer").is_empty());
        assert!(asm.recorded_ids("connect").is_empty());

        let mut client = open(request(&format!("{url}?token=q1&Token=other"), &token)).await;
        let ctx = context(&mut client).await;
        let id = ctx["connectionId"].as_str().unwrap();
        // The authorizer's event, as API Gateway shapes it (testfn parsed it as
        // ApiGatewayCustomAuthorizerRequestTypeRequest before answering).
        let event = asm.recorded(id, "authorizer").await;
        assert_eq!(event["type"], "REQUEST");
        assert_eq!(
            event["methodArn"],
            format!(
                "arn:aws:execute-api:us-east-1:000000000000:{}/test/$connect",
                ctx["apiId"].as_str().unwrap()
            )
        );
        assert_eq!(event["headers"]["X-Token"], "t1");
        assert_eq!(event["multiValueHeaders"]["X-Token"], json!(["t1"]));
        assert_eq!(event["headers"]["Upgrade"], "websocket");
        assert_eq!(
            event["queryStringParameters"],
            json!({"token": "q1", "Token": "other"})
        );
        assert_eq!(
            event["multiValueQueryStringParameters"]["token"],
            json!(["q1"])
        );
        assert_eq!(event["stageVariables"], json!({"authStage": "on"}));
        let request_context = &event["requestContext"];
        assert_eq!(request_context["routeKey"], "$connect");
        assert_eq!(request_context["eventType"], "CONNECT");
        assert_eq!(request_context["connectionId"], id);
        assert_eq!(request_context["stage"], "test");
        assert_eq!(request_context["identity"]["sourceIp"], "127.0.0.1");
        for field in ["connectedAt", "requestTimeEpoch"] {
            assert!(request_context[field].is_u64(), "{field}: {event}");
        }
        assert!(request_context.get("authorizer").is_none(), "{event}");
        // One request: the authorizer and $connect share its id.
        let connect = asm.recorded(id, "connect").await;
        assert_eq!(
            connect["requestContext"]["requestId"],
            request_context["requestId"]
        );
        assert_eq!(asm.recorded_ids("authorizer").len(), 1);
        gw.shutdown().await;

        // A stage variable the stage does not set is always missing.
        let asm = guarded("auth-stage-variable", |t| {
            add_authorizer(t, &["stageVariables.unset"]);
        });
        let gw = asm.start().await;
        assert!(
            gw.banner().contains("the stage has no variable unset"),
            "{}",
            gw.banner()
        );
        assert_eq!(status(request(&gw.url(), &[])).await, 401);
        assert!(asm.recorded_ids("authorizer").is_empty());
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_authorizer_event_has_the_shape_api_gateway_sends() {
    bounded(async {
        let asm = guarded("auth-event-shape", |t| {
            add_authorizer(t, &["route.request.querystring.token"]);
        });
        let gw = asm.start().await;
        let url = format!("{}?token=let-me-in", gw.url());
        let mut client = open(request(&url, &[("user-agent", "gateway-test/1")])).await;
        let id = connection_id(&mut client).await;
        let event = asm.recorded(&id, "authorizer").await;
        // functions/shared/fixtures/authorizer.json
        crate::events::assert_same_shape("authorizer", &event);
        assert_eq!(
            event["requestContext"]["identity"]["userAgent"],
            "gateway-test/1"
        );
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn authorizer_answers_give_api_gateways_statuses() {
    bounded(async {
        let asm = guarded("auth-outcomes", |t| {
            add_authorizer(t, &["route.request.querystring.auth"]);
        });
        let gw = asm.start().await;
        let url = gw.url();
        let with = |auth: &str| request(&format!("{url}?auth={auth}"), &[]);
        for (auth, expected) in [
            ("allow", 101),
            ("wildcard", 101),
            ("deny", 403),
            ("deny-wins", 403),
            ("elsewhere", 403),
            ("unauthorized", 401),
            ("error", 500),
            ("malformed", 500),
            ("nested", 500),
            ("oversized", 500),
        ] {
            assert_eq!(status(with(auth)).await, expected, "auth={auth}");
        }
        // Only the allowed connections reached $connect.
        assert_eq!(asm.recorded_ids("connect").len(), 2);
        assert_eq!(asm.recorded_ids("authorizer").len(), 10);
        let refusal = tokio_tungstenite::connect_async(with("deny")).await;
        match refusal {
            Err(tungstenite::Error::Http(response)) => {
                let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                    .into_owned();
                assert!(body.contains("not authorized"), "{body}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(gw.connection_count(), 0);
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_authorizer_context_is_in_every_event_of_its_connection_only() {
    bounded(async {
        let asm = guarded("auth-context", |t| {
            add_authorizer(t, &["route.request.querystring.principal"]);
        });
        let gw = asm.start().await;
        let url = gw.url();
        let mut ada = open(request(&format!("{url}?principal=ada"), &[])).await;
        let mut bob = open(request(&format!("{url}?principal=bob"), &[])).await;
        let ada_ctx = context(&mut ada).await;
        let bob_ctx = context(&mut bob).await;
        let authorizer = &ada_ctx["authorizer"];
        // API Gateway's shape: the principal, the latency, the context values as strings.
        assert_eq!(authorizer["principalId"], "ada", "{ada_ctx}");
        assert_eq!(authorizer["who"], "ada");
        assert_eq!(authorizer["number"], "42");
        assert_eq!(authorizer["flag"], "true");
        assert!(authorizer["integrationLatency"].is_u64(), "{authorizer}");
        assert_eq!(bob_ctx["authorizer"]["principalId"], "bob");
        assert_eq!(bob_ctx["authorizer"]["who"], "bob");

        // The same on every message: computed once for the connection.
        let again = context(&mut ada).await;
        assert_eq!(again["authorizer"], *authorizer);

        let ada_id = ada_ctx["connectionId"].as_str().unwrap().to_owned();
        let connect = asm.recorded(&ada_id, "connect").await;
        assert_eq!(connect["requestContext"]["authorizer"], *authorizer);
        ada.close(None).await.unwrap();
        let disconnect = asm.recorded(&ada_id, "disconnect").await;
        assert_eq!(disconnect["requestContext"]["authorizer"], *authorizer);
        // Bob's connection is unaffected.
        assert_eq!(context(&mut bob).await["authorizer"]["who"], "bob");
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_slow_authorizer_does_not_hold_up_other_connections() {
    bounded(async {
        let asm = guarded("auth-slow", |t| {
            add_authorizer(t, &["route.request.querystring.auth"]);
        });
        let gw = asm.start().await;
        let url = gw.url();
        // Warm one process so the timing below is not a cold start's.
        assert_eq!(
            status(request(&format!("{url}?auth=allow"), &[])).await,
            101
        );

        let slow_url = format!("{url}?auth=sleep&ms=2500");
        let slow = tokio::spawn(async move { status(request(&slow_url, &[])).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let mut fast = open(request(&format!("{url}?auth=allow"), &[])).await;
        assert!(
            started.elapsed() < Duration::from_millis(2000),
            "a connection waited for another's authorizer: {:?}",
            started.elapsed()
        );
        connection_id(&mut fast).await;
        assert!(!slow.is_finished(), "the slow authorizer answered early");
        assert_eq!(slow.await.unwrap(), 101);

        // Longer than the authorizer function's 3 s Timeout: 500.
        assert_eq!(
            status(request(&format!("{url}?auth=sleep&ms=4000"), &[])).await,
            500
        );
        gw.shutdown().await;
    })
    .await;
}

/// Signs `request` as an AWS SDK would (aws-sigv4), in its headers or its query string.
fn signed(
    mut request: Request,
    credentials: &gateway::Credentials,
    time: SystemTime,
    location: SignatureLocation,
) -> Request {
    let identity = aws_credential_types::Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        Some(credentials.session_token.clone()),
        None,
        "gateway-test",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = location;
    settings.expires_in = Some(Duration::from_secs(60));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("execute-api")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let host = request.uri().authority().unwrap().to_string();
    let uri = request.uri().to_string();
    // What a browser-less client signs: the host and any headers it chose to send.
    let mut headers = vec![("host".to_owned(), host)];
    for (name, value) in request.headers() {
        if name.as_str().starts_with("x-client") {
            headers.push((name.to_string(), value.to_str().unwrap().to_owned()));
        }
    }
    let signable = SignableRequest::new(
        "GET",
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&[]),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut request);
    request
}

#[tokio::test]
async fn iam_connections_need_a_valid_sigv4_signature() {
    bounded(async {
        let asm = guarded("iam", |t| {
            connect_route(t)["Properties"]["AuthorizationType"] = json!("AWS_IAM");
        });
        let gw = asm.start().await;
        let url = gw.url();
        let creds = gw.credentials().clone();
        assert_eq!(gw.region(), "us-east-1");
        let now = SystemTime::now();

        // Signed in the headers, as the SDKs sign; the caller fills the events' identity.
        let mut client = open(signed(
            request(&url, &[]),
            &creds,
            now,
            SignatureLocation::Headers,
        ))
        .await;
        let ctx = context(&mut client).await;
        let identity = &ctx["identity"];
        assert_eq!(identity["accessKey"], creds.access_key_id.as_str(), "{ctx}");
        assert_eq!(identity["accountId"], "000000000000");
        assert!(
            identity["userArn"]
                .as_str()
                .unwrap()
                .contains(":assumed-role/"),
            "{identity}"
        );
        assert_eq!(identity["caller"], identity["user"]);
        assert!(identity["cognitoIdentityId"].is_null());
        let id = ctx["connectionId"].as_str().unwrap().to_owned();
        assert_eq!(
            asm.recorded(&id, "connect").await["requestContext"]["identity"],
            *identity
        );
        // The functions hold the same credentials, so one could connect as a client.
        send(
            &mut client,
            json!({"action": "echo", "do": "env"}).to_string(),
        )
        .await;
        let env = next_json(&mut client).await;
        assert_eq!(env["AWS_ACCESS_KEY_ID"], creds.access_key_id.as_str());
        assert_eq!(
            env["AWS_SECRET_ACCESS_KEY"],
            creds.secret_access_key.as_str()
        );
        assert_eq!(env["AWS_SESSION_TOKEN"], creds.session_token.as_str());
        client.close(None).await.unwrap();
        assert_eq!(
            asm.recorded(&id, "disconnect").await["requestContext"]["identity"],
            *identity
        );

        // Signed in the query string (a presigned URL), by aws-sigv4 and by the gateway.
        let presigned = signed(
            request(&url, &[]),
            &creds,
            now,
            SignatureLocation::QueryParams,
        );
        assert!(
            presigned
                .uri()
                .query()
                .unwrap()
                .contains("X-Amz-Signature=")
        );
        assert_eq!(status(presigned).await, 101);
        assert_eq!(
            status(request(&gw.presigned_url(Duration::from_secs(60)), &[])).await,
            101
        );
        // A signed header of the client's own, sent as signed.
        let with_header = request(&url, &[("x-client-id", "c1")]);
        assert_eq!(
            status(signed(with_header, &creds, now, SignatureLocation::Headers)).await,
            101
        );

        // Refused: unsigned, another secret, another key, another token, stale, tampered.
        assert_eq!(status(request(&url, &[])).await, 403);
        let mut other = creds.clone();
        other.secret_access_key = "not-the-secret-not-the-secret-not-the-se".into();
        assert_eq!(
            status(signed(
                request(&url, &[]),
                &other,
                now,
                SignatureLocation::Headers
            ))
            .await,
            403
        );
        assert_eq!(
            status(signed(
                request(&url, &[]),
                &other,
                now,
                SignatureLocation::QueryParams
            ))
            .await,
            403
        );
        let mut other = creds.clone();
        other.access_key_id = "ASIAUNKNOWNUNKNOWN00".into();
        assert_eq!(
            status(signed(
                request(&url, &[]),
                &other,
                now,
                SignatureLocation::Headers
            ))
            .await,
            403
        );
        let mut other = creds.clone();
        other.session_token = "another-session".into();
        assert_eq!(
            status(signed(
                request(&url, &[]),
                &other,
                now,
                SignatureLocation::Headers
            ))
            .await,
            403
        );
        let stale = now - Duration::from_secs(20 * 60);
        assert_eq!(
            status(signed(
                request(&url, &[]),
                &creds,
                stale,
                SignatureLocation::Headers
            ))
            .await,
            403
        );
        // A presigned URL past its 60 s.
        let expired = now - Duration::from_secs(120);
        assert_eq!(
            status(signed(
                request(&url, &[]),
                &creds,
                expired,
                SignatureLocation::QueryParams
            ))
            .await,
            403
        );
        let mut tampered = signed(
            request(&url, &[("x-client-id", "c1")]),
            &creds,
            now,
            SignatureLocation::Headers,
        );
        tampered
            .headers_mut()
            .insert("x-client-id", "c2".parse().unwrap());
        assert_eq!(status(tampered).await, 403);
        assert_eq!(
            asm.recorded_ids("connect").len(),
            4,
            "only signed connections ran $connect"
        );

        // The banner tells how to sign, and its command line connects.
        let banner = gw.banner();
        for expected in [
            "guarded: IAM",
            creds.access_key_id.as_str(),
            creds.secret_access_key.as_str(),
            "execute-api",
        ] {
            assert!(
                banner.contains(expected),
                "{expected} missing from:\n{banner}"
            );
        }
        let hint = gw.connect_hint();
        let presigned_url = hint.split('\'').nth(1).unwrap();
        assert!(presigned_url.contains("X-Amz-Signature="), "{hint}");
        assert_eq!(status(request(presigned_url, &[])).await, 101);
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn api_keys_from_the_header_must_be_valid_for_the_stage() {
    bounded(async {
        let asm = guarded("api-keys", |t| add_api_keys(t, None));
        let gw = asm.start().await;
        let url = gw.url();
        let keys = gw.api_keys();
        let ids: Vec<&str> = keys.iter().map(|k| k.logical_id.as_str()).collect();
        assert_eq!(ids, ["FixedKey", "GeneratedKey"]);
        let generated = &keys[1];
        assert!(
            generated.generated && generated.value.len() == 40,
            "{generated:?}"
        );
        assert_eq!(generated.name.as_deref(), Some("generated"));
        assert_eq!(keys[0].value, FIXED_KEY);

        let mut client = open(request(&url, &[("x-api-key", &generated.value)])).await;
        let ctx = context(&mut client).await;
        assert_eq!(ctx["identity"]["apiKey"], generated.value.as_str(), "{ctx}");
        assert_eq!(ctx["identity"]["apiKeyId"], generated.id.as_str());
        let id = ctx["connectionId"].as_str().unwrap().to_owned();
        assert_eq!(
            asm.recorded(&id, "connect").await["requestContext"]["identity"]["apiKeyId"],
            generated.id.as_str()
        );
        client.close(None).await.unwrap();
        assert_eq!(
            asm.recorded(&id, "disconnect").await["requestContext"]["identity"]["apiKey"],
            generated.value.as_str()
        );

        assert_eq!(
            status(request(&url, &[("x-api-key", FIXED_KEY)])).await,
            101
        );
        for refused in [
            "",
            "wrong-key-0123456789abcdef",
            DISABLED_KEY,
            OTHER_STAGE_KEY,
        ] {
            assert_eq!(
                status(request(&url, &[("x-api-key", refused)])).await,
                403,
                "{refused:?}"
            );
        }
        assert_eq!(status(request(&url, &[])).await, 403);
        assert_eq!(
            status(request(&format!("{url}?x-api-key={FIXED_KEY}"), &[])).await,
            403
        );

        let banner = gw.banner();
        for expected in [
            "guarded: API key",
            "header x-api-key",
            FIXED_KEY,
            &generated.value,
            "generated for this run",
        ] {
            assert!(
                banner.contains(expected),
                "{expected} missing from:\n{banner}"
            );
        }
        assert!(
            !banner.contains(DISABLED_KEY) && !banner.contains(OTHER_STAGE_KEY),
            "{banner}"
        );
        assert!(
            gw.connect_hint()
                .contains(&format!("-H 'x-api-key: {FIXED_KEY}'"))
        );
        gw.shutdown().await;

        // Another run generates other values.
        let gw = asm.start().await;
        assert_ne!(gw.api_keys()[1].value, generated.value);
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_api_key_can_come_from_the_authorizer_which_runs_first() {
    bounded(async {
        let asm = guarded("api-key-authorizer", |t| {
            add_authorizer(t, &["route.request.querystring.auth"]);
            add_api_keys(t, Some("$context.authorizer.usageIdentifierKey"));
        });
        let gw = asm.start().await;
        let url = gw.url();
        let mut client = open(request(&format!("{url}?auth=key&key={FIXED_KEY}"), &[])).await;
        let ctx = context(&mut client).await;
        assert_eq!(ctx["identity"]["apiKey"], FIXED_KEY, "{ctx}");
        assert_eq!(ctx["authorizer"]["principalId"], "testfn-user");
        // The header does not count with this selection expression.
        assert_eq!(
            status(request(
                &format!("{url}?auth=allow"),
                &[("x-api-key", FIXED_KEY)]
            ))
            .await,
            403
        );
        assert_eq!(
            status(request(&format!("{url}?auth=key&key=wrong"), &[])).await,
            403
        );
        // The authorizer decides before the key is looked at.
        assert_eq!(
            status(request(&format!("{url}?auth=unauthorized"), &[])).await,
            401
        );
        assert_eq!(status(request(&url, &[])).await, 401);
        let banner = gw.banner();
        assert!(
            banner.contains("usageIdentifierKey") && banner.contains("authorizer test-authorizer"),
            "{banner}"
        );
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_banner_shows_the_authorizer_and_how_to_connect() {
    bounded(async {
        let asm = guarded("auth-banner", |t| {
            add_authorizer(t, &["route.request.header.Authorization", "route.request.querystring.token"]);
            add_api_keys(t, None);
        });
        let gw = asm.start().await;
        let banner = gw.banner();
        for expected in [
            "$connect       -> testfn  (guarded: authorizer test-authorizer, API key)",
            "authorizer test-authorizer (function testfn) needs header Authorization, query string token",
            "echo           -> testfn\n",
        ] {
            assert!(banner.contains(expected), "{expected} missing from:\n{banner}");
        }
        let hint = gw.connect_hint();
        assert!(
            hint.starts_with(&format!("wscat -c '{}?token=…' -H 'Authorization: …' -H 'x-api-key: ", gw.url())),
            "{hint}"
        );
        assert!(banner.contains(&hint), "{banner}");
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_reload_applies_a_changed_authorizer_to_new_connections() {
    bounded(async {
        let asm = guarded("auth-reload", |t| {
            add_authorizer(t, &["route.request.querystring.auth"]);
        });
        let gw = asm.start().await;
        let url = gw.url();
        let mut kept = open(request(&format!("{url}?auth=allow"), &[])).await;
        let mut template: Value =
            serde_json::from_str(&std::fs::read_to_string(asm.dir.join("template.json")).unwrap())
                .unwrap();
        template["Resources"]["TestAuthorizer"]["Properties"]["IdentitySource"] =
            json!(["route.request.header.X-Auth"]);
        std::fs::write(asm.dir.join("template.json"), template.to_string()).unwrap();
        let report = gw.reload().unwrap();
        assert_eq!(report.routes, ["$connect"], "{report}");
        assert_eq!(
            status(request(&format!("{url}?auth=allow"), &[])).await,
            401
        );
        assert_eq!(status(request(&url, &[("x-auth", "allow")])).await, 101);
        // The connection authorized before keeps what it was granted.
        assert_eq!(
            context(&mut kept).await["authorizer"]["principalId"],
            "testfn-user"
        );
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn templates_that_guard_other_routes_or_misname_an_authorizer_are_refused() {
    bounded(async {
        let start_error = |name: &'static str, edit: Box<dyn FnOnce(&mut Value)>| async move {
            let asm = guarded(name, edit);
            match gateway::start(asm.options()).await {
                Ok(_) => panic!("the gateway started on a template it cannot run"),
                Err(e) => error_chain(&e),
            }
        };
        let echo_route = |t: &mut Value| -> String {
            t["Resources"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(_, r)| r["Properties"]["RouteKey"] == "echo")
                .unwrap()
                .0
                .clone()
        };

        let err = start_error("err-auth-elsewhere", Box::new(move |t| {
            let id = echo_route(t);
            t["Resources"][&id]["Properties"]["AuthorizationType"] = json!("AWS_IAM");
        }))
        .await;
        assert!(err.contains("echoRoute") && err.contains("$connect"), "{err}");

        let err = start_error("err-key-elsewhere", Box::new(move |t| {
            let id = echo_route(t);
            t["Resources"][&id]["Properties"]["ApiKeyRequired"] = json!(true);
        }))
        .await;
        assert!(err.contains("echoRoute") && err.contains("API key"), "{err}");

        let err = start_error("err-jwt", Box::new(|t| {
            connect_route(t)["Properties"]["AuthorizationType"] = json!("JWT");
        }))
        .await;
        assert!(err.contains("connectRoute") && err.contains("JWT"), "{err}");

        let err = start_error("err-source", Box::new(|t| {
            add_authorizer(t, &["$request.header.Auth"]);
        }))
        .await;
        assert!(err.contains("TestAuthorizer") && err.contains("route.request.header.NAME"), "{err}");

        let err = start_error("err-uri", Box::new(|t| {
            add_authorizer(t, &["route.request.querystring.token"]);
            t["Resources"]["TestAuthorizer"]["Properties"]["AuthorizerUri"] =
                json!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:elsewhere/invocations");
        }))
        .await;
        assert!(err.contains("TestAuthorizer") && err.contains("AuthorizerUri"), "{err}");

        let err = start_error("err-type", Box::new(|t| {
            add_authorizer(t, &["route.request.querystring.token"]);
            t["Resources"]["TestAuthorizer"]["Properties"]["AuthorizerType"] = json!("JWT");
        }))
        .await;
        assert!(err.contains("TestAuthorizer") && err.contains("REQUEST"), "{err}");

        let err = start_error("err-authorizer-id", Box::new(|t| {
            add_authorizer(t, &["route.request.querystring.token"]);
            connect_route(t)["Properties"]["AuthorizerId"] = json!("abc123");
        }))
        .await;
        assert!(err.contains("connectRoute") && err.contains("AuthorizerId"), "{err}");

        let err = start_error("err-key-value", Box::new(|t| {
            add_api_keys(t, None);
            t["Resources"]["FixedKey"]["Properties"]["Value"] = json!("short");
        }))
        .await;
        assert!(err.contains("FixedKey") && err.contains("Value"), "{err}");
    })
    .await;
}

/// The real functions of the test assembly behind a `$connect` that requires IAM and an API
/// key: they run with the identity fields API Gateway adds.
#[tokio::test]
#[ignore = "needs the test assembly: `cargo xtask test` provides it"]
async fn the_real_functions_run_behind_iam_and_an_api_key() {
    bounded(async {
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("gateway-real-guarded-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        testenv::fixture::write_assembly(&dir);
        testenv::fixture::edit_template(&dir, |t| {
            let route = &mut connect_route(t)["Properties"];
            route["AuthorizationType"] = json!("AWS_IAM");
            route.as_object_mut().unwrap().remove("AuthorizerId");
            let api = t["Resources"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(_, r)| r["Type"] == "AWS::ApiGatewayV2::Api")
                .unwrap()
                .0
                .clone();
            let stage = t["Resources"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(_, r)| r["Type"] == "AWS::ApiGatewayV2::Stage")
                .unwrap()
                .0
                .clone();
            // The key in the header, whatever the app's API says.
            t["Resources"][&api]["Properties"]
                .as_object_mut()
                .unwrap()
                .remove("ApiKeySelectionExpression");
            let resources = &mut t["Resources"];
            resources["LocalKey"] = json!({"Type": "AWS::ApiGateway::ApiKey", "Properties": {"Name": "local"}});
            resources["LocalPlan"] = json!({"Type": "AWS::ApiGateway::UsagePlan", "Properties": {
                "ApiStages": [{"ApiId": {"Ref": api}, "Stage": {"Ref": stage}}], "UsagePlanName": "local"}});
            resources["LocalKeyInPlan"] = json!({"Type": "AWS::ApiGateway::UsagePlanKey", "Properties": {
                "KeyId": {"Ref": "LocalKey"}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": "LocalPlan"}}});
            connect_route(t)["Properties"]["ApiKeyRequired"] = json!(true);
        });
        let gw = gateway::start(gateway::DevOptions::new(&dir))
            .await
            .unwrap_or_else(|e| panic!("the gateway cannot run {}: {}", dir.display(), error_chain(&e)));
        let key = gw.api_keys().into_iter().find(|k| k.logical_id == "LocalKey").unwrap();
        let url = gw.presigned_url(Duration::from_secs(60));
        assert_eq!(status(request(&url, &[])).await, 403, "no API key");
        assert_eq!(status(request(&gw.url(), &[("x-api-key", &key.value)])).await, 403, "unsigned");
        let mut client = open(request(&url, &[("x-api-key", &key.value)])).await;
        send(&mut client, json!({"action": "echo", "message": "hi"}).to_string()).await;
        let reply = next_json(&mut client).await;
        assert_eq!(reply["received"]["message"], "hi", "{reply}");
        client.close(None).await.unwrap();
        gw.shutdown().await;
    })
    .await;
}

async fn start_app(app: &str) -> gateway::Gateway {
    let assembly = testenv::app_assembly(app);
    gateway::start(gateway::DevOptions::new(&assembly))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the gateway cannot run {}: {}",
                assembly.display(),
                error_chain(&e)
            )
        })
}

/// The `guarded` app as synthesized: its Rust authorizer admits the stage's token holders.
#[tokio::test]
#[ignore = "needs every app's assembly: `cargo xtask test` provides it"]
async fn the_guarded_app_admits_the_holders_of_its_tokens() {
    bounded(async {
        let gw = start_app("guarded").await;
        let url = gw.url();
        assert_eq!(status(request(&url, &[])).await, 401, "no token");
        assert_eq!(
            status(request(&format!("{url}?token=not-a-token"), &[])).await,
            401
        );
        // infra/stages/guarded/dev.yaml admits `let-me-in` as alice.
        let mut client = open(request(&format!("{url}?token=let-me-in"), &[])).await;
        send(
            &mut client,
            json!({"action": "echo", "message": "hi"}).to_string(),
        )
        .await;
        let reply = next_json(&mut client).await;
        assert_eq!(reply["received"]["message"], "hi", "{reply}");
        client.close(None).await.unwrap();
        gw.shutdown().await;
    })
    .await;
}

/// The `signed` app as synthesized: an IAM signature and one of its API keys.
#[tokio::test]
#[ignore = "needs every app's assembly: `cargo xtask test` provides it"]
async fn the_signed_app_needs_a_signature_and_an_api_key() {
    bounded(async {
        let gw = start_app("signed").await;
        let key = gw
            .api_keys()
            .into_iter()
            .next()
            .expect("the signed app has an API key on its dev stage");
        let presigned = gw.presigned_url(Duration::from_secs(60));
        assert_eq!(status(request(&presigned, &[])).await, 403, "no key");
        assert_eq!(
            status(request(&gw.url(), &[("x-api-key", &key.value)])).await,
            403,
            "not signed"
        );
        let mut client = open(request(&presigned, &[("x-api-key", &key.value)])).await;
        send(
            &mut client,
            json!({"action": "echo", "message": "hi"}).to_string(),
        )
        .await;
        let reply = next_json(&mut client).await;
        assert_eq!(reply["received"]["message"], "hi", "{reply}");
        client.close(None).await.unwrap();
        gw.shutdown().await;
    })
    .await;
}
