//! Setting up a local AWS (the moto server `testenv` starts) for the functions' tests:
//! the connections table and the signing key's secret, made and read with plain SDK calls
//! independent of the code under test.

#[cfg(feature = "dynamodb")]
use std::collections::HashMap;

use aws_credential_types::Credentials;

use crate::aws::{ClientSettings, Environment};

/// The region of the functions' tests (`runtime_api::lambda_environment` says the same): moto
/// keeps one set of tables and secrets per region.
pub const REGION: &str = "eu-west-1";

/// Settings for a client of the server at `endpoint`, with the test credentials.
pub fn client_settings(endpoint: &str) -> ClientSettings {
    ClientSettings {
        environment: Environment {
            region: REGION.to_owned(),
            credentials: Credentials::new(
                "AKIDWSECHOTEST",
                "wsecho-test-secret",
                Some("wsecho-test-session".to_owned()),
                None,
                "test",
            ),
        },
        endpoint_url: Some(endpoint.to_owned()),
    }
}

/// The variables that point a function binary's SDK clients at `endpoint`, as the local
/// gateway sets them.
pub fn endpoint_environment(endpoint: &str) -> Vec<(String, String)> {
    vec![
        ("AWS_ENDPOINT_URL_DYNAMODB".to_owned(), endpoint.to_owned()),
        (
            "AWS_ENDPOINT_URL_SECRETS_MANAGER".to_owned(),
            endpoint.to_owned(),
        ),
    ]
}

#[cfg(feature = "dynamodb")]
fn dynamodb(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let settings = client_settings(endpoint);
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(REGION))
        .credentials_provider(settings.environment.credentials)
        .endpoint_url(endpoint)
        .http_client(crate::aws::https_client())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// Creates a connections table named `table` as the template declares it (partition key
/// `connectionId`, a string; on demand).
#[cfg(feature = "dynamodb")]
pub async fn create_connections_table(endpoint: &str, table: &str) {
    use crate::connections::CONNECTION_ID;
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    dynamodb(endpoint)
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(CONNECTION_ID)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("a complete attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(CONNECTION_ID)
                .key_type(KeyType::Hash)
                .build()
                .expect("a complete key schema element"),
        )
        .send()
        .await
        .unwrap_or_else(|error| panic!("create table {table}: {error:?}"));
}

/// Every item of `table`, by connection id (all pages).
#[cfg(feature = "dynamodb")]
pub async fn items(
    endpoint: &str,
    table: &str,
) -> HashMap<String, HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    use crate::connections::CONNECTION_ID;
    let client = dynamodb(endpoint);
    let mut items = HashMap::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|error| panic!("scan {table}: {error:?}"));
        for item in page.items.unwrap_or_default() {
            let id = item[CONNECTION_ID]
                .as_s()
                .expect("a string connectionId")
                .clone();
            items.insert(id, item);
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return items,
        }
    }
}

/// Writes `connections` into `table`, as `$connect` would have.
#[cfg(feature = "dynamodb")]
pub async fn put_connections(
    endpoint: &str,
    table: &str,
    connections: &[crate::connections::Connection],
) {
    let client = dynamodb(endpoint);
    for connection in connections {
        client
            .put_item()
            .table_name(table)
            .set_item(Some(connection.to_item()))
            .send()
            .await
            .unwrap_or_else(|error| panic!("put into {table}: {error:?}"));
    }
}

/// Creates a text secret `name` holding `value`; returns its ARN.
#[cfg(feature = "secrets")]
pub async fn create_secret(endpoint: &str, name: &str, value: &str) -> String {
    let settings = client_settings(endpoint);
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new(REGION))
        .credentials_provider(settings.environment.credentials)
        .endpoint_url(endpoint)
        .http_client(crate::aws::https_client())
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap_or_else(|error| panic!("create secret {name}: {error:?}"))
        .arn
        .expect("the new secret's ARN")
}
