//! `chat-send`: the chat's `sendmessage`. Broadcasts `{"from", "message", "sentAt"}` to every
//! connection in the connections table, the sender's included.
//!
//! Better than AWS's sample in the ways that matter: the sender's name comes from the
//! authorizer (never from the body, which anyone can write), an entry is deleted when *its*
//! connection answers 410 (the sample deletes the sender's), the posts go out with bounded
//! concurrency, the table is read page by page, and the broadcast stops in time for API
//! Gateway's 29-second integration timeout, saying how many it left undelivered.

use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use serde_json::{Value, json};
use shared::actions::Actions;
use shared::connections::{Connections, TableError};
use shared::delivery::{self, Replier};
use shared::entry::Error;
use shared::event::{self, WebsocketInfo};
use shared::management::PostError;
use shared::message::{Message, json_type};
use shared::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest, reply, response};
use tokio::time::Instant;

/// The route (and action) this function serves.
pub const ACTION: &str = "sendmessage";

/// Posts in flight at once. Enough to hide each post's round trip (a 100-connection chat is
/// 4 rounds), few enough not to trip API Gateway's management API throttling or open
/// hundreds of sockets from one small function.
pub const MAX_IN_FLIGHT: usize = 32;

/// The longest a broadcast may take: API Gateway gives up on an integration after 29 s, and
/// the answer must be back before that.
pub const MAX_BROADCAST_TIME: Duration = Duration::from_secs(25);

/// Kept from the function's remaining time for the summary and the answer.
const ANSWER_MARGIN: Duration = Duration::from_millis(500);

/// Failed posts logged one by one per broadcast; the others are only counted, so a broadcast
/// to many broken connections costs one line each for a few, not thousands of lines.
const MAX_FAILURE_LINES: usize = 10;

/// What the function builds once per process: the management client (and the actions the
/// error replies list), and the connections table.
pub struct Sender {
    pub replier: Replier,
    pub connections: Connections,
}

impl Sender {
    /// From Lambda's environment and the template's: see [`Replier::from_env`] and
    /// [`Connections::from_env`].
    pub fn from_env() -> Result<Sender, Error> {
        Ok(Sender {
            replier: Replier::from_env()?,
            connections: Connections::from_env()?,
        })
    }
}

/// How long the broadcast of an invocation with `remaining` time may run: all of it but a
/// margin to answer in, at most [`MAX_BROADCAST_TIME`].
pub fn broadcast_budget(remaining: Duration) -> Duration {
    remaining
        .saturating_sub(ANSWER_MARGIN)
        .min(MAX_BROADCAST_TIME)
}

/// Broadcasts the message of a `{"action":"sendmessage","message":"…"}` to every connection.
///
/// - a message without a string `message` (or not a `sendmessage` at all) gets an
///   explanation, posted to the sender only;
/// - a broadcast larger than API Gateway's 128 KB gets the "too large" reply instead;
/// - otherwise 200 once the broadcast is done or out of time (the summary line says how it
///   went); 500 when the table could not be read at all, or the event names no user.
pub async fn handle(
    request: ApiGatewayWebsocketProxyRequest,
    sender: &Sender,
    remaining: Duration,
) -> ApiGatewayProxyResponse {
    let started = Instant::now();
    let deadline = started + broadcast_budget(remaining);
    let info = WebsocketInfo::from_request(&request);
    let management = &sender.replier.management;
    let message = Message::from_request(&request);
    let text = match chat_message(&message, &info, &sender.replier.actions) {
        Ok(text) => text,
        Err(explanation) => {
            tracing::info!(
                connection_id = event::connection_id_for_logs(&request),
                request_id = info.request_id.as_deref(),
                message_kind = message.kind(),
                "not a valid sendmessage; the sender gets an explanation"
            );
            return delivery::reply_to_sender(management, &request, explanation).await;
        }
    };
    let connection_id = event::connection_id_for_logs(&request);
    let request_id = info.request_id.as_deref();
    // The authorizer's name only: the body may say anything (a "from" field is ignored).
    let Some(from) = event::authorized_user(&request) else {
        tracing::error!(
            connection_id,
            request_id,
            "requestContext.authorizer names no user: $connect must be guarded by the chat's \
             authorizer; nothing sent"
        );
        return response::status(500, "no authorized user");
    };
    // When API Gateway received the message; the time of this call for a bare event.
    let sent_at = match request.request_context.request_time_epoch {
        epoch if epoch > 0 => epoch,
        _ => now_ms(),
    };
    let payload = to_bytes(&json!({"from": from, "message": text, "sentAt": sent_at}));
    if payload.len() > reply::MAX_MESSAGE_BYTES {
        tracing::info!(
            connection_id,
            request_id,
            size = payload.len(),
            "the message is too large to broadcast; the sender is told"
        );
        let too_large = reply::too_large(payload.len(), &info);
        return delivery::reply_to_sender(management, &request, too_large).await;
    }
    let endpoint = match management.endpoint_for(&request) {
        Ok(endpoint) => endpoint,
        Err(error) => {
            tracing::error!(connection_id, error = %error, "no management endpoint");
            return response::status(500, "no management endpoint");
        }
    };

    let mut tally = Tally::default();
    let outcome =
        tokio::time::timeout_at(deadline, broadcast(sender, &endpoint, &payload, &mut tally)).await;
    let timed_out = outcome.is_err();
    let scan_error = match outcome {
        Ok(Err(error)) => Some(error),
        _ => None,
    };
    if let Some(error) = &scan_error {
        tracing::error!(
            connection_id,
            request_id,
            error_kind = error.kind,
            code = error.code.as_deref(),
            error = %error,
            "reading the connections table failed; the broadcast stopped there"
        );
    }
    let undelivered = tally.found - tally.delivered - tally.gone - tally.failed;
    // One line per broadcast, a warning when anyone may have missed the message.
    let complete = tally.scan_complete && undelivered == 0 && tally.failed == 0;
    macro_rules! summary {
        ($level:ident) => {
            tracing::$level!(
                connection_id,
                from,
                request_id,
                recipients = tally.found,
                delivered = tally.delivered,
                gone = tally.gone,
                failed = tally.failed,
                undelivered,
                malformed = tally.malformed,
                pages = tally.pages,
                scan_complete = tally.scan_complete,
                timed_out,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "message broadcast"
            )
        };
    }
    if complete {
        summary!(info);
    } else {
        summary!(warn);
    }
    if scan_error.is_some() && tally.found == 0 {
        return response::status(500, "reading the connections failed");
    }
    response::ok()
}

/// The text of a valid `sendmessage`, or the explanation for the sender.
fn chat_message<'m>(
    message: &'m Message,
    info: &WebsocketInfo,
    actions: &Actions,
) -> Result<&'m str, Vec<u8>> {
    const EXAMPLE: &str = r#"{"action":"sendmessage","message":"hello"}"#;
    let (value, text) = match message {
        Message::Action {
            action,
            value,
            text,
        } if action == ACTION => (value, text),
        // Only a changed route selection sends anything else here: explain as `$default`.
        other => return Err(reply::not_recognised(other, info, actions)),
    };
    match value.get("message") {
        Some(Value::String(message)) => Ok(message),
        None => Err(reply::invalid_message(
            "missing_message",
            &format!(
                "A sendmessage needs a \"message\" field: the text to send, as a JSON string, \
                 for example {EXAMPLE}."
            ),
            value,
            text,
            info,
        )),
        Some(other) => Err(reply::invalid_message(
            "message_not_a_string",
            &format!(
                "The \"message\" field must be a JSON string, but it was {}: send for example \
                 {EXAMPLE}.",
                json_type(other)
            ),
            value,
            text,
            info,
        )),
    }
}

/// How a broadcast went, kept outside its future so that it survives the deadline.
#[derive(Debug, Default)]
struct Tally {
    /// Connection ids read from the table.
    found: usize,
    delivered: usize,
    /// Answered 410: their entries were deleted (or tried).
    gone: usize,
    failed: usize,
    /// Items without a usable connection id.
    malformed: usize,
    pages: usize,
    /// Every page was read.
    scan_complete: bool,
    failure_lines: usize,
}

/// What became of one post.
enum Outcome {
    Delivered,
    /// 410; the error if deleting the entry failed.
    Gone(Option<TableError>),
    Failed(PostError),
}

/// Reads the table page by page and posts `payload` to every connection on each page.
///
/// A page is delivered before the next is read: a page holds what fits in DynamoDB's 1 MB,
/// some tens of thousands of connections, so a chat's broadcast is nearly always one page and
/// overlapping the reads would buy nothing.
async fn broadcast(
    sender: &Sender,
    endpoint: &str,
    payload: &[u8],
    tally: &mut Tally,
) -> Result<(), TableError> {
    let mut start = None;
    loop {
        let page = sender.connections.scan_page(start).await?;
        tally.pages += 1;
        tally.found += page.connection_ids.len();
        tally.malformed += page.malformed;
        deliver_all(sender, endpoint, payload, page.connection_ids, tally).await;
        match page.next {
            Some(next) => start = Some(next),
            None => {
                tally.scan_complete = true;
                return Ok(());
            }
        }
    }
}

/// Posts `payload` to `connection_ids`, [`MAX_IN_FLIGHT`] at a time.
async fn deliver_all(
    sender: &Sender,
    endpoint: &str,
    payload: &[u8],
    connection_ids: Vec<String>,
    tally: &mut Tally,
) {
    let mut waiting = connection_ids.into_iter();
    let mut in_flight = FuturesUnordered::new();
    loop {
        while in_flight.len() < MAX_IN_FLIGHT {
            let Some(connection_id) = waiting.next() else {
                break;
            };
            in_flight.push(deliver(sender, endpoint, payload, connection_id));
        }
        let Some((connection_id, outcome)) = in_flight.next().await else {
            return;
        };
        record(tally, &connection_id, outcome);
    }
}

/// Posts to one connection; a gone one's entry is deleted (that recipient's, never the
/// sender's unless the sender is the one gone).
async fn deliver(
    sender: &Sender,
    endpoint: &str,
    payload: &[u8],
    connection_id: String,
) -> (String, Outcome) {
    let posted = sender
        .replier
        .management
        .post(endpoint, &connection_id, payload.to_vec())
        .await;
    let outcome = match posted {
        Ok(()) => Outcome::Delivered,
        Err(PostError::Gone) => {
            Outcome::Gone(sender.connections.delete(&connection_id).await.err())
        }
        Err(error) => Outcome::Failed(error),
    };
    (connection_id, outcome)
}

fn record(tally: &mut Tally, connection_id: &str, outcome: Outcome) {
    match outcome {
        Outcome::Delivered => tally.delivered += 1,
        Outcome::Gone(None) => {
            tally.gone += 1;
            tracing::debug!(connection_id, "gone (410): its entry was deleted");
        }
        Outcome::Gone(Some(error)) => {
            tally.gone += 1;
            tracing::warn!(
                connection_id,
                code = error.code.as_deref(),
                error = %error,
                "gone (410), but deleting its entry failed; it expires with its TTL"
            );
        }
        Outcome::Failed(error) => {
            tally.failed += 1;
            if tally.failure_lines < MAX_FAILURE_LINES {
                tally.failure_lines += 1;
                tracing::warn!(connection_id, error = %error, "posting the message failed");
            }
        }
    }
}

fn to_bytes(value: &Value) -> Vec<u8> {
    // Serializing a `Value` to a Vec fails only on a writer error, which a Vec never has.
    serde_json::to_vec(value).unwrap_or_default()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_stays_inside_api_gateways_29_seconds() {
        assert_eq!(
            broadcast_budget(Duration::from_secs(900)),
            MAX_BROADCAST_TIME
        );
        assert_eq!(
            broadcast_budget(Duration::from_secs(10)),
            Duration::from_millis(9500)
        );
        assert_eq!(broadcast_budget(Duration::from_millis(300)), Duration::ZERO);
        assert!(MAX_BROADCAST_TIME + ANSWER_MARGIN < Duration::from_secs(29));
    }
}
