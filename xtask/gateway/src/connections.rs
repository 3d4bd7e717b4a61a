//! The open WebSocket connections, by connection id, shared by the WebSocket side and the
//! management API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::events::ConnectionInfo;
use crate::ids;

/// Bytes a connection may have waiting to be sent (a client that stops reading): beyond it,
/// the connection is closed rather than let the gateway's memory grow.
pub(crate) const OUTBOUND_LIMIT: usize = 4 << 20;
/// What a queued frame counts for beyond its payload, so empty frames are bounded too.
const FRAME_OVERHEAD: usize = 64;

/// Messages of one connection being handled at once (waiting for or running in a function)
/// at most: one more gets API Gateway's throttling error instead of a place in an unbounded
/// backlog.
pub(crate) const MESSAGE_BACKLOG: usize = 100;

/// A frame the connection's writer should send.
#[derive(Debug)]
pub(crate) enum Outbound {
    Text(String),
    Binary(Vec<u8>),
}

impl Outbound {
    /// What it counts for against [`OUTBOUND_LIMIT`].
    pub(crate) fn weight(&self) -> usize {
        FRAME_OVERHEAD
            + match self {
                Outbound::Text(text) => text.len(),
                Outbound::Binary(bytes) => bytes.len(),
            }
    }
}

/// What the connection's task reads: the frames to send, and a request to close (a management
/// API DELETE, a full queue), which never waits behind the frames.
pub(crate) struct Receivers {
    pub(crate) outbound: mpsc::UnboundedReceiver<Outbound>,
    pub(crate) close: oneshot::Receiver<(u16, String)>,
}

pub(crate) struct Connection {
    pub(crate) info: ConnectionInfo,
    /// False while `$connect` runs: the management API answers 410 until the handshake is done.
    open: AtomicBool,
    last_active_ms: AtomicU64,
    tx: mpsc::UnboundedSender<Outbound>,
    /// Messages being handled (see [`MESSAGE_BACKLOG`]).
    handling: AtomicUsize,
    /// Weight of the frames queued and not yet sent.
    queued: AtomicUsize,
    close: Mutex<Option<oneshot::Sender<(u16, String)>>>,
}

impl Connection {
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    pub(crate) fn touch(&self) {
        self.last_active_ms.store(ids::now_ms(), Ordering::Relaxed);
    }

    pub(crate) fn last_active_ms(&self) -> u64 {
        self.last_active_ms.load(Ordering::Relaxed)
    }

    /// Queues a frame; false when the connection is gone, or closing because its client has
    /// left [`OUTBOUND_LIMIT`] unread.
    pub(crate) fn send(&self, message: Outbound) -> bool {
        if !self.is_open() {
            return false;
        }
        let weight = message.weight();
        let queued = self.queued.fetch_add(weight, Ordering::Relaxed) + weight;
        if queued > OUTBOUND_LIMIT {
            self.queued.fetch_sub(weight, Ordering::Relaxed);
            self.close(
                1008,
                &format!(
                    "Outbound queue full: the client left {} MiB unread",
                    OUTBOUND_LIMIT >> 20
                ),
            );
            return false;
        }
        self.tx.send(message).is_ok()
    }

    /// A place for one more message in the backlog, given back when dropped; `None` when the
    /// backlog is full.
    pub(crate) fn handle_message(self: &Arc<Self>) -> Option<Handling> {
        let taken = self
            .handling
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MESSAGE_BACKLOG).then_some(n + 1)
            })
            .is_ok();
        taken.then(|| Handling(self.clone()))
    }

    /// The writer took a frame of this weight off the queue.
    pub(crate) fn dequeued(&self, weight: usize) {
        self.queued.fetch_sub(weight, Ordering::Relaxed);
    }

    /// Asks the connection's task to close with this code; false when it is gone or already
    /// closing.
    pub(crate) fn close(&self, code: u16, reason: &str) -> bool {
        if !self.is_open() {
            return false;
        }
        let sender = self.close.lock().expect("not poisoned").take();
        sender.is_some_and(|sender| sender.send((code, reason.to_owned())).is_ok())
    }
}

/// A message's place in its connection's backlog.
pub(crate) struct Handling(Arc<Connection>);

impl Handling {
    pub(crate) fn connection(&self) -> &Connection {
        &self.0
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.handling.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Default)]
pub(crate) struct Registry {
    connections: Mutex<HashMap<String, Arc<Connection>>>,
}

impl Registry {
    /// Adds a connection that is not open yet; returns it and what its task reads.
    pub(crate) fn add(&self, info: ConnectionInfo) -> (Arc<Connection>, Receivers) {
        let (tx, outbound) = mpsc::unbounded_channel();
        let (close_tx, close) = oneshot::channel();
        let connection = Arc::new(Connection {
            last_active_ms: AtomicU64::new(info.connected_at),
            info,
            open: AtomicBool::new(false),
            tx,
            handling: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            close: Mutex::new(Some(close_tx)),
        });
        self.connections
            .lock()
            .expect("not poisoned")
            .insert(connection.info.connection_id.clone(), connection.clone());
        (connection, Receivers { outbound, close })
    }

    pub(crate) fn open(&self, connection: &Connection) {
        connection.open.store(true, Ordering::Release);
    }

    /// Marks the connection closed and forgets it.
    pub(crate) fn remove(&self, connection: &Connection) {
        connection.open.store(false, Ordering::Release);
        self.connections
            .lock()
            .expect("not poisoned")
            .remove(&connection.info.connection_id);
    }

    /// The connection if it is open (not while `$connect` runs, not once closed).
    pub(crate) fn get_open(&self, id: &str) -> Option<Arc<Connection>> {
        self.connections
            .lock()
            .expect("not poisoned")
            .get(id)
            .filter(|c| c.is_open())
            .cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.connections.lock().expect("not poisoned").len()
    }
}
