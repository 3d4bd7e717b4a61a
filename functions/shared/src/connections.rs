//! The connections table of an app that broadcasts (the chat): one item per open connection,
//! written by `$connect`, deleted by `$disconnect` and by a broadcast that finds the
//! connection gone, read page by page by the broadcast.
//!
//! Each function calls exactly one or two of [`Connections::put`], [`Connections::delete`]
//! and [`Connections::scan_page`], matching the DynamoDB actions the template grants it
//! (`PutItem`, `DeleteItem`, `Scan`) on this table only.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::config::{BehaviorVersion, Config, Region, StalledStreamProtectionConfig};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::aws::{self, ClientSettings, SettingsError};

/// The variable holding the table's name; the template sets it for the functions it grants
/// the table to.
pub const TABLE_VARIABLE: &str = "CONNECTIONS_TABLE";

/// The partition key: API Gateway's connection id (a string).
pub const CONNECTION_ID: &str = "connectionId";
/// The user name the `$connect` authorizer admitted (a string).
pub const USER_NAME: &str = "userName";
/// When the connection opened, in milliseconds since the Unix epoch (a number).
pub const CONNECTED_AT: &str = "connectedAt";
/// The table's TTL attribute, in *seconds* since the Unix epoch (DynamoDB's TTL reads
/// seconds): when an entry whose `$disconnect` never ran is deleted.
pub const EXPIRES_AT: &str = "expiresAt";

/// API Gateway closes every WebSocket connection after 2 hours: no entry outlives that.
pub const MAX_CONNECTION_DURATION: Duration = Duration::from_secs(2 * 60 * 60);
/// Kept past the longest connection, so that TTL never removes an open connection's entry
/// over clock differences or a late `$connect`.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(10 * 60);

/// One item of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub connection_id: String,
    pub user_name: String,
    /// Milliseconds since the Unix epoch.
    pub connected_at: i64,
    /// Seconds since the Unix epoch (the TTL attribute).
    pub expires_at: i64,
}

impl Connection {
    /// The entry of a connection opened at `connected_at` (milliseconds since the Unix epoch),
    /// expiring [`MAX_CONNECTION_DURATION`] + [`EXPIRY_MARGIN`] later.
    pub fn new(connection_id: &str, user_name: &str, connected_at: i64) -> Connection {
        let lifetime = (MAX_CONNECTION_DURATION + EXPIRY_MARGIN).as_secs() as i64;
        Connection {
            connection_id: connection_id.to_owned(),
            user_name: user_name.to_owned(),
            connected_at,
            expires_at: connected_at.div_euclid(1000).saturating_add(lifetime),
        }
    }

    /// The DynamoDB item.
    pub fn to_item(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (
                CONNECTION_ID.to_owned(),
                AttributeValue::S(self.connection_id.clone()),
            ),
            (
                USER_NAME.to_owned(),
                AttributeValue::S(self.user_name.clone()),
            ),
            (
                CONNECTED_AT.to_owned(),
                AttributeValue::N(self.connected_at.to_string()),
            ),
            (
                EXPIRES_AT.to_owned(),
                AttributeValue::N(self.expires_at.to_string()),
            ),
        ])
    }

    /// The entry an item holds, if it has every attribute with its type.
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Connection> {
        let string = |name: &str| item.get(name)?.as_s().ok().cloned();
        let number = |name: &str| item.get(name)?.as_n().ok()?.parse::<i64>().ok();
        Some(Connection {
            connection_id: string(CONNECTION_ID)?,
            user_name: string(USER_NAME)?,
            connected_at: number(CONNECTED_AT)?,
            expires_at: number(EXPIRES_AT)?,
        })
    }
}

/// Where the table is and how to reach it.
#[derive(Debug, Clone)]
pub struct Settings {
    pub client: ClientSettings,
    pub table: String,
}

impl Settings {
    /// Lambda's region and credentials, the DynamoDB endpoint variables
    /// (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`) and [`TABLE_VARIABLE`].
    pub fn from_env() -> Result<Settings, SettingsError> {
        Settings::from_lookup(aws::env_lookup)
    }

    /// Like [`Settings::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        Ok(Settings {
            client: ClientSettings::from_lookup(aws::DYNAMODB, &lookup)?,
            table: aws::template_variable(TABLE_VARIABLE, &lookup)?,
        })
    }
}

/// A call on the table failed.
#[derive(Debug, thiserror::Error)]
#[error("{operation} on table {table} failed ({kind}, status {status:?}, code {code:?}): {detail}")]
pub struct TableError {
    /// `PutItem`, `DeleteItem` or `Scan`.
    pub operation: &'static str,
    pub table: String,
    /// Which part failed: `service`, `timeout`, `dispatch`...
    pub kind: &'static str,
    pub status: Option<u16>,
    /// The service's error code (`ResourceNotFoundException`, `AccessDeniedException`...).
    pub code: Option<String>,
    pub detail: String,
}

/// Where a scan goes on: the last key of the page before (opaque, DynamoDB's
/// `LastEvaluatedKey`).
#[derive(Debug, Clone, PartialEq)]
pub struct PageStart(HashMap<String, AttributeValue>);

/// One page of a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub connection_ids: Vec<String>,
    /// Items without a string `connectionId` (not written by `$connect`), left out.
    pub malformed: usize,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<PageStart>,
}

/// The table's client, built once per process.
pub struct Connections {
    client: Client,
    table: String,
    page_limit: Option<i32>,
}

impl Connections {
    pub fn new(settings: Settings) -> Connections {
        let environment = &settings.client.environment;
        let mut config = Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(environment.region.clone()))
            .credentials_provider(environment.credentials.clone())
            .http_client(aws::https_client())
            .retry_config(aws::retry_config())
            .timeout_config(aws::timeout_config())
            // Items are small and every attempt has a timeout: the per-stream throughput watch
            // adds work to each call and catches nothing more.
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
        if let Some(endpoint) = &settings.client.endpoint_url {
            config = config.endpoint_url(endpoint);
        }
        Connections {
            client: Client::from_conf(config.build()),
            table: settings.table,
            page_limit: None,
        }
    }

    /// From Lambda's environment and the template's (see [`Settings::from_env`]); what a
    /// function's `main` hands `shared::entry::run` as its setup.
    pub fn from_env() -> Result<Connections, crate::entry::Error> {
        Ok(Connections::new(Settings::from_env()?))
    }

    /// At most `limit` items per scan page (DynamoDB's `Limit`); without it a page is what
    /// fits in DynamoDB's 1 MB, some tens of thousands of connections.
    pub fn with_page_limit(mut self, limit: i32) -> Connections {
        self.page_limit = Some(limit);
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes `connection`'s entry (replacing any with the same id).
    pub async fn put(&self, connection: &Connection) -> Result<(), TableError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(connection.to_item()))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| self.error("PutItem", error))
    }

    /// Deletes the entry of `connection_id`; deleting one that is not there is no error.
    pub async fn delete(&self, connection_id: &str) -> Result<(), TableError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(CONNECTION_ID, AttributeValue::S(connection_id.to_owned()))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| self.error("DeleteItem", error))
    }

    /// One page of connection ids, from `start` (`None`: the first page). Only the key is
    /// read (`ProjectionExpression`), so a page holds as many ids as DynamoDB allows.
    /// Eventually consistent, at half the cost: a connection opened a moment ago may miss
    /// the message being broadcast, as it would have if it had opened a moment later.
    pub async fn scan_page(&self, start: Option<PageStart>) -> Result<Page, TableError> {
        let output = self
            .client
            .scan()
            .table_name(&self.table)
            .projection_expression(CONNECTION_ID)
            .set_limit(self.page_limit)
            .set_exclusive_start_key(start.map(|start| start.0))
            .send()
            .await
            .map_err(|error| self.error("Scan", error))?;
        let items = output.items.unwrap_or_default();
        let total = items.len();
        let connection_ids: Vec<String> = items
            .into_iter()
            .filter_map(|mut item| match item.remove(CONNECTION_ID) {
                Some(AttributeValue::S(id)) if !id.is_empty() => Some(id),
                _ => None,
            })
            .collect();
        Ok(Page {
            malformed: total - connection_ids.len(),
            connection_ids,
            // DynamoDB says "no more pages" with an absent or an empty key.
            next: output
                .last_evaluated_key
                .filter(|key| !key.is_empty())
                .map(PageStart),
        })
    }

    fn error<E>(&self, operation: &'static str, error: SdkError<E, HttpResponse>) -> TableError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let detail = DisplayErrorContext(&error).to_string();
        let (kind, status, code) = match &error {
            SdkError::ServiceError(context) => (
                "service",
                Some(context.raw().status().as_u16()),
                context.err().code().map(str::to_owned),
            ),
            SdkError::ResponseError(context) => {
                ("response", Some(context.raw().status().as_u16()), None)
            }
            SdkError::TimeoutError(_) => ("timeout", None, None),
            SdkError::DispatchFailure(_) => ("dispatch", None, None),
            SdkError::ConstructionFailure(_) => ("construction", None, None),
            _ => ("unknown", None, None),
        };
        TableError {
            operation,
            table: self.table.clone(),
            kind,
            status,
            code,
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_expires_ten_minutes_after_the_longest_connection() {
        let connection = Connection::new("abc=", "alice", 1_795_544_400_123);
        assert_eq!(connection.expires_at, 1_795_544_400 + 7200 + 600);
        let item = connection.to_item();
        assert_eq!(item[CONNECTION_ID], AttributeValue::S("abc=".into()));
        assert_eq!(item[USER_NAME], AttributeValue::S("alice".into()));
        assert_eq!(
            item[CONNECTED_AT],
            AttributeValue::N("1795544400123".into())
        );
        assert_eq!(item[EXPIRES_AT], AttributeValue::N("1795552200".into()));
        assert_eq!(Connection::from_item(&item), Some(connection));
    }

    #[test]
    fn an_item_missing_an_attribute_or_with_another_type_is_no_entry() {
        let mut item = Connection::new("abc=", "alice", 0).to_item();
        item.insert(EXPIRES_AT.into(), AttributeValue::S("soon".into()));
        assert_eq!(Connection::from_item(&item), None);
        item.remove(EXPIRES_AT);
        assert_eq!(Connection::from_item(&item), None);
    }

    #[test]
    fn the_table_name_is_required() {
        let lookup = |name: &str| match name {
            "AWS_REGION" => Some("eu-west-1".to_owned()),
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("x".to_owned()),
            "AWS_ENDPOINT_URL_DYNAMODB" => Some("http://127.0.0.1:9".to_owned()),
            _ => None,
        };
        let error = Settings::from_lookup(lookup).unwrap_err().to_string();
        assert!(error.contains("CONNECTIONS_TABLE is not set"), "{error}");
        let settings = Settings::from_lookup(|name| match name {
            TABLE_VARIABLE => Some("Connections-1".to_owned()),
            other => lookup(other),
        })
        .unwrap();
        assert_eq!(settings.table, "Connections-1");
        assert_eq!(
            settings.client.endpoint_url.as_deref(),
            Some("http://127.0.0.1:9")
        );
    }
}
