//! The open WebSocket connections, by connection id, shared by the WebSocket side and the
//! management API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::events::ConnectionInfo;
use crate::ids;

/// What the connection's task should send or do.
#[derive(Debug)]
pub(crate) enum Outbound {
    Text(String),
    Binary(Vec<u8>),
    /// Close with this code and reason (a management API DELETE).
    Close(u16, String),
}

pub(crate) struct Connection {
    pub(crate) info: ConnectionInfo,
    /// False while `$connect` runs: the management API answers 410 until the handshake is done.
    open: AtomicBool,
    last_active_ms: AtomicU64,
    tx: mpsc::UnboundedSender<Outbound>,
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

    /// Queues a frame or a close; false when the connection is gone.
    pub(crate) fn send(&self, message: Outbound) -> bool {
        self.is_open() && self.tx.send(message).is_ok()
    }
}

#[derive(Default)]
pub(crate) struct Registry {
    connections: Mutex<HashMap<String, Arc<Connection>>>,
}

impl Registry {
    /// Adds a connection that is not open yet; returns it and the receiver of its outbound queue.
    pub(crate) fn add(
        &self,
        info: ConnectionInfo,
    ) -> (Arc<Connection>, mpsc::UnboundedReceiver<Outbound>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let connection = Arc::new(Connection {
            last_active_ms: AtomicU64::new(info.connected_at),
            info,
            open: AtomicBool::new(false),
            tx,
        });
        self.connections
            .lock()
            .expect("not poisoned")
            .insert(connection.info.connection_id.clone(), connection.clone());
        (connection, rx)
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
