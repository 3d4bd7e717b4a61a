//! Shared code of the wsecho Lambda functions.
//!
//! - [`entry`]: the one `main` of every function (logs, runtime, state, Lambda's loop).
//! - [`actions`]: the actions clients may send, as the template hands them over.
//! - [`authorizer`]: what a `$connect` authorizer answers (policy, principal, context).
//! - [`event`]: what the functions read from an API Gateway WebSocket event.
//! - [`message`]: the client's message, decoded and classified (JSON, action...).
//! - [`reply`]: the JSON replies sent back to the client, kept under API Gateway's size limit.
//! - [`response`]: the integration responses returned to API Gateway.
//! - [`logging`]: JSON logs for CloudWatch.
//! - `management` and `delivery` (feature `management`): posting replies through the
//!   API Gateway Management API.
//! - `connections` (feature `dynamodb`): the connections table of an app that broadcasts.
//! - `secrets` (feature `secrets`): reading a secret (a signing key) from Secrets Manager.
//! - `aws` (with any of those three): what every AWS SDK client reads from the environment
//!   (region, credentials, the `AWS_ENDPOINT_URL_<SERVICE>` endpoints) and its HTTPS client.

pub mod actions;
pub mod authorizer;
pub mod entry;
pub mod event;
pub mod logging;
pub mod message;
pub mod reply;
pub mod response;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "dynamodb")]
pub mod connections;
#[cfg(feature = "management")]
pub mod delivery;
#[cfg(feature = "management")]
pub mod management;
#[cfg(feature = "secrets")]
pub mod secrets;

#[cfg(feature = "test-support")]
pub mod test_support;

/// The event API Gateway sends for a WebSocket route.
pub use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
