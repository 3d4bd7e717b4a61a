//! Captures the JSON log lines a handler writes, through the subscriber the functions install.

use crate::logging;
use std::io::Write;
use std::sync::{Arc, Mutex};
pub use tracing_subscriber::filter::LevelFilter;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `future` on the current thread with the functions' JSON subscriber writing into a
/// buffer, and returns its output and the log lines, each parsed as JSON.
///
/// Call it from a `current_thread` tokio test: the subscriber is set for this thread only.
pub async fn capture<F: Future>(future: F) -> (F::Output, Vec<serde_json::Value>) {
    capture_at(LevelFilter::INFO, future).await
}

/// [`capture`] with the functions' log level at `level` (a stage's `log_level`).
pub async fn capture_at<F: Future>(
    level: LevelFilter,
    future: F,
) -> (F::Output, Vec<serde_json::Value>) {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = logging::subscriber(level, move || writer.clone());
    let output = {
        let _guard = tracing::subscriber::set_default(subscriber);
        future.await
    };
    let bytes = buffer.0.lock().expect("log buffer").clone();
    let lines = String::from_utf8(bytes)
        .expect("log output is UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("every log line is a JSON object"))
        .collect();
    (output, lines)
}
