//! Tracks the gateway's tasks so shutdown can wait for them (bounded) before killing the
//! function processes.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

#[derive(Clone)]
pub(crate) struct Tasks {
    running: Arc<AtomicUsize>,
    idle: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
}

struct Guard(Arc<AtomicUsize>, Arc<Notify>);

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.1.notify_waiters();
        }
    }
}

impl Tasks {
    pub(crate) fn new(shutdown: watch::Receiver<bool>) -> Tasks {
        Tasks {
            running: Arc::new(AtomicUsize::new(0)),
            idle: Arc::new(Notify::new()),
            shutdown,
        }
    }

    /// Resolves once shutdown starts.
    pub(crate) fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut shutdown = self.shutdown.clone();
        async move {
            // An error means the gateway is gone: stop too.
            let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ());
        }
    }

    /// Runs a task that finishes by itself once shutdown starts.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.running.fetch_add(1, Ordering::AcqRel);
        let guard = Guard(self.running.clone(), self.idle.clone());
        tokio::spawn(async move {
            let _guard = guard;
            task.await;
        });
    }

    /// Runs a task that is dropped as soon as shutdown starts.
    pub(crate) fn spawn_cancellable(&self, task: impl Future<Output = ()> + Send + 'static) {
        let stopped = self.stopped();
        self.spawn(async move {
            tokio::select! {
                () = task => {}
                () = stopped => {}
            }
        });
    }

    /// Waits until every task has finished, at most `limit`; true if they all did.
    pub(crate) async fn drain(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                if self.running.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }
}
